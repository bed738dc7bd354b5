"""Versions of workspaces (issue 3): snapshots, freeze, fork, restore/revert, diff, sync,
submit and garbage collection, each tested on its own over a real LMDB log, once with
objects in LMDB and once in S3 (a real SeaweedFS)."""

from __future__ import annotations

import inspect
import itertools
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from damage_support import corrupt_object
from tree_support import SMALL_BASE, spec_model, write_tree
from versions_support import apply_diff, walk, walk_tree

from citcfs.entries import Entry, EntryKind, Tree
from citcfs.errors import (AlreadyExists, BaseNotFound, Conflict, FailedPrecondition,
                           HistoryTruncated, InvalidArgument, ObjectMissing, PathNotFound,
                           SnapshotNotFound)
from citcfs.objects import CHUNK_SIZE, ObjectKind, split_chunks
from citcfs.storage import (BaseRef, Change, Database, MakeDir, MakeNode, Remove, Rename,
                            SetAttr, Symlink, WorkspaceRef, WriteFile)

UID, GID = os.getuid(), os.getgid()
pytestmark = pytest.mark.every_object_backend

# --- helpers ------------------------------------------------------------------------

BASE = SMALL_BASE
LONG = "L" * 201
"""A directory name past keys.PARENT_KEY_MAX: its children's keys hold it cut and hashed."""


def import_spec(db: Database, tmp_path: Path, spec: dict[str, object], base: str = "main") -> int:
    """Import `spec` as the next revision of `base`; return the revision number."""
    existing = len(list(tmp_path.glob("import-*")))
    tree = write_tree(tmp_path / f"import-{existing}", spec, mtime_ns=0, fixed_modes=True)
    rev, _ = db.import_directory(base, str(tree))
    return rev.rev


@pytest.fixture
def ws_db(db: Database, tmp_path: Path) -> Database:
    """`db` with base "main" at revision 1 (BASE) and workspace "ws" over it."""
    import_spec(db, tmp_path, BASE)
    db.create_workspace("ws", "main")
    return db


def fentry(data: bytes, mode: int = 0o644) -> Entry:
    return Entry.file(data, mode=mode, uid=UID, gid=GID)


def write(db: Database, ws: str, path: str, data: bytes, mode: int = 0o644):
    return db.commit(ws, [WriteFile(path, fentry(data, mode))])


def big_file(db: Database, data: bytes) -> Entry:
    """A chunked (not inline) file entry whose chunks are uploaded."""
    chunks = [data[i:i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE)]
    oids = tuple(db.objects.put(ObjectKind.CHUNK, chunk) for chunk in chunks)
    return Entry.file(chunks=oids, size=len(data), uid=UID, gid=GID)


def summary(entries) -> list[tuple]:
    return [(d.path, d.change, d.old_path) for d in entries]


def generated_base(db: Database, dirs: int = 20, subdirs: int = 20, files: int = 50):
    """A base of dirs*subdirs*files small files built directly as trees; its root."""
    items = []
    sub_trees = []
    for d in range(dirs):
        subs = []
        for s in range(subdirs):
            tree = Tree.build((f"f{i:03}", Entry.file(f"{d}/{s}/{i}\n".encode(), uid=UID, gid=GID))
                              for i in range(files))
            items.append((ObjectKind.TREE, tree.encode(), None))
            subs.append((f"s{s:02}", Entry.directory(tree=tree.id, uid=UID, gid=GID)))
        tree = Tree.build(subs)
        items.append((ObjectKind.TREE, tree.encode(), None))
        sub_trees.append((f"d{d:02}", Entry.directory(tree=tree.id, uid=UID, gid=GID)))
    root = Tree.build(sub_trees)
    items.append((ObjectKind.TREE, root.encode(), None))
    db.objects.put_many(items)
    return root.id


def object_count(db: Database) -> int:
    return db.objects.stats()[0]


def record_count(db: Database) -> int:
    return sum(1 for _ in db.log_records())


# --- snapshots (labels) -------------------------------------------------------------

def test_label_set_list_and_read(ws_db: Database) -> None:
    db = ws_db
    write(db, "ws", "README", b"one\n")
    label = db.label("ws", "first")
    assert (label.label, label.version) == ("first", 1)
    write(db, "ws", "README", b"two\n")
    db.commit("ws", [MakeDir("new", uid=UID, gid=GID), WriteFile("new/f", fentry(b"f"))])
    db.label("ws", "second", version=2)
    db.label("ws", "start", version=0)
    assert [(l.label, l.version) for l in db.labels("ws")] == [("first", 1), ("second", 2), ("start", 0)]

    assert db.version_of("ws", "first") == 1
    assert db.version_of("ws", "second") == 2
    assert db.version_of("ws", "start") == 0
    assert db.version_of("ws") == 3
    assert db.version_of("ws", 2) == 2
    first = db.version_of("ws", "first")
    assert db.read_file(db.lookup("ws", "README", first)) == b"one\n"
    assert [n for n, _ in db.listdir("ws", "", first)] == ["README", "docs", "empty", "link", "src"]
    assert db.read_file(db.lookup("ws", "README", db.version_of("ws", "second"))) == b"two\n"
    assert db.read_file(db.lookup("ws", "README", db.version_of("ws", "start"))) == b"hello\n"
    assert walk(db, "ws", 0) == spec_model(BASE)
    # the label reads what its version reads, and diff accepts it by name
    assert not list(db.diff(WorkspaceRef("ws", label="first"), WorkspaceRef("ws", version=1)))
    assert db.freeze("ws", "second") == db.freeze("ws", 2)


