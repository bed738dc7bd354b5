"""Mounting and unmounting workspaces.

`mount_foreground` serves a mount in the calling process until it is unmounted.
`mount_background` starts that in a detached child process and returns only once the
mount is ready, or raises with the child's own error line (missing /dev/fuse, unknown
workspace, unreachable server), so `citc mount` never leaves a user guessing.
The child reports over a pipe: "ready" from the filesystem's init callback, or
"error <message>" before it gives up.

Mounting never strands anyone. A directory that holds files is refused unless asked
(`nonempty`), since the mount would hide them. A *dead* mount (its daemon was
killed: every call answers ENOTCONN, so the directory looks neither mounted nor
present) is unmounted lazily by `unmount` and by a new mount on the same
directory; the journal the dead daemon left is replayed by the new mount first.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from citcfs import errors
from citcfs.memory import keep_large_buffers

from .cache import DEFAULT_CACHE_BYTES, ObjectCache, default_cache_dir
from .metrics import MountMetrics
from .mountinfo import mountinfo_fields

log = logging.getLogger("citcfs.client")

MOUNT_TIMEOUT = 60.0
DEFAULT_JOURNAL_BYTES = 1 << 30
DEFAULT_ATTR_TIMEOUT = 3600.0
"""Seconds the kernel keeps names, attributes and directory listings. Long, because
the watch stream invalidates what others change (docs/architecture.md, "Directory
walks"): a short timeout makes the kernel ask again, and the daemon answers from its
own cache, which is no fresher."""
REPLAY_TIMEOUT = 45.0


@dataclass(frozen=True, slots=True)
class MountOptions:
    server: str
    workspace: str
    mountpoint: str
    cache_dir: str = field(default_factory=default_cache_dir)
    cache_bytes: int = DEFAULT_CACHE_BYTES
    attr_timeout: float = DEFAULT_ATTR_TIMEOUT
    token: str | None = None
    tls_ca: str | None = None
    debug: bool = False
    sync_writes: bool = False
    journal_bytes: int = DEFAULT_JOURNAL_BYTES
    journal_full_wait_s: float = 10.0
    """How long a write waits for room in a full journal before it fails (ENOSPC)."""
    nonempty: bool = False
    """Mount over a directory that holds files (hiding them while mounted)."""
    metrics: str | None = None
    """HOST:PORT where the mount daemon answers Prometheus scrapes (None: nowhere)."""


class MountError(errors.CitcError):
    """The workspace could not be mounted."""


SHOWN_NAMES = 5
"""How many of a non-empty mountpoint's names the refusal shows."""


def _check_mountpoint(path: str, nonempty: bool = False) -> None:
    if not os.path.exists("/dev/fuse"):
        raise MountError("cannot mount: /dev/fuse is missing (is the fuse kernel module loaded?)")
    if not os.path.isdir(path):
        raise MountError(f"cannot mount on {path!r}: not a directory")
    if os.path.ismount(path):
        raise MountError(f"cannot mount on {path!r}: something is already mounted there")
    if not nonempty:
        check_empty(path)


def check_empty(path: str) -> None:
    """MountError naming (some of) the files in `path`, which a mount would hide."""
    names = sorted(os.listdir(path))
    if not names:
        return
    shown = ", ".join(names[:SHOWN_NAMES])
    more = f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else ""
    raise MountError(f"cannot mount on {path!r}: it is not empty ({shown}{more}), and the "
                     f"mount would hide what it holds; mount on an empty directory, or "
                     f"pass --nonempty")


def dead_mount(path: str) -> str | None:
    """The source (``citcfs:<workspace>``) of a dead FUSE mount on `path`, or None.

    A mount whose daemon died answers every request with ENOTCONN ("Transport
    endpoint is not connected"); mountinfo still lists it. `statfs` is asked, as the
    kernel never caches its answer: a `stat` of the root may still be answered from
    the kernel's attribute cache for the mount's (long) timeout.
    """
    path = os.path.abspath(path)
    try:
        os.statvfs(path)
        return None
    except OSError as exc:
        if exc.errno != errno.ENOTCONN:
            return None
    for point, fstype, source in mountinfo_fields():
        if point == path and fstype.startswith("fuse"):
            return source
    return None


def clear_dead_mount(path: str) -> str | None:
    """Unmount a dead citcfs mount on `path` (lazily if it is busy); its source, or
    None when there was none. Its journal stays for the next mount to replay."""
    source = dead_mount(path)
    if source is None or not source.startswith("citcfs:"):
        return None
    _fusermount(os.path.abspath(path), lazy_if_busy=True)
    return source


def _fusermount(path: str, lazy_if_busy: bool = False) -> None:
    """`fusermount3 -u PATH` (umount where it is missing); MountError if it fails,
    after a lazy `-u -z` when `lazy_if_busy`."""
    tool = shutil.which("fusermount3") or shutil.which("fusermount")
    command = [tool, "-u", path] if tool else ["umount", path]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 and lazy_if_busy:
        result = subprocess.run(command[:-1] + ["-z" if tool else "-l", path],
                                capture_output=True, text=True)
    if result.returncode != 0:
        raise MountError(f"cannot unmount {path!r}: "
                         f"{(result.stderr or result.stdout).strip()}")


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

    dead = clear_dead_mount(opts.mountpoint)
    if dead is not None:
        log.warning("%s held a dead mount of %s (its process had ended); unmounted it",
                    opts.mountpoint, dead)
    _check_mountpoint(opts.mountpoint, opts.nonempty)
    keep_large_buffers()
    metrics = MountMetrics()
    stop_metrics = _serve_metrics(metrics, opts.metrics) if opts.metrics else None
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
                                 journal_full_wait_s=opts.journal_full_wait_s,
                                 metrics=metrics)
    except errors.CitcError as exc:
        client.close()
        if stop_metrics is not None:
            stop_metrics()
        raise MountError(f"cannot mount {opts.workspace!r}: {exc.message}") from None
    try:
        CitcFUSE(filesystem, opts.mountpoint, foreground=True, debug=opts.debug,
                 **_fuse_options(opts))
    finally:
        remote.close()
        if stop_metrics is not None:
            stop_metrics()


