"""The life of a mount's file handles: open and create hand them out, release
takes them back, and a truncate by path opens the file for as long as it takes.

A handle of a head file opened for writing (or a file already open for writing)
shares the path's `OpenFile` (`client/files.py`); one opened for reading only keeps
the entry it was opened with, and one of a `.citc` view reads fixed content. The
content of an open file is saved (journaled, `LocalChanges.save_file`) at flush and
at the last release, and the file is forgotten once no handle holds it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

from citcfs import paths

from .dir_times import DirTimes
from .files import Handle, OpenFiles
from .fuse_lib import FuseOSError
from .local_changes import LocalChanges
from .lookups import Lookups
from .views import HistoryViews, View

NewOwner = Callable[..., tuple[int, int, int]]
"""(path, mode, parent=...) -> (uid, gid, mode) of a file the caller makes."""


class FileHandles:
    """Hands out file handles and takes them back, saving what was written."""

    def __init__(self, files: OpenFiles, changes: LocalChanges, lookups: Lookups,
                 views: HistoryViews, dir_times: DirTimes, new_owner: NewOwner) -> None:
        self._files = files
        self._changes = changes
        self._lookups = lookups
        self._views = views
        self._dir_times = dir_times
        self._new_owner = new_owner

    def create(self, target: str, mode: int) -> int:
        """A new, empty file at head path `target`, open for writing; on the server
        only once saved (its directory's times move in the mount's view now)."""
        parent = paths.split(target)[0]
        parent_entry = self._lookups.head_entry(parent) if parent else None
        if parent_entry is not None and not parent_entry.is_dir:
            raise FuseOSError(errno.ENOTDIR)
        uid, gid, mode = self._new_owner(target, mode & 0o7777, parent=parent_entry)
        open_file = self._files.open_file(target, None, mode, (uid, gid))
        with open_file.lock:
            self._files.truncate(open_file, 0)
        self._dir_times.touch([parent], journal=False)
        return self._files.new_handle(Handle(View(None, target), open_file.attrs(), open_file))

    def open(self, view: View, flags: int) -> int:
        """A handle of `view` opened with `flags` (EROFS for writing a fixed view,
        EISDIR for a directory)."""
        writing = flags & (os.O_WRONLY | os.O_RDWR)
        if view.version is not None:
            if writing or flags & os.O_TRUNC:
                raise FuseOSError(errno.EROFS)
            entry = self._views.entry(view.version, view.path)
            handle = Handle(view, entry, None, content=self._views.content(view))
            return self._files.new_handle(handle)
        open_file = self._files.get(view.path)
        entry = (open_file.attrs() if open_file is not None
                 else self._lookups.head_entry(view.path))
        if entry.is_dir:
            raise FuseOSError(errno.EISDIR)
        if not writing and open_file is None:
            return self._files.new_handle(Handle(view, entry, None))
        open_file = self._files.open_file(view.path, entry)
        if flags & os.O_TRUNC and writing:
            with open_file.lock:
                self._files.truncate(open_file, 0)
                self._files.kill_privileges(open_file)
        return self._files.new_handle(Handle(view, entry, open_file))

    def truncate(self, target: str, length: int) -> None:
        """truncate(2) of head path `target` with no handle: opened, cut, saved."""
        entry = self._lookups.head_entry(target)
        if entry.is_dir:
            raise FuseOSError(errno.EISDIR)
        open_file = self._files.open_file(target, entry)
        with open_file.lock:
            open_file.refs += 1
            try:
                self._files.truncate(open_file, length)
                self._files.kill_privileges(open_file)
                self._changes.save_file(open_file)
            finally:
                open_file.refs -= 1
                if open_file.refs == 0:
                    self._files.close(open_file)

    def release(self, fh: int) -> None:
        """The kernel let go of `fh`: an open file is saved, and forgotten with its
        last handle."""
        handle = self._files.pop_handle(fh)
        if handle is None or handle.file is None:
            return
        open_file = handle.file
        try:
            self._changes.save_file(open_file)
        finally:
            if self._files.unref(open_file):
                self._files.close(open_file)
