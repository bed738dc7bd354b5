"""Crash tests at each failpoint of the write path (citcfs/failpoints.py): the process
dies there, and after a restart fsck passes and nothing acknowledged is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fuse_support import SMALL_TREE, FuseEnv, fuse_env, wait_for  # noqa: F401
from server_support import import_small_base, server_process, socket_dir, verify_server

from citcfs import errors, failpoints, wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry

WORKSPACES = ("w1", "w2")
HIT = 25
"""The pass at which a server's failpoint kills it: after some commits were answered."""


def test_a_failpoint_spec_names_known_points_and_actions() -> None:
    assert failpoints.parse("objects-stored=kill, commit-durable=exit@3") == {
        "objects-stored": ("kill", 1), "commit-durable": ("exit", 3)}
    assert failpoints.parse("") == {}
    for bad in ("objects-stored", "no-such-point=kill", "objects-stored=explode",
                "objects-stored=kill@x"):
        with pytest.raises(errors.InvalidArgument):
            failpoints.parse(bad)
    with pytest.raises(errors.InvalidArgument):
        failpoints.failpoint("no-such-point", "")


def test_an_unset_failpoint_is_the_empty_function() -> None:
    assert failpoints.failpoint("record-appended", "") is failpoints._off
    assert failpoints.failpoint("record-appended", "objects-stored=kill") is failpoints._off


@pytest.mark.parametrize("action, code", [("exit", failpoints.EXIT_CODE),
                                          ("kill", -signal.SIGKILL)])
def test_a_failpoint_acts_on_its_pass(action: str, code: int) -> None:
    script = ("from citcfs.failpoints import failpoint\n"
              "point = failpoint('record-appended')\n"
              "for i in range(5):\n"
              "    print(i, flush=True)\n"
              "    point()\n")
    env = dict(os.environ, CITCFS_FAILPOINTS=f"record-appended={action}@3")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert proc.stdout.split() == ["0", "1", "2"]


def test_a_bad_spec_stops_the_process_at_import() -> None:
    env = dict(os.environ, CITCFS_FAILPOINTS="objects-stored=kil")
    proc = subprocess.run([sys.executable, "-c", "import citcfs.storage"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "CITCFS_FAILPOINTS" in proc.stderr


def commit_until_refused(address: str, ws: str, acked: list[str]) -> None:
    """Commit one new file per version until the server goes away; `acked` gets the
    path of every commit the server answered, in version order."""
    with Client.connect(address) as client:
        for n in range(10 * HIT):
            path = f"{ws}-{n:04d}"
            try:
                result = client.commit(ws, [wire.write_file_op(path, Entry.file(path.encode()))],
                                       timeout=20)
            except errors.CitcError:
                return  # the server died: this commit was never answered
            assert result.version == len(acked) + 1
            acked.append(path)


def check_acknowledged(client: Client, acked: dict[str, list[str]], kept_at_most: int) -> None:
    """Every answered commit is there at its version and versions have no gaps. Of the
    commits in flight at the crash (one per workspace), at most `kept_at_most` are
    there: one that became durable may have died before its answer was sent, but the
    one that hit a failpoint before its batch was durable must be gone."""
    kept = 0
    for ws, paths in acked.items():
        head = client.describe_workspace(ws).version
        assert head in {len(paths), len(paths) + 1}, (ws, head, len(paths))
        kept += head - len(paths)
        assert [v.version for v in client.versions(ws, 1)] == list(range(1, head + 1))
        for version, path in enumerate(paths, 1):
            assert client.lookup(ws, path, version=version).inline == path.encode()
    assert kept <= kept_at_most, (kept, acked)


@pytest.mark.server
@pytest.mark.parametrize("point", ["objects-stored", "record-appended", "commit-durable"])
def test_a_server_killed_at_a_failpoint_loses_nothing_it_answered(tmp_path: Path,
                                                                  point: str) -> None:
    data = tmp_path / "data"
    with socket_dir() as sockets:
        listen = f"unix:{sockets}/citc.sock"
        with server_process(data, listen) as server, Client.connect(server.address) as client:
            import_small_base(client)
            for ws in WORKSPACES:
                client.create_workspace(ws, "main")
            assert server.stop() == 0

        acked: dict[str, list[str]] = {ws: [] for ws in WORKSPACES}
        env = dict(os.environ, CITCFS_FAILPOINTS=f"{point}=kill@{HIT}")
        with server_process(data, listen, env=env) as server:
            threads = [threading.Thread(target=commit_until_refused,
                                        args=(server.address, ws, acked[ws]))
                       for ws in WORKSPACES]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            assert server.proc.wait(30) == -signal.SIGKILL, server.log()
        assert sum(map(len, acked.values())) >= HIT // 2, acked

        # The workspace whose commit hit the failpoint has at most its answered commits,
        # unless the point is after durability; the other may hold one answered too late.
        kept_at_most = len(WORKSPACES) if point == "commit-durable" else len(WORKSPACES) - 1
        with server_process(data, listen) as server, Client.connect(server.address) as client:
            check_acknowledged(client, acked, kept_at_most)
            verify_server(server.address)
            assert client.verify(rebuild=True).rebuilt  # the indexes replay from the log
            check_acknowledged(client, acked, kept_at_most)
            assert server.stop() == 0


def test_a_mount_killed_before_its_flush_loses_nothing_it_answered(
        fuse_env: FuseEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    fuse_env.import_tree(SMALL_TREE)
    ws = fuse_env.new_workspace()
    monkeypatch.setenv(failpoints.ENV, "journal-before-flush=kill@3")
    mount = fuse_env.mount(ws)  # the daemon takes the failpoint from its environment
    monkeypatch.delenv(failpoints.ENV)
    answered: dict[str, bytes] = {}
    for n in range(200):
        data = f"file {n}\n".encode() * (n % 3 + 1)
        try:
            (mount.path / f"f{n}").write_bytes(data)
        except OSError:
            break  # the daemon died during this write: it was never answered
        answered[f"f{n}"] = data
        if not mount.alive():
            break
    wait_for(lambda: not mount.alive(), what="the mount daemon to die at the failpoint")
    assert answered
    mount.kill9()  # detaches the dead mount
    assert list((mount.cache_dir / "journals").glob("*.jnl")), "the journal is left behind"

    again = fuse_env.mount(ws, cache_dir=mount.cache_dir)  # replays the journal
    again.sync()
    client = fuse_env.client()
    for name, data in answered.items():
        assert client.read_file(client.lookup(ws, name)) == data, name
        assert (again.path / name).read_bytes() == data
