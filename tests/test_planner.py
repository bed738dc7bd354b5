"""storage.planner through Database.commit: the POSIX rules of each operation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.errors import (AlreadyExists, CitcError, DirectoryNotEmpty, InvalidArgument,
                           InvalidPath, IsADirectory, NotADirectory, PathNotFound)
from citcfs.storage import (Database, MakeDir, MakeNode, Op, Remove, Rename, SetAttr, Symlink,
                            WriteFile)
from citcfs.storage import keys

F = Entry.file


def ls(db: Database, path: str = "", version: int | None = None) -> list[str]:
    return [name for name, _ in db.listdir("ws", path, version)]


def walk(db: Database, version: int | None = None, path: str = "") -> dict[str, Entry]:
    out = {}
    for name, entry in db.listdir("ws", path, version):
        child = paths.join(path, name)
        out[child] = entry
        if entry.is_dir:
            out.update(walk(db, version, child))
    return out


def exists(db: Database, path: str, version: int | None = None) -> bool:
    try:
        db.lookup("ws", path, version)
    except PathNotFound:
        return False
    return True


def refused(db: Database, ops: list[Op], error: type[CitcError]) -> None:
    """The commit raises `error` and leaves the workspace as it was."""
    version = db.workspace("ws").version
    before = walk(db)
    records = list(db.log_records())
    with pytest.raises(error):
        db.commit("ws", ops)
    assert db.workspace("ws").version == version
    assert walk(db) == before
    assert list(db.log_records()) == records


# --- write, mkdir, symlink ------------------------------------------------------------

def test_write_new_and_replace(ws_db: Database) -> None:
    r = ws_db.commit("ws", [WriteFile("new.txt", F(b"n")), WriteFile("README", F(b"again"))])
    assert r.version == 1 and set(r.paths) == {"new.txt", "README"}
    assert ws_db.read_file(ws_db.lookup("ws", "new.txt")) == b"n"
    assert ws_db.read_file(ws_db.lookup("ws", "README")) == b"again"
    assert ws_db.read_file(ws_db.lookup("ws", "README", 0)) == b"hello\n"
    ws_db.commit("ws", [WriteFile("link", F(b"over a symlink"))])
    assert ws_db.lookup("ws", "link").kind == EntryKind.FILE


def test_write_errors(ws_db: Database) -> None:
    refused(ws_db, [WriteFile("src", F(b"x"))], IsADirectory)
    refused(ws_db, [WriteFile("nope/f", F(b"x"))], PathNotFound)
    refused(ws_db, [WriteFile("README/f", F(b"x"))], NotADirectory)
    refused(ws_db, [WriteFile("d", Entry.directory())], InvalidArgument)
    refused(ws_db, [WriteFile("f", Entry(EntryKind.FILE, size=2, inline=b"x"))], InvalidArgument)
    refused(ws_db, [WriteFile("", F(b"x"))], InvalidPath)
    refused(ws_db, [], InvalidArgument)


def test_mkdir_and_symlink(ws_db: Database) -> None:
    ws_db.commit("ws", [MakeDir("d", mode=0o700, mtime_ns=5), MakeDir("d/e"),
                        WriteFile("d/e/f", F(b"f")), Symlink("d/ln", "e/f", mtime_ns=6)])
    d = ws_db.lookup("ws", "d")
    assert d.is_dir and d.mode == 0o700 and d.mtime_ns == 5
    assert ls(ws_db, "d") == ["e", "ln"]
    ln = ws_db.lookup("ws", "d/ln")
    assert ln.kind == EntryKind.SYMLINK and ln.target == "e/f" and ln.mtime_ns == 6
    assert not exists(ws_db, "d", 0)


@pytest.mark.parametrize("op", [MakeDir, lambda p: Symlink(p, "t")])
@pytest.mark.parametrize("path", ["README", "src", "link", "empty", ""])
def test_create_existing_path(ws_db: Database, op: Callable[[str], Op], path: str) -> None:
    refused(ws_db, [op(path)], InvalidPath if path == "" else AlreadyExists)


def test_create_errors(ws_db: Database) -> None:
    refused(ws_db, [MakeDir("no/such")], PathNotFound)
    refused(ws_db, [MakeDir("README/x")], NotADirectory)
    refused(ws_db, [Symlink("x", "")], InvalidArgument)
    refused(ws_db, [MakeDir("x", mode=0o17777)], InvalidArgument)


# --- remove ---------------------------------------------------------------------------

def test_remove_file_and_empty_dir(ws_db: Database) -> None:
    ws_db.commit("ws", [Remove("README", must_be_dir=False), Remove("empty", must_be_dir=True),
                        Remove("link")])
    assert ls(ws_db) == ["docs", "src"]
    assert ls(ws_db, "", 0) == ["README", "docs", "empty", "link", "src"]


def test_remove_errors(ws_db: Database) -> None:
    refused(ws_db, [Remove("src")], DirectoryNotEmpty)
    refused(ws_db, [Remove("src", must_be_dir=False, recursive=True)], IsADirectory)
    refused(ws_db, [Remove("README", must_be_dir=True)], NotADirectory)
    refused(ws_db, [Remove("missing")], PathNotFound)
    refused(ws_db, [Remove("README/x")], NotADirectory)
    refused(ws_db, [Remove("", recursive=True)], InvalidPath)


def test_remove_recursive_drops_overlay_below(ws_db: Database) -> None:
    ws_db.commit("ws", [WriteFile("src/lib/new.py", F(b"n")), MakeDir("src/nd"),
                        WriteFile("src/nd/f", F(b"f"))])
    ws_db.commit("ws", [Remove("src", recursive=True)])
    assert not exists(ws_db, "src")
    assert ls(ws_db, "src/lib", 1) == ["deep", "new.py", "util.py"]
    # A directory created only in the overlay leaves no whiteout behind.
    ws_db.commit("ws", [MakeDir("tmp"), WriteFile("tmp/f", F(b"1"))])
    r = ws_db.commit("ws", [Remove("tmp", recursive=True)])
    record = list(ws_db.log_records())[-1][1]
    assert all(w.entry is None for w in record.writes) and set(r.paths) == {"tmp", "tmp/f"}


def test_delete_then_recreate_directory_hides_old_children(ws_db: Database) -> None:
    ws_db.commit("ws", [WriteFile("src/lib/added", F(b"a"))])
    ws_db.commit("ws", [Remove("src", recursive=True)])
    ws_db.commit("ws", [MakeDir("src")])
    assert ls(ws_db, "src") == []
    for gone in ("src/main.py", "src/lib", "src/lib/added", "src/lib/deep/leaf.txt"):
        assert not exists(ws_db, gone)
    ws_db.commit("ws", [MakeDir("src/lib")])
    assert ls(ws_db, "src/lib") == []
    # In one commit as well.
    ws_db.commit("ws", [Remove("docs", recursive=True), MakeDir("docs"), WriteFile("docs/n", F(b""))])
    assert ls(ws_db, "docs") == ["n"]
    assert ls(ws_db, "docs", 0) == ["guide.md"]
    assert ls(ws_db, "src/lib", 1) == ["added", "deep", "util.py"]


# --- rename ---------------------------------------------------------------------------

def test_rename_file(ws_db: Database) -> None:
    ws_db.commit("ws", [Rename("README", "docs/README")])
    assert not exists(ws_db, "README")
    moved = ws_db.lookup("ws", "docs/README")
    assert ws_db.read_file(moved) == b"hello\n" and moved.origin == "README"
    ws_db.commit("ws", [Rename("docs/README", "docs/README")])  # same path: nothing changes
    assert ws_db.read_file(ws_db.lookup("ws", "docs/README")) == b"hello\n"


def test_rename_file_over_existing_file_and_symlink(ws_db: Database) -> None:
    ws_db.commit("ws", [Rename("README", "src/main.py")])
    assert ws_db.read_file(ws_db.lookup("ws", "src/main.py")) == b"hello\n"
    assert ls(ws_db) == ["docs", "empty", "link", "src"]
    ws_db.commit("ws", [Rename("docs/guide.md", "link")])
    assert ws_db.lookup("ws", "link").kind == EntryKind.FILE


def test_rename_dir_over_empty_dir(ws_db: Database) -> None:
    ws_db.commit("ws", [Rename("docs", "empty")])
    assert ls(ws_db, "empty") == ["guide.md"]
    assert not exists(ws_db, "docs")


def test_rename_errors(ws_db: Database) -> None:
    refused(ws_db, [Rename("README", "src")], IsADirectory)
    refused(ws_db, [Rename("src", "README")], NotADirectory)
    refused(ws_db, [Rename("docs", "src")], DirectoryNotEmpty)
    refused(ws_db, [Rename("README", "docs/guide.md", no_replace=True)], AlreadyExists)
    refused(ws_db, [Rename("missing", "x")], PathNotFound)
    refused(ws_db, [Rename("README", "missing/x")], PathNotFound)
    refused(ws_db, [Rename("src", "src/lib/inside")], InvalidArgument)
    refused(ws_db, [Rename("src", "src/sub")], InvalidArgument)
    refused(ws_db, [Rename("", "x")], InvalidPath)
    refused(ws_db, [Rename("README", "")], InvalidPath)
    refused(ws_db, [Rename("src/lib", "src")], DirectoryNotEmpty)


def test_rename_dir_carries_overlay_changes(ws_db: Database) -> None:
    ws_db.commit("ws", [WriteFile("src/lib/new.py", F(b"n")), Remove("src/main.py"),
                        SetAttr("src/lib/util.py", mode=0o600)])
    before = {k[len("src/"):]: v for k, v in walk(ws_db).items() if k.startswith("src/")}
    ws_db.commit("ws", [Rename("src", "moved")])
    after = {k[len("moved/"):]: v for k, v in walk(ws_db).items() if k.startswith("moved/")}
    strip = {k: v.replace(tree=None, opaque=False, origin=None) for k, v in before.items()}
    assert {k: v.replace(tree=None, opaque=False, origin=None) for k, v in after.items()} == strip
    assert not exists(ws_db, "src")
    assert ws_db.lookup("ws", "moved").origin == "src"
    # The renamed directory can be changed further, and renamed back.
    ws_db.commit("ws", [WriteFile("moved/lib/deep/more", F(b"m")), Rename("moved", "src")])
    assert ls(ws_db, "src/lib/deep") == ["leaf.txt", "more"]
    assert ls(ws_db, "src/lib") == ["deep", "new.py", "util.py"]


def test_rename_big_base_directory_is_constant_size(
        db: Database, make_tree: Callable[..., Path]) -> None:
    spec: dict[str, object] = {f"big/d{i // 100}/f{i}": b"x" for i in range(1500)}
    db.import_directory("main", str(make_tree(spec)))
    db.create_workspace("ws", "main")
    result = db.commit("ws", [Rename("big", "renamed")])
    assert sorted(result.paths) == ["big", "renamed"]
    with db.kv.read() as txn:
        overlay_keys = list(txn.range(keys.OVERLAY, b""))
    assert len(overlay_keys) == 2
    assert len(ls(db, "renamed")) == 15
    assert ls(db, "renamed/d7")[:2] == ["f700", "f701"]
    # A renamed subtree stays one entry even after a second rename of its parent.
    r2 = db.commit("ws", [Rename("renamed/d3", "d3")])
    assert len(r2.paths) == 2 and len(ls(db, "d3")) == 100


def test_rename_within_one_commit_sees_earlier_ops(ws_db: Database) -> None:
    ws_db.commit("ws", [MakeDir("a"), WriteFile("a/f", F(b"1")), Rename("a", "b"),
                        Rename("b/f", "b/g"), Remove("README"), Rename("docs/guide.md", "README")])
    assert ls(ws_db, "b") == ["g"]
    assert ws_db.read_file(ws_db.lookup("ws", "README")) == b"# guide\n"
    assert not exists(ws_db, "a")


def test_a_directory_changed_within_one_commit_is_resolved_again(ws_db: Database) -> None:
    """The parent directories an operation resolved are not trusted after a later
    operation in the same commit moved, removed or replaced them (or an ancestor)."""
    refused(ws_db, [MakeDir("a"), WriteFile("a/f", F(b"1")), Rename("a", "b"),
                    WriteFile("a/g", F(b"2"))], PathNotFound)
    refused(ws_db, [MakeDir("p"), MakeDir("p/q"), WriteFile("p/q/f", F(b"1")),
                    Remove("p", recursive=True), WriteFile("p/q/g", F(b"2"))], PathNotFound)
    refused(ws_db, [MakeDir("d"), WriteFile("d/f", F(b"1")), Remove("d/f"), Remove("d"),
                    WriteFile("d", F(b"now a file")), WriteFile("d/g", F(b"2"))], NotADirectory)
    ws_db.commit("ws", [MakeDir("x"), WriteFile("x/f", F(b"1")), Remove("x/f"), Remove("x"),
                        WriteFile("x", F(b"2")), Remove("x"), MakeDir("x"),
                        WriteFile("x/h", F(b"3"))], skip_failing=True)
    assert ls(ws_db, "x") == ["h"]
    # An operation left out takes back what it wrote, and what it resolved.
    result = ws_db.commit("ws", [MakeDir("y"), Rename("y", "z"), WriteFile("y/f", F(b"1")),
                                 WriteFile("z/f", F(b"2"))], skip_failing=True)
    assert [index for index, _ in result.skipped] == [2]
    assert ls(ws_db, "z") == ["f"] and not exists(ws_db, "y")


# --- setattr --------------------------------------------------------------------------

def test_setattr_on_base_paths(ws_db: Database) -> None:
    ws_db.commit("ws", [SetAttr("README", mode=0o755, mtime_ns=123),
                        SetAttr("src", mode=0o700), SetAttr("", mode=0o711, mtime_ns=9),
                        SetAttr("link", mtime_ns=1)])
    readme = ws_db.lookup("ws", "README")
    assert (readme.mode, readme.mtime_ns) == (0o755, 123)
    assert ws_db.read_file(readme) == b"hello\n"
    assert ws_db.lookup("ws", "src").mode == 0o700
    assert ls(ws_db, "src") == ["lib", "main.py"]
    root = ws_db.lookup("ws", "")
    assert (root.mode, root.mtime_ns) == (0o711, 9)
    assert ls(ws_db) == ["README", "docs", "empty", "link", "src"]
    assert ws_db.lookup("ws", "link").target == "README"


def test_setattr_inside_renamed_dir_and_errors(ws_db: Database) -> None:
    ws_db.commit("ws", [Rename("src", "s"), SetAttr("s/lib", mode=0o700),
                        SetAttr("s/main.py", mtime_ns=77)])
    assert ls(ws_db, "s/lib") == ["deep", "util.py"]
    assert ws_db.lookup("ws", "s/main.py").mtime_ns == 77
    refused(ws_db, [SetAttr("missing", mode=0o644)], PathNotFound)
    refused(ws_db, [SetAttr("README", mode=0o10000)], InvalidArgument)


def test_failed_batch_changes_nothing(ws_db: Database) -> None:
    refused(ws_db, [WriteFile("ok", F(b"1")), Remove("README"), MakeDir("src")], AlreadyExists)
    assert not exists(ws_db, "ok")
    assert exists(ws_db, "README")


# --- special files, times, extended attributes -----------------------------------------

def test_make_node_and_new_attributes(ws_db: Database) -> None:
    fifo = Entry.special(EntryKind.FIFO, mode=0o600, mtime_ns=3)
    dev = Entry.special(EntryKind.CHARDEV, mode=0o666, rdev=0x103)
    xattrs = ((b"user.k", b"v"),)
    ws_db.commit("ws", [MakeNode("p", fifo), MakeNode("src/null", dev),
                        SetAttr("README", atime_ns=1, ctime_ns=50, xattrs=xattrs),
                        SetAttr("p", mtime_ns=4, ctime_ns=4)])
    assert ws_db.lookup("ws", "p") == fifo.replace(mtime_ns=4)
    assert ws_db.lookup("ws", "src/null") == dev
    readme = ws_db.lookup("ws", "README")
    assert (readme.st_atime_ns, readme.st_ctime_ns, readme.xattrs) == (1, 50, xattrs)
    assert ws_db.read_file(readme) == b"hello\n"
    refused(ws_db, [MakeNode("p", fifo)], AlreadyExists)
    refused(ws_db, [MakeNode("q", F(b""))], InvalidArgument)
    refused(ws_db, [MakeNode("missing/q", fifo)], PathNotFound)
    refused(ws_db, [SetAttr("README", xattrs=((b"bad.k", b""),))], InvalidArgument)
    ws_db.commit("ws", [Remove("p"), Rename("src/null", "null")])
    assert not exists(ws_db, "p") and ws_db.lookup("ws", "null").replace(origin=None) == dev
