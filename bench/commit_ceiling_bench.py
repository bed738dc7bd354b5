"""Commits per second of 16 clients against the echo ceiling, alone.

    python bench/run.py commit_ceiling [--quick] [--runs N]

The same step is part of `python bench/run.py server`: 16 client processes making
unary Commit calls against a `citc server`, and the same clients calling a no-op
method of a server built like it, in alternating rounds of one run (see
`server_bench.bench_commit16_vs_echo`). Target: commits_per_s_16_clients_vs_ceiling
of at least 0.7. About a minute at full size.
"""

from __future__ import annotations

from typing import Any

from server_bench import run_commit_ceiling


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    return run_commit_ceiling(quick, runs, smoke)
