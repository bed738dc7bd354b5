"""storage.importer through Database.import_directory: what a base keeps of a directory."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from citcfs.entries import Entry, EntryKind
from citcfs.errors import BaseNotFound, InvalidArgument
from citcfs.objects import CHUNK_SIZE, INLINE_MAX, ObjectKind, object_id
from citcfs.storage import Database
from citcfs.storage.importer import import_directory

MTIME = 1_234_567_890_123_456_789


def test_import_keeps_kinds_modes_mtimes(db: Database, make_tree: Callable[..., Path]) -> None:
    root = make_tree({"tool.sh": b"#!/bin/sh\n", "data.txt": b"data", "sub/inner": b"in",
                      "sub/empty": None, "ln": ("symlink", "sub/inner"),
                      "dangling": ("symlink", "nowhere")})
    os.chmod(root / "tool.sh", 0o755)
    os.chmod(root / "data.txt", 0o640)
    os.utime(root / "data.txt", ns=(MTIME, MTIME))
    os.utime(root / "sub" / "empty", ns=(5, MTIME + 1))
    os.utime(root / "ln", ns=(7, MTIME + 2), follow_symlinks=False)
    rev, stats = db.import_directory("main", str(root), "first import")
    assert (stats.files, stats.directories, stats.symlinks, stats.skipped) == (3, 2, 2, 0)
    assert rev.rev == 1 and rev.message == "first import" and rev.root == stats.root
    db.create_workspace("ws", "main")
    names = [n for n, _ in db.listdir("ws", "")]
    assert names == ["dangling", "data.txt", "ln", "sub", "tool.sh"]

    tool = db.lookup("ws", "tool.sh")
    assert tool.kind == EntryKind.FILE and tool.mode == 0o755 and tool.mode & stat.S_IXUSR
    data = db.lookup("ws", "data.txt")
    assert data.mode == 0o640 and data.mtime_ns == MTIME and not data.mode & 0o111
    assert db.read_file(data) == b"data" and data.size == 4
    empty = db.lookup("ws", "sub/empty")
    assert empty.is_dir and empty.mtime_ns == MTIME + 1 and db.listdir("ws", "sub/empty") == []
    ln = db.lookup("ws", "ln")
    assert ln.kind == EntryKind.SYMLINK and ln.target == "sub/inner" and ln.mtime_ns == MTIME + 2
    assert db.lookup("ws", "dangling").target == "nowhere"
    st = os.stat(root / "data.txt")
    assert (data.uid, data.gid) == (st.st_uid, st.st_gid)


def test_small_files_inline_large_files_chunked(db: Database, make_tree: Callable[..., Path]) -> None:
    big = os.urandom(CHUNK_SIZE) + os.urandom(CHUNK_SIZE) + b"tail"
    root = make_tree({"small": b"s" * INLINE_MAX, "medium": b"m" * (INLINE_MAX + 1),
                      "big": big, "empty": b"", "exact": b"e" * CHUNK_SIZE})
    rev, stats = db.import_directory("main", str(root))
    assert stats.bytes == INLINE_MAX + INLINE_MAX + 1 + len(big) + CHUNK_SIZE
    db.create_workspace("ws", "main")
    small = db.lookup("ws", "small")
    assert small.inline == b"s" * INLINE_MAX and small.chunks == ()
    assert db.lookup("ws", "empty").inline == b""
    medium = db.lookup("ws", "medium")
    assert medium.inline is None and len(medium.chunks) == 1
    entry = db.lookup("ws", "big")
    assert entry.inline is None and entry.size == len(big) and len(entry.chunks) == 3
    assert entry.chunks[0] == object_id(ObjectKind.CHUNK, big[:CHUNK_SIZE])
    assert [len(db.objects.get(oid, ObjectKind.CHUNK)) for oid in entry.chunks] \
        == [CHUNK_SIZE, CHUNK_SIZE, 4]
    assert db.read_file(entry) == big
    assert len(db.lookup("ws", "exact").chunks) == 1
    entry.check()


def test_equal_content_gives_equal_tree_ids(db: Database, make_tree: Callable[..., Path]) -> None:
    spec = {"a/x": b"1", "a/y/z": b"2", "a/ln": ("symlink", "x"), "a/e": None}
    one = make_tree({f"one/{k}": v for k, v in spec.items()} |
                    {f"two/{k}": v for k, v in spec.items()}, "tree", mtime_ns=MTIME)
    rev, _ = db.import_directory("main", str(one))
    db.create_workspace("ws", "main")
    a1 = db.lookup("ws", "one/a")
    a2 = db.lookup("ws", "two/a")
    assert a1.tree == a2.tree
    assert db.lookup("ws", "one").tree == db.lookup("ws", "two").tree
    # Importing the same directory again gives the same root, so no new revision;
    # a change gives another.
    rev2, _ = db.import_directory("main", str(one))
    assert rev2 == rev and [r.rev for r in db.base_history("main")] == [1]
    (one / "two" / "a" / "x").write_bytes(b"changed")
    os.utime(one / "two" / "a" / "x", ns=(MTIME, MTIME))
    rev3, _ = db.import_directory("main", str(one))
    assert rev3.root != rev.root
    db.create_workspace("ws3", "main")
    assert db.lookup("ws3", "one/a").tree == a1.tree  # the untouched subtree keeps its id
    assert db.lookup("ws3", "two/a").tree != a1.tree
    assert [r.rev for r in db.base_history("main")] == [1, 2]
    assert [(b.name, b.latest.rev) for b in db.list_bases()] == [("main", 2)]


def test_two_bases_and_revisions(db: Database, make_tree: Callable[..., Path]) -> None:
    db.import_directory("b1", str(make_tree({"f": b"1"}, "one")))
    db.import_directory("b2", str(make_tree({"g": b"2"}, "two")))
    db.import_directory("b1", str(make_tree({"h": b"3"}, "three")))
    assert [(b.name, b.latest.rev) for b in db.list_bases()] == [("b1", 2), ("b2", 1)]
    db.create_workspace("old", "b1", 1)
    db.create_workspace("new", "b1")
    assert [n for n, _ in db.listdir("old", "")] == ["f"]
    assert [n for n, _ in db.listdir("new", "")] == ["h"]
    with pytest.raises(BaseNotFound):
        db.create_workspace("none", "b1", 3)


def test_unsupported_files_are_skipped(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "special"
    root.mkdir()
    (root / "f").write_bytes(b"f")
    os.mkfifo(root / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(root / "sock"))
        rev, stats = db.import_directory("main", str(root))
    finally:
        sock.close()
    assert stats.files == 1 and stats.skipped == 2
    db.create_workspace("ws", "main")
    assert [n for n, _ in db.listdir("ws", "")] == ["f"]


def test_import_of_a_non_directory(db: Database, tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    for target in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(InvalidArgument):
            db.import_directory("main", str(target))
    assert db.list_bases() == []


@pytest.mark.slow
def test_import_progress_and_store(db: Database, make_tree: Callable[..., Path]) -> None:
    root = make_tree({f"d/f{i}": b"%d" % i for i in range(1200)})
    calls: list[tuple[int, int]] = []
    stats = import_directory(db.objects, str(root), lambda f, b: calls.append((f, b)))
    assert calls[0][0] == 1000 and calls[-1] == (1200, stats.bytes)
    tree = db.load_tree(stats.root)
    tree.check()
    assert len(db.load_tree(tree.get("d").tree)) == 1200
    assert Entry.file(b"0").inline == db.load_tree(tree.get("d").tree).get("f0").inline


def test_names_that_are_not_utf8(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "raw"
    root.mkdir()
    raw_name = b"caf\xe9"
    with open(os.path.join(os.fsencode(root), raw_name), "wb") as handle:
        handle.write(b"latin-1")
    os.symlink(raw_name, os.path.join(os.fsencode(root), b"ln\xff"))
    db.import_directory("main", str(root))
    db.create_workspace("ws", "main")
    name = os.fsdecode(raw_name)
    assert [n for n, _ in db.listdir("ws", "")] == [name, os.fsdecode(b"ln\xff")]
    assert db.read_file(db.lookup("ws", name)) == b"latin-1"
    assert db.lookup("ws", os.fsdecode(b"ln\xff")).target == name
