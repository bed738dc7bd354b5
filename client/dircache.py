"""Kernel caching of directory listings through libfuse 3's high-level API.

The kernel keeps a directory's listing in its page cache, and answers `getdents`
from it without a request, when the daemon's answer to OPENDIR carries
`FOPEN_CACHE_DIR` (and `FOPEN_KEEP_CACHE`, or every open drops what the last one
cached). libfuse's low-level API sets these from `fi->cache_readdir` and
`fi->keep_cache`; its high-level API, which mfusepy wraps, never passes them on:
`fuse_lib_opendir` hands our `opendir` a copy of the file info and replies with the
original. Without the cache every directory a walk visits costs five requests
(OPENDIR, READDIRPLUS, READDIR, RELEASEDIR and a GETATTR, as an uncached readdir
marks the directory's atime stale), two of them answered in Python.

`enable_readdir_cache` puts a small function in front of libfuse's own low-level
`opendir`, in the session's table of low-level operations: it sets both flags on the
file info libfuse replies with, then calls libfuse's `fuse_lib_opendir`, which fills in
the handle and replies. The high-level `opendir` of the filesystem runs inside it
and may clear the flags again for a directory whose listing changes behind the
kernel's back (`refuse_readdir_cache`).

The table (`struct fuse_session.op`) is private to libfuse, so it is found, not
assumed: it is the run of pointers into libfuse's own code whose first 23 entries
(`init` to `releasedir`) are all set but `write`, as `fuse_path_ops` sets them in
libfuse 3. If no such run is found the mount serves as before, uncached, and says so.

Kernel caching is safe for a citcfs mount because every change the kernel does not
make itself is invalidated: the watch stream's changes call `fuse_invalidate_path`
on each changed path and its parent, which drops the parent's cached listing
(`invalidate_inode_pages2_range` from offset 0), and the kernel drops a listing
itself when it creates, removes or renames a name in the directory.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Collection, Iterable
from typing import Any

from . import fuse_lib  # noqa: F401  (first: it makes mfusepy load libfuse 3)

import mfusepy

log = logging.getLogger(__name__)

_libfuse = mfusepy._libfuse
_libfuse.fuse_get_session.argtypes = [ctypes.c_void_p]
_libfuse.fuse_get_session.restype = ctypes.c_void_p

# struct fuse_lowlevel_ops (fuse_lowlevel.h): init, destroy, lookup, forget, getattr,
# setattr, readlink, mknod, mkdir, unlink, rmdir, symlink, rename, link, open, read,
# write, flush, release, fsync, opendir, readdir, releasedir, ...
OPENDIR_INDEX = 20
WRITE_INDEX = 16
SET_PREFIX = 23
"""Entries `init`..`releasedir`: libfuse's high-level API sets all but `write` (it
serves writes through `write_buf`)."""
SCAN_WORDS = 64
"""How far into `struct fuse_session` the table may start (word 5 in libfuse 3.14)."""

OPENDIR = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64,
                           ctypes.POINTER(mfusepy.fuse_file_info))

_state = threading.local()
_installed: list[Any] = []  # keeps the callback alive as long as the process


def _libfuse_text() -> list[tuple[int, int]]:
    """Address ranges of libfuse's executable code in this process."""
    anchor = ctypes.cast(_libfuse.fuse_reply_open, ctypes.c_void_p).value or 0
    ranges: list[tuple[int, int]] = []
    owner = None
    with open("/proc/self/maps") as maps:
        lines = [line.split() for line in maps]
    for fields in lines:
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= anchor < end and len(fields) >= 6:
            owner = fields[5]
    for fields in lines:
        if owner and len(fields) >= 6 and fields[5] == owner and "x" in fields[1]:
            start, end = (int(x, 16) for x in fields[0].split("-"))
            ranges.append((start, end))
    return ranges


def find_ops_table(session: int, text: list[tuple[int, int]]) -> int | None:
    """The address of `session->op`, or None when the layout is not recognised."""
    def in_text(value: int) -> bool:
        return any(start <= value < end for start, end in text)

    words = (ctypes.c_uint64 * (SCAN_WORDS + SET_PREFIX)).from_address(session)
    found = [k for k in range(SCAN_WORDS)
             if all(in_text(words[k + i]) for i in range(SET_PREFIX) if i != WRITE_INDEX)
             and words[k + WRITE_INDEX] == 0 and (k == 0 or not in_text(words[k - 1]))]
    return session + 8 * found[0] if len(found) == 1 else None


def enable_readdir_cache(fuse_ptr: int) -> bool:
    """Make OPENDIR answers ask the kernel to cache listings; call from `init`.

    True if installed; False (and one log line) when libfuse's layout is not the
    one expected, and the mount goes on uncached.
    """
    if not fuse_ptr or ctypes.sizeof(ctypes.c_void_p) != 8:
        return False
    session = _libfuse.fuse_get_session(ctypes.c_void_p(fuse_ptr))
    table = find_ops_table(session, _libfuse_text()) if session else None
    if table is None:
        log.warning("libfuse's table of operations was not found: directory listings "
                    "are not cached by the kernel")
        return False
    slot = ctypes.c_uint64.from_address(table + 8 * OPENDIR_INDEX)
    original = OPENDIR(slot.value)

    def opendir(req: int, ino: int, fi: Any) -> None:
        info = fi.contents
        info.cache_readdir = 1
        info.keep_cache = 1
        _state.info = info
        try:
            original(req, ino, fi)
        finally:
            _state.info = None

    hook = OPENDIR(opendir)
    _installed.append((hook, original))
    slot.value = ctypes.cast(hook, ctypes.c_void_p).value or 0
    log.debug("directory listings are cached by the kernel (operations at %#x)", table)
    return True


def refuse_readdir_cache() -> None:
    """From the filesystem's `opendir`: the kernel must not cache this listing."""
    info = getattr(_state, "info", None)
    if info is not None:
        info.cache_readdir = 0
        info.keep_cache = 0


def paths_below(known: Iterable[str], changed: Collection[str]) -> list[str]:
    """The paths of `known` strictly below any path of `changed` (all of them when
    `changed` holds the root, "").

    The kernel keeps a name's entry and attributes for the mount's timeouts, and
    `fuse_invalidate_path` drops only the attributes (and cached pages) of the path
    it names. When another client replaces or removes a directory, what the kernel
    still holds below it must be invalidated too, or a long timeout would show it.
    """
    if "" in changed:
        return [path for path in known if path]
    out = []
    for path in known:
        cut = path.rfind("/")
        while cut > 0:
            if path[:cut] in changed:
                out.append(path)
                break
            cut = path.rfind("/", 0, cut)
    return out
