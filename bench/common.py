"""Shared pieces of the benchmark suites: results, timing, scratch space, machine info.

A suite is a module `bench/<name>_bench.py` exposing

    run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict]

that returns {result name: result(...)}; `bench/run.py` wraps it in
{"suite": ..., "machine": ..., "results": ...}.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

SCRATCH_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") else None


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the JSON."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def result(value: float, unit: str, *, target: float | None = None,
           better: str = "higher", **extra: Any) -> dict[str, Any]:
    """One result. With a target, `met` says whether the value reaches it.

    `better` is "higher" (a rate: value >= target) or "lower" (a latency: value <= target).
    Extra keys (runs, samples, notes, sizes...) are kept as given.
    """
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', not {better!r}")
    out: dict[str, Any] = {"value": _round(value), "unit": unit}
    if target is not None:
        out["target"] = target
        out["better"] = better
        out["met"] = bool(value >= target if better == "higher" else value <= target)
    out.update(extra)
    return out


def ratio(numerator: float, denominator: float, **extra: Any) -> dict[str, Any]:
    return result(numerator / denominator if denominator else float("nan"), "x", **extra)


def _round(value: float) -> float:
    if isinstance(value, int):
        return value
    if value == 0 or value != value:
        return value
    magnitude = abs(value)
    digits = 1 if magnitude >= 1000 else 3 if magnitude >= 1 else 6
    return round(value, digits)


def median_of(runs: int, measure: Callable[[int], float]) -> tuple[float, list[float]]:
    """Call measure(run_index) `runs` times; return (median, all values)."""
    values = [measure(i) for i in range(max(1, runs))]
    return statistics.median(values), values


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }
    with contextlib.suppress(OSError):
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    return info


PACKAGES = ("citcfs", "citcfs.storage", "citcfs.server", "citcfs.client", "citcfs.protos",
            "citcfs.cmd")


def compile_bytecode() -> bool:
    """Compile citcfs's modules to bytecode, as installing a package does.

    The suites time processes they start (servers, mount daemons), and a process that
    must compile every module from source first (an editable install under
    PYTHONDONTWRITEBYTECODE) measures the compiler, not citcfs. True if every module
    compiled.
    """
    import compileall
    import importlib.util

    ok = True
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        for directory in (spec.submodule_search_locations or []) if spec else []:
            ok = bool(compileall.compile_dir(directory, maxlevels=0, quiet=1)) and ok
    return ok


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[str]:
    """A fresh directory on /dev/shm, removed afterwards even on error or SIGTERM."""
    path = tempfile.mkdtemp(prefix=prefix, dir=SCRATCH_ROOT)
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    installed = False
    with contextlib.suppress(ValueError):  # not the main thread
        signal.signal(signal.SIGTERM, on_term)
        installed = True
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        if installed:
            signal.signal(signal.SIGTERM, previous)
