"""Writer batches in storage: seq-checked, at-most-once commits and skip mode.

A writer (a mount's write journal) numbers its changes; each commit carries the
range it holds. These tests run `Database.commit` over a real LMDB database and
check the rules: duplicates answer the recorded version and change nothing, gaps
and partial overlaps are refused, skip mode leaves out exactly the failing
operations, and the `writers` index is derived from the log like every other.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tree_support import SMALL_BASE, write_tree
from versions_support import walk

from citcfs.entries import Entry
from citcfs.errors import (AlreadyExists, FailedPrecondition, InvalidArgument, IsADirectory,
                           ObjectMissing, OutOfSequence, PathNotFound, StaleVersion,
                           WorkspaceNotFound)
from citcfs.objects import ObjectKind, object_id
from citcfs.storage import (Database, MakeDir, Remove, Rename, SetAttr, Symlink, WriteFile,
                            WriterSeq)
from citcfs.storage import keys
from citcfs.storage.records import Committed, OverlayWrite, decode_record, encode_record

W1 = bytes(range(16))
W2 = bytes(range(16, 32))


@pytest.fixture
def db(tmp_path: Path, open_db: Callable[..., Database]) -> Iterator[Database]:
    database = open_db(tmp_path / "db")
    try:
        tree = write_tree(tmp_path / "base", SMALL_BASE, mtime_ns=0, fixed_modes=True)
        database.import_directory("main", str(tree))
        database.create_workspace("ws", "main")
        yield database
    finally:
        database.close()


def put(path: str, data: bytes = b"x") -> WriteFile:
    return WriteFile(path, Entry.file(data))


def batch(db: Database, first: int, last: int, ops: list | None = None, writer: bytes = W1,
          skip: bool = False, ws: str = "ws"):
    ops = ops if ops is not None else [put(f"f{first}", b"%d" % first)]
    return db.commit(ws, ops, writer=WriterSeq(writer, first, last), skip_failing=skip)


def index_rows(db: Database) -> list[tuple[bytes, bytes]]:
    with db.kv.read() as txn:
        return list(txn.range(keys.WRITERS, b""))


# --- the sequence rules -------------------------------------------------------------

def test_batches_apply_in_sequence_and_progress_follows(db: Database) -> None:
    assert db.writer_progress("ws", W1) == (0, 0)
    assert batch(db, 1, 3).version == 1
    assert batch(db, 4, 4).version == 2
    assert db.writer_progress("ws", W1) == (4, 2)
    assert db.writer_progress("ws", W2) == (0, 0)


def test_duplicate_returns_recorded_version_and_makes_none(db: Database) -> None:
    first = batch(db, 1, 3)
    db.commit("ws", [put("other")])  # someone else's commit in between
    again = batch(db, 1, 3)
    assert again.duplicate and again.version == first.version == 1
    assert again.lsn == first.lsn and again.paths == () and again.skipped == ()
    assert db.workspace("ws").version == 2
    # A batch overtaken by a later one of the same writer is a duplicate too.
    batch(db, 4, 6)
    old = batch(db, 2, 3)
    assert old.duplicate and old.version == 3
    assert db.workspace("ws").version == 3


def test_duplicate_wins_over_expected_version_and_missing_objects(db: Database) -> None:
    data = os.urandom(64 << 10)
    oid = db.objects.put(ObjectKind.CHUNK, data)
    entry = Entry.file(chunks=(oid,), size=len(data))
    batch(db, 1, 1, [WriteFile("big", entry)])
    db.objects.delete([oid])
    again = db.commit("ws", [WriteFile("big", entry)], expected_version=0,
                      writer=WriterSeq(W1, 1, 1))
    assert again.duplicate and again.version == 1
    with pytest.raises(ObjectMissing):
        batch(db, 2, 2, [WriteFile("big2", entry)])
    with pytest.raises(StaleVersion):
        db.commit("ws", [put("a")], expected_version=0, writer=WriterSeq(W1, 2, 2))
    assert db.writer_progress("ws", W1) == (1, 1)


@pytest.mark.parametrize("first,last", [(5, 6), (3, 3), (2, 4), (3, 9)])
def test_gap_and_partial_overlap_are_refused_and_change_nothing(db: Database, first: int,
                                                                 last: int) -> None:
    batch(db, 1, 3)
    before = (db.workspace("ws"), walk(db, "ws"), index_rows(db))
    if (first, last) == (3, 3):
        assert batch(db, first, last).duplicate
        return
    with pytest.raises(OutOfSequence, match="up to seq 3"):
        batch(db, first, last)
    assert isinstance(OutOfSequence(), FailedPrecondition)
    assert (db.workspace("ws"), walk(db, "ws"), index_rows(db)) == before


def test_a_new_writer_may_start_anywhere_and_writers_are_independent(db: Database) -> None:
    assert batch(db, 7, 9).version == 1
    assert batch(db, 1, 1, writer=W2).version == 2
    assert batch(db, 1, 1).duplicate  # below what W1 applied
    with pytest.raises(OutOfSequence):
        batch(db, 11, 11)
    assert batch(db, 10, 10).version == 3
    assert db.writer_progress("ws", W1) == (10, 3)
    assert db.writer_progress("ws", W2) == (1, 2)


@pytest.mark.parametrize("writer", [
    WriterSeq(b"short", 1, 1), WriterSeq(W1, 0, 1), WriterSeq(W1, 3, 2), WriterSeq(W1, 1, 1 << 64)])
def test_malformed_writer_is_invalid(db: Database, writer: WriterSeq) -> None:
    with pytest.raises(InvalidArgument):
        db.commit("ws", [put("a")], writer=writer)
    with pytest.raises(InvalidArgument):
        db.writer_progress("ws", b"short")
    assert db.workspace("ws").version == 0


def test_writers_are_per_workspace_and_dropped_with_it(db: Database) -> None:
    db.create_workspace("other", "main")
    batch(db, 1, 5)
    assert batch(db, 1, 1, ws="other").version == 1  # new to "other"
    db.delete_workspace("ws")
    with pytest.raises(WorkspaceNotFound):
        db.writer_progress("ws", W1)
    db.create_workspace("ws", "main")
    assert db.writer_progress("ws", W1) == (0, 0)
    assert db.writer_progress("other", W1) == (1, 1)
    assert len(index_rows(db)) == 1
    db.rebuild()
    assert len(index_rows(db)) == 1


def test_pruning_keeps_the_writer(db: Database) -> None:
    for seq in range(1, 6):
        batch(db, seq, seq)
    db.commit("ws", [put("later")])
    db.set_retention("ws", 1)
    assert db.gc().versions_pruned == 6  # versions 0 to 5
    assert db.writer_progress("ws", W1) == (5, 5)
    again = batch(db, 5, 5)
    assert again.duplicate and again.version == 5 and again.lsn == 0
    db.rebuild()
    assert db.writer_progress("ws", W1) == (5, 5)


def test_rebuild_reproduces_the_writer_index(db: Database) -> None:
    batch(db, 1, 2)
    batch(db, 1, 4, writer=W2)
    batch(db, 3, 3, skip=True, ops=[Remove("missing")])
    rows = index_rows(db)
    assert len(rows) == 2
    db.rebuild()
    assert index_rows(db) == rows
    assert db.fsck().ok


# --- records ----------------------------------------------------------------------

def test_commit_records_carry_the_writer_and_old_records_still_decode() -> None:
    writes = (OverlayWrite("a", Entry.file(b"1")), OverlayWrite("b", None))
    plain = Committed(3, 2, 10, writes)
    with_writer = Committed(3, 2, 10, writes, writer=(W1, 42))
    assert decode_record(encode_record(with_writer)) == with_writer
    assert decode_record(encode_record(plain)) == plain
    # Records written before writers existed end right after the base part: the
    # encoding without a writer is byte-for-byte what it was.
    old_bytes = encode_record(plain)
    assert encode_record(with_writer).startswith(old_bytes)
    assert decode_record(old_bytes).writer is None


# --- skip mode ----------------------------------------------------------------------

FAILING = [
    ("write over a directory", put("src", b"no"), IsADirectory),
    ("mkdir over existing", MakeDir("docs"), AlreadyExists),
    ("symlink over existing", Symlink("README", "x"), AlreadyExists),
    ("remove of missing", Remove("nope"), PathNotFound),
    ("rename of missing src", Rename("nope", "there"), PathNotFound),
    ("set_attr of missing", SetAttr("nope", mode=0o600), PathNotFound),
    ("rename into itself", Rename("src", "src/lib/inside"), InvalidArgument),
]


@pytest.mark.parametrize("name,op,error", FAILING, ids=[f[0] for f in FAILING])
def test_skip_mode_leaves_out_exactly_the_failing_op(db: Database, name: str, op: object,
                                                     error: type) -> None:
    ops = [put("a", b"1"), MakeDir("d"), op, put("d/b", b"2"), Rename("a", "d/a")]
    result = batch(db, 1, 1, ops=ops, skip=True)
    assert [index for index, _ in result.skipped] == [2]
    assert isinstance(result.skipped[0][1], error)
    before = walk(db, "ws", 0)
    # The same ops without the failing one, committed to a fresh workspace, agree.
    db.create_workspace("ref", "main")
    db.commit("ref", [o for o in ops if o is not op])
    assert walk(db, "ws") == walk(db, "ref")
    assert set(walk(db, "ws")) - set(before) == {"d", "d/a", "d/b"}
    with pytest.raises(error):  # and Commit without skipping fails on it
        db.commit("ws", [op])


def test_skip_mode_rolls_back_a_failing_op_that_wrote(db: Database) -> None:
    """A rename whose destination turns out non-empty must not have touched its source."""
    ops = [MakeDir("d"), put("d/x"), Rename("src", "d"), put("after")]
    result = batch(db, 1, 1, ops=ops, skip=True)
    assert [index for index, _ in result.skipped] == [2]
    tree = walk(db, "ws")
    assert "src/main.py" in tree and "d/x" in tree and "after" in tree


def test_pending_view_rollback_restores_every_write() -> None:
    from citcfs.storage.overlay import MemoryOverlay
    from citcfs.storage.planner import PendingView
    view = PendingView(MemoryOverlay({"a": Entry.file(b"0")}), undoable=True)
    view.set("a", Entry.file(b"1"))
    mark = view.mark()
    view.set("a", None)
    view.set("b", Entry.file(b"2"))
    view.set("d/c", Entry.file(b"3"))
    view.rollback(mark)
    assert view.writes == {"a": Entry.file(b"1")}
    assert view.entry("", "a") == Entry.file(b"1") and view.entry("", "b") is None
    assert [name for name, _ in view.children("")] == ["a"]
    assert list(view.subtree("d")) == []


def test_skip_mode_missing_object_skips_that_op(db: Database) -> None:
    ghost = object_id(ObjectKind.CHUNK, b"never uploaded")
    ops = [put("a"), WriteFile("ghost", Entry.file(chunks=(ghost,), size=14)), put("b")]
    result = batch(db, 1, 1, ops=ops, skip=True)
    assert [(i, type(e)) for i, e in result.skipped] == [(1, ObjectMissing)]
    assert {"a", "b"} <= set(walk(db, "ws")) and "ghost" not in walk(db, "ws")


def test_all_skipped_still_records_the_batch(db: Database) -> None:
    result = batch(db, 1, 2, ops=[Remove("nope"), MakeDir("src")], skip=True)
    assert len(result.skipped) == 2 and result.paths == ()
    assert result.version == 1  # an empty version
    assert db.writer_progress("ws", W1) == (2, 1)
    assert batch(db, 1, 2, ops=[Remove("nope")], skip=True).duplicate


def test_without_a_writer_commit_is_unchanged(db: Database) -> None:
    with pytest.raises(PathNotFound):
        db.commit("ws", [put("a"), Remove("nope")])
    assert db.workspace("ws").version == 0
    with pytest.raises(InvalidArgument):
        db.commit("ws", [])
    assert db.commit("ws", [put("a")]).version == 1
    assert index_rows(db) == []


# --- a model check ----------------------------------------------------------------

def test_random_resends_apply_each_change_exactly_once(db: Database) -> None:
    """A writer sends batches of seqs 1..N, resending random earlier ranges and
    trying ranges out of order: the workspace ends with every change applied once,
    in order, and progress never goes back."""
    rng = random.Random(7)
    applied = 0
    versions: dict[int, int] = {}  # last seq -> version
    cuts = sorted(rng.sample(range(1, 200), 40)) + [200]
    batches = list(zip([1] + [c + 1 for c in cuts[:-1]], cuts))
    sent = 0
    while sent < len(batches):
        choice = rng.random()
        if choice < 0.2 and sent:
            first, last = batches[rng.randrange(sent)]
            result = batch(db, first, last, ops=[put("log", b"%d" % last)], skip=True)
            assert result.duplicate and result.version == versions[applied]
        elif choice < 0.3 and 0 < sent < len(batches) - 1:  # (a new writer starts anywhere)
            first, last = batches[sent + 1]
            with pytest.raises(OutOfSequence):
                batch(db, first, last, ops=[put("log", b"bad")])
        else:
            first, last = batches[sent]
            result = batch(db, first, last, ops=[put("log", b"%d" % last)], skip=True)
            assert not result.duplicate
            applied = last
            versions[last] = result.version
            sent += 1
        assert db.writer_progress("ws", W1)[0] == applied
    assert db.workspace("ws").version == len(batches)
    assert db.read_file(db.lookup("ws", "log")) == b"200"
