"""`citc mount` on a machine without FUSE: what it says is missing (pure, no mount)."""

from __future__ import annotations

from pathlib import Path


def test_a_machine_without_fuse_is_told_what_is_missing(tmp_path: Path) -> None:
    from citcfs.cmd.mount_cmd import fuse_problems
    none = fuse_problems(str(tmp_path / "no-fuse"), lambda _: None, lambda _: None, False)
    assert len(none) == 2
    assert "libfuse 3 is not installed" in none[0] and "apt install fuse3" in none[0]
    assert "no-fuse does not exist" in none[1]
    device = tmp_path / "fuse"
    device.touch()
    found = lambda name: f"lib{name}.so"  # noqa: E731
    assert fuse_problems(str(device), found, lambda _: None, True) == []
    assert "fusermount3" in fuse_problems(str(device), found, lambda _: None, False)[0]
