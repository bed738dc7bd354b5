"""The zero-config local server: found, started and stopped by `citc` itself.

With no `--server` and no CITC_SERVER, `citc` talks to a server of the user's own:

- its socket is ``$XDG_RUNTIME_DIR/citcfs/server.sock`` (else
  ``$XDG_STATE_HOME/citcfs`` or ``~/.local/state/citcfs``; ``/tmp/citcfs-$UID`` when
  that path is too long for a Unix socket);
- its data, log (``server.log``) and pid file (``server.pid``) live in
  ``$XDG_DATA_HOME/citcfs`` (``~/.local/share/citcfs``), the database under ``db/``.

`ensure_running` starts it in the background when nothing answers on the socket, under
a lock so that two `citc` commands at once start one server. A socket left by a dead
server and a pid file naming a dead process are cleaned up on the way.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

from citcfs.errors import CitcError, Unavailable

START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
SOCKET_PATH_MAX = 107


@dataclass(frozen=True, slots=True)
class LocalPaths:
    data_dir: str
    socket: str

    @property
    def address(self) -> str:
        return f"unix:{self.socket}"

    @property
    def db_dir(self) -> str:
        return os.path.join(self.data_dir, "db")

    @property
    def log_file(self) -> str:
        return os.path.join(self.data_dir, "server.log")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.data_dir, "server.pid")

    @property
    def lock_file(self) -> str:
        return os.path.join(self.data_dir, "server.lock")


def _home() -> str:
    return os.path.expanduser("~")


def data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(_home(), ".local", "share")
    return os.path.join(base, "citcfs")


def runtime_dir() -> str:
    candidates = []
    if os.environ.get("XDG_RUNTIME_DIR"):
        candidates.append(os.path.join(os.environ["XDG_RUNTIME_DIR"], "citcfs"))
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(_home(), ".local", "state")
    candidates.append(os.path.join(state, "citcfs"))
    for candidate in candidates:
        if len(os.path.join(candidate, "server.sock")) <= SOCKET_PATH_MAX:
            return candidate
    return f"/tmp/citcfs-{os.getuid()}"


def local_paths() -> LocalPaths:
    return LocalPaths(data_dir(), os.path.join(runtime_dir(), "server.sock"))


def answers(socket_path: str) -> bool:
    """Whether something accepts connections on the Unix socket."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(socket_path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def read_pid(pid_file: str) -> int | None:
    try:
        with open(pid_file) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int) -> bool:
    """Whether `pid` is a live (not zombie) process that looks like a citc server."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return False
    return b"server" in cmdline and b"citc" in cmdline


def running_pid(paths: LocalPaths) -> int | None:
    pid = read_pid(paths.pid_file)
    return pid if pid is not None and alive(pid) else None


def _mkdir_private(path: str) -> None:
    os.makedirs(path, mode=0o700, exist_ok=True)


def _last_log_line(log_file: str) -> str:
    try:
        with open(log_file, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1] if lines else ""
    except OSError:
        return ""


def ensure_running(paths: LocalPaths) -> str:
    """The local server's address, starting the server first if nothing answers."""
    if answers(paths.socket):
        return paths.address
    _mkdir_private(paths.data_dir)
    _mkdir_private(os.path.dirname(paths.socket))
    with open(paths.lock_file, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if answers(paths.socket):  # another citc started it while we waited
            return paths.address
        pid = running_pid(paths)
        if pid is not None:
            # A live server that does not answer: still starting, or wedged.
            if _wait_for_socket(paths, pid, 10.0):
                return paths.address
            raise Unavailable(f"the local server (pid {pid}) does not answer on {paths.socket};"
                              f" see {paths.log_file} or run 'citc server stop'")
        _clean_stale(paths)
        pid = _spawn(paths)
        if not _wait_for_socket(paths, pid, START_TIMEOUT):
            reason = _last_log_line(paths.log_file) or "no output"
            raise Unavailable(f"could not start a local server: {reason} (log: {paths.log_file})")
        return paths.address


def _clean_stale(paths: LocalPaths) -> None:
    for stale in (paths.pid_file, paths.socket):
        try:
            os.unlink(stale)
        except FileNotFoundError:
            pass


def _spawn(paths: LocalPaths) -> int:
    command = [sys.executable, "-m", "citcfs.cmd.main", "server", "--data", paths.db_dir,
               "--listen", paths.address]
    with open(paths.log_file, "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} citc starts: "
                  f"{' '.join(command)}\n".encode())
        log.flush()
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 start_new_session=True, cwd="/", close_fds=True)
    child.returncode = 0  # detached: never waited for here, so no "still running" warning
    tmp = paths.pid_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{child.pid}\n")
    os.replace(tmp, paths.pid_file)
    return child.pid


def _wait_for_socket(paths: LocalPaths, pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(paths.socket):
            return True
        if not alive(pid):
            _reap(pid)
            return answers(paths.socket)
        time.sleep(0.05)
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


class NotRunning(CitcError):
    """No local server is running."""


def stop(paths: LocalPaths, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM the local server and wait for it (SIGKILL after `timeout`); its old pid."""
    pid = running_pid(paths)
    if pid is None:
        _clean_stale(paths)
        return None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.05)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            _reap(pid)
            time.sleep(0.05)
    _clean_stale(paths)
    return pid
