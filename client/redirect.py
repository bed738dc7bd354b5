"""Redirected directories: parts of a mount served from local disk (`citc redirect`).

A workspace may name directories that live on each mount's local disk only, as
EdenFS's redirections do (the rules are in `citcfs.redirections`). Inside a mount,
every operation on such a directory or below it passes through to a local
directory, `<cache dir>/redirections/<journal key>/<path>` (the journal key names
the server and workspace, see `client.journal.journal_key`), so what a build
writes there is never journaled, never sent and never makes a version, and it
survives a remount with the same cache directory.

`LocalDir` is one redirected directory: a plain passthrough over `os` calls, with
OSError turned into the same errno for the kernel. `Redirector` holds a mount's
current set and answers which one a kernel path falls in.

Numbers: a local file handle is its OS descriptor with bit 62 set (`LOCAL_FH`), so it
never collides with the mount's own handles (counted from 1); inode numbers of local
files get bit 63 set (`LOCAL_INO`), so they never collide with the mount's own
(counted from 1). The redirected directory itself keeps the mount's inode number for
its path, so its parent's listing and its stat agree.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from citcfs import paths, redirections

from .fuse_lib import FuseOSError
from .journal import journal_key

LOCAL_FH = 1 << 62
LOCAL_INO = 1 << 63
RENAME_NOREPLACE = 1
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2

F = TypeVar("F", bound=Callable[..., Any])


def redirections_dir(cache_dir: str, server: str, workspace: str) -> str:
    """Where the local directories of one workspace's redirections live."""
    return os.path.join(cache_dir, "redirections", journal_key(server, workspace))


def _passthrough(method: F) -> F:
    """Turn an OSError into the FuseOSError of the same errno."""
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except OSError as exc:
            raise FuseOSError(exc.errno or errno.EIO) from None
    return wrapper  # type: ignore[return-value]


def is_local_fh(fh: int | None) -> bool:
    """Whether `fh` is a handle of a file in a redirected directory."""
    return fh is not None and fh >= LOCAL_FH


def _fd(fh: int) -> int:
    return fh & ~LOCAL_FH


def _stat_dict(st: os.stat_result, ino: int | None = None) -> dict[str, int]:
    return {"st_mode": st.st_mode, "st_ino": ino if ino is not None else LOCAL_INO | st.st_ino,
            "st_nlink": st.st_nlink, "st_uid": st.st_uid, "st_gid": st.st_gid,
            "st_size": st.st_size, "st_blocks": st.st_blocks, "st_blksize": st.st_blksize,
            "st_rdev": st.st_rdev, "st_atime": st.st_atime_ns, "st_mtime": st.st_mtime_ns,
            "st_ctime": st.st_ctime_ns}


# --- operations on open local files (by handle) -----------------------------------------


@_passthrough
def fgetattr(fh: int) -> dict[str, int]:
    return _stat_dict(os.fstat(_fd(fh)))


@_passthrough
def read(fh: int, size: int, offset: int) -> bytes:
    return os.pread(_fd(fh), size, offset)


@_passthrough
def write(fh: int, data: bytes, offset: int) -> int:
    return os.pwrite(_fd(fh), data, offset)


@_passthrough
def ftruncate(fh: int, length: int) -> int:
    os.ftruncate(_fd(fh), length)
    return 0


@_passthrough
def fsync(fh: int, datasync: int) -> int:
    (os.fdatasync if datasync else os.fsync)(_fd(fh))
    return 0


@_passthrough
def release(fh: int) -> int:
    os.close(_fd(fh))
    return 0


