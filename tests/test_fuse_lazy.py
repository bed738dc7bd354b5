"""Laziness: a mount asks the server only for what is touched.

The mounts here talk to the server through a `CountingProxy`, which forwards every
call unchanged and counts them per method; the object cache directory shows which
chunks were fetched. Only request and byte counts are asserted, never times.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

import pytest

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from fuse_support import (FuseEnv, FuseServer, cache_files_bytes, shared_env,  # noqa: F401
                          shared_server)

MiB = 1 << 20
DEEP = "/".join(f"level{i}" for i in range(12))  # a path 12 directories deep


def test_mount_reads_only_the_root(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    proxy = shared_env.proxy()
    mount = shared_env.mount(ws, server=proxy.address)
    counts = proxy.snapshot()
    assert counts["ListDir"] == 0, counts
    assert counts["ReadObjects"] == 0, counts
    assert counts["Lookup"] <= 1, counts
    assert counts["Commit"] + counts["CommitStream"] == 0 and counts["PutObjects"] == 0, counts
    assert cache_files_bytes(mount.cache_dir) == 0

    # a stat of one file is one lookup per level at most, and fetches no content
    assert os.stat(mount.path / "src/lib/util.c").st_size == len(b"/* util */\n")
    counts = proxy.snapshot()
    assert counts["Lookup"] + counts["ListDir"] <= 1 + 3, counts
    assert counts["ReadObjects"] == 0, counts
    # a listing is one ListDir
    before = proxy.snapshot()
    assert sorted(os.listdir(mount.path / "docs")) == ["big.bin", "guide.txt"]
    assert proxy.snapshot()["ListDir"] - before["ListDir"] == 1
    assert cache_files_bytes(mount.cache_dir) == 0
    # content is fetched when read, and then comes from the cache
    assert (mount.path / "docs/big.bin").read_bytes() == bytes(range(256)) * 40
    assert proxy.snapshot()["ReadObjects"] == 1
    assert cache_files_bytes(mount.cache_dir) == 256 * 40


def test_read_fetches_only_the_chunks_it_touches(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    client = shared_env.client()
    data = os.urandom(8 * MiB)
    entry = client.upload_file(data)
    assert len(entry.chunks) == 8
    client.commit(ws, [wire.write_file_op("big.bin", entry)])
    proxy = shared_env.proxy()
    mount = shared_env.mount(ws, server=proxy.address)
    with open(mount.path / "big.bin", "rb") as f:
        f.seek(5 * MiB + 100)
        assert f.read(1000) == data[5 * MiB + 100:5 * MiB + 1100]
    fetched = cache_files_bytes(mount.cache_dir)
    # chunk 5, and at most one more the kernel's read-ahead may have touched
    assert MiB <= fetched <= 2 * MiB, fetched
    before = proxy.snapshot()["ReadObjects"]
    assert before <= 2
    # a sequential read of the whole file gets everything, with read-ahead
    assert (mount.path / "big.bin").read_bytes() == data
    assert cache_files_bytes(mount.cache_dir) == 8 * MiB
    # the remaining 6-7 chunks came in fewer requests than chunks (read-ahead)
    assert proxy.snapshot()["ReadObjects"] - before < 6


def _large_base_entries() -> Iterator[tuple[str, Entry]]:
    """20k small files: 20 x 10 directories of 100 files, plus one deep chain."""
    for a in range(20):
        for b in range(10):
            for c in range(100):
                yield f"tree{a}/sub{b}/file{c}.txt", Entry.file(f"{a}/{b}/{c}\n".encode())
    for i in range(12):
        prefix = "/".join(f"level{j}" for j in range(i + 1))
        yield f"{prefix}/sibling{i}.txt", Entry.file(f"sibling {i}\n".encode())
    yield f"{DEEP}/target.txt", Entry.file(b"the deep target\n", mode=0o640)


@pytest.fixture(scope="module")
def large_base(shared_server: FuseServer) -> str:
    with Client.connect(shared_server.address) as client:
        client.import_base("large", entries=_large_base_entries(), message="20k files")
    return "large"


def test_fresh_mount_of_a_large_base_is_o_depth(shared_env: FuseEnv, large_base: str) -> None:
    client = shared_env.client()
    ws = shared_env.new_workspace(large_base)
    assert len(client.listdir(ws, "")) == 21
    proxy = shared_env.proxy()
    mount = shared_env.mount(ws, server=proxy.address)
    depth = DEEP.count("/") + 2  # directories plus the file
    st = os.stat(mount.path / DEEP / "target.txt")
    assert stat.S_ISREG(st.st_mode) and st.st_size == len(b"the deep target\n")
    assert stat.S_IMODE(st.st_mode) == 0o640
    counts = proxy.snapshot()
    assert counts["Lookup"] + counts["ListDir"] <= depth + 1, counts
    assert counts["ReadObjects"] == 0, counts
    assert (mount.path / DEEP / "target.txt").read_bytes() == b"the deep target\n"
    # listing the deep directory and a 100-file directory: one ListDir each
    before = proxy.snapshot()
    assert sorted(os.listdir(mount.path / DEEP)) == ["sibling11.txt", "target.txt"]
    names = os.listdir(mount.path / "tree7/sub3")
    assert len(names) == 100
    after = proxy.snapshot()
    assert after["ListDir"] - before["ListDir"] == 2, after
    assert (mount.path / "tree7/sub3/file42.txt").read_bytes() == b"7/3/42\n"
    # statting every file of that directory costs nothing more than its listing
    before = proxy.snapshot()
    for name in names:
        os.stat(mount.path / "tree7/sub3" / name)
    after = proxy.snapshot()
    assert after["Lookup"] + after["ListDir"] == before["Lookup"] + before["ListDir"], after
    # the rest of the tree was never listed
    assert after["ListDir"] <= 3


def test_writes_fetch_no_old_content_when_not_needed(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    client = shared_env.client()
    data = os.urandom(4 * MiB)
    client.commit(ws, [wire.write_file_op("big.bin", client.upload_file(data))])
    proxy = shared_env.proxy()
    mount = shared_env.mount(ws, server=proxy.address)
    # O_TRUNC never fetches the old content
    with open(mount.path / "big.bin", "wb") as f:
        f.write(b"replaced")
    mount.sync()
    assert client.read_file(client.lookup(ws, "big.bin")) == b"replaced"
    # nor do truncate to zero, or appending to and rewriting a small inline file
    os.truncate(mount.path / "docs/big.bin", 0)
    with open(mount.path / "README", "ab") as f:
        f.write(b"more\n")
    counts = proxy.snapshot()
    assert counts["ReadObjects"] == 0, counts
    assert cache_files_bytes(mount.cache_dir) == 0
    mount.sync()
    assert client.read_file(client.lookup(ws, "README")) == b"hello\nmore\n"
