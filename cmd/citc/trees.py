"""Walking frozen trees through the API: every path below a root tree id.

Tree objects are read breadth-first in batches (one ReadObjects call per level and
batch), and each object is verified against its id by the client as it arrives.
"""

from __future__ import annotations

from collections.abc import Iterator

from citcfs import errors, paths
from citcfs.client.rpc import Client
from citcfs.entries import Entry, Tree
from citcfs.objects import ObjectId

BATCH = 256


def walk(client: Client, root: ObjectId, prefix: str = "") -> Iterator[tuple[str, Entry]]:
    """(path, entry) of everything below `root`, each directory before its contents."""
    level: list[tuple[str, ObjectId]] = [(prefix, root)]
    while level:
        next_level: list[tuple[str, ObjectId]] = []
        for start in range(0, len(level), BATCH):
            batch = level[start:start + BATCH]
            ids = list(dict.fromkeys(oid for _, oid in batch))
            trees = {oid: Tree.decode(data) for oid, _, data in client.read_objects(ids)}
            for path, oid in batch:
                for name, entry in trees[oid]:
                    child = f"{path}/{name}" if path else name
                    yield child, entry
                    if entry.is_dir and entry.tree is not None:
                        next_level.append((child, entry.tree))
        level = next_level


def files_below(client: Client, directory: Entry) -> list[tuple[str, Entry]]:
    """The files and symlinks below a directory entry that names its tree."""
    if directory.tree is None:
        return []
    return [(path, entry) for path, entry in walk(client, directory.tree) if not entry.is_dir]


def lookup_path(client: Client, root: ObjectId, path: str, where: str) -> Entry:
    """The entry at `path` below tree `root` (the root's own entry for ""), one tree
    object read per component; `where` names the state in errors."""
    entry = Entry.directory(tree=root)
    for name in paths.components(paths.normalize(path)):
        if not entry.is_dir or entry.tree is None:
            raise errors.NotADirectory(f"{path}: not a directory in {where}")
        (_, _, data), = client.read_objects([entry.tree])
        found = Tree.decode(data).get(name)
        if found is None:
            raise errors.PathNotFound(f"{path} does not exist in {where}")
        entry = found
    return entry