def test_label_duplicate_replace_unknown_and_unlabel(ws_db: Database) -> None:
    db = ws_db
    write(db, "ws", "README", b"one\n")
    write(db, "ws", "README", b"two\n")
    db.label("ws", "snap", version=1)
    with pytest.raises(AlreadyExists):
        db.label("ws", "snap", version=2)
    assert db.version_of("ws", "snap") == 1
    db.label("ws", "snap", version=2, replace=True)
    assert db.version_of("ws", "snap") == 2
    assert [(l.label, l.version) for l in db.labels("ws")] == [("snap", 2)]

    with pytest.raises(SnapshotNotFound):
        db.version_of("ws", "nope")
    with pytest.raises(SnapshotNotFound):
        db.freeze("ws", "nope")
    with pytest.raises(SnapshotNotFound):
        db.fork("ws", "other", "nope")
    with pytest.raises(SnapshotNotFound):
        list(db.diff(WorkspaceRef("ws", label="nope"), WorkspaceRef("ws")))
    with pytest.raises(SnapshotNotFound):
        db.unlabel("ws", "nope")
    with pytest.raises(InvalidArgument):
        db.label("ws", "future", version=9)
    with pytest.raises(InvalidArgument):
        db.label("ws", "bad/name")

    db.unlabel("ws", "snap")
    assert db.labels("ws") == []
    with pytest.raises(SnapshotNotFound):
        db.version_of("ws", "snap")
    # labels belong to one workspace
    db.create_workspace("ws2", "main")
    db.label("ws2", "snap")
    assert db.labels("ws") == []
    assert [l.label for l in db.labels("ws2")] == ["snap"]


# --- freeze -------------------------------------------------------------------------

def test_freeze_is_deterministic_and_equal_content_gives_equal_id(ws_db: Database) -> None:
    db = ws_db
    base_root = db.base_revision("main").root
    assert db.freeze("ws") == base_root  # no changes: the base's own tree
    db.create_workspace("other", "main")

    # the same end state reached by different routes
    write(db, "ws", "src/main.py", b"draft\n")
    write(db, "ws", "src/main.py", b"final\n")
    db.commit("ws", [Remove("docs", recursive=True)])
    db.commit("ws", [MakeDir("new", uid=UID, gid=GID, mtime_ns=0)])
    db.commit("ws", [WriteFile("new/a", fentry(b"a"))])

    db.commit("other", [MakeDir("new", uid=UID, gid=GID, mtime_ns=0),
                        WriteFile("new/a", fentry(b"a")),
                        WriteFile("src/main.py", fentry(b"final\n"))])
    db.commit("other", [Remove("docs/guide.md"), Remove("docs")])

    frozen = db.freeze("ws")
    assert frozen == db.freeze("ws")
    assert frozen == db.freeze("ws", db.version_of("ws"))
    assert frozen == db.freeze("other")
    assert frozen != base_root
    assert db.freeze("ws", 0) == base_root
    # the frozen tree holds exactly what the workspace shows
    assert walk_tree(db, frozen) == walk(db, "ws")
    # earlier versions freeze to their own, different trees
    ids = {db.freeze("ws", v) for v in range(db.version_of("ws") + 1)}
    assert len(ids) == db.version_of("ws") + 1

    # a change and its undo freeze back to the same id
    write(db, "ws", "README", b"changed\n")
    assert db.freeze("ws") != frozen
    write(db, "ws", "README", b"hello\n")
    assert db.freeze("ws") == frozen


def test_freeze_cost_follows_the_changes(db: Database) -> None:
    root = generated_base(db)  # 20 * 20 * 50 = 20,000 files, 421 trees
    db.add_base_revision("big", root)
    db.create_workspace("ws", "big")
    # 10 changes in 10 different leaf directories of d03
    db.commit("ws", [WriteFile(f"d03/s{s:02}/f007", fentry(b"changed %d" % s)) for s in range(10)])
    before = object_count(db)
    frozen = db.freeze("ws")
    created = object_count(db) - before
    assert created == 12  # 10 leaf directories, d03 and the root
    assert object_count(db) - before == created
    assert db.freeze("ws") == frozen
    assert object_count(db) - before == created  # freezing again writes nothing new
    tree = db.load_tree(frozen)
    d03 = db.load_tree(tree.get("d03").tree)
    s04 = db.load_tree(d03.get("s04").tree)
    assert s04.get("f007").inline == b"changed 4"
    # untouched subtrees keep their ids
    base_tree = db.load_tree(root)
    assert tree.get("d04").tree == base_tree.get("d04").tree
    assert d03.get("s15").tree == db.load_tree(base_tree.get("d03").tree).get("s15").tree


# --- fork ---------------------------------------------------------------------------

def test_fork_from_version_and_label_is_independent(ws_db: Database) -> None:
    db = ws_db
    write(db, "ws", "README", b"v1\n")
    db.commit("ws", [Rename("src/lib", "lib")])
    db.label("ws", "renamed")
    write(db, "ws", "README", b"v3\n")
    v1, v2 = walk(db, "ws", 1), walk(db, "ws", 2)

    a = db.fork("ws", "from-version", 1)
    b = db.fork("ws", "from-label", "renamed")
    head = db.fork("ws", "from-head")
    assert (a.base, a.base_rev, a.version) == ("main", 1, 1)
    assert walk(db, "from-version") == v1
    assert walk(db, "from-label") == v2
    assert walk(db, "from-head") == walk(db, "ws")
    assert walk(db, "from-version", 0) == spec_model(BASE)
    assert db.freeze("from-label") == db.freeze("ws", "renamed")

    # later commits on either side do not leak to the other
    write(db, "ws", "README", b"v4\n")
    db.commit("ws", [Remove("lib", recursive=True)])
    assert walk(db, "from-label") == v2
    write(db, "from-label", "lib/util.py", b"fork\n")
    assert walk(db, "ws", 2) == v2
    assert db.read_file(db.lookup("from-label", "lib/util.py")) == b"fork\n"
    assert db.read_file(db.lookup("ws", "README")) == b"v4\n"

    with pytest.raises(AlreadyExists):
        db.fork("ws", "from-label")
    with pytest.raises(InvalidArgument):
        db.fork("ws", "bad", 99)


