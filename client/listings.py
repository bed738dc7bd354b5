"""Directory listings of a mount as the kernel gets them.

A head directory lists what the server has (through the metadata cache), the files
created in it and still open, and the redirected (local-only) directories in it,
which hide whatever the server has under their names; the root never lists `.citc`
(like ZFS's `.zfs` with snapdir=hidden). `.citc` and the views below it list from
`HistoryViews`. A built answer of a head directory is kept (`HeadMetadata`) until a
change drops it, so the kernel's repeated readdir of a large directory costs a
lookup.
"""

from __future__ import annotations

import errno

from citcfs import paths
from citcfs.entries import Entry

from .files import OpenFiles
from .fuse_lib import FuseOSError
from .kernel_attrs import KernelAttrs, Row
from .lookups import Lookups
from .metadata import HeadMetadata
from .redirect import Redirector
from .views import HISTORY_DIR, HistoryViews, View


class Listings:
    """Builds (and keeps) the kernel's listing of a directory."""

    def __init__(self, meta: HeadMetadata, lookups: Lookups, views: HistoryViews,
                 files: OpenFiles, redirects: Redirector, kernel_attrs: KernelAttrs) -> None:
        self._meta = meta
        self._lookups = lookups
        self._views = views
        self._files = files
        self._redirects = redirects
        self._kernel_attrs = kernel_attrs

    def readdir(self, view: View) -> list[Row]:
        """The listing of `view`, kept for a head directory."""
        if view.version is None:
            cached, generation = self._meta.cached_readdir(view.path)
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        result = self._build(view)
        if view.version is None and view.path != HISTORY_DIR:
            self._meta.keep_readdir(view.path, generation, result)
        return result

    def _build(self, view: View) -> list[Row]:
        """The kernel's listing of a directory: names, types and inode numbers."""
        if view.version is None and view.path != HISTORY_DIR:
            entry = self._lookups.head_entry(view.path) if view.path else None
            if entry is not None and not entry.is_dir:
                raise FuseOSError(errno.ENOTDIR)
            items = dict(self._lookups.head_listing(view.path))
            for name, open_file in self._files.below(view.path):
                items[name] = open_file.attrs()
            for name in self._redirects.children(view.path):
                items[name] = Entry.directory()  # whatever the server has there is hidden
            if view.path == paths.ROOT:
                # Like ZFS's .zfs (snapdir=hidden): reachable by name, never listed, so
                # find, tar, git and grep -r do not walk every version of the workspace.
                items.pop(HISTORY_DIR, None)
        else:
            if view.version is not None and view.version >= 0:
                entry = self._views.entry(view.version, view.path)
                if not entry.is_dir:
                    raise FuseOSError(errno.ENOTDIR)
            items = self._views.listing(view if view.version is not None
                                        else View(-1, view.path))
        return self._kernel_attrs.rows(view, items)
