"""Write-back through real mounts: the journal, its flusher, barriers and recovery.

The server's side of a workspace is read through a second mount with a cache of its
own (it has no journal entries of its own, so it shows what the server holds) or
through the API.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import stat
import tarfile
import threading
import time
from pathlib import Path

from fuse_support import (SMALL_TREE, FuseEnv, Mount, fuse_env, shared_env,  # noqa: F401
                          shared_server, wait_for)
from tree_support import snapshot_tree

from citcfs.client.cache import ObjectCache
from citcfs.client.flusher import Flusher, replay_orphans
from citcfs.client.journal import Journal, WriteFile
from citcfs.client.remote import RpcRemote
from citcfs.client.rpc import Client
from citcfs.entries import Entry


def server_view(env: FuseEnv, workspace: str) -> dict[str, tuple[str, object, int]]:
    """The workspace as the server has it, through a fresh mount."""
    mount = env.mount(workspace)
    try:
        return snapshot_tree(mount.path)
    finally:
        mount.unmount()


def status(mount: Mount) -> dict[str, object]:
    return json.loads((mount.path / ".citc/status").read_text())


def storm(root: Path, count: int) -> None:
    """Creates, renames and chmods, as tools make them."""
    (root / "storm").mkdir()
    for i in range(count):
        path = root / "storm" / f"f{i}.tmp"
        path.write_bytes(f"content {i}\n".encode() * (i % 5 + 1))
        os.chmod(path, 0o600 + (i % 3) * 0o10)
        os.rename(path, root / "storm" / f"f{i}")


def expected_storm(count: int) -> dict[str, tuple[str, object, int]]:
    found: dict[str, tuple[str, object, int]] = {"storm": ("dir", None, 0o755)}
    for i in range(count):
        found[f"storm/f{i}"] = ("file", f"content {i}\n".encode() * (i % 5 + 1),
                                0o600 + (i % 3) * 0o10)
    return found


def only_storm(tree: dict[str, tuple[str, object, int]]) -> dict[str, tuple[str, object, int]]:
    return {k: v for k, v in tree.items() if k == "storm" or k.startswith("storm/")}


def test_kill9_of_the_mount_loses_nothing_that_returned(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    # A server slower than the storm keeps changes in the journal when the mount dies.
    mount = shared_env.mount(ws)
    storm(mount.path, 150)
    before = status(mount)
    mount.kill9()
    assert not os.path.ismount(mount.path)
    journals = list((mount.cache_dir / "journals").glob("*.jnl"))
    assert journals, "the dead mount left its journal behind"

    again = shared_env.mount(ws, cache_dir=mount.cache_dir)
    assert only_storm(snapshot_tree(again.path)) == expected_storm(150)
    assert not list((mount.cache_dir / "journals").glob("*.jnl")), "replayed and removed"
    assert only_storm(server_view(shared_env, ws)) == expected_storm(150)
    assert isinstance(before["pending_ops"], int)


def test_writes_go_on_while_the_server_is_down(fuse_env: FuseEnv) -> None:
    client = fuse_env.client()
    fuse_env.import_tree(SMALL_TREE)
    client.create_workspace("ws", "main")
    mount = fuse_env.mount("ws")
    root = mount.path
    (root / "before").write_bytes(b"before\n")
    mount.sync()
    os.listdir(root)  # offline, names are looked up in the listings the mount holds
    assert fuse_env.server is not None
    fuse_env.server.stop()
    try:
        storm(root, 40)
        os.unlink(root / "before")
        assert only_storm(snapshot_tree(root)) == expected_storm(40)  # reads its own writes
        assert status(mount)["pending_ops"] > 0
    finally:
        fuse_env.server.start()
    mount.sync()
    assert status(mount)["pending_ops"] == 0
    view = server_view(fuse_env, "ws")
    assert only_storm(view) == expected_storm(40) and "before" not in view


def test_fsync_is_a_barrier(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    mount = shared_env.mount(ws)
    client = shared_env.client()
    other = shared_env.mount(ws)
    for i in range(20):
        with open(mount.path / f"synced{i}", "wb") as f:
            f.write(b"durable %d\n" % i)
            f.flush()
            os.fsync(f.fileno())
            # The server has it the moment fsync returns, and so does every mount.
            assert client.read_file(client.lookup(ws, f"synced{i}")) == b"durable %d\n" % i
    wait_for(lambda: (other.path / "synced19").exists(), timeout=5,
             what="the other mount to see the file")
    os.mkdir(mount.path / "d")
    fd = os.open(mount.path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    assert client.lookup(ws, "d").is_dir


def test_sync_writes_commit_before_close_returns(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    mount = shared_env.mount(ws, sync_writes=True)
    client = shared_env.client()
    (mount.path / "f").write_bytes(b"on the server\n")
    assert client.read_file(client.lookup(ws, "f")) == b"on the server\n"
    os.chmod(mount.path / "f", 0o640)
    assert client.lookup(ws, "f").mode == 0o640
    assert status(mount)["sync_writes"] is True


def _tarball() -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for i in range(60):
            body = (f"member {i}\n" * (i + 1)).encode()
            info = tarfile.TarInfo(f"pkg/sub{i % 4}/m{i}.txt")
            info.size, info.mode, info.mtime = len(body), 0o640 if i % 2 else 0o755, 1_600_000_000
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def _sequence(root: Path) -> None:
    """Tools' ways of writing: tar, rename chains, create then unlink, chmod, rmdir."""
    with tarfile.open(fileobj=io.BytesIO(_tarball())) as tar:
        tar.extractall(root, filter="fully_trusted")
    (root / "chain0").write_bytes(b"chained\n")
    for i in range(10):
        os.rename(root / f"chain{i}", root / f"chain{i + 1}")
    for i in range(30):
        (root / f"scratch{i}").write_bytes(b"x" * i)
        os.unlink(root / f"scratch{i}")
    (root / "gone").mkdir()
    (root / "gone" / "f").write_bytes(b"f")
    shutil.rmtree(root / "gone")
    os.chmod(root / "pkg" / "sub1", 0o700)
    (root / "pkg" / "sub0" / "m0.txt").write_bytes(b"rewritten\n")
    os.rename(root / "pkg" / "sub2", root / "pkg" / "moved")
    (root / "pkg" / "moved" / "after").write_bytes(b"after the move\n")