class LocalDir:
    """One redirected directory: workspace path `path`, served from local `root`.

    Methods take `rel`, the path below the redirected directory ("" for itself).
    The directory itself cannot be removed or renamed (EBUSY), as a mount point
    cannot: the redirection, not the directory, decides that it exists.
    """

    def __init__(self, path: str, root: str, ino: int) -> None:
        self.path = path
        self.root = root
        self.ino = ino
        os.makedirs(root, mode=0o755, exist_ok=True)

    def local(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    @staticmethod
    def _own(local: str, owner: tuple[int, int]) -> None:
        """Give a new file its caller's owner (only root can; others own what they make)."""
        if os.geteuid() == 0:
            os.lchown(local, *owner)

    # --- reading ------------------------------------------------------------------

    @_passthrough
    def getattr(self, rel: str) -> dict[str, int]:
        return _stat_dict(os.lstat(self.local(rel)), None if rel else self.ino)

    @_passthrough
    def readdir(self, rel: str) -> list[tuple[str, dict[str, int], int]]:
        here = self.ino if not rel else LOCAL_INO | os.lstat(self.local(rel)).st_ino
        result: list[tuple[str, dict[str, int], int]] = [
            (".", {"st_mode": stat.S_IFDIR, "st_ino": here}, 0),
            ("..", {"st_mode": stat.S_IFDIR, "st_ino": 1}, 0)]
        with os.scandir(self.local(rel)) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    mode = stat.S_IFDIR
                elif entry.is_symlink():
                    mode = stat.S_IFLNK
                elif entry.is_file(follow_symlinks=False):
                    mode = stat.S_IFREG
                else:
                    mode = stat.S_IFMT(entry.stat(follow_symlinks=False).st_mode)
                result.append((entry.name, {"st_mode": mode,
                                            "st_ino": LOCAL_INO | entry.inode()}, 0))
        return result

    @_passthrough
    def readlink(self, rel: str) -> str:
        return os.readlink(self.local(rel))

    @_passthrough
    def statfs(self, rel: str) -> dict[str, int]:
        st = os.statvfs(self.local(rel))
        return {key: getattr(st, key) for key in (
            "f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree",
            "f_favail", "f_namemax")}

    # --- files --------------------------------------------------------------------

    @_passthrough
    def open(self, rel: str, flags: int) -> int:
        return LOCAL_FH | os.open(self.local(rel), flags | os.O_CLOEXEC)

    @_passthrough
    def create(self, rel: str, mode: int, flags: int, owner: tuple[int, int]) -> int:
        local = self.local(rel)
        fd = os.open(local, flags | os.O_CREAT | os.O_CLOEXEC, mode)
        self._own(local, owner)
        return LOCAL_FH | fd

    @_passthrough
    def truncate(self, rel: str, length: int) -> int:
        os.truncate(self.local(rel), length)
        return 0

    @_passthrough
    def fsyncdir(self, rel: str) -> int:
        fd = os.open(self.local(rel), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return 0

    # --- changing names -----------------------------------------------------------

    @_passthrough
    def mkdir(self, rel: str, mode: int, owner: tuple[int, int]) -> int:
        os.mkdir(self.local(rel), mode)
        self._own(self.local(rel), owner)
        return 0

    @_passthrough
    def symlink(self, rel: str, target: str, owner: tuple[int, int]) -> int:
        os.symlink(target, self.local(rel))
        self._own(self.local(rel), owner)
        return 0

    @_passthrough
    def mknod(self, rel: str, mode: int, dev: int, owner: tuple[int, int]) -> int:
        os.mknod(self.local(rel), mode, dev)
        self._own(self.local(rel), owner)
        return 0

    @_passthrough
    def link(self, rel: str, existing_rel: str) -> int:
        os.link(self.local(existing_rel), self.local(rel), follow_symlinks=False)
        return 0

    @_passthrough
    def unlink(self, rel: str) -> int:
        os.unlink(self.local(rel))
        return 0

    @_passthrough
    def rmdir(self, rel: str) -> int:
        if not rel:
            raise FuseOSError(errno.EBUSY)
        os.rmdir(self.local(rel))
        return 0

    @_passthrough
    def rename(self, src: str, dst: str, flags: int) -> int:
        if not src or not dst:
            raise FuseOSError(errno.EBUSY)
        if flags & ~RENAME_NOREPLACE:
            raise FuseOSError(errno.EINVAL)
        if flags & RENAME_NOREPLACE and os.path.lexists(self.local(dst)):
            raise FuseOSError(errno.EEXIST)
        os.rename(self.local(src), self.local(dst))
        return 0

    # --- attributes ---------------------------------------------------------------

    @_passthrough
    def chmod(self, rel: str, mode: int) -> int:
        os.chmod(self.local(rel), mode & 0o7777)
        return 0

    @_passthrough
    def chown(self, rel: str, uid: int, gid: int) -> int:
        os.lchown(self.local(rel), uid, gid)
        return 0

    @_passthrough
    def utimens(self, rel: str, times: tuple[int, int] | None) -> int:
        local = self.local(rel)
        if times is None:
            os.utime(local, follow_symlinks=False)
            return 0
        current = os.lstat(local)
        now = time.time_ns()
        pairs = ((times[0], current.st_atime_ns), (times[1], current.st_mtime_ns))
        atime, mtime = (now if value == UTIME_NOW else old if value == UTIME_OMIT else value
                        for value, old in pairs)
        os.utime(local, ns=(atime, mtime), follow_symlinks=False)
        return 0


    # --- extended attributes --------------------------------------------------------

    @_passthrough
    def getxattr(self, rel: str, name: str) -> bytes:
        return os.getxattr(self.local(rel), name, follow_symlinks=False)

    @_passthrough
    def setxattr(self, rel: str, name: str, value: bytes, flags: int) -> int:
        os.setxattr(self.local(rel), name, value, flags, follow_symlinks=False)
        return 0

    @_passthrough
    def listxattr(self, rel: str) -> list[str]:
        return os.listxattr(self.local(rel), follow_symlinks=False)

    @_passthrough
    def removexattr(self, rel: str, name: str) -> int:
        os.removexattr(self.local(rel), name, follow_symlinks=False)
        return 0


class Redirector:
    """A mount's redirected directories, by workspace path.

    `active` is False while there are none, so a mount without redirections pays one
    attribute test per operation. The set is replaced whole (`update`), under a lock,
    by the thread that follows the watch stream.
    """

    def __init__(self, base_dir: str, inode: Callable[[str], int]) -> None:
        self.base_dir = base_dir
        self._inode = inode
        self._dirs: dict[str, LocalDir] = {}
        self._lock = threading.Lock()
        self.active = False

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self._dirs)

    def update(self, found: Iterable[str]) -> list[str]:
        """Make `found` the redirected directories; the paths that changed."""
        wanted = set(found)
        with self._lock:
            dirs = {path: local for path, local in self._dirs.items() if path in wanted}
            for path in wanted - set(dirs):
                dirs[path] = LocalDir(path, os.path.join(self.base_dir, path), self._inode(path))
            changed = sorted(set(self._dirs) ^ set(dirs))
            self._dirs = dirs
            self.active = bool(dirs)
        return changed

    def find(self, fuse_path: str | None) -> tuple[LocalDir, str] | None:
        """The redirected directory a kernel path lies in, and the path below it."""
        if not self.active or fuse_path is None:
            return None
        found = redirections.find(self._dirs, fuse_path.lstrip("/"))
        return None if found is None else (self._dirs[found[0]], found[1])

    def children(self, directory: str) -> list[str]:
        """Names of the redirected directories directly inside `directory`."""
        if not self.active:
            return []
        return [paths.split(path)[1] for path in self._dirs
                if paths.split(path)[0] == directory]

    def holds(self, path: str) -> bool:
        """Whether a redirected directory lies strictly below `path`."""
        return self.active and any(paths.is_within(found, path) and found != path
                                   for found in self._dirs)

    def rename(self, old: str, new: str, flags: int,
               elsewhere: Callable[[str, str, int], int]) -> int:
        """A rename where redirections exist: within one, it passes through; across the
        edge of one, EXDEV (tools then copy); a redirected directory, or one holding
        one, cannot move (EBUSY); away from them all, `elsewhere` does it."""
        src, dst = self.find(old), self.find(new)
        if (src is not None and not src[1]) or (dst is not None and not dst[1]):
            raise FuseOSError(errno.EBUSY)  # a redirected directory stays, as a mount does
        if src is not None and dst is not None and src[0] is dst[0]:
            return src[0].rename(src[1], dst[1], flags)
        if src is not None or dst is not None:
            raise FuseOSError(errno.EXDEV)
        if self.holds(old.lstrip("/")) or self.holds(new.lstrip("/")):
            raise FuseOSError(errno.EBUSY)
        return elsewhere(old, new, flags)

    def link(self, target: str, source: str) -> bool:
        """Make `target` a name of `source` if both are in one redirected directory
        (True); EXDEV across the edge of one; False where neither is redirected."""
        new, existing = self.find(target), self.find(source)
        if new is not None and existing is not None and new[0] is existing[0]:
            new[0].link(new[1], existing[1])
            return True
        if new is not None or existing is not None:
            raise FuseOSError(errno.EXDEV)  # across the edge of a local-only directory
        return False
