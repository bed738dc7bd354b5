"""Database.changes: the paths changed after a version, the head scan of invalidation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest

from citcfs.entries import Entry
from citcfs.errors import HistoryTruncated, InvalidArgument
from citcfs.storage import Database, MakeDir, Remove, Rename, SetAttr, WriteFile, keys


def test_changes_since_each_version(ws_db: Database) -> None:
    commits = [
        [WriteFile("new", Entry.file(b"1"))],
        [MakeDir("d"), WriteFile("d/f", Entry.file(b"2"))],
        [SetAttr("README", mode=0o600)],
        [Rename("src", "moved")],
        [Remove("docs", recursive=True), WriteFile("new", Entry.file(b"3"))],
    ]
    per_version: list[tuple[str, ...]] = []
    for ops in commits:
        per_version.append(ws_db.commit("ws", ops).paths)
    head = len(commits)
    assert set(per_version[3]) == {"src", "moved"}
    for since in range(head + 1):
        changes = ws_db.changes("ws", since)
        assert (changes.workspace, changes.since, changes.version) == ("ws", since, head)
        expected = {p for paths in per_version[since:] for p in paths}
        assert set(changes.paths) == expected
        assert len(changes.paths) == len(set(changes.paths))
    assert ws_db.changes("ws", head).paths == ()
    assert set(ws_db.changes("ws", 2).paths) == {"README", "src", "moved", "docs", "new"}


def test_changes_of_a_recursive_delete_include_overlay_paths_below(ws_db: Database) -> None:
    ws_db.commit("ws", [WriteFile("src/lib/x", Entry.file(b"x"))])
    ws_db.commit("ws", [Remove("src", recursive=True)])
    assert set(ws_db.changes("ws", 1).paths) == {"src", "src/lib/x"}


def test_changes_are_per_workspace(ws_db: Database) -> None:
    ws_db.create_workspace("other", "main")
    ws_db.commit("other", [WriteFile("theirs", Entry.file(b""))])
    ws_db.commit("ws", [WriteFile("mine", Entry.file(b""))])
    assert ws_db.changes("ws", 0).paths == ("mine",)
    assert ws_db.changes("other", 0).paths == ("theirs",)


def test_since_beyond_head_is_an_error(ws_db: Database) -> None:
    ws_db.commit("ws", [MakeDir("x")])
    for since in (2, 100, -1):
        with pytest.raises(InvalidArgument):
            ws_db.changes("ws", since)


def test_changes_after_rebuild_and_reopen(ws_db: Database, db_dir: Path,
                                          open_db: Callable[..., Database]) -> None:
    for i in range(5):
        ws_db.commit("ws", [WriteFile(f"f{i}", Entry.file(b"%d" % i))])
    before = [ws_db.changes("ws", v) for v in range(6)]
    ws_db.rebuild()
    assert [ws_db.changes("ws", v) for v in range(6)] == before
    ws_db.close()  # closing twice (here and in the fixture) is harmless
    with open_db(db_dir) as again:
        assert [again.changes("ws", v) for v in range(6)] == before


def test_truncated_history_says_so(db_dir: Path, make_tree: Callable[..., Path]) -> None:
    with Database.open(str(db_dir), sync=False) as db:
        db.import_directory("main", str(make_tree({"f": b""})))
        db.create_workspace("ws", "main")
        for i in range(4):
            db.commit("ws", [MakeDir(f"d{i}")])  # versions 1-4 at LSNs 3-6
    # Simulate a log compacted up to LSN 4 (what a retention policy would do).
    env = lmdb.open(str(db_dir / "log"), max_dbs=len(keys.ALL_TABLES) + 2)
    try:
        with env.begin(write=True) as txn:
            log = env.open_db(keys.LOG.encode(), txn=txn)
            meta = env.open_db(keys.META.encode(), txn=txn)
            for lsn in (1, 2, 3, 4):
                assert txn.delete(keys.lsn_key(lsn), db=log)
            txn.put(keys.META_LOG_START, keys.u64(5), db=meta)
    finally:
        env.close()
    with Database.open(str(db_dir), sync=False) as db:
        assert db.verify_log().first_lsn == 5
        assert db.changes("ws", 2).paths == ("d2", "d3")
        for since in (0, 1):
            with pytest.raises(HistoryTruncated):
                db.changes("ws", since)
