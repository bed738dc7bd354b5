"""Differences between two states of a tree, streamed, at a cost that follows the change.

A *side* is a root tree plus an overlay view: a base revision is a side with an empty
overlay, a workspace version is its root and its overlay at that version. The walk
descends only where the two sides can differ:

- a directory that has no overlay entry below it on either side, and the same tree
  beneath it on both, is equal and skipped without being read (the Merkle property);
- so between a workspace and its own base only the directories leading to overlay
  entries are read, and between two base revisions only the subtrees whose ids differ.

Results come out in path order, parents before children, as a generator: a diff of a
million paths never holds them in memory. A directory that is added or deleted is
reported, then every path below it. A renamed entry (an overlay entry whose `origin`
names a path that the old side has and the new side does not) is reported once as
RENAMED, followed by the differences inside it, instead of as a delete plus an add.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.objects import ObjectId

from . import overlay
from .overlay import OverlayView, TreeLoader


class Change(enum.Enum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"
    TYPE_CHANGED = "type_changed"
    RENAMED = "renamed"


@dataclass(frozen=True, slots=True)
class DiffEntry:
    """One changed path. `old_path` is set for renames and for paths inside them."""

    path: str
    change: Change
    old: Entry | None
    new: Entry | None
    old_path: str | None = None


class EmptyOverlay:
    """The overlay of a plain tree: it changes nothing."""

    def entry(self, parent: str, name: str) -> Entry | None:
        return None

    def children(self, parent: str) -> Iterator[tuple[str, Entry]]:
        return iter(())

    def subtree(self, path: str) -> Iterator[tuple[str, Entry]]:
        return iter(())


@dataclass
class Side:
    """One state to compare: a root tree and an overlay over it."""

    root: ObjectId
    view: OverlayView = field(default_factory=EmptyOverlay)
    _dirty: set[str] | None = None
    _origins: dict[str, str] | None = None

    def _scan(self) -> None:
        dirty: set[str] = set()
        origins: dict[str, str] = {}
        for path, entry in self.view.subtree(paths.ROOT):
            if entry.origin is not None and entry.kind != EntryKind.WHITEOUT:
                origins[path] = entry.origin
            parent = path
            while parent:
                parent = paths.split(parent)[0]
                if parent in dirty:
                    break
                dirty.add(parent)
        if self.view.entry(paths.ROOT, overlay.ROOT_ENTRY_NAME) is not None:
            dirty.add(paths.ROOT)
        self._dirty, self._origins = dirty, origins

    @property
    def dirty(self) -> set[str]:
        """Directories with at least one overlay entry below them."""
        if self._dirty is None:
            self._scan()
        assert self._dirty is not None
        return self._dirty

    @property
    def origins(self) -> dict[str, str]:
        """Renamed paths: new path -> the path it was renamed from."""
        if self._origins is None:
            self._scan()
        assert self._origins is not None
        return self._origins

    def children(self, load: TreeLoader, path: str, beneath: ObjectId | None) -> dict[str, tuple[Entry, ObjectId | None]]:
        """name -> (entry, tree beneath it if a directory) for the directory at `path`."""
        tree = load(beneath) if beneath is not None else None
        base = tree.entries if tree is not None else ()
        result: dict[str, tuple[Entry, ObjectId | None]] = {
            name: (entry, entry.tree if entry.is_dir else None) for name, entry in base}
        if tree is not None and tree.has_links:  # names of linked files show their record
            for name, entry in base:
                if entry.link is not None:
                    result[name] = (overlay.shown(self.view, entry), None)
        if path not in self.dirty:
            return result
        underlying = dict(base)
        for name, entry in self.view.children(path):
            if entry.kind == EntryKind.WHITEOUT:
                result.pop(name, None)
            else:
                result[name] = (overlay.shown(self.view, entry),
                                overlay._beneath(entry, underlying.get(name)))
        return result

    def resolve(self, load: TreeLoader, path: str) -> overlay.Node | None:
        return overlay.try_resolve(self.view, load, self.root, path)


def _same_attrs(a: Entry, b: Entry) -> bool:
    """Whether two directories look alike. Their times are left out: a directory's
    mtime and ctime move whenever a name is added, removed or renamed in it, and
    those changes are reported as the names' own."""
    return (a.mode, a.uid, a.gid, a.xattrs) == (b.mode, b.uid, b.gid, b.xattrs)


def _same_content(a: Entry, b: Entry) -> bool:
    """Whether two non-directories look alike (atime and ctime left out: they move
    without any change a diff could show)."""
    if a is b or a == b:
        return True
    return (a.kind, a.mode, a.uid, a.gid, a.size, a.mtime_ns, a.chunks, a.inline, a.target,
            a.rdev, a.xattrs) == \
        (b.kind, b.mode, b.uid, b.gid, b.size, b.mtime_ns, b.chunks, b.inline, b.target,
         b.rdev, b.xattrs)


