"""Reading a workspace: an overlay of changed paths merged over a base tree.

Pure logic: every function takes the overlay as an `OverlayView` (the newest overlay
state of each path at one version) and trees through a `load(tree_id)` callable, so
it runs the same over LMDB, over a commit's pending writes, or over a dict in a test.

Rules of the merge, for a path p at some version:
- An overlay entry at p wins over the base. A whiteout means p does not exist.
- A directory in the overlay shows, beneath its own overlay children:
  its `tree` if it names one (a renamed or restored directory), nothing if it is
  `opaque` (created empty), and otherwise the base directory at the same place
  (a base directory whose attributes changed).
- Without an overlay entry, p is whatever the directory beneath its parent holds.
- A name of a hard-linked file (an entry with `link`) shows the overlay's link
  record of that id when there is one (`citcfs.links`), else its own copy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import NamedTuple, Protocol

from citcfs import paths
from citcfs.entries import Entry, EntryKind, Tree
from citcfs.links import LINKS_PARENT
from citcfs.errors import NotADirectory, PathNotFound
from citcfs.objects import ObjectId, ObjectKind, StoredObject, object_id

TreeLoader = Callable[[ObjectId], Tree]
TreeStorer = Callable[[Tree], ObjectId]

ROOT_ENTRY_NAME = ""
"""The root's own overlay entry (its attributes) sits at parent "" and name ""."""


class OverlayView(Protocol):
    """The overlay of one workspace at one version."""

    def entry(self, parent: str, name: str) -> Entry | None:
        """The path's overlay entry, or None when the overlay does not touch it."""
        ...

    def children(self, parent: str) -> Iterable[tuple[str, Entry]]:
        """Overlay entries (whiteouts included) of the direct children of `parent`,
        in name-byte order (the order of the index's keys)."""
        ...

    def subtree(self, path: str) -> Iterable[tuple[str, Entry]]:
        """(path, entry) of every overlay entry strictly below `path`."""
        ...


class Node(NamedTuple):
    """A resolved path.

    `entry` is what the path is. `overlay` is its overlay entry, if any, and
    `underlying` what the base (the directory beneath its parent) has there.
    For a directory, `beneath` is the tree shown under its overlay children.

    A named tuple rather than a frozen dataclass: resolving a path makes one per
    component, and a tuple is built several times faster.
    """

    path: str
    entry: Entry
    overlay: Entry | None
    underlying: Entry | None
    beneath: ObjectId | None

    @property
    def is_dir(self) -> bool:
        return self.entry.kind == _DIR


_DIR = EntryKind.DIR
_WHITEOUT = EntryKind.WHITEOUT


def _base_tree(underlying: Entry | None) -> ObjectId | None:
    """The tree of a base entry, if it is a directory."""
    return underlying.tree if underlying is not None and underlying.kind == _DIR else None


def _beneath(overlay: Entry | None, underlying: Entry | None) -> ObjectId | None:
    if overlay is None:
        return _base_tree(underlying)
    if overlay.kind != _DIR:
        return None
    if overlay.tree is not None:
        return overlay.tree
    if overlay.opaque:
        return None
    return _base_tree(underlying)


def shown(view: OverlayView, entry: Entry) -> Entry:
    """What a name shows: for a name of a hard-linked file, the link record of its
    id (the file's one current state, keeping the name's own `origin`), else the
    entry itself."""
    link = entry.link
    if link is None:
        return entry
    record = view.entry(LINKS_PARENT, link.hex())
    if record is None or record.kind == _WHITEOUT:
        return entry
    return record if record.origin == entry.origin else record.replace(origin=entry.origin)


def shown_items(view: OverlayView, items: list[tuple[str, Entry]]) -> list[tuple[str, Entry]]:
    """`items` with every name of a hard-linked file shown through its record."""
    if not any(entry.link is not None for _, entry in items):
        return items
    return [(name, shown(view, entry)) for name, entry in items]


