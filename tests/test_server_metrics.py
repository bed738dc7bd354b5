"""The server's Prometheus metrics, read as a scrape reads them: prometheus_client's
text exposition of its default registry, parsed by its own parser, around a real
workload on a real in-process server (the metrics are per process, so each test
compares a scrape before with one after)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from metrics_support import scrape_registry as scrape
from metrics_support import value
from server_support import import_small_base, server_process

from citcfs import errors, wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.server.app import CitcServer

pytestmark = pytest.mark.server_config(sync=False)


NAMES = {  # family name -> type, as the parser reports them
    "citcfs_rpcs": "counter", "citcfs_rpc_duration_seconds": "histogram",
    "citcfs_commit_batch_jobs": "histogram", "citcfs_commit_batch_duration_seconds": "histogram",
    "citcfs_group_commit_wait_seconds": "histogram", "citcfs_watch_streams": "gauge",
    "citcfs_watch_events_sent": "counter", "citcfs_gc_runs": "counter",
    "citcfs_gc_duration_seconds": "histogram", "citcfs_gc_freed_objects": "counter",
    "citcfs_gc_freed_bytes": "counter", "citcfs_gc_pruned_versions": "counter",
    "citcfs_gc_last_run_timestamp_seconds": "gauge", "citcfs_log_records": "gauge",
    "citcfs_log_bytes": "gauge", "citcfs_log_lsn": "gauge", "citcfs_log_store_bytes": "gauge",
    "citcfs_object_store_objects": "gauge", "citcfs_object_store_bytes": "gauge",
}


def rpc(method: str, code: str = "OK") -> dict[str, str]:
    return {"service": "citc.v1.Citc", "method": method, "code": code}


@pytest.fixture
def client(server: CitcServer) -> Iterator[Client]:
    with Client.connect(server.address) as connected:
        import_small_base(connected)
        yield connected


def test_names_follow_conventions_and_are_all_exposed(server: CitcServer) -> None:
    types, _ = scrape()
    for name, kind in NAMES.items():
        assert types.get(name) == kind, name
    for name, kind in types.items():
        if name.startswith("citcfs_") and kind == "counter":
            assert not name.endswith("_total")  # the parser strips it: the sample has it


def test_counters_move_after_a_workload(server: CitcServer, client: Client) -> None:
    _, before = scrape()
    client.create_workspace("ws", "main")
    for n in range(3):
        entry = client.upload_file(b"x" * 5000 + bytes([n]))  # a chunk, not inline
        client.commit("ws", [wire.write_file_op(f"f{n}", entry)])
    with pytest.raises(errors.WorkspaceNotFound):
        client.describe_workspace("nope")

    stream = client.watch({"ws": 0}, timeout=30)
    events = iter(stream)
    assert next(events).version == 3  # three commits since version 0
    _, open_now = scrape()
    assert value(open_now, "citcfs_watch_streams") >= 1
    stream.cancel()
    report = client.gc()
    _, after = scrape()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("citcfs_rpcs_total", **rpc("Commit")) == 3
    assert moved("citcfs_rpc_duration_seconds_count", **rpc("Commit")) == 3
    assert moved("citcfs_rpc_duration_seconds_sum", **rpc("Commit")) > 0
    assert moved("citcfs_rpc_duration_seconds_bucket", le="+Inf", **rpc("Commit")) == 3
    assert moved("citcfs_rpcs_total", **rpc("DescribeWorkspace", "NOT_FOUND")) == 1
    assert moved("citcfs_rpcs_total", **rpc("CreateWorkspace")) == 1
    assert moved("citcfs_rpcs_total", **rpc("GC")) == 1
    # Create, three commits and the GC are write jobs: each batch and wait is seen.
    jobs = moved("citcfs_commit_batch_jobs_sum")
    assert jobs >= 5
    assert moved("citcfs_group_commit_wait_seconds_count") == jobs
    assert 1 <= moved("citcfs_commit_batch_duration_seconds_count") <= jobs
    assert moved("citcfs_watch_events_sent_total") >= 1
    assert moved("citcfs_gc_runs_total", dry_run="false") == 1
    assert moved("citcfs_gc_freed_objects_total") == report.objects_freed
    assert value(after, "citcfs_gc_last_run_timestamp_seconds") > 0

    # Sizes are this server's: its database is the only one open in the process.
    usage = server.db.usage()
    assert usage is not None and usage.objects >= 4  # the base's and the commits' objects
    assert value(after, "citcfs_log_lsn") == usage.last_lsn > 0
    assert value(after, "citcfs_log_records") == usage.log_records > 0
    assert value(after, "citcfs_object_store_objects") == usage.objects
    assert value(after, "citcfs_object_store_bytes") >= 3 * 5000
    assert value(after, "citcfs_log_store_bytes") >= value(after, "citcfs_log_bytes") > 0


def test_a_cancelled_stream_is_counted_with_its_status(server: CitcServer,
                                                       client: Client) -> None:
    client.create_workspace("ws", "main")
    _, before = scrape()
    stream = client.watch({"ws": 0}, timeout=30)
    first = threading.Event()
    reader = threading.Thread(target=lambda: (next(iter(stream)), first.set()))
    reader.start()
    client.commit("ws", [wire.write_file_op("a", Entry.file(b"a"))])
    assert first.wait(10)
    stream.cancel()
    reader.join(10)
    with pytest.raises(grpc.RpcError):
        next(iter(stream))

    def cancelled() -> float:
        _, now = scrape()
        return value(now, "citcfs_rpcs_total", **rpc("Watch", "CANCELLED")) \
            - value(before, "citcfs_rpcs_total", **rpc("Watch", "CANCELLED"))
    deadline = time.monotonic() + 10  # the server notices the cancel on its own thread
    while cancelled() != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cancelled() == 1


@pytest.mark.server_config(sync=False, metrics=False)
def test_metrics_off_records_nothing(server: CitcServer, client: Client) -> None:
    _, before = scrape()
    client.create_workspace("ws", "main")
    client.commit("ws", [wire.write_file_op("a", Entry.file(b"a"))])
    client.gc()
    _, after = scrape()
    for name in ("citcfs_rpcs_total", "citcfs_commit_batch_jobs_count",
                 "citcfs_group_commit_wait_seconds_count", "citcfs_gc_runs_total"):
        assert sum(v for (n, _), v in after.items() if n == name) \
            == sum(v for (n, _), v in before.items() if n == name), name
    assert ("citcfs_log_lsn", frozenset()) not in after  # no sizes of an unwatched store


def test_citc_server_no_metrics_serves(tmp_path: Path) -> None:
    """`citc server --no-metrics` is accepted and serves as usual."""
    socket = f"unix:{tmp_path}/s.sock"
    with server_process(tmp_path / "data", socket, "--no-metrics") as running:
        with Client.connect(running.address) as connected:
            import_small_base(connected)
            connected.create_workspace("ws", "main")
            assert connected.commit("ws", [wire.write_file_op("a", Entry.file(b"a"))]).version == 1
        assert running.stop() == 0
