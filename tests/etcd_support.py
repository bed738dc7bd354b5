"""Real etcd for the tests: single members and 3-member clusters on loopback.

Each member runs Debian's `etcd` (3.4) with its data in a fresh directory under
/dev/shm and is stopped by its pid in a `finally`. The settings the tests use:

- `--max-txn-ops 10000 --max-request-bytes 10485760`: the limits the etcd backend
  assumes by default (`storage.etcd_backend`); etcd's own defaults (128, 1.5 MiB)
  refuse a commit of a few hundred paths;
- `--auto-compaction-mode periodic --auto-compaction-retention 5m`: etcd drops its
  MVCC history itself; citcfs needs none of it beyond a running transaction;
- `--heartbeat-interval 50 --election-timeout 500`: a killed leader is replaced in
  about half a second on loopback, not in the default's one to two seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
LIMIT_FLAGS = ["--max-txn-ops", "10000", "--max-request-bytes", "10485760"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@dataclass
class EtcdCluster:
    members: list[Member] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [member.endpoint for member in self.members]

    @property
    def url(self) -> str:
        """The `--kv` URL of this cluster."""
        return "etcd://" + ",".join(self.endpoints)


def _command(member: Member, cluster: str) -> list[str]:
    client = f"http://{member.endpoint}"
    return [ETCD, "--name", member.name, "--data-dir", member.data_dir,
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", os.path.basename(os.path.dirname(member.data_dir)),
            *LIMIT_FLAGS,
            "--auto-compaction-mode", "periodic", "--auto-compaction-retention", "5m",
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--log-level", "error", "--logger", "zap"]


def _wait_ready(cluster: EtcdCluster, timeout: float = 20.0) -> None:
    from citcfs.protos import etcd_rpc_pb2 as rpc
    from citcfs.protos import etcd_rpc_pb2_grpc as rpc_grpc
    import grpc

    deadline = time.monotonic() + timeout
    for member in cluster.members:
        with grpc.insecure_channel(member.endpoint) as channel:
            stub = rpc_grpc.KVStub(channel)
            while True:
                if member.process is not None and member.process.poll() is not None:
                    raise RuntimeError(f"etcd member {member.name} exited at start "
                                       f"({member.process.returncode})")
                try:
                    stub.Range(rpc.RangeRequest(key=b"ready"), timeout=1.0)
                    break
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"etcd member {member.name} never answered")
                    time.sleep(0.05)


def start_member(member: Member, cluster: str) -> None:
    """(Re)start `member`'s process over its data directory."""
    member.process = subprocess.Popen(_command(member, cluster), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)


@contextmanager
def etcd_cluster(size: int = 1) -> Iterator[EtcdCluster]:
    """A fresh etcd cluster of `size` members on loopback, stopped at the end."""
    root = tempfile.mkdtemp(prefix="citc-etcd-", dir="/dev/shm")
    cluster = EtcdCluster([Member(f"m{i}", free_port(), free_port(), os.path.join(root, f"m{i}"))
                           for i in range(size)])
    initial = ",".join(f"{m.name}={m.peer_url}" for m in cluster.members)
    try:
        for member in cluster.members:
            start_member(member, initial)
        _wait_ready(cluster)
        yield cluster
    finally:
        for member in cluster.members:
            member.kill()
        shutil.rmtree(root, ignore_errors=True)
