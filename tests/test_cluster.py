"""Real clusters on loopback: etcd members and citc servers as processes, killed with
SIGKILL mid-work. Run them alone with `pytest -m cluster`.

Each test starts what it needs (tests/etcd_support.py, server_support.ServerProcess)
and stops every process by its pid in a `finally`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from etcd_support import EtcdCluster, etcd_cluster, free_port
from fuse_support import FuseEnv, wait_for
from server_support import ROOT, ServerProcess, import_small_base

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.errors import CitcError
from citcfs.protos import etcd_rpc_pb2 as rpc
from citcfs.protos import etcd_rpc_pb2_grpc as rpc_grpc

pytestmark = pytest.mark.cluster

WORKERS = 8


def _servers(cluster: EtcdCluster, tmp_path: Path, names: str,
             ports: dict[str, int] | None = None) -> list[ServerProcess]:
    """One `citc server` per name, each with an empty data directory of its own, on
    the cluster and one shared object directory."""
    started: list[ServerProcess] = []
    try:
        for name in names:
            port = (ports or {}).get(name, 0)
            started.append(ServerProcess(tmp_path / f"data-{name}-{time.monotonic_ns()}",
                                         f"127.0.0.1:{port}", "--kv", cluster.url,
                                         "--objects", f"file://{tmp_path / 'objects'}"))
    except BaseException:
        for server in started:
            server.kill()
        raise
    return started


@pytest.fixture
def cluster3() -> Iterator[EtcdCluster]:
    with etcd_cluster(3) as cluster:
        yield cluster


@pytest.fixture
def cluster1() -> Iterator[EtcdCluster]:
    with etcd_cluster(1) as cluster:
        yield cluster


def _leader(cluster: EtcdCluster) -> int:
    """The index of the member that leads."""
    for index, member in enumerate(cluster.members):
        with grpc.insecure_channel(member.endpoint) as channel:
            status = rpc_grpc.MaintenanceStub(channel).Status(rpc.StatusRequest(), timeout=5)
            if status.leader == status.header.member_id:
                return index
    raise AssertionError("no member leads")


def _fsck(address: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citcfs.cmd.main", "--server", address,
                           "fsck"], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_a_member_killed_in_a_commit_storm_loses_no_acknowledged_commit(
        cluster3: EtcdCluster, tmp_path: Path) -> None:
    servers = _servers(cluster3, tmp_path, "ab")
    try:
        with Client.connect(servers[0].address) as admin:
            import_small_base(admin)
            for w in range(2):
                admin.create_workspace(f"ws{w}", "main")
        acked: list[tuple[str, str, int]] = []
        refused: list[BaseException] = []
        lock = threading.Lock()
        stop = threading.Event()
        killed_at: list[int] = []

        def worker(i: int) -> None:
            ws = f"ws{i % 2}"
            with Client.connect(servers[i % len(servers)].address) as client:
                j = 0
                while not stop.is_set():
                    path = f"w{i}-{j}"
                    j += 1
                    try:
                        result = client.commit(ws, [wire.write_file_op(path,
                                                                       Entry.file(b"%d" % j))])
                    except CitcError as exc:  # not acknowledged: it may or may not be in
                        with lock:
                            refused.append(exc)
                        continue
                    with lock:
                        acked.append((ws, path, result.version))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(WORKERS)]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(acked) >= 50, 30, what="a commit storm")
            cluster3.members[_leader(cluster3)].kill()  # SIGKILL, mid-storm
            with lock:
                killed_at.append(len(acked))
            wait_for(lambda: len(acked) >= killed_at[0] + 100, 60,
                     what="commits after the leader was killed")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        # Every acknowledged commit is there, through either server, in its version.
        for server in servers:
            with Client.connect(server.address) as client:
                for w in range(2):
                    names = {name for name, _ in client.listdir(f"ws{w}", "")}
                    mine = [path for ws, path, _ in acked if ws == f"ws{w}"]
                    assert set(mine) <= names
                    versions = sorted(version for ws, _, version in acked if ws == f"ws{w}")
                    assert len(set(versions)) == len(versions)  # no version given twice
        for server in servers:
            done = _fsck(server.address)
            assert done.returncode == 0, done.stdout + done.stderr
        assert len(refused) < len(acked) // 10, refused[:3]
    finally:
        for server in servers:
            server.kill()


def test_a_mount_through_one_server_sees_a_commit_through_another(
        cluster1: EtcdCluster, tmp_path: Path) -> None:
    servers = _servers(cluster1, tmp_path, "ab")
    env = FuseEnv(tmp_path, server=servers[0])  # type: ignore[arg-type]
    try:
        env.import_tree({"README": b"hello\n", "src/main.c": b"int main;\n"})
        ws = env.new_workspace()
        mount = env.mount(ws, attr_timeout=3600)  # only an invalidation can refresh it
        assert (mount.path / "README").read_bytes() == b"hello\n"
        with Client.connect(servers[1].address) as b:
            started = time.monotonic()
            b.commit(ws, [wire.write_file_op("README", Entry.file(b"changed via B\n")),
                          wire.write_file_op("new.txt", Entry.file(b"new\n"))])
        wait_for(lambda: (mount.path / "README").read_bytes() == b"changed via B\n", 10,
                 what="the mount on A to see B's commit")
        assert (mount.path / "new.txt").read_bytes() == b"new\n"
        assert time.monotonic() - started < 10
    finally:
        try:
            env.close()
        finally:
            for server in servers:
                server.kill()


def test_a_server_killed_and_started_elsewhere_without_state_serves_its_clients(
        cluster1: EtcdCluster, tmp_path: Path) -> None:
    first_port, second_port = free_port(), free_port()
    # Clients know both addresses (as they would a DNS name or a load balancer).
    address = f"ipv4:127.0.0.1:{first_port},127.0.0.1:{second_port}"
    servers = _servers(cluster1, tmp_path, "a", {"a": first_port})
    env = FuseEnv(tmp_path, server=servers[0])  # type: ignore[arg-type]
    try:
        env.import_tree({"README": b"hello\n"})
        ws = env.new_workspace()
        mount = env.mount(ws, server=address)
        (mount.path / "before").write_bytes(b"1\n")
        mount.sync()
        assert sorted(p.name for p in mount.path.iterdir()) == ["README", "before"]
        servers[0].kill()  # kill -9: nothing of its own survives but what etcd holds
        (mount.path / "during").write_bytes(b"2\n")  # journaled while no server answers
        servers += _servers(cluster1, tmp_path, "b", {"b": second_port})
        env.server = servers[-1]  # type: ignore[assignment]  # the one left to verify through
        wait_for(lambda: mount.sync() is None, 30, what="the mount to reach the new server")
        with Client.connect(address) as client:
            assert client.read_file(client.lookup(ws, "before")) == b"1\n"
            assert client.read_file(client.lookup(ws, "during")) == b"2\n"
        assert sorted(p.name for p in mount.path.iterdir()) == ["README", "before", "during"]
        done = _fsck(servers[1].address)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        try:
            env.close()
        finally:
            for server in servers:
                server.kill()