def test_fork_of_an_unchanged_version_and_of_a_synced_workspace(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    fork = db.fork("ws", "f0")  # nothing changed: the fork is the base
    assert walk(db, "f0") == spec_model(BASE)
    spec2 = dict(BASE, README=b"rev2\n")
    import_spec(db, tmp_path, spec2)
    write(db, "ws", "docs/guide.md", b"mine\n")
    db.sync("ws")
    fork = db.fork("ws", "f1")
    assert fork.base_rev == 2
    assert walk(db, "f1") == walk(db, "ws")
    older = db.fork("ws", "f2", 1)  # version 1 was on revision 1
    assert older.base_rev == 1
    assert walk(db, "f2") == walk(db, "ws", 1)
    assert db.read_file(db.lookup("f2", "README")) == b"hello\n"


def test_fork_cost_follows_the_changes(db: Database) -> None:
    db.add_base_revision("big", generated_base(db))
    db.create_workspace("ws", "big")
    db.commit("ws", [WriteFile("d01/s01/f001", fentry(b"x")),
                     Remove("d02", recursive=True),
                     Rename("d05/s05", "moved")])
    objects, records = object_count(db), record_count(db)
    db.fork("ws", "copy")
    # only the fork point's trees for the changed directories are written:
    # the root, d01, d01/s01 and d05
    assert object_count(db) == objects + 4
    new = list(db.log_records())[records:]
    assert len(new) == 2  # workspace created, its overlay committed
    committed = new[1][1]
    # only the overlay's live entries are copied: the write, the whiteout, the rename's two
    assert len(committed.writes) == 4
    assert db.freeze("copy") == db.freeze("ws")
    assert db.read_file(db.lookup("copy", "moved/f003")) == b"5/5/3\n"


# --- restore and revert ---------------------------------------------------------------

def test_restore_is_a_new_version_and_keeps_history(ws_db: Database) -> None:
    db = ws_db
    write(db, "ws", "README", b"v1\n")
    db.commit("ws", [WriteFile("new.txt", fentry(b"new")), Rename("src", "source")])
    db.commit("ws", [Remove("README"), Symlink("docs/l", "x", uid=UID, gid=GID)])
    states = {v: walk(db, "ws", v) for v in range(4)}
    assert len({tuple(sorted(s.items())) for s in states.values()}) == 4

    result = db.restore("ws", 1)
    assert result.version == 4
    assert walk(db, "ws") == states[1]
    assert db.freeze("ws") == db.freeze("ws", 1)
    for v, state in states.items():
        assert walk(db, "ws", v) == state  # history is untouched
    db.label("ws", "two", version=2)
    assert db.restore("ws", "two").version == 5
    assert walk(db, "ws") == states[2]
    assert db.restore("ws", 0).version == 6
    assert walk(db, "ws") == spec_model(BASE)
    assert db.freeze("ws") == db.base_revision("main").root
    with pytest.raises(SnapshotNotFound):
        db.restore("ws", "nope")
    with pytest.raises(InvalidArgument):
        db.restore("ws", 42)
    assert db.version_of("ws") == 6


def test_restore_across_a_sync_returns_to_the_old_base(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    write(db, "ws", "docs/guide.md", b"mine\n")
    v1 = walk(db, "ws")
    import_spec(db, tmp_path, dict(BASE, README=b"rev2\n"))
    db.sync("ws")
    assert db.read_file(db.lookup("ws", "README")) == b"rev2\n"
    db.restore("ws", 1)
    assert walk(db, "ws") == v1
    assert db.workspace("ws").base_rev == 1
    assert db.read_file(db.lookup("ws", "README", 2)) == b"rev2\n"


def test_revert_paths(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("README", fentry(b"changed\n")),
                     WriteFile("src/main.py", fentry(b"changed\n")),
                     WriteFile("added.txt", fentry(b"added\n")),
                     Remove("src/lib", recursive=True)])
    v1 = walk(db, "ws")
    result = db.revert("ws", ["README", "src/lib", "added.txt"])
    assert result.version == 2
    now = walk(db, "ws")
    base = spec_model(BASE)
    assert now == dict(base, **{"src/main.py": ("file", b"changed\n", 0o644)})
    assert walk(db, "ws", 1) == v1  # history kept

    # revert to a given version, recreating a parent that the head lacks
    write(db, "ws", "docs/guide.md", b"v3\n")
    db.commit("ws", [Remove("docs", recursive=True)])
    db.revert("ws", ["docs/guide.md"], 3)
    assert db.read_file(db.lookup("ws", "docs/guide.md")) == b"v3\n"
    assert walk(db, "ws")["docs"] == ("dir", None, 0o755)
    # revert of a path that the target lacks deletes it
    db.revert("ws", ["src/main.py"], 0)
    write(db, "ws", "tmp", b"t")
    db.revert("ws", ["tmp"])
    assert "tmp" not in walk(db, "ws")
    with pytest.raises(InvalidArgument):
        db.revert("ws", [])


def test_revert_defaults_to_the_current_base_and_refuses_unknown_paths(
        ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    db.commit("ws", [Remove("README")])                                    # 1
    import_spec(db, tmp_path, dict(BASE, README=b"rev2\n"))
    db.sync("ws")                                                          # 2
    db.set_retention("ws", 1)
    db.gc()  # versions 0 and 1 are gone, and with them the old base revision's view
    assert [v.version for v in db.versions("ws")] == [2]
    result = db.revert("ws", ["README"])
    assert result.version == 3
    assert db.read_file(db.lookup("ws", "README")) == b"rev2\n"  # the base it is on now
    with pytest.raises(PathNotFound):
        db.revert("ws", ["no/such/file"])
    with pytest.raises(PathNotFound):
        db.revert("ws", ["README", "missing"])  # all or nothing
    assert db.workspace("ws").version == 3  # no version made


# --- diff ---------------------------------------------------------------------------

def test_diff_between_workspace_versions(ws_db: Database) -> None:
    db = ws_db
    write(db, "ws", "README", b"v1\n")
    db.commit("ws", [WriteFile("README", fentry(b"v2\n")), WriteFile("src/new.py", fentry(b"n")),
                     Remove("docs/guide.md"), SetAttr("src/main.py", mode=0o755)])
    entries = list(db.diff(WorkspaceRef("ws", version=1), WorkspaceRef("ws", version=2)))
    assert summary(entries) == [
        ("README", Change.MODIFIED, None),
        ("docs/guide.md", Change.DELETED, None),
        ("src/main.py", Change.MODIFIED, None),
        ("src/new.py", Change.ADDED, None),
    ]
    readme = entries[0]
    assert db.read_file(readme.old) == b"v1\n" and db.read_file(readme.new) == b"v2\n"
    assert entries[1].new is None and db.read_file(entries[1].old) == b"# guide\n"
    assert (entries[2].old.mode, entries[2].new.mode) == (0o644, 0o755)
    assert entries[3].old is None
    assert apply_diff(db, walk(db, "ws", 1), entries) == walk(db, "ws", 2)
    # the reverse diff undoes it; a diff with itself is empty
    back = list(db.diff(WorkspaceRef("ws", version=2), WorkspaceRef("ws", version=1)))
    assert apply_diff(db, walk(db, "ws", 2), back) == walk(db, "ws", 1)
    assert list(db.diff(WorkspaceRef("ws"), WorkspaceRef("ws", version=2))) == []


def test_diff_leaves_out_times_but_not_xattrs_or_devices(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [SetAttr("src", mtime_ns=5, ctime_ns=6), SetAttr("", mtime_ns=7),
                     SetAttr("README", atime_ns=9, ctime_ns=10)])
    assert list(db.diff(BaseRef("main"), WorkspaceRef("ws"))) == []
    db.commit("ws", [SetAttr("src", xattrs=((b"user.k", b"v"),)),
                     MakeNode("null", Entry.special(EntryKind.CHARDEV, rdev=0x103))])
    assert summary(db.diff(BaseRef("main"), WorkspaceRef("ws"))) == [
        ("null", Change.ADDED, None), ("src", Change.MODIFIED, None)]
    db.commit("ws", [Remove("null"), MakeNode("null", Entry.special(EntryKind.CHARDEV, rdev=0x105))])
    assert summary(db.diff(WorkspaceRef("ws", version=2), WorkspaceRef("ws"))) == [
        ("null", Change.MODIFIED, None)]


def test_diff_workspace_against_its_base_and_labels(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("src/lib/util.py", fentry(b"x = 2\n")), Remove("link")])
    db.label("ws", "snap")
    db.commit("ws", [MakeDir("empty/sub", uid=UID, gid=GID)])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert summary(entries) == [("empty/sub", Change.ADDED, None), ("link", Change.DELETED, None),
                                ("src/lib/util.py", Change.MODIFIED, None)]
    assert summary(db.diff(BaseRef("main", 1), WorkspaceRef("ws", label="snap"))) == [
        ("link", Change.DELETED, None), ("src/lib/util.py", Change.MODIFIED, None)]
    assert summary(db.diff(WorkspaceRef("ws", label="snap"), WorkspaceRef("ws"))) == [
        ("empty/sub", Change.ADDED, None)]
    assert summary(db.diff(WorkspaceRef("ws"), BaseRef("main"))) == [
        ("empty/sub", Change.DELETED, None), ("link", Change.ADDED, None),
        ("src/lib/util.py", Change.MODIFIED, None)]
    assert list(db.diff(WorkspaceRef("ws", version=0), BaseRef("main", 1))) == []
    # between two workspaces
    db.create_workspace("other", "main")
    assert summary(db.diff(WorkspaceRef("other"), WorkspaceRef("ws", label="snap"))) == [
        ("link", Change.DELETED, None), ("src/lib/util.py", Change.MODIFIED, None)]
    with pytest.raises(BaseNotFound):
        list(db.diff(BaseRef("main", 7), WorkspaceRef("ws")))


def test_diff_between_base_revisions(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    spec2 = dict(BASE)
    spec2["README"] = b"changed\n"        # modified
    del spec2["src/lib/util.py"]           # src/lib deleted with everything below
    del spec2["src/lib/deep/leaf.txt"]
    spec2["docs/guide.md"] = None          # file -> directory
    spec2["docs/guide.md/part1"] = b"1"
    del spec2["link"]
    spec2["link"] = b"now a file"          # symlink -> file
    spec2["new/a/b"] = b"b"                # added directory with everything below
    import_spec(db, tmp_path, spec2)
    entries = list(db.diff(BaseRef("main", 1), BaseRef("main", 2)))
    assert summary(entries) == [
        ("README", Change.MODIFIED, None),
        ("docs/guide.md", Change.TYPE_CHANGED, None),
        ("docs/guide.md/part1", Change.ADDED, None),
        ("link", Change.TYPE_CHANGED, None),
        ("new", Change.ADDED, None),
        ("new/a", Change.ADDED, None),
        ("new/a/b", Change.ADDED, None),
        ("src/lib", Change.DELETED, None),
        ("src/lib/deep", Change.DELETED, None),
        ("src/lib/deep/leaf.txt", Change.DELETED, None),
        ("src/lib/util.py", Change.DELETED, None),
    ]
    assert entries[1].old.kind == EntryKind.FILE and entries[1].new.kind == EntryKind.DIR
    assert entries[3].old.kind == EntryKind.SYMLINK and entries[3].new.kind == EntryKind.FILE
    assert apply_diff(db, spec_model(BASE), entries) == spec_model(spec2)
    assert apply_diff(db, spec_model(spec2), db.diff(BaseRef("main", 2), BaseRef("main", 1))) \
        == spec_model(BASE)
    assert list(db.diff(BaseRef("main", 2), BaseRef("main"))) == []


def test_diff_reports_renames_of_files_and_base_directories(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Rename("README", "READ.ME")])
    assert summary(db.diff(BaseRef("main"), WorkspaceRef("ws"))) == [
        ("READ.ME", Change.RENAMED, "README")]
    entry = next(iter(db.diff(BaseRef("main"), WorkspaceRef("ws"))))
    assert db.read_file(entry.old) == db.read_file(entry.new) == b"hello\n"
    assert entry.new.origin is None

    db.commit("ws", [Rename("src", "source")])
    assert summary(db.diff(WorkspaceRef("ws", version=1), WorkspaceRef("ws"))) == [
        ("source", Change.RENAMED, "src")]
    # a change inside the moved directory is reported at its new place
    db.commit("ws", [WriteFile("source/lib/util.py", fentry(b"moved and changed\n")),
                     Remove("source/main.py")])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert summary(entries) == [
        ("READ.ME", Change.RENAMED, "README"),
        ("source", Change.RENAMED, "src"),
        ("source/lib/util.py", Change.MODIFIED, "src/lib/util.py"),
        ("source/main.py", Change.DELETED, "src/main.py"),
    ]
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "ws")
    # a rename onto an existing path deletes what was there first
    db.commit("ws", [Rename("docs/guide.md", "empty/guide.md")])
    db.commit("ws", [Rename("READ.ME", "empty/guide.md")])
    entries = list(db.diff(WorkspaceRef("ws", version=4), WorkspaceRef("ws")))
    assert apply_diff(db, walk(db, "ws", 4), entries) == walk(db, "ws")
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "ws")


