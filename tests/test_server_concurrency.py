"""Concurrent committers and the invalidation broadcast (Watch + Changes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from server_support import ROOT, import_small_base, running_server

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.server.app import CitcServer
from citcfs.server.limits import Limits


pytestmark = pytest.mark.server_config(limits=Limits(max_watch_streams=64))


@pytest.fixture
def server_with_shared(server: CitcServer) -> CitcServer:
    """`server` with base "main" and workspace "shared" over it."""
    with Client.connect(server.address) as client:
        import_small_base(client)
        client.create_workspace("shared", "main")
    return server


def run_threads(count: int, target: object) -> None:
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)  # type: ignore[operator]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[:3]


def test_sixteen_committers_all_acknowledged_and_gap_free(server_with_shared: CitcServer) -> None:
    server = server_with_shared
    per_thread = 40
    acknowledged: dict[int, str] = {}
    lock = threading.Lock()

    def committer(i: int) -> None:
        with Client.connect(server.address) as client:
            for n in range(per_thread):
                path = f"t{i:02d}-{n:03d}"
                result = client.commit("shared", [wire.write_file_op(path, Entry.file(path.encode()))])
                with lock:
                    assert result.version not in acknowledged
                    acknowledged[result.version] = path

    run_threads(16, committer)
    total = 16 * per_thread
    assert sorted(acknowledged) == list(range(1, total + 1))
    with Client.connect(server.address) as client:
        assert client.describe_workspace("shared").version == total
        assert [v.version for v in client.versions("shared", 1)] == list(range(1, total + 1))
        names = {name for name, _ in client.listdir("shared", "")}
        assert set(acknowledged.values()) <= names
        for version in (1, total // 2, total):
            path = acknowledged[version]
            assert client.lookup("shared", path, version=version).inline == path.encode()
            changes = client.changes("shared", version - 1)
            assert client.changed_paths(changes)[0] == path or path in client.changed_paths(changes)
    assert server.db._writer.batches < server.db._writer.jobs  # group commit batched


class WatchRecorder:
    """Consumes one Watch stream on a thread, optionally slowly."""

    def __init__(self, client: Client, known: int, delay: float = 0.0) -> None:
        self.events: list[int] = []
        self.error: BaseException | None = None
        self.latest = known
        self.reached = threading.Event()
        self.target = -1
        self.delay = delay
        self.stream = client.watch({"shared": known})
        self.thread = threading.Thread(target=self._consume, daemon=True)
        self.thread.start()

    def _consume(self) -> None:
        try:
            for event in self.stream:
                if event.heartbeat:
                    continue
                self.events.append(event.version)
                self.latest = event.version
                if self.latest >= self.target >= 0:
                    self.reached.set()
                if self.delay:
                    time.sleep(self.delay)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                self.error = exc

    def expect(self, version: int) -> None:
        self.target = version
        if self.latest >= version:
            self.reached.set()

    def stop(self) -> None:
        self.stream.cancel()
        self.thread.join(10)


@pytest.mark.server_config(sync=False)  # so that commits outrun the watchers and coalescing shows
def test_fifty_watchers_coalesce_and_catch_up(server_with_shared: CitcServer) -> None:
    server = server_with_shared
    commits = 1000
    channels = [Client.connect(server.address) for _ in range(10)]
    try:
        watchers = [WatchRecorder(channels[i % 10], 0, delay=0.01 if i % 5 == 0 else 0.0)
                    for i in range(50)]
        deadline = time.monotonic() + 10
        while server.hub.watcher_count < 50 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.hub.watcher_count == 50

        def committer(i: int) -> None:
            with Client.connect(server.address) as client:
                for n in range(commits // 4):
                    client.commit("shared", [wire.write_file_op(f"w{i}-{n}", Entry.file(b"x"))])

        run_threads(4, committer)
        for watcher in watchers:
            watcher.expect(commits)
        for watcher in watchers:
            assert watcher.reached.wait(30), (watcher.latest, len(watcher.events), watcher.error)
        for watcher in watchers:
            assert watcher.error is None
            assert watcher.events == sorted(set(watcher.events))  # increasing, no repeats
            assert watcher.events[-1] == commits
        counts = [len(w.events) for w in watchers]
        assert max(counts) < commits // 4, counts  # coalesced: far fewer than one per commit
        for watcher in watchers:
            watcher.stop()
        deadline = time.monotonic() + 10
        while server.hub.watcher_count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.hub.watcher_count == 0

        # Reconnect with the last version seen: catch up at once, then Changes.
        client = channels[0]
        client.commit("shared", [wire.write_file_op("after-1", Entry.file(b"1"))])
        client.commit("shared", [wire.write_file_op("after-2", Entry.file(b"2"))])
        again = WatchRecorder(client, commits)
        again.expect(commits + 2)
        assert again.reached.wait(10)
        assert again.events == [commits + 2]
        changes = client.changes("shared", commits)
        assert set(client.changed_paths(changes)) == {"after-1", "after-2"}
        again.stop()
        # Up to date: nothing is sent until the next commit.
        current = WatchRecorder(client, commits + 2)
        time.sleep(0.3)
        assert current.events == []
        client.commit("shared", [wire.write_file_op("after-3", Entry.file(b"3"))])
        current.expect(commits + 3)
        assert current.reached.wait(10) and current.events == [commits + 3]
        current.stop()
    finally:
        for channel in channels:
            channel.close()


def test_watch_streams_are_bounded_and_do_not_starve_calls(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", sync=False,
                        limits=Limits(max_watch_streams=3, rpc_workers=2)) as server, \
            Client.connect(server.address) as client:
        import_small_base(client)
        client.create_workspace("w", "main")
        streams = [client.watch({"w": 0}) for _ in range(3)]
        try:
            deadline = time.monotonic() + 10
            while server.hub.watcher_count < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert server.hub.watcher_count == 3
            refused = client.watch({"w": 0})
            with pytest.raises(grpc.RpcError) as failure:
                next(refused)
            assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            for n in range(20):  # ordinary calls still get threads
                client.commit("w", [wire.write_file_op(f"f{n}", Entry.file(b"x"))])
        finally:
            for stream in streams:
                stream.cancel()


WATCH_CHILD = """
import sys
from citcfs.client.rpc import Client
client = Client.connect(sys.argv[1])
stream = client.watch({"shared": 0})
print("watching", flush=True)
for event in stream:
    pass
"""


def test_dead_client_stream_is_reclaimed(server_with_shared: CitcServer) -> None:
    server = server_with_shared
    child = subprocess.Popen([sys.executable, "-c", WATCH_CHILD, server.address],
                             stdout=subprocess.PIPE, cwd=ROOT)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"watching"
        deadline = time.monotonic() + 10
        while server.hub.watcher_count < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.hub.watcher_count == 1
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        deadline = time.monotonic() + 15
        while server.hub.watcher_count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.hub.watcher_count == 0
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
