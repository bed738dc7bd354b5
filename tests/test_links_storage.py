"""Hard links in the storage engine: the link record, what link, writes, unlink and
rename write, and how records go through listings, diffs, Changes, sync, restore,
fork, retention, GC, submit and rebuild (fsck is the oracle at the end)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from citcfs.entries import LINK_ID_SIZE, Entry
from citcfs.errors import AlreadyExists, InvalidArgument, IsADirectory, PathNotFound
from citcfs.links import is_record_path, link_of_record, record_path
from citcfs.storage import (Database, Link, MakeDir, Remove, Rename, SetAttr, WorkspaceRef,
                            WriteFile)
from citcfs.storage.diff import Change

L1 = bytes(range(LINK_ID_SIZE))
L2 = bytes(range(1, LINK_ID_SIZE + 1))


def names_of(db: Database, ws: str, *paths: str) -> set[tuple[bytes | None, int, bytes | None]]:
    """(link, nlink, content) each path shows: one element when they are one file."""
    return {(e.link, e.nlink, e.inline) for e in (db.lookup(ws, p) for p in paths)}


def check(db: Database) -> None:
    report = db.fsck(rebuild=True)
    assert not report.corrupt and not report.missing


def test_entry_encoding_of_links() -> None:
    plain = Entry.file(b"x")
    linked = plain.replace(link=L1, nlink=3)
    assert Entry.decode(linked.encode()) == linked
    assert linked.encode().startswith(plain.encode()[:1])
    assert Entry.decode(plain.encode()).link is None  # entries without links keep their bytes
    with pytest.raises(InvalidArgument):
        Entry.directory().replace(link=L1, nlink=2).check()
    with pytest.raises(InvalidArgument):
        plain.replace(link=b"short", nlink=2).check()
    with pytest.raises(InvalidArgument):
        plain.replace(nlink=2).check()


def test_link_write_unlink_and_rename(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("a", Entry.file(b"one"))])
    db.commit("ws", [Link("a", "b", L1)])
    assert names_of(db, "ws", "a", "b") == {(L1, 2, b"one")}
    db.commit("ws", [WriteFile("b", Entry.file(b"two", mode=0o600))])  # through one name
    assert names_of(db, "ws", "a", "b") == {(L1, 2, b"two")}
    assert db.lookup("ws", "a").mode == 0o600
    db.commit("ws", [SetAttr("a", mode=0o640)])
    assert {e.mode for e in (db.lookup("ws", "a"), db.lookup("ws", "b"))} == {0o640}
    # a second link keeps the file's id, whatever id the caller offers
    db.commit("ws", [MakeDir("d"), Link("b", "d/c", L2)])
    assert names_of(db, "ws", "a", "b", "d/c") == {(L1, 3, b"two")}
    # renaming a directory keeps the names inside it linked
    db.commit("ws", [Rename("d", "e")])
    db.commit("ws", [WriteFile("a", Entry.file(b"three"))])
    assert names_of(db, "ws", "a", "b", "e/c") == {(L1, 3, b"three")}
    # rename onto another name of the same file changes nothing
    db.commit("ws", [Rename("a", "e/c")])
    assert names_of(db, "ws", "a", "b", "e/c") == {(L1, 3, b"three")}
    db.commit("ws", [Remove("b")])
    assert names_of(db, "ws", "a", "e/c") == {(L1, 2, b"three")}
    db.commit("ws", [WriteFile("n", Entry.file(b"new")), Rename("n", "e/c")])  # replaces a name
    assert names_of(db, "ws", "a") == {(L1, 1, b"three")}
    assert db.lookup("ws", "e/c").link is None
    db.commit("ws", [Remove("a")])
    listing = dict(db.listdir("ws", ""))
    assert "a" not in listing and "." not in listing
    entries = {path for path, _ in _overlay(db, "ws")}
    assert not any(is_record_path(path) for path in entries)  # the last name took the record
    check(db)


def _overlay(db: Database, ws: str) -> list[tuple[str, Entry]]:
    with db.kv.read() as txn:
        _, view = db._at(txn, ws, None)
        return list(view.subtree(""))


def test_link_errors_change_nothing(ws_db: Database) -> None:
    db = ws_db
    version = db.workspace("ws").version
    with pytest.raises(IsADirectory):
        db.commit("ws", [Link("src", "src2", L1)])
    with pytest.raises(AlreadyExists):
        db.commit("ws", [Link("README", "docs/guide.md", L1)])
    with pytest.raises(PathNotFound):
        db.commit("ws", [Link("missing", "x", L1)])
    with pytest.raises(PathNotFound):
        db.commit("ws", [Link("README", "nowhere/x", L1)])
    assert db.workspace("ws").version == version


def test_records_in_changes_diff_and_listings(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Link("README", "src/readme", L1)])  # a base file gets a second name
    since = db.workspace("ws").version
    db.commit("ws", [WriteFile("README", Entry.file(b"changed\n"))])
    changed = db.changes("ws", since).paths
    assert record_path(L1) in changed and "README" in changed
    assert link_of_record(record_path(L1)) == L1
    assert db.lookup("ws", "src/readme").inline == b"changed\n"
    assert dict(db.listdir("ws", "src"))["readme"].inline == b"changed\n"
    found = {d.path: d.change for d in db.diff(WorkspaceRef("ws", version=since),
                                                WorkspaceRef("ws"))}
    assert found == {"README": Change.MODIFIED, "src/readme": Change.MODIFIED}
    found = {d.path: d.change for d in db.diff(WorkspaceRef("ws", version=0),
                                                WorkspaceRef("ws"))}
    assert found == {"README": Change.MODIFIED, "src/readme": Change.ADDED}
    check(db)


def test_fork_sync_restore_gc_and_submit(ws_db: Database,
                                         make_tree: Callable[..., Path]) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("a", Entry.file(b"v1")), Link("a", "src/b", L1)])
    linked_at = db.workspace("ws").version
    db.fork("ws", "f")
    db.commit("f", [WriteFile("src/b", Entry.file(b"fork"))])
    assert names_of(db, "f", "a", "src/b") == {(L1, 2, b"fork")}
    assert names_of(db, "ws", "a", "src/b") == {(L1, 2, b"v1")}
    # sync onto a new base revision: the record is no path and stays as it is
    new_base = make_tree({"README": b"hello again\n", "src/main.py": b"x\n"}, "base2")
    db.import_directory("main", str(new_base))
    db.sync("ws")
    assert names_of(db, "ws", "a", "src/b") == {(L1, 2, b"v1")}
    assert "." not in dict(db.listdir("ws", ""))
    db.commit("ws", [WriteFile("a", Entry.file(b"v2"))])
    db.restore("ws", linked_at)
    assert names_of(db, "ws", "a", "src/b") == {(L1, 2, b"v1")}
    db.set_retention("ws", 1)
    db.gc()
    assert db.read_file(db.lookup("ws", "src/b")) == b"v1"
    db.submit("ws")
    assert {(e.link, e.nlink) for e in (db.lookup("ws", "a"), db.lookup("ws", "src/b"))} \
        == {(L1, 2)}
    db.create_workspace("next", "main")
    db.commit("next", [WriteFile("src/b", Entry.file(b"v3"))])  # names from the base
    assert names_of(db, "next", "a", "src/b") == {(L1, 2, b"v3")}
    check(db)


def test_a_version_counts_paths_not_records(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("a", Entry.file(b"1")), Link("a", "b", L1)])
    db.commit("ws", [WriteFile("b", Entry.file(b"2"))])  # writes b and the record
    assert [v.path_count for v in db.versions("ws")][-2:] == [2, 1]


def test_revert_of_a_name_reverts_the_file(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("a", Entry.file(b"v1")), Link("a", "b", L1)])
    v1 = db.workspace("ws").version
    db.commit("ws", [WriteFile("a", Entry.file(b"v2"))])
    db.revert("ws", ["b"], v1)  # one file: both names show it as it was
    assert names_of(db, "ws", "a", "b") == {(L1, 2, b"v1")}
    db.commit("ws", [Remove("b")])
    assert names_of(db, "ws", "a") == {(L1, 1, b"v1")}
    db.revert("ws", ["b"], v1)  # the name comes back, and counts again
    assert names_of(db, "ws", "a", "b") == {(L1, 2, b"v1")}
    db.commit("ws", [Remove("a"), Remove("b")])
    db.revert("ws", ["a"], v1)  # the file is gone from the head: back as a file of its own
    assert names_of(db, "ws", "a") == {(None, 1, b"v1")}
    db.revert("ws", ["a"], 0)  # to a state without it: the name goes
    with pytest.raises(PathNotFound):
        db.lookup("ws", "a")
    check(db)


def test_names_from_the_base_follow_a_write_through_one(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Link("src/lib/util.py", "docs/util-too.py", L1)])
    db.submit("ws")  # the base now holds both names, as copies, and no record
    db.create_workspace("w2", "main")
    db.commit("w2", [WriteFile("docs/util-too.py", Entry.file(b"x = 2\n"))])
    assert names_of(db, "w2", "src/lib/util.py", "docs/util-too.py") == {(L1, 2, b"x = 2\n")}
    found = {d.path for d in db.diff(WorkspaceRef("w2", version=0), WorkspaceRef("w2"))}
    assert found == {"src/lib/util.py", "docs/util-too.py"}  # the untouched directory too
    db.submit("w2")  # the frozen tree takes the new state under both names
    db.create_workspace("w3", "main")
    assert names_of(db, "w3", "src/lib/util.py", "docs/util-too.py") == {(L1, 2, b"x = 2\n")}
    db.commit("w3", [Remove("docs/util-too.py")])
    assert names_of(db, "w3", "src/lib/util.py") == {(L1, 1, b"x = 2\n")}
    check(db)
