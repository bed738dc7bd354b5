"""The read-only history views of a mount: .citc/versions/<N>/ and .citc/snapshots/<label>/."""

from __future__ import annotations

import errno
import os
import stat

from fuse_support import Mounted, mounted, shared_env, shared_server  # noqa: F401
from test_fuse_posix import error_of


def test_versions_and_snapshots_show_the_workspace_as_it_was(mounted: Mounted) -> None:
    root, client, ws = mounted.root, mounted.client, mounted.workspace
    (root / "README").write_bytes(b"version two\n")
    os.mkdir(root / "added")
    (root / "added/file").write_bytes(b"new file\n")
    v_mid = mounted.version()
    client.label(ws, "middle")
    (root / "README").write_bytes(b"version three\n")
    os.unlink(root / "docs/guide.txt")
    os.rename(root / "src", root / "moved")

    assert (root / ".citc").is_dir()
    assert sorted(os.listdir(root / ".citc")) == ["snapshots", "stats", "status", "versions"]
    versions = os.listdir(root / ".citc/versions")
    assert str(v_mid) in versions and "0" in versions
    assert os.listdir(root / ".citc/snapshots") == ["middle"]

    first = root / ".citc/versions/0"
    assert sorted(os.listdir(first)) == ["README", "docs", "src"]
    assert (first / "README").read_bytes() == b"hello\n"
    assert (first / "src/lib/deep/leaf.txt").read_bytes() == b"leaf\n"

    middle = root / ".citc/snapshots/middle"
    for view in (middle, root / f".citc/versions/{v_mid}"):
        assert sorted(os.listdir(view)) == ["README", "added", "docs", "src"]
        assert (view / "README").read_bytes() == b"version two\n"
        assert (view / "added/file").read_bytes() == b"new file\n"
        assert (view / "docs/guide.txt").read_bytes() == b"read me\n"
        assert stat.S_IMODE(os.stat(view / "README").st_mode) & 0o222 == 0
    # the head is unchanged by looking at history
    assert (root / "README").read_bytes() == b"version three\n"
    assert sorted(os.listdir(root)) == ["README", "added", "docs", "moved"]
    assert error_of(os.stat, root / ".citc/versions/99999/README") == errno.ENOENT
    assert error_of(os.stat, root / ".citc/snapshots/nolabel") == errno.ENOENT

    # a label made after the mount started is found too
    client.label(ws, "latest")
    assert (root / ".citc/snapshots/latest/README").read_bytes() == b"version three\n"


def test_history_views_are_read_only(mounted: Mounted) -> None:
    root = mounted.root
    mounted.client.label(mounted.workspace, "snap")
    before = mounted.version()
    for view in (root / ".citc/versions/0", root / ".citc/snapshots/snap"):
        assert error_of(os.open, view / "README", os.O_WRONLY) == errno.EROFS
        assert error_of(os.open, view / "README", os.O_RDWR | os.O_TRUNC) == errno.EROFS
        assert error_of(os.open, view / "new", os.O_CREAT | os.O_WRONLY) == errno.EROFS
        assert error_of(os.mkdir, view / "dir") == errno.EROFS
        assert error_of(os.unlink, view / "README") == errno.EROFS
        assert error_of(os.rmdir, view / "src/lib/deep") == errno.EROFS
        assert error_of(os.rename, view / "README", view / "README2") == errno.EROFS
        assert error_of(os.rename, view / "README", root / "stolen") == errno.EROFS
        assert error_of(os.chmod, view / "README", 0o777) == errno.EROFS
        assert error_of(os.truncate, view / "README", 0) == errno.EROFS
        assert error_of(os.symlink, "x", view / "link") == errno.EROFS
        assert error_of(os.utime, view / "README", ns=(1, 1)) == errno.EROFS
        # (access(W_OK) is decided by the kernel under default_permissions, and root
        # passes it; the write itself is what fails)
        assert (view / "README").read_bytes() == b"hello\n"
    assert error_of(os.mkdir, root / ".citc/versions/77") == errno.EROFS
    assert error_of(os.rmdir, root / ".citc") in (errno.EROFS, errno.EBUSY, errno.ENOTEMPTY)
    assert mounted.version() == before, "nothing was committed"


def test_nothing_can_be_made_in_citc(mounted: Mounted) -> None:
    """Names that do not exist in `.citc` are read-only too (EROFS, not ENOENT).

    For a user other than root the kernel refuses first (EACCES: the views' modes
    have no write bits, and mounts use default_permissions).
    """
    root = mounted.root
    refused = errno.EROFS if os.geteuid() == 0 else errno.EACCES
    before = mounted.version()
    for where in (root / ".citc", root / ".citc/versions", root / ".citc/snapshots"):
        assert error_of(os.mkdir, where / "x") == refused
        assert error_of(os.open, where / "new", os.O_CREAT | os.O_WRONLY) == refused
        assert error_of(os.symlink, "target", where / "link") == refused
    assert error_of(os.rename, root / "README", root / ".citc/README") == refused
    assert error_of(os.open, root / ".citc/status", os.O_WRONLY) in (errno.EROFS, errno.EACCES)
    assert error_of(os.open, root / ".citc/stats", os.O_WRONLY) in (errno.EROFS, errno.EACCES)
    assert sorted(os.listdir(root / ".citc")) == ["snapshots", "stats", "status", "versions"]
    assert mounted.version() == before, "nothing was committed"


def test_citc_is_hidden_from_listings_and_diffs(mounted: Mounted) -> None:
    root, client, ws = mounted.root, mounted.client, mounted.workspace
    (root / "file").write_bytes(b"x")
    assert ".citc" not in os.listdir(root)
    walked = [dirpath for dirpath, _, _ in os.walk(root)]
    assert not any(".citc" in d for d in walked)
    assert error_of(os.mkdir, root / ".citc") == errno.EEXIST
    assert error_of(os.open, root / ".citc", os.O_CREAT | os.O_WRONLY) in (errno.EEXIST, errno.EISDIR)
    diff = list(client.diff(client.workspace_ref(ws, version=0), client.workspace_ref(ws)))
    changed = [entry.path.decode() if isinstance(entry.path, bytes) else entry.path for entry in diff]
    assert any(p == "file" for p in changed), changed
    assert not any(p.startswith(".citc") for p in changed), changed
    assert ".citc" not in [name for name, _ in client.listdir(ws, "")]
