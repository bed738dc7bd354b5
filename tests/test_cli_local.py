"""`citc` with no server configured: the local server it starts, reuses, restarts
after a crash and stops; and a newcomer's first run from an empty HOME, through a
real FUSE mount, ending with a `citc diff` that `patch -p1` applies to an export of
the base to reproduce the workspace.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import (Citc, citc_mountpoints, cleanup_mounts, private_env,
                         stop_local_server)
from server_support import server_process, socket_dir
from tree_support import snapshot_tree, write_tree

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[Citc, Path]]:
    """citc with an empty HOME and a short runtime dir; the server it starts is
    killed by its pid file at the end, whatever happened."""
    home = tmp_path / "home"
    home.mkdir()
    with socket_dir() as runtime:
        citc = Citc(private_env(home, Path(runtime)), tmp_path)
        try:
            yield citc, home
        finally:
            stop_local_server(home / ".local" / "share")


def _pid(home: Path) -> int:
    return int((home / ".local/share/citcfs/server.pid").read_text())


def _servers_of(db_dir: Path) -> list[int]:
    """Pids of server processes serving `db_dir`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"server" in argv and str(db_dir).encode() in argv:
            found.append(int(entry))
    return found


@pytest.mark.server  # `citc` starts its own server (tests/tiers.py)
def test_zero_config_starts_reuses_restarts_and_stops(local: tuple[Citc, Path]) -> None:
    citc, home = local
    # Two commands at once from an empty HOME start one server between them.
    assert citc.many(("base", "list", "--json"), ("ws", "list", "--json")) == ["[]\n"] * 2
    data = home / ".local" / "share" / "citcfs"
    assert len(_servers_of(data / "db")) == 1
    assert (data / "server.log").exists() and (data / "db").is_dir()
    first = _pid(home)
    status = citc.json("server", "status")
    assert status["running"] is True and status["local"] is True and status["pid"] == first
    assert status["data_dir"] == str(data)
    socket_path = status["address"][len("unix:"):]
    assert stat.S_ISSOCK(os.stat(socket_path).st_mode)
    assert socket_path.startswith(citc.env["XDG_RUNTIME_DIR"] + "/citcfs/")
    assert citc.json("ws", "list") == [] and _pid(home) == first  # reused

    # A crashed server leaves its socket and pid file behind; citc starts a new one.
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{first}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(socket_path)
    assert citc.json("base", "list") == []
    second = _pid(home)
    assert second != first

    assert f"pid {second}" in citc.ok("server", "stop")
    assert not Path(f"/proc/{second}").exists() or \
        open(f"/proc/{second}/stat").read().split(") ")[1][0] == "Z"
    assert "no local server" in citc.ok("server", "stop")
    down = citc("server", "status", "--json")
    assert down.returncode == 3 and json.loads(down.stdout)["running"] is False


@pytest.mark.mount
def test_server_stop_names_only_its_own_mounts(local: tuple[Citc, Path],
                                               tmp_path: Path) -> None:
    citc, home = local
    tree = write_tree(tmp_path / "tree", {"f": b"x\n"})
    mine, other = tmp_path / "mine", tmp_path / "other"
    with socket_dir() as sockets, \
            server_process(tmp_path / "other-data", f"unix:{sockets}/o.sock") as server, \
            cleanup_mounts(mine, other, fsck=citc):
        citc.ok("mount", "mine", str(mine), "--base", str(tree))  # the local server
        citc.ok("--server", server.address, "mount", "theirs", str(other), "--base", str(tree))
        stopped = citc("server", "stop")
        assert stopped.returncode == 0, stopped.stderr
        assert str(mine) in stopped.stderr and "1 citcfs mount(s)" in stopped.stderr
        assert str(other) not in stopped.stderr


BASE_TREE: dict[str, bytes | tuple[str, str]] = {
    "README": b"A demo tree.\n",
    "src/main.c": b"#include <stdio.h>\n\nint main(void) {\n    puts(\"hi\");\n    return 0;\n}\n",
    "src/old_name.c": b"int helper(void) { return 1; }\n",
    "src/remove_me.c": b"gone soon\n",
    "scripts/build.sh": b"#!/bin/sh\nmake\n",
    "docs/link": ("symlink", "../README"),
    "lib/a.txt": b"alpha\n",
    "lib/b.txt": b"beta\n",
    "lib/deep/c.txt": b"gamma\n",
}