def test_diff_rename_out_of_a_deleted_directory(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Rename("docs/guide.md", "zz"), Remove("docs", recursive=True),
                     Rename("src/lib", "a-lib"), Remove("src", recursive=True)])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert summary(entries) == [
        ("a-lib", Change.RENAMED, "src/lib"),
        ("docs", Change.DELETED, None), ("docs/guide.md", Change.DELETED, None),
        ("src", Change.DELETED, None), ("src/lib", Change.DELETED, None),
        ("src/lib/deep", Change.DELETED, None), ("src/lib/deep/leaf.txt", Change.DELETED, None),
        ("src/lib/util.py", Change.DELETED, None), ("src/main.py", Change.DELETED, None),
        ("zz", Change.RENAMED, "docs/guide.md"),
    ]
    assert db.read_file(entries[-1].old) == b"# guide\n"
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "ws")


def test_diff_ignores_renames_older_than_the_old_side(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Rename("src", "b")])            # v1: b records origin "src"
    db.commit("ws", [MakeDir("src", uid=UID, gid=GID)])  # v2: a new, unrelated src
    db.commit("ws", [Rename("src", "b/a")])          # v3
    entries = list(db.diff(WorkspaceRef("ws", version=2), WorkspaceRef("ws", version=3)))
    assert summary(entries) == [("b/a", Change.RENAMED, "src")]
    assert apply_diff(db, walk(db, "ws", 2), entries) == walk(db, "ws", 3)
    db.commit("ws", [Remove("b/a")])                 # v4
    db.commit("ws", [MakeDir("src", uid=UID, gid=GID)])  # v5
    db.commit("ws", [Remove("src")])                 # v6: b is untouched since v1
    assert summary(db.diff(WorkspaceRef("ws", version=5), WorkspaceRef("ws", version=6))) == [
        ("src", Change.DELETED, None)]
    # against the base, the old rename is still a rename
    assert summary(db.diff(BaseRef("main"), WorkspaceRef("ws"))) == [("b", Change.RENAMED, "src")]