def test_coalescing_matches_a_native_directory(shared_env: FuseEnv, tmp_path: Path) -> None:
    native = tmp_path / "native"
    native.mkdir()
    _sequence(native)
    ws = shared_env.new_workspace()
    mount = shared_env.mount(ws)
    _sequence(mount.path)
    expected = snapshot_tree(native)
    ours = {k: v for k, v in snapshot_tree(mount.path).items() if k in expected or k.startswith(
        ("pkg", "chain", "scratch", "gone"))}
    assert ours == expected
    mount.sync()
    operations = 60 * 3 + 11 + 60 + 3 + 5
    version = int(shared_env.client().describe_workspace(ws).version)
    assert version < operations * 2 / 3, f"{version} versions for {operations} operations"
    view = server_view(shared_env, ws)
    assert {k: v for k, v in view.items() if k in expected or k.startswith(
        ("pkg", "chain", "scratch", "gone"))} == expected


def test_a_batch_resent_after_a_lost_answer_is_applied_once(shared_env: FuseEnv,
                                                             tmp_path: Path) -> None:
    ws = shared_env.new_workspace()
    client = shared_env.client()
    remote = RpcRemote(Client.connect(shared_env.server.address))  # type: ignore[union-attr]
    cache = ObjectCache(str(tmp_path / "cache"))
    journals = str(tmp_path / "journals")
    journal = Journal.create(journals, "srv", ws)
    try:
        flusher = Flusher(remote, ws, journal, cache)
        for i in range(5):
            flusher.append(WriteFile(f"once{i}", Entry.file(b"%d" % i), new=True))
        flusher.start()
        assert flusher.wait_for(timeout=20)
        flusher.stop(timeout=5)
        version = client.describe_workspace(ws).version
        # The mount "dies" before it hears the answer: its journal stays behind and
        # the next mount replays it. The server knows the writer and applies nothing.
        journal.close()
        assert replay_orphans(remote, "srv", ws, cache, journals, timeout=20) == 5
        assert client.describe_workspace(ws).version == version
        assert not os.listdir(journals)
    finally:
        journal.close()
        cache.close()
        remote.close()


