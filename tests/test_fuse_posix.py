"""POSIX behaviour of every operation of a mounted workspace, and the errno of each failure.

Each test gets a fresh workspace over SMALL_TREE on the module's server, mounted by a
real mount daemon with a fresh object cache. What the mount shows is checked against
what the server has, read through the API (`mounted.client`), never through the mount.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from citcfs.entries import EntryKind
from citcfs.errors import PathNotFound
from fuse_support import SMALL_TREE, FuseEnv, Mounted, mounted, shared_env, shared_server  # noqa: F401

MiB = 1 << 20


def error_of(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> int:
    """The errno `fn(*args)` fails with (the test fails if it succeeds)."""
    try:
        fn(*args, **kwargs)
    except OSError as exc:
        return int(exc.errno or 0)
    raise AssertionError(f"{getattr(fn, '__name__', fn)}{args} succeeded")


def server_missing(m: Mounted, path: str) -> bool:
    try:
        m.server_entry(path)
    except PathNotFound:
        return True
    return False


# --- getattr, readdir, lookup ----------------------------------------------------------------


def test_getattr_of_base_entries(mounted: Mounted) -> None:
    root = mounted.root
    st = os.stat(root / "README")
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size == len(SMALL_TREE["README"])
    assert st.st_nlink >= 1
    assert stat.S_ISDIR(os.stat(root / "src").st_mode)
    assert stat.S_ISDIR(os.stat(root).st_mode)
    assert os.stat(root / "docs/big.bin").st_size == len(SMALL_TREE["docs/big.bin"])
    entry = mounted.server_entry("README")
    assert st.st_mtime_ns == entry.mtime_ns
    assert stat.S_IMODE(st.st_mode) == entry.mode


def test_st_ino_is_stable_for_the_life_of_the_mount(shared_env: FuseEnv) -> None:
    # attr_timeout 0: every stat reaches the daemon, so the daemon's numbering is tested.
    mount = shared_env.mount(shared_env.new_workspace(), attr_timeout=0)
    root = mount.path
    names = ["README", "src", "src/main.c", "src/lib", "src/lib/deep/leaf.txt", "docs"]
    first = {name: os.stat(root / name).st_ino for name in names}
    assert len(set(first.values())) == len(names), "distinct paths need distinct inodes"
    os.listdir(root / "src")
    (root / "src/new.c").write_bytes(b"new\n")
    os.chmod(root / "README", 0o600)
    for _ in range(3):
        assert {name: os.stat(root / name).st_ino for name in names} == first
    assert os.stat(root).st_ino == os.stat(root).st_ino
    # readdir's d_ino agrees with stat's st_ino
    for item in os.scandir(root / "src"):
        assert item.inode() == os.stat(item.path, follow_symlinks=False).st_ino


def test_readdir_lists_base_and_changes(mounted: Mounted) -> None:
    root = mounted.root
    assert sorted(os.listdir(root)) == ["README", "docs", "src"]
    assert sorted(os.listdir(root / "src")) == ["lib", "main.c"]
    assert sorted(os.listdir(root / "src/lib")) == ["deep", "util.c"]
    (root / "src/added.c").write_bytes(b"x")
    os.mkdir(root / "src/newdir")
    os.unlink(root / "src/main.c")
    assert sorted(os.listdir(root / "src")) == ["added.c", "lib", "newdir"]
    kinds = {e.name: (e.is_dir(), e.is_file()) for e in os.scandir(root / "src")}
    assert kinds == {"added.c": (False, True), "lib": (True, False), "newdir": (True, False)}
    assert os.listdir(root / "src/newdir") == []
    assert error_of(os.listdir, root / "README") == errno.ENOTDIR
    assert error_of(os.listdir, root / "nothing") == errno.ENOENT


def test_lookup_errors(mounted: Mounted) -> None:
    root = mounted.root
    assert error_of(os.stat, root / "missing") == errno.ENOENT
    assert error_of(os.stat, root / "src/missing/deeper") == errno.ENOENT
    assert error_of(os.stat, root / "README/child") == errno.ENOTDIR
    assert error_of(os.stat, root / ("n" * 256)) == errno.ENAMETOOLONG
    assert error_of(os.open, root / ("n" * 256), os.O_CREAT | os.O_WRONLY) == errno.ENAMETOOLONG
    assert error_of(os.mkdir, root / ("d" * 256)) == errno.ENAMETOOLONG
    # 255 bytes is allowed
    long_ok = root / ("n" * 255)
    long_ok.write_bytes(b"ok")
    assert long_ok.read_bytes() == b"ok"
    assert mounted.server_file("n" * 255) == b"ok"


# --- files: open, create, read, write ----------------------------------------------------------


def test_read_base_files(mounted: Mounted) -> None:
    for rel, data in SMALL_TREE.items():
        assert (mounted.root / rel).read_bytes() == data
    with open(mounted.root / "docs/big.bin", "rb") as f:
        f.seek(1000)
        assert f.read(100) == SMALL_TREE["docs/big.bin"][1000:1100]
        f.seek(len(SMALL_TREE["docs/big.bin"]) + 10)
        assert f.read(10) == b""


def test_create_write_read_and_close_to_open(mounted: Mounted) -> None:
    path = mounted.root / "src/new.txt"
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o640)
    try:
        assert os.write(fd, b"hello ") == 6
        assert os.write(fd, b"world") == 5
        assert os.pread(fd, 100, 0) == b"hello world"
        assert os.fstat(fd).st_size == 11
    finally:
        os.close(fd)
    # close() returned: the server has the content (close-to-open consistency)
    assert mounted.server_file("src/new.txt") == b"hello world"
    entry = mounted.server_entry("src/new.txt")
    assert entry.mode == 0o640
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert path.read_bytes() == b"hello world"
    assert error_of(os.open, path, os.O_CREAT | os.O_EXCL | os.O_WRONLY) == errno.EEXIST
    assert error_of(os.open, mounted.root / "src", os.O_CREAT | os.O_EXCL | os.O_WRONLY) == errno.EEXIST


def test_overwrite_append_and_sparse_writes(mounted: Mounted) -> None:
    path = mounted.root / "README"
    with open(path, "r+b") as f:
        f.seek(1)
        f.write(b"EL")
    assert path.read_bytes() == b"hELlo\n"
    assert mounted.server_file("README") == b"hELlo\n"
    with open(path, "ab") as f:
        f.write(b"more\n")
    assert mounted.server_file("README") == b"hELlo\nmore\n"
    sparse = mounted.root / "sparse"
    fd = os.open(sparse, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.pwrite(fd, b"end", 5000)
    finally:
        os.close(fd)
    assert sparse.read_bytes() == b"\0" * 5000 + b"end"
    assert mounted.server_file("sparse") == b"\0" * 5000 + b"end"


def test_multi_chunk_file_write_and_partial_rewrite(mounted: Mounted) -> None:
    data = os.urandom(2 * MiB + 12345)
    path = mounted.root / "docs/large.bin"
    path.write_bytes(data)
    assert mounted.server_file("docs/large.bin") == data
    entry = mounted.server_entry("docs/large.bin")
    assert len(entry.chunks) == 3
    with open(path, "r+b") as f:
        f.seek(MiB + 10)
        f.write(b"PATCH")
    expected = data[:MiB + 10] + b"PATCH" + data[MiB + 15:]
    assert path.read_bytes() == expected
    assert mounted.server_file("docs/large.bin") == expected
    changed = mounted.server_entry("docs/large.bin")
    assert changed.chunks[0] == entry.chunks[0] and changed.chunks[2] == entry.chunks[2]
    assert changed.chunks[1] != entry.chunks[1]


def test_open_directory_for_writing_is_eisdir(mounted: Mounted) -> None:
    assert error_of(os.open, mounted.root / "src", os.O_WRONLY) == errno.EISDIR
    assert error_of(os.open, mounted.root / "src", os.O_RDWR) == errno.EISDIR
    fd = os.open(mounted.root / "src", os.O_RDONLY)
    try:
        assert error_of(os.read, fd, 10) == errno.EISDIR
    finally:
        os.close(fd)
    assert error_of(os.open, mounted.root / "missing", os.O_RDONLY) == errno.ENOENT
    assert error_of(os.open, mounted.root / "nodir/file", os.O_CREAT | os.O_WRONLY) == errno.ENOENT
    assert error_of(os.open, mounted.root / "README/file", os.O_CREAT | os.O_WRONLY) == errno.ENOTDIR


# --- truncate, flush, fsync, release ------------------------------------------------------------


def test_truncate_and_ftruncate(mounted: Mounted) -> None:
    path = mounted.root / "docs/guide.txt"
    os.truncate(path, 4)
    assert path.read_bytes() == b"read"
    assert os.stat(path).st_size == 4
    assert mounted.server_file("docs/guide.txt") == b"read"
    os.truncate(path, 8)
    assert path.read_bytes() == b"read\0\0\0\0"
    assert mounted.server_file("docs/guide.txt") == b"read\0\0\0\0"
    fd = os.open(path, os.O_RDWR)
    try:
        os.ftruncate(fd, 2)
        assert os.fstat(fd).st_size == 2
        os.write(fd, b"RE")
    finally:
        os.close(fd)
    assert mounted.server_file("docs/guide.txt") == b"RE"
    with open(path, "wb") as f:  # O_TRUNC
        f.write(b"fresh")
    assert mounted.server_file("docs/guide.txt") == b"fresh"
    big = mounted.root / "docs/big.bin"
    os.truncate(big, 0)
    assert big.read_bytes() == b""
    assert mounted.server_file("docs/big.bin") == b""
    assert error_of(os.truncate, mounted.root / "src", 0) == errno.EISDIR
    assert error_of(os.truncate, mounted.root / "missing", 0) == errno.ENOENT
    assert error_of(os.truncate, path, -1) == errno.EINVAL


def test_fsync_and_flush_reach_the_server_before_close(mounted: Mounted) -> None:
    path = mounted.root / "synced.txt"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        os.write(fd, b"first")
        os.fsync(fd)
        assert mounted.server_file("synced.txt") == b"first"
        os.write(fd, b" second")
        os.fdatasync(fd)
        assert mounted.server_file("synced.txt") == b"first second"
        # flush happens on close of a duplicate descriptor, before the last release
        dup = os.dup(fd)
        os.write(dup, b" third")
        os.close(dup)
        assert mounted.server_file("synced.txt") == b"first second third"
        os.write(fd, b"!")
    finally:
        os.close(fd)
    assert mounted.server_file("synced.txt") == b"first second third!"
    assert path.read_bytes() == b"first second third!"


def test_two_descriptors_of_one_file_share_content(mounted: Mounted) -> None:
    path = mounted.root / "shared.txt"
    a = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    b = os.open(path, os.O_RDWR)
    try:
        os.pwrite(a, b"aaaa", 0)
        assert os.pread(b, 10, 0) == b"aaaa"
        os.pwrite(b, b"BB", 2)
        assert os.pread(a, 10, 0) == b"aaBB"
        os.close(a)
        a = -1
        assert mounted.server_file("shared.txt") == b"aaBB"
    finally:
        if a >= 0:
            os.close(a)
        os.close(b)
    assert path.read_bytes() == b"aaBB"


def test_unlink_of_open_file(mounted: Mounted) -> None:
    path = mounted.root / "src/main.c"
    fd = os.open(path, os.O_RDWR)
    try:
        os.unlink(path)
        assert not path.exists()
        assert server_missing(mounted, "src/main.c")
        os.write(fd, b"written after unlink")
    finally:
        os.close(fd)
    assert not path.exists(), "closing an unlinked file must not bring it back"
    assert server_missing(mounted, "src/main.c")
    assert "main.c" not in os.listdir(mounted.root / "src")
    # a new file created and unlinked before close never reaches the server
    fresh = mounted.root / "tmpfile"
    with open(fresh, "wb") as f:
        f.write(b"x")
        os.unlink(fresh)
        f.write(b"y")
    assert not fresh.exists()
    assert server_missing(mounted, "tmpfile")


# --- directories ------------------------------------------------------------------------------------


def test_mkdir_and_rmdir(mounted: Mounted) -> None:
    root = mounted.root
    os.mkdir(root / "newdir", 0o750)
    assert stat.S_ISDIR(os.stat(root / "newdir").st_mode)
    assert stat.S_IMODE(os.stat(root / "newdir").st_mode) == 0o750
    entry = mounted.server_entry("newdir")
    assert entry.kind == EntryKind.DIR and entry.mode == 0o750
    os.makedirs(root / "newdir/a/b/c")
    (root / "newdir/a/b/c/file").write_bytes(b"deep")
    assert mounted.server_file("newdir/a/b/c/file") == b"deep"
    assert error_of(os.mkdir, root / "newdir") == errno.EEXIST
    assert error_of(os.mkdir, root / "README") == errno.EEXIST
    assert error_of(os.mkdir, root / "nothing/sub") == errno.ENOENT
    assert error_of(os.mkdir, root / "README/sub") == errno.ENOTDIR
    assert error_of(os.rmdir, root / "newdir") == errno.ENOTEMPTY
    assert error_of(os.rmdir, root / "src") == errno.ENOTEMPTY
    assert error_of(os.rmdir, root / "README") == errno.ENOTDIR
    assert error_of(os.rmdir, root / "nothing") == errno.ENOENT
    os.unlink(root / "newdir/a/b/c/file")
    os.rmdir(root / "newdir/a/b/c")
    assert os.listdir(root / "newdir/a/b") == []
    assert server_missing(mounted, "newdir/a/b/c")
    os.rmdir(root / "src/lib/deep") if not os.listdir(root / "src/lib/deep") else None
    os.unlink(root / "src/lib/deep/leaf.txt")
    os.rmdir(root / "src/lib/deep")
    assert not (root / "src/lib/deep").exists()
    assert server_missing(mounted, "src/lib/deep")


def test_unlink_errors(mounted: Mounted) -> None:
    root = mounted.root
    assert error_of(os.unlink, root / "src") == errno.EISDIR
    assert error_of(os.unlink, root / "missing") == errno.ENOENT
    assert error_of(os.unlink, root / "README/x") == errno.ENOTDIR
    os.unlink(root / "README")
    assert not (root / "README").exists()
    assert server_missing(mounted, "README")
    assert error_of(os.unlink, root / "README") == errno.ENOENT


# --- rename ----------------------------------------------------------------------------------------


def test_rename_file(mounted: Mounted) -> None:
    root = mounted.root
    ino = os.stat(root / "README").st_ino
    os.rename(root / "README", root / "docs/README.moved")
    assert not (root / "README").exists()
    assert (root / "docs/README.moved").read_bytes() == b"hello\n"
    assert os.stat(root / "docs/README.moved").st_ino == ino
    assert mounted.server_file("docs/README.moved") == b"hello\n"
    assert server_missing(mounted, "README")
    # over an existing file: the target is replaced
    os.rename(root / "docs/README.moved", root / "docs/guide.txt")
    assert (root / "docs/guide.txt").read_bytes() == b"hello\n"
    assert sorted(os.listdir(root / "docs")) == ["big.bin", "guide.txt"]
    assert mounted.server_file("docs/guide.txt") == b"hello\n"
    assert error_of(os.rename, root / "missing", root / "x") == errno.ENOENT
    assert error_of(os.rename, root / "docs/guide.txt", root / "nodir/x") == errno.ENOENT
    assert error_of(os.rename, root / "docs/guide.txt", root / "src") == errno.EISDIR
    os.rename(root / "docs/guide.txt", root / "docs/guide.txt")  # same path: a no-op
    assert (root / "docs/guide.txt").read_bytes() == b"hello\n"


def test_rename_directories(mounted: Mounted) -> None:
    root = mounted.root
    os.rename(root / "src", root / "source")
    assert not (root / "src").exists()
    assert (root / "source/lib/deep/leaf.txt").read_bytes() == b"leaf\n"
    assert sorted(os.listdir(root / "source")) == ["lib", "main.c"]
    assert mounted.server_file("source/lib/util.c") == b"/* util */\n"
    assert server_missing(mounted, "src")
    # over an empty directory: replaced
    os.mkdir(root / "empty")
    os.rename(root / "source/lib", root / "empty")
    assert sorted(os.listdir(root / "empty")) == ["deep", "util.c"]
    assert not (root / "source/lib").exists()
    # over a non-empty directory: ENOTEMPTY, nothing changes
    assert error_of(os.rename, root / "empty", root / "docs") == errno.ENOTEMPTY
    assert sorted(os.listdir(root / "docs")) == ["big.bin", "guide.txt"]
    assert (root / "empty/util.c").exists()
    # directory over a file and file over a directory
    assert error_of(os.rename, root / "empty", root / "README") == errno.ENOTDIR
    assert error_of(os.rename, root / "README", root / "docs") == errno.EISDIR
    # into itself
    assert error_of(os.rename, root / "empty", root / "empty/deep/inside") == errno.EINVAL
    assert mounted.server_file("empty/deep/leaf.txt") == b"leaf\n"


def test_rename_open_file_then_close(mounted: Mounted) -> None:
    root = mounted.root
    with open(root / "draft", "wb") as f:
        f.write(b"part one, ")
        f.flush()
        os.rename(root / "draft", root / "final")
        f.write(b"part two")
    assert (root / "final").read_bytes() == b"part one, part two"
    assert not (root / "draft").exists()
    assert mounted.server_file("final") == b"part one, part two"
    assert server_missing(mounted, "draft")


def test_rename_noreplace(mounted: Mounted) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = libc.renameat2
    at_fdcwd, rename_noreplace = -100, 1
    src = str(mounted.root / "README").encode()
    dst = str(mounted.root / "docs/guide.txt").encode()
    assert renameat2(at_fdcwd, src, at_fdcwd, dst, rename_noreplace) == -1
    assert ctypes.get_errno() == errno.EEXIST
    assert mounted.server_file("docs/guide.txt") == b"read me\n"
    free = str(mounted.root / "docs/free").encode()
    assert renameat2(at_fdcwd, src, at_fdcwd, free, rename_noreplace) == 0
    assert mounted.server_file("docs/free") == b"hello\n"


# --- symlinks, attributes ---------------------------------------------------------------------------


def test_symlink_and_readlink(mounted: Mounted) -> None:
    root = mounted.root
    os.symlink("../README", root / "src/link")
    assert os.readlink(root / "src/link") == "../README"
    assert stat.S_ISLNK(os.lstat(root / "src/link").st_mode)
    assert (root / "src/link").read_bytes() == b"hello\n"
    entry = mounted.server_entry("src/link")
    assert entry.kind == EntryKind.SYMLINK and entry.target == "../README"
    os.symlink("/nowhere/at/all", root / "dangling")
    assert os.readlink(root / "dangling") == "/nowhere/at/all"
    assert not (root / "dangling").exists()
    assert "dangling" in os.listdir(root)
    assert error_of(os.symlink, "x", root / "README") == errno.EEXIST
    assert error_of(os.readlink, root / "README") == errno.EINVAL
    assert error_of(os.readlink, root / "missing") == errno.ENOENT
    os.unlink(root / "src/link")
    assert not os.path.lexists(root / "src/link")
    assert (root / "README").exists()


def test_chmod(mounted: Mounted) -> None:
    root = mounted.root
    os.chmod(root / "README", 0o600)
    assert stat.S_IMODE(os.stat(root / "README").st_mode) == 0o600
    assert mounted.server_entry("README").mode == 0o600
    os.chmod(root / "src", 0o700)
    assert stat.S_IMODE(os.stat(root / "src").st_mode) == 0o700
    assert mounted.server_entry("src").mode == 0o700
    os.chmod(root / "docs/guide.txt", 0o4755)
    assert stat.S_IMODE(os.stat(root / "docs/guide.txt").st_mode) == 0o4755
    assert (root / "docs/guide.txt").read_bytes() == b"read me\n"
    assert error_of(os.chmod, root / "missing", 0o600) == errno.ENOENT
    # chmod of an open, written file keeps both the data and the mode
    with open(root / "new", "wb") as f:
        f.write(b"data")
        os.fchmod(f.fileno(), 0o751)
    assert stat.S_IMODE(os.stat(root / "new").st_mode) == 0o751
    entry = mounted.server_entry("new")
    assert entry.mode == 0o751 and mounted.server_file("new") == b"data"
    # A file not yet on the server takes its attributes to its first commit: the
    # fd calls tar makes before closing what it extracted add no commits of their own.
    before = mounted.version()
    with open(root / "extracted", "wb", buffering=0) as f:
        f.write(b"member")
        os.utime(f.fileno(), ns=(1_000_000_000, 1_500_000_000_123))
        os.fchown(f.fileno(), 321, 654)
        os.fchmod(f.fileno(), 0o640)
        st = os.fstat(f.fileno())
        assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 321, 654)
        assert mounted.version() == before
    assert mounted.version() == before + 1
    entry = mounted.server_entry("extracted")
    assert (entry.mode, entry.uid, entry.gid, entry.mtime_ns) == (0o640, 321, 654, 1_500_000_000_123)
    assert mounted.server_file("extracted") == b"member"
    # Once on the server, a file's attributes commit at once again, open or not.
    with open(root / "extracted", "ab") as f:
        os.fchmod(f.fileno(), 0o600)
        assert mounted.server_entry("extracted").mode == 0o600


def test_chown_keeps_uid_and_gid(mounted: Mounted) -> None:
    root = mounted.root
    os.chown(root / "README", 1234, 5678)
    st = os.stat(root / "README")
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    entry = mounted.server_entry("README")
    assert (entry.uid, entry.gid) == (1234, 5678)
    os.chown(root / "README", -1, 42)
    st = os.stat(root / "README")
    assert (st.st_uid, st.st_gid) == (1234, 42)
    os.chown(root / "README", 7, -1)
    assert (os.stat(root / "README").st_uid, os.stat(root / "README").st_gid) == (7, 42)
    os.chown(root / "src", 1000, 1000)
    assert mounted.server_entry("src").uid == 1000
    os.symlink("README", root / "l")
    os.chown(root / "l", 55, 66, follow_symlinks=False)
    assert (os.lstat(root / "l").st_uid, os.lstat(root / "l").st_gid) == (55, 66)
    assert os.stat(root / "README").st_uid == 7
    # files created by root belong to root
    (root / "mine").write_bytes(b"")
    assert (os.stat(root / "mine").st_uid, os.stat(root / "mine").st_gid) == (os.getuid(), os.getgid())


def test_utimens_with_nanoseconds(mounted: Mounted) -> None:
    root = mounted.root
    mtime = 1_234_567_890_123_456_789
    os.utime(root / "README", ns=(mtime - 5, mtime))
    assert os.stat(root / "README").st_mtime_ns == mtime
    assert mounted.server_entry("README").mtime_ns == mtime
    os.utime(root / "src", ns=(1, 987_654_321_000_000_001))
    assert os.stat(root / "src").st_mtime_ns == 987_654_321_000_000_001
    assert mounted.server_entry("src").mtime_ns == 987_654_321_000_000_001
    # mtime of a written file, set before close, is what stays
    with open(root / "stamped", "wb") as f:
        f.write(b"x")
        f.flush()
        os.utime(f.fileno(), ns=(5, 1_500_000_000_000_000_007))
    assert os.stat(root / "stamped").st_mtime_ns == 1_500_000_000_000_000_007
    assert mounted.server_entry("stamped").mtime_ns == 1_500_000_000_000_000_007
    # "now"
    before = os.stat(root / "docs/guide.txt").st_mtime_ns
    os.utime(root / "docs/guide.txt")
    assert os.stat(root / "docs/guide.txt").st_mtime_ns > before
    assert error_of(os.utime, root / "missing", ns=(1, 1)) == errno.ENOENT


def test_write_updates_mtime(mounted: Mounted) -> None:
    path = mounted.root / "README"
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    with open(path, "ab") as f:
        f.write(b"x")
    assert os.stat(path).st_mtime_ns > 1_000_000_000
    assert mounted.server_entry("README").mtime_ns > 1_000_000_000


def test_statfs_and_access(mounted: Mounted) -> None:
    root = mounted.root
    st = os.statvfs(root)
    assert st.f_namemax == 255
    assert st.f_bsize > 0 and st.f_blocks > 0 and st.f_bavail > 0 and st.f_files > 0
    assert os.access(root / "README", os.R_OK | os.W_OK)
    assert os.access(root / "src", os.R_OK | os.W_OK | os.X_OK)
    assert not os.access(root / "README", os.X_OK)  # no x bit, even for root
    os.chmod(root / "README", 0o755)
    assert os.access(root / "README", os.X_OK)
    assert not os.access(root / "missing", os.F_OK)
    assert error_of(os.stat, root / "missing") == errno.ENOENT


# --- what the data model does not have -------------------------------------------------------------


def test_hard_links_of_directories_are_eperm(mounted: Mounted) -> None:
    root = mounted.root
    assert error_of(os.link, root / "src", root / "hardlink") == errno.EPERM
    assert not os.path.lexists(root / "hardlink")
    os.link(root / "README", root / "hardlink")  # files may (tests/test_fuse_links.py)
    assert os.stat(root / "hardlink").st_ino == os.stat(root / "README").st_ino
