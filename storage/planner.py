"""Turning a batch of operations into overlay writes.

Pure logic over an `OverlayView` of the workspace head: `plan_commit` checks every
operation against the state left by the ones before it and returns a `Plan`: the
overlay writes (path -> entry, or None to drop the path's overlay entry) that the log
records, and the tree objects they name that are new (a renamed directory's frozen
tree), which the caller stores before it appends the record. The planner itself
writes nothing. An error in any operation raises before anything is written.

Invariant kept here: every live overlay entry lies under a directory that exists.
So deleting or replacing a directory also drops the overlay entries below it, and a
renamed directory becomes one entry naming a frozen tree, however large it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.errors import (AlreadyExists, CitcError, CorruptData, DirectoryNotEmpty,
                           InvalidArgument, InvalidPath, IsADirectory, NotADirectory,
                           PathNotFound)
from citcfs.objects import ObjectId, StoredObject

from . import hardlinks, overlay
from .ops import Link, MakeDir, MakeNode, Op, Remove, Rename, SetAttr, Symlink, WriteFile
from .overlay import Node, OverlayView, TreeBatch, TreeLoader
from .records import OverlayWrite

_UNSET = object()


@dataclass(frozen=True, slots=True)
class Plan:
    """What a batch of operations comes to: the overlay writes to record, the new
    tree objects they name (store them first), and (index, error) of each operation
    a skipping plan left out."""

    writes: tuple[OverlayWrite, ...]
    objects: tuple[StoredObject, ...] = ()
    skipped: tuple[tuple[int, CitcError], ...] = ()


class PendingView:
    """An OverlayView of a committed view plus the writes of a commit in progress.

    With `undoable`, every `set` is journalled so that `rollback(mark)` can take
    back the writes made since `mark()`: a commit that skips failing operations
    drops whatever an operation wrote before it failed.
    """

    def __init__(self, committed: OverlayView, *, undoable: bool = False) -> None:
        self._committed = committed
        self._by_parent: dict[str, dict[str, Entry | None]] = {}
        self.writes: dict[str, Entry | None] = {}
        # Directories with a pending write somewhere below them: lets `subtree` skip the
        # scan of pending writes for most paths, so a commit is linear in its size.
        self._above_pending: set[str] = set()
        # (path, previous pending state or _UNSET) of each set, when undoable.
        self._journal: list[tuple[str, object]] | None = [] if undoable else None
        self.on_set: Callable[[str], None] | None = None
        """Told each path that `set` or `rollback` changes (the planner's cache)."""

    def mark(self) -> int:
        """A point to roll back to (needs `undoable`)."""
        assert self._journal is not None, "this view was not made undoable"
        return len(self._journal)

    def rollback(self, mark: int) -> None:
        """Undo every `set` made since `mark`, newest first."""
        assert self._journal is not None, "this view was not made undoable"
        while len(self._journal) > mark:
            path, previous = self._journal.pop()
            if self.on_set is not None:
                self.on_set(path)
            parent, name = self._key(path)
            if previous is _UNSET:
                del self._by_parent[parent][name]
                del self.writes[path]
            else:
                self._by_parent[parent][name] = previous  # type: ignore[assignment]
                self.writes[path] = previous  # type: ignore[assignment]
        # `_above_pending` may keep ancestors of undone writes: that only costs
        # `subtree` a scan of the pending writes, which it filters exactly anyway.

    @staticmethod
    def _key(path: str) -> tuple[str, str]:
        return (paths.ROOT, overlay.ROOT_ENTRY_NAME) if path == paths.ROOT else paths.split(path)

    def set(self, path: str, entry: Entry | None) -> None:
        if self.on_set is not None:
            self.on_set(path)
        parent, name = self._key(path)
        if self._journal is not None:
            self._journal.append((path, self.writes.get(path, _UNSET)))
        self._by_parent.setdefault(parent, {})[name] = entry
        self.writes.pop(path, None)
        self.writes[path] = entry
        ancestor = path
        while ancestor:
            ancestor = paths.split(ancestor)[0]
            if ancestor in self._above_pending:
                break
            self._above_pending.add(ancestor)

    def entry(self, parent: str, name: str) -> Entry | None:
        pending = self._by_parent.get(parent)
        if pending is not None and name in pending:
            return pending[name]
        return self._committed.entry(parent, name)

    def children(self, parent: str) -> Iterator[tuple[str, Entry]]:
        pending = self._by_parent.get(parent)
        if not pending:
            yield from self._committed.children(parent)
            return
        merged = {name: entry for name, entry in self._committed.children(parent)
                  if name not in pending}
        merged.update((name, maybe) for name, maybe in pending.items()
                      if maybe is not None and name != overlay.ROOT_ENTRY_NAME)
        yield from sorted(merged.items(), key=lambda item: paths.to_bytes(item[0]))

    def subtree(self, path: str) -> Iterator[tuple[str, Entry]]:
        for child_path, entry in self._committed.subtree(path):
            if child_path not in self.writes:
                yield child_path, entry
        if path not in self._above_pending:
            return
        for child_path, maybe in list(self.writes.items()):
            if maybe is not None and child_path != path and paths.is_within(child_path, path):
                yield child_path, maybe


class Planner:
    """Applies operations one by one to a PendingView of the workspace head."""

    def __init__(self, committed: OverlayView, load: TreeLoader,
                 root: ObjectId, time_ns: int, *, undoable: bool = False) -> None:
        self.view = PendingView(committed, undoable=undoable)
        self.view.on_set = self._changed
        # Parent directories resolved so far: a batch's operations mostly share a
        # few, and resolving one walks and decodes every entry from the root.
        self._dirs: dict[str, Node] = {}
        self.trees = TreeBatch(load)
        self._load = self.trees.load
        self._store = self.trees.store
        self._root = root
        self._now = time_ns
        self.now = time_ns
        self.root = root
        self.load = self._load
        self.resolve_path = self._resolve
        self.parent_dir = self._parent_dir
        self.try_child = self._try_child

    def plan(self, skipped: tuple[tuple[int, CitcError], ...] = ()) -> Plan:
        """The writes made so far and the trees they need."""
        writes = tuple(OverlayWrite(path, entry) for path, entry in self.view.writes.items())
        return Plan(writes, self.trees.objects(), skipped)

    # --- helpers ------------------------------------------------------------------

    def _resolve(self, path: str) -> Node:
        return overlay.resolve(self.view, self._load, self._root, path)

    def _child(self, parent: Node, path: str) -> Node:
        """The node at `path`, whose parent directory `parent` is already resolved."""
        return overlay.child(self.view, self._load, parent, paths.split(path)[1])

    def _try_child(self, parent: Node, path: str) -> Node | None:
        try:
            return self._child(parent, path)
        except PathNotFound:
            return None

    def _parent_dir(self, path: str) -> Node:
        if path == paths.ROOT:
            raise InvalidPath("the workspace root cannot be created, removed or renamed")
        parent, _ = paths.split(path)
        node = self._dirs.get(parent)
        if node is not None:
            return node
        try:
            node = self._resolve(parent)
        except PathNotFound:
            raise PathNotFound(f"parent directory of {path!r} does not exist") from None
        if not node.is_dir:
            raise NotADirectory(f"{parent!r} is not a directory")
        self._dirs[parent] = node
        return node

    def _changed(self, path: str) -> None:
        """`path` gets a new pending state: resolved directories at or below it go."""
        if not self._dirs:
            return
        if path == paths.ROOT:
            self._dirs.clear()
            return
        prefix = path + "/"
        for cached in [d for d in self._dirs if d == path or d.startswith(prefix)]:
            del self._dirs[cached]

    def underlying(self, parent: Node, name: str) -> Entry | None:
        return self._load(parent.beneath).get(name) if parent.beneath is not None else None

    def drop_subtree(self, path: str) -> None:
        for child_path, _ in list(self.view.subtree(path)):
            self.view.set(child_path, None)

    def delete(self, path: str, parent: Node, *, clear_below: bool = True) -> None:
        """Make `path` (and everything below it) not exist. `clear_below=False` when
        `path` is not a directory: nothing lies below it, and the scan is skipped."""
        if clear_below:
            self.drop_subtree(path)
        name = paths.split(path)[1]
        if self.underlying(parent, name) is not None:
            self.view.set(path, Entry.whiteout())
        else:
            self.view.set(path, None)

    def place(self, path: str, entry: Entry, *, clear_below: bool = True) -> None:
        """Put a new entry at `path`, replacing whatever overlay state was below it.

        Pass `clear_below=False` when `path` is known not to be a directory now: by
        the overlay invariant nothing lies below it then, and the scan is skipped
        (it is most of the cost of a small commit).
        """
        if clear_below:
            self.drop_subtree(path)
        self.view.set(path, entry)

    # --- operations -----------------------------------------------------------------

    def apply(self, op: Op) -> None:
        if isinstance(op, WriteFile):
            self._write_file(op)
        elif isinstance(op, MakeDir):
            self._make_dir(op)
        elif isinstance(op, Symlink):
            self._symlink(op)
        elif isinstance(op, Remove):
            self._remove(op)
        elif isinstance(op, Rename):
            self._rename(op)
        elif isinstance(op, SetAttr):
            self._set_attr(op)
        elif isinstance(op, MakeNode):
            self._make_node(op)
        elif isinstance(op, Link):
            hardlinks.link(self, op)
        else:
            raise InvalidArgument(f"unknown operation {type(op).__name__}")

    def _write_file(self, op: WriteFile) -> None:
        path = paths.normalize(op.path)
        if op.entry.kind != EntryKind.FILE:
            raise InvalidArgument("a written entry must be a file")
        op.entry.check()
        existing = self._try_child(self._parent_dir(path), path)
        if existing is not None and existing.is_dir:
            raise IsADirectory(f"{path!r} is a directory")
        entry = op.entry if op.entry.origin is None else op.entry.replace(origin=None)
        entry = hardlinks.written(existing, entry)
        if entry.link is not None and existing is not None:
            hardlinks.set_state(self, path, existing, entry)
            return
        self.place(path, entry, clear_below=False)  # not a directory (checked above)

    def _create_check(self, path: str) -> None:
        if self._try_child(self._parent_dir(path), path) is not None:
            raise AlreadyExists(f"{path!r} already exists")

    def _make_dir(self, op: MakeDir) -> None:
        path = paths.normalize(op.path)
        self._create_check(path)
        entry = Entry.directory(mode=op.mode, uid=op.uid, gid=op.gid,
                                mtime_ns=self._now if op.mtime_ns is None else op.mtime_ns,
                                opaque=True)
        entry.check()
        self.place(path, entry, clear_below=False)  # nothing there (checked above)

    def _symlink(self, op: Symlink) -> None:
        path = paths.normalize(op.path)
        self._create_check(path)
        entry = Entry.symlink(op.target, uid=op.uid, gid=op.gid,
                              mtime_ns=self._now if op.mtime_ns is None else op.mtime_ns)
        entry.check()
        self.place(path, entry, clear_below=False)  # nothing there (checked above)

    def _make_node(self, op: MakeNode) -> None:
        path = paths.normalize(op.path)
        if not op.entry.is_special:
            raise InvalidArgument("a node is a FIFO, a socket or a device")
        op.entry.check()
        self._create_check(path)
        entry = op.entry if op.entry.origin is None else op.entry.replace(origin=None)
        self.place(path, entry, clear_below=False)  # nothing there (checked above)

    def _remove(self, op: Remove) -> None:
        path = paths.normalize(op.path)
        parent = self._parent_dir(path)
        node = self._child(parent, path)
        if op.must_be_dir is True and not node.is_dir:
            raise NotADirectory(f"{path!r} is not a directory")
        if op.must_be_dir is False and node.is_dir:
            raise IsADirectory(f"{path!r} is a directory")
        if node.is_dir and not op.recursive and not overlay.is_empty_dir(self.view, self._load, node):
            raise DirectoryNotEmpty(f"{path!r} is not empty")
        if node.is_dir:
            hardlinks.unlinked_below(self, path)
        else:
            hardlinks.unlinked(self, node)
        self.delete(path, parent, clear_below=node.is_dir)

    def _rename(self, op: Rename) -> None:
        src = paths.normalize(op.src)
        dst = paths.normalize(op.dst)
        src_parent = self._parent_dir(src)
        node = self._child(src_parent, src)
        dst_parent = self._parent_dir(dst)
        if src == dst:
            return
        if node.is_dir and paths.is_within(dst, src):
            raise InvalidArgument(f"cannot move {src!r} inside itself")
        target = self._try_child(dst_parent, dst)
        if (target is not None and not node.is_dir and node.entry.link is not None
                and target.entry.link == node.entry.link):
            return  # two names of one file: rename(2) does nothing
        if target is not None:
            if op.no_replace:
                raise AlreadyExists(f"{dst!r} already exists")
            if node.is_dir and not target.is_dir:
                raise NotADirectory(f"{dst!r} is not a directory")
            if not node.is_dir and target.is_dir:
                raise IsADirectory(f"{dst!r} is a directory")
            if target.is_dir and not overlay.is_empty_dir(self.view, self._load, target):
                raise DirectoryNotEmpty(f"{dst!r} is not empty")
        linked: list[tuple[str, Entry]] = []
        if node.is_dir:
            tree = overlay.freeze(self.view, self._load, self._store, node)
            moved = node.entry.replace(tree=tree, opaque=False, origin=src)
            linked = hardlinks.moved_names(self, src)
        else:
            moved = node.entry.replace(origin=src)
        if target is not None and not target.is_dir:
            hardlinks.unlinked(self, target)
        self.delete(src, src_parent)
        self.place(dst, moved)
        for relative, entry in linked:
            self.view.set(paths.join(dst, relative), entry)

    def _set_attr(self, op: SetAttr) -> None:
        path = paths.normalize(op.path)
        node = self._resolve(path)
        if node.overlay is not None:
            current = node.overlay
        elif node.is_dir:
            # A base directory: keep showing the base beneath it (no tree pinned).
            current = node.entry.replace(tree=None, opaque=False)
        else:
            current = node.entry
        changes: dict[str, object] = {}
        for field in ("mode", "uid", "gid", "mtime_ns", "atime_ns", "ctime_ns", "xattrs"):
            value = getattr(op, field)
            if value is not None:
                changes[field] = value
        if node.entry.link is not None:
            current = node.entry  # the linked file's one state: its record
        updated = current.replace(**changes).compact_times()
        updated.check()
        if updated.link is not None:
            hardlinks.set_state(self, path, node, updated)
            return
        self.view.set(path, updated)


def plan_skipping(ops: Sequence[Op], committed: OverlayView, load: TreeLoader,
                  root: ObjectId, time_ns: int,
                  refused: Mapping[int, CitcError] | None = None) -> Plan:
    """The plan of the operations that pass their checks, applied in order, with
    (index, error) of each one left out in `skipped`.

    Each operation either takes effect whole or not at all: its writes are rolled
    back if it raises. Operations check before they change anything, so this is
    belt and braces. `refused` names operations already known to fail (a missing
    object): they are left out with that error. Damaged storage (CorruptData) is not
    an operation's fault and still fails the whole commit.
    """
    planner = Planner(committed, load, root, time_ns, undoable=True)
    skipped: list[tuple[int, CitcError]] = []
    for index, op in enumerate(ops):
        if refused and index in refused:
            skipped.append((index, refused[index]))
            continue
        mark = planner.view.mark()
        try:
            planner.apply(op)
        except CorruptData:
            raise
        except CitcError as exc:
            planner.view.rollback(mark)
            skipped.append((index, exc))
    return planner.plan(tuple(skipped))


def plan_commit(ops: Sequence[Op], committed: OverlayView, load: TreeLoader,
                root: ObjectId, time_ns: int) -> Plan:
    """The plan that applies `ops` in order, or the first operation's error."""
    if not ops:
        raise InvalidArgument("a commit needs at least one operation")
    planner = Planner(committed, load, root, time_ns)
    for op in ops:
        planner.apply(op)
    return planner.plan()
