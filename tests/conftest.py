"""Shared pytest fixtures. Each part of citcfs keeps its fixtures under its own header."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citcfs.storage import Database

# --- storage (citcfs.storage): databases in tmp_path and small directory trees ---------

TreeSpec = dict[str, object]
"""relative path -> bytes (a file), None (a directory) or ("symlink", target)."""


def write_tree(root: Path, spec: TreeSpec, mtime_ns: int | None = None) -> Path:
    """Create the files, directories and symlinks of `spec` under `root`.

    With `mtime_ns`, every created path gets that mtime (deepest first, so that
    creating a child does not move its parent's mtime afterwards).
    """
    root.mkdir(parents=True, exist_ok=True)
    for rel, what in sorted(spec.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if what is None:
            path.mkdir(exist_ok=True)
        elif isinstance(what, tuple):
            os.symlink(what[1], path)
        else:
            path.write_bytes(what)  # type: ignore[arg-type]
    if mtime_ns is not None:
        everything = sorted(root.rglob("*"), key=lambda p: -len(p.parts))
        for path in everything:
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
    return root


@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    return tmp_path / "db"


@pytest.fixture
def db(db_dir: Path) -> Iterator[Database]:
    """An empty database without fsync (durability is not under test)."""
    database = Database.open(str(db_dir), sync=False)
    try:
        yield database
    finally:
        database.close()


SMALL_BASE: TreeSpec = {
    "README": b"hello\n",
    "src/main.py": b"print('hi')\n",
    "src/lib/util.py": b"x = 1\n",
    "src/lib/deep/leaf.txt": b"leaf\n",
    "docs/guide.md": b"# guide\n",
    "empty": None,
    "link": ("symlink", "README"),
}


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[..., Path]:
    """make_tree(spec, name="src", mtime_ns=None): a directory built from a TreeSpec."""
    def make(spec: TreeSpec, name: str = "src", mtime_ns: int | None = None) -> Path:
        return write_tree(tmp_path / name, spec, mtime_ns)
    return make


@pytest.fixture
def ws_db(db: Database, make_tree: Callable[..., Path]) -> Database:
    """`db` with base "main" (revision 1, SMALL_BASE) and workspace "ws" over it."""
    db.import_directory("main", str(make_tree(SMALL_BASE, "base")))
    db.create_workspace("ws", "main")
    return db