@pytest.mark.mount
def test_newcomer_mounts_edits_diffs_snapshots_and_the_patch_applies(
        local: tuple[Citc, Path], tmp_path: Path) -> None:
    citc, home = local
    tree = write_tree(tmp_path / "some" / "tree", BASE_TREE)
    mnt = tmp_path / "demo"  # does not exist yet: citc mount makes it
    with cleanup_mounts(mnt, fsck=citc):
        out = citc.ok("mount", "demo", str(mnt), "--base", str(tree))
        assert "created workspace demo over demo@1" in out and "mounted" in out
        assert str(mnt) in citc_mountpoints()
        assert (mnt / "src/main.c").read_bytes() == BASE_TREE["src/main.c"]

        # Edit the mount as any program would.
        with open(mnt / "src/main.c", "a") as f:
            f.write("/* edited */\n")
        (mnt / "src/new").mkdir()
        (mnt / "src/new/added.txt").write_text("brand new\n")
        os.rename(mnt / "src/old_name.c", mnt / "src/new_name.c")
        os.unlink(mnt / "src/remove_me.c")
        os.chmod(mnt / "README", 0o755)
        os.symlink("main.c", mnt / "src/main-link")
        os.rename(mnt / "lib", mnt / "library")
        (mnt / "library/a.txt").write_text("alpha, changed after the move\n")

        status = citc.ok("status", cwd=mnt).splitlines()
        assert {"M src/main.c", "A src/new/", "A src/new/added.txt", "D src/remove_me.c",
                "R src/old_name.c -> src/new_name.c", "M README", "A src/main-link",
                "R lib/ -> library/"} <= set(status)
        patch = citc.ok("diff", cwd=mnt / "src")  # WS from the mount, any depth
        assert "+/* edited */\n" in patch and "rename to src/new_name.c" in patch
        assert "first" in citc.ok("snapshot", "first", cwd=mnt)
        log = citc.ok("log", cwd=mnt).splitlines()
        assert log[0].split()[:1] == ["VERSION"] and "first" in log[1]
        assert citc.json("log", cwd=mnt)[0]["labels"] == ["first"]

        # The patch turns an export of the base into the workspace.
        base_copy, head_copy = tmp_path / "base-copy", tmp_path / "head-copy"
        citc.ok("export", "demo@base", str(base_copy))
        citc.ok("export", "demo@first", str(head_copy))
        applied = subprocess.run(["patch", "-p1", "--batch"], input=patch.encode(),
                                 cwd=base_copy, capture_output=True, text=False)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        patched, wanted = snapshot_tree(base_copy), snapshot_tree(head_copy)
        assert patched == wanted
        assert snapshot_tree(mnt) == wanted
        assert wanted["src/main-link"] == ("link", "main.c", 0)
        assert wanted["README"][2] == 0o755

        # revert takes paths relative to the working directory in a mount.
        assert "reverted 1 path of demo" in citc.ok("revert", "main.c", cwd=mnt / "src")
        assert citc.ok("cat", "demo", "src/main.c") == BASE_TREE["src/main.c"].decode()

        out = citc.ok("unmount", str(mnt))
        assert "unmounted demo" in out
        assert str(mnt) not in citc_mountpoints()

    # Mounting again reuses the base and the workspace; the edits are still there.
    with cleanup_mounts(mnt, fsck=citc):
        out = citc.ok("mount", "demo", str(mnt), "--base", str(tree))
        assert "created" not in out
        assert (mnt / "src/new/added.txt").read_text() == "brand new\n"
        assert citc.fails(1, "mount", "demo", str(mnt))  # already mounted there
        citc.ok("unmount", str(mnt))
    assert "is not mounted" in citc.fails(1, "unmount", str(mnt))
    assert "--base" in citc.fails(1, "mount", "nosuch", str(tmp_path / "x"))


LONG_DIR = "d" * 201  # past keys.PARENT_KEY_MAX: overlay keys hold its path cut and hashed


