"""Loading the FUSE binding (mfusepy on libfuse 3) and the calls it does not wrap.

mfusepy picks the libfuse it loads when it is imported, and prefers libfuse 2 when
both are installed; libfuse 2 never calls `utimens` for an mtime-only change and
writes 4 KiB at a time. So every import of mfusepy in citcfs goes through here, with
FUSE_LIBRARY_NAME set to fuse3 first.
"""

from __future__ import annotations

import ctypes
import errno
import os
import time
from typing import Any

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")

import mfusepy  # noqa: E402  (must follow the environment setting above)

FUSE = mfusepy.FUSE
Operations = mfusepy.Operations
FuseOSError = mfusepy.FuseOSError
fuse_get_context = mfusepy.fuse_get_context

_libfuse = mfusepy._libfuse
_libfuse.fuse_invalidate_path.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
_libfuse.fuse_invalidate_path.restype = ctypes.c_int


# Capability bits of `struct fuse_conn_info` (libfuse 3's fuse_common.h; the kernel's
# FUSE_WRITEBACK_CACHE has the same value).
FUSE_CAP_WRITEBACK_CACHE = 1 << 16
# The largest write libfuse 3 can take: its request buffer holds FUSE_MAX_MAX_PAGES
# (256) pages. A larger `max_write` makes libfuse 3.14 fail the mount at init.
MAX_WRITE_LIMIT = 256 * 4096


def request_writeback_cache(conn: object) -> bool:
    """Ask for the kernel's writeback cache; call from `init_with_config(conn, config)`.

    With it the kernel keeps written pages dirty and sends them later in large
    writes, and owns a file's size and mtime until it flushes them (mtime arrives
    as a `utimens` call). The kernel may then read a file opened O_WRONLY (to fill
    partial pages) and handles O_APPEND itself, so `open`/`create` must open the
    backing file read-write and without O_APPEND. libfuse 3.14 has no mount option
    for this (`-o writeback_cache` is refused): only `init` can ask. Returns whether
    the kernel offers the capability (and it was therefore requested).
    """
    if conn is None or not getattr(conn, "capable", 0) & FUSE_CAP_WRITEBACK_CACHE:
        return False
    conn.want |= FUSE_CAP_WRITEBACK_CACHE  # type: ignore[attr-defined]
    return True


def set_max_write(conn: object, size: int) -> int:
    """Set the largest write the kernel sends; call from `init_with_config`.

    libfuse 3.14 already offers MAX_WRITE_LIMIT (1 MiB; kernels >= 4.20 take it
    through max_pages), so this mostly lowers it. `-o max_write=` is refused by
    libfuse 3's high-level API. Returns the size set, clamped to 4 KiB..1 MiB.
    """
    size = max(4096, min(int(size), MAX_WRITE_LIMIT))
    conn.max_write = size  # type: ignore[attr-defined]
    return size


def libfuse_major() -> int:
    return int(mfusepy.fuse_version_major)


def current_fuse() -> int:
    """The `struct fuse *` of the running filesystem; call only inside a FUSE callback."""
    return int(_libfuse.fuse_get_context().contents.fuse or 0)


def invalidate_path(fuse_ptr: int, path: bytes) -> int:
    """Drop the kernel's cached attributes, entry and data of `path` (absolute, bytes).

    Never call it from a thread that is serving a FUSE request: the kernel may wait
    on that very request, and the two deadlock. Returns 0 or a negative errno
    (-ENOENT when the kernel had nothing cached).
    """
    return int(_libfuse.fuse_invalidate_path(ctypes.c_void_p(fuse_ptr), path))


_dispatch = FUSE._wrapper
"""mfusepy's own wrapper (error mapping), called directly: cheaper than super()."""

LOOP_THREADS = 10
"""libfuse 3's default cap on the threads serving requests, passed explicitly."""


