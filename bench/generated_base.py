"""A large generated base, built as trees in memory and uploaded through the API.

Writing a million files to disk only to import them would measure tmpfs, not
citcfs; the trees are built directly instead: 10 x 10 x N/1000 directories of 100
small files each, every leaf directory with content of its own, so no two leaf trees
share an id.
"""

from __future__ import annotations

from typing import Any

from citcfs.entries import Entry, Tree
from citcfs.objects import ObjectKind

FILES_PER_DIR = 100


def import_generated_base(client: Any, base: str, files: int) -> str:
    """Import a base of about `files` files; return the path of its deepest last file."""
    leaves_per_mid = max(1, files // (FILES_PER_DIR * 100))
    batch: list[tuple[ObjectKind, bytes]] = []
    size = 0

    def store(tree: Tree) -> Any:
        nonlocal size
        data = tree.encode()
        batch.append((ObjectKind.TREE, data))
        size += len(data)
        if size > (4 << 20):
            flush()
        return tree.id

    def flush() -> None:
        nonlocal size
        if batch:
            client.put_objects(list(batch))
            batch.clear()
            size = 0

    top = []
    deep = ""
    for a in range(10):
        middle = []
        for b in range(10):
            leaves = []
            for c in range(leaves_per_mid):
                names = [(f"f{i:03d}.txt", Entry.file(f"{a}/{b}/{c}/{i}\n".encode(), mtime_ns=1))
                         for i in range(FILES_PER_DIR)]
                leaves.append((f"d{c:03d}", Entry.directory(tree=store(Tree.build(names)))))
                deep = f"d{a}/d{b}/d{c:03d}/f{FILES_PER_DIR - 1:03d}.txt"
            middle.append((f"d{b}", Entry.directory(tree=store(Tree.build(leaves)))))
        top.append((f"d{a}", Entry.directory(tree=store(Tree.build(middle)))))
    root = store(Tree.build(top))
    flush()
    client.import_base(base, root=root, message=f"generated, {files} files")
    return deep
