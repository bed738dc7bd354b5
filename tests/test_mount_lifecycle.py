"""Mounts that never strand their user, through `citc` against a real server and
real mounts: a directory that holds files is refused (unless --nonempty); a dead
mount (its daemon killed) is unmounted, and mounted over with what it journaled
replayed; a mounted workspace is not deleted by accident; and a mount whose
workspace was deleted says so once, answers ENOENT/ESTALE, drops its journal and
unmounts at once.

Every mount is taken down by its pid and lazily unmounted at the end, whatever
happened (`cleanup_mounts`, `FuseEnv.close`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Citc, citc_mountpoints, cleanup_mounts, mount_daemon_pids, private_env
from fuse_support import SMALL_TREE, FuseEnv, Mount, fuse_env, wait_for  # noqa: F401
from server_support import socket_dir

from citcfs.client.mount import MountError


@pytest.fixture
def cli(fuse_env: FuseEnv, tmp_path: Path) -> Iterator[Citc]:
    """citc with a private HOME, pointed at the test's own server (base "main")."""
    fuse_env.import_tree(SMALL_TREE)
    home = tmp_path / "home"
    home.mkdir()
    assert fuse_env.server is not None
    with socket_dir() as runtime:
        yield Citc(private_env(home, Path(runtime), CITC_SERVER=fuse_env.server.address),
                   tmp_path)


def _errno(fn: object, *args: object) -> int | None:
    """The errno `fn(*args)` fails with, None if it succeeds."""
    try:
        fn(*args)  # type: ignore[operator]
    except OSError as exc:
        return exc.errno
    return None


def _kill9(mountpoint: Path) -> None:
    """SIGKILL the daemon serving `mountpoint`; its mount is left dead (ENOTCONN)."""
    pids = mount_daemon_pids(mountpoint)
    assert pids, "no mount daemon found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not mount_daemon_pids(mountpoint), what="the mount daemon to die")
    # statfs always reaches the daemon; a stat may be answered from the kernel's cache.
    wait_for(lambda: _errno(os.statvfs, mountpoint) == errno.ENOTCONN, what="a dead mount")


def _sync(mountpoint: Path) -> None:
    fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mount_log(cli: Citc, workspace: str) -> str:
    path = Path(cli.env["HOME"]) / ".local/share/citcfs" / f"mount-{workspace}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _journal_files(cli: Citc) -> list[str]:
    directory = Path(cli.env["HOME"]) / ".cache/citcfs/journals"
    return sorted(os.listdir(directory)) if directory.exists() else []


def test_a_directory_that_holds_files_is_refused(fuse_env: FuseEnv, cli: Citc,
                                                 tmp_path: Path) -> None:
    workspace = fuse_env.new_workspace()
    full = tmp_path / "full"
    full.mkdir()
    names = [f"file-{c}" for c in "abcdefg"]
    for name in names:
        (full / name).write_text(name)
    with cleanup_mounts(full):
        line = cli.fails(1, "mount", workspace, str(full))
        assert "not empty" in line and "--nonempty" in line, line
        assert "file-a, file-b, file-c, file-d, file-e and 2 more" in line, line
        assert str(full) not in citc_mountpoints()
        # Asked for, it mounts over them; they are back once it is unmounted.
        cli.ok("mount", workspace, str(full), "--nonempty")
        assert sorted(os.listdir(full)) == ["README", "docs", "src"]
        cli.ok("unmount", str(full))
    assert sorted(os.listdir(full)) == names


def test_a_dead_mount_is_mounted_over_and_unmounted_and_its_journal_replayed(
        fuse_env: FuseEnv, cli: Citc, tmp_path: Path) -> None:
    assert fuse_env.server is not None
    workspace = fuse_env.new_workspace()
    client = fuse_env.client()
    mnt = tmp_path / "mnt"
    with cleanup_mounts(mnt, fsck=cli):
        cli.ok("mount", workspace, str(mnt))
        (mnt / "sent.txt").write_bytes(b"sent\n")
        # The root's listing is cached, so a new name needs no server.
        assert "sent.txt" in os.listdir(mnt)
        _sync(mnt)
        # With the server away, a change stays in the journal when the daemon dies.
        fuse_env.server.stop()
        (mnt / "journaled.txt").write_bytes(b"only in the journal\n")
        _kill9(mnt)
        fuse_env.server.start()

        mounted = cli("mount", workspace, str(mnt))
        assert mounted.returncode == 0, mounted.stderr
        assert "held a dead mount" in mounted.stderr
        assert (mnt / "journaled.txt").read_bytes() == b"only in the journal\n"
        assert client.read_file(client.lookup(workspace, "journaled.txt")) == \
            b"only in the journal\n"

        (mnt / "second.txt").write_bytes(b"second\n")
        _sync(mnt)
        _kill9(mnt)
        assert "mount process had ended" in cli.ok("unmount", str(mnt))
        assert str(mnt) not in citc_mountpoints()
        assert os.listdir(mnt) == []
        cli.ok("mount", workspace, str(mnt))
        assert (mnt / "second.txt").read_bytes() == b"second\n"
        cli.ok("unmount", str(mnt))
    assert _journal_files(cli) == []


