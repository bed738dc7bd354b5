"""What other clients see: two mounts of one workspace, commits through the API, a mount
daemon killed with SIGKILL, a remount over the same object cache, a server restart."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from citcfs import wire
from citcfs.entries import Entry
from fuse_support import (SMALL_TREE, FuseEnv, cache_files_bytes, fuse_env, shared_env,  # noqa: F401
                          shared_server, wait_for)

MiB = 1 << 20


def read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def test_two_mounts_see_each_others_changes(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    a = shared_env.mount(ws).path
    b = shared_env.mount(ws).path
    # both have looked at everything first, so their caches hold the old state
    for root in (a, b):
        assert (root / "README").read_bytes() == b"hello\n"
        assert sorted(os.listdir(root / "src")) == ["lib", "main.c"]
        assert not (root / "from_a").exists()

    (a / "from_a").write_bytes(b"written in a\n")
    wait_for(lambda: read_or_none(b / "from_a") == b"written in a\n", what="b to see a's file")
    wait_for(lambda: "from_a" in os.listdir(b), what="b's listing")

    with open(a / "README", "ab") as f:
        f.write(b"appended in a\n")
    wait_for(lambda: read_or_none(b / "README") == b"hello\nappended in a\n",
             what="b to see a's append")
    assert os.stat(b / "README").st_size == len(b"hello\nappended in a\n")

    os.mkdir(b / "dir_b")
    (b / "dir_b/f").write_bytes(b"from b")
    os.unlink(b / "src/main.c")
    os.rename(b / "docs", b / "documents")
    wait_for(lambda: read_or_none(a / "dir_b/f") == b"from b", what="a to see b's file")
    wait_for(lambda: not (a / "src/main.c").exists(), what="a to see b's unlink")
    wait_for(lambda: sorted(os.listdir(a)) == ["README", "dir_b", "documents", "from_a", "src"],
             what="a to see b's rename")
    assert (a / "documents/guide.txt").read_bytes() == b"read me\n"
    assert os.listdir(a / "src") == ["lib"]

    os.chmod(a / "from_a", 0o600)
    wait_for(lambda: os.stat(b / "from_a").st_mode & 0o777 == 0o600, what="b to see a's chmod")


def test_api_commit_becomes_visible_in_the_mount(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    root = shared_env.mount(ws).path
    client = shared_env.client()
    assert (root / "README").read_bytes() == b"hello\n"
    assert sorted(os.listdir(root / "docs")) == ["big.bin", "guide.txt"]

    big = os.urandom(MiB + 100)
    ops = [wire.write_file_op("README", Entry.file(b"changed through the API\n")),
           wire.write_file_op("docs/api.bin", client.upload_file(big)),
           wire.make_dir_op("apidir"),
           wire.remove_op("docs/guide.txt")]
    client.commit(ws, ops)
    wait_for(lambda: read_or_none(root / "README") == b"changed through the API\n",
             what="the API's change of README")
    wait_for(lambda: sorted(os.listdir(root / "docs")) == ["api.bin", "big.bin"],
             what="the API's change of docs/")
    assert (root / "docs/api.bin").read_bytes() == big
    assert (root / "apidir").is_dir()
    assert not (root / "docs/guide.txt").exists()
    assert os.stat(root / "README").st_size == len(b"changed through the API\n")


def test_remount_after_kill9_keeps_everything_closed(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    mount = shared_env.mount(ws)
    root = mount.path
    big = os.urandom(3 * MiB + 7)
    (root / "big.bin").write_bytes(big)
    os.makedirs(root / "a/b/c")
    for i in range(50):
        (root / f"a/b/c/f{i}").write_text(f"file {i}\n")
    os.symlink("a/b/c/f1", root / "link")
    os.chmod(root / "a/b/c/f2", 0o600)
    os.utime(root / "a/b/c/f3", ns=(1, 1_111_111_111_222_222_222))
    os.rename(root / "src", root / "source")
    os.unlink(root / "README")
    fd = os.open(root / "docs/guide.txt", os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"synced\n")
    os.fsync(fd)
    try:
        mount.kill9()
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    assert not os.path.ismount(root)

    again = shared_env.mount(ws, cache_dir=mount.cache_dir).path
    assert (again / "big.bin").read_bytes() == big
    assert sorted(os.listdir(again / "a/b/c")) == sorted(f"f{i}" for i in range(50))
    assert all((again / f"a/b/c/f{i}").read_text() == f"file {i}\n" for i in range(50))
    assert os.readlink(again / "link") == "a/b/c/f1"
    assert os.stat(again / "a/b/c/f2").st_mode & 0o777 == 0o600
    assert os.stat(again / "a/b/c/f3").st_mtime_ns == 1_111_111_111_222_222_222
    assert sorted(os.listdir(again)) == ["a", "big.bin", "docs", "link", "source"]
    assert (again / "source/lib/util.c").read_bytes() == b"/* util */\n"
    assert (again / "docs/guide.txt").read_bytes() == b"read me\nsynced\n"


def test_remount_reads_from_the_local_cache(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    client = shared_env.client()
    data = os.urandom(3 * MiB)
    client.commit(ws, [wire.write_file_op("data.bin", client.upload_file(data))])
    first = shared_env.mount(ws)
    assert (first.path / "data.bin").read_bytes() == data
    assert (first.path / "docs/big.bin").read_bytes() == SMALL_TREE["docs/big.bin"]
    first.unmount()
    cached = cache_files_bytes(first.cache_dir)
    assert cached >= len(data) + len(SMALL_TREE["docs/big.bin"])

    proxy = shared_env.proxy()
    second = shared_env.mount(ws, cache_dir=first.cache_dir, server=proxy.address)
    assert (second.path / "data.bin").read_bytes() == data
    assert (second.path / "docs/big.bin").read_bytes() == SMALL_TREE["docs/big.bin"]
    counts = proxy.snapshot()
    assert counts["ReadObjects"] == 0, counts
    assert counts["Lookup"] + counts["ListDir"] > 0, counts  # it did go through the proxy
    assert cache_files_bytes(first.cache_dir) == cached

    # a third mount with an empty cache must fetch
    third = shared_env.mount(ws, server=proxy.address)
    assert (third.path / "data.bin").read_bytes() == data
    assert proxy.snapshot()["ReadObjects"] > 0


def test_invalidation_survives_a_server_restart(fuse_env: FuseEnv) -> None:
    client = fuse_env.client()
    fuse_env.import_tree(SMALL_TREE)
    client.create_workspace("ws", "main")
    mount = fuse_env.mount("ws")
    root = mount.path
    assert (root / "README").read_bytes() == b"hello\n"
    assert fuse_env.server is not None
    fuse_env.server.stop()
    fuse_env.server.start()
    (root / "after_restart").write_bytes(b"still writable\n")
    mount.sync()
    assert client.read_file(client.lookup("ws", "after_restart")) == b"still writable\n"
    client.commit("ws", [wire.write_file_op("README", Entry.file(b"after the restart\n"))])
    wait_for(lambda: read_or_none(root / "README") == b"after the restart\n", timeout=15,
             what="the mount to see a commit made after the server restarted")


def test_server_down_is_eio_and_the_mount_recovers(fuse_env: FuseEnv) -> None:
    client = fuse_env.client()
    fuse_env.import_tree(SMALL_TREE)
    client.create_workspace("ws", "main")
    mount = fuse_env.mount("ws")
    root = mount.path
    assert (root / "README").read_bytes() == b"hello\n"
    assert fuse_env.server is not None
    fuse_env.server.stop()
    try:
        with pytest.raises(OSError) as failure:
            os.stat(root / "src/lib/util.c")  # not cached: needs the server
        assert failure.value.errno == errno.EIO
        assert "server unreachable" in mount.log()
        assert (root / "README").read_bytes() == b"hello\n"  # cached: still readable
    finally:
        fuse_env.server.start()
    assert (root / "src/lib/util.c").read_bytes() == b"/* util */\n"
