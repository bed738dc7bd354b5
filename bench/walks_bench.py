"""The walks suite: `git status`, `find` and `grep -r` over a tree shaped like a real one.

    python bench/run.py walks [--json OUT] [--runs N]

The tree (bench/walk_tree.py: ~6.8k files in ~3.2k directories, up to 10 deep, as
Django 5.1.4's source) is committed with git natively, then imported as a base; a
workspace of it is mounted with the *default* mount options, as a user gets them.
The same repository is walked on the native filesystem and through the Python
passthrough floor (bench/passthrough.py, with the timeouts a default citcfs mount
has). Figures, each the median of `runs` after one warm-up walk:

- `git_status_s`: `git status --short`;
- `find_s`: `find . -type f | wc -l`;
- `grep_r_s`: `grep -r` for a string no file holds.

Each with NAME_vs_native and NAME_vs_floor (theirs over ours: higher is better).
The three places are walked in turn within each run, so a burst of load on the
machine falls on all of them. `bench/run.py client` reports the same figures.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import Any

from common import log, result, scratch_dir
from walk_tree import (
    DJANGO_SHAPE,
    NEEDLE,
    WalkTreeShape,
    git_env,
    make_repository,
    tree_stats,
)

WALKS: dict[str, str] = {
    "git_status_s": "git status --short >/dev/null",
    "find_s": "find . -type f | wc -l >/dev/null",
    "grep_r_s": f"grep -r {NEEDLE} . >/dev/null; test $? -eq 1",
}
TARGETS = {"git_status_s_vs_native": 0.1, "find_s_vs_native": 0.1}
PLACES = ("citcfs", "native", "floor")


def shape_for(quick: bool, smoke: bool) -> WalkTreeShape:
    return WalkTreeShape(files=200, directories=80) if smoke else DJANGO_SHAPE


def walk_once(tree: str, command: str) -> float:
    """Seconds for one `command` (a shell line) in `tree`; it must succeed."""
    start = time.perf_counter()
    subprocess.run(["sh", "-c", command], cwd=tree, env=git_env(tree), check=True,
                   capture_output=True)
    return time.perf_counter() - start


def measure(trees: dict[str, str], runs: int) -> dict[str, dict[str, list[float]]]:
    """Every walk in every place: one warm-up walk, then `runs` timed ones each, the
    places taking turns. Returns {place: {figure: [seconds...]}}."""
    times: dict[str, dict[str, list[float]]] = {place: {} for place in trees}
    for name, command in WALKS.items():
        for tree in trees.values():
            walk_once(tree, command)
        for _ in range(runs):
            for place, tree in trees.items():
                times[place].setdefault(name, []).append(walk_once(tree, command))
    return times


def walk_figures(address: str, work: str, runs: int, shape: WalkTreeShape,
                 client: Any) -> dict[str, dict[str, Any]]:
    """The walk figures, with a server at `address` and scratch space in `work`."""
    from citcfs.client.importer import import_directory
    from citcfs.client.mount import MountOptions
    from client_bench import citc_mount, passthrough_mount

    source = os.path.join(work, "walk-source")
    make_repository(source, shape)
    stats = tree_stats(source)
    log(f"walk tree: {stats}")
    native = os.path.join(work, "walk-native")
    backing = os.path.join(work, "walk-backing")
    shutil.copytree(source, native, symlinks=True)
    shutil.copytree(source, backing, symlinks=True)
    import_directory(client, "walk", source)
    client.create_workspace("walk", "walk")
    shutil.rmtree(source)

    timeout = MountOptions("", "", "").attr_timeout
    mnt, pt = os.path.join(work, "walk-mnt"), os.path.join(work, "walk-pt")
    with citc_mount(address, "walk", mnt, os.path.join(work, "cache-walk"), attr_timeout=None), \
            passthrough_mount(backing, pt, attr_timeout=timeout):
        times = measure({"citcfs": mnt, "native": native, "floor": pt}, runs)
    log(f"walks: {times}")
    return report(times, stats, timeout)


def report(times: dict[str, dict[str, list[float]]], stats: dict[str, int],
           timeout: float) -> dict[str, dict[str, Any]]:
    def median(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    results: dict[str, dict[str, Any]] = {}
    for name in WALKS:
        ours = median(times["citcfs"][name])
        theirs = {place: median(times[place][name]) for place in ("native", "floor")}
        results[name] = result(ours, "s", better="lower", runs=times["citcfs"][name],
                               tree=stats, attr_timeout=timeout, **theirs)
        for place, value in theirs.items():
            key = f"{name}_vs_{place}"
            results[key] = result(value / ours, "x", target=TARGETS.get(key))
    return results


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    from citcfs.client.rpc import Client
    from client_bench import citc_server

    with scratch_dir("citcfs-bench-walks-") as work, citc_server(work) as address:
        client = Client.connect(address)
        try:
            return walk_figures(address, work, runs, shape_for(quick, smoke), client)
        finally:
            client.close()

