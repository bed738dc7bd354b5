"""A hypothesis state machine: random operations on a workspace and on a plain model.

The workspace lies over a small imported base with nested directories, so renames and
deletes of base directories (whole trees, overlay changes inside them) happen often.
The model is a dict path -> (kind, content or target, mode, mtime) that applies the
POSIX rules directly; an invalid operation must fail in both, with the same error.
After every step each version ever committed must read back exactly as the model had
it: the newest through `listdir` and `lookup` of every path, older ones through
`listdir` walks (`lookup` was checked when they were new), and all of them through
both again after `rebuild` and after reopening the data directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hypothesis import HealthCheck, event, settings, strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule, run_state_machine_as_test)

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.errors import (AlreadyExists, CitcError, DirectoryNotEmpty, InvalidArgument,
                           InvalidPath, IsADirectory, NotADirectory, PathNotFound)
from citcfs.objects import INLINE_MAX, ObjectKind
from citcfs.storage import (Database, MakeDir, Op, Remove, Rename, SetAttr, Symlink,
                            WriteFile)

Node = tuple[str, object, int, int]
"""(kind, content bytes | symlink target | None, mode, mtime_ns)."""

BASE_MTIME = 1_600_000_000_000_000_000
BASE: dict[str, object] = {
    "top": b"top",
    "a/f1": b"one",
    "a/e": None,
    "a/b/f2": b"two",
    "a/b/c/f3": b"three",
    "a/b/c/d/f4": b"four",
    "x/g": b"g",
    "x/ln": ("symlink", "g"),
}
NAMES = ["a", "b", "c", "d", "e", "f1", "f2", "g", "x", "new",
         "L" * 201]  # a parent past keys.PARENT_KEY_MAX: keys hold it cut and hashed
MODES = [0o644, 0o600, 0o755, 0o700]


def base_model() -> dict[str, Node]:
    items: dict[str, Node] = {"": ("dir", None, 0o755, 0)}
    for rel, what in BASE.items():
        parts = rel.split("/")
        for i in range(1, len(parts)):
            items["/".join(parts[:i])] = ("dir", None, 0o755, BASE_MTIME)
        if what is None:
            items[rel] = ("dir", None, 0o755, BASE_MTIME)
        elif isinstance(what, tuple):
            items[rel] = ("symlink", what[1], 0o777, BASE_MTIME)
        else:
            items[rel] = ("file", what, 0o644, BASE_MTIME)
    return items


def make_base_directory(root: Path) -> Path:
    for rel, what in BASE.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if what is None:
            path.mkdir()
        elif isinstance(what, tuple):
            os.symlink(what[1], path)
        else:
            path.write_bytes(what)  # type: ignore[arg-type]
    for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
        os.utime(path, ns=(BASE_MTIME, BASE_MTIME), follow_symlinks=False)
    return root


class Model:
    """The workspace as POSIX would have it; "" is the root."""

    def __init__(self, items: dict[str, Node]) -> None:
        self.items = dict(items)

    def copy(self) -> "Model":
        return Model(self.items)

    def resolve(self, path: str) -> Node:
        current = ""
        for name in paths.components(path):
            if self.items[current][0] != "dir":
                raise NotADirectory(current)
            current = paths.join(current, name)
            if current not in self.items:
                raise PathNotFound(current)
        return self.items[current]

    def check_parent(self, path: str) -> None:
        if path == "":
            raise InvalidPath("root")
        parent = paths.split(path)[0]
        if self.resolve(parent)[0] != "dir":
            raise NotADirectory(parent)

    def below(self, path: str) -> list[str]:
        return [p for p in self.items if p != path and p and paths.is_within(p, path)]

    def drop(self, path: str) -> None:
        for p in self.below(path) + [path]:
            self.items.pop(p, None)

    def write(self, path: str, data: bytes, mode: int, mtime: int) -> None:
        self.check_parent(path)
        if path in self.items and self.items[path][0] == "dir":
            raise IsADirectory(path)
        self.items[path] = ("file", data, mode, mtime)

    def create(self, path: str, node: Node) -> None:
        self.check_parent(path)
        if path in self.items:
            raise AlreadyExists(path)
        self.items[path] = node

    def remove(self, path: str, recursive: bool) -> None:
        self.check_parent(path)
        node = self.resolve(path)
        if node[0] == "dir" and self.below(path) and not recursive:
            raise DirectoryNotEmpty(path)
        self.drop(path)

    def rename(self, src: str, dst: str) -> None:
        self.check_parent(src)
        node = self.resolve(src)
        self.check_parent(dst)
        if src == dst:
            return
        is_dir = node[0] == "dir"
        if is_dir and paths.is_within(dst, src):
            raise InvalidArgument("into itself")
        target = self.items.get(dst)
        if target is not None:
            if is_dir and target[0] != "dir":
                raise NotADirectory(dst)
            if not is_dir and target[0] == "dir":
                raise IsADirectory(dst)
            if target[0] == "dir" and self.below(dst):
                raise DirectoryNotEmpty(dst)
        moved = {dst + p[len(src):]: self.items[p] for p in [src] + self.below(src)}
        self.drop(src)
        self.drop(dst)
        self.items.update(moved)

    def setattr(self, path: str, mode: int | None, mtime: int | None) -> None:
        kind, content, old_mode, old_mtime = self.resolve(path)
        self.items[path] = (kind, content, old_mode if mode is None else mode,
                            old_mtime if mtime is None else mtime)


def as_node(db: Database, entry: Entry) -> Node:
    if entry.kind == EntryKind.FILE:
        return ("file", db.read_file(entry), entry.mode, entry.mtime_ns)
    if entry.kind == EntryKind.DIR:
        return ("dir", None, entry.mode, entry.mtime_ns)
    if entry.kind == EntryKind.SYMLINK:
        return ("symlink", entry.target, entry.mode, entry.mtime_ns)
    raise AssertionError(f"a read returned {entry!r}")


def read_all(db: Database, version: int, lookups: bool = True) -> dict[str, Node]:
    """Every path of the workspace at `version`, walked with listdir.

    With `lookups`, `lookup` of every path must give what its directory listing gave.
    """
    out = {"": as_node(db, db.lookup("ws", "", version))}
    pending = [""]
    while pending:
        directory = pending.pop()
        listing = db.listdir("ws", directory, version)
        names = [name for name, _ in listing]
        assert names == sorted(names, key=paths.to_bytes)
        for name, entry in listing:
            path = paths.join(directory, name)
            if lookups:
                assert db.lookup("ws", path, version) == entry
            out[path] = as_node(db, entry)
            if entry.is_dir:
                pending.append(path)
    return out


_name = st.sampled_from(NAMES)
_new_path = st.lists(_name, min_size=1, max_size=4).map("/".join)


def self_paths(model: "Model") -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(p for p in model.items if p) or ["new"])


class WorkspaceMachine(RuleBasedStateMachine):
    root_dir: Path | None = None
    """Where each example makes its data directory: set to pytest's tmp_path."""
    opener: Callable[[Path], Database] | None = None
    """Opens (and reopens) an example's database: the test's `open_db`."""

    def __init__(self) -> None:
        super().__init__()
        assert self.root_dir is not None
        self.tmp = Path(tempfile.mkdtemp(prefix="example-", dir=self.root_dir))
        assert self.opener is not None
        self.db = self.opener(self.tmp / "db")
        self.history: list[dict[str, Node]] = []
        self.model = Model({})

    @initialize()
    def start(self) -> None:
        source = make_base_directory(self.tmp / "base")
        self.db.import_directory("main", str(source))
        shutil.rmtree(source)
        self.db.create_workspace("ws", "main")
        self.model = Model(base_model())
        self.history = [dict(self.model.items)]

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- drawing paths and operations ------------------------------------------------

    def existing(self, data: st.DataObject, root: bool = False) -> str:
        """Mostly a path that exists, sometimes one that does not."""
        choices = sorted(p for p in self.model.items if p or root) or ["new"]
        return data.draw(st.one_of(st.sampled_from(choices), st.sampled_from(choices),
                                   st.sampled_from(choices), _new_path))

    def fresh(self, data: st.DataObject) -> str:
        """Mostly a new name in an existing directory, sometimes any path."""
        dirs = sorted(p for p, node in self.model.items.items() if node[0] == "dir")
        inside = st.sampled_from(dirs).flatmap(lambda d: _name.map(lambda n: paths.join(d, n)))
        return data.draw(st.one_of(inside, inside, inside, self_paths(self.model), _new_path))

    def draw_op(self, data: st.DataObject) -> tuple[Op, object]:
        kind = data.draw(st.sampled_from(["write", "write", "mkdir", "symlink", "remove",
                                          "rename", "rename", "setattr"]))
        mtime = data.draw(st.integers(0, 10**18))
        if kind == "write":
            files = sorted(p for p, node in self.model.items.items() if node[0] != "dir")
            path = data.draw(st.one_of(st.sampled_from(files or ["top"]), st.just("")).flatmap(
                lambda f: st.sampled_from([f, f, ""]))) or self.fresh(data)
            mode = data.draw(st.sampled_from(MODES))
            if data.draw(st.booleans()) and data.draw(st.booleans()):
                content = bytes([data.draw(st.integers(0, 255))]) * (INLINE_MAX + 100)
                oid = self.db.objects.put(ObjectKind.CHUNK, content)
                entry = Entry.file(chunks=(oid,), size=len(content), mode=mode, mtime_ns=mtime)
            else:
                content = data.draw(st.binary(max_size=12))
                entry = Entry.file(content, mode=mode, mtime_ns=mtime)
            return WriteFile(path, entry), lambda m: m.write(path, content, mode, mtime)
        if kind == "mkdir":
            path = self.fresh(data)
            mode = data.draw(st.sampled_from(MODES))
            return (MakeDir(path, mode=mode, mtime_ns=mtime),
                    lambda m: m.create(path, ("dir", None, mode, mtime)))
        if kind == "symlink":
            path = self.fresh(data)
            target = data.draw(st.sampled_from(["top", "../a/f1", "nowhere", "x/g"]))
            return (Symlink(path, target, mtime_ns=mtime),
                    lambda m: m.create(path, ("symlink", target, 0o777, mtime)))
        if kind == "remove":
            path = self.existing(data, root=True)
            recursive = data.draw(st.booleans())
            return Remove(path, recursive=recursive), lambda m: m.remove(path, recursive)
        if kind == "rename":
            src = self.existing(data, root=True)
            dst = data.draw(st.sampled_from([self.fresh, self.fresh, self.existing]))(data)
            return Rename(src, dst), lambda m: m.rename(src, dst)
        path = self.existing(data, root=True)
        mode = data.draw(st.one_of(st.none(), st.sampled_from(MODES)))
        new_mtime = data.draw(st.one_of(st.none(), st.just(mtime)))
        return (SetAttr(path, mode=mode, mtime_ns=new_mtime),
                lambda m: m.setattr(path, mode, new_mtime))

    def commit(self, pairs: list[tuple[Op, object]]) -> None:
        model = self.model.copy()
        expected: CitcError | None = None
        try:
            for _, apply in pairs:
                apply(model)  # type: ignore[operator]
        except CitcError as exc:
            expected = exc
        ops = [op for op, _ in pairs]
        try:
            result = self.db.commit("ws", ops)
        except CitcError as exc:
            assert expected is not None, f"{ops} raised {exc!r}, the model accepts them"
            assert type(exc) is type(expected), f"{ops}: {exc!r}, the model says {expected!r}"
            assert self.db.workspace("ws").version == len(self.history) - 1
            event(f"refused: {type(exc).__name__}")
            return
        assert expected is None, f"{ops} were accepted, the model raises {expected!r}"
        assert result.version == len(self.history)
        event("accepted")
        self.model = model
        self.history.append(dict(model.items))

    # --- rules -------------------------------------------------------------------------

    @rule(data=st.data())
    def one_operation(self, data: st.DataObject) -> None:
        self.commit([self.draw_op(data)])

    @rule(data=st.data())
    def two_operations_in_one_commit(self, data: st.DataObject) -> None:
        self.commit([self.draw_op(data), self.draw_op(data)])

    @rule(data=st.data())
    def another_operation(self, data: st.DataObject) -> None:
        self.commit([self.draw_op(data)])

    def directories(self) -> list[str]:
        return sorted(p for p, node in self.model.items.items() if p and node[0] == "dir")

    @precondition(lambda self: len(self.directories()) > 0)
    @rule(data=st.data())
    def rename_a_directory(self, data: st.DataObject) -> None:
        """Often a base directory with a subtree, perhaps changed in the overlay."""
        src = data.draw(st.sampled_from(self.directories()))
        dst = data.draw(st.sampled_from([self.fresh, self.fresh, self.existing]))(data)
        self.commit([(Rename(src, dst), lambda m: m.rename(src, dst))])

    @precondition(lambda self: len(self.directories()) > 0)
    @rule(data=st.data())
    def remove_a_directory(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(self.directories()))
        recursive = data.draw(st.sampled_from([True, True, False]))
        self.commit([(Remove(path, recursive=recursive), lambda m: m.remove(path, recursive))])

    def check_all_versions(self) -> None:
        for version, expected in enumerate(self.history):
            assert read_all(self.db, version) == expected, f"version {version} differs"

    @rule(reopen=st.booleans())
    def rebuild_or_reopen(self, reopen: bool) -> None:
        """Replay the log into fresh indexes, or close and reopen the data directory."""
        if reopen:
            self.db.close()
            assert self.opener is not None
            self.db = self.opener(self.tmp / "db")
        else:
            assert self.db.rebuild() == len(list(self.db.log_records()))
        self.check_all_versions()

    @invariant()
    def every_version_reads_back(self) -> None:
        """The newest version fully (listdir and lookup), every older one by listdir."""
        if not self.history:
            return
        head = len(self.history) - 1
        assert self.db.workspace("ws").version == head
        for version, expected in enumerate(self.history):
            assert read_all(self.db, version, lookups=version == head) == expected, \
                f"version {version} differs"

    @invariant()
    def log_verifies(self) -> None:
        if self.history:
            self.db.verify_log()


SETTINGS = settings(max_examples=50, stateful_step_count=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@pytest.mark.slow
def test_workspace_matches_the_model(tmp_path: Path, kv_backend: str,
                                     open_db: Callable[..., Database]) -> None:
    WorkspaceMachine.root_dir = tmp_path
    WorkspaceMachine.opener = staticmethod(open_db)  # type: ignore[assignment]
    try:
        # Fewer examples on etcd, where every read is a network round trip.
        run_state_machine_as_test(WorkspaceMachine, settings=SETTINGS if kv_backend == "lmdb"
                                  else settings(SETTINGS, max_examples=4, stateful_step_count=15))
    finally:
        WorkspaceMachine.root_dir = None
        WorkspaceMachine.opener = None
