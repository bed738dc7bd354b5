"""Mounting and unmounting workspaces.

`mount_foreground` serves a mount in the calling process until it is unmounted.
`mount_background` starts that in a detached child process and returns only once the
mount is ready, or raises with the child's own error line (missing /dev/fuse, unknown
workspace, unreachable server), so `citc mount` never leaves a user guessing.
The child reports over a pipe: "ready" from the filesystem's init callback, or
"error <message>" before it gives up.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field

from citcfs import errors
from citcfs.memory import keep_large_buffers

from .cache import DEFAULT_CACHE_BYTES, ObjectCache, default_cache_dir

log = logging.getLogger("citcfs.client")

MOUNT_TIMEOUT = 60.0
DEFAULT_JOURNAL_BYTES = 1 << 30
REPLAY_TIMEOUT = 45.0


@dataclass(frozen=True, slots=True)
class MountOptions:
    server: str
    workspace: str
    mountpoint: str
    cache_dir: str = field(default_factory=default_cache_dir)
    cache_bytes: int = DEFAULT_CACHE_BYTES
    attr_timeout: float = 1.0
    token: str | None = None
    tls_ca: str | None = None
    debug: bool = False
    sync_writes: bool = False
    journal_bytes: int = DEFAULT_JOURNAL_BYTES
    journal_full_wait_s: float = 10.0
    """How long a write waits for room in a full journal before it fails (ENOSPC)."""


class MountError(errors.CitcError):
    """The workspace could not be mounted."""


def _check_mountpoint(path: str) -> None:
    if not os.path.exists("/dev/fuse"):
        raise MountError("cannot mount: /dev/fuse is missing (is the fuse kernel module loaded?)")
    if not os.path.isdir(path):
        raise MountError(f"cannot mount on {path!r}: not a directory")
    if os.path.ismount(path):
        raise MountError(f"cannot mount on {path!r}: something is already mounted there")


def _fuse_options(opts: MountOptions) -> dict[str, object]:
    timeout = opts.attr_timeout
    options: dict[str, object] = {
        "fsname": f"citcfs:{opts.workspace}",
        "subtype": "citcfs",
        "default_permissions": True,
        "attr_timeout": timeout,
        "entry_timeout": timeout,
        # A name that does not exist is asked of the daemon each time (which answers
        # from its cached listings): libfuse's high-level API can invalidate a cached
        # inode but not a cached negative entry, so a name created by another mount
        # would stay hidden for the whole timeout. JuiceFS's default is the same.
        "negative_timeout": 0,
        "kernel_cache": True,
        "use_ino": True,
        "hard_remove": True,
        # Reads never update atime (the kernel sends nothing for them to a FUSE
        # daemon anyway); saying so lets `mount` and tools see it.
        "noatime": True,
    }
    if os.geteuid() == 0:
        options["allow_other"] = True
    return options


def mount_foreground(opts: MountOptions, report: "Reporter | None" = None) -> None:
    """Mount and serve until unmounted; errors before the mount raise MountError."""
    from .flusher import replay_orphans
    from .fs import WorkspaceFS, journal_dir
    from .fuse_lib import CitcFUSE
    from .remote import RpcRemote
    from .rpc import Client

    _check_mountpoint(opts.mountpoint)
    keep_large_buffers()
    tls_ca = open(opts.tls_ca, "rb").read() if opts.tls_ca else None
    client = Client.connect(opts.server, token=opts.token, tls_ca=tls_ca)
    remote = RpcRemote(client)
    try:
        cache = ObjectCache(opts.cache_dir, opts.cache_bytes)
        # What a dead mount of this workspace acknowledged reaches the server before
        # this one serves anything.
        replay_orphans(remote, opts.server, opts.workspace, cache, journal_dir(opts.cache_dir),
                       timeout=REPLAY_TIMEOUT)
        filesystem = WorkspaceFS(remote, opts.workspace, cache,
                                 on_ready=report.ready if report else None,
                                 server=opts.server, sync_writes=opts.sync_writes,
                                 journal_bytes=opts.journal_bytes,
                                 journal_full_wait_s=opts.journal_full_wait_s)
    except errors.CitcError as exc:
        client.close()
        raise MountError(f"cannot mount {opts.workspace!r}: {exc.message}") from None
    try:
        CitcFUSE(filesystem, opts.mountpoint, foreground=True, debug=opts.debug,
                 **_fuse_options(opts))
    finally:
        remote.close()


class Reporter:
    """The child's end of the readiness pipe."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def _send(self, line: str) -> None:
        if self._fd >= 0:
            try:
                os.write(self._fd, (line + "\n").encode())
                os.close(self._fd)
            except OSError:
                pass
            self._fd = -1

    def ready(self) -> None:
        self._send("ready")

    def error(self, message: str) -> None:
        self._send("error " + message.replace("\n", " "))


