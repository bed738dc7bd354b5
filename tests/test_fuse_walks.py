"""Kernel caches of a mount with the default options (an hour's timeouts, listings cached
by the kernel): what they may keep, and what the watch stream makes them drop.

Mounts are real, with the default options; the recognizer of libfuse's table of
operations and `paths_below` are also checked alone (client/dircache.py).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
from pathlib import Path

from citcfs.client.dircache import (
    OPENDIR_INDEX,
    SET_PREFIX,
    WRITE_INDEX,
    find_ops_table,
    paths_below,
)
from fuse_support import FuseEnv, Mounted, mounted, shared_env, shared_server, wait_for

from citcfs import wire


def _errno(path: Path) -> int | None:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno
    return None


def _status(root: Path) -> dict[str, object]:
    return json.loads((root / ".citc/status").read_bytes())  # type: ignore[no-any-return]


def test_listings_are_cached_by_the_kernel_and_dropped_for_others_changes(
        shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    a = shared_env.mount(ws).path
    b = shared_env.mount(ws).path
    assert _status(b)["kernel_listing_cache"] is True
    for _ in range(2):  # the second listing comes from the kernel's cache
        assert sorted(os.listdir(b / "src")) == ["lib", "main.c"]
        assert sorted(os.listdir(b / "src/lib")) == ["deep", "util.c"]
    (a / "src/new.c").write_bytes(b"new\n")
    wait_for(lambda: "new.c" in os.listdir(b / "src"), what="b's cached listing of src/")
    os.unlink(a / "src/lib/util.c")
    wait_for(lambda: os.listdir(b / "src/lib") == ["deep"], what="b to see a's unlink")
    # This mount's own changes go through the kernel, which drops its listing itself.
    os.mkdir(b / "src/lib/mine")
    assert sorted(os.listdir(b / "src/lib")) == ["deep", "mine"]


def test_what_the_kernel_holds_below_a_replaced_directory_goes_too(
        shared_env: FuseEnv) -> None:
    ws = shared_env.new_workspace()
    root = shared_env.mount(ws).path
    leaf = root / "src/lib/deep/leaf.txt"
    assert leaf.read_bytes() == b"leaf\n"
    assert sorted(os.listdir(root / "src/lib")) == ["deep", "util.c"]
    # Another client replaces the directory by an empty one. The change names src/lib
    # alone, and the kernel still had entries and attributes of the names below it
    # (a path walk through src/lib passes: the new directory exists).
    shared_env.client().commit(ws, [wire.remove_op("src/lib", recursive=True),
                                    wire.make_dir_op("src/lib")])
    wait_for(lambda: _errno(leaf) == errno.ENOENT, what="the file below the replaced directory")
    assert _errno(root / "src/lib/util.c") == errno.ENOENT
    assert os.listdir(root / "src/lib") == []


def test_history_listings_show_new_versions_and_labels(mounted: Mounted) -> None:
    root, client, ws = mounted.root, mounted.client, mounted.workspace
    before = set(os.listdir(root / ".citc/versions"))
    assert os.listdir(root / ".citc/snapshots") == []
    (root / "README").write_bytes(b"next\n")
    version = mounted.version()
    assert str(version) not in before
    assert str(version) in os.listdir(root / ".citc/versions")
    client.label(ws, "later")
    assert os.listdir(root / ".citc/snapshots") == ["later"]
    assert (root / ".citc/snapshots/later/README").read_bytes() == b"next\n"


def test_paths_below() -> None:
    known = ["", "a", "a/b", "a/b/c", "ab", "ab/x", "z/a/b"]
    assert paths_below(known, {"a"}) == ["a/b", "a/b/c"]
    assert paths_below(known, {"a/b", "z"}) == ["a/b/c", "z/a/b"]
    assert paths_below(known, {"ab/x"}) == []
    assert paths_below(known, {""}) == ["a", "a/b", "a/b/c", "ab", "ab/x", "z/a/b"]


def _session(words: list[int]) -> tuple[ctypes.Array[ctypes.c_uint64], int]:
    memory = (ctypes.c_uint64 * (len(words) + 200))(*words)
    return memory, ctypes.addressof(memory)


def test_the_table_of_operations_is_recognized_only_where_it_is_unmistakable() -> None:
    text = [(0x1000, 0x2000)]
    table = [0x1000 + 16 * i for i in range(SET_PREFIX + 10)]
    table[WRITE_INDEX] = 0
    head = [0x5000, 0xD00000000, 0, 0x6000, 0]  # as libfuse 3.14's session starts
    memory, address = _session(head + table)
    assert find_ops_table(address, text) == address + 8 * len(head)
    assert memory[len(head) + OPENDIR_INDEX] == table[OPENDIR_INDEX]

    with_write = list(table)
    with_write[WRITE_INDEX] = 0x1008  # not libfuse's high-level table
    assert find_ops_table(_session(head + with_write)[1], text) is None
    missing = list(table)
    missing[OPENDIR_INDEX] = 0
    assert find_ops_table(_session(head + missing)[1], text) is None
    twice = head + table + [0] + table
    assert find_ops_table(_session(twice)[1], text) is None
