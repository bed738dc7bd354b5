"""Changes to the names of a mount's head: mkdir, symlink, mknod, unlink, rmdir,
rename, link, and the attribute changes of a name (chmod, chown, utimens, setxattr).

Each checks what POSIX asks of the names involved (as the mount shows them), journals
the change (`LocalChanges`), moves the times of the directories it touches
(`DirTimes`), and keeps the open files, inode numbers and hard-link names in step.
A file created here and still open is not on the server yet: removing it only
forgets it, and changing its attributes changes what its first save carries.
Paths are head paths, checked writable by the caller (`WorkspaceFS`), which also
keeps redirected (local-only) directories out of here.
"""

from __future__ import annotations

import errno
import time

from citcfs import paths
from citcfs.entries import Entry, EntryKind

from . import permissions
from .attr_changes import Change
from .dir_times import DirTimes
from .files import OpenFiles
from .flusher import Flusher
from .fuse_lib import FuseOSError, fuse_get_context
from .inodes import InodeNumbers
from .journal import Link, MakeDir, MakeNode, Remove, Rename, SetAttr, Symlink
from .links import LinkNames, new_link_id
from .local_changes import LocalChanges
from .lookups import Lookups
from .metadata import HeadMetadata


class Namespace:
    """The rules of making, removing, moving and linking names, and of changing
    attributes."""

    def __init__(self, meta: HeadMetadata, lookups: Lookups, files: OpenFiles,
                 changes: LocalChanges, dir_times: DirTimes, links: LinkNames,
                 inodes: InodeNumbers, flusher: Flusher) -> None:
        self._meta = meta
        self._lock = meta.lock
        self._lookups = lookups
        self._files = files
        self._changes = changes
        self._dir_times = dir_times
        self._links = links
        self._inodes = inodes
        self._flusher = flusher

    def new_owner(self, path: str, mode: int, *, is_dir: bool = False,
                  parent: Entry | None = None) -> tuple[int, int, int]:
        """(uid, gid, mode) of an entry the caller makes at `path`: a setgid parent
        (`parent`, else looked up) passes on its group, and its setgid to a directory."""
        uid, gid, _ = fuse_get_context()
        try:
            parent = parent or self._lookups.head_entry(paths.split(path)[0])
        except FuseOSError:
            return uid, gid, mode
        return permissions.new_owner(parent.mode, parent.gid, uid, gid, mode, is_dir=is_dir)

    def mkdir(self, target: str, mode: int) -> None:
        """A new directory at `target`, owned by the caller."""
        uid, gid, mode = self.new_owner(target, mode & 0o7777, is_dir=True)
        entry = Entry.directory(mode=mode, uid=uid, gid=gid, mtime_ns=time.time_ns())
        self._changes.journal(MakeDir(target, entry), [(target, entry)])
        self._dir_times.touch([paths.split(target)[0]])

    def symlink(self, where: str, target: str) -> None:
        """A new symbolic link at `where`, to `target`."""
        uid, gid, _ = self.new_owner(where, 0o777)
        entry = Entry.symlink(target, uid=uid, gid=gid, mtime_ns=time.time_ns())
        self._changes.journal(Symlink(where, entry), [(where, entry)])
        self._dir_times.touch([paths.split(where)[0]])

    def mknod(self, target: str, kind: EntryKind, mode: int, dev: int) -> None:
        """A new FIFO, socket or device node (`kind`) at `target`: an entry only."""
        uid, gid, perm = self.new_owner(target, mode & 0o7777)
        entry = Entry.special(kind, mode=perm, uid=uid, gid=gid, mtime_ns=time.time_ns(),
                              rdev=dev if kind in (EntryKind.CHARDEV, EntryKind.BLOCKDEV) else 0)
        self._changes.journal(MakeNode(target, entry), [(target, entry)])
        self._dir_times.touch([paths.split(target)[0]])

    def unlink(self, target: str) -> None:
        """Remove name `target` (not a directory): an open file created here and not
        yet journaled just goes; a linked file's other names count one fewer."""
        open_file = self._files.get(target)
        if open_file is not None:
            with open_file.lock:
                local_only = open_file.entry is None
                with self._lock:
                    self._files.open.pop(target, None)
                    open_file.unlinked = not self._changes.rehome(open_file)
            if local_only:
                self._meta.remember(target, None)
                self._dir_times.touch([paths.split(target)[0]])
                return
        removed = self._lookups.head_entry(target)
        if removed.is_dir:
            raise FuseOSError(errno.EISDIR)
        self._changes.journal(Remove(target, must_be_dir=False), [(target, None)])
        self._changes.unlinked_name(target, removed)
        self._dir_times.touch([paths.split(target)[0]])

    def rmdir(self, target: str) -> None:
        """Remove the empty directory `target` (checked here: not a directory,
        ENOTDIR; names in it, or files created in it and still open, ENOTEMPTY)."""
        if not self._lookups.head_entry(target).is_dir:
            raise FuseOSError(errno.ENOTDIR)
        if self._lookups.head_listing(target) or self._files.any_below(target):
            raise FuseOSError(errno.ENOTEMPTY)
        self._changes.journal(Remove(target, must_be_dir=True), [(target, None)])
        self._meta.removed_dir(target)
        self._dir_times.touch([paths.split(target)[0]])

    def rename(self, src: str, dst: str, flags: int) -> None:
        """rename(2) of head path `src` to `dst` (`flags`: RENAME_NOREPLACE only).
        Open files are saved first; a directory's rename is a barrier."""
        for open_path in (src, dst):
            open_file = self._files.get(open_path)
            if open_file is not None:
                self._changes.save_file(open_file)
        moved_entry = self._lookups.head_entry(src)
        try:
            replaced_entry: Entry | None = self._lookups.head_entry(dst)
        except FuseOSError:
            replaced_entry = None
        if src == dst:
            return
        if (replaced_entry is not None and moved_entry.link is not None
                and replaced_entry.link == moved_entry.link and not flags & 1):
            return  # two names of one file: rename(2) does nothing
        if replaced_entry is not None:
            if flags & 1:
                raise FuseOSError(errno.EEXIST)
            if moved_entry.is_dir and not replaced_entry.is_dir:
                raise FuseOSError(errno.ENOTDIR)
            if not moved_entry.is_dir and replaced_entry.is_dir:
                raise FuseOSError(errno.EISDIR)
            if replaced_entry.is_dir and self._lookups.head_listing(dst):
                raise FuseOSError(errno.ENOTEMPTY)
        op = Rename(src, dst, no_replace=bool(flags & 1))
        now = time.time_ns()
        if moved_entry.is_dir:
            # What lies below a moved directory is not tracked path by path: the
            # rename is a barrier, and the caches below both names start afresh.
            # Directory times gathered so far go first, under their old names.
            self._dir_times.journal_pending()
            self._flusher.wait_for(self._changes.journal(op, []))
        else:
            self._changes.journal(op, [(src, None), (dst, moved_entry)])
            if replaced_entry is not None:
                self._changes.unlinked_name(dst, replaced_entry)
            if moved_entry.link is not None:
                self._links.drop(moved_entry.link, src)
                self._links.note(dst, moved_entry)
        # A rename changes the moved inode (its ctime) and both directories.
        moved_now = moved_entry.replace(ctime_ns=now, atime_ns=moved_entry.st_atime_ns)
        self._changes.journal(SetAttr(dst, ctime_ns=now), [(dst, moved_now.compact_times())])
        self._dir_times.touch([paths.split(src)[0], paths.split(dst)[0]])
        with self._lock:
            moved = self._files.open.pop(src, None)
            replaced = self._files.open.pop(dst, None)
            if replaced is not None:
                replaced.unlinked = True
            if moved is not None:
                moved.path = dst
                moved.ctime_ns = now
                self._files.open[dst] = moved
            self._inodes.renamed(src, dst)
        if moved_entry.is_dir:
            self._meta.forget(src)
            self._meta.forget(dst)

    def set_attr(self, target: str, change: Change) -> None:
        """Apply `change` (the current entry -> the fields it sets) to `target`; ctime
        moves to now, as on every change to an inode."""
        open_file = self._files.get(target)
        if open_file is not None:
            with open_file.lock:
                changes = {"ctime_ns": time.time_ns(), **change(open_file.attrs())}
                for key, value in changes.items():
                    setattr(open_file, key, value)
                if open_file.entry is None:
                    # Created here and not yet on the server: the file appears there
                    # at its flush, with its data and these attributes together (tar
                    # sets mtime, owner and mode on the open file before closing it).
                    return None
                if open_file.dirty:
                    return self._changes.save_file(open_file)
        current = self._lookups.head_entry(target)
        changes = {"ctime_ns": time.time_ns(), **change(current)}
        if "mtime_ns" in changes:
            changes.setdefault("atime_ns", current.st_atime_ns)  # else it follows mtime
        self._changes.journal(SetAttr(target, **changes),
                              [(target, current.replace(**changes).compact_times())])

    def link(self, dst: str, src: str) -> None:
        """Make `dst` another name of the file at `src` (EPERM for a directory, EEXIST
        where `dst` exists). The file keeps its inode number; an open one is saved
        first, as the server must know the file."""
        open_file = self._files.get(src)
        if open_file is not None:
            self._changes.save_file(open_file)  # the server must know the file first
        entry = self._lookups.head_entry(src)
        if entry.is_dir:
            raise FuseOSError(errno.EPERM)  # as POSIX says
        known, there = self._meta.peek(dst)
        if there is not None or (not known and self._lookups.fetch_entry(dst, None) is not None):
            raise FuseOSError(errno.EEXIST)
        link_id = entry.link if entry.link is not None else new_link_id()
        now = time.time_ns()
        state = entry.replace(link=link_id, nlink=entry.nlink + 1 if entry.link else 2,
                              ctime_ns=now, atime_ns=entry.st_atime_ns,
                              origin=None).compact_times()
        self._inodes.of_link(None, src, link_id)  # the file keeps its number
        self._links.note(src, state)
        self._links.note(dst, state)
        self._changes.journal(Link(src, dst, link_id), [(src, state), (dst, state)])
        # The file's ctime is the mount's, as for every change it journals; this also
        # drops the kernel's attributes of the other names, `src` among them.
        self._changes.journal(SetAttr(dst, ctime_ns=now), [(dst, state)])
        if open_file is not None:
            with open_file.lock:
                open_file.link, open_file.nlink, open_file.ctime_ns = link_id, state.nlink, now
                if open_file.entry is not None:
                    open_file.entry = open_file.entry.replace(link=link_id, nlink=state.nlink)
        self._dir_times.touch([paths.split(dst)[0]])
