"""Bad input gets its own error and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest

from citcfs.entries import Entry
from citcfs.errors import (AlreadyExists, BaseNotFound, CitcError, CorruptLog, InvalidArgument,
                           InvalidPath, NameTooLong, ObjectMissing, PathNotFound, StaleVersion,
                           WorkspaceNotFound)
from citcfs.objects import ObjectKind, object_id
from citcfs.storage import (Database, MakeDir, Remove, Rename, SetAttr, Symlink, WriteFile,
                            keys)

BAD_PATHS = [
    ("a//b", InvalidPath), ("//a", InvalidPath), (".", InvalidPath), ("..", InvalidPath),
    ("a/./b", InvalidPath), ("a/../b", InvalidPath), ("src/..", InvalidPath),
    ("a\0b", InvalidPath), ("n" * 256, NameTooLong), ("src/" + "n" * 256, NameTooLong),
    ("/".join(["d" * 200] * 21), NameTooLong),
]
PATH_OPS: list[Callable[[str], object]] = [
    lambda p: WriteFile(p, Entry.file(b"x")), lambda p: MakeDir(p), lambda p: Symlink(p, "t"),
    lambda p: Remove(p, recursive=True), lambda p: Rename("README", p), lambda p: Rename(p, "x"),
    lambda p: SetAttr(p, mode=0o600),
]


def snapshot(db: Database) -> tuple[object, ...]:
    """Everything a bad request must leave as it was."""
    return (list(db.log_records()), db.list_workspaces(), db.list_bases(), db.objects.stats(),
            [(ws.name, db.versions(ws.name)) for ws in db.list_workspaces()])


def unchanged(db: Database, call: Callable[[], object], error: type[CitcError]) -> CitcError:
    before = snapshot(db)
    with pytest.raises(error) as info:
        call()
    assert snapshot(db) == before
    return info.value


@pytest.fixture
def busy_db(ws_db: Database) -> Database:
    """ws_db with some history: a few versions in "ws" and a second workspace."""
    ws_db.commit("ws", [WriteFile("a", Entry.file(b"1"))])
    ws_db.commit("ws", [MakeDir("d"), Rename("a", "d/a")])
    ws_db.create_workspace("other", "main")
    return ws_db


@pytest.mark.parametrize("path, error", BAD_PATHS)
def test_invalid_paths_in_reads(busy_db: Database, path: str, error: type[CitcError]) -> None:
    unchanged(busy_db, lambda: busy_db.lookup("ws", path), error)
    unchanged(busy_db, lambda: busy_db.listdir("ws", path), error)


@pytest.mark.parametrize("path, error", BAD_PATHS)
def test_invalid_paths_in_commits(busy_db: Database, path: str, error: type[CitcError]) -> None:
    for make_op in PATH_OPS:
        op = make_op(path)
        unchanged(busy_db, lambda: busy_db.commit("ws", [op]), error)
        # ...also after a valid operation in the same batch, which must not survive.
        unchanged(busy_db, lambda: busy_db.commit("ws", [MakeDir("fine"), op]), error)


def test_slash_in_a_name_is_a_separator_not_a_name(busy_db: Database) -> None:
    """There is no way to put '/' in one name: 'a/b' is two components."""
    unchanged(busy_db, lambda: busy_db.commit("ws", [MakeDir("nodir/x")]), PathNotFound)


def test_root_cannot_be_created_removed_or_renamed(busy_db: Database) -> None:
    for op in (MakeDir(""), Remove("", recursive=True), Rename("", "x"), Rename("d", "/"),
               WriteFile("/", Entry.file(b""))):
        unchanged(busy_db, lambda: busy_db.commit("ws", [op]), InvalidPath)


def test_invalid_entries_and_ops(busy_db: Database) -> None:
    bad = [
        WriteFile("f", Entry.directory()),
        WriteFile("f", Entry.file(b"").replace(mode=0o77777)),
        WriteFile("f", Entry.file(b"").replace(size=5)),
        SetAttr("README", mode=-1),
        Symlink("s", "a\0b"),
        "not an operation",
    ]
    for op in bad:
        unchanged(busy_db, lambda: busy_db.commit("ws", [op]), InvalidArgument)  # type: ignore[list-item]
    unchanged(busy_db, lambda: busy_db.commit("ws", []), InvalidArgument)


def test_unknown_workspace(busy_db: Database) -> None:
    for call in (lambda: busy_db.workspace("nope"), lambda: busy_db.lookup("nope", ""),
                 lambda: busy_db.listdir("nope", ""), lambda: busy_db.versions("nope"),
                 lambda: busy_db.changes("nope", 0), lambda: busy_db.delete_workspace("nope"),
                 lambda: busy_db.commit("nope", [MakeDir("x")])):
        unchanged(busy_db, call, WorkspaceNotFound)


def test_deleted_workspace_is_unknown(busy_db: Database) -> None:
    checked = busy_db.workspace("ws").id
    busy_db.delete_workspace("ws")
    unchanged(busy_db, lambda: busy_db.lookup("ws", ""), WorkspaceNotFound)
    unchanged(busy_db, lambda: busy_db.commit("ws", [MakeDir("x")]), WorkspaceNotFound)
    assert [ws.name for ws in busy_db.list_workspaces()] == ["other"]
    # The name can be used again, and shows none of the old overlay.
    busy_db.create_workspace("ws", "main")
    assert busy_db.workspace("ws").version == 0
    assert [n for n, _ in busy_db.listdir("ws", "")] == [n for n, _ in busy_db.listdir("other", "")]
    # A commit meant for the deleted workspace does not land in its namesake.
    unchanged(busy_db, lambda: busy_db.commit("ws", [MakeDir("x")], workspace_id=checked),
              WorkspaceNotFound)
    assert busy_db.commit("ws", [MakeDir("x")], workspace_id=busy_db.workspace("ws").id).version == 1


def test_unknown_base_and_revision(busy_db: Database) -> None:
    unchanged(busy_db, lambda: busy_db.create_workspace("w2", "nope"), BaseNotFound)
    unchanged(busy_db, lambda: busy_db.create_workspace("w2", "main", 2), BaseNotFound)
    unchanged(busy_db, lambda: busy_db.create_workspace("w2", "main", 0), BaseNotFound)
    unchanged(busy_db, lambda: busy_db.base_history("nope"), BaseNotFound)
    unchanged(busy_db, lambda: busy_db.base_revision("main", 9), BaseNotFound)
    missing_root = object_id(ObjectKind.TREE, b"never stored")
    unchanged(busy_db, lambda: busy_db.add_base_revision("main", missing_root), ObjectMissing)


def test_existing_workspace_name(busy_db: Database) -> None:
    unchanged(busy_db, lambda: busy_db.create_workspace("ws", "main"), AlreadyExists)


@pytest.mark.parametrize("name", ["", "a/b", ".hidden", "-x", "a b", "x" * 129, "nul\0",
                                  "ünïcode", "..", None])
def test_invalid_workspace_and_base_names(busy_db: Database, tmp_path: Path, name: str) -> None:
    root = busy_db.base_revision("main").root
    unchanged(busy_db, lambda: busy_db.create_workspace(name, "main"), InvalidArgument)
    unchanged(busy_db, lambda: busy_db.add_base_revision(name, root), InvalidArgument)
    unchanged(busy_db, lambda: busy_db.import_directory(name, str(tmp_path)), InvalidArgument)


def test_stale_expected_version(busy_db: Database) -> None:
    head = busy_db.workspace("ws").version
    for expected in (0, head - 1, head + 1, 10**6):
        unchanged(busy_db, lambda: busy_db.commit("ws", [MakeDir("x")], expected_version=expected),
                  StaleVersion)
    result = busy_db.commit("ws", [MakeDir("x")], expected_version=head)
    assert result.version == head + 1


def test_versions_out_of_range(busy_db: Database) -> None:
    head = busy_db.workspace("ws").version
    for version in (-1, head + 1):
        unchanged(busy_db, lambda: busy_db.lookup("ws", "", version), InvalidArgument)
        unchanged(busy_db, lambda: busy_db.listdir("ws", "", version), InvalidArgument)


def test_chunks_not_in_the_store(busy_db: Database) -> None:
    present = busy_db.objects.put(ObjectKind.CHUNK, b"c" * 5000)
    absent = object_id(ObjectKind.CHUNK, b"never uploaded" * 500)
    for chunks in ((absent,), (present, absent)):
        entry = Entry.file(chunks=chunks, size=5000 + (len(chunks) - 1) * (1 << 20))
        unchanged(busy_db, lambda: busy_db.commit("ws", [WriteFile("big", entry)]), ObjectMissing)
    ok = busy_db.commit("ws", [WriteFile("big", Entry.file(chunks=(present,), size=5000))])
    assert busy_db.read_file(busy_db.lookup("ws", "big", ok.version)) == b"c" * 5000


def _corrupt_log_value(directory: Path, lsn: int, change: Callable[[bytes], bytes]) -> None:
    """Rewrite one log value below every check of the database (which is closed)."""
    env = lmdb.open(str(directory / "log"), max_dbs=len(keys.ALL_TABLES) + 2)
    try:
        log = env.open_db(keys.LOG.encode())
        with env.begin(write=True, db=log) as txn:
            raw = txn.get(keys.lsn_key(lsn))
            assert raw is not None
            txn.put(keys.lsn_key(lsn), change(bytes(raw)))
    finally:
        env.close()


def _raw_log(directory: Path) -> list[tuple[bytes, bytes]]:
    env = lmdb.open(str(directory / "log"), max_dbs=len(keys.ALL_TABLES) + 2, readonly=True)
    try:
        with env.begin(db=env.open_db(keys.LOG.encode(), create=False)) as txn:
            return [(bytes(k), bytes(v)) for k, v in txn.cursor()]
    finally:
        env.close()


def _flip_last_byte(raw: bytes) -> bytes:
    return raw[:-1] + bytes([raw[-1] ^ 0x40])


@pytest.mark.parametrize("change", [
    _flip_last_byte,
    lambda raw: raw[:-1],                                  # truncated payload
    lambda raw: raw[:6],                                   # truncated frame header
    lambda raw: raw[:4] + bytes([raw[4] ^ 1]) + raw[5:],   # checksum bit flipped
])
def test_corrupt_log_frame(db_dir: Path, make_tree: Callable[..., Path],
                           change: Callable[[bytes], bytes]) -> None:
    with Database.open(str(db_dir), sync=False) as db:
        db.import_directory("main", str(make_tree({"f": b"1"})))
        db.create_workspace("ws", "main")
        for i in range(3):
            db.commit("ws", [MakeDir(f"d{i}")])
        records = db.verify_log().records
        lookups = [db.listdir("ws", "", v) for v in range(4)]
    _corrupt_log_value(db_dir, 3, change)  # the first commit
    corrupted = _raw_log(db_dir)
    with Database.open(str(db_dir), sync=False) as db:
        with pytest.raises(CorruptLog, match="3"):
            db.verify_log()
        with pytest.raises(CorruptLog):
            list(db.log_records())
        with pytest.raises(CorruptLog):  # a replay refuses, and keeps the indexes it had
            db.rebuild()
        assert [db.listdir("ws", "", v) for v in range(4)] == lookups
        with pytest.raises(CorruptLog):  # a read that needs the bad record says so
            db.changes("ws", 0)
        assert db.changes("ws", 1).paths == ("d1", "d2")
    assert _raw_log(db_dir) == corrupted
    assert records == len(corrupted)


def test_missing_log_record_fails_verification(db_dir: Path, make_tree: Callable[..., Path]) -> None:
    with Database.open(str(db_dir), sync=False) as db:
        db.import_directory("main", str(make_tree({"f": b"1"})))
        db.create_workspace("ws", "main")
        db.commit("ws", [MakeDir("d")])
    env = lmdb.open(str(db_dir / "log"), max_dbs=len(keys.ALL_TABLES) + 2)
    try:
        with env.begin(write=True, db=env.open_db(keys.LOG.encode())) as txn:
            assert txn.delete(keys.lsn_key(2))
    finally:
        env.close()
    with Database.open(str(db_dir), sync=False) as db:
        with pytest.raises(CorruptLog, match="2"):
            db.verify_log()


def test_out_of_range_numbers(busy_db: Database) -> None:
    for rev in (-1, 0, 2, 1 << 64, "1"):
        unchanged(busy_db, lambda: busy_db.create_workspace("w2", "main", rev), BaseNotFound)  # type: ignore[arg-type]
        unchanged(busy_db, lambda: busy_db.base_revision("main", rev), BaseNotFound)  # type: ignore[arg-type]
    for start in (-1, 1 << 64):
        unchanged(busy_db, lambda: busy_db.versions("ws", start), InvalidArgument)
    assert busy_db.versions("ws", 1 << 40) == []
    assert [v.version for v in busy_db.versions("ws", 1)] == [1, 2]
