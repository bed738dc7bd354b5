"""The client suite: the same workloads on a citcfs mount, the native filesystem and a
minimal passthrough FUSE filesystem, in one run.

Reads: `seq_read_cold` reads a file once through a mount with an empty local cache
(from the server); `seq_read_warm` reads it again in the same mount, with the kernel
page cache and the local object cache both warm; `seq_read_local_cache` reads it in
a new mount (empty page cache) from the local object cache alone.

Writes: `tar_extract_s` extracts a source tree; `git_commit_s` runs `git init && git
add -A && git commit` in each extracted tree (fixed identity from the environment, no
system or global configuration, gc and fsmonitor off); `rm_tree_s` removes each tree
(with its .git) by `rm -rf`; `git_status_few_dirs_s` runs `git status` in one of them
(3,000 files in 150 directories).

Walks: `git_status_s`, `find_s` and `grep_r_s` walk a tree shaped like a real source
tree (thousands of directories, up to 10 deep) on a mount with the default options:
see bench/walks_bench.py, which `python bench/run.py walks` runs alone.

Visibility (citcfs only): two mounts of one workspace, each with its own cache
directory; a create storm in mount A, and a poller process that stats sampled files
in mount B. `visibility_ms_*` time close() in A to the first successful stat in B for
files B first looks for after their close; `visibility_prepolled_ms_*` for files B
polled from before they existed, which a negative dentry cached in B's kernel (the
mounts' negative timeout is ATTR_TIMEOUT) can hide although B's daemon knows them.

Each figure NAME comes with NAME_vs_floor and NAME_vs_native: ours over theirs for
rates, theirs over ours for times, so higher is better for every ratio. The write
and metadata workloads run in the three places interleaved, run by run
(`_measure_places`), so that the machine's slow moments fall on all of them alike. Native and
passthrough data, the server's data and the local object cache all live on
/dev/shm, so the disk's noise stays out of the comparison. Kernel attribute and entry
timeouts are the same for the passthrough and citcfs (ATTR_TIMEOUT): long, which is
safe for citcfs because the watch stream invalidates what other writers change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from common import log, median_of, result, scratch_dir
from walk_tree import git_env

ATTR_TIMEOUT = 3600.0
FILE_4K = b"x" * 4096


# --- servers and mounts ------------------------------------------------------------------

def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextlib.contextmanager
def citc_server(root: str) -> Iterator[str]:
    """A `citc server` on a Unix socket, its data on /dev/shm; yields the address."""
    socket = os.path.join(root, "server.sock")
    address = f"unix:{socket}"
    log_file = open(os.path.join(root, "server.log"), "ab")
    process = subprocess.Popen([sys.executable, "-m", "citcfs.cmd.main", "server", "--data",
                                os.path.join(root, "data"), "--listen", address,
                                "--log-level", "warning"],
                               stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL)
    try:
        _wait_for(lambda: os.path.exists(socket) or process.poll() is not None, 30, "the server")
        if process.poll() is not None:
            raise RuntimeError("the server did not start; see " + log_file.name)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


def _force_unmount(path: str) -> None:
    if os.path.ismount(path):
        subprocess.run(["fusermount3", "-u", "-z", path], capture_output=True)


@contextlib.contextmanager
def citc_mount(address: str, workspace: str, mountpoint: str, cache_dir: str,
               attr_timeout: float | None = ATTR_TIMEOUT) -> Iterator[str]:
    """A citcfs mount; `attr_timeout=None` takes the default mount options."""
    from citcfs.client.mount import MountOptions, mount_background, unmount

    os.makedirs(mountpoint, exist_ok=True)
    opts = MountOptions(address, workspace, mountpoint, cache_dir=cache_dir)
    if attr_timeout is not None:
        opts = dataclasses.replace(opts, attr_timeout=attr_timeout)
    pid = mount_background(opts, log_file=mountpoint.rstrip("/") + ".log")
    try:
        yield mountpoint
    finally:
        with contextlib.suppress(Exception):
            unmount(mountpoint)
        _force_unmount(mountpoint)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


@contextlib.contextmanager
def passthrough_mount(backing: str, mountpoint: str, extra: tuple[str, ...] = (),
                      attr_timeout: float = ATTR_TIMEOUT) -> Iterator[str]:
    """The passthrough floor; `extra` options go to bench/passthrough.py."""
    os.makedirs(mountpoint, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    process = subprocess.Popen([sys.executable, os.path.join(here, "passthrough.py"), backing,
                                mountpoint, "--attr-timeout", str(attr_timeout), *extra],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: os.path.ismount(mountpoint) or process.poll() is not None, 30,
                  "the passthrough mount")
        yield mountpoint
    finally:
        subprocess.run(["fusermount3", "-u", mountpoint], capture_output=True)
        _force_unmount(mountpoint)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- data ------------------------------------------------------------------------------

def make_source_tree(root: str, files: int, seed: int = 7) -> None:
    """A source-like tree: ~20 files a directory, three levels, 0.5-8 KiB files."""
    rng = random.Random(seed)
    os.makedirs(root, exist_ok=True)
    for i in range(files):
        d = os.path.join(root, f"pkg{i // 400:02d}", f"mod{i // 20:03d}")
        os.makedirs(d, exist_ok=True)
        size = rng.randint(512, 8192)
        with open(os.path.join(d, f"file{i:05d}.py"), "wb") as handle:
            handle.write((f"# file {i}\n" + "x = 1\n" * (size // 6)).encode())


def make_tarball(source: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(source, arcname="src")
    return buffer.getvalue()


# --- workloads: each takes a directory and returns (value) ----------------------------------

def create_files(root: str, count: int) -> float:
    target = os.path.join(root, f"create-{time.monotonic_ns()}")
    os.mkdir(target)
    start = time.perf_counter()
    for i in range(count):
        with open(os.path.join(target, f"f{i:05d}"), "wb") as handle:
            handle.write(FILE_4K)
    return count / (time.perf_counter() - start)


def all_files(root: str) -> list[str]:
    found = []
    for directory, _, files in os.walk(root):
        found.extend(os.path.join(directory, name) for name in files)
    return sorted(found)


MIN_WARM_SECONDS = 0.3


def warm_rate(operation: Callable[[str], object], items: list[str], rounds: int) -> float:
    """Calls per second of `operation` over `items`, after one pass to warm the caches.

    At least `rounds` passes and MIN_WARM_SECONDS: a kernel-cached stat takes ~3 us,
    and timed over a few milliseconds one scheduler hiccup decided the figure.
    """
    for item in items:
        operation(item)
    done = 0
    start = time.perf_counter()
    while True:
        for item in items:
            operation(item)
        done += 1
        elapsed = time.perf_counter() - start
        if done >= rounds and elapsed >= MIN_WARM_SECONDS:
            return done * len(items) / elapsed


def stat_warm(files: list[str], rounds: int) -> float:
    return warm_rate(os.stat, files, rounds)


def readdir_rate(directories: list[str], rounds: int) -> float:
    return warm_rate(os.listdir, directories, rounds)


def read_files(files: list[str]) -> float:
    start = time.perf_counter()
    for path in files:
        with open(path, "rb") as handle:
            handle.read()
    return len(files) / (time.perf_counter() - start)


def seq_write(root: str, megabytes: int) -> float:
    block = os.urandom(1 << 20)
    path = os.path.join(root, f"big-{time.monotonic_ns()}")
    start = time.perf_counter()
    with open(path, "wb") as handle:
        for _ in range(megabytes):
            handle.write(block)
    return megabytes / (time.perf_counter() - start)


def seq_read(path: str) -> float:
    start = time.perf_counter()
    total = 0
    with open(path, "rb", buffering=0) as handle:
        while True:
            chunk = handle.read(1 << 20)
            if not chunk:
                break
            total += len(chunk)
    return total / (1 << 20) / (time.perf_counter() - start)


def tar_extract(root: str, tarball: bytes) -> float:
    target = os.path.join(root, f"tar-{time.monotonic_ns()}")
    os.mkdir(target)
    start = time.perf_counter()
    with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
        tar.extractall(target, filter="fully_trusted")
    return time.perf_counter() - start


def git_commit(tree: str) -> float:
    """Seconds for `git init && git add -A && git commit -q -m x` in `tree`."""
    start = time.perf_counter()
    subprocess.run(["sh", "-c", "git init -q && git add -A && git commit -q -m x"], cwd=tree,
                   env=git_env(tree, untracked_cache_off=False), check=True,
                   capture_output=True)
    return time.perf_counter() - start


def rm_tree(tree: str) -> float:
    """Seconds for `rm -rf tree`."""
    start = time.perf_counter()
    subprocess.run(["rm", "-rf", tree], check=True, capture_output=True)
    return time.perf_counter() - start


def git_status(tree: str) -> float:
    """Seconds of one `git status` in a tree committed with git_commit."""
    start = time.perf_counter()
    subprocess.run(["git", "status", "--short"], cwd=tree,
                   env=git_env(tree, untracked_cache_off=False), check=True, capture_output=True)
    return time.perf_counter() - start


# --- visibility between two mounts ------------------------------------------------------

# The poller: a process of its own, so that neither side waits for the other's GIL.
# Lines on stdin: "watch NAME" starts polling DIR/NAME in mount B before the file
# exists; "closed NAME CLOSE_NS" says the file was closed in mount A at
# CLOCK_MONOTONIC time CLOSE_NS (and starts polling it if it was not yet). Every
# pending name is stat'ed each POLL_S until it is found, or until TIMEOUT_S after its
# close. On "end" it finishes the pending names, then prints JSON: the latency of each
# name in ms, and the names stat never found, with whether B's own listing of DIR
# held them (then a cached negative dentry hid them from stat).
_POLLER = r"""
import fcntl, json, os, sys, time
directory, timeout_ns, poll_s = sys.argv[1], int(float(sys.argv[2]) * 1e9), float(sys.argv[3])
fd = sys.stdin.fileno()
fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
pending, closed, found, missing, buffer, ended = set(), {}, {}, [], b"", False
print("ready", flush=True)
while not ended or pending:
    try:
        chunk = os.read(fd, 65536)
        if not chunk:
            ended = True
        buffer += chunk
    except BlockingIOError:
        pass
    *lines, buffer = buffer.split(b"\n")
    for line in lines:
        words = line.decode().split()
        if words == ["end"]:
            ended = True
        elif words and words[0] == "watch":
            pending.add(words[1])
        elif words and words[0] == "closed":
            closed[words[1]] = int(words[2])
            if words[1] not in found:
                pending.add(words[1])
    for name in list(pending):
        try:
            os.stat(os.path.join(directory, name))
        except FileNotFoundError:
            if name in closed and time.monotonic_ns() - closed[name] > timeout_ns:
                missing.append(name)
                pending.discard(name)
            continue
        found[name] = time.monotonic_ns()
        pending.discard(name)
    time.sleep(poll_s)
