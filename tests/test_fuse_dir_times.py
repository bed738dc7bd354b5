"""A directory's times under a burst of names: the 1 ms grain (DIR_TIMES_GRAIN_NS)
lets the mount skip rebuilding the directory's entry, never journaling its times."""

from __future__ import annotations

import os
import time

from citcfs.client.dir_times import DIR_TIMES_GRAIN_NS
from fuse_support import Mounted, mounted, shared_env, shared_server  # noqa: F401


def test_a_burst_of_names_keeps_directory_times_within_the_grain_and_on_the_server(
        mounted: Mounted) -> None:
    d = mounted.root / "burst"
    d.mkdir()
    made_ns = os.stat(d).st_mtime_ns
    time.sleep(0.01)
    for i in range(200):
        (d / f"f{i}").write_bytes(b"x")
    last_create = time.time_ns()
    shown = os.stat(d)
    # Moved by the burst, to within one grain of its last name.
    assert shown.st_mtime_ns > made_ns
    assert last_create - shown.st_mtime_ns < DIR_TIMES_GRAIN_NS + 50_000_000  # a loaded host
    assert shown.st_ctime_ns == shown.st_mtime_ns
    entry = mounted.server_entry("burst")
    assert (entry.mtime_ns, entry.st_ctime_ns) == (shown.st_mtime_ns, shown.st_ctime_ns)
    time.sleep(0.01)
    for i in range(200):
        os.unlink(d / f"f{i}")
    after = os.stat(d)
    assert after.st_mtime_ns > shown.st_mtime_ns
    assert mounted.server_entry("burst").mtime_ns == after.st_mtime_ns
    assert os.listdir(d) == []