def _odd_source_tree(root: Path) -> Path:
    """A copy of real sources (this project's citcfs/) plus every kind of odd name."""
    shutil.copytree(ROOT / "citcfs", root / "citcfs",
                    ignore=shutil.ignore_patterns("__pycache__"))
    odd = {"ff.py": b"one\n\x0c\ntwo\x0cthree\nfour\n", "cr.txt": b"a\rb\nc\n",
           "   spaces  ": b"spaces\n", "new\nline": b"nl\n", "caf\udce9.txt": b"latin\n",
           f"{LONG_DIR}/inner.txt": b"deep\n", "bin.dat": bytes(range(256)) * 4,
           "tool.sh": b"#!/bin/sh\necho hi\n", "sep\x1cname": b"x\x1ey\x85z\n"}
    for name, data in odd.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    os.symlink("ff.py", root / "link")
    return root


def _edit_odd_tree(mnt: Path) -> None:
    """Change each odd name, through the mount, as an editor or a build would."""
    (mnt / "ff.py").write_bytes(b"one\n\x0c\ntwo\x0cTHREE\nfour\n")
    (mnt / "cr.txt").write_bytes(b"a\rB\nc\n")
    (mnt / "   spaces  ").write_bytes(b"SPACES\n")
    (mnt / "new\nline").write_bytes(b"NL\n")
    (mnt / "caf\udce9.txt").write_bytes(b"LATIN\n")
    (mnt / LONG_DIR / "inner.txt").write_bytes(b"DEEP\n")
    (mnt / LONG_DIR / "added\x0cname").write_bytes(b"new under a long directory\n")
    (mnt / "bin.dat").write_bytes(bytes(range(255, -1, -1)) * 4)
    (mnt / "new.bin").write_bytes(b"\0\1\2" * 100)
    os.chmod(mnt / "tool.sh", 0o755)
    os.unlink(mnt / "link")
    os.symlink("cr.txt", mnt / "link")
    (mnt / "sep\x1cname").write_bytes(b"x\x1eY\x85z\n")
    with open(mnt / "citcfs" / "paths.py", "a") as f:
        f.write("# edited in the mount\n")
    os.unlink(mnt / "citcfs" / "errors.py")


def _apply(tool: list[str], patch: str, cwd: Path) -> None:
    done = subprocess.run(tool, input=patch.encode("utf-8", "surrogateescape"), cwd=cwd,
                          capture_output=True)
    assert done.returncode == 0, (tool, done.stdout, done.stderr)


@pytest.mark.mount
def test_odd_names_and_binaries_round_trip_through_patch_and_git_apply(
        local: tuple[Citc, Path], tmp_path: Path) -> None:
    citc, home = local
    tree = _odd_source_tree(tmp_path / "tree")
    mnt = tmp_path / "odd"
    with cleanup_mounts(mnt, fsck=citc):
        citc.ok("mount", "odd", str(mnt), "--base", str(tree))
        _edit_odd_tree(mnt)
        patch, binary = citc.many(("diff", "odd"), ("diff", "odd", "--binary"))
        status = citc.ok("status", "odd").splitlines()
        assert 'M "new\\nline"' in status and 'M "caf\\351.txt"' in status
        head = tmp_path / "head"
        citc.ok("export", "odd", str(head))
        wanted = snapshot_tree(head)
        assert snapshot_tree(mnt) == wanted
        citc.ok("unmount", str(mnt))

    # patch -p1 carries every text change, mode and symlink; binaries need --binary.
    plain = tmp_path / "plain"
    citc.ok("export", "odd@base", str(plain))
    _apply(["patch", "-p1", "--batch", "--quiet"], patch, plain)
    got = snapshot_tree(plain)
    binaries = {"bin.dat", "new.bin"}
    assert {k: v for k, v in got.items() if k not in binaries} == \
        {k: v for k, v in wanted.items() if k not in binaries}

    carried = tmp_path / "carried"
    citc.ok("export", "odd@base", str(carried))
    _apply(["git", "apply"], binary, carried)
    assert snapshot_tree(carried) == wanted

    assert citc.json("fsck")["ok"] is True
    citc.ok("gc", "--keep", "1")
    assert citc.json("fsck")["ok"] is True
    assert citc.ok("cat", "odd", f"{LONG_DIR}/inner.txt") == "DEEP\n"