class CitcFUSE(FUSE):  # type: ignore[valid-type,misc]  # mfusepy has no types
    """mfusepy's FUSE, passing rename(2) flags and ftruncate's handle on (mfusepy drops
    them), and creating files without inspecting the operation's signature each time."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        # mfusepy starts libfuse through fuse_main_real, whose loop takes the unset
        # max_idle_threads (UINT_MAX) as a thread count: libfuse 3.12-3.14 print
        # "Ignoring invalid max threads value 4294967295" (libfuse issue #1003). A set
        # value, the default pool size, says nothing and changes nothing. libfuse 2
        # has no such option.
        if libfuse_major() >= 3:
            kwargs.setdefault("max_idle_threads", LOOP_THREADS)
        # Set before the base class starts serving (its __init__ runs the loop).
        self._metrics = getattr(args[0] if args else None, "metrics", None)
        super().__init__(*args, **kwargs)

    def _wrapper(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        # Every operation passes here (mfusepy binds each callback to `_wrapper`
        # once): the one place to time them all, at two clock reads and one
        # histogram observation each (`client.metrics.MountMetrics.fuse_op`).
        metrics = self._metrics
        if metrics is None:
            return _dispatch(self, func, *args, **kwargs)
        started = time.perf_counter()
        result = _dispatch(self, func, *args, **kwargs)
        metrics.fuse_op(func.__name__, time.perf_counter() - started,
                        isinstance(result, int) and result < 0)
        return result

    def rename_fuse_3(self, old: bytes, new: bytes, flags: int) -> int:
        return int(self.operations.rename(old.decode(self.encoding, self.errors),
                                          new.decode(self.encoding, self.errors), flags) or 0)

    def truncate_fuse_3(self, path: bytes | None, length: int, fip: object) -> int:
        # mfusepy drops the file handle of ftruncate(2); pass it on.
        fh = fip.contents.fh if fip else None  # type: ignore[attr-defined]
        decoded = None if path is None else path.decode(self.encoding, self.errors)
        return int(self.operations.truncate(decoded, length, fh) or 0)

    def open(self, path: bytes, fip: object) -> int:
        # A generated file (.citc/status) changes between opens without a size the
        # kernel could know: it is read with direct I/O.
        fi = fip.contents  # type: ignore[attr-defined]
        fi.fh = self.operations.open(path.decode(self.encoding, self.errors), fi.flags)
        if self.operations.is_generated(fi.fh):
            fi.direct_io = 1
        return 0

    def getattr_fuse_3(self, path: bytes | None, buf: Any, fip: Any) -> int:
        # A missing name is the answer before every create: given without raising
        # (mfusepy's path catches, formats and logs an exception per call).
        fh = fip.contents.fh if fip else None
        attrs = self.operations.attrs_or_none(
            None if path is None else path.decode(self.encoding, self.errors), fh)
        if attrs is None:
            return -errno.ENOENT
        ctypes.memset(buf, 0, ctypes.sizeof(mfusepy.c_stat))
        mfusepy.set_st_attrs(buf.contents, attrs, use_ns=self.use_ns)
        return 0

    def getxattr(self, path: bytes, name: bytes, value: Any, size: int, *args: object) -> int:
        # The kernel asks for security.capability before every write(); a missing
        # attribute is answered without raising (mfusepy's path raises, formats
        # and logs an exception per call).
        found = self.operations.xattr_value(path.decode(self.encoding, self.errors),
                                            name.decode(self.encoding, self.errors))
        if found is None:
            return -errno.ENODATA
        if not value:
            return len(found)  # a size query
        if len(found) > size:
            return -errno.ERANGE
        ctypes.memmove(value, found, len(found))
        return len(found)

    def create(self, path: bytes, mode: int, fip: object) -> int:
        # mfusepy calls inspect.signature on every create to choose between two
        # signatures of `create`; ours takes the flags, always.
        fi = fip.contents  # type: ignore[attr-defined]
        fi.fh = self.operations.create(path.decode(self.encoding, self.errors), mode, fi.flags)
        return 0
