"""The benchmark runner works end to end and prints the promised JSON shape.

Runs every suite of `bench/run.py` with `--smoke` (tiny sizes) in a subprocess: the
storage engine in process, a real server, real mounts (citcfs and the passthrough
floor), and the S3 object store on a real SeaweedFS.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SUITES = {
    "storage": (("import_files_per_s", "commit_per_s", "lookup_us", "listdir_us", "rebuild_s",
                 "diff_ms_10_changes_100k_tree", "freeze_ms_10_changes_100k_tree", "fork_ms",
                 "gc_s"),
                ("import_files_per_s", "commit_per_s", "lookup_us", "listdir_us",
                 "diff_ms_10_changes_100k_tree", "freeze_ms_10_changes_100k_tree")),
    "server": (("commit_rpc_p50_ms", "commit_rpc_p99_ms", "commits_per_s_16_clients",
                "commits_per_s_echo_ceiling", "commits_per_s_16_clients_vs_ceiling",
                "read_mb_per_s", "watch_latency_p50_ms", "watch_latency_p99_ms",
                "web_diff_ms_p50", "commit_rpc_p50_ms_metrics_on",
                "commit_rpc_p50_ms_metrics_off",
                "commit_rpc_p50_ms_metrics_on_vs_off"),
               ("commit_rpc_p50_ms", "commits_per_s_16_clients", "read_mb_per_s",
                "watch_latency_p99_ms", "web_diff_ms_p50")),
    "web": (("web_diff_ms_p50", "web_diff_cold_ms_p50", "web_diff_versions_ms_p50"),
            ("web_diff_ms_p50",)),
    "distributed": (("commit_p50_ms", "commit_p99_ms", "lmdb_commit_p50_ms",
                     "commits_per_s_16_clients", "lmdb_commits_per_s_16_clients",
                     "lookup_p50_us", "lmdb_lookup_p50_us", "cold_read_mb_per_s",
                     "invalidation_p50_ms", "invalidation_p99_ms"),
                    ("commit_p50_ms", "lookup_p50_vs_lmdb", "invalidation_p99_ms")),
    "commit_ceiling": (("commits_per_s_16_clients", "commits_per_s_echo_ceiling",
                        "commits_per_s_16_clients_vs_ceiling"),
                       ("commits_per_s_16_clients", "commits_per_s_16_clients_vs_ceiling")),
    "metrics_cost": (("commit_rpc_p50_ms_metrics_on", "commit_rpc_p50_ms_metrics_off",
                      "commit_rpc_p50_ms_metrics_on_vs_off"),
                     ("commit_rpc_p50_ms_metrics_on_vs_off",)),
    "mount_metrics_cost": (("small_write_us_timed", "small_write_us_untimed",
                            "small_write_us_timed_vs_untimed", "touch_write_close_us_timed",
                            "touch_write_close_us_untimed",
                            "touch_write_close_us_timed_vs_untimed"),
                           ("small_write_us_timed_vs_untimed",
                            "touch_write_close_us_timed_vs_untimed")),
    "s3": (("put_mb_s", "cold_read_mb_s", "cold_read_mb_s_8_readers", "get_small_p50_ms",
            "get_small_p99_ms", "head_p50_ms", "lmdb_get_small_us"), ()),
    "client": (("create_files_per_s", "stat_warm_per_s", "readdir_per_s",
                "read_small_files_per_s", "seq_write_mb_per_s", "seq_read_cold_mb_per_s",
                "seq_read_warm_mb_per_s", "tar_extract_s", "git_status_s", "find_s",
                "grep_r_s", "find_s_vs_native", "grep_r_s_vs_floor", "git_status_few_dirs_s",
                "mount_first_stat_ms_1m_base", "create_files_per_s_vs_floor",
                "stat_warm_per_s_vs_native", "git_status_s_vs_native", "git_commit_s",
                "rm_tree_s", "visibility_ms_p50", "visibility_ms_p99",
                "visibility_prepolled_ms_p99"),
               ("stat_warm_per_s_vs_floor", "create_files_per_s_vs_floor",
                "seq_write_mb_per_s_vs_floor", "tar_extract_s_vs_floor", "git_commit_s_vs_floor",
                "rm_tree_s_vs_floor", "visibility_ms_p99",
                "seq_read_warm_mb_per_s_vs_native", "seq_read_cold_mb_per_s",
                "mount_first_stat_ms_1m_base", "git_status_s_vs_native", "find_s_vs_native")),
    "walks": (("git_status_s", "find_s", "grep_r_s", "git_status_s_vs_native",
               "git_status_s_vs_floor", "find_s_vs_native", "find_s_vs_floor",
               "grep_r_s_vs_native", "grep_r_s_vs_floor"),
              ("git_status_s_vs_native", "find_s_vs_native")),
}


MARKS = {"storage": (pytest.mark.slow,), "server": (pytest.mark.server, pytest.mark.slow),
         "web": (pytest.mark.server,), "metrics_cost": (pytest.mark.server,),
         "commit_ceiling": (pytest.mark.server,),
         "distributed": (pytest.mark.cluster, pytest.mark.server, pytest.mark.slow),
         "mount_metrics_cost": (pytest.mark.mount, pytest.mark.slow),
         "s3": (pytest.mark.cluster,), "walks": (pytest.mark.mount, pytest.mark.slow),
         "client": (pytest.mark.mount, pytest.mark.slow)}
"""The tier of each suite (tests/tiers.py): the storage suite runs in process."""


@pytest.mark.parametrize("suite", [pytest.param(s, marks=MARKS[s]) for s in sorted(SUITES)])
def test_bench_smoke(tmp_path: Path, suite: str) -> None:
    required, targeted = SUITES[suite]
    out = tmp_path / f"{suite}.json"
    env = dict(os.environ, CITCFS_BENCH_SMOKE="1")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), suite, "--quick", "--smoke",
         "--runs", "1", "--json", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    written = json.loads(out.read_text())
    printed = json.loads(proc.stdout)
    assert printed == written
    assert written["suite"] == suite
    assert written["machine"]["cpu_count"] >= 1
    assert written["machine"]["python"]
    results = written["results"]
    for name in required:
        assert name in results, name
    for name, item in results.items():
        assert isinstance(item["value"], (int, float)) and not isinstance(item["value"], bool), name
        assert math.isfinite(item["value"]) and item["value"] >= 0, (name, item)
        assert isinstance(item["unit"], str) and item["unit"], name
    for name in targeted:
        assert isinstance(results[name]["target"], (int, float)), name
        assert isinstance(results[name]["met"], bool), name


def test_unknown_suite_is_refused() -> None:
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "nosuch"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "unknown suite" in proc.stderr
