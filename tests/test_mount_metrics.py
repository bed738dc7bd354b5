"""A mount's own metrics, on real mounts of a real server: `.citc/stats`, the
Prometheus endpoint of `citc mount --metrics`, and `citc stats`.

The scrape is parsed with prometheus_client's own parser, and the counters are
compared before and after a workload that reads, writes, lists, fails a lookup
and is invalidated by another client's commit.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from pathlib import Path

import pytest
from cli_support import Citc, private_env
from fuse_support import SMALL_TREE, FuseEnv, Mount, shared_env, shared_server, wait_for  # noqa: F401
from metrics_support import Samples, parse_exposition, value
from prometheus_client import generate_latest

from citcfs import wire
from citcfs.client.metrics import MountMetrics, parse_address
from citcfs.client.mount import MountError
from citcfs.cmd.stats_cmd import rows
from citcfs.entries import Entry
from citcfs.errors import InvalidArgument

FAMILIES = {
    "citcfs_mount_cache_hits": "counter", "citcfs_mount_cache_misses": "counter",
    "citcfs_mount_fetched_bytes": "counter",
    "citcfs_mount_fuse_op_duration_seconds": "histogram",
    "citcfs_mount_fuse_errors": "counter", "citcfs_mount_journal_ops": "gauge",
    "citcfs_mount_journal_bytes": "gauge", "citcfs_mount_flush_duration_seconds": "histogram",
    "citcfs_mount_flush_lag_seconds": "histogram", "citcfs_mount_flush_batch_ops": "histogram",
    "citcfs_mount_watch_events": "counter", "citcfs_mount_invalidations": "counter",
    "citcfs_mount_invalidated_paths": "counter", "citcfs_mount_full_invalidations": "counter",
}


def scrape(address: str) -> tuple[dict[str, str], Samples]:
    """(family -> type, samples) of http://ADDRESS/metrics, as Prometheus reads it."""
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return parse_exposition(text)


def stats_file(mount: Mount) -> dict[str, object]:
    return json.loads((mount.path / ".citc" / "stats").read_bytes())


def test_stats_and_scrape_move_with_a_workload(shared_env: FuseEnv) -> None:
    workspace = shared_env.new_workspace()
    mount = shared_env.mount(workspace, metrics="127.0.0.1:0")
    doc = stats_file(mount)
    address = str(doc["address"])
    assert address.startswith("127.0.0.1:") and not address.endswith(":0")
    assert doc["workspace"] == workspace
    types, before = scrape(address)
    for name, kind in FAMILIES.items():
        assert types.get(name) == kind, name
    assert {f["name"] for f in doc["metrics"]} >= set(FAMILIES)  # type: ignore[union-attr]

    root = mount.path
    assert (root / "docs/big.bin").read_bytes() == SMALL_TREE["docs/big.bin"]  # one chunk
    assert sorted(p.name for p in (root / "src").iterdir()) == ["lib", "main.c"]
    assert not (root / "missing").exists()
    (root / "new.txt").write_bytes(b"new\n")
    mount.sync()  # the journal reaches the server: a flush
    client = shared_env.client()
    version = client.commit(workspace, [wire.write_file_op("other", Entry.file(b"o"))]).version
    wait_for(lambda: value(scrape(address)[1], "citcfs_mount_invalidations_total") >= 1,
             what="the mount to catch up with another client's commit")
    assert (root / "other").read_bytes() == b"o"
    _, after = scrape(address)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    hits, misses = "citcfs_mount_cache_hits_total", "citcfs_mount_cache_misses_total"
    # The chunk of big.bin: not in memory, so fetched (by read-ahead: a sequential read).
    assert moved(misses, layer="memory", kind="chunk") >= 1
    assert moved(hits, layer="server", kind="chunk") >= 1
    assert moved("citcfs_mount_fetched_bytes_total") >= len(SMALL_TREE["docs/big.bin"])
    assert moved(misses, layer="memory", kind="listing") >= 1  # src/ listed from the server
    assert moved(hits, layer="memory", kind="entry") >= 1  # answered from a cached listing
    ops = "citcfs_mount_fuse_op_duration_seconds_count"
    for op in ("getattr", "readdir", "read", "create", "write", "release", "fsyncdir"):
        assert moved(ops, op=op) >= 1, op
    assert moved("citcfs_mount_fuse_errors_total", op="getattr") >= 1  # `missing`: ENOENT
    assert moved("citcfs_mount_flush_duration_seconds_count") >= 1
    assert moved("citcfs_mount_flush_batch_ops_sum") >= 1
    assert moved("citcfs_mount_watch_events_total") >= 1
    assert moved("citcfs_mount_invalidated_paths_total") >= 1
    assert value(after, "citcfs_mount_journal_ops") == 0  # all on the server
    assert shared_env.client().describe_workspace(workspace).version >= version

    # A second mount sharing the cache directory finds that chunk on local disk.
    second = shared_env.mount(workspace, cache_dir=mount.cache_dir)
    fd = os.open(second.path / "docs/big.bin", os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 1000) == SMALL_TREE["docs/big.bin"][1000:1100]
    finally:
        os.close(fd)
    counts = {(s["name"], s["labels"].get("layer"), s["labels"].get("kind")): s["value"]
              for f in stats_file(second)["metrics"] for s in f["samples"]}  # type: ignore
    assert counts[(misses, "memory", "chunk")] >= 1
    assert counts[(hits, "local", "chunk")] >= 1
    assert counts[(hits, "server", "chunk")] == 0


