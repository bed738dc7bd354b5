"""The storage suite: the log database (citcfs.storage.Database) on LMDB, in process.

Everything lives under one scratch directory on /dev/shm, removed at the end:

    tree/   a generated source tree of small files (0-4 KiB, ~100 per directory,
            nested a few levels deep, plus one 1,000-file directory), made once
    db/     one data directory (durable sync=True LMDB, as the server opens it)

The steps run in order over one shared `Context`, each returning some results:

    import    import tree/ as base "main"                      -> import_files_per_s
    native    os.stat / os.listdir on tree/ for comparison      -> native_*
    commit    1-entry commits from 16 threads (16 workspaces,
              and all into one workspace)                       -> commit_per_s
    lookup    a workspace over "main" whose overlay holds 1M
              entries (quick: 100k) in directories of 1,000,
              after one untimed pass of each kind               -> lookup_us
    listdir   a 1,000-entry base directory and overlay directory -> listdir_us
    versions  diff/freeze of 10 changes over generated 100k (and
              1M) file bases, fork, then GC                     -> diff_ms_*, freeze_ms_*,
                                                                   fork_ms, gc_s
    rebuild   Database.rebuild() on the whole database          -> rebuild_s

To add results (the versions benchmarks of issue 3, say), write a function
`def bench_x(ctx: Context) -> dict[str, dict]` that returns {name: result(...)},
decorate it with `@step`, and use the fixtures `ctx.db`, `ctx.base`, `ctx.tree_files`,
`ctx.overlay_workspace()`; add its sizes to `Sizes`. Steps run in the order they
are defined, so put it before `bench_rebuild` if it must not see a rebuilt database.
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from common import log, median_of, ratio, result, scratch_dir, timed

from citcfs.entries import Entry
from citcfs.storage.database import Database
from citcfs.storage.ops import MakeDir, WriteFile

# --- sizes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    files: int                  # files in the imported tree (the wide directory included)
    files_per_dir: int          # mean files per ordinary directory
    wide_dir: int               # entries of the one wide base directory (listdir)
    overlay_entries: int        # file entries committed to the big workspace
    overlay_dir_entries: int    # entries per overlay directory
    overlay_batch: int          # WriteFile ops per commit while building the overlay
    commit_threads: int
    commits_per_thread: int     # per run
    lookup_samples: int         # lookups per run
    listdir_repeats: int        # listings per run
    skip_1m: bool = False       # skip the 1M-file diff (it only shows the cost is flat)


FULL = Sizes(files=100_000, files_per_dir=100, wide_dir=1000,
             overlay_entries=1_000_000, overlay_dir_entries=1000,
             overlay_batch=5000,
             commit_threads=16, commits_per_thread=500,
             lookup_samples=5000, listdir_repeats=50)
QUICK = replace(FULL, files=10_000, overlay_entries=100_000, commits_per_thread=250,
                lookup_samples=3000, listdir_repeats=30, skip_1m=True)
SMOKE = replace(FULL, files=1000, wide_dir=200, overlay_entries=2000, commits_per_thread=10,
                lookup_samples=200, listdir_repeats=3, skip_1m=True)

TARGETS = {
    "commit_per_s": 5000,
    "lookup_us": 30,
    "listdir_us": 2000,
    "import_files_per_s": 10000,
}

BASE = "main"
WIDE_DIR = "third_party/wide"
SEED = 20240601


# --- the context shared by the steps ---------------------------------------------------


class Context:
    def __init__(self, scratch: str, sizes: Sizes, runs: int) -> None:
        self.scratch = scratch
        self.sizes = sizes
        self.runs = runs
        self.rng = random.Random(SEED)
        self.tree = os.path.join(scratch, "tree")
        self.db_dir = os.path.join(scratch, "db")
        self.tree_files: list[str] = []   # relative paths of every generated file
        self.tree_dirs: list[str] = []    # relative paths of the ordinary directories
        self.db: Database | None = None
        self.base = BASE
        self._overlay: tuple[str, list[str]] | None = None

    def open_db(self) -> Database:
        if self.db is None:
            self.db = Database.open(self.db_dir)  # sync=True: the durable default
        return self.db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def overlay_workspace(self) -> tuple[str, list[str]]:
        """(name, overlay directories) of the workspace whose overlay holds the big set."""
        if self._overlay is None:
            self._overlay = build_overlay(self)
        return self._overlay


STEPS: list[Callable[[Context], dict[str, dict[str, Any]]]] = []


def step(fn: Callable[[Context], dict[str, dict[str, Any]]]) -> Callable[[Context], dict[str, dict[str, Any]]]:
    STEPS.append(fn)
    return fn


# --- fixtures ------------------------------------------------------------------------

_WORDS = ("core", "util", "net", "io", "api", "model", "view", "lib", "test", "docs",
          "proto", "server", "client", "db", "cache", "auth", "web", "cli", "tools", "impl")
_EXTS = (".py", ".c", ".h", ".go", ".md", ".txt", ".json", ".rs", ".java", ".ts")


def generate_tree(ctx: Context) -> None:
    """A source-like tree: directories nested 1-4 deep with ~files_per_dir files each."""
    sizes, rng = ctx.sizes, random.Random(SEED)
    ordinary = sizes.files - sizes.wide_dir
    n_dirs = max(1, round(ordinary / sizes.files_per_dir))
    dirs: list[str] = []
    frontier = [""]
    while len(dirs) < n_dirs:
        parent = frontier.pop(0)
        for i in range(rng.randint(4, 10)):
            if len(dirs) >= n_dirs:
                break
            name = f"{rng.choice(_WORDS)}{i}"
            path = f"{parent}/{name}" if parent else name
            dirs.append(path)
            frontier.append(path)
    # Spread the files: roughly files_per_dir each, exactly `ordinary` in all.
    weights = [rng.uniform(0.5, 1.5) for _ in dirs]
    scale = ordinary / sum(weights)
    counts = [int(w * scale) for w in weights]
    for i in range(ordinary - sum(counts)):
        counts[i % len(counts)] += 1
    placed = list(zip(dirs, counts)) + [(WIDE_DIR, sizes.wide_dir)]
    files: list[str] = []
    for directory, count in placed:
        full = os.path.join(ctx.tree, directory)
        os.makedirs(full, exist_ok=True)
        for j in range(count):
            rel = f"{directory}/f{j:04d}{rng.choice(_EXTS)}"
            with open(os.path.join(ctx.tree, rel), "wb") as handle:
                handle.write(rng.randbytes(rng.randint(0, 4096)))
            files.append(rel)
    ctx.tree_dirs = dirs
    ctx.tree_files = files


def build_overlay(ctx: Context) -> tuple[str, list[str]]:
    """Commit sizes.overlay_entries new files into workspace "big" over the base."""
    sizes, db = ctx.sizes, ctx.open_db()
    name = "big"
    db.create_workspace(name, ctx.base)
    n_dirs = max(1, -(-sizes.overlay_entries // sizes.overlay_dir_entries))
    dirs = [f"overlay/d{d:04d}" for d in range(n_dirs)]
    rng = random.Random(SEED + 1)
    contents = [rng.randbytes(rng.randint(0, 256)) for _ in range(64)]
    mtime0 = 1_700_000_000_000_000_000
    start = time.perf_counter()
    db.commit(name, [MakeDir("overlay")])
    for i in range(0, n_dirs, sizes.overlay_batch):
        db.commit(name, [MakeDir(d) for d in dirs[i:i + sizes.overlay_batch]])
    batch: list[WriteFile] = []
    written = 0
    for d, directory in enumerate(dirs):
        for j in range(min(sizes.overlay_dir_entries, sizes.overlay_entries - written)):
            # Every entry distinct (its own mtime), as real files are: nothing may be
            # served from a cache of decoded entries that real data would miss.
            batch.append(WriteFile(f"{directory}/f{j:04d}",
                                   Entry.file(contents[(d + j) % 64], mtime_ns=mtime0 + written)))
            written += 1
            if len(batch) >= sizes.overlay_batch:
                db.commit(name, batch)
                batch = []
        if d % 100 == 99:
            log(f"overlay: {written} entries ({written / (time.perf_counter() - start):.0f}/s)")
    if batch:
        db.commit(name, batch)
    elapsed = time.perf_counter() - start
    ctx.overlay_build = (written, elapsed)  # type: ignore[attr-defined]
    log(f"overlay: {written} entries in {elapsed:.1f}s")
    return name, dirs


# --- steps ---------------------------------------------------------------------------


@step
def bench_import(ctx: Context) -> dict[str, dict[str, Any]]:
    log(f"generating {ctx.sizes.files} files under {ctx.tree}")
    gen_s, _ = timed(lambda: generate_tree(ctx))
    log(f"generated in {gen_s:.1f}s; importing")
    db = ctx.open_db()
    elapsed, (revision, stats) = timed(lambda: db.import_directory(ctx.base, ctx.tree))
    assert stats.files == len(ctx.tree_files), (stats.files, len(ctx.tree_files))
    log(f"imported {stats.files} files, {stats.directories} dirs in {elapsed:.2f}s")
    return {
        "import_files_per_s": result(
            stats.files / elapsed, "files/s", target=TARGETS["import_files_per_s"],
            runs=1, files=stats.files, directories=stats.directories,
            bytes=stats.bytes, seconds=round(elapsed, 3)),
    }


@step
def bench_native(ctx: Context) -> dict[str, dict[str, Any]]:
    rng = random.Random(SEED + 2)
    n = ctx.sizes.lookup_samples
    wide = os.path.join(ctx.tree, WIDE_DIR)
    repeats = ctx.sizes.listdir_repeats

    def stat_us(run: int) -> float:
        sample = [os.path.join(ctx.tree, p) for p in rng.choices(ctx.tree_files, k=n)]
        start = time.perf_counter()
        for path in sample:
            os.stat(path)
        return (time.perf_counter() - start) / n * 1e6

    def listdir_us(run: int) -> float:
        start = time.perf_counter()
        for _ in range(repeats):
            os.listdir(wide)
        return (time.perf_counter() - start) / repeats * 1e6

    def scandir_stat_us(run: int) -> float:
        start = time.perf_counter()
        for _ in range(repeats):
            for item in os.scandir(wide):
                item.stat(follow_symlinks=False)
        return (time.perf_counter() - start) / repeats * 1e6

    stat_v, stat_all = median_of(ctx.runs, stat_us)
    list_v, list_all = median_of(ctx.runs, listdir_us)
    scan_v, scan_all = median_of(ctx.runs, scandir_stat_us)
    ctx.native = {"stat": stat_v, "listdir": list_v, "scandir_stat": scan_v}  # type: ignore[attr-defined]
    where = "tmpfs (/dev/shm)"
    return {
        "native_stat_us": result(stat_v, "us", better="lower", runs=stat_all, on=where),
        "native_listdir_us": result(list_v, "us", better="lower", runs=list_all, on=where,
                                    entries=ctx.sizes.wide_dir, note="names only"),
        "native_scandir_stat_us": result(scan_v, "us", better="lower", runs=scan_all, on=where,
                                         entries=ctx.sizes.wide_dir,
                                         note="names and a stat of each, like listdir's entries"),
    }


def _commit_run(db: Database, workspaces: list[str], directory: str, tag: str,
                commits: int) -> tuple[float, int]:
    """Each thread t makes `commits` 1-entry commits to workspaces[t]; (seconds, total)."""
    threads = len(workspaces)
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []
    entry = Entry.file(b"x" * 100)

    def worker(t: int) -> None:
        ws = workspaces[t]
        try:
            barrier.wait()
            for i in range(commits):
                db.commit(ws, [WriteFile(f"{directory}/{tag}_t{t}_{i}", entry)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed, threads * commits


@step
def bench_commit(ctx: Context) -> dict[str, dict[str, Any]]:
    db = ctx.open_db()
    sizes = ctx.sizes
    threads, per_thread = sizes.commit_threads, sizes.commits_per_thread
    directory = ctx.tree_dirs[0]
    writer = getattr(db, "_writer", None)

    def batches() -> tuple[int, int]:
        return (getattr(writer, "batches", 0), getattr(writer, "jobs", 0))

    batch_sizes: dict[str, list[float]] = {"many": [], "one": []}

    def batched(kind: str, workspaces: list[str]) -> float:
        """Commits per second into `workspaces` (one thread each), noting batch sizes."""
        b0, j0 = batches()
        elapsed, total = _commit_run(db, workspaces, directory, kind, per_thread)
        b1, j1 = batches()
        if b1 > b0:
            batch_sizes[kind].append((j1 - j0) / (b1 - b0))
        return total / elapsed

    def many(run: int) -> float:
        names = [f"commit{run}_{t}" for t in range(threads)]
        for name in names:
            db.create_workspace(name, ctx.base)
        return batched("many", names)

    def one(run: int) -> float:
        name = f"commit_one{run}"
        db.create_workspace(name, ctx.base)
        return batched("one", [name] * threads)

    def single(run: int) -> float:
        name = f"commit_single{run}"
        db.create_workspace(name, ctx.base)
        elapsed, total = _commit_run(db, [name], directory, "single", per_thread)
        return total / elapsed

    log(f"commits: {threads} threads x {per_thread}, {ctx.runs} runs each")
    many_v, many_all = median_of(ctx.runs, many)
    one_v, one_all = median_of(ctx.runs, one)
    single_v, single_all = median_of(ctx.runs, single)
    log(f"commits: {many_v:.0f}/s (16 workspaces), {one_v:.0f}/s (one), {single_v:.0f}/s (1 thread)")

    def mean_batch(key: str) -> float | None:
        return round(statistics.mean(batch_sizes[key]), 1) if batch_sizes[key] else None

    common = dict(sync=True, storage="/dev/shm", commits_per_run=threads * per_thread)
    return {
        "commit_per_s": result(many_v, "commits/s", target=TARGETS["commit_per_s"], runs=many_all,
                               threads=threads, workspaces=threads,
                               mean_group_commit_batch=mean_batch("many"), **common),
        "commit_per_s_one_workspace": result(one_v, "commits/s", runs=one_all, threads=threads,
                                             workspaces=1, mean_group_commit_batch=mean_batch("one"),
                                             **common),
        "commit_per_s_1_thread": result(single_v, "commits/s", runs=single_all, threads=1,
                                        workspaces=1, sync=True, storage="/dev/shm",
                                        commits_per_run=per_thread),
    }


@step
def bench_lookup(ctx: Context) -> dict[str, dict[str, Any]]:
    sizes = ctx.sizes
    name, dirs = ctx.overlay_workspace()
    db = ctx.open_db()
    rng = random.Random(SEED + 3)
    n = sizes.lookup_samples
    overlay_paths = [f"{directory}/f{j:04d}" for directory in dirs
                     for j in range(sizes.overlay_dir_entries)][:sizes.overlay_entries]

    def measure(sample: list[str]) -> float:
        lookup = db.lookup
        start = time.perf_counter()
        for path in sample:
            lookup(name, path)
        return (time.perf_counter() - start) / len(sample) * 1e6

    # One untimed pass of each kind first: a freshly opened database faults its pages
    # in on first touch, which a running server has long done (the first pass measured
    # ~35-39 us where the following ones settle at ~26 us).
    measure(rng.choices(overlay_paths, k=n))
    measure(rng.choices(ctx.tree_files, k=n))
    over_v, over_all = median_of(ctx.runs, lambda run: measure(rng.choices(overlay_paths, k=n)))
    base_v, base_all = median_of(ctx.runs, lambda run: measure(rng.choices(ctx.tree_files, k=n)))
    written, build_s = getattr(ctx, "overlay_build", (len(overlay_paths), float("nan")))
    log(f"lookup: overlay {over_v:.1f}us, base {base_v:.1f}us")
    worse = max(over_v, base_v)
    native = getattr(ctx, "native", {})
    out = {
        "lookup_us": result(worse, "us", target=TARGETS["lookup_us"], better="lower",
                            overlay_entries=written, samples_per_run=n,
                            note="the worse of lookup_overlay_us and lookup_base_us"),
        "lookup_overlay_us": result(over_v, "us", better="lower", runs=over_all,
                                    overlay_entries=written, path_depth=3,
                                    note="random paths the overlay wrote"),
        "lookup_base_us": result(base_v, "us", better="lower", runs=base_all,
                                 overlay_entries=written,
                                 note="random base paths in the same workspace, tree cache warm"),
        "overlay_build_entries_per_s": result(
            written / build_s, "entries/s", runs=1, entries=written, seconds=round(build_s, 1),
            ops_per_commit=sizes.overlay_batch),
    }
    if native.get("stat"):
        out["lookup_us_vs_native_stat"] = ratio(worse, native["stat"])
    return out


@step
def bench_listdir(ctx: Context) -> dict[str, dict[str, Any]]:
    sizes = ctx.sizes
    name, dirs = ctx.overlay_workspace()
    db = ctx.open_db()
    repeats = sizes.listdir_repeats
    overlay_dir = dirs[0]
    n_base = len(db.listdir(name, WIDE_DIR))
    n_overlay = len(db.listdir(name, overlay_dir))

    def measure(path: str, cold: bool = False) -> float:
        clear = getattr(getattr(db, "_load_tree", None), "cache_clear", None)
        total = 0.0
        for _ in range(repeats):
            if cold and clear is not None:
                clear()
            start = time.perf_counter()
            db.listdir(name, path)
            total += time.perf_counter() - start
        return total / repeats * 1e6

    base_v, base_all = median_of(ctx.runs, lambda run: measure(WIDE_DIR))
    cold_v, cold_all = median_of(ctx.runs, lambda run: measure(WIDE_DIR, cold=True))
    over_v, over_all = median_of(ctx.runs, lambda run: measure(overlay_dir))
    log(f"listdir: base {base_v:.0f}us (cold {cold_v:.0f}us), overlay {over_v:.0f}us")
    worse = max(base_v, over_v)
    native = getattr(ctx, "native", {})
    out = {
        "listdir_us": result(worse, "us", target=TARGETS["listdir_us"], better="lower",
                             entries=min(n_base, n_overlay),
                             note="the worse of listdir_base_us and listdir_overlay_us"),
        "listdir_base_us": result(base_v, "us", better="lower", runs=base_all, entries=n_base,
                                  note="base directory, decoded tree cached"),
        "listdir_base_cold_us": result(cold_v, "us", better="lower", runs=cold_all, entries=n_base,
                                       note="base directory, tree cache cleared before each call"),
        "listdir_overlay_us": result(over_v, "us", better="lower", runs=over_all,
                                     entries=n_overlay,
                                     overlay_entries=sizes.overlay_entries),
    }
    if native.get("listdir"):
        out["listdir_us_vs_native_listdir"] = ratio(worse, native["listdir"])
        out["listdir_us_vs_native_scandir_stat"] = ratio(worse, native["scandir_stat"])
    return out


def generated_base(db: Database, base: str, files: int) -> list[str]:
    """Import a base of `files` files built as trees in memory; return its leaf dirs.

    10 x 10 x files/1000 directories of 100 small files, each leaf with content of its
    own, stored with one batched object write: the trees are what matters here, and
    writing a million files to tmpfs first would only measure tmpfs.
    """
    from citcfs.entries import Tree
    from citcfs.objects import ObjectKind

    pending: list[tuple[ObjectKind, bytes, None]] = []

    def store(tree: Tree) -> Any:
        pending.append((ObjectKind.TREE, tree.encode(), None))
        if len(pending) >= 4096:
            db.objects.put_many(pending)
            pending.clear()
        return tree.id

    per_mid = max(1, files // 10_000)
    leaves: list[str] = []
    top = []
    for a in range(10):
        middle = []
        for b in range(10):
            leaf_entries = []
            for c in range(per_mid):
                names = [(f"f{i:03d}.c", Entry.file(f"{a}/{b}/{c}/{i}".encode(), mtime_ns=1))
                         for i in range(100)]
                leaf_entries.append((f"d{c:03d}", Entry.directory(tree=store(Tree.build(names)))))
                leaves.append(f"g{a}/g{b}/d{c:03d}")
            middle.append((f"g{b}", Entry.directory(tree=store(Tree.build(leaf_entries)))))
        top.append((f"g{a}", Entry.directory(tree=store(Tree.build(middle)))))
    root = store(Tree.build(top))
    db.objects.put_many(pending)
    db.add_base_revision(base, root, f"generated, {files} files")
    return leaves


def _ten_changes(db: Database, workspace: str, leaves: list[str], rng: random.Random,
                 tag: int) -> None:
    db.commit(workspace, [WriteFile(f"{rng.choice(leaves)}/f{rng.randrange(100):03d}.c",
                                    Entry.file(f"changed {tag} {i}".encode()))
                          for i in range(10)])


def _versions_figures(ctx: Context, files: int, suffix: str) -> dict[str, dict[str, Any]]:
    from citcfs.storage.database import BaseRef, WorkspaceRef

    db = ctx.open_db()
    base = f"gen{files}"
    log(f"versions: generating a {files}-file base")
    leaves = generated_base(db, base, files)
    rng = random.Random(SEED + files)
    workspace = f"v{files}"
    db.create_workspace(workspace, base)
    _ten_changes(db, workspace, leaves, rng, 0)

    def diff_once(_: int) -> float:
        start = time.perf_counter()
        found = list(db.diff(BaseRef(base), WorkspaceRef(workspace)))
        elapsed = (time.perf_counter() - start) * 1000
        assert 1 <= len(found) <= 10, found
        return elapsed

    def freeze_once(run: int) -> float:
        fresh = f"{workspace}-freeze{run}"
        db.create_workspace(fresh, base)
        _ten_changes(db, fresh, leaves, rng, run + 1)
        start = time.perf_counter()
        db.freeze(fresh)
        return (time.perf_counter() - start) * 1000

    diff_ms, diff_all = median_of(max(ctx.runs, 5), diff_once)
    out = {f"diff_ms_10_changes_{suffix}_tree": result(diff_ms, "ms", better="lower", runs=diff_all)}
    if suffix == "100k":
        out[f"diff_ms_10_changes_{suffix}_tree"] = result(diff_ms, "ms", target=20, better="lower",
                                                          runs=diff_all)
        freeze_ms, freeze_all = median_of(max(ctx.runs, 5), freeze_once)
        out[f"freeze_ms_10_changes_{suffix}_tree"] = result(freeze_ms, "ms", target=20,
                                                            better="lower", runs=freeze_all)

        def fork_once(run: int) -> float:
            start = time.perf_counter()
            db.fork(workspace, f"fork{run}")
            return (time.perf_counter() - start) * 1000
        fork_ms, fork_all = median_of(ctx.runs, fork_once)
        out["fork_ms"] = result(fork_ms, "ms", better="lower", runs=fork_all)
    return out


@step
def bench_versions(ctx: Context) -> dict[str, dict[str, Any]]:
    """Diff, freeze and fork with 10 changes over 100k (and 1M) file bases; then GC."""
    out = _versions_figures(ctx, 100_000, "100k")
    if not ctx.sizes.skip_1m:
        out.update(_versions_figures(ctx, 1_000_000, "1m"))
    db = ctx.open_db()
    for info in db.list_workspaces():
        if info.name.startswith("fork"):
            db.delete_workspace(info.name)
    log("gc")
    elapsed, report = timed(db.gc)
    out["gc_s"] = result(elapsed, "s", better="lower", runs=1,
                         objects_freed=report.objects_freed, objects_live=report.objects_live)
    return out


@step
def bench_rebuild(ctx: Context) -> dict[str, dict[str, Any]]:
    name, dirs = ctx.overlay_workspace()
    db = ctx.open_db()
    probe = f"{dirs[-1]}/f0000"
    before = (db.lookup(name, probe), len(db.listdir(name, dirs[0])), db.workspace(name).version)
    log("rebuild")
    elapsed, records = timed(db.rebuild)
    after = (db.lookup(name, probe), len(db.listdir(name, dirs[0])), db.workspace(name).version)
    if before != after:
        raise AssertionError(f"rebuild changed answers: {before} != {after}")
    log(f"rebuild: {records} records in {elapsed:.1f}s")
    return {
        "rebuild_s": result(elapsed, "s", better="lower", runs=1, records=records,
                            overlay_entries=ctx.sizes.overlay_entries,
                            records_per_s=round(records / elapsed)),
    }


# --- entry point ---------------------------------------------------------------------


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    sizes = SMOKE if smoke else QUICK if quick else FULL
    log(f"storage suite: {'smoke' if smoke else 'quick' if quick else 'full'} sizes {asdict(sizes)}")
    results: dict[str, dict[str, Any]] = {}
    with scratch_dir("citcfs-bench-storage-") as scratch:
        ctx = Context(scratch, sizes, runs)
        try:
            for fn in STEPS:
                elapsed, found = timed(lambda: fn(ctx))
                log(f"{fn.__name__}: {elapsed:.1f}s")
                results.update(found)
        finally:
            ctx.close()
    return results