def test_a_full_journal_fails_with_enospc_and_keeps_what_it_took(fuse_env: FuseEnv) -> None:
    client = fuse_env.client()
    fuse_env.import_tree(SMALL_TREE)
    client.create_workspace("ws", "main")
    mount = fuse_env.mount("ws", journal_bytes=256 << 10, journal_full_wait_s=0.3)
    root = mount.path
    os.listdir(root)
    assert fuse_env.server is not None
    fuse_env.server.stop()
    written = []
    try:
        failure = None
        for i in range(100):
            try:
                (root / f"big{i}").write_bytes(bytes([i]) * 40_000)
            except OSError as exc:
                failure = exc
                break
            written.append(i)
        assert failure is not None and failure.errno == errno.ENOSPC
        assert 3 <= len(written) < 100
    finally:
        fuse_env.server.start()
    mount.sync()
    for i in written:
        assert client.read_file(client.lookup("ws", f"big{i}")) == bytes([i]) * 40_000


def test_status_counts_what_is_not_on_the_server(fuse_env: FuseEnv) -> None:
    client = fuse_env.client()
    fuse_env.import_tree(SMALL_TREE)
    client.create_workspace("ws", "main")
    mount = fuse_env.mount("ws")
    assert status(mount)["pending_ops"] == 0
    os.listdir(mount.path)
    assert fuse_env.server is not None
    fuse_env.server.stop()
    try:
        for i in range(5):
            (mount.path / f"f{i}").write_bytes(b"x")
        st = status(mount)
        # Five files, and at most one change of the root's times per batch cut.
        assert 5 <= st["pending_ops"] <= 7 and st["workspace"] == "ws"
        assert stat.S_ISREG(os.stat(mount.path / ".citc/status").st_mode)
    finally:
        fuse_env.server.start()
    mount.sync()
    assert status(mount)["pending_ops"] == 0


def test_visibility_in_another_mount_during_a_storm(shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    writer = shared_env.mount(ws, attr_timeout=3600)
    reader = shared_env.mount(ws, attr_timeout=3600)
    (reader.path / "docs").stat()
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            (writer.path / f"churn{i}").write_bytes(b"c")
            i += 1

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        time.sleep(0.2)
        (writer.path / "docs" / "marker").write_bytes(b"m")
        wait_for(lambda: (reader.path / "docs" / "marker").exists(), timeout=5,
                 what="the marker to reach the other mount")
    finally:
        stop.set()
        thread.join()


def mount_counter(mount: Mount, name: str) -> float:
    """A counter of the mount's metrics, from `.citc/stats`."""
    stats = json.loads((mount.path / ".citc/stats").read_text())
    return sum(sample["value"] for metric in stats["metrics"] if metric["name"] == name
               for sample in metric["samples"])


def test_a_mount_alone_never_takes_its_own_versions_for_others(shared_env: FuseEnv) -> None:
    """Every version a storm makes is recognised as the mount's own, even when the
    watch announces it while its answer is still being handed over: nothing is
    invalidated and nothing is counted as a conflict."""
    ws = shared_env.new_workspace()
    mount = shared_env.mount(ws)
    storm(mount.path, 400)
    mount.sync()
    head = shared_env.client().describe_workspace(ws).version
    wait_for(lambda: status(mount)["version"] == head, timeout=10,
             what="the watcher to reach the head")
    assert head > 10, "the storm made several versions"
    assert status(mount)["conflicts"] == 0
    assert mount_counter(mount, "citcfs_mount_invalidations") == 0
    assert only_storm(snapshot_tree(mount.path)) == expected_storm(400)
