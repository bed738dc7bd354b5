"""The cost of a server's Prometheus metrics on commit latency, alone.

    python bench/run.py metrics_cost [--quick]

The same step ends `python bench/run.py server`: commit_rpc_p50_ms measured against
a `citc server` with metrics and one with `--no-metrics`, in alternating rounds
of one run (see `server_bench.bench_metrics_cost`). Target: at most 5 % slower.
"""

from __future__ import annotations

from typing import Any

from server_bench import run_metrics_cost


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    return run_metrics_cost(quick, smoke)
