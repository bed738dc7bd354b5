"""A hypothesis state machine over workspace versions (issue 3).

Workspaces over a small nested base are changed with random operations, labelled,
forked, restored, reverted, synced to new base revisions, submitted and garbage
collected. A plain model (path -> (kind, content or target, mode)) of every version
says what each must read back as. Checked throughout:

- every labelled version (and every workspace head) reads back as the model had it;
- diff(a, b) applied to the model of a gives the model of b, for any two states;
- freeze is deterministic: equal models give equal ids, different models different ids;
- after gc(), every live version, label and base revision reads back (GC never frees a
  reachable object), and pruned versions say HistoryTruncated.

Every entry carries mtime 0 and this process's uid/gid, so a model determines its
tree completely, and freeze ids can be compared across workspaces.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)
from kv_support import kv_url
from tree_support import Model, spec_model
from versions_support import apply_diff, drop, subtree, walk, walk_tree

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import Conflict, FailedPrecondition, HistoryTruncated
from citcfs.objects import CHUNK_SIZE, INLINE_MAX, ObjectKind
from citcfs.storage import (BaseRef, Database, MakeDir, Remove, Rename, SetAttr, Symlink,
                            WorkspaceRef, WriteFile)

UID, GID = os.getuid(), os.getgid()


BASE_SPEC: dict[str, object] = {
    "a/b/c/f1": b"one",
    "a/b/f2": b"two",
    "a/g": b"g",
    "d/e/h": b"h",
    "d/big": b"B" * (INLINE_MAX + 100),
    "top": b"top",
    "ln": ("symlink", "top"),
    "emptydir": None,
    "L" * 201 + "/deep": b"long",  # a parent past keys.PARENT_KEY_MAX: cut and hashed keys
}
NAMES = ["a", "b", "c", "f1", "x", "y", "L" * 201]
CONTENTS = st.one_of(st.binary(max_size=12),
                     st.integers(1, 3).map(lambda n: bytes([64 + n]) * (INLINE_MAX + n)))
MODES = st.sampled_from([0o644, 0o755, 0o600])


# --- models -------------------------------------------------------------------------

def write_model(root: str, model: Model) -> None:
    """Materialize a model as a local directory (to import it as a base revision)."""
    os.makedirs(root)
    for path in sorted(model, key=lambda p: p.count("/")):
        kind, content, mode = model[path]
        full = os.path.join(root, path)
        if kind == "dir":
            os.mkdir(full)
        elif kind == "symlink":
            os.symlink(content, full)
        else:
            with open(full, "wb") as handle:
                handle.write(content)
    for path in sorted(model, key=lambda p: -p.count("/")):
        kind, _, mode = model[path]
        full = os.path.join(root, path)
        if kind != "symlink":
            os.chmod(full, mode)
        os.utime(full, ns=(0, 0), follow_symlinks=False)


def dirs_of(model: Model) -> list[str]:
    return [paths.ROOT] + sorted(p for p, v in model.items() if v[0] == "dir")


def write_dirs(model: Model) -> list[str]:
    """Directories to write into, those past keys.PARENT_KEY_MAX bytes weighted up so
    that most runs put overlay entries under a cut and hashed parent before a GC."""
    found = dirs_of(model)
    return found + [d for d in found if len(paths.to_bytes(d)) > 200] * 4


def changed_paths(old: Model, new: Model) -> set[str]:
    return {p for p in set(old) | set(new) if old.get(p) != new.get(p)}


def related(a: set[str], b: set[str]) -> bool:
    """Whether a path of `a` equals, contains or lies inside a path of `b`."""
    return any(paths.is_within(x, y) or paths.is_within(y, x) for x in a for y in b)


def merge(new_base: Model, old_base: Model, head: Model) -> Model:
    """The workspace's changes (head against old_base) applied over new_base."""
    result = dict(new_base)
    for path in sorted(changed_paths(old_base, head), key=lambda p: p.count("/")):
        if path in head:
            result[path] = head[path]
        else:
            drop(result, path)
    return result