def mount_background(opts: MountOptions, log_file: str | None = None) -> int:
    """Start a mount daemon and wait until it is ready; return its pid."""
    _check_mountpoint(opts.mountpoint)
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-m", "citcfs.client.mount", "--server", opts.server,
               "--workspace", opts.workspace, "--mountpoint", opts.mountpoint,
               "--cache-dir", opts.cache_dir, "--cache-bytes", str(opts.cache_bytes),
               "--attr-timeout", str(opts.attr_timeout), "--ready-fd", str(write_fd),
               "--journal-bytes", str(opts.journal_bytes),
               "--journal-full-wait", str(opts.journal_full_wait_s)]
    if opts.sync_writes:
        command.append("--sync-writes")
    if opts.tls_ca:
        command += ["--tls-ca", opts.tls_ca]
    env = dict(os.environ)
    if opts.token:
        env["CITC_TOKEN"] = opts.token
    output = open(log_file, "ab") if log_file else subprocess.DEVNULL
    try:
        child = subprocess.Popen(command, pass_fds=(write_fd,), stdin=subprocess.DEVNULL,
                                 stdout=output, stderr=output, start_new_session=True, env=env)
    finally:
        os.close(write_fd)
        if log_file:
            output.close()  # type: ignore[union-attr]
    line = _read_line(read_fd, MOUNT_TIMEOUT)
    os.close(read_fd)
    if line == "ready":
        return child.pid
    if child.poll() is None:
        child.kill()
        child.wait()
    if line.startswith("error "):
        raise MountError(line[6:])
    raise MountError(f"cannot mount {opts.workspace!r}: the mount process "
                     f"{'timed out' if not line else 'said ' + line!r}"
                     + (f" (see {log_file})" if log_file else ""))


def _read_line(fd: int, timeout: float) -> str:
    import select

    deadline = time.monotonic() + timeout
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def unmount(mountpoint: str, timeout: float = 10.0) -> None:
    """Unmount a citcfs mount and wait until it is gone."""
    path = os.path.abspath(mountpoint)
    if not os.path.ismount(path):
        raise MountError(f"{mountpoint!r} is not mounted")
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    command = [tool, "-u", path] if tool else ["umount", path]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise MountError(f"cannot unmount {mountpoint!r}: "
                         f"{(result.stderr or result.stdout).strip()}")
    deadline = time.monotonic() + timeout
    while os.path.ismount(path) and time.monotonic() < deadline:
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    """The mount daemon: `python -m citcfs.client.mount ...` (started by citc mount)."""
    parser = argparse.ArgumentParser(prog="citcfs-mount")
    parser.add_argument("--server", required=True)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--mountpoint", required=True)
    parser.add_argument("--cache-dir", default=default_cache_dir())
    parser.add_argument("--cache-bytes", type=int, default=DEFAULT_CACHE_BYTES)
    parser.add_argument("--attr-timeout", type=float, default=1.0)
    parser.add_argument("--tls-ca")
    parser.add_argument("--ready-fd", type=int, default=-1)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--sync-writes", action="store_true")
    parser.add_argument("--journal-bytes", type=int, default=DEFAULT_JOURNAL_BYTES)
    parser.add_argument("--journal-full-wait", type=float, default=10.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s citcfs-mount %(levelname)s %(message)s")
    reporter = Reporter(args.ready_fd)
    opts = MountOptions(args.server, args.workspace, os.path.abspath(args.mountpoint),
                        args.cache_dir, args.cache_bytes, args.attr_timeout,
                        os.environ.get("CITC_TOKEN"), args.tls_ca, args.debug,
                        args.sync_writes, args.journal_bytes, args.journal_full_wait)
    try:
        mount_foreground(opts, reporter)
    except errors.CitcError as exc:
        reporter.error(exc.message)
        log.error("%s", exc.message)
        return 1
    except Exception as exc:  # report anything, so the parent never waits in vain
        reporter.error(f"cannot mount {args.workspace!r}: {exc}")
        log.exception("mount failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