def test_citc_stats_prints_a_table_and_json(shared_env: FuseEnv, tmp_path: Path) -> None:
    mount = shared_env.mount(shared_env.new_workspace())
    (mount.path / "README").read_bytes()
    citc = Citc(private_env(tmp_path, tmp_path / "run"), mount.path)
    table = citc.ok("stats")  # the current directory's mount
    lines = table.splitlines()
    assert lines[0].split() == ["METRIC", "LABELS", "VALUE"]
    ops = [line for line in lines if line.startswith("citcfs_mount_fuse_op_duration_seconds")]
    assert any("op=getattr" in line and "mean" in line for line in ops)
    doc = citc.json("stats", str(mount.path / "src"), cwd=tmp_path)
    assert doc["mountpoint"] == str(mount.path)
    names = {f["name"] for f in doc["metrics"]}
    assert set(FAMILIES) <= names
    assert doc["address"] == ""  # mounted without --metrics

    assert "not in a citcfs mount" in citc.fails(1, "stats", str(tmp_path), cwd=tmp_path)
    assert "not in a citcfs mount" in citc.fails(2, "stats", cwd=tmp_path)


def test_metrics_address_taken_or_malformed_mounts_nothing(shared_env: FuseEnv,
                                                          tmp_path: Path) -> None:
    workspace = shared_env.new_workspace()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(MountError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            shared_env.mount(workspace, name="taken", metrics=f"127.0.0.1:{port}")
    assert not (shared_env.tmp_path / "taken").is_mount()

    citc = Citc(private_env(tmp_path, tmp_path / "run"), tmp_path)
    target = tmp_path / "never"
    line = citc.fails(2, "mount", workspace, str(target), "--metrics", "localhost:http")
    assert "--metrics" in line and "HOST:PORT" in line
    assert not target.exists()


def test_fuse_op_histograms_are_cumulative_and_named_by_operation() -> None:
    """Without a kernel: what `OpTimes` records is what a scrape and `citc stats` show."""
    metrics = MountMetrics()
    metrics.fuse_op("getattr_fuse_3", 0.00002, False)
    metrics.fuse_op("fgetattr", 0.002, True)  # mfusepy's two names of getattr
    metrics.fuse_op("write", 100.0, False)  # past the last bound: only +Inf
    found = parse_exposition(generate_latest(metrics.registry).decode())[1]

    def at(name: str, **labels: str) -> float:
        return found[(name, frozenset(labels.items()))]
    seconds = "citcfs_mount_fuse_op_duration_seconds"
    assert at(seconds + "_count", op="getattr") == 2
    assert at(seconds + "_sum", op="getattr") == pytest.approx(0.00202)
    assert at(seconds + "_bucket", op="getattr", le="2.5e-05") == 1
    assert at(seconds + "_bucket", op="getattr", le="0.0025") == 2
    assert at(seconds + "_bucket", op="write", le="10.0") == 0
    assert at(seconds + "_bucket", op="write", le="+Inf") == 1
    assert at("citcfs_mount_fuse_errors_total", op="getattr") == 1
    assert at("citcfs_mount_fuse_errors_total", op="write") == 0

    table = {(name, labels): shown for name, labels, shown in rows(metrics.snapshot())}
    assert table[(seconds, "op=getattr")].startswith("2 (mean 1.01 ms")
    assert table[("citcfs_mount_fuse_errors_total", "op=getattr")] == "1"


def test_metrics_addresses() -> None:
    assert parse_address("9567") == ("127.0.0.1", 9567)
    assert parse_address(":0") == ("127.0.0.1", 0)
    assert parse_address("0.0.0.0:9567") == ("0.0.0.0", 9567)
    assert parse_address("[::1]:80") == ("::1", 80)
    for bad in ("", "host:", "host:http", "host:70000", "1.2.3.4:-1"):
        with pytest.raises(InvalidArgument, match="HOST:PORT"):
            parse_address(bad)
