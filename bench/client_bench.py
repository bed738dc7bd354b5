"""The client suite: the same workloads on a citcfs mount, the native filesystem and a
minimal passthrough FUSE filesystem, in one run.

Reads: `seq_read_cold` reads a file once through a mount with an empty local cache
(from the server); `seq_read_warm` reads it again in the same mount, with the kernel
page cache and the local object cache both warm; `seq_read_local_cache` reads it in
a new mount (empty page cache) from the local object cache alone.

Each figure NAME comes with NAME_vs_floor and NAME_vs_native: ours over theirs for
rates, theirs over ours for times, so higher is better for every ratio. Native and
passthrough data, the server's data and the local object cache all live on
/dev/shm, so the disk's noise stays out of the comparison. Kernel attribute and entry
timeouts are the same for the passthrough and citcfs (ATTR_TIMEOUT): long, which is
safe for citcfs because the watch stream invalidates what other writers change.
"""

from __future__ import annotations

import contextlib
import io
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
def citc_mount(address: str, workspace: str, mountpoint: str, cache_dir: str) -> Iterator[str]:
    from citcfs.client.mount import MountOptions, mount_background, unmount

    os.makedirs(mountpoint, exist_ok=True)
    opts = MountOptions(address, workspace, mountpoint, cache_dir=cache_dir,
                        attr_timeout=ATTR_TIMEOUT)
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
def passthrough_mount(backing: str, mountpoint: str) -> Iterator[str]:
    os.makedirs(mountpoint, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    process = subprocess.Popen([sys.executable, os.path.join(here, "passthrough.py"), backing,
                                mountpoint, "--attr-timeout", str(ATTR_TIMEOUT)],
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


def git_status(tree: str, runs: int) -> float:
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=tree)
    quiet: dict[str, Any] = dict(cwd=tree, env=env, check=True, capture_output=True)
    subprocess.run(["git", "init", "-q", "."], **quiet)
    subprocess.run(["git", "-c", "user.email=b@x", "-c", "user.name=b", "add", "-A"], **quiet)
    subprocess.run(["git", "-c", "user.email=b@x", "-c", "user.name=b", "commit", "-qm", "x"],
                   **quiet)
    subprocess.run(["git", "status", "--short"], **quiet)

    def once(_: int) -> float:
        start = time.perf_counter()
        subprocess.run(["git", "status", "--short"], **quiet)
        return time.perf_counter() - start
    return median_of(runs, once)[0]


# --- the suite ---------------------------------------------------------------------------

def _sizes(quick: bool, smoke: bool) -> dict[str, int]:
    if smoke:
        return dict(creates=100, tree_files=200, stat_rounds=3, big_mb=4, base_files=2000)
    if quick:
        return dict(creates=1000, tree_files=1000, stat_rounds=5, big_mb=32, base_files=100_000)
    return dict(creates=3000, tree_files=3000, stat_rounds=10, big_mb=128, base_files=1_000_000)


def _measure_place(place: str, root: str, sizes: dict[str, int], runs: int, tarball: bytes,
                   big_name: str) -> dict[str, float]:
    """Every workload but the cold/warm reads and the mount figure, in one place."""
    figures: dict[str, float] = {}
    figures["create_files_per_s"] = median_of(runs, lambda _: create_files(root, sizes["creates"]))[0]
    figures["seq_write_mb_per_s"] = median_of(runs, lambda _: seq_write(root, sizes["big_mb"]))[0]
    times = [tar_extract(root, tarball) for _ in range(runs)]
    figures["tar_extract_s"] = sorted(times)[len(times) // 2]
    trees = sorted(p for p in os.listdir(root) if p.startswith("tar-"))
    tree = os.path.join(root, trees[0], "src")
    files = all_files(tree)
    directories = sorted({os.path.dirname(p) for p in files})
    figures["stat_warm_per_s"] = median_of(runs, lambda _: stat_warm(files, sizes["stat_rounds"]))[0]
    figures["readdir_per_s"] = median_of(runs, lambda _: readdir_rate(directories, sizes["stat_rounds"]))[0]
    figures["git_status_s"] = git_status(os.path.join(root, trees[-1], "src"), runs)
    log(f"{place}: {figures}")
    return figures


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
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
            # A new mount (empty page cache) over the filled local object cache.
            with citc_mount(address, "bench", mnt, cold_cache):
                ours_local = seq_read(os.path.join(mnt, "big.bin"))
                measured["citcfs"] = _measure_place("citcfs", mnt, sizes, runs, tarball, "big.bin")
            measured["citcfs"].update(read_small_files_per_s=ours_small,
                                      seq_read_cold_mb_per_s=ours_cold,
                                      seq_read_warm_mb_per_s=ours_warm,
                                      seq_read_local_cache_mb_per_s=ours_local)

            mount_ms = _mount_first_stat(client, address, work, sizes["base_files"])
            client.close()

        native_files = [p for p in all_files(native) if not p.endswith("big.bin")]
        native_big = os.path.join(native, "big.bin")
        measured["native"] = {"read_small_files_per_s": read_files(native_files),
                              "seq_read_cold_mb_per_s": seq_read(native_big),
                              "seq_read_warm_mb_per_s": median_of(runs, lambda _: seq_read(native_big))[0]}
        measured["native"].update(_measure_place("native", native, sizes, runs, tarball, "big.bin"))

        pt = os.path.join(work, "pt-mnt")
        with passthrough_mount(backing, pt):
            floor_files = [p for p in all_files(pt) if not p.endswith("big.bin")]
            floor_big = os.path.join(pt, "big.bin")
            measured["floor"] = {"read_small_files_per_s": read_files(floor_files),
                                 "seq_read_cold_mb_per_s": seq_read(floor_big),
                                 "seq_read_warm_mb_per_s": median_of(runs, lambda _: seq_read(floor_big))[0]}
        with passthrough_mount(backing, pt):
            measured["floor"]["seq_read_local_cache_mb_per_s"] = seq_read(os.path.join(pt, "big.bin"))
            measured["floor"].update(_measure_place("floor", pt, sizes, runs, tarball, "big.bin"))

    return _report(measured, mount_ms, sizes)


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


TIME_FIGURES = {"tar_extract_s", "git_status_s"}
TARGETS: dict[str, tuple[str, float]] = {
    "stat_warm_per_s_vs_floor": ("higher", 0.8),
    "create_files_per_s_vs_floor": ("higher", 0.3),
    "seq_read_warm_mb_per_s_vs_native": ("higher", 0.5),
    "git_status_s_vs_native": ("higher", 0.08),
}
UNITS = {"create_files_per_s": "files/s", "stat_warm_per_s": "stats/s", "readdir_per_s": "listings/s",
         "read_small_files_per_s": "files/s", "seq_write_mb_per_s": "MB/s",
         "seq_read_cold_mb_per_s": "MB/s", "seq_read_warm_mb_per_s": "MB/s",
         "seq_read_local_cache_mb_per_s": "MB/s",
         "tar_extract_s": "s", "git_status_s": "s"}


def _report(measured: dict[str, dict[str, float]], mount_ms: float,
            sizes: dict[str, int]) -> dict[str, dict[str, Any]]:
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
    return results
