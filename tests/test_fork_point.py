"""Fork points (issue 13): a forked workspace remembers the state it started from, so
its diffs can show its own changes rather than those of the workspace it came from."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tree_support import SMALL_BASE, write_tree
from versions_support import apply_diff, walk, walk_tree

from citcfs.entries import Entry
from citcfs.errors import InvalidArgument, NotForked
from citcfs.objects import ObjectKind
from citcfs.storage import BaseRef, Database, Remove, Rename, WorkspaceRef, WriteFile
from citcfs.storage import keys
from citcfs.storage.index_values import WorkspaceState
from citcfs.storage.records import ForkPoint, WorkspaceCreated, decode_record, encode_record, frame

UID, GID = os.getuid(), os.getgid()


@pytest.fixture
def db(tmp_path: Path, open_db: Callable[..., Database]) -> Iterator[Database]:
    database = open_db(tmp_path / "db")
    tree = write_tree(tmp_path / "import", SMALL_BASE, mtime_ns=0, fixed_modes=True)
    database.import_directory("main", str(tree))
    database.create_workspace("src", "main")
    try:
        yield database
    finally:
        database.close()


def write(db: Database, ws: str, path: str, data: bytes) -> None:
    db.commit(ws, [WriteFile(path, Entry.file(data, mode=0o644, uid=UID, gid=GID))])


def paths_of(entries) -> list[tuple[str, str]]:
    return [(d.path, d.change.value) for d in entries]


def forked_with_changes(db: Database) -> None:
    """src changes README and renames src/lib; fork is made, then changes docs/guide.md."""
    write(db, "src", "README", b"source\n")
    db.commit("src", [Rename("src/lib", "lib")])
    db.fork("src", "fork")
    write(db, "fork", "docs/guide.md", b"fork\n")
    db.commit("fork", [Remove("empty", recursive=True)])


def test_fork_records_its_fork_point(db: Database) -> None:
    write(db, "src", "README", b"source\n")
    state = db.fork("src", "fork")
    assert state.fork == ForkPoint("src", 1, db.freeze("src"), 1, 1)
    assert db.workspace("src").fork is None
    unchanged = db.fork("src", "fork0", 0)
    assert unchanged.fork == ForkPoint("src", 0, db.base_revision("main").root, 1, 0)
    assert unchanged.version == 0
    # a commit and a fork of the fork keep (and record) their own fork points
    write(db, "fork", "new", b"n\n")
    assert db.workspace("fork").fork == state.fork
    again = db.fork("fork", "fork2")
    assert again.fork is not None and again.fork.source == "fork" and again.fork.source_version == 2
    assert walk_tree(db, again.fork.tree) == walk(db, "fork")


def test_diff_from_the_fork_point_shows_only_the_forks_changes(db: Database) -> None:
    forked_with_changes(db)
    fork_ref, head = WorkspaceRef("fork", fork=True), WorkspaceRef("fork")
    assert paths_of(db.diff(fork_ref, head)) == [("docs/guide.md", "modified"),
                                                  ("empty", "deleted")]
    # against the base, the source's changes show as well
    assert ("README", "modified") in paths_of(db.diff(BaseRef("main", 1), head))
    # the fork point is the source's state when forked, whatever the source does next
    write(db, "src", "README", b"later\n")
    assert apply_diff(db, walk(db, "src", 2), db.diff(fork_ref, head)) == walk(db, "fork")
    assert list(db.diff(fork_ref, WorkspaceRef("src", version=2))) == []


def test_fork_ref_of_a_workspace_that_was_not_forked(db: Database) -> None:
    with pytest.raises(NotForked, match="src@fork: workspace 'src' was not forked"):
        list(db.diff(WorkspaceRef("src", fork=True), WorkspaceRef("src")))
    db.fork("src", "fork")
    with pytest.raises(InvalidArgument):
        list(db.diff(WorkspaceRef("fork", version=0, fork=True), WorkspaceRef("fork")))


def test_gc_keeps_the_fork_point_and_rebuild_reproduces_it(db: Database) -> None:
    forked_with_changes(db)
    tree = db.workspace("fork").fork.tree
    # The fork point's own tree objects are reachable from nothing else once the
    # source moves on and is deleted and the fork's version 1 is collected.
    write(db, "src", "README", b"later\n")
    db.delete_workspace("src")
    db.set_retention("fork", 1)
    db.gc()
    assert db.versions("fork")[0].version == 3
    assert db.objects.has([tree]) == [True]
    model = walk_tree(db, tree)
    assert apply_diff(db, model, db.diff(WorkspaceRef("fork", fork=True),
                                         WorkspaceRef("fork"))) == walk(db, "fork")
    assert db.fsck().ok
    before = db.workspace("fork")
    db.rebuild()
    assert db.workspace("fork") == before
    db.gc()
    assert walk_tree(db, tree) == model


def test_the_fork_point_dies_with_its_workspace(db: Database) -> None:
    write(db, "src", "README", b"source\n")
    db.fork("src", "fork")
    tree = db.workspace("fork").fork.tree
    db.commit("src", [Remove("README")])  # so no version of src names that tree
    db.set_retention("src", 1)
    db.gc()
    assert db.objects.has([tree]) == [True]
    db.delete_workspace("fork")
    db.gc()
    assert db.objects.has([tree]) == [False]


def test_fork_writes_trees_only_for_changed_directories(db: Database) -> None:
    db.commit("src", [WriteFile("src/lib/deep/new", Entry.file(b"x"))])
    before = set(db.objects.ids())
    db.fork("src", "fork")
    new = set(db.objects.ids()) - before
    # the root and the three directories on the way to the change; nothing else
    assert len(new) == 4
    assert all(db.objects.get(oid, ObjectKind.TREE) for oid in new)


def test_records_and_states_written_before_fork_points_decode(db: Database) -> None:
    root = db.base_revision("main").root
    point = ForkPoint("src", 3, root, 2, 1)
    record = WorkspaceCreated("f", "bob", "main", 2, root, 7, point)
    assert decode_record(encode_record(record)) == record
    old = WorkspaceCreated("f", "bob", "main", 2, root, 7)
    assert decode_record(encode_record(old)) == old
    # the old encoding is the new one without its trailing part
    assert encode_record(record).startswith(encode_record(old))
    state = WorkspaceState(5, "f", "bob", "main", 4, root, 9, 1, 2, point)
    assert WorkspaceState.decode(state.encode()) == state
    plain = WorkspaceState(5, "f", "bob", "main", 4, root, 9, 1, 2)
    assert WorkspaceState.decode(plain.encode()) == plain
    assert state.encode().startswith(plain.encode())


def test_an_old_log_replays_to_workspaces_without_fork_points(db: Database) -> None:
    """A log whose creation record has no fork part (as written before this change)
    rebuilds, and `ws@fork` of that workspace is a clear error."""
    root = db.base_revision("main").root
    with db.kv.write() as txn:
        last = txn.last(keys.LOG)
        lsn = keys.read_u64(last[0]) + 1
        txn.put(keys.LOG, keys.lsn_key(lsn),
                frame(encode_record(WorkspaceCreated("old", "", "main", 1, root, 1))))
    db.rebuild()
    assert db.workspace("old").fork is None
    with pytest.raises(NotForked):
        list(db.diff(WorkspaceRef("old", fork=True), WorkspaceRef("old")))