def _serve_metrics(metrics: MountMetrics, address: str) -> Callable[[], None]:
    """Answer Prometheus scrapes on `address`; MountError (before anything is
    mounted) when it is not HOST:PORT or cannot be bound."""
    from .metrics import is_loopback, parse_address, serve

    try:
        host, _ = parse_address(address)
        stop = serve(metrics, address)
    except errors.CitcError as exc:
        raise MountError(exc.message) from None
    except OSError as exc:
        raise MountError(f"cannot serve metrics on {address}: "
                         f"{exc.strerror or exc}") from None
    if not is_loopback(host):
        log.warning("metrics are served on %s, beyond this machine", metrics.address)
    log.info("serving metrics on http://%s/metrics", metrics.address)
    return stop


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
    clear_dead_mount(opts.mountpoint)
    _check_mountpoint(opts.mountpoint, opts.nonempty)
    read_fd, write_fd = os.pipe()
    command = [sys.executable, "-m", "citcfs.client.mount", "--server", opts.server,
               "--workspace", opts.workspace, "--mountpoint", opts.mountpoint,
               "--cache-dir", opts.cache_dir, "--cache-bytes", str(opts.cache_bytes),
               "--attr-timeout", str(opts.attr_timeout), "--ready-fd", str(write_fd),
               "--journal-bytes", str(opts.journal_bytes),
               "--journal-full-wait", str(opts.journal_full_wait_s)]
    if opts.sync_writes:
        command.append("--sync-writes")
    if opts.nonempty:
        command.append("--nonempty")
    if opts.metrics:
        command += ["--metrics", opts.metrics]
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
    """Unmount a citcfs mount and wait until it is gone. A dead mount (its daemon
    died) is unmounted too, lazily if something still uses it."""
    path = os.path.abspath(mountpoint)
    if clear_dead_mount(path) is not None:
        return
    if not os.path.ismount(path) and path not in (p for p, _, _ in mountinfo_fields()):
        raise MountError(f"{mountpoint!r} is not mounted")
    _fusermount(path)
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
    parser.add_argument("--attr-timeout", type=float, default=DEFAULT_ATTR_TIMEOUT)
    parser.add_argument("--tls-ca")
    parser.add_argument("--ready-fd", type=int, default=-1)
    parser.add_argument("--debug", action="store_true")
    parser.add_argument("--sync-writes", action="store_true")
    parser.add_argument("--journal-bytes", type=int, default=DEFAULT_JOURNAL_BYTES)
    parser.add_argument("--journal-full-wait", type=float, default=10.0)
    parser.add_argument("--nonempty", action="store_true")
    parser.add_argument("--metrics", metavar="HOST:PORT")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.INFO,
                        format="%(asctime)s citcfs-mount %(levelname)s %(message)s")
    reporter = Reporter(args.ready_fd)
    opts = MountOptions(args.server, args.workspace, os.path.abspath(args.mountpoint),
                        args.cache_dir, args.cache_bytes, args.attr_timeout,
                        os.environ.get("CITC_TOKEN"), args.tls_ca, args.debug,
                        args.sync_writes, args.journal_bytes, args.journal_full_wait,
                        args.nonempty, args.metrics)
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
