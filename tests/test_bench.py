"""The benchmark runner works end to end and prints the promised JSON shape.

Runs `bench/run.py storage --quick --smoke` (tiny sizes) in a subprocess.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

REQUIRED = ("import_files_per_s", "commit_per_s", "lookup_us", "listdir_us", "rebuild_s")
TARGETED = ("import_files_per_s", "commit_per_s", "lookup_us", "listdir_us")


def test_storage_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "storage.json"
    env = dict(os.environ, CITCFS_BENCH_SMOKE="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "storage", "--quick", "--smoke",
         "--runs", "1", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]

    written = json.loads(out.read_text())
    printed = json.loads(proc.stdout)
    assert printed == written
    assert written["suite"] == "storage"
    assert written["machine"]["cpu_count"] >= 1
    assert written["machine"]["python"]
    results = written["results"]
    for name in REQUIRED:
        assert name in results, name
    for name, item in results.items():
        assert isinstance(item["value"], (int, float)) and not isinstance(item["value"], bool), name
        assert math.isfinite(item["value"]) and item["value"] >= 0, (name, item)
        assert isinstance(item["unit"], str) and item["unit"], name
    for name in TARGETED:
        assert isinstance(results[name]["target"], (int, float)), name
        assert isinstance(results[name]["met"], bool), name


def test_unknown_suite_is_refused() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "nosuch"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "unknown suite" in proc.stderr
