"""Importing into the object store: a local directory (see `citcfs.local_tree`), or
a set of (path -> entry) sent by a client, whose trees are built here; and checking
that a root about to become a base revision has everything below it stored."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from citcfs import paths
from citcfs.entries import Entry, EntryKind, Tree
from citcfs.errors import InvalidArgument, NotFound
from citcfs.local_tree import ImportStats, Progress, store_directory
from citcfs.objects import ObjectId

from .backend import ObjectStore
from .overlay import TreeLoader, TreeStorer

__all__ = ["ImportStats", "Progress", "build_trees", "check_reachable", "import_directory"]


def import_directory(store: ObjectStore, directory: str,
                     progress: Progress | None = None) -> ImportStats:
    """Store the content of `directory` in `store`; return its root tree id and counts."""
    return store_directory(store.put_many, directory, progress)


def build_trees(entries: Mapping[str, Entry], store: TreeStorer) -> ObjectId:
    """Store the trees of an imported set of (path -> entry); return the root id.

    Directories are implied by the paths beneath them; a directory entry gives
    their attributes, or (with no paths beneath) makes an empty directory, or
    (with `tree` set) reuses an uploaded tree.
    """
    children: dict[str, set[str]] = {paths.ROOT: set()}
    for path, entry in entries.items():
        if entry.kind == EntryKind.WHITEOUT:
            raise InvalidArgument(f"an import has no whiteouts ({path!r})")
        if entry.is_dir and entry.tree is None:
            children.setdefault(path, set())
        child = path
        while child != paths.ROOT:
            parent, name = paths.split(child)
            siblings = children.setdefault(parent, set())
            if name in siblings:
                break  # its ancestors are registered already
            siblings.add(name)
            child = parent
    tree_ids: dict[str, ObjectId] = {}
    for directory in sorted(children, key=lambda p: -len(paths.components(p))):
        items = []
        for name in children[directory]:
            path = paths.join(directory, name)
            given = entries.get(path)
            if path in children:
                if given is not None and (not given.is_dir or given.tree is not None):
                    raise InvalidArgument(f"{path!r} is imported as a "
                                          f"{given.kind.name.lower()} and has paths beneath it")
                given = (given or Entry.directory()).replace(tree=tree_ids[path])
            assert given is not None
            items.append((name, given.replace(opaque=False, origin=None)))
        tree = Tree.build(items)
        tree.check()
        tree_ids[directory] = store(tree)
    return tree_ids[paths.ROOT]


def check_reachable(root: ObjectId, load: TreeLoader,
                    has: Callable[[list[ObjectId]], list[bool]]) -> None:
    """Every tree under `root` is present and well formed, every chunk present."""
    seen: set[ObjectId] = set()
    stack = [root]
    chunks: list[ObjectId] = []
    while stack:
        tree_id = stack.pop()
        if tree_id in seen:
            continue
        seen.add(tree_id)
        try:
            tree = load(tree_id)
        except NotFound:
            raise NotFound(f"tree {bytes(tree_id).hex()} is not uploaded") from None
        tree.check()
        for _, entry in tree:
            if entry.is_dir and entry.tree is not None:
                stack.append(entry.tree)
            elif entry.is_file:
                chunks.extend(entry.chunks)
        if len(chunks) >= 4096 or not stack:
            present = has(chunks)
            missing = [oid for oid, ok in zip(chunks, present) if not ok]
            if missing:
                raise NotFound(f"{len(missing)} chunk(s) are not uploaded, first "
                               f"{bytes(missing[0]).hex()}")
            chunks.clear()
