"""Helpers for the `citc` command-line tests: running citc as a subprocess with a
private HOME, checking its error lines, and cleaning up mounts and local servers by
pid even when a test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Citc:
    """Runs `python -m citcfs.cmd.main` with a fixed environment."""

    env: dict[str, str]
    cwd: Path

    def __call__(self, *args: str, cwd: Path | str | None = None, input: bytes | None = None,
                 timeout: float = 90) -> subprocess.CompletedProcess[str]:
        t0 = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "citcfs.cmd.main", *args],
                                cwd=cwd or self.cwd, env=self.env, input=input,
                                capture_output=True, timeout=timeout)
        if os.environ.get("CITC_TEST_TIMING"):
            print(f"{time.monotonic() - t0:6.2f}s citc {' '.join(args)}", file=sys.stderr)
        return subprocess.CompletedProcess(result.args, result.returncode,
                                           result.stdout.decode(errors="surrogateescape"),
                                           result.stderr.decode(errors="surrogateescape"))

    def ok(self, *args: str, **kwargs: Any) -> str:
        """stdout of a call that must succeed."""
        result = self(*args, **kwargs)
        assert result.returncode == 0, (args, result.returncode, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        return result.stdout

    def json(self, *args: str, **kwargs: Any) -> Any:
        return json.loads(self.ok(*args, "--json", **kwargs))

    def many(self, *calls: tuple[str, ...]) -> list[str]:
        """stdouts of independent calls that must all succeed, run concurrently
        (each is a process start; running them side by side keeps the suite fast)."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            return list(pool.map(lambda args: self.ok(*args), calls))

    def fails(self, code: int, *args: str, **kwargs: Any) -> str:
        """The one error line of a call that must fail with exit `code`."""
        result = self(*args, **kwargs)
        assert result.returncode == code, (args, result.returncode, result.stdout,
                                           result.stderr)
        return error_line(result.stderr)


def error_line(stderr: str) -> str:
    """The single `citc: error: ...` line a failure prints, with no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("citc: error: ")]
    assert len(errors) == 1, stderr
    return errors[0][len("citc: error: "):]


def private_env(home: Path, runtime: Path, **extra: str) -> dict[str, str]:
    """An environment whose HOME and XDG_RUNTIME_DIR are the test's own directories.

    The other XDG variables are unset, so citc uses its defaults under HOME. The
    runtime directory should be short (a Unix socket path has at most 107 bytes).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XDG_", "CITC_")) and k not in ("HOME", "NO_COLOR")}
    env.update(HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    env.update(extra)
    return env


def citc_mountpoints() -> list[str]:
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields, _, rest = line.partition(" - ")
            if rest.split()[1:2] and rest.split()[1].startswith("citcfs:"):
                points.append(fields.split()[4])
    return points


def force_unmount(mountpoint: Path) -> None:
    """fusermount3 -u (lazily if busy); the daemon exits once the mount is gone."""
    path = str(mountpoint)
    if path not in citc_mountpoints():
        return
    if subprocess.run(["fusermount3", "-u", path], capture_output=True).returncode != 0:
        subprocess.run(["fusermount3", "-u", "-z", path], capture_output=True)


def kill_pid(pid: int, timeout: float = 10) -> None:
    """SIGTERM `pid`, then SIGKILL if it is still there after `timeout`."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def mount_daemon_pids(mountpoint: Path) -> list[int]:
    """Pids of `citcfs.client.mount` daemons serving `mountpoint`."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"citcfs.client.mount" in argv and str(mountpoint).encode() in argv:
            pids.append(int(entry))
    return pids


@contextmanager
def cleanup_mounts(*mountpoints: Path, fsck: Citc | None = None) -> Iterator[None]:
    """Unmount each mountpoint and kill its daemon by pid at the end, even on failure.
    Then, if the body passed, `citc fsck` through `fsck` must find the server's data
    whole: the oracle every test that mounts ends with."""
    passed = False
    try:
        yield
        passed = True
    finally:
        for mountpoint in mountpoints:
            pids = mount_daemon_pids(mountpoint)
            force_unmount(mountpoint)
            for pid in pids:
                kill_pid(pid)
    if passed and fsck is not None:
        fsck.ok("fsck")


def stop_local_server(data_home: Path) -> None:
    """Kill the server `citc` started by itself, found by its pid file."""
    pid_file = data_home / "citcfs" / "server.pid"
    if pid_file.exists():
        kill_pid(int(pid_file.read_text().split()[0]))


def run_on_terminal(citc: Citc, *args: str, timeout: float = 60) -> tuple[int, str]:
    """Run citc with stdout and stderr on a pseudo-terminal; (exit code, output)."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "citcfs.cmd.main", *args], cwd=citc.cwd,
                            env=citc.env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return proc.returncode, output.decode(errors="replace")
