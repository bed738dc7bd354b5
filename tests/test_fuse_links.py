"""Hard links on a real mount, against tmpfs, and what the server keeps of them.

The POSIX sequence runs in a directory of the mount and in a native tmpfs directory
and must answer alike (results, errno, the stat fields that must agree). Then the
links go through a remount, the `.citc` views, a snapshot, a fork, GC, submit,
`citc diff` and `citc export`, and a second mount of the workspace.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

from citcfs.cmd import files_cmd
from fuse_support import (SMALL_TREE, FuseEnv, Mounted, fuse_env,  # noqa: F401
                          mounted, shared_env, shared_server, wait_for)
from test_fuse_native import both, citc, native, outcome  # noqa: F401


FIRST = b"first\n" * 2000  # in chunks, not inline


def _same_file(*names: Path) -> tuple[Any, ...]:
    """What every name of one file must agree on: inode, count, mode, owner, size,
    times; and the count."""
    stats = [os.lstat(name) for name in names]
    fields = {(s.st_ino, s.st_nlink, s.st_mode, s.st_uid, s.st_gid, s.st_size, s.st_mtime_ns,
               s.st_ctime_ns) for s in stats}
    return len(fields), stats[0].st_nlink


def link_sequence(d: Path) -> list[Any]:
    out: list[Any] = []
    (d / "a").write_bytes(b"one")
    os.chmod(d / "a", 0o640)
    before = os.stat(d / "a")
    time.sleep(0.01)
    os.link(d / "a", d / "b")
    after = os.stat(d / "a")
    out.append(_same_file(d / "a", d / "b"))
    out.append((after.st_ctime_ns > before.st_ctime_ns, after.st_mtime_ns == before.st_mtime_ns,
                os.stat(d / "b").st_ino != os.stat(d).st_ino))
    assert (d / "a").read_bytes() == b"one"  # in the kernel's page cache now
    with open(d / "b", "ab") as f:  # a write through one name is seen through the other
        f.write(b" two")
    out.append(((d / "a").read_bytes(), _same_file(d / "a", d / "b")))
    with open(d / "a", "r+b") as f:  # the same length: only the mtime tells
        f.write(b"ONE")
    out.append(((d / "b").read_bytes(), _same_file(d / "a", d / "b")))
    os.chmod(d / "a", 0o600)
    os.utime(d / "b", ns=(10**18, 2 * 10**18))
    out.append((stat.S_IMODE(os.stat(d / "b").st_mode), os.stat(d / "a").st_mtime_ns,
                _same_file(d / "a", d / "b")))
    os.mkdir(d / "sub")
    os.link(d / "b", d / "sub/c")
    out.append(_same_file(d / "a", d / "b", d / "sub/c"))
    os.rename(d / "sub/c", d / "sub/d")  # rename keeps the link
    out.append((_same_file(d / "a", d / "b", d / "sub/d"), os.path.exists(d / "sub/c")))
    os.rename(d / "a", d / "sub/d")  # two names of one file: rename does nothing
    out.append((os.path.exists(d / "a"), _same_file(d / "a", d / "sub/d")))
    ctime = os.stat(d / "a").st_ctime_ns
    time.sleep(0.01)
    os.unlink(d / "b")  # the other names stay; their count and ctime move
    out.append((os.path.exists(d / "b"), (d / "a").read_bytes(),
                _same_file(d / "a", d / "sub/d"), os.stat(d / "a").st_ctime_ns > ctime))
    (d / "new").write_bytes(b"replacement")
    os.rename(d / "new", d / "sub/d")  # replacing a name unlinks it
    out.append((_same_file(d / "a"), (d / "sub/d").read_bytes(), os.stat(d / "sub/d").st_nlink))
    os.symlink("a", d / "sym")
    os.link(d / "sym", d / "sym2", follow_symlinks=False)
    os.mkfifo(d / "fifo")
    os.link(d / "fifo", d / "fifo2")
    out.append((_same_file(d / "sym", d / "sym2"), os.readlink(d / "sym2"),
                _same_file(d / "fifo", d / "fifo2"),
                stat.S_ISFIFO(os.lstat(d / "fifo2").st_mode)))
    out.append([outcome(lambda: os.link(d / "sub", d / "sub2")),        # a directory: EPERM
                outcome(lambda: os.link(d / "a", d / "sub/d")),         # exists: EEXIST
                outcome(lambda: os.link(d / "missing", d / "x")),       # ENOENT
                outcome(lambda: os.link(d / "a", d / "nowhere/x")),     # ENOENT
                outcome(lambda: os.link(d / "a", d / "a"))])            # EEXIST
    out.append(sorted(os.listdir(d)))
    inodes = {e.name: e.inode() for e in os.scandir(d)}
    out.append(all(inodes[name] == os.lstat(d / name).st_ino for name in inodes))
    os.unlink(d / "a")
    out.append(sorted(os.listdir(d)))
    return out


def test_links_match_tmpfs(mounted: Mounted, native: Path) -> None:
    both(mounted, native, link_sequence)
    mounted.mount.sync()
    entry = mounted.server_entry("t/sym2")
    assert entry.link is not None and entry.nlink == 2
    assert mounted.server_entry("t/sym").link == entry.link
    # the server keeps the times the mount showed (ctime of link and unlink included)
    for name in ("sym", "fifo2", "sub/d"):
        kept, shown = mounted.server_entry("t/" + name), os.lstat(mounted.root / "t" / name)
        assert (kept.st_ctime_ns, kept.mtime_ns, kept.nlink) == \
            (shown.st_ctime_ns, shown.st_mtime_ns, shown.st_nlink), name


def test_links_survive_remount_views_snapshot_fork_gc_and_export(
        mounted: Mounted, tmp_path: Path) -> None:
    root = mounted.root
    (root / "a").write_bytes(b"stale" * 3000)
    os.link(root / "a", root / "b")
    (root / "b").write_bytes(FIRST)  # new chunks, reached through the link record
    (root / "other").write_bytes(b"garbage soon" * 1000)
    mounted.mount.sync()  # a version of its own, which retention then drops
    (root / "other").write_bytes(b"kept")
    os.link(root / "README", root / "src/readme-too")  # a base file gets a second name
    with open(root / "src/readme-too", "ab") as f:
        f.write(b"more\n")
    mounted.mount.sync()
    names = ("a", "b")
    version = mounted.version()
    assert citc(mounted, "snapshot", mounted.workspace, "s1").returncode == 0
    remount = mounted.env.mount(mounted.workspace)
    views = [remount.path, remount.path / ".citc/versions" / str(version),
             remount.path / ".citc/snapshots/s1"]
    for view in views:
        assert _same_file(*(view / n for n in names)) == (1, 2), view
        assert (view / "b").read_bytes() == FIRST
        assert _same_file(view / "README", view / "src/readme-too") == (1, 2), view
        assert (view / "README").read_bytes() == (root / "src/readme-too").read_bytes()
    # linking across the views, or from one into the head, crosses file systems
    assert outcome(lambda: os.link(views[1] / "a", remount.path / "c")) == ("errno", "EXDEV")
    assert outcome(lambda: os.link(remount.path / "a", views[1] / "c")) == ("errno", "EXDEV")

    client = mounted.client
    client.fork_workspace(mounted.workspace, mounted.workspace + "-fork")
    fork = mounted.env.mount(mounted.workspace + "-fork")
    assert _same_file(fork.path / "a", fork.path / "b") == (1, 2)
    with open(fork.path / "b", "wb") as f:
        f.write(b"fork's own")
    assert (fork.path / "a").read_bytes() == b"fork's own"
    assert (remount.path / "a").read_bytes() == FIRST  # workspaces do not share files
    assert outcome(lambda: os.link(fork.path / "a", remount.path / "x")) == ("errno", "EXDEV")
    fork.sync()

    # retention keeps one version; GC keeps what the head needs
    client.set_retention(mounted.workspace, 1)
    collected = client.gc()
    assert collected.versions_pruned > 0 and collected.objects_freed > 0  # other's chunk
    again = mounted.env.mount(mounted.workspace)
    assert (again.path / "a").read_bytes() == FIRST
    assert _same_file(again.path / "a", again.path / "b") == (1, 2)

    out = tmp_path / "export"
    done = files_cmd.export_tree(client, client.freeze(mounted.workspace), str(out), "head")
    assert done.links == 2
    assert os.stat(out / "a").st_ino == os.stat(out / "b").st_ino
    assert os.stat(out / "a").st_nlink == 2
    assert os.stat(out / "README").st_ino == os.stat(out / "src/readme-too").st_ino

    names_diff = citc(mounted, "diff", mounted.workspace, "--name-status")
    assert names_diff.returncode == 0, names_diff.stderr
    assert set(names_diff.stdout.splitlines()) == {"A\ta", "A\tb", "M\tREADME", "A\tother",
                                                   "A\tsrc/readme-too"}
    patch = citc(mounted, "diff", mounted.workspace)
    assert patch.returncode == 0, patch.stderr
    assert "+++ b/b\n" in patch.stdout and "+++ b/a\n" in patch.stdout  # each name a file
    assert "not in the patch: hard link b (one of 2 names of a file; patched in as a copy)" \
        in patch.stderr


def test_submit_keeps_links_in_the_base(mounted: Mounted) -> None:
    root = mounted.root
    (root / "x").write_bytes(b"x1")
    os.link(root / "x", root / "y")
    mounted.mount.sync()
    client = mounted.client
    client.submit(mounted.workspace)
    fresh = mounted.env.new_workspace()
    other = mounted.env.mount(fresh)
    assert _same_file(other.path / "x", other.path / "y") == (1, 2)
    with open(other.path / "y", "ab") as f:
        f.write(b"+")
    assert (other.path / "x").read_bytes() == b"x1+"
    other.sync()
    assert client.lookup(fresh, "x").inline == b"x1+"


def test_a_write_reaches_every_name_on_another_mount(mounted: Mounted) -> None:
    root = mounted.root
    (root / "a").write_bytes(b"v1")
    os.link(root / "a", root / "b")
    mounted.mount.sync()
    second = mounted.env.mount(mounted.workspace)
    assert (second.path / "b").read_bytes() == b"v1"
    assert os.stat(second.path / "b").st_nlink == 2
    with open(root / "a", "wb") as f:
        f.write(b"version two")
    mounted.mount.sync()
    wait_for(lambda: (second.path / "b").read_bytes() == b"version two")
    os.link(root / "a", root / "c")
    mounted.mount.sync()
    wait_for(lambda: os.stat(second.path / "b").st_nlink == 3)
    os.unlink(second.path / "c")
    second.sync()
    wait_for(lambda: os.stat(root / "a").st_nlink == 2)


def open_name_sequence(d: Path) -> list[Any]:
    """A file open for writing keeps its data when the name it was opened by goes,
    as long as it has another name."""
    (d / "a").write_bytes(b"")
    fd = os.open(d / "a", os.O_WRONLY)
    try:
        os.write(fd, b"before ")
        os.link(d / "a", d / "b")
        os.unlink(d / "a")
        os.write(fd, b"after")
    finally:
        os.close(fd)
    return [(d / "b").read_bytes(), os.stat(d / "b").st_nlink, os.path.exists(d / "a")]


def test_an_open_file_outlives_one_of_its_names(mounted: Mounted, native: Path) -> None:
    assert both(mounted, native, open_name_sequence) == [b"before after", 1, False]
    mounted.mount.sync()
    assert mounted.server_file("t/b") == b"before after"


def test_links_made_offline_survive_kill9_of_the_mount(fuse_env: FuseEnv) -> None:
    fuse_env.import_tree(SMALL_TREE)
    fuse_env.client().create_workspace("ws", "main")
    mount = fuse_env.mount("ws")
    root = mount.path
    (root / "a").write_bytes(b"a1")
    mount.sync()
    os.listdir(root)
    assert fuse_env.server is not None
    fuse_env.server.stop()
    try:  # journaled only: the server is down
        os.link(root / "a", root / "b")
        os.link(root / "b", root / "c")
        (root / "c").write_bytes(b"through c")
        os.unlink(root / "a")
        assert _same_file(root / "b", root / "c") == (1, 2)
        mount.kill9()
    finally:
        fuse_env.server.start()
    again = fuse_env.mount("ws", cache_dir=mount.cache_dir)  # replays the journal
    assert _same_file(again.path / "b", again.path / "c") == (1, 2)
    assert (again.path / "b").read_bytes() == b"through c"
    assert not (again.path / "a").exists()
