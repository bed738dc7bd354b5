"""Shared pytest fixtures. Each part of citcfs keeps its fixtures under its own header."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tree_support import SMALL_BASE, TreeSpec, write_tree

from citcfs.storage import Database

# --- storage (citcfs.storage): databases in tmp_path and small directory trees ---------

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