listed = set(os.listdir(directory)) if missing else set()
latencies = {name: max(0, at - closed[name]) / 1e6 for name, at in found.items() if name in closed}
print(json.dumps({"latencies_ms": latencies, "missing": missing,
                  "missing_but_listed": [n for n in missing if n in listed]}), flush=True)
"""

VIS_SAMPLE_S = 0.01
VIS_POLL_S = 0.0005
VIS_TIMEOUT_S = 3.0


def visibility(writer_dir: str, reader_dir: str, seconds: float) -> dict[str, Any]:
    """A create storm in `writer_dir` (mount A) for `seconds`; for a file every
    VIS_SAMPLE_S, the time from its close() in A to a successful stat in `reader_dir`
    (the same directory in mount B). Samples alternate between two kinds: "after"
    samples B first stats once the file is closed in A; "before" samples B polls from
    before A creates them (a name someone waits for: each miss may leave a negative
    dentry in B's kernel)."""
    poller = subprocess.Popen([sys.executable, "-c", _POLLER, reader_dir, str(VIS_TIMEOUT_S),
                               str(VIS_POLL_S)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert poller.stdin is not None and poller.stdout is not None

    def tell(line: str) -> None:
        poller.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]
        poller.stdin.flush()  # type: ignore[union-attr]
    try:
        if poller.stdout.readline().strip() != b"ready":
            raise RuntimeError("the visibility poller did not start")
        created = 0
        kinds: dict[str, str] = {}
        next_sample = start = time.monotonic()
        while time.monotonic() - start < seconds:
            name = f"f{created:06d}"
            sample = time.monotonic() >= next_sample
            if sample:
                kinds[name] = "before" if len(kinds) % 2 else "after"
                if kinds[name] == "before":
                    tell(f"watch {name}")
                    time.sleep(0.002)  # let B miss it at least once
            with open(os.path.join(writer_dir, name), "wb") as handle:
                handle.write(b"v" * 100)
            closed = time.monotonic_ns()
            created += 1
            if sample:
                tell(f"closed {name} {closed}")
                next_sample = closed / 1e9 + VIS_SAMPLE_S
        elapsed = time.monotonic() - start
        tell("end")
        poller.stdin.close()
        out = poller.stdout.read()  # the poller gives up on each name after VIS_TIMEOUT_S
        poller.wait(10)
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    found = json.loads(out)
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in ("after", "before"):
        names = {name for name, k in kinds.items() if k == kind}
        by_kind[kind] = dict(
            latencies_ms=[ms for name, ms in found["latencies_ms"].items() if name in names],
            missing=[name for name in found["missing"] if name in names],
            missing_but_listed=[name for name in found["missing_but_listed"] if name in names],
            sampled=len(names), created=created, created_per_s=created / elapsed)
    return by_kind


def _visibility_figures(address: str, work: str, seconds: float) -> dict[str, Any]:
    """Two mounts of one new workspace, each with its own cache directory."""
    from citcfs.client.rpc import Client

    client = Client.connect(address)
    try:
        client.create_workspace("vis", "bench")
    finally:
        client.close()
    a, b = os.path.join(work, "mnt-vis-a"), os.path.join(work, "mnt-vis-b")
    with citc_mount(address, "vis", a, os.path.join(work, "cache-vis-a")), \
            citc_mount(address, "vis", b, os.path.join(work, "cache-vis-b")):
        os.listdir(b)
        os.mkdir(os.path.join(a, "storm"))
        # B learns of the directory by listing its parent, never by a failed stat.
        _wait_for(lambda: "storm" in os.listdir(b), 10, "the storm directory in mount B")
        os.listdir(os.path.join(b, "storm"))
        return visibility(os.path.join(a, "storm"), os.path.join(b, "storm"), seconds)


# --- the suite ---------------------------------------------------------------------------

def _sizes(quick: bool, smoke: bool) -> dict[str, int]:
    if smoke:
        return dict(creates=100, tree_files=200, stat_rounds=3, big_mb=4, base_files=2000,
                    vis_seconds=1)
    if quick:
        return dict(creates=1000, tree_files=1000, stat_rounds=5, big_mb=32, base_files=100_000,
                    vis_seconds=3)
    return dict(creates=3000, tree_files=3000, stat_rounds=10, big_mb=128, base_files=1_000_000,
                vis_seconds=5)


def _reads(root: str, runs: int) -> dict[str, float]:
    """The small-file and sequential reads of the base copy at `root` (native or floor):
    the first read of big.bin is the cold one, the next ones warm."""
    big = os.path.join(root, "big.bin")
    small = read_files([p for p in all_files(root) if not p.endswith("big.bin")])
    return {"read_small_files_per_s": small, "seq_read_cold_mb_per_s": seq_read(big),
            "seq_read_warm_mb_per_s": median_of(runs, lambda _: seq_read(big))[0]}


def settle(root: str) -> None:
    """Wait, untimed, for what a workload left behind in the background: the barrier
    of a citcfs mount returns once its journal is on the server (a no-op on tmpfs
    and the passthrough floor). Otherwise our flush would run during the next place's
    measurement, and slow it."""
    from citcfs.cmd.barrier import fsync_root

    fsync_root(root)


def _measure_places(roots: dict[str, str], sizes: dict[str, int], runs: int,
                    tarball: bytes) -> dict[str, dict[str, float]]:
    """Every workload but the reads and the mount figure, in each place (name -> root
    directory), interleaved: each run of a workload goes through the places back to
    back, in an order that rotates from run to run, so a slow minute of the machine
    weighs on every place alike instead of on whichever one it fell in. Each
    measurement starts from a settled machine (`settle`)."""
    names = list(roots)
    samples: dict[str, dict[str, list[float]]] = {place: {} for place in names}

    def interleave(figure: str, measure: Callable[[str, int], float]) -> None:
        for run in range(runs):
            turn = run % len(names)
            for place in names[turn:] + names[:turn]:
                samples[place].setdefault(figure, []).append(measure(place, run))
                settle(roots[place])

    interleave("create_files_per_s", lambda place, _: create_files(roots[place], sizes["creates"]))
    interleave("seq_write_mb_per_s", lambda place, _: seq_write(roots[place], sizes["big_mb"]))
    interleave("tar_extract_s", lambda place, _: tar_extract(roots[place], tarball))
    # Each place's extracted trees, oldest first: the first serves the warm stats and
    # listings; each is committed to a new git repository, the last one then serves
    # `git status`, and each is removed (with its .git) by `rm -rf`.
    trees = {place: [os.path.join(root, name) for name in sorted(os.listdir(root))
                     if name.startswith("tar-")] for place, root in roots.items()}
    files = {place: all_files(os.path.join(trees[place][0], "src")) for place in names}
    directories = {place: sorted({os.path.dirname(p) for p in files[place]}) for place in names}
    interleave("stat_warm_per_s", lambda place, _: stat_warm(files[place], sizes["stat_rounds"]))
    interleave("readdir_per_s",
               lambda place, _: readdir_rate(directories[place], sizes["stat_rounds"]))
    interleave("git_commit_s",
               lambda place, run: git_commit(os.path.join(trees[place][run], "src")))
    for place in names:  # the first status refreshes git's index and fills the caches
        git_status(os.path.join(trees[place][-1], "src"))
    interleave("git_status_few_dirs_s",
               lambda place, _: git_status(os.path.join(trees[place][-1], "src")))
    interleave("rm_tree_s", lambda place, run: rm_tree(trees[place][run]))
    figures = {place: {figure: statistics.median(values) for figure, values in found.items()}
               for place, found in samples.items()}
    for place in names:
        log(f"{place}: {figures[place]}")
    return figures


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    from walks_bench import shape_for as walk_shape
    from walks_bench import walk_figures

    from citcfs.client.importer import import_directory
    from citcfs.client.rpc import Client

    sizes = _sizes(quick, smoke)
    measured: dict[str, dict[str, float]] = {}
    with scratch_dir("citcfs-bench-client-") as work:
        source = os.path.join(work, "source")
        make_source_tree(source, sizes["tree_files"])
        tarball = make_tarball(source)
        base_dir = os.path.join(work, "base")
        make_source_tree(base_dir, sizes["tree_files"], seed=11)
        with open(os.path.join(base_dir, "big.bin"), "wb") as handle:
            handle.write(os.urandom(sizes["big_mb"] << 20))
        native = os.path.join(work, "native")
        shutil.copytree(base_dir, native)
        backing = os.path.join(work, "pt-backing")
        shutil.copytree(base_dir, backing)

        with citc_server(work) as address:
            client = Client.connect(address)
            import_directory(client, "bench", base_dir)
            client.create_workspace("bench", "bench")
            cold_cache = os.path.join(work, "cache-cold")
            mnt = os.path.join(work, "mnt")

            # Small-file reads and the cold sequential read: an empty local cache. The
            # warm read follows in the same mount: kernel page cache and local cache
            # both hold the file, as they do for a developer re-reading a file.
            with citc_mount(address, "bench", mnt, cold_cache):
                base_files = [p for p in all_files(mnt) if not p.endswith("big.bin")]
                ours_small = read_files(base_files)
                first_cold = seq_read(os.path.join(mnt, "big.bin"))
                ours_warm = median_of(runs, lambda _: seq_read(os.path.join(mnt, "big.bin")))[0]

            def cold_read(run: int) -> float:
                """A new mount with an empty local cache of its own."""
                with citc_mount(address, "bench", mnt, os.path.join(work, f"cache-cold-{run}")):
                    return seq_read(os.path.join(mnt, "big.bin"))
            cold_runs = [first_cold] + [cold_read(i) for i in range(1, runs)]
            ours_cold = statistics.median(cold_runs)
            measured["native"] = _reads(native, runs)
            pt = os.path.join(work, "pt-mnt")
            with passthrough_mount(backing, pt):
                measured["floor"] = _reads(pt, runs)
            # New mounts (empty page caches), ours over the filled local object cache;
            # then the write workloads in all three places at once, interleaved.
            with citc_mount(address, "bench", mnt, cold_cache), passthrough_mount(backing, pt):
                ours_local = seq_read(os.path.join(mnt, "big.bin"))
                measured["floor"]["seq_read_local_cache_mb_per_s"] = seq_read(
                    os.path.join(pt, "big.bin"))
                places = _measure_places({"citcfs": mnt, "native": native, "floor": pt}, sizes,
                                         runs, tarball)
            for place, figures in places.items():
                measured.setdefault(place, {}).update(figures)
            measured["citcfs"].update(read_small_files_per_s=ours_small,
                                      seq_read_cold_mb_per_s=ours_cold,
                                      seq_read_warm_mb_per_s=ours_warm,
                                      seq_read_local_cache_mb_per_s=ours_local)

            mount_ms = _mount_first_stat(client, address, work, sizes["base_files"])
            walks = walk_figures(address, work, runs, walk_shape(quick, smoke), client)
            client.close()
            vis = _visibility_figures(address, work, sizes["vis_seconds"])
            for kind, seen in vis.items():
                log(f"visibility ({kind}): {len(seen['latencies_ms'])} of {seen['sampled']} "
                    f"sampled files seen, {len(seen['missing'])} never "
                    f"({len(seen['missing_but_listed'])} of them listed)")

    return _report(measured, mount_ms, sizes, vis) | walks


def _mount_first_stat(client: Any, address: str, work: str, count: int) -> float:
    """Mount a fresh workspace over a generated base of `count` files; time the first stat."""
    from generated_base import import_generated_base

    deep = import_generated_base(client, "huge", count)
    client.create_workspace("huge", "huge")
    mnt = os.path.join(work, "mnt-huge")
    os.makedirs(mnt, exist_ok=True)

    def once(run: int) -> float:
        start = time.perf_counter()
        with citc_mount(address, "huge", mnt, os.path.join(work, f"cache-huge-{run}")):
            os.stat(os.path.join(mnt, deep))
            return (time.perf_counter() - start) * 1000
    return median_of(3, once)[0]


TIME_FIGURES = {"tar_extract_s", "git_status_few_dirs_s", "git_commit_s", "rm_tree_s"}
TARGETS: dict[str, tuple[str, float]] = {
    "stat_warm_per_s_vs_floor": ("higher", 0.8),
    "create_files_per_s_vs_floor": ("higher", 0.7),
    "seq_write_mb_per_s_vs_floor": ("higher", 0.6),
    "tar_extract_s_vs_floor": ("higher", 0.6),
    "git_commit_s_vs_floor": ("higher", 0.6),
    "rm_tree_s_vs_floor": ("higher", 0.6),
    "seq_read_warm_mb_per_s_vs_native": ("higher", 0.5),
}
UNITS = {"create_files_per_s": "files/s", "stat_warm_per_s": "stats/s", "readdir_per_s": "listings/s",
         "read_small_files_per_s": "files/s", "seq_write_mb_per_s": "MB/s",
         "seq_read_cold_mb_per_s": "MB/s", "seq_read_warm_mb_per_s": "MB/s",
         "seq_read_local_cache_mb_per_s": "MB/s",
         "tar_extract_s": "s", "git_status_few_dirs_s": "s", "git_commit_s": "s", "rm_tree_s": "s"}


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _visibility_report(vis: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """p50 and p99 of close-in-A to stat-in-B. `visibility_ms_*` are the samples B
    first looks for after their close; `visibility_prepolled_ms_*` those B polled from
    before their creation. A sample stat never found within VIS_TIMEOUT_S counts as
    VIS_TIMEOUT_S (the percentile is then a lower bound); `missing_but_listed` counts
    the ones B's own listing held: a negative dentry the kernel keeps for the
    mount's negative timeout hid them."""
    results: dict[str, dict[str, Any]] = {}
    for kind, prefix in (("after", "visibility_ms"), ("before", "visibility_prepolled_ms")):
        seen = vis[kind]
        latencies = list(seen["latencies_ms"]) + [VIS_TIMEOUT_S * 1000] * len(seen["missing"])
        extra = dict(samples=seen["sampled"], missing=len(seen["missing"]),
                     missing_but_listed=len(seen["missing_but_listed"]),
                     storm_files=seen["created"],
                     storm_files_per_s=round(seen["created_per_s"], 1),
                     timeout_ms=VIS_TIMEOUT_S * 1000)
        if not latencies:
            latencies = [VIS_TIMEOUT_S * 1000]
        results[f"{prefix}_p50"] = result(_percentile(latencies, 0.5), "ms", better="lower",
                                          **extra)
        results[f"{prefix}_p99"] = result(_percentile(latencies, 0.99), "ms", target=100,
                                          better="lower", **extra)
    return results


def _report(measured: dict[str, dict[str, float]], mount_ms: float,
            sizes: dict[str, int], vis: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for name, unit in UNITS.items():
        ours = measured["citcfs"][name]
        extra: dict[str, Any] = {"native": measured["native"].get(name),
                                 "floor": measured["floor"].get(name)}
        if name == "seq_read_cold_mb_per_s":
            results[name] = result(ours, unit, target=150, **extra)
        else:
            results[name] = result(ours, unit, better="lower" if name in TIME_FIGURES else "higher",
                                   **extra)
        for other in ("floor", "native"):
            theirs = measured[other].get(name)
            if theirs is None:
                continue
            value = theirs / ours if name in TIME_FIGURES else ours / theirs
            key = f"{name}_vs_{other}"
            target = TARGETS.get(key)
            results[key] = result(value, "x", target=target[1] if target else None)
    label = "mount_first_stat_ms_1m_base"
    results[label] = result(mount_ms, "ms", target=300, better="lower",
                            base_files=sizes["base_files"])
    results.update(_visibility_report(vis))
    return results
