"""Special files, times and extended attributes on a real mount, against tmpfs.

Each test runs one sequence of calls twice: in a directory of the mount and in a
native tmpfs directory (/dev/shm), and compares what they answer (results, errno and
the stat fields that must agree). Then it checks what the server kept: through a
remount, the `.citc/versions` views, `citc diff` and `citc export`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from citcfs.cmd import files_cmd
from citcfs.entries import EntryKind
from fuse_support import FuseEnv, Mounted, mounted, shared_env, shared_server  # noqa: F401

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
AT_FDCWD = -100


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_libc = ctypes.CDLL(None, use_errno=True)


def _times(atime: int, mtime: int) -> Any:
    """A timespec[2] for utimensat: each value ns since the epoch, or UTIME_NOW/OMIT."""
    def one(value: int) -> _Timespec:
        if value in (UTIME_NOW, UTIME_OMIT):
            return _Timespec(0, value)
        return _Timespec(value // 10**9, value % 10**9)
    return (_Timespec * 2)(one(atime), one(mtime))


def utimensat(path: Path, atime: int, mtime: int) -> None:
    if _libc.utimensat(AT_FDCWD, os.fsencode(path), _times(atime, mtime), 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(path))


def futimens(fd: int, atime: int, mtime: int) -> None:
    if _libc.futimens(fd, _times(atime, mtime)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def outcome(fn: Callable[[], Any]) -> Any:
    """What a call answered: its result, or ("errno", name)."""
    try:
        return fn()
    except OSError as exc:
        return ("errno", errno.errorcode.get(exc.errno or 0, exc.errno))


@pytest.fixture
def native() -> Iterator[Path]:
    """A fresh directory on tmpfs, the filesystem the mount is compared with."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    directory = Path(tempfile.mkdtemp(prefix="citc-native-", dir=base))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def both(mounted: Mounted, native: Path, sequence: Callable[[Path], Any]) -> Any:
    """Run `sequence` in a fresh directory of the mount and in `native`; they must
    answer alike. Returns the mount's answer."""
    here = mounted.root / "t"
    here.mkdir()
    there = native / "t"
    there.mkdir()
    on_mount, on_native = sequence(here), sequence(there)
    assert on_mount == on_native
    return on_mount


def citc(mounted: Mounted, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "citcfs.cmd.main", "--server",
                           mounted.env.server.address, *args],  # type: ignore[union-attr]
                          capture_output=True, text=True, timeout=60)


# --- special files ------------------------------------------------------------------------------


def make_specials(d: Path) -> list[Any]:
    """mkfifo, mknod of each kind, a bound socket, and the errors around them."""
    os.mkfifo(d / "fifo", 0o640)
    os.mknod(d / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(d / "disk", 0o660 | stat.S_IFBLK, os.makedev(7, 200))
    os.mknod(d / "plain", 0o644 | stat.S_IFREG)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.path.relpath(d / "sock"))
    out: list[Any] = [outcome(lambda: os.mkfifo(d / "fifo")),
                      outcome(lambda: os.mknod(d / "dir", 0o755 | stat.S_IFDIR)),
                      outcome(lambda: os.mkfifo(d / "missing/fifo"))]
    for name in ("fifo", "null", "disk", "plain", "sock"):
        st = os.lstat(d / name)
        out.append((name, stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_rdev,
                    st.st_size, st.st_uid, st.st_gid, st.st_nlink))
    out.append(sorted(os.listdir(d)))
    out.append(sorted((e.name, e.is_file(), e.is_dir()) for e in os.scandir(d)))
    return out


def test_special_files_are_entries(mounted: Mounted, native: Path) -> None:
    cwd = os.getcwd()
    try:
        os.chdir(mounted.root.parent)  # short socket paths (sun_path holds 108 bytes)
        both(mounted, native, make_specials)
    finally:
        os.chdir(cwd)
    entry = mounted.server_entry("t/null")
    assert (entry.kind, entry.rdev, entry.mode) == (EntryKind.CHARDEV, os.makedev(1, 3), 0o600)
    assert mounted.server_entry("t/fifo").kind == EntryKind.FIFO
    assert mounted.server_entry("t/sock").kind == EntryKind.SOCKET
    assert mounted.server_entry("t/disk").kind == EntryKind.BLOCKDEV
    assert mounted.server_entry("t/plain").kind == EntryKind.FILE


