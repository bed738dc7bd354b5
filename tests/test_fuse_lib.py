"""client/fuse_lib.py: the writeback cache and max_write, seen from a real mount.

A tiny in-memory filesystem runs in a subprocess (libfuse installs signal handlers,
so it stays out of the test process); it records the size of every write it gets
and shows the list in a read-only file `/.writes`. Each mount is unmounted and its
process stopped by pid, even when a test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from citcfs.client.fuse_lib import (FUSE_CAP_WRITEBACK_CACHE, MAX_WRITE_LIMIT,
                                    request_writeback_cache, set_max_write)

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")

TINY_FS = r'''
import errno, json, stat, sys
from citcfs.client.fuse_lib import FUSE, FuseOSError, Operations, request_writeback_cache, set_max_write

mountpoint, writeback, max_write = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])

class Tiny(Operations):
    use_ns = True

    def __init__(self):
        self.files, self.mtimes, self.writes = {}, {}, []

    def init_with_config(self, conn, config):
        if writeback and not request_writeback_cache(conn):
            raise SystemExit("no writeback cache offered")
        if max_write:
            set_max_write(conn, max_write)

    def getattr(self, path, fh=None):
        if path == "/":
            return {"st_mode": stat.S_IFDIR | 0o755, "st_nlink": 2}
        if path == "/.writes":
            return {"st_mode": stat.S_IFREG | 0o444, "st_nlink": 1,
                    "st_size": len(json.dumps(self.writes))}
        if path not in self.files:
            raise FuseOSError(errno.ENOENT)
        return {"st_mode": stat.S_IFREG | 0o644, "st_nlink": 1,
                "st_size": len(self.files[path]), "st_mtime": self.mtimes[path]}

    def readdir(self, path, fh):
        return [".", ".."] + [name[1:] for name in self.files]

    def create(self, path, mode, fi=None):
        self.files[path], self.mtimes[path] = bytearray(), 0
        return 0

    def open(self, path, flags):
        return 0

    def flush(self, path, fh):
        return 0

    def release(self, path, fh):
        return 0

    def utimens(self, path, times=None):
        self.mtimes[path] = times[1] if times else 0
        return 0

    def truncate(self, path, length, fh=None):
        del self.files[path][length:]
        return 0

    def read(self, path, size, offset, fh):
        if path == "/.writes":
            return json.dumps(self.writes).encode()[offset:offset + size]
        return bytes(self.files[path][offset:offset + size])

    def write(self, path, data, offset, fh):
        self.writes.append(len(data))
        content = self.files[path]
        if len(content) < offset:
            content.extend(bytes(offset - len(content)))
        content[offset:offset + len(data)] = data
        return len(data)

FUSE(Tiny(), mountpoint, foreground=True, attr_timeout=0.0, entry_timeout=0.0)
'''


def _mount(tmp_path: Path, writeback: bool, max_write: int = 0) -> Iterator[Path]:
    mountpoint = tmp_path / "mnt"
    mountpoint.mkdir()
    log = open(tmp_path / "tiny.log", "wb")
    process = subprocess.Popen([sys.executable, "-c", TINY_FS, str(mountpoint),
                                "1" if writeback else "0", str(max_write)],
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not os.path.ismount(mountpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("tiny mount failed: " + (tmp_path / "tiny.log").read_text())
            time.sleep(0.02)
        yield mountpoint
    finally:
        subprocess.run(["fusermount3", "-u", str(mountpoint)], capture_output=True)
        if os.path.ismount(mountpoint):
            subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def mount(tmp_path: Path):  # type: ignore[no-untyped-def]
    mounts: list[Iterator[Path]] = []

    def make(writeback: bool, max_write: int = 0) -> Path:
        generator = _mount(tmp_path, writeback, max_write)
        mounts.append(generator)
        return next(generator)
    yield make
    for generator in mounts:
        for _ in generator:
            pass


def _writes(mountpoint: Path) -> list[int]:
    return json.loads((mountpoint / ".writes").read_bytes())


def _write_small(path: Path, pieces: int, size: int = 4096) -> bytes:
    data = bytes(range(256)) * (size // 256)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(pieces):
            assert os.write(fd, data) == size
    finally:
        os.close(fd)
    return data * pieces


def test_without_writeback_cache_each_small_write_arrives_alone(mount) -> None:  # type: ignore[no-untyped-def]
    mnt = mount(writeback=False)
    expected = _write_small(mnt / "f", 64)
    assert _writes(mnt) == [4096] * 64
    assert (mnt / "f").read_bytes() == expected


def test_writeback_cache_gathers_small_writes(mount) -> None:  # type: ignore[no-untyped-def]
    mnt = mount(writeback=True)
    expected = _write_small(mnt / "f", 64)
    writes = _writes(mnt)
    assert sum(writes) == len(expected)
    assert len(writes) < 64 and max(writes) > 4096, writes
    # The kernel owns size and content until it flushes; both are right after close.
    assert os.stat(mnt / "f").st_size == len(expected)
    assert (mnt / "f").read_bytes() == expected


def test_writeback_cache_reports_size_before_close(mount) -> None:  # type: ignore[no-untyped-def]
    mnt = mount(writeback=True)
    fd = os.open(mnt / "g", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, b"x" * 10_000)
        assert os.fstat(fd).st_size == 10_000
        assert os.stat(mnt / "g").st_size == 10_000
    finally:
        os.close(fd)


def test_default_max_write_is_one_mib(mount) -> None:  # type: ignore[no-untyped-def]
    mnt = mount(writeback=False)
    (mnt / "big").write_bytes(os.urandom(4 << 20))
    assert _writes(mnt) == [1 << 20] * 4


def test_set_max_write_caps_the_writes(mount) -> None:  # type: ignore[no-untyped-def]
    mnt = mount(writeback=False, max_write=65536)
    data = os.urandom(1 << 20)
    (mnt / "big").write_bytes(data)
    assert _writes(mnt) == [65536] * 16
    assert (mnt / "big").read_bytes() == data


def test_set_max_write_clamps_to_what_libfuse_takes() -> None:
    conn = SimpleNamespace(max_write=0, capable=0, want=0)
    assert set_max_write(conn, 8 << 20) == MAX_WRITE_LIMIT == conn.max_write
    assert set_max_write(conn, 100) == 4096
    assert not request_writeback_cache(conn) and conn.want == 0
    conn.capable = FUSE_CAP_WRITEBACK_CACHE
    assert request_writeback_cache(conn) and conn.want == FUSE_CAP_WRITEBACK_CACHE
    assert not request_writeback_cache(None)
