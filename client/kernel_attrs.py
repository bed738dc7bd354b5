"""Entries as the kernel sees them: the attributes of a path or an open handle, and
the rows of a listing, with their inode numbers.

With `use_ino` the kernel takes inode numbers from these answers (`st_ino`, and
`d_ino` in a listing, where it hides entries whose number is 0). Every name of a
linked file shows one number, and the names shown are noted (`LinkNames`), so a
change through one of them can reach the kernel's caches of the others. What a
fixed view shows is read-only: its write bits are cleared.
"""

from __future__ import annotations

import stat

from citcfs import paths
from citcfs.entries import Entry

from . import xattrs
from .files import Handle, OpenFiles
from .fuse_lib import FuseOSError
from .inodes import InodeNumbers
from .links import LinkNames
from .lookups import Lookups
from .views import GENERATED, HISTORY_DIR, HistoryViews, View

Row = tuple[str, dict[str, int], int]
"""A listing row as mfusepy takes it: name, attributes (type and number), offset 0."""


class KernelAttrs:
    """Builds stat answers and listing rows from entries."""

    def __init__(self, inodes: InodeNumbers, links: LinkNames, views: HistoryViews,
                 lookups: Lookups, files: OpenFiles) -> None:
        self._inodes = inodes
        self._links = links
        self._views = views
        self._lookups = lookups
        self._files = files

    def of_path(self, view: View) -> dict[str, int] | None:
        """The attributes of `view`, None where a head path does not exist: a file
        open for writing shows its own."""
        if view.version is None:
            open_file = self._files.get(view.path)
            if open_file is not None:
                return self.stat(view, open_file.attrs())
            if view.path == HISTORY_DIR:
                root = View(-1, HISTORY_DIR)
                return self.stat(root, self._views.entry(-1, HISTORY_DIR))
            entry = self._lookups.head_entry_or_none(view.path)
            return None if entry is None else self.stat(view, entry)
        return self.stat(view, self._views.entry(view.version, view.path))

    def xattr(self, fuse_path: str, name: str) -> bytes | None:
        """The value of extended attribute `name` of `fuse_path`, or None. Asked before
        every write: an open file answers without the path being parsed again (kernel
        paths are canonical, and name the open file's key)."""
        open_file = self._files.open.get(fuse_path[1:])
        return xattrs.value_of(open_file.xattrs if open_file is not None
                               else self.xattrs(fuse_path), name)

    def xattrs(self, fuse_path: str) -> tuple[tuple[bytes, bytes], ...]:
        """The extended attributes of `fuse_path`, from memory when the file is open or
        its entry cached (the kernel asks for security.capability before every write)."""
        view = self._views.view(fuse_path)
        if view.version is None:
            open_file = self._files.get(view.path)
            if open_file is not None:
                return open_file.xattrs
            return self._lookups.head_entry(view.path).xattrs
        return self._views.entry(view.version, view.path).xattrs

    def of_handle(self, handle: Handle) -> dict[str, int]:
        """The attributes an open handle shows (fstat)."""
        return self.stat(handle.view, self._handle_entry(handle))

    def _handle_entry(self, handle: Handle) -> Entry:
        """What an open handle shows: a file open for reading shows its path's entry
        now (fchmod, futimens and fsetxattr change it), or the one it was opened
        with once the path is gone."""
        if handle.file is not None:
            return handle.file.attrs()
        if handle.view.version is None and handle.content is None:
            try:
                current = self._lookups.head_entry(handle.view.path)
            except FuseOSError:
                return handle.entry
            if current.kind == handle.entry.kind:
                return current
        return handle.entry

    def stat(self, view: View, entry: Entry) -> dict[str, int]:
        """The attributes of `entry`, shown at `view`."""
        readonly = view.version is not None
        mode = entry.st_mode
        if readonly:
            mode &= ~0o222
        if entry.link is None:
            ino = self._inodes.number(view.version, view.path)
        else:  # one inode number for every name of a linked file
            ino = self._inodes.of_link(view.version, view.path, entry.link)
            if view.version is None:
                self._links.note(view.path, entry)
        return {
            "st_mode": mode,
            "st_ino": ino,
            "st_nlink": entry.nlink,
            "st_uid": entry.uid,
            "st_gid": entry.gid,
            "st_size": entry.size,
            "st_blocks": (entry.size + 511) // 512,
            "st_blksize": 128 * 1024,
            "st_mtime": entry.mtime_ns,
            "st_ctime": entry.st_ctime_ns,
            "st_atime": entry.st_atime_ns,
            "st_rdev": entry.rdev,
        }

    def rows(self, view: View, items: dict[str, Entry]) -> list[Row]:
        """The kernel's listing of directory `view` holding `items`: names, types and
        inode numbers, with "." and ".." first."""
        version = view.version if view.version is not None and view.version >= 0 else None
        history_root = view.version == -1
        here = self._inodes.number(view.version, view.path)
        result: list[Row] = [
            (".", {"st_mode": stat.S_IFDIR, "st_ino": here}, 0),
            ("..", {"st_mode": stat.S_IFDIR, "st_ino": 1}, 0)]
        for name, entry in sorted(items.items()):
            child = paths.join(view.path, name)
            if view.path == HISTORY_DIR + "/versions":
                ino = self._inodes.number(int(name), paths.ROOT)
            elif view.path == HISTORY_DIR + "/snapshots":
                ino = self._inodes.number(self._views.known_label(name), paths.ROOT)
            elif child in GENERATED:
                ino = self._inodes.number(GENERATED[child], child)
            elif history_root or (version is None and child == HISTORY_DIR):
                ino = self._inodes.number(-1, child)
            elif entry.link is not None:
                ino = self._inodes.of_link(version, child, entry.link)
                if version is None:
                    self._links.note(child, entry)
            else:
                ino = self._inodes.number(version, child)
            result.append((name, {"st_mode": entry.st_mode, "st_ino": ino}, 0))
        return result
