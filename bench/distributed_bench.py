"""The distributed suite: citc servers on etcd against one on LMDB, in the same run.

An etcd member (Debian's etcd 3.4, data on /dev/shm, the settings of
tests/etcd_support.py), a SeaweedFS for objects (S3, as the tests start it), and three
`citc server` processes on loopback TCP: one on LMDB (the default), and two stateless
ones on that etcd sharing the S3 store (`--objects s3://...`; $CITCFS_BENCH_OBJECTS
names another store instead, e.g. ``file:///shared/dir``).

    commit    one client, one small inline file per commit, unary   -> commit_p50/p99_ms
              (etcd, and the same on LMDB)                            -> lmdb_commit_p50/p99_ms
    commit16  16 client processes, each its own workspace, half on
              each etcd server (and all 16 on the LMDB server)      -> commits_per_s_16_clients
                                                                   -> lmdb_commits_per_s_16_clients
    lookup    Lookup of one path, warm (repeated), one client       -> lookup_p50_us
                                                                   -> lmdb_lookup_p50_us
                                                      (lookup_p50_vs_lmdb: the ratio)
    coldread  ReadObjects of chunks uploaded through server A, read
              through server B (never read there before)            -> cold_read_mb_per_s
    watch     a Watch on server A, commits through server B 40 ms
              apart; time to each event (one monotonic clock)       -> invalidation_p50/p99_ms
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from common import log, result, scratch_dir

TESTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests")
sys.path.insert(0, TESTS)
from etcd_support import etcd_cluster  # noqa: E402 - etcd started as the tests start it
from seaweed_support import running_seaweedfs  # noqa: E402 - and SeaweedFS
from server_bench import _committer, _percentile, _run_together  # noqa: E402
from server_support import ServerProcess, import_small_base  # noqa: E402

from citcfs import wire  # noqa: E402
from citcfs.client.rpc import Client  # noqa: E402
from citcfs.entries import Entry  # noqa: E402
from citcfs.objects import CHUNK_SIZE, ObjectKind, object_id  # noqa: E402

SIZES = {  # name -> (full, quick, smoke)
    "commits": (2000, 500, 30),
    "commit16_seconds": (5.0, 3.0, 0.5),
    "lookups": (5000, 2000, 50),
    "read_chunks": (64, 32, 2),
    "watch_rounds": (200, 100, 5),
}
OBJECTS_ENV = "CITCFS_BENCH_OBJECTS"


def _size(name: str, quick: bool, smoke: bool) -> Any:
    full, fast, tiny = SIZES[name]
    return tiny if smoke else fast if quick else full


@contextmanager
def _servers(root: Path, kv_url: str, objects: str) -> Iterator[dict[str, ServerProcess]]:
    started: dict[str, ServerProcess] = {}
    try:
        started["lmdb"] = ServerProcess(root / "lmdb", "127.0.0.1:0")
        for name in ("a", "b"):
            started[name] = ServerProcess(root / name, "127.0.0.1:0", "--kv", kv_url,
                                          "--objects", objects)
        yield started
    finally:
        for server in started.values():
            server.stop()


def bench_commit(address: str, count: int, workspace: str) -> list[float]:
    with Client.connect(address) as client:
        client.create_workspace(workspace, "main")
        for i in range(20):  # warm up
            client.commit(workspace, [wire.write_file_op("warm", Entry.file(b"%d" % i))])
        times = []
        for i in range(count):
            started = time.perf_counter()
            client.commit(workspace, [wire.write_file_op(f"f{i % 200}", Entry.file(b"%d" % i))])
            times.append((time.perf_counter() - started) * 1000)
    return times


def bench_commit16(addresses: list[str], seconds: float, tag: str) -> float:
    ctx = multiprocessing.get_context("spawn")
    with Client.connect(addresses[0]) as client:
        for i in range(16):
            client.create_workspace(f"c16-{tag}-{i}", "main")
    total = _run_together(ctx, lambda i, ready, go, queue: ctx.Process(
        target=_committer, args=(addresses[i % len(addresses)], f"c16-{tag}-{i}", seconds,
                                 False, ready, go, queue)), "committer")
    return total / seconds


def bench_lookup(address: str, count: int, workspace: str) -> list[float]:
    with Client.connect(address) as client:
        client.create_workspace(workspace, "main")
        client.commit(workspace, [wire.write_file_op("src/mine.c", Entry.file(b"x"))])
        for _ in range(50):  # warm: the server's caches, and the channel
            client.lookup(workspace, "src/main.c")
        times = []
        for _ in range(count):
            started = time.perf_counter()
            client.lookup(workspace, "src/main.c")
            times.append((time.perf_counter() - started) * 1e6)
    return times


def bench_cold_read(writer: str, reader: str, chunks: int) -> float:
    """MB/s of reading `chunks` 1 MiB chunks through `reader` that `writer` stored."""
    payloads = [os.urandom(CHUNK_SIZE) for _ in range(chunks)]
    ids = [object_id(ObjectKind.CHUNK, data) for data in payloads]
    with Client.connect(writer) as client:
        client.put_objects([(ObjectKind.CHUNK, data) for data in payloads])
    with Client.connect(reader) as client:
        started = time.perf_counter()
        got = sum(len(content) for _, _, content in client.read_objects(ids))
        elapsed = time.perf_counter() - started
    assert got == chunks * CHUNK_SIZE
    return got / elapsed / 1e6


def bench_invalidation(watch_on: str, commit_on: str, rounds: int) -> list[float]:
    with Client.connect(watch_on) as watcher, Client.connect(commit_on) as committer:
        committer.create_workspace("inval", "main")
        stream = watcher.watch({"inval": 0})
        try:
            latencies = []
            for i in range(rounds):
                started = time.monotonic()
                result_ = committer.commit("inval", [wire.write_file_op("f", Entry.file(
                    b"%d" % i))])
                while True:
                    event = next(stream)
                    if event.version >= result_.version:
                        break
                latencies.append((time.monotonic() - started) * 1000)
                time.sleep(0.04)
        finally:
            stream.cancel()
    return latencies


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    size: Callable[[str], Any] = lambda name: _size(name, quick, smoke)  # noqa: E731
    out: dict[str, dict[str, Any]] = {}
    with scratch_dir("citc-bench-dist-") as scratch, etcd_cluster(1) as cluster, \
            ExitStack() as stack:
        root = Path(scratch)
        objects = os.environ.get(OBJECTS_ENV) or ""
        if not objects:
            objects = stack.enter_context(running_seaweedfs(root / "seaweedfs")).new_store_url()
        with _servers(root, cluster.url + "/bench", objects) as servers:
            lmdb, a, b = servers["lmdb"].address, servers["a"].address, servers["b"].address
            for address in (lmdb, a):
                with Client.connect(address) as client:
                    import_small_base(client)
            log("distributed: commit latency")
            etcd_times = bench_commit(a, size("commits"), "lat")
            lmdb_times = bench_commit(lmdb, size("commits"), "lat")
            out["commit_p50_ms"] = result(statistics.median(etcd_times), "ms", target=3.0,
                                          better="lower", samples=len(etcd_times))
            out["commit_p99_ms"] = result(_percentile(etcd_times, 0.99), "ms", better="lower")
            out["lmdb_commit_p50_ms"] = result(statistics.median(lmdb_times), "ms",
                                               better="lower")
            out["lmdb_commit_p99_ms"] = result(_percentile(lmdb_times, 0.99), "ms",
                                               better="lower")
            log("distributed: 16 clients over two servers")
            seconds = size("commit16_seconds")
            out["commits_per_s_16_clients"] = result(bench_commit16([a, b], seconds, "etcd"),
                                                     "commits/s", note="8 on each etcd server")
            out["lmdb_commits_per_s_16_clients"] = result(
                bench_commit16([lmdb], seconds, "lmdb"), "commits/s", note="one LMDB server")
            log("distributed: warm lookups")
            etcd_lookup = statistics.median(bench_lookup(a, size("lookups"), "look"))
            lmdb_lookup = statistics.median(bench_lookup(lmdb, size("lookups"), "look"))
            out["lookup_p50_us"] = result(etcd_lookup, "us", better="lower")
            out["lmdb_lookup_p50_us"] = result(lmdb_lookup, "us", better="lower")
            out["lookup_p50_vs_lmdb"] = result(etcd_lookup / lmdb_lookup, "x", target=2.0,
                                               better="lower")
            log("distributed: cold reads")
            out["cold_read_mb_per_s"] = result(bench_cold_read(a, b, size("read_chunks")),
                                               "MB/s", objects=objects.split("?")[0],
                                               note=f"S3 on SeaweedFS unless ${OBJECTS_ENV}")
            log("distributed: invalidation across servers")
            latencies = bench_invalidation(a, b, size("watch_rounds"))
            out["invalidation_p50_ms"] = result(statistics.median(latencies), "ms",
                                                better="lower", samples=len(latencies))
            out["invalidation_p99_ms"] = result(_percentile(latencies, 0.99), "ms",
                                                target=100.0, better="lower")
    return out