@functools.lru_cache(maxsize=1024)
def root_entry(root: ObjectId) -> Entry:
    """The root directory as the base shows it (a tree carries no entry for itself)."""
    return Entry.directory(mode=0o755, tree=root)


def resolve(view: OverlayView, load: TreeLoader, root: ObjectId, path: str) -> Node:
    """Resolve a normalized path; PathNotFound or NotADirectory if it cannot be."""
    underlying = root_entry(root)
    if path == paths.ROOT:
        overlay = view.entry(paths.ROOT, ROOT_ENTRY_NAME)
        return Node(paths.ROOT, overlay or underlying, overlay, underlying,
                    _beneath(overlay, underlying))
    # The root's own overlay entry only ever changes its attributes (the root cannot
    # be removed, renamed or replaced), so the tree beneath it is always `root` and
    # resolving a path below it need not read that entry.
    node = Node(paths.ROOT, underlying, None, underlying, root)
    for name in paths.components(path):
        node = child(view, load, node, name)
    return node


def try_resolve(view: OverlayView, load: TreeLoader, root: ObjectId, path: str) -> Node | None:
    """`resolve`, or None where the path does not exist (or crosses a non-directory)."""
    try:
        return resolve(view, load, root, path)
    except (PathNotFound, NotADirectory):
        return None


def child(view: OverlayView, load: TreeLoader, parent: Node, name: str) -> Node:
    """The node of `name` inside the resolved directory `parent`: one step of resolve."""
    parent_path, parent_entry, _, _, beneath = parent
    if parent_entry.kind != _DIR:
        raise NotADirectory(f"{parent_path!r} is not a directory")
    underlying = load(beneath).get(name) if beneath is not None else None
    overlay = view.entry(parent_path, name)
    current = f"{parent_path}/{name}" if parent_path else name
    if overlay is None:
        if underlying is None:
            raise PathNotFound(f"{current!r} does not exist")
        entry = underlying if underlying.link is None else shown(view, underlying)
        return Node(current, entry, None, underlying, _base_tree(underlying))
    if overlay.kind == _WHITEOUT:
        raise PathNotFound(f"{current!r} does not exist")
    entry = overlay if overlay.link is None else shown(view, overlay)
    return Node(current, entry, overlay, underlying, _beneath(overlay, underlying))


def list_dir(view: OverlayView, load: TreeLoader, node: Node) -> list[tuple[str, Entry]]:
    """The merged listing of a resolved directory, sorted by name bytes."""
    if not node.is_dir:
        raise NotADirectory(f"{node.path!r} is not a directory")
    changed = list(view.children(node.path))
    if node.beneath is None:  # a directory made in the overlay: nothing to merge
        return shown_items(view, [item for item in changed if item[1].kind != _WHITEOUT])
    tree = load(node.beneath)
    if not changed:  # an untouched base directory: the tree is the listing
        listing = list(tree.entries)
        return shown_items(view, listing) if tree.has_links else listing
    items = dict(tree.entries)
    for name, entry in changed:
        if entry.kind == _WHITEOUT:
            items.pop(name, None)
        else:
            items[name] = entry
    return shown_items(view, sorted(items.items(), key=lambda item: paths.to_bytes(item[0])))


def is_empty_dir(view: OverlayView, load: TreeLoader, node: Node) -> bool:
    return not list_dir(view, load, node)