class _Walker:
    def __init__(self, load: TreeLoader, old: Side, new: Side) -> None:
        self.load = load
        self.old = old
        self.new = new
        # Renames recorded by the new side whose source the old side has and the new
        # side does not: new path -> old path.
        self.renames: dict[str, str] = {}
        for dst, src in new.origins.items():
            if old.origins.get(dst) == src:
                continue  # renamed before the old side: a stale origin, not a change here
            if old.resolve(load, src) is not None and new.resolve(load, src) is None:
                self.renames[dst] = src
        self.rename_sources = set(self.renames.values())

    def walk_all(self, side: Side, path: str, beneath: ObjectId | None, change: Change,
                 old_prefix: tuple[str, str] | None = None) -> Iterator[DiffEntry]:
        """Every path below a directory, reported as added or deleted.

        With `old_prefix` = (old, new), the directory is read at `old` on `side` and
        reported below `new`: a deletion inside a renamed directory.
        """
        for name, (entry, child_beneath) in sorted(side.children(self.load, path, beneath).items(),
                                                   key=lambda item: paths.to_bytes(item[0])):
            child = paths.join(path, name)
            if change == Change.ADDED and side is self.new and child in self.renames:
                # moved into an added directory: a rename, so the source's removal shows
                yield from self._renamed(child, (entry, child_beneath), None)
                continue
            shown, moved_from = child, None
            if old_prefix is not None:
                shown, moved_from = old_prefix[1] + child[len(old_prefix[0]):], child
            if change == Change.ADDED:
                yield DiffEntry(shown, change, None, entry.replace(origin=None))
            else:
                yield DiffEntry(shown, change, entry.replace(origin=None), None, moved_from)
            if entry.is_dir:
                yield from self.walk_all(side, child, child_beneath, change, old_prefix)

    def walk(self, old_path: str, new_path: str, old_beneath: ObjectId | None,
             new_beneath: ObjectId | None) -> Iterator[DiffEntry]:
        """Differences between directory old_path (old side) and new_path (new side)."""
        if (old_path not in self.old.dirty and new_path not in self.new.dirty
                and old_beneath == new_beneath):
            return
        old_items = self.old.children(self.load, old_path, old_beneath)
        new_items = self.new.children(self.load, new_path, new_beneath)
        names = sorted(set(old_items) | set(new_items), key=paths.to_bytes)
        renamed_here = old_path != new_path
        for name in names:
            old_child = paths.join(old_path, name)
            new_child = paths.join(new_path, name)
            before = old_items.get(name)
            after = new_items.get(name)
            moved_from = renamed_here and old_child or None
            if after is not None and new_child in self.renames:
                yield from self._renamed(new_child, after, before)
                continue
            if before is None:
                assert after is not None
                yield DiffEntry(new_child, Change.ADDED, None, after[0].replace(origin=None))
                if after[0].is_dir:
                    yield from self.walk_all(self.new, new_child, after[1], Change.ADDED)
                continue
            if after is None:
                if old_child in self.rename_sources and not renamed_here:
                    continue  # reported at its new place
                yield DiffEntry(new_child, Change.DELETED, before[0].replace(origin=None), None,
                                moved_from)
                if before[0].is_dir:
                    yield from self.walk_all(self.old, old_child, before[1], Change.DELETED,
                                             (old_child, new_child) if renamed_here else None)
                continue
            old_entry, new_entry = before[0], after[0]
            if old_entry is new_entry and not old_entry.is_dir:
                continue  # the same entry of the same tree
            if old_entry.kind != new_entry.kind:
                yield DiffEntry(new_child, Change.TYPE_CHANGED, old_entry.replace(origin=None),
                                new_entry.replace(origin=None), moved_from)
                if old_entry.is_dir:
                    yield from self.walk_all(self.old, old_child, before[1], Change.DELETED,
                                             (old_child, new_child) if renamed_here else None)
                if new_entry.is_dir:
                    yield from self.walk_all(self.new, new_child, after[1], Change.ADDED)
                continue
            if old_entry.is_dir:
                if not _same_attrs(old_entry, new_entry):
                    yield DiffEntry(new_child, Change.MODIFIED, old_entry.replace(origin=None),
                                    new_entry.replace(origin=None), moved_from)
                yield from self.walk(old_child, new_child, before[1], after[1])
            elif not _same_content(old_entry, new_entry):
                yield DiffEntry(new_child, Change.MODIFIED, old_entry.replace(origin=None),
                                new_entry.replace(origin=None), moved_from)

    def _renamed(self, new_child: str, after: tuple[Entry, ObjectId | None],
                 replaced: tuple[Entry, ObjectId | None] | None) -> Iterator[DiffEntry]:
        src = self.renames[new_child]
        source = self.old.resolve(self.load, src)
        assert source is not None
        if replaced is not None:
            # The rename landed on a path the old side had: that content is gone.
            yield DiffEntry(new_child, Change.DELETED, replaced[0].replace(origin=None), None)
            if replaced[0].is_dir:
                yield from self.walk_all(self.old, new_child, replaced[1], Change.DELETED)
        yield DiffEntry(new_child, Change.RENAMED, source.entry.replace(origin=None),
                        after[0].replace(origin=None), src)
        if source.is_dir and after[0].is_dir:
            # Inside a moved directory, compare the old side's directory at the source
            # with the new side's at the destination.
            yield from self.walk(src, new_child, source.beneath, after[1])


def diff(load: TreeLoader, old: Side, new: Side) -> Iterator[DiffEntry]:
    """Stream the differences that turn `old` into `new`."""
    walker = _Walker(load, old, new)
    old_root = overlay.resolve(old.view, load, old.root, paths.ROOT)
    new_root = overlay.resolve(new.view, load, new.root, paths.ROOT)
    if not _same_attrs(old_root.entry, new_root.entry):
        yield DiffEntry(paths.ROOT, Change.MODIFIED, old_root.entry, new_root.entry)
    yield from walker.walk(paths.ROOT, paths.ROOT, old_root.beneath, new_root.beneath)
