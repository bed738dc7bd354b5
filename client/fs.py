"""The FUSE filesystem of a mounted workspace.

`WorkspaceFS` answers the kernel's path-based calls (mfusepy's high-level API) from
three layers: in-memory metadata (entries and directory listings of the head,
`client/metadata.py`), the local object cache (file content, `client/chunks.py`),
and the server (through a `Remote`, read through `Lookups`, `client/lookups.py`).
It keeps the FUSE entry points (the dispatch of redirected, local-only directories,
`client/redirect.py`, and of `.citc`) and holds one object for each job behind them:
`Namespace` (names and attribute changes), `HistoryViews` (the `.citc` views),
`OpenFiles`/`FileHandles` (open files), `LocalChanges` (the journaled changes of this
mount), `RemoteChanges` (other clients'), `DirTimes`, `InodeNumbers`, `KernelAttrs`
and `Listings`; docs/architecture.md has the table of client modules.

Reads are lazy: a stat asks the server for one entry (O(depth) requests for a deep
path, each answered from a parent listing when that is cached), a listing is fetched
when a directory is read, and file content one 1 MiB chunk at a time, with the next
chunks of a sequential read fetched in the same request. `fsync` (of a file or a
directory) waits until the server has everything journaled before it. A directory
rename is also a barrier: it waits until the server has applied it, since the paths
below it are not tracked one by one. Hard links are names whose entries share a link
id (`client/links.py`): they show one inode number, and a change through one name
reaches the others.

Times follow POSIX: each entry keeps atime, mtime and ctime in nanoseconds; ctime
moves on every change to the entry. Reads do not move atime (mounts are `noatime`).
FIFOs, sockets and device nodes are entries (`mknod`); the kernel does their I/O.

Locking: `_lock` (the metadata lock, which every part above shares) guards the
metadata dictionaries and is never held across a call to the server; each open file
has a lock of its own for its scratch copy. A cache fill that started before an
invalidation is dropped (`_generation`), so a slow answer never resurrects a stale
entry.
"""

from __future__ import annotations

import errno
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from citcfs import paths
from citcfs.entries import Entry, EntryKind, kind_of_mode
from citcfs.errors import CitcError

from . import attr_changes, permissions, redirect, xattrs
from .cache import ObjectCache
from .chunks import ChunkReader
from .dir_times import DirTimes
from .dircache import enable_readdir_cache, refuse_readdir_cache
from .files import OpenFiles
from .flusher import Flusher
from .fuse_lib import FuseOSError, Operations, current_fuse, fuse_get_context
from .handles import FileHandles
from .inodes import InodeNumbers
from .invalidation import Watcher
from .journal import Journal, JournalOp
from .kernel_attrs import KernelAttrs
from .links import LinkNames
from .listings import Listings
from .local_changes import LocalChanges
from .lookups import Lookups
from .metadata import HeadMetadata
from .metrics import MountMetrics
from .namespace import Namespace
from .redirect import Redirector, is_local_fh, redirections_dir
from .remote import Remote
from .remote_changes import RemoteChanges
from .views import HISTORY_DIR, VOLATILE_LISTINGS, HistoryViews, View

log = logging.getLogger("citcfs.client")

UNMOUNT_DRAIN_S = 30.0


def _fail(code: int) -> FuseOSError:
    return FuseOSError(code)


def journal_dir(cache_dir: str) -> str:
    """Where the write journals of mounts using `cache_dir` live."""
    return os.path.join(cache_dir, "journals")