def test_diff_deleted_directory_inside_a_renamed_directory(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Rename("src", "source"), Remove("source/lib", recursive=True),
                     WriteFile("source/main.py", fentry(b"file"))])
    db.commit("ws", [Remove("source/main.py"), MakeDir("source/main.py", uid=UID, gid=GID)])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws", version=1)))
    assert summary(entries) == [
        ("source", Change.RENAMED, "src"),
        ("source/lib", Change.DELETED, "src/lib"),
        ("source/lib/deep", Change.DELETED, "src/lib/deep"),
        ("source/lib/deep/leaf.txt", Change.DELETED, "src/lib/deep/leaf.txt"),
        ("source/lib/util.py", Change.DELETED, "src/lib/util.py"),
        ("source/main.py", Change.MODIFIED, "src/main.py"),
    ]
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "ws", 1)
    # a directory turned into a file inside a renamed directory
    db.commit("ws", [Rename("docs", "documents"), Remove("documents/guide.md"),
                     MakeDir("documents/guide.md", uid=UID, gid=GID)])
    db.create_workspace("other", "main")
    db.commit("other", [Rename("src", "moved"), Remove("moved/lib", recursive=True),
                        WriteFile("moved/lib", fentry(b"lib"))])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("other")))
    assert summary(entries) == [
        ("moved", Change.RENAMED, "src"),
        ("moved/lib", Change.TYPE_CHANGED, "src/lib"),
        ("moved/lib/deep", Change.DELETED, "src/lib/deep"),
        ("moved/lib/deep/leaf.txt", Change.DELETED, "src/lib/deep/leaf.txt"),
        ("moved/lib/util.py", Change.DELETED, "src/lib/util.py"),
    ]
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "other")
    for old in range(db.version_of("ws")):
        entries = list(db.diff(WorkspaceRef("ws", version=old), WorkspaceRef("ws")))
        assert apply_diff(db, walk(db, "ws", old), entries) == walk(db, "ws")


def test_diff_rename_into_an_added_directory(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [MakeDir("newdir", uid=UID, gid=GID), Rename("README", "newdir/x"),
                     MakeDir("newdir/sub", uid=UID, gid=GID), Rename("src/lib", "newdir/sub/lib")])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert summary(entries) == [
        ("newdir", Change.ADDED, None),
        ("newdir/sub", Change.ADDED, None),
        ("newdir/sub/lib", Change.RENAMED, "src/lib"),
        ("newdir/x", Change.RENAMED, "README"),
    ]
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "ws")
    assert "README" not in walk(db, "ws")


def test_diff_type_changes_and_deleted_base_directories(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [Remove("src", recursive=True)])
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert summary(entries) == [
        ("src", Change.DELETED, None), ("src/lib", Change.DELETED, None),
        ("src/lib/deep", Change.DELETED, None), ("src/lib/deep/leaf.txt", Change.DELETED, None),
        ("src/lib/util.py", Change.DELETED, None), ("src/main.py", Change.DELETED, None)]
    assert all(d.new is None for d in entries)
    db.commit("ws", [WriteFile("src", fentry(b"src is a file now"))])    # dir -> file
    db.commit("ws", [Remove("README"), MakeDir("README", uid=UID, gid=GID),
                     WriteFile("README/x", fentry(b"x"))])               # file -> dir
    db.commit("ws", [Remove("link"), WriteFile("link", fentry(b"l"))])    # symlink -> file
    entries = list(db.diff(BaseRef("main"), WorkspaceRef("ws")))
    assert summary(entries) == [
        ("README", Change.TYPE_CHANGED, None), ("README/x", Change.ADDED, None),
        ("link", Change.TYPE_CHANGED, None),
        ("src", Change.TYPE_CHANGED, None), ("src/lib", Change.DELETED, None),
        ("src/lib/deep", Change.DELETED, None), ("src/lib/deep/leaf.txt", Change.DELETED, None),
        ("src/lib/util.py", Change.DELETED, None), ("src/main.py", Change.DELETED, None)]
    assert entries[0].old.kind == EntryKind.FILE and entries[0].new.kind == EntryKind.DIR
    assert apply_diff(db, spec_model(BASE), entries) == walk(db, "ws")
    assert apply_diff(db, walk(db, "ws"), db.diff(WorkspaceRef("ws"), BaseRef("main"))) \
        == spec_model(BASE)


