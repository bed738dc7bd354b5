"""Redirected directories in real mounts, driven through the `citc` command line.

A real server, real mount daemons and the real `citc` command: what a build writes
under a redirected directory stays in the mount's cache directory, survives a
remount, and the server never has any of it.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from cli_support import Citc, private_env
from fuse_support import FuseEnv, shared_env, shared_server, wait_for  # noqa: F401 (fixtures)

from citcfs import errors, wire
from citcfs.client.journal import journal_key
from citcfs.entries import Entry

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse")


@pytest.fixture
def citc(shared_env: FuseEnv, tmp_path: Path) -> Citc:
    assert shared_env.server is not None
    return Citc(private_env(tmp_path / "home", tmp_path / "run",
                            CITC_SERVER=shared_env.server.address), tmp_path)


def _fails_with(code: int, call: object) -> None:
    with pytest.raises(OSError) as failure:
        call()  # type: ignore[operator]
    assert failure.value.errno == code, failure.value


def test_redirected_directory_stays_on_local_disk(shared_env: FuseEnv, citc: Citc,
                                                  tmp_path: Path) -> None:
    client = shared_env.client()
    ws = shared_env.new_workspace()
    cache = tmp_path / "cache-a"
    mount = shared_env.mount(ws, cache_dir=cache)
    root = mount.path
    # Added from inside the mount, by a path relative to the working directory; the
    # command returns once this mount serves it.
    assert "redirected: build/" in citc.ok("redirect", "add", "build", cwd=root)
    assert "build" in os.listdir(root) and (root / "build").is_dir()
    version = client.describe_workspace(ws).version

    build = root / "build"
    (build / "obj").mkdir()
    (build / "obj" / "a.o").write_bytes(b"\0object" * 1000)
    with open(build / "log.txt", "w") as f:
        f.write("line 1\n")
    with open(build / "log.txt", "a") as f:
        f.write("line 2\n")
    os.symlink("obj/a.o", build / "latest")
    os.rename(build / "obj" / "a.o", build / "obj" / "b.o")
    os.link(build / "obj" / "b.o", build / "hard.o")
    os.chmod(build / "log.txt", 0o600)
    os.utime(build / "log.txt", ns=(1_000_000_000, 2_000_000_000))
    os.truncate(build / "hard.o", 7)
    assert sorted(os.listdir(build)) == ["hard.o", "latest", "log.txt", "obj"]
    assert (build / "log.txt").read_text() == "line 1\nline 2\n"
    assert os.readlink(build / "latest") == "obj/a.o"
    assert (build / "obj" / "b.o").read_bytes() == b"\0object"
    st = os.stat(build / "log.txt")
    assert (st.st_mode & 0o777, st.st_mtime_ns) == (0o600, 2_000_000_000)
    os.setxattr(build / "log.txt", "user.k", b"v")  # xattrs pass through too
    assert (os.listxattr(build / "log.txt"), os.getxattr(build / "log.txt", "user.k")) \
        == (["user.k"], b"v")
    os.removexattr(build / "log.txt", "user.k")
    _fails_with(errno.ENODATA, lambda: os.getxattr(build / "log.txt", "user.k"))
    # Across the edge of the redirection a rename is EXDEV (mv then copies); the
    # redirected directory itself stays, like a mount point.
    _fails_with(errno.EXDEV, lambda: os.rename(build / "log.txt", root / "log.txt"))
    _fails_with(errno.EXDEV, lambda: os.rename(root / "README", build / "README"))
    _fails_with(errno.EBUSY, lambda: os.rmdir(build))
    _fails_with(errno.EBUSY, lambda: os.rename(build, root / "build2"))
    (build / "obj" / "gone").mkdir()
    os.rmdir(build / "obj" / "gone")
    os.unlink(build / "hard.o")

    # The server never saw any of it: no path, no version.
    mount.sync()
    for path in ("build", "build/obj", "build/log.txt"):
        with pytest.raises(errors.PathNotFound):
            client.lookup(ws, path)
    assert client.describe_workspace(ws).version == version
    local = cache / "redirections" / journal_key(shared_env.server.address, ws) / "build"
    assert (local / "log.txt").read_text() == "line 1\nline 2\n"

    # diff and status say what they leave out.
    (root / "README").write_text("changed\n")
    diff = citc("diff", cwd=root)
    assert diff.returncode == 0 and "build/" in diff.stderr and "build" not in diff.stdout
    assert "+changed" in diff.stdout
    listed = json.loads(citc.ok("redirect", "list", "--json", cwd=root))
    assert listed["redirections"] == ["build"] and listed["local_dir"] == str(local.parent)

    # What the server has under a redirected path (written by a tool, not a mount) is
    # hidden while the path is redirected.
    client.commit(ws, [wire.make_dir_op("build"),
                       wire.write_file_op("build/server.txt", Entry.file(b"from the server\n"))])
    wait_for(lambda: client.describe_workspace(ws).version == version + 2)
    mount.sync()
    assert not (build / "server.txt").exists()
    assert sorted(os.listdir(build)) == ["latest", "log.txt", "obj"]
    status = json.loads(citc.ok("status", "--json", cwd=root))
    assert status["redirected"] == ["build"]
    assert [c["path"] for c in status["changes"]] == ["README"]  # build/ is left out

    # Another mount (another machine: its own cache directory) has an empty one.
    other = shared_env.mount(ws)
    assert os.listdir(other.path / "build") == []
    (other.path / "build" / "mine").write_text("other machine\n")
    other.unmount()

    # A remount with the same cache directory finds everything again.
    mount.unmount()
    again = shared_env.mount(ws, cache_dir=cache)
    assert (again.path / "build" / "log.txt").read_text() == "line 1\nline 2\n"
    assert os.readlink(again.path / "build" / "latest") == "obj/a.o"
    assert not (again.path / "build" / "mine").exists()

    # Removed (outside the mount, with -w): the mount shows the server's build/ again.
    assert "no longer redirected: build/" in citc.ok("redirect", "remove", "-w", ws, "build")
    assert (again.path / "build" / "server.txt").read_text() == "from the server\n"
    assert (local / "log.txt").exists()  # kept locally, for a redirect add again


def test_redirect_command_errors(shared_env: FuseEnv, citc: Citc) -> None:
    ws = shared_env.new_workspace()
    mount = shared_env.mount(ws)
    root = mount.path
    assert "workspace root" in citc.fails(1, "redirect", "add", ".", cwd=root)
    assert ".citc" in citc.fails(1, "redirect", "add", ".citc", cwd=root)
    assert "remove or move them first" in citc.fails(1, "redirect", "add", "src", cwd=root)
    assert "is a file" in citc.fails(1, "redirect", "add", "README", cwd=root)
    (root / "out").mkdir()
    (root / "out" / "x").write_text("journaled, then checked\n")
    assert "remove or move them first" in citc.fails(1, "redirect", "add", "out", cwd=root)
    citc.ok("redirect", "add", "target", cwd=root / "src")  # relative to the cwd
    assert "inside the redirection 'src/target'" in citc.fails(
        1, "redirect", "add", "src/target/debug", cwd=root)
    assert "already redirected" in citc.fails(1, "redirect", "add", "target", cwd=root / "src")
    assert "not redirected" in citc.fails(1, "redirect", "remove", "nope", cwd=root)
    assert "does not exist" in citc.fails(1, "redirect", "add", "-w", "no-such-ws", "build")
    assert "-w" in citc.fails(2, "redirect", "add", "build")  # not in a mount
    assert "src/target/" in citc.ok("redirect", "list", ws)
    assert (root / "src" / "target").is_dir()