class WorkspaceFS(Operations):  # type: ignore[misc]
    """The operations of one mounted workspace."""

    use_ns = True

    def __init__(self, remote: Remote, workspace: str, cache: ObjectCache,
                 *, watch: bool = True, on_ready: Callable[[], None] | None = None,
                 journal: Journal | None = None, sync_writes: bool = False,
                 journal_bytes: int = 1 << 30, journal_full_wait_s: float = 10.0,
                 server: str = "", metrics: MountMetrics | None = None) -> None:
        self.remote = remote
        self.workspace = workspace
        self.cache = cache
        self.metrics = metrics or MountMetrics()
        # First: WorkspaceNotFound before anything is made for the mount.
        workspace_id, version = remote.workspace_head(workspace)
        self._watch_enabled = watch
        self._on_ready = on_ready
        self.meta = HeadMetadata()
        self.metrics.watch_head(self.meta)
        self._lock = self.meta.lock
        self.lookups = Lookups(remote, workspace, self.meta)
        self.views = HistoryViews(
            remote, workspace, self._lock, self.lookups.call, self.lookups.fetch_entry,
            self.status, lambda: {"workspace": self.workspace, **self.metrics.snapshot()})
        self.inodes = InodeNumbers(self._lock)
        self.chunks = ChunkReader(remote, cache, self.lookups.call, self.metrics)
        self.server = server
        self.sync_writes = sync_writes
        self._listing_cache = False  # the kernel caches directory listings
        self.files = OpenFiles(self.meta, self.chunks, cache.directory)
        self.redirects = Redirector(redirections_dir(cache.directory, server, workspace),
                                    lambda path: self.inodes.number(None, path))
        self.redirects.update(remote.redirections(workspace))
        self.links = LinkNames()
        self.kernel_attrs = KernelAttrs(self.inodes, self.links, self.views, self.lookups,
                                        self.files)
        self.listings = Listings(self.meta, self.lookups, self.views, self.files,
                                 self.redirects, self.kernel_attrs)
        if journal is None:
            journal = Journal.create(journal_dir(cache.directory), server, workspace,
                                     workspace_id)
        self.journal = journal
        self._flusher = Flusher(remote, workspace, journal, cache, on_applied=self._applied,
                                bound_bytes=journal_bytes, full_wait_s=journal_full_wait_s,
                                metrics=self.metrics)
        self.dir_times = DirTimes(self.meta, self._flusher, self.lookups.head_entry)
        self._flusher.before_batch = self.dir_times.journal_pending
        self.remote_changes = RemoteChanges(remote, workspace, self.meta, self.links,
                                            self.redirects, self.inodes, self._flusher)
        changes = self.remote_changes
        self.watcher = Watcher(remote, workspace, version, drop=changes.drop,
                               settle=changes.settle, gone=changes.workspace_gone,
                               metrics=self.metrics)
        self.local_changes = LocalChanges(self.meta, self._flusher, cache, self.links, self.files,
                                          self.dir_times, self.remote_changes.invalidate_attrs,
                                          sync_writes=sync_writes)
        self.namespace = Namespace(self.meta, self.lookups, self.files, self.local_changes,
                                   self.dir_times, self.links, self.inodes, self._flusher)
        self.file_handles = FileHandles(self.files, self.local_changes, self.lookups,
                                        self.views, self.dir_times, self.namespace.new_owner)
        self._flusher.start()

    # --- life cycle -------------------------------------------------------------------

    def init(self, path: str) -> None:
        self.remote_changes.fuse_ptr = current_fuse()
        self._listing_cache = enable_readdir_cache(self.remote_changes.fuse_ptr)
        if self._watch_enabled:
            self.watcher.start()
        if self._on_ready is not None:
            self._on_ready()

    def destroy(self, path: str) -> None:
        self.watcher.stop()
        self.remote_changes.fuse_ptr = 0  # the kernel's side is going away
        self.chunks.close()
        self.local_changes.save_open_files()
        if self._flusher.stop(timeout=UNMOUNT_DRAIN_S):
            self.journal.remove()
        else:
            log.error("unmounted with %d journaled changes not yet on the server; the next "
                      "mount of %r replays them", self._flusher.pending_ops, self.workspace)
            self.journal.close()
        self.cache.close()
        self.files.remove_scratch()

    # --- the server ----------------------------------------------------------------------

    def _applied(self, last_seq: int, result: Any,
                 skipped: list[tuple[JournalOp, CitcError]]) -> None:
        """The server applied the journal up to `last_seq`: those paths stop being pending."""
        with self._lock:
            if getattr(result, "version", 0) and not getattr(result, "duplicate", False):
                self.watcher.own(int(result.version))
        self.meta.applied(last_seq)
        for op, error in skipped:
            self.remote_changes.not_applied(op, error)

    def status(self) -> dict[str, Any]:
        """What `citc status` shows of this mount (`.citc/status`)."""
        return {"workspace": self.workspace, "server": self.server,
                "version": self.watcher.known_version, "pending_ops": self._flusher.pending_ops,
                "pending_bytes": self._flusher.pending_bytes,
                "journal_seq": self._flusher.last_seq, "applied_seq": self._flusher.acked_seq,
                "conflicts": self.remote_changes.conflicts,
                "workspace_deleted": self._flusher.gone,
                "sync_writes": self.sync_writes, "last_error": self._flusher.last_error,
                "redirections": list(self.redirects.paths),
                "redirections_dir": self.redirects.base_dir,
                "kernel_listing_cache": self._listing_cache}

    # --- metadata ---------------------------------------------------------------------

    def _lookup(self, view: View) -> Entry:
        """The entry of a path; FuseOSError(ENOENT) if it does not exist."""
        if view.version is None:
            return self.lookups.head_entry(view.path)
        return self.views.entry(view.version, view.path)

    # --- FUSE: attributes and directories ---------------------------------------------

    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, int]:
        attrs = self.attrs_or_none(path, fh)
        if attrs is None:
            raise _fail(errno.ENOENT)
        return attrs

    def attrs_or_none(self, path: str | None, fh: int | None = None) -> dict[str, int] | None:
        """`getattr`, with None where a head path does not exist: the kernel asks for
        every name before it is created (negative_timeout=0), and an exception
        through the binding costs more than the answer."""
        if is_local_fh(fh):
            return redirect.fgetattr(fh)  # type: ignore[arg-type]
        if local := self.redirects.find(path):
            return local[0].getattr(local[1])
        if fh is not None and fh in self.files.handles:
            return self.kernel_attrs.of_handle(self.files.handles[fh])
        if path is None:
            raise _fail(errno.EBADF)
        return self.kernel_attrs.of_path(self.views.view(path))

    def access(self, path: str, amode: int) -> int:
        view = self.views.view(path)
        if view.version is not None and amode & os.W_OK:
            raise _fail(errno.EROFS)
        self.getattr(path)
        return 0

    def opendir(self, path: str) -> int:
        # The kernel caches listings (client/dircache.py) until the watch stream names a
        # change; what `.citc` and its snapshot labels list changes without one.
        if path in VOLATILE_LISTINGS or path.startswith(VOLATILE_LISTINGS[-1] + "/"):
            refuse_readdir_cache()
        return 0

    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
        if local := self.redirects.find(path):
            return local[0].readdir(local[1])
        return self.listings.readdir(self.views.view(path))

    def readlink(self, path: str) -> str:
        if local := self.redirects.find(path):
            return local[0].readlink(local[1])
        entry = self._lookup(self.views.view(path))
        if entry.kind != EntryKind.SYMLINK:
            raise _fail(errno.EINVAL)
        return entry.target

    def statfs(self, path: str) -> dict[str, int]:
        if local := self.redirects.find(path):
            return local[0].statfs(local[1])
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 32, "f_bfree": 1 << 31,
                "f_bavail": 1 << 31, "f_files": 1 << 32, "f_ffree": 1 << 31,
                "f_favail": 1 << 31, "f_namemax": paths.NAME_MAX}

    # --- FUSE: metadata changes ---------------------------------------------------------

    def _context(self) -> tuple[int, int]:
        uid, gid, _ = fuse_get_context()
        return uid, gid

    def _caller(self) -> permissions.Caller:
        """Who makes the current request, with groups and CAP_FSETID (from /proc)."""
        return permissions.caller_from_proc(*fuse_get_context())

    def mkdir(self, path: str, mode: int) -> int:
        if local := self.redirects.find(path):
            return local[0].mkdir(local[1], mode, self._context())
        target = self.views.writable(path)
        if target == HISTORY_DIR:
            raise _fail(errno.EEXIST)
        self.namespace.mkdir(target, mode)
        return 0

    def symlink(self, path: str, target: str) -> int:
        if local := self.redirects.find(path):
            return local[0].symlink(local[1], target, self._context())
        where = self.views.writable(path)
        if where == HISTORY_DIR:
            raise _fail(errno.EEXIST)
        self.namespace.symlink(where, target)
        return 0

    def unlink(self, path: str) -> int:
        if local := self.redirects.find(path):
            return local[0].unlink(local[1])
        target = self.views.writable(path)
        self.namespace.unlink(target)
        return 0

    def rmdir(self, path: str) -> int:
        if local := self.redirects.find(path):
            return local[0].rmdir(local[1])
        target = self.views.writable(path)
        if target == paths.ROOT:
            raise _fail(errno.EBUSY)
        if self.redirects.holds(target):
            raise _fail(errno.ENOTEMPTY)  # a redirected directory is listed inside
        self.namespace.rmdir(target)
        return 0

    def rename(self, old: str, new: str, flags: int = 0) -> int:
        if self.redirects.active:
            return self.redirects.rename(old, new, flags, self._rename)
        return self._rename(old, new, flags)

    def _rename(self, old: str, new: str, flags: int) -> int:
        src = self.views.writable(old)
        dst = self.views.writable(new)
        if flags & ~1:  # only RENAME_NOREPLACE is supported
            raise _fail(errno.EINVAL)
        self.namespace.rename(src, dst, flags)
        return 0

    def _set_attr(self, path: str | None, change: attr_changes.Change) -> None:
        """Apply `change` (the current entry -> the fields it sets) to `path`; ctime
        moves to now, as on every change to an inode."""
        if path is None:
            raise _fail(errno.EBADF)
        target = self.views.writable(path)
        self.namespace.set_attr(target, change)

    def chmod(self, path: str | None, mode: int) -> int:
        if local := self.redirects.find(path):
            return local[0].chmod(local[1], mode)
        self._set_attr(path, attr_changes.chmod_change(mode))
        return 0

    def chown(self, path: str | None, uid: int, gid: int) -> int:
        if local := self.redirects.find(path):
            return local[0].chown(local[1], uid, gid)
        self._set_attr(path, attr_changes.chown_change(uid, gid, self._caller))
        return 0

    def utimens(self, path: str | None, times: tuple[int, int] | None = None) -> int:
        if local := self.redirects.find(path):
            return local[0].utimens(local[1], times)
        change = attr_changes.utimens_change(times, time.time_ns())
        if change is not None:
            self._set_attr(path, change)
        return 0

    def link(self, target: str, source: str) -> int:
        """Make `target` another name of the file at `source` (ln source target)."""
        if self.redirects.link(target, source):
            return 0
        if HISTORY_DIR in (target.lstrip("/").split("/", 1)[0],
                           source.lstrip("/").split("/", 1)[0]):
            raise _fail(errno.EXDEV)  # the views are other file systems, as .zfs is
        self.namespace.link(self.views.writable(target), self.views.writable(source))
        return 0

    def mknod(self, path: str, mode: int, dev: int) -> int:
        """A FIFO, socket or device node: an entry only (the kernel does the I/O,
        and checks that the caller may make a device)."""
        if local := self.redirects.find(path):
            return local[0].mknod(local[1], mode, dev, self._context())
        target = self.views.writable(path)
        if target == HISTORY_DIR:
            raise _fail(errno.EEXIST)
        kind = kind_of_mode(mode)
        if kind == EntryKind.FILE:
            handle = self.create(path, mode)  # mknod(S_IFREG): an empty file
            return self.release(path, handle)
        if kind is None or kind in (EntryKind.DIR, EntryKind.SYMLINK):
            raise _fail(errno.EINVAL)
        self.namespace.mknod(target, kind, mode, dev)
        return 0

    # --- FUSE: extended attributes ----------------------------------------------------

    def getxattr(self, path: str, name: str, position: int = 0) -> bytes:
        value = self.xattr_value(path, name)
        if value is None:
            raise _fail(errno.ENODATA)
        return value

    def xattr_value(self, path: str, name: str) -> bytes | None:
        """The value of extended attribute `name` of `path`, or None: `getxattr`
        without an exception for a missing one, which is the usual answer (the
        kernel asks for security.capability before every write)."""
        if local := self.redirects.find(path):
            try:
                return local[0].getxattr(local[1], name)
            except FuseOSError as exc:
                if exc.errno == errno.ENODATA:
                    return None
                raise
        return self.kernel_attrs.xattr(path, name)

    def listxattr(self, path: str) -> list[str]:
        if local := self.redirects.find(path):
            return local[0].listxattr(local[1])
        return xattrs.names(self.kernel_attrs.xattrs(path))

    def setxattr(self, path: str, name: str, value: bytes, options: int,
                 position: int = 0) -> int:
        if local := self.redirects.find(path):
            return local[0].setxattr(local[1], name, value, options)
        self._set_attr(path, xattrs.set_change(name, value, options))
        return 0

    def removexattr(self, path: str, name: str) -> int:
        if local := self.redirects.find(path):
            return local[0].removexattr(local[1], name)
        self._set_attr(path, xattrs.remove_change(name))
        return 0

    # --- FUSE: files ------------------------------------------------------------------

    def is_generated(self, fh: int) -> bool:
        """Whether `fh` reads a generated file, which the kernel must not cache."""
        return self.files.is_generated(fh)

    def create(self, path: str, mode: int, flags: int = 0) -> int:
        if local := self.redirects.find(path):
            return local[0].create(local[1], mode, flags, self._context())
        target = self.views.writable(path)
        if target == HISTORY_DIR:
            raise _fail(errno.EEXIST)
        return self.file_handles.create(target, mode)

    def open(self, path: str, flags: int) -> int:
        if local := self.redirects.find(path):
            return local[0].open(local[1], flags)
        return self.file_handles.open(self.views.view(path), flags)

    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        if is_local_fh(fh):
            return redirect.read(fh, size, offset)
        handle = self.files.handles.get(fh)
        if handle is None:
            raise _fail(errno.EBADF)
        return self.files.read(handle, size, offset)

    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        if is_local_fh(fh):
            return redirect.write(fh, data, offset)
        handle = self.files.handles.get(fh)
        if handle is None or handle.file is None:
            raise _fail(errno.EBADF)
        return self.files.write(handle.file, data, offset)

    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        if is_local_fh(fh):
            return redirect.ftruncate(fh, length)  # type: ignore[arg-type]
        if local := self.redirects.find(path):
            return local[0].truncate(local[1], length)
        handle = self.files.handles.get(fh) if fh is not None else None
        if handle is not None and handle.file is not None:
            with handle.file.lock:
                self.files.truncate(handle.file, length)
                self.files.kill_privileges(handle.file)
            return 0
        if path is None:
            raise _fail(errno.EBADF)
        target = self.views.writable(path)
        self.file_handles.truncate(target, length)
        return 0

    def flush(self, path: str | None, fh: int) -> int:
        if is_local_fh(fh):
            return 0  # a local file's data is the local filesystem's
        handle = self.files.handles.get(fh)
        if handle is not None and handle.file is not None:
            self.local_changes.save_file(handle.file)
        return 0

    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        """Return once the server has this file and everything journaled before it."""
        if is_local_fh(fh):
            return redirect.fsync(fh, datasync)
        self.flush(path, fh)
        return self.local_changes.barrier()

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        """The barrier of `citc` commands: everything journaled is on the server."""
        if local := self.redirects.find(path):
            return local[0].fsyncdir(local[1])
        return self.local_changes.barrier()

    def release(self, path: str | None, fh: int) -> int:
        if is_local_fh(fh):
            return redirect.release(fh)
        self.file_handles.release(fh)
        return 0