def test_diff_streams(db: Database, tmp_path: Path, open_db: Callable[..., Database]) -> None:
    db.add_base_revision("big", generated_base(db, dirs=30, subdirs=10, files=20))
    db.create_workspace("ws", "big")
    db.commit("ws", [Remove(f"d{d:02}", recursive=True) for d in range(30)])
    db.close()
    fresh = open_db(tmp_path / "db")  # nothing cached
    try:
        loads = []
        loader = fresh._load_tree

        def counting(oid):
            loads.append(oid)
            return loader(oid)
        fresh._load_tree = counting
        stream = fresh.diff(BaseRef("big"), WorkspaceRef("ws"))
        assert inspect.isgenerator(stream)
        first = list(itertools.islice(stream, 3))
        assert summary(first) == [("d00", Change.DELETED, None), ("d00/s00", Change.DELETED, None),
                                  ("d00/s00/f000", Change.DELETED, None)]
        early = len(loads)
        assert early < 10  # not the 331 trees the whole diff reads
        rest = sum(1 for _ in stream)
        assert rest == 30 + 30 * 10 + 30 * 10 * 20 - 3
        assert len(loads) > 300
    finally:
        fresh.close()


def test_diff_cost_follows_the_changes(db: Database) -> None:
    root = generated_base(db)
    db.add_base_revision("big", root)
    db.create_workspace("ws", "big")
    db.commit("ws", [WriteFile("d07/s03/f001", fentry(b"x"))])
    loads = []
    loader = db._load_tree

    def counting(oid):
        loads.append(oid)
        return loader(oid)
    db._load_tree = counting
    assert summary(db.diff(BaseRef("big"), WorkspaceRef("ws"))) == [
        ("d07/s03/f001", Change.MODIFIED, None)]
    assert len(loads) <= 12  # the directories on the way, not the 421 trees
    frozen = db.freeze("ws")
    db.add_base_revision("big", frozen)
    loads.clear()
    assert summary(db.diff(BaseRef("big", 1), BaseRef("big", 2))) == [
        ("d07/s03/f001", Change.MODIFIED, None)]
    assert len(loads) <= 12  # equal subtree ids are skipped


# --- sync ---------------------------------------------------------------------------

def test_sync_without_conflicts(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    write(db, "ws", "src/main.py", b"mine\n")
    import_spec(db, tmp_path, dict(BASE, README=b"theirs\n"))
    before = walk(db, "ws")
    result = db.sync("ws")
    assert (result.version, result.base_rev, result.conflicts) == (2, 2, ())
    state = db.workspace("ws")
    assert (state.version, state.base_rev, state.root) == (2, 2, db.base_revision("main", 2).root)
    assert walk(db, "ws") == dict(before, README=("file", b"theirs\n", 0o644))
    assert walk(db, "ws", 1) == before  # the old version still reads as before
    assert summary(db.diff(BaseRef("main", 2), WorkspaceRef("ws"))) == [
        ("src/main.py", Change.MODIFIED, None)]
    # already there: nothing happens
    assert db.sync("ws") == type(result)("ws", 2, 2, ())
    assert db.version_of("ws") == 2
    with pytest.raises(BaseNotFound):
        db.sync("ws", to_rev=5)


def test_sync_conflicts_keep_the_workspace_version(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("README", fentry(b"mine\n")), WriteFile("docs/guide.md", fentry(b"g\n"))])
    import_spec(db, tmp_path, dict(BASE, README=b"theirs\n", **{"src/main.py": b"theirs\n"}))
    result = db.sync("ws")
    assert result.conflicts == ("README",)
    assert result.base_rev == 2
    assert db.read_file(db.lookup("ws", "README")) == b"mine\n"
    assert db.read_file(db.lookup("ws", "docs/guide.md")) == b"g\n"
    assert db.read_file(db.lookup("ws", "src/main.py")) == b"theirs\n"
    # syncing back to the older revision is allowed too
    back = db.sync("ws", to_rev=1)
    assert back.base_rev == 1 and back.conflicts == ("README",)
    assert db.read_file(db.lookup("ws", "src/main.py")) == b"print('hi')\n"


def test_sync_refuse_conflicts_changes_nothing(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("README", fentry(b"mine\n")), Remove("src/lib/deep", recursive=True)])
    spec2 = dict(BASE, README=b"theirs\n", **{"src/lib/deep/leaf.txt": b"theirs\n", "docs/guide.md": b"ok"})
    import_spec(db, tmp_path, spec2)
    state, before, records = db.workspace("ws"), walk(db, "ws"), record_count(db)
    with pytest.raises(Conflict) as caught:
        db.sync("ws", refuse_conflicts=True)
    assert caught.value.paths == ("README", "src/lib/deep")
    assert db.workspace("ws") == state
    assert walk(db, "ws") == before
    assert record_count(db) == records
    result = db.sync("ws")
    assert result.conflicts == ("README", "src/lib/deep")
    assert "src/lib/deep" not in walk(db, "ws")  # the workspace's delete wins
    assert db.read_file(db.lookup("ws", "docs/guide.md")) == b"ok"


def test_sync_keeps_files_added_to_a_directory_the_base_deleted(ws_db: Database, tmp_path: Path) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("src/lib/new.txt", fentry(b"new\n")),
                     WriteFile("src/lib/deep/leaf.txt", fentry(b"edited\n"))])
    spec2 = {k: v for k, v in BASE.items() if not k.startswith("src/")}
    import_spec(db, tmp_path, spec2)
    result = db.sync("ws")
    assert "src/lib/new.txt" in result.conflicts
    assert "src/lib/deep/leaf.txt" in result.conflicts
    assert db.read_file(db.lookup("ws", "src/lib/new.txt")) == b"new\n"
    assert db.read_file(db.lookup("ws", "src/lib/deep/leaf.txt")) == b"edited\n"
    now = walk(db, "ws")
    assert sorted(p for p in now if p.startswith("src")) == [
        "src", "src/lib", "src/lib/deep", "src/lib/deep/leaf.txt", "src/lib/new.txt"]
    # what the base deleted and the workspace did not touch is gone
    assert "src/main.py" not in now and "src/lib/util.py" not in now
    assert db.freeze("ws") == db.freeze("ws")
    assert walk_tree(db, db.freeze("ws")) == now


