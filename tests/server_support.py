"""Helpers for the server tests: real servers (in process or as `citc server`
subprocesses) on Unix sockets in short temporary directories, and small bases.

Unix socket paths are limited to 107 bytes, so sockets live in a short directory of
their own under /tmp rather than in pytest's long tmp_path. Every subprocess server
is stopped by its pid in a `finally`, even when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.server.app import CitcServer, ServerConfig

ROOT = Path(__file__).resolve().parent.parent
SERVER_COMMAND = [sys.executable, "-m", "citcfs.cmd.main", "server"]
"""`citc server`, run with this interpreter."""

BASE_FILES = {
    "README": b"hello\n",
    "src/main.c": b"int main(void) { return 0; }\n",
    "src/lib/util.c": b"/* util */\n",
    "docs/guide.txt": b"read me\n",
}


@contextmanager
def socket_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="citc", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def running_server(data_dir: Path, **config: object) -> Iterator[CitcServer]:
    """An in-process server on a fresh Unix socket, stopped at the end."""
    with socket_dir() as sockets:
        server = CitcServer.start(ServerConfig(data_dir=str(data_dir),
                                               listen=f"unix:{sockets}/citc.sock",
                                               **config))  # type: ignore[arg-type]
        try:
            yield server
        finally:
            server.stop(grace=5)


def import_small_base(client: Client, base: str = "main") -> None:
    client.import_base(base, entries=[(p, Entry.file(d)) for p, d in BASE_FILES.items()],
                       message="first import")


class ServerProcess:
    """`citc server` as a subprocess; `stop()`/`kill()` act on its pid only."""

    def __init__(self, data_dir: Path, listen: str, *extra: str) -> None:
        self.listen = listen
        self.log_path = data_dir.parent / f"server-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [*SERVER_COMMAND, "--data", str(data_dir), "--listen", listen, *extra],
            stdout=subprocess.PIPE, stderr=self._log, cwd=ROOT)
        self.pid = self.proc.pid
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.kill()
            raise AssertionError(f"server did not start: {line!r}\n{self.log()}")
        self.address = line.strip().rsplit(" ", 1)[-1]

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time. Returns the exit code."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self._log.close()


@contextmanager
def server_process(data_dir: Path, listen: str, *extra: str) -> Iterator[ServerProcess]:
    server = ServerProcess(data_dir, listen, *extra)
    try:
        yield server
    finally:
        server.kill()
