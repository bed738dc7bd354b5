"""`citc server` as a real process: start, SIGTERM, kill -9 during a commit storm."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from server_support import (ROOT, SERVER_COMMAND, ServerProcess, import_small_base,
                            server_process, socket_dir)

from citcfs import errors, wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry

pytestmark = pytest.mark.server  # servers started by hand (tests/tiers.py)


def storm(address: str, workspaces: list[str], stop: threading.Event,
          acknowledged: dict[str, list[tuple[int, str]]], lock: threading.Lock) -> list[threading.Thread]:
    """One committer thread per workspace, committing until `stop` or the server dies."""
    def committer(ws: str) -> None:
        client = Client.connect(address)
        try:
            n = 0
            while not stop.is_set():
                path = f"{ws}-{n:05d}"
                try:
                    result = client.commit(ws, [wire.write_file_op(path, Entry.file(path.encode()))],
                                           timeout=10)
                except errors.CitcError:
                    return  # the server went away: this commit was never acknowledged
                with lock:
                    acknowledged[ws].append((result.version, path))
                n += 1
        finally:
            client.close()

    threads = [threading.Thread(target=committer, args=(ws,)) for ws in workspaces]
    for thread in threads:
        thread.start()
    return threads


def check_acknowledged(address: str, acknowledged: dict[str, list[tuple[int, str]]]) -> int:
    """Every acknowledged commit is present at its version; versions are gap-free."""
    total = 0
    with Client.connect(address) as client:
        for ws, commits in acknowledged.items():
            head = client.describe_workspace(ws).version
            assert [v for v, _ in commits] == list(range(1, len(commits) + 1))
            assert head >= len(commits)  # at most the in-flight commit beyond
            assert [v.version for v in client.versions(ws, 1)] == list(range(1, head + 1))
            names = {name for name, _ in client.listdir(ws, "")}
            for version, path in commits:
                assert path in names, (ws, version, path)
                assert client.lookup(ws, path, version=version).inline == path.encode()
            total += len(commits)
    return total


def test_cli_serves_on_owner_only_socket_and_stops_on_sigterm(tmp_path: Path) -> None:
    with socket_dir() as sockets, server_process(tmp_path / "data", f"unix:{sockets}/s.sock",
                                                 "--log-level", "debug") as server:
        path = f"{sockets}/s.sock"
        assert server.address == f"unix:{path}"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        with Client.connect(server.address) as client:
            import_small_base(client)
            client.create_workspace("w", "main")
            client.commit("w", [wire.make_dir_op("d")])
        assert server.stop() == 0
        assert not os.path.exists(path)
        log = server.log()
        assert "serving citc.v1.Citc" in log and "received SIGTERM" in log and "stopped" in log
        assert all(line.split(" ", 2)[1][0].isdigit() for line in log.splitlines()[:3])


def _storm_interrupted(tmp_path: Path, writers: int, seconds: float,
                       interrupt: Callable[[ServerProcess], None]) -> int:
    """Commit from `writers` threads, interrupt the server mid-storm, restart it on
    the same data, and return how many acknowledged commits it still has (all of
    them, or `check_acknowledged` fails)."""
    data = tmp_path / "data"
    workspaces = [f"ws{i}" for i in range(writers)]
    acknowledged: dict[str, list[tuple[int, str]]] = {ws: [] for ws in workspaces}
    lock = threading.Lock()
    stop = threading.Event()
    with socket_dir() as sockets:
        listen = f"unix:{sockets}/s.sock"
        with server_process(data, listen) as server:
            with Client.connect(server.address) as client:
                import_small_base(client)
                for ws in workspaces:
                    client.create_workspace(ws, "main")
            threads = storm(server.address, workspaces, stop, acknowledged, lock)
            time.sleep(seconds)
            interrupt(server)
            stop.set()
            for thread in threads:
                thread.join(30)
        with server_process(data, listen) as server:
            found = check_acknowledged(server.address, acknowledged)
            server.stop()
    return found


def test_sigterm_during_commits_loses_nothing_acknowledged(tmp_path: Path) -> None:
    def terminate(server: ServerProcess) -> None:
        assert server.stop() == 0  # SIGTERM: in-flight commits finish, then a clean exit
    assert _storm_interrupted(tmp_path, 6, 1.0, terminate) > 0


def test_kill_9_during_commit_storm_loses_nothing_acknowledged(tmp_path: Path) -> None:
    def kill_9(server: ServerProcess) -> None:
        os.kill(server.pid, signal.SIGKILL)  # mid-storm: commits are in flight
        server.proc.wait(10)
    assert _storm_interrupted(tmp_path, 8, 1.5, kill_9) > 50


def test_refuses_insecure_remote_listener(tmp_path: Path) -> None:
    proc = subprocess.run([*SERVER_COMMAND, "--data", str(tmp_path / "data"),
                           "--listen", "0.0.0.0:0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "--tls-cert" in proc.stderr and "Traceback" not in proc.stderr