# --- submit -------------------------------------------------------------------------

def test_submit_makes_the_frozen_workspace_the_next_revision(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("README", fentry(b"submitted\n")), Rename("src/lib", "lib"),
                     Remove("docs", recursive=True)])
    frozen, model = db.freeze("ws"), walk(db, "ws")
    result = db.submit("ws", "my change")
    assert result.revision.rev == 2
    assert result.revision.root == frozen
    assert result.revision.message == "my change"
    assert db.base_revision("main") == result.revision
    state = db.workspace("ws")
    assert (state.base_rev, state.version, state.root) == (2, 2, frozen)
    assert result.version == 2
    assert walk(db, "ws") == model
    assert list(db.diff(BaseRef("main"), WorkspaceRef("ws"))) == []
    assert list(db.diff(WorkspaceRef("ws"), BaseRef("main", 2))) == []
    assert walk_tree(db, frozen) == model
    assert walk(db, "ws", 1) == model and walk(db, "ws", 0) == spec_model(BASE)
    db.create_workspace("fresh", "main")
    assert walk(db, "fresh") == model
    with pytest.raises(FailedPrecondition):
        db.submit("ws")  # the overlay is empty now
    assert db.base_revision("main").rev == 2


def test_submit_nothing_fails(ws_db: Database) -> None:
    db = ws_db
    with pytest.raises(FailedPrecondition):
        db.submit("ws")
    assert db.base_revision("main").rev == 1
    assert db.version_of("ws") == 0


def test_submit_refused_when_the_base_moved_under_changed_paths(ws_db: Database) -> None:
    db = ws_db
    db.create_workspace("other", "main")
    write(db, "ws", "README", b"ws\n")
    db.commit("other", [WriteFile("README", fentry(b"other\n")), WriteFile("src/main.py", fentry(b"o"))])
    db.submit("other")
    state, before = db.workspace("ws"), walk(db, "ws")
    with pytest.raises(Conflict) as caught:
        db.submit("ws")
    assert caught.value.paths == ("README",)
    assert "README" in str(caught.value)
    assert db.workspace("ws") == state
    assert walk(db, "ws") == before
    assert db.base_revision("main").rev == 2
    # sync, keep the conflict as ours, then submit succeeds
    assert db.sync("ws").conflicts == ("README",)
    result = db.submit("ws")
    assert result.revision.rev == 3
    assert db.read_file(db.lookup("ws", "README")) == b"ws\n"
    assert db.read_file(db.lookup("ws", "src/main.py")) == b"o"


def test_submit_rebases_when_the_base_moved_elsewhere(ws_db: Database) -> None:
    db = ws_db
    db.create_workspace("other", "main")
    db.commit("ws", [WriteFile("README", fentry(b"ws\n")), MakeDir("wsdir", uid=UID, gid=GID)])
    db.commit("other", [WriteFile("docs/guide.md", fentry(b"other\n")), Remove("src/lib/deep", recursive=True)])
    r2 = db.submit("other").revision
    result = db.submit("ws")
    assert result.revision.rev == 3
    expected = walk_tree(db, r2.root)
    expected["README"] = ("file", b"ws\n", 0o644)
    expected["wsdir"] = ("dir", None, 0o755)
    assert walk_tree(db, result.revision.root) == expected
    assert walk(db, "ws") == expected
    state = db.workspace("ws")
    assert (state.base_rev, state.root) == (3, result.revision.root)
    assert list(db.diff(BaseRef("main"), WorkspaceRef("ws"))) == []
    assert db.freeze("ws") == result.revision.root
    # the submitted workspace's earlier version still reads its old base
    assert db.read_file(db.lookup("ws", "docs/guide.md", 1)) == b"# guide\n"


# --- garbage collection -------------------------------------------------------------

def test_gc_dry_run_then_delete_workspace(ws_db: Database) -> None:
    db = ws_db
    db.create_workspace("keep", "main")
    only_ws = big_file(db, b"a" * 5000)
    shared = big_file(db, b"s" * 6000)
    db.commit("ws", [WriteFile("only", only_ws), WriteFile("shared", shared),
                     WriteFile("src/x", fentry(b"x")), Rename("src", "moved")])
    db.commit("keep", [WriteFile("shared", shared), MakeDir(LONG), WriteFile(f"{LONG}/deep", big_file(db, b"d" * 5000))])
    kept_models = {v: walk(db, "keep", v) for v in range(2)}
    assert db.gc().objects_freed == 0  # everything is reachable
    total = object_count(db)

    db.delete_workspace("ws")
    report = db.gc(dry_run=True)
    assert report.dry_run
    assert report.objects_freed == 2  # the chunk only ws used and the renamed dir's tree
    assert report.bytes_freed > 5000
    assert object_count(db) == total  # nothing freed
    assert db.objects.has([only_ws.chunks[0]]) == [True]

    real = db.gc()
    assert not real.dry_run
    assert (real.objects_freed, real.bytes_freed) == (report.objects_freed, report.bytes_freed)
    assert real.objects_live == total - real.objects_freed == object_count(db)
    assert db.objects.has([only_ws.chunks[0], shared.chunks[0]]) == [False, True]
    with pytest.raises(ObjectMissing):
        db.objects.get(only_ws.chunks[0])
    for v, model in kept_models.items():
        assert walk(db, "keep", v) == model
    db.create_workspace("again", "main")
    assert walk(db, "again") == spec_model(BASE)
    assert db.gc().objects_freed == 0