def freeze(view: OverlayView, load: TreeLoader, store: TreeStorer, node: Node) -> ObjectId:
    """The id of a tree holding the resolved directory `node` as it is.

    Only directories on the way to an overlay change get new tree objects; every
    other subtree keeps its id, so the cost follows the size of the overlay.
    """
    if not node.is_dir:
        raise NotADirectory(f"{node.path!r} is not a directory")
    dirty_children: dict[str, set[str]] = {}
    for path, _ in view.subtree(node.path):
        parent, name = paths.split(path)
        while True:
            dirty_children.setdefault(parent, set())
            if parent == node.path:
                break
            grand, leaf = paths.split(parent)
            if leaf in dirty_children.setdefault(grand, set()):
                break
            dirty_children[grand].add(leaf)
            parent = grand

    def freeze_dir(dir_path: str, beneath: ObjectId | None) -> ObjectId:
        if dir_path not in dirty_children:
            return beneath if beneath is not None else store(Tree())
        base_items = dict(load(beneath).entries) if beneath is not None else {}
        items = dict(base_items)
        handled: set[str] = set()
        for name, overlay in view.children(dir_path):
            handled.add(name)
            if overlay.kind == _WHITEOUT:
                items.pop(name, None)
            elif overlay.is_dir:
                child_beneath = _beneath(overlay, base_items.get(name))
                items[name] = overlay.replace(
                    tree=freeze_dir(paths.join(dir_path, name), child_beneath),
                    opaque=False, origin=None)
            else:
                items[name] = shown(view, overlay).replace(origin=None)
        for name, entry in list(items.items()):
            if entry.link is not None:  # a copy in the base: the record may be newer
                items[name] = shown(view, entry).replace(origin=None)
        for name in dirty_children[dir_path] - handled:
            dirty = items.get(name)
            if dirty is not None and dirty.is_dir:
                items[name] = dirty.replace(tree=freeze_dir(paths.join(dir_path, name), dirty.tree))
        return store(Tree.build(items.items()))

    if node.path not in dirty_children:
        return node.beneath if node.beneath is not None else store(Tree())
    return freeze_dir(node.path, node.beneath)


class TreeBatch:
    """Tree objects made while planning, held in memory for the caller to store.

    `store` is a TreeStorer that only computes the id and keeps the tree, so the
    logic that freezes directories does no I/O. `load` finds a tree of the batch
    before asking the real loader: a later operation of the same commit may read
    inside a directory an earlier one froze. `objects()` gives them, children
    before parents, for one `ObjectStore.put_many` before the record that names
    them (objects first, then the log).
    """

    def __init__(self, load: TreeLoader) -> None:
        self._stored_load = load
        self._made: dict[ObjectId, tuple[Tree, bytes]] = {}

    def store(self, tree: Tree) -> ObjectId:
        data = tree.encode()
        oid = object_id(ObjectKind.TREE, data)
        self._made.setdefault(oid, (tree, data))
        return oid

    def load(self, oid: ObjectId) -> Tree:
        made = self._made.get(oid)
        return made[0] if made is not None else self._stored_load(oid)

    def objects(self) -> tuple[StoredObject, ...]:
        return tuple((ObjectKind.TREE, data, oid) for oid, (_, data) in self._made.items())



class MemoryOverlay:
    """An OverlayView over a dict of path -> entry, held in memory.

    Used to read a workspace version without holding a database transaction open
    (diffs stream for as long as their reader wants), and in tests.
    """

    def __init__(self, entries: dict[str, Entry]) -> None:
        self._entries = dict(entries)
        self._by_parent: dict[str, dict[str, Entry]] = {}
        for path, entry in self._entries.items():
            parent, name = ((paths.ROOT, ROOT_ENTRY_NAME) if path == paths.ROOT
                            else paths.split(path))
            self._by_parent.setdefault(parent, {})[name] = entry

    def entry(self, parent: str, name: str) -> Entry | None:
        return self._by_parent.get(parent, {}).get(name)

    def children(self, parent: str) -> Iterable[tuple[str, Entry]]:
        return sorted(((name, entry) for name, entry in self._by_parent.get(parent, {}).items()
                       if parent != paths.ROOT or name != ROOT_ENTRY_NAME),
                      key=lambda item: paths.to_bytes(item[0]))

    def subtree(self, path: str) -> Iterable[tuple[str, Entry]]:
        return [(p, e) for p, e in self._entries.items()
                if p != path and p != paths.ROOT and paths.is_within(p, path)]