def test_a_mounted_workspace_is_deleted_only_when_forced_and_its_mount_ends_cleanly(
        fuse_env: FuseEnv, cli: Citc, tmp_path: Path) -> None:
    workspace = fuse_env.new_workspace()
    client = fuse_env.client()
    mnt = tmp_path / "mnt"
    with cleanup_mounts(mnt, fsck=cli):
        cli.ok("mount", workspace, str(mnt))
        assert (mnt / "README").read_bytes() == b"hello\n"
        line = cli.fails(1, "ws", "delete", workspace, "--yes")
        assert f"mounted on {mnt}" in line and "--force" in line, line
        assert client.describe_workspace(workspace).name == workspace

        forced = cli("ws", "delete", workspace, "--yes", "--force")
        assert forced.returncode == 0 and str(mnt) in forced.stderr, forced
        wait_for(lambda: "is gone from the server" in _mount_log(cli, workspace),
                 what="the mount to learn of the delete")
        # What it had cached is gone too; changes are refused, not journaled.
        wait_for(lambda: _errno(os.stat, mnt / "README") == errno.ENOENT, what="ENOENT")
        assert _errno(os.mkdir, mnt / "new") in (errno.ENOENT, errno.ESTALE)
        assert json.loads((mnt / ".citc/status").read_bytes())["workspace_deleted"] is True
        started = time.monotonic()
        unmounted = cli("unmount", str(mnt))
        assert time.monotonic() - started < 10
        assert unmounted.returncode == 0, unmounted.stderr
        assert "was deleted on the server" in unmounted.stderr
        assert str(mnt) not in citc_mountpoints()
    log = _mount_log(cli, workspace)
    assert log.count("is gone from the server") == 1, log
    assert "retrying" not in log and "reconnecting" not in log, log
    assert _journal_files(cli) == []


def _deleted_behind_a_dead_mount(fuse_env: FuseEnv, orphan: bytes) -> tuple[str, Mount]:
    """A mount that journaled `orphan.txt` while the server was down and was then
    killed, and its workspace deleted once the server was back: (workspace, mount)."""
    assert fuse_env.server is not None
    fuse_env.import_tree(SMALL_TREE)
    workspace = fuse_env.new_workspace()
    mount = fuse_env.mount(workspace)
    os.listdir(mount.path)
    fuse_env.server.stop()
    (mount.path / "orphan.txt").write_bytes(orphan)
    mount.kill9()
    fuse_env.server.start()
    fuse_env.client().delete_workspace(workspace)
    return workspace, mount


def test_the_journal_of_a_deleted_workspace_is_dropped_not_replayed_forever(
        fuse_env: FuseEnv) -> None:
    workspace, mount = _deleted_behind_a_dead_mount(fuse_env, b"never sent\n")
    journals = mount.cache_dir / "journals"
    assert os.listdir(journals), "the dead mount left its journal"

    started = time.monotonic()
    with pytest.raises(MountError, match="cannot mount"):
        fuse_env.mount(workspace, cache_dir=mount.cache_dir)
    assert time.monotonic() - started < 20  # not the replay timeout
    assert os.listdir(journals) == []
    logs = [p.read_text() for p in fuse_env.tmp_path.glob("mount*.log")]
    # The file and its directory's times: two journaled changes, dropped once.
    assert sum(len(re.findall(r"dropping \d+ journaled changes", text))
               for text in logs) == 1, logs


def test_the_journal_of_a_deleted_workspace_never_reaches_a_namesake(fuse_env: FuseEnv) -> None:
    """Deleted and created again under its name, a workspace is another one: what a
    dead mount journaled for the old one is dropped, not written into the new one."""
    workspace, mount = _deleted_behind_a_dead_mount(fuse_env, b"meant for the old workspace\n")
    client = fuse_env.client()
    client.create_workspace(workspace, "main")
    journals = mount.cache_dir / "journals"
    left = set(os.listdir(journals))
    assert any(name.endswith(".jnl") for name in left), "the dead mount left its journal"

    again = fuse_env.mount(workspace, cache_dir=mount.cache_dir)
    assert not (again.path / "orphan.txt").exists()
    assert (again.path / "README").read_bytes() == SMALL_TREE["README"]
    assert client.describe_workspace(workspace).version == 0
    assert not left & set(os.listdir(journals)), "the old journal was dropped"
    logs = [p.read_text() for p in fuse_env.tmp_path.glob("mount*.log")]
    assert any(re.search(r"dropping \d+ journaled changes", text) for text in logs), logs