def test_gc_frees_what_only_an_unlabelled_pruned_version_reached(ws_db: Database) -> None:
    db = ws_db
    contents = [bytes([65 + i]) * (5000 + i) for i in range(4)]
    files = [big_file(db, c) for c in contents]
    for f in files:
        db.commit("ws", [WriteFile("data", f)])  # versions 1..4
    db.label("ws", "first", version=1)
    db.set_retention("ws", 1)
    report = db.gc()
    assert report.versions_pruned == 3  # versions 0, 2 and 3
    assert [v.version for v in db.versions("ws")] == [1, 4]
    assert db.objects.has([f.chunks[0] for f in files]) == [True, False, False, True]
    with pytest.raises(InvalidArgument, match=r"has versions 1 to 4 \(older ones were garbage"):
        db.lookup("ws", "data", 9)  # the range named is what is left, not "0 to 4"
    with pytest.raises(InvalidArgument, match="versions 1 to 4"):
        db.changes("ws", 9)
    assert db.read_file(db.lookup("ws", "data", db.version_of("ws", "first"))) == contents[0]
    assert db.read_file(db.lookup("ws", "data")) == contents[3]
    for v in (0, 2, 3):
        with pytest.raises(HistoryTruncated):
            db.lookup("ws", "data", v)
    assert db.gc().versions_pruned == 0

    db.unlabel("ws", "first")
    dry = db.gc(dry_run=True)
    assert dry.versions_pruned == 1 and dry.objects_freed == 1
    assert [v.version for v in db.versions("ws")] == [1, 4]  # a dry run prunes nothing
    assert db.read_file(db.lookup("ws", "data", 1)) == contents[0]
    report = db.gc()
    assert (report.versions_pruned, report.objects_freed) == (1, 1)
    assert db.objects.has([files[0].chunks[0], files[3].chunks[0]]) == [False, True]
    with pytest.raises(HistoryTruncated):
        db.listdir("ws", "", 1)
    with pytest.raises(HistoryTruncated):
        db.fork("ws", "old", 1)
    assert db.read_file(db.lookup("ws", "data")) == contents[3]


def test_gc_retention_keeps_newest_and_labelled_versions(ws_db: Database) -> None:
    db = ws_db
    for i in range(1, 8):
        db.commit("ws", [WriteFile(f"file{i}", fentry(b"%d" % i)), Remove(f"file{i - 1}")]
                  if i > 1 else [WriteFile("file1", fentry(b"1"))])
    models = {v: walk(db, "ws", v) for v in range(8)}
    db.label("ws", "two", version=2)
    db.label("ws", "zero", version=0)
    # default: keep everything
    assert db.gc().versions_pruned == 0
    assert [v.version for v in db.versions("ws")] == list(range(8))
    db.set_retention("ws", 3)
    report = db.gc()
    assert report.versions_pruned == 3  # 1, 3 and 4
    kept = [0, 2, 5, 6, 7]
    assert [v.version for v in db.versions("ws")] == kept
    for v in kept:
        assert walk(db, "ws", v) == models[v]
    for v in (1, 3, 4):
        with pytest.raises(HistoryTruncated):
            walk(db, "ws", v)
        with pytest.raises(HistoryTruncated):
            db.restore("ws", v)
    assert walk(db, "ws", db.version_of("ws", "two")) == models[2]
    # diff and restore still work between kept versions
    assert apply_diff(db, models[2], db.diff(WorkspaceRef("ws", label="two"), WorkspaceRef("ws", version=6))) \
        == models[6]
    db.restore("ws", "two")
    assert walk(db, "ws") == models[2]
    with pytest.raises(InvalidArgument):
        db.set_retention("ws", -1)
    db.set_retention("ws", 0)  # back to keeping everything
    assert db.gc().versions_pruned == 0


def test_rebuild_after_gc_gives_identical_answers(ws_db: Database, tmp_path: Path,
                                                 open_db: Callable[..., Database]) -> None:
    db = ws_db
    db.create_workspace("gone", "main")
    db.commit("gone", [WriteFile("g", big_file(db, b"g" * 9000))])
    for i in range(5):
        long_dirs = [MakeDir(LONG), MakeDir(f"{LONG}/{LONG}")] if i == 0 else []
        db.commit("ws", long_dirs + [WriteFile("README", fentry(b"%d" % i)), WriteFile(f"f{i}", big_file(db, bytes([i]) * 5000)),
                         WriteFile(f"{LONG}/{LONG}/f", big_file(db, bytes([i]) * 5001))])
    db.label("ws", "l2", version=2)
    import_spec(db, tmp_path, dict(BASE, README=b"rev2\n"))
    db.sync("ws")
    db.fork("ws", "fork", "l2")
    db.set_retention("ws", 2)
    db.delete_workspace("gone")
    db.gc()

    def answers() -> dict:
        out = {}
        for state in db.list_workspaces():
            name = state.name
            versions = db.versions(name)
            out[name] = (state, versions, db.labels(name),
                         {v.version: walk(db, name, v.version) for v in versions},
                         {v.version: db.freeze(name, v.version) for v in versions})
        out["bases"] = db.base_history("main")
        return out

    before = answers()
    assert sorted(before) == ["bases", "fork", "ws"]
    assert [v.version for v in before["ws"][1]] == [2, 5, 6]
    assert db.rebuild() == record_count(db)
    assert answers() == before
    db.verify_log()
    assert db.gc().versions_pruned == 0  # (it frees only the trees freeze() just wrote)
    assert answers() == before
    db.close()
    with open_db(tmp_path / "db") as reopened:
        db = reopened
        assert answers() == before


def test_fsck_finds_corrupt_and_missing_objects_and_rebuilds(ws_db: Database) -> None:
    big = os.urandom(2 * CHUNK_SIZE)
    chunks = split_chunks(big)
    ids = ws_db.objects.put_many([(ObjectKind.CHUNK, c, None) for c in chunks])
    ws_db.commit("ws", [WriteFile("big", Entry.file(chunks=tuple(ids), size=len(big))),
                        MakeDir(LONG), WriteFile(f"{LONG}/big", Entry.file(chunks=tuple(ids), size=len(big)))])
    report = ws_db.fsck()
    assert report.ok and report.objects >= 2 and report.records >= 3 and not report.rebuilt
    corrupt_object(ws_db.objects, ids[0], b"bad")
    ws_db.objects.delete([ids[1]])
    found = ws_db.fsck(rebuild=True)
    assert found.corrupt == (ids[0],) and found.missing == (ids[1],) and found.rebuilt
    assert not found.ok
    assert ws_db.lookup("ws", "big").chunks == tuple(ids)