def test_fifo_and_socket_carry_data_on_the_mount(mounted: Mounted) -> None:
    fifo = mounted.root / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    os.write(writer, b"through the kernel")
    assert os.read(reader, 100) == b"through the kernel"
    os.close(writer)
    os.close(reader)
    cwd = os.getcwd()
    os.chdir(mounted.root)
    try:
        with socket.socket(socket.AF_UNIX) as server:
            server.bind("sock")
            server.listen(1)
            got: list[bytes] = []

            def serve() -> None:
                conn, _ = server.accept()
                with conn:
                    got.append(conn.recv(100))
                    conn.sendall(b"pong")
            thread = threading.Thread(target=serve)
            thread.start()
            with socket.socket(socket.AF_UNIX) as client:
                client.connect("sock")
                client.sendall(b"ping")
                assert client.recv(100) == b"pong"
            thread.join(5)
            assert got == [b"ping"]
    finally:
        os.chdir(cwd)


def test_special_files_in_versions_diff_and_export(mounted: Mounted, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = mounted.root
    os.mkfifo(root / "fifo", 0o600)
    os.mknod(root / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.setxattr(root / "README", "user.origin", b"test")
    version = mounted.version()
    view = root / ".citc/versions" / str(version)
    assert stat.S_ISFIFO(os.lstat(view / "fifo").st_mode)
    assert os.lstat(view / "null").st_rdev == os.makedev(1, 3)
    names = citc(mounted, "diff", mounted.workspace, "--name-status")
    assert names.returncode == 0, names.stderr
    assert set(names.stdout.split("\n")) >= {"A\tfifo", "A\tnull", "M\tREADME"}
    patch = citc(mounted, "diff", mounted.workspace)
    assert patch.returncode == 0, patch.stderr
    assert "fifo" not in patch.stdout
    assert "not in the patch: fifo fifo added" in patch.stderr
    assert "not in the patch: character device null added" in patch.stderr
    assert "not in the patch: extended attributes of README changed" in patch.stderr

    client = mounted.client
    head = client.freeze(mounted.workspace)
    done = files_cmd.export_tree(client, head, str(tmp_path / "as-root"), "head")
    out = tmp_path / "as-root"
    assert done.skipped == []
    assert stat.S_ISFIFO(os.lstat(out / "fifo").st_mode)
    assert os.lstat(out / "null").st_rdev == os.makedev(1, 3)
    assert os.getxattr(out / "README", "user.origin") == b"test"
    assert os.lstat(out / "README").st_mtime_ns == os.lstat(root / "README").st_mtime_ns

    def refuse(path: Any, mode: int = 0o600, device: int = 0) -> None:
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            raise PermissionError(errno.EPERM, "Operation not permitted")
        real_mknod(path, mode, device)
    real_mknod = os.mknod
    monkeypatch.setattr(files_cmd.os, "mknod", refuse)
    done = files_cmd.export_tree(client, head, str(tmp_path / "unprivileged"), "head")
    assert done.skipped == ["null: character device (only root may make it)"]
    assert stat.S_ISFIFO(os.lstat(tmp_path / "unprivileged/fifo").st_mode)
    assert not os.path.lexists(tmp_path / "unprivileged/null")


# --- times ----------------------------------------------------------------------------------------


def _times_of(path: Path) -> tuple[int, int, int]:
    st = os.lstat(path)
    return st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns


def time_rules(d: Path) -> list[Any]:
    """Which of (atime, mtime, ctime) each change moves, and exact times where set."""
    out: list[Any] = []

    def step(what: str, path: Path, action: Callable[[], Any], after: Path | None = None) -> None:
        before = _times_of(path)
        time.sleep(0.012)  # tmpfs stamps times from a coarse clock (one tick: 4-10 ms)
        action()
        now = _times_of(after or path)
        out.append((what, path.name, tuple(a != b for a, b in zip(before, now))))

    def read_noatime(path: Path) -> bytes:
        # tmpfs is mounted relatime, the mount noatime: compare a read that never
        # moves atime on either (the mount's own rule is checked by the caller).
        fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
        try:
            return os.read(fd, 100)
        finally:
            os.close(fd)

    f = d / "f"
    f.write_bytes(b"x")
    step("create in dir", d, lambda: (d / "g").write_bytes(b"y"))
    step("chmod", f, lambda: os.chmod(f, 0o600))
    step("chown", f, lambda: os.chown(f, os.getuid(), os.getgid()))
    step("write", f, lambda: f.open("ab").write(b"more"))
    step("truncate", f, lambda: os.truncate(f, 1))
    step("read", f, lambda: read_noatime(f))
    step("rename (file)", f, lambda: os.rename(f, d / "f2"), after=d / "f2")
    f = d / "f2"
    step("rename (dir)", d, lambda: os.rename(d / "f2", d / "f3"))
    f = d / "f3"
    step("unlink in dir", d, lambda: os.unlink(d / "g"))
    step("mkdir in dir", d, lambda: os.mkdir(d / "sub"))
    step("rmdir in dir", d, lambda: os.rmdir(d / "sub"))
    step("symlink in dir", d, lambda: os.symlink("f3", d / "link"))
    step("xattr", f, lambda: os.setxattr(f, "user.k", b"v"))
    # utimensat: each time exactly, with UTIME_OMIT and UTIME_NOW; ctime cannot be set.
    exact_a, exact_m = 1_111_111_111_123_456_789, 1_222_222_222_987_654_321
    step("set both", f, lambda: utimensat(f, exact_a, exact_m))
    out.append(_times_of(f)[:2])
    step("atime only", f, lambda: utimensat(f, exact_a + 1, UTIME_OMIT))
    out.append(_times_of(f)[:2])
    step("mtime only", f, lambda: utimensat(f, UTIME_OMIT, exact_m + 1))
    out.append(_times_of(f)[:2])
    step("omit both", f, lambda: utimensat(f, UTIME_OMIT, UTIME_OMIT))
    now = time.time_ns()
    step("atime now", f, lambda: utimensat(f, UTIME_NOW, UTIME_OMIT))
    a, m, c = _times_of(f)
    out.append((a >= now - 10**9, m == exact_m + 1, c >= now - 10**9))
    with open(f, "rb") as handle:  # futimens on a descriptor open for reading
        step("futimens", f, lambda: futimens(handle.fileno(), exact_a, UTIME_OMIT))
        out.append(os.fstat(handle.fileno()).st_atime_ns)
    out.append(_times_of(f)[2] > exact_m)  # ctime is the time of the change, not a given one
    return out


def test_times_follow_posix(mounted: Mounted, native: Path) -> None:
    result = both(mounted, native, time_rules)
    assert ("chmod", "f", (False, False, True)) in result
    assert ("create in dir", "t", (False, True, True)) in result
    before = _times_of(mounted.root / "t/f3")
    (mounted.root / "t/f3").read_bytes()  # noatime: reads leave atime alone
    assert _times_of(mounted.root / "t/f3") == before
    kept = _times_of(mounted.root / "t/f3")
    mounted.mount.sync()
    remount = mounted.env.mount(mounted.workspace)
    assert _times_of(remount.path / "t/f3") == kept
    server = mounted.server_entry("t/f3")
    assert (server.st_atime_ns, server.mtime_ns, server.st_ctime_ns) == kept
    dir_times = _times_of(mounted.root / "t")
    assert _times_of(remount.path / "t")[1:] == dir_times[1:]


def test_noatime_and_version_times(mounted: Mounted) -> None:
    with open("/proc/self/mountinfo") as info:
        line = next(row for row in info if f" {mounted.root} " in row)
    assert "noatime" in line.split()[5].split(",")
    (mounted.root / "new").write_bytes(b"x")
    version = mounted.version()
    times = {int(v.version): int(v.time_ns) for v in mounted.client.versions(mounted.workspace)}
    view = mounted.root / ".citc/versions" / str(version)
    assert os.stat(view).st_mtime_ns == times[version] > 0
    mounted.client.label(mounted.workspace, "snap", version)
    assert os.stat(mounted.root / ".citc/snapshots/snap").st_mtime_ns == times[version]
    assert os.stat(mounted.root / ".citc").st_mtime_ns > 0


# --- extended attributes ----------------------------------------------------------------------------


def xattr_calls(d: Path) -> list[Any]:
    f = d / "f"
    f.write_bytes(b"x")
    os.mkdir(d / "sub")
    os.symlink("f", d / "link")
    big = b"v" * 65536
    calls: list[Callable[[], Any]] = [
        lambda: os.listxattr(f),
        lambda: os.getxattr(f, "user.a"),
        lambda: os.setxattr(f, "user.a", b"1"),
        lambda: os.setxattr(f, "user.a", b"2", os.XATTR_CREATE),
        lambda: os.setxattr(f, "user.b", b"2", os.XATTR_REPLACE),
        lambda: os.setxattr(f, "user.a", b"3", os.XATTR_REPLACE),
        lambda: os.setxattr(f, "trusted.t", b"\0binary\xff"),
        lambda: os.setxattr(f, "security.s", b""),
        lambda: os.setxattr(f, "bogus.x", b"1"),
        lambda: os.setxattr(f, "user." + "n" * 251, b"1"),
        lambda: os.setxattr(f, "user." + "n" * 250, b"1"),
        lambda: os.setxattr(f, "user.big", big + b"!"),
        lambda: os.setxattr(f, "user.big", big[:60000]),
        lambda: os.setxattr(d / "sub", "user.dir", b"d"),
        lambda: os.setxattr(d / "link", "user.l", b"1", follow_symlinks=False),
        lambda: os.setxattr(d / "link", "trusted.l", b"1", follow_symlinks=False),
        lambda: sorted(os.listxattr(f)),
        lambda: os.getxattr(f, "user.a"),
        lambda: os.getxattr(f, "trusted.t"),
        lambda: os.getxattr(f, "security.s"),
        lambda: os.getxattr(f, "user.missing"),
        lambda: len(os.getxattr(f, "user.big")),
        lambda: os.removexattr(f, "user.a"),
        lambda: os.removexattr(f, "user.a"),
        lambda: sorted(os.listxattr(f)),
        lambda: os.listxattr(d / "sub"),
        lambda: os.listxattr(d / "link", follow_symlinks=False),
        lambda: os.getxattr(d / "missing", "user.a"),
    ]
    out = [outcome(call) for call in calls]
    # ERANGE and size queries, through the C calls
    size = _libc.getxattr(os.fsencode(f), b"trusted.t", None, 0)
    buf = ctypes.create_string_buffer(2)
    small = _libc.getxattr(os.fsencode(f), b"trusted.t", buf, 2)
    out.append((size, small, ctypes.get_errno() if small < 0 else 0))
    return out


def test_xattrs_match_tmpfs_and_are_kept(mounted: Mounted, native: Path) -> None:
    result = both(mounted, native, xattr_calls)
    assert ("errno", "ENODATA") in result and ("errno", "EEXIST") in result
    f = mounted.root / "t/f"
    with open(f, "ab") as handle:  # written while open: attributes stay with the content
        os.setxattr(f, "user.open", b"o")
        handle.write(b"y")
    expected = {name: os.getxattr(f, name) for name in os.listxattr(f)}
    assert "user.open" in expected
    version = mounted.version()
    remount = mounted.env.mount(mounted.workspace)
    g = remount.path / "t/f"
    assert {name: os.getxattr(g, name) for name in os.listxattr(g)} == expected
    os.removexattr(g, "user.open")
    remount.sync()
    old = mounted.root / ".citc/versions" / str(version) / "t/f"
    assert os.getxattr(old, "user.open") == b"o"
    assert error_of(lambda: os.setxattr(old, "user.x", b"1")) == errno.EROFS
    assert dict(mounted.server_entry("t/f").xattrs).get(b"user.open") is None


def error_of(fn: Callable[[], Any]) -> int:
    try:
        fn()
    except OSError as exc:
        return int(exc.errno or 0)
    raise AssertionError("succeeded")
