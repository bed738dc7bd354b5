"""The kernel's writeback cache and max_write on the passthrough floor.

    python bench/run.py writeback [--quick] [--runs N]

Mounts bench/passthrough.py over a directory on /dev/shm with each set of options
(none; --writeback-cache; --max-write 131072, the size kernels before 4.20 and
libfuse 2 allowed; both), and measures in each: sequential writes in 1 MiB and in
4 KiB write() calls, 4 KiB file creates, and a tar extraction. All variants are
mounted at once and measured in turn, round after round, so that a change in the
machine's load falls on every variant alike. Each figure is the median of `runs`. Figures are named FIGURE_VARIANT; FIGURE_VARIANT_vs_default is the
ratio to the mount with no option (higher is better).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from typing import Any

from client_bench import (create_files, make_source_tree, make_tarball, passthrough_mount,
                          seq_write, tar_extract)
from common import log, result, scratch_dir

VARIANTS: dict[str, tuple[str, ...]] = {
    "default": (),
    "writeback": ("--writeback-cache",),
    "max_write_128k": ("--max-write", "131072"),
    "writeback_max_write_128k": ("--writeback-cache", "--max-write", "131072"),
}


def seq_write_small(root: str, megabytes: int, block: int = 4096) -> float:
    data = os.urandom(block)
    path = os.path.join(root, f"small-{time.monotonic_ns()}")
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range((megabytes << 20) // block):
            os.write(fd, data)
    finally:
        os.close(fd)
    return megabytes / (time.perf_counter() - start)


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    big_mb, small_mb, creates, tree_files = ((4, 1, 100, 100) if smoke else
                                             (64, 8, 1000, 1000) if quick else
                                             (256, 32, 3000, 3000))
    units = {"seq_write_mb_per_s": "MB/s", "seq_write_4k_mb_per_s": "MB/s",
             "create_files_per_s": "files/s", "tar_extract_s": "s"}
    measured: dict[str, dict[str, float]] = {}
    with scratch_dir("citcfs-bench-writeback-") as work:
        source = os.path.join(work, "source")
        make_source_tree(source, tree_files)
        tarball = make_tarball(source)
        workloads = {
            "seq_write_mb_per_s": lambda mnt: seq_write(mnt, big_mb),
            "seq_write_4k_mb_per_s": lambda mnt: seq_write_small(mnt, small_mb),
            "create_files_per_s": lambda mnt: create_files(mnt, creates),
            "tar_extract_s": lambda mnt: tar_extract(mnt, tarball),
        }
        values: dict[str, dict[str, list[float]]] = {
            variant: {name: [] for name in workloads} for variant in VARIANTS}
        with contextlib.ExitStack() as stack:
            mounts = {}
            for variant, options in VARIANTS.items():
                backing = os.path.join(work, f"backing-{variant}")
                os.makedirs(backing)
                mounts[variant] = stack.enter_context(passthrough_mount(
                    backing, os.path.join(work, f"mnt-{variant}"), options))
            for round_ in range(max(1, runs)):
                for name, workload in workloads.items():
                    for variant, mnt in mounts.items():
                        values[variant][name].append(workload(mnt))
                log(f"round {round_ + 1} of {runs} done")
        for variant in VARIANTS:
            measured[variant] = {name: statistics.median(v) for name, v in values[variant].items()}
            log(f"{variant}: {measured[variant]}")
    results: dict[str, dict[str, Any]] = {}
    for variant, figures in measured.items():
        for name, value in figures.items():
            lower = name == "tar_extract_s"
            results[f"{name}_{variant}"] = result(value, units[name],
                                                  better="lower" if lower else "higher")
            if variant != "default":
                base = measured["default"][name]
                results[f"{name}_{variant}_vs_default"] = result(
                    base / value if lower else value / base, "x")
    return results