def key(model: Model) -> tuple:
    return tuple(sorted(model.items()))


# --- reading the database -------------------------------------------------------------

class Workspace:
    def __init__(self) -> None:
        # version -> (model, base revision, overlay paths touched: an over-approximation)
        self.versions: dict[int, tuple[Model, int, frozenset[str]]] = {}
        self.head = 0
        self.keep = 0
        self.fork_model: Model | None = None  # what it was forked from, if it was

    @property
    def model(self) -> Model:
        return self.versions[self.head][0]

    @property
    def base_rev(self) -> int:
        return self.versions[self.head][1]

    @property
    def touched(self) -> frozenset[str]:
        return self.versions[self.head][2]


def _open_lmdb(directory: str) -> Database:
    return Database.open(directory, sync=False)


class VersionsMachine(RuleBasedStateMachine):
    opener: Callable[[str], Database] = staticmethod(_open_lmdb)  # type: ignore[assignment]
    """Opens each example's database: LMDB for `TestVersions`, etcd for the test below."""

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp(prefix="citcfs-versions-")
        self.db = self.opener(os.path.join(self.tmp, "db"))
        self.imports = 0
        base = spec_model(BASE_SPEC)
        self.import_model(base)
        self.bases: dict[int, Model] = {1: base}
        self.db.create_workspace("w0", "main")
        ws = Workspace()
        ws.versions[0] = (dict(base), 1, frozenset())
        self.workspaces = {"w0": ws}
        self.labels: dict[tuple[str, str], int] = {}
        self.frozen: dict[tuple, bytes] = {}
        self.names = 0

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- helpers ----------------------------------------------------------------

    def import_model(self, model: Model) -> int:
        self.imports += 1
        root = os.path.join(self.tmp, f"import-{self.imports}")
        write_model(root, model)
        revision, _ = self.db.import_directory("main", root)
        shutil.rmtree(root)
        return revision.rev

    def file_entry(self, content: bytes, mode: int) -> Entry:
        if len(content) <= INLINE_MAX:
            return Entry.file(content, mode=mode, uid=UID, gid=GID)
        chunks = tuple(self.db.objects.put(ObjectKind.CHUNK, content[i:i + CHUNK_SIZE])
                       for i in range(0, len(content), CHUNK_SIZE))
        return Entry.file(chunks=chunks, size=len(content), mode=mode, uid=UID, gid=GID)

    def pick_ws(self, data) -> tuple[str, Workspace]:
        name = data.draw(st.sampled_from(sorted(self.workspaces)), label="workspace")
        return name, self.workspaces[name]

    def new_version(self, name: str, version: int, model: Model, base_rev: int,
                    touched: frozenset[str]) -> None:
        ws = self.workspaces[name]
        assert version == ws.head + 1
        previous = ws.head
        ws.versions[version] = (model, base_rev, touched)
        ws.head = version
        assert walk(self.db, name) == model
        assert self.db.workspace(name).base_rev == base_rev
        if previous in ws.versions:
            entries = list(self.db.diff(WorkspaceRef(name, previous), WorkspaceRef(name, version)))
            assert apply_diff(self.db, ws.versions[previous][0], entries) == model

    def commit(self, name: str, ops, model: Model, touched: set[str]) -> None:
        ws = self.workspaces[name]
        result = self.db.commit(name, ops)
        self.new_version(name, result.version, model, ws.base_rev, ws.touched | touched)

    def refs(self) -> list[tuple]:
        found: list[tuple] = [("base", rev) for rev in self.bases]
        for name, ws in self.workspaces.items():
            found += [("ws", name, v) for v in ws.versions]
            found += [("fork", name)] if ws.fork_model is not None else []
        found += [("label", name, label) for name, label in self.labels]
        return found

    def resolve(self, ref: tuple) -> tuple[object, Model]:
        if ref[0] == "base":
            return BaseRef("main", ref[1]), self.bases[ref[1]]
        if ref[0] == "ws":
            return WorkspaceRef(ref[1], version=ref[2]), self.workspaces[ref[1]].versions[ref[2]][0]
        if ref[0] == "fork":
            return WorkspaceRef(ref[1], fork=True), self.workspaces[ref[1]].fork_model
        version = self.labels[(ref[1], ref[2])]
        return WorkspaceRef(ref[1], label=ref[2]), self.workspaces[ref[1]].versions[version][0]

    def check_everything(self) -> None:
        for name, ws in self.workspaces.items():
            assert sorted(v.version for v in self.db.versions(name)) == sorted(ws.versions)
            for version, (model, _, _) in ws.versions.items():
                assert walk(self.db, name, version) == model, (name, version)
            fork = self.db.workspace(name).fork
            if ws.fork_model is not None:  # its tree outlives GC and rebuilds
                assert fork is not None and self.db.objects.has([fork.tree]) == [True]
                assert walk_tree(self.db, fork.tree) == ws.fork_model
            else:
                assert fork is None
        for rev, model in self.bases.items():
            assert walk_tree(self.db, self.db.base_revision("main", rev).root) == model
        for (name, label), version in self.labels.items():
            assert self.db.version_of(name, label) == version

    # --- workspace operations -------------------------------------------------------

    @rule(data=st.data(), content=CONTENTS, mode=MODES)
    def write_file(self, data, content: bytes, mode: int) -> None:
        name, ws = self.pick_ws(data)
        model = dict(ws.model)
        path = paths.join(data.draw(st.sampled_from(write_dirs(model))), data.draw(st.sampled_from(NAMES)))
        if model.get(path, ("file",))[0] == "dir":
            return
        model[path] = ("file", content, mode)
        self.commit(name, [WriteFile(path, self.file_entry(content, mode))], model, {path})

    @rule(data=st.data())
    def make_dir_or_symlink(self, data) -> None:
        name, ws = self.pick_ws(data)
        model = dict(ws.model)
        path = paths.join(data.draw(st.sampled_from(dirs_of(model))), data.draw(st.sampled_from(NAMES)))
        if path in model:
            return
        if data.draw(st.booleans(), label="symlink"):
            target = data.draw(st.sampled_from(["top", "../x", "a/b"]))
            model[path] = ("symlink", target, 0o777)
            op = Symlink(path, target, uid=UID, gid=GID, mtime_ns=0)
        else:
            model[path] = ("dir", None, 0o755)
            op = MakeDir(path, uid=UID, gid=GID, mtime_ns=0)
        self.commit(name, [op], model, {path})

    @rule(data=st.data())
    def remove(self, data) -> None:
        name, ws = self.pick_ws(data)
        model = dict(ws.model)
        if not model:
            return
        path = data.draw(st.sampled_from(sorted(model)))
        drop(model, path)
        self.commit(name, [Remove(path, recursive=True)], model, {path})

    @rule(data=st.data(), mode=MODES)
    def chmod(self, data, mode: int) -> None:
        name, ws = self.pick_ws(data)
        model = dict(ws.model)
        candidates = sorted(p for p, v in model.items() if v[0] != "symlink")
        if not candidates:
            return
        path = data.draw(st.sampled_from(candidates))
        model[path] = model[path][:2] + (mode,)
        self.commit(name, [SetAttr(path, mode=mode)], model, {path})

    @rule(data=st.data())
    def rename(self, data) -> None:
        name, ws = self.pick_ws(data)
        model = dict(ws.model)
        if not model:
            return
        src = data.draw(st.sampled_from(sorted(model)), label="src")
        parents = [d for d in dirs_of(model) if not paths.is_within(d, src)]
        dst = paths.join(data.draw(st.sampled_from(parents)), data.draw(st.sampled_from(NAMES)))
        if dst == src:
            return
        if dst in model:
            src_dir, dst_dir = model[src][0] == "dir", model[dst][0] == "dir"
            if src_dir != dst_dir or (dst_dir and len(subtree(model, dst)) > 1):
                return  # rename(2) would refuse
        moved = subtree(model, src)
        drop(model, src)
        drop(model, dst)
        for p, v in moved.items():
            model[dst + p[len(src):]] = v
        self.commit(name, [Rename(src, dst)], model, {src, dst})

    # --- versions -------------------------------------------------------------------

    @rule(data=st.data())
    def label(self, data) -> None:
        name, ws = self.pick_ws(data)
        version = data.draw(st.sampled_from(sorted(ws.versions)), label="version")
        self.names += 1
        label = f"snap{self.names}"
        if self.labels and data.draw(st.booleans(), label="replace"):
            name, label = data.draw(st.sampled_from(sorted(self.labels)), label="existing")
            ws = self.workspaces[name]
            version = data.draw(st.sampled_from(sorted(ws.versions)), label="version")
            self.db.label(name, label, version, replace=True)
        else:
            self.db.label(name, label, version)
        self.labels[(name, label)] = version
        assert self.db.version_of(name, label) == version

    @precondition(lambda self: self.labels)
    @rule(data=st.data())
    def unlabel(self, data) -> None:
        name, label = data.draw(st.sampled_from(sorted(self.labels)))
        self.db.unlabel(name, label)
        del self.labels[(name, label)]
        assert label not in [l.label for l in self.db.labels(name)]

    @precondition(lambda self: len(self.workspaces) < 4)
    @rule(data=st.data())
    def fork(self, data) -> None:
        source, ws = self.pick_ws(data)
        own = [(source, label) for (n, label) in self.labels if n == source]
        if own and data.draw(st.booleans(), label="by label"):
            _, ref = data.draw(st.sampled_from(sorted(own)))
            version = self.labels[(source, ref)]
        else:
            version = ref = data.draw(st.sampled_from(sorted(ws.versions)), label="version")
        model, base_rev, touched = ws.versions[version]
        self.names += 1
        name = f"w{self.names}"
        state = self.db.fork(source, name, ref)
        fork = Workspace()
        fork.fork_model = dict(model)
        self.workspaces[name] = fork
        assert state.base_rev == base_rev and state.version in (0, 1)
        fork.versions[0] = (dict(self.bases[base_rev]), base_rev, frozenset())
        if state.version == 1:
            fork.versions[1] = (dict(model), base_rev, touched)
            fork.head = 1
        else:
            assert model == self.bases[base_rev]
        assert walk(self.db, name) == model
        assert self.db.freeze(name) == self.db.freeze(source, version)

    @rule(data=st.data())
    def restore(self, data) -> None:
        name, ws = self.pick_ws(data)
        version = data.draw(st.sampled_from(sorted(ws.versions)), label="version")
        model, base_rev, touched = ws.versions[version]
        result = self.db.restore(name, version)
        self.new_version(name, result.version, dict(model), base_rev, ws.touched | touched)

    @rule(data=st.data())
    def revert(self, data) -> None:
        name, ws = self.pick_ws(data)
        version = data.draw(st.sampled_from(sorted(ws.versions)), label="version")
        target = ws.versions[version][0]
        candidates = sorted(set(target) | set(ws.model))
        if not candidates:
            return
        path = data.draw(st.sampled_from(candidates), label="path")
        model = dict(ws.model)
        if path in target:
            ancestor = paths.ROOT
            for part in paths.components(path)[:-1]:
                ancestor = paths.join(ancestor, part)
                if model.get(ancestor, ("none",))[0] != "dir":
                    drop(model, ancestor)
                    model[ancestor] = ("dir", None, target[ancestor][2])
            drop(model, path)
            model.update(subtree(target, path))
        else:
            drop(model, path)
        result = self.db.revert(name, [path], version)
        touched = {path} | {a for a in _ancestors(path)}
        self.new_version(name, result.version, model, ws.base_rev, ws.touched | touched)

    # --- bases: sync and submit ------------------------------------------------------

    @rule(data=st.data(), refuse=st.booleans())
    def new_base_and_sync(self, data, refuse: bool) -> None:
        name, ws = self.pick_ws(data)
        old_base = self.bases[ws.base_rev]
        mine = set(ws.touched) | changed_paths(old_base, ws.model)
        latest_rev = max(self.bases)
        new = dict(self.bases[latest_rev])
        avoid = data.draw(st.booleans(), label="avoid the workspace's paths")
        for _ in range(data.draw(st.integers(1, 3), label="mutations")):
            self.mutate(data, new, mine if avoid else set())
        rev = self.import_model(new)
        if new == self.bases[latest_rev]:  # an unchanged tree makes no revision
            assert rev == latest_rev
            return
        assert rev == latest_rev + 1
        self.bases[rev] = new
        theirs = changed_paths(old_base, new)
        clean = not related(mine, theirs)
        state = self.db.workspace(name)
        try:
            result = self.db.sync(name, refuse_conflicts=refuse)
        except Conflict as exc:
            event("sync refused")
            assert refuse and exc.paths and not clean, exc
            assert self.db.workspace(name) == state
            assert walk(self.db, name) == ws.model
            return
        assert result.base_rev == rev and result.version == ws.head + 1
        event(f"sync clean={clean} conflicts={bool(result.conflicts)}")
        if clean:
            assert result.conflicts == ()
            model = merge(new, old_base, ws.model)
        else:
            model = walk(self.db, name)
            # nothing the workspace changed is lost
            for path in changed_paths(old_base, ws.model):
                if path in ws.model:
                    assert model.get(path) == ws.model[path], path
                elif not any(paths.is_within(path, c) for c in result.conflicts):
                    assert path not in model, path
        self.new_version(name, result.version, model, rev, ws.touched | mine | theirs)

    def mutate(self, data, model: Model, avoid: set[str]) -> None:
        free = lambda p: not related({p}, avoid)  # noqa: E731
        what = data.draw(st.sampled_from(["modify", "add", "delete", "chmod"]), label="mutation")
        if what == "add":
            parents = [d for d in dirs_of(model) if d == paths.ROOT or free(d)]
            path = paths.join(data.draw(st.sampled_from(parents)), data.draw(st.sampled_from(NAMES)))
            if path in model or not free(path):
                return
            if data.draw(st.booleans(), label="dir"):
                model[path] = ("dir", None, 0o755)
                path = paths.join(path, "new")
            model[path] = ("file", data.draw(CONTENTS), 0o644)
            return
        candidates = sorted(p for p in model if free(p))
        if what in ("modify", "chmod"):
            candidates = [p for p in candidates if model[p][0] == "file"]
        if not candidates:
            return
        path = data.draw(st.sampled_from(candidates), label="base path")
        if what == "delete":
            drop(model, path)
        elif what == "modify":
            model[path] = ("file", data.draw(CONTENTS), model[path][2])
        else:
            model[path] = model[path][:2] + (data.draw(MODES),)

    @rule(data=st.data())
    def submit(self, data) -> None:
        name, ws = self.pick_ws(data)
        old_base = self.bases[ws.base_rev]
        latest_rev = max(self.bases)
        mine = set(ws.touched) | changed_paths(old_base, ws.model)
        clean = not related(mine, changed_paths(old_base, self.bases[latest_rev]))
        state = self.db.workspace(name)
        try:
            result = self.db.submit(name, "submit")
        except FailedPrecondition as exc:
            event(f"submit refused: {type(exc).__name__}")
            if isinstance(exc, Conflict):
                assert exc.paths and not clean, exc
            else:
                assert ws.model == old_base  # only a workspace without changes
            assert self.db.workspace(name) == state
            assert max(b.rev for b in self.db.base_history("main")) == latest_rev
            return
        event(f"submit clean={clean} moved={latest_rev != ws.base_rev}")
        rev = result.revision.rev
        assert rev == latest_rev + 1
        model = walk_tree(self.db, result.revision.root)
        if clean:
            assert model == merge(self.bases[latest_rev], old_base, ws.model)
        self.bases[rev] = model
        self.new_version(name, result.version, dict(model), rev, frozenset())
        assert list(self.db.diff(BaseRef("main"), WorkspaceRef(name))) == []
        assert self.db.freeze(name) == result.revision.root

    # --- checks and garbage collection -------------------------------------------------

    @rule(data=st.data())
    def check_diff(self, data) -> None:
        refs = self.refs()
        a = data.draw(st.sampled_from(refs), label="old")
        b = data.draw(st.sampled_from(refs), label="new")
        (old_ref, old_model), (new_ref, new_model) = self.resolve(a), self.resolve(b)
        entries = list(self.db.diff(old_ref, new_ref))
        assert apply_diff(self.db, old_model, entries) == new_model
        if old_model == new_model and a[0] == b[0] == "base":
            assert entries == []

    @rule()
    def check_freeze(self) -> None:
        for name, ws in self.workspaces.items():
            for version, (model, _, _) in ws.versions.items():
                oid = self.db.freeze(name, version)
                assert self.db.freeze(name, version) == oid
                seen = self.frozen.setdefault(key(model), oid)
                assert seen == oid, (name, version)
        ids = list(self.frozen.values())
        assert len(set(ids)) == len(ids)  # different content, different id
        for rev, model in self.bases.items():
            assert self.frozen.setdefault(key(model), self.db.base_revision("main", rev).root) \
                == self.db.base_revision("main", rev).root

    def collect(self, dry: bool = False) -> None:
        """gc(), with the model pruned as the retention policies say."""
        doomed: dict[str, list[int]] = {}
        for n, w in self.workspaces.items():
            if w.keep:
                protected = {v for (ln, _), v in self.labels.items() if ln == n}
                protected |= set(range(w.head - w.keep + 1, w.head + 1))
                doomed[n] = [v for v in w.versions if v not in protected]
        report = self.db.gc(dry_run=dry)
        assert report.versions_pruned == sum(len(v) for v in doomed.values())
        if not dry:
            for n, versions in doomed.items():
                for v in versions:
                    del self.workspaces[n].versions[v]
                    try:
                        self.db.listdir(n, "", v)
                    except HistoryTruncated:
                        pass
                    else:
                        raise AssertionError(f"version {v} of {n} was pruned but reads")
            assert self.db.gc(dry_run=True).objects_freed == 0
        self.check_everything()

    @rule(data=st.data(), keep=st.integers(0, 3), dry=st.booleans())
    def gc(self, data, keep: int, dry: bool) -> None:
        name, ws = self.pick_ws(data)
        self.db.set_retention(name, keep)
        ws.keep = keep
        self.collect(dry)

    @precondition(lambda self: len(self.workspaces) > 1)
    @rule(data=st.data())
    def delete_workspace(self, data) -> None:
        name, _ = self.pick_ws(data)
        self.db.delete_workspace(name)
        del self.workspaces[name]
        self.labels = {k: v for k, v in self.labels.items() if k[0] != name}
        self.collect()

    @rule()
    def rebuild(self) -> None:
        self.db.rebuild()
        self.check_everything()

    @invariant()
    def labels_and_heads_read_back(self) -> None:
        for (name, label), version in self.labels.items():
            assert walk(self.db, name, self.db.version_of(name, label)) == \
                self.workspaces[name].versions[version][0], (name, label)
        for name, ws in self.workspaces.items():
            assert self.db.workspace(name).version == ws.head
            assert walk(self.db, name) == ws.model


def _ancestors(path: str) -> list[str]:
    parts = paths.components(path)
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


VersionsMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=20, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestVersions = VersionsMachine.TestCase
TestVersions.pytestmark = [pytest.mark.slow]


@pytest.mark.slow
def test_versions_on_etcd(etcd_endpoints: list[str]) -> None:
    """The same machine over the etcd backend, with fewer examples (each etcd call is
    a network round trip)."""
    def open_etcd(directory: str) -> Database:
        return Database.open(directory, sync=False,
                             kv=kv_url("etcd", Path(directory), etcd_endpoints))
    VersionsMachine.opener = staticmethod(open_etcd)  # type: ignore[assignment]
    try:
        run_state_machine_as_test(VersionsMachine, settings=settings(
            max_examples=4, stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        VersionsMachine.opener = staticmethod(_open_lmdb)  # type: ignore[assignment]
