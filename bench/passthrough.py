"""A minimal passthrough filesystem on mfusepy: the floor for any Python FUSE filesystem.

    python bench/passthrough.py BACKING MOUNTPOINT [--attr-timeout S]
        [--writeback-cache] [--max-write BYTES] [--debug]

Every call goes straight to the backing directory with one system call, on the same
binding, libfuse and mount options as a citcfs mount, so the difference between the
two is what citcfs itself costs. Runs in the foreground until unmounted.

`--writeback-cache` asks the kernel for its writeback cache (small writes gathered
into large ones, size and mtime kept by the kernel until it flushes) and
`--max-write` sets the largest write the kernel sends (libfuse 3 offers 1 MiB); both
are set in `init`, as libfuse 3's high-level API has no mount option for them.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from typing import Any

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")

import mfusepy  # noqa: E402

from citcfs.client.fuse_lib import request_writeback_cache, set_max_write  # noqa: E402


class Passthrough(mfusepy.Operations):  # type: ignore[misc]
    use_ns = True

    def __init__(self, root: str, writeback_cache: bool = False,
                 max_write: int | None = None) -> None:
        self.root = os.path.realpath(root)
        self.writeback_cache = writeback_cache
        self.max_write = max_write

    def init_with_config(self, conn: Any, config: Any) -> None:
        if self.writeback_cache and not request_writeback_cache(conn):
            print("passthrough: the kernel offers no writeback cache", file=sys.stderr)
            self.writeback_cache = False
        if self.max_write is not None and conn is not None:
            set_max_write(conn, self.max_write)

    def _open_flags(self, flags: int) -> int:
        # With the writeback cache the kernel reads from files opened write-only
        # (to fill partial pages) and does O_APPEND itself, from its own idea of the
        # size: the backing file must be readable and not in append mode.
        if self.writeback_cache:
            if flags & os.O_ACCMODE == os.O_WRONLY:
                flags = (flags & ~os.O_ACCMODE) | os.O_RDWR
            flags &= ~os.O_APPEND
        return flags

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        st = os.fstat(fh) if fh is not None else os.lstat(self._full(path))
        return {key: getattr(st, key) for key in (
            "st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size", "st_blocks")} | {
            "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns, "st_ctime": st.st_ctime_ns}

    def readdir(self, path: str, fh: int) -> list[Any]:
        # With use_ino the kernel takes d_ino from here and hides entries whose d_ino is 0.
        found: list[Any] = [".", ".."]
        with os.scandir(self._full(path)) as listing:
            for item in listing:
                mode = item.stat(follow_symlinks=False).st_mode
                found.append((item.name, {"st_ino": item.inode(), "st_mode": mode}, 0))
        return found

    def readlink(self, path: str) -> str:
        return os.readlink(self._full(path))

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._full(path), amode):
            raise mfusepy.FuseOSError(errno.EACCES)
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._full(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._full(path))
        return 0

    def unlink(self, path: str) -> int:
        os.unlink(self._full(path))
        return 0

    def symlink(self, path: str, target: str) -> int:
        os.symlink(target, self._full(path))
        return 0

    def rename(self, old: str, new: str) -> int:
        os.rename(self._full(old), self._full(new))
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._full(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._full(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        os.utime(self._full(path), ns=times)
        return 0

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        os.truncate(self._full(path), length)
        return 0

    def open(self, path: str, flags: int) -> int:
        return os.open(self._full(path), self._open_flags(flags))

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        return os.open(self._full(path),
                       self._open_flags(os.O_WRONLY | os.O_CREAT | os.O_TRUNC), mode)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    def flush(self, path: str, fh: int) -> int:
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        os.fsync(fh)
        return 0

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self._full(path))
        return {key: getattr(st, key) for key in (
            "f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree", "f_files",
            "f_flag", "f_frsize", "f_namemax")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("backing")
    parser.add_argument("mountpoint")
    parser.add_argument("--attr-timeout", type=float, default=1.0)
    parser.add_argument("--writeback-cache", action="store_true",
                        help="ask the kernel for its writeback cache")
    parser.add_argument("--max-write", type=int, metavar="BYTES",
                        help="largest write the kernel sends (4096..1048576)")
    parser.add_argument("--debug", action="store_true",
                        help="libfuse prints every request on stderr")
    args = parser.parse_args(argv)
    timeout = args.attr_timeout
    filesystem = Passthrough(args.backing, args.writeback_cache, args.max_write)
    mfusepy.FUSE(filesystem, args.mountpoint, foreground=True, debug=args.debug,
                 default_permissions=True, attr_timeout=timeout, entry_timeout=timeout,
                 negative_timeout=timeout, kernel_cache=True, use_ino=True,
                 fsname="passthrough", subtype="passthrough")
    return 0


if __name__ == "__main__":
    sys.exit(main())
