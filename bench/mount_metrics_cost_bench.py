"""What timing every FUSE operation costs a mount, measured in one run.

    python bench/run.py mount_metrics_cost [--quick]

Two mounts of one server: one as `citc mount` makes it, and one whose daemon runs
mfusepy's dispatch without the timing wrapper (`CitcFUSE._wrapper` replaced by
mfusepy's own, in the daemon process only), which is how every mount ran before
metrics. Rounds alternate between them, so a change in the machine's load hits
both alike:

- small_write_us_*: microseconds per `write()` of 64 bytes to an open file (two
  FUSE operations each: getxattr of security.capability, then write);
- touch_write_close_us_*: microseconds per open, one small write, close.

The `_on_vs_off` ratios are the cost (target: at most 5 % slower).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from client_bench import ATTR_TIMEOUT, _force_unmount, _wait_for, citc_server
from common import log, result, scratch_dir
from write_cost_bench import small_writes, touch_write_close

DAEMON = "import sys; from citcfs.client.mount import main; sys.exit(main())"
UNTIMED_DAEMON = ("import sys; from citcfs.client import fuse_lib; "
                  "fuse_lib.CitcFUSE._wrapper = fuse_lib.FUSE._wrapper; "
                  "from citcfs.client.mount import main; sys.exit(main())")
ROUNDS = (60, 30, 2)
"""Rounds (full, quick, smoke): many short ones, since the load of a shared machine
moves single figures by 2x; each mode's median and best are reported."""


@contextlib.contextmanager
def daemon_mount(code: str, address: str, workspace: str, mountpoint: str,
                 cache_dir: str) -> Iterator[str]:
    """A mount daemon started as `citc mount` starts one, running `code`: the
    daemon's main, with or without the timing wrapper."""
    os.makedirs(mountpoint, exist_ok=True)
    with open(mountpoint.rstrip("/") + ".log", "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-c", code, "--server", address, "--workspace",
             workspace, "--mountpoint", mountpoint, "--cache-dir", cache_dir,
             "--attr-timeout", str(ATTR_TIMEOUT)],
            stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL)
    try:
        _wait_for(lambda: os.path.ismount(mountpoint) or process.poll() is not None, 60,
                  "the mount")
        if process.poll() is not None:
            raise RuntimeError("the mount did not start; see its log")
        yield mountpoint
    finally:
        subprocess.run(["fusermount3", "-u", mountpoint], capture_output=True)
        _force_unmount(mountpoint)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    from citcfs.client.rpc import Client
    from citcfs.entries import Entry

    writes = 100 if smoke else 1_000
    touches = 20 if smoke else 100
    rounds = ROUNDS[2] if smoke else ROUNDS[1] if quick else ROUNDS[0]
    with scratch_dir("citcfs-bench-mount-metrics-") as work:
        os.makedirs(os.path.join(work, "server"))
        with citc_server(os.path.join(work, "server")) as address:
            with Client.connect(address) as client:
                client.import_base("base", entries=[("README", Entry.file(b"base\n"))])
                for name in ("on", "off"):
                    client.create_workspace(name, "base")
            with daemon_mount(DAEMON, address, "on", os.path.join(work, "on"),
                              os.path.join(work, "cache-on")) as on, \
                    daemon_mount(UNTIMED_DAEMON, address, "off", os.path.join(work, "off"),
                                 os.path.join(work, "cache-off")) as off:
                figures: dict[str, dict[str, list[float]]] = {
                    "small_write_us": {"on": [], "off": []},
                    "touch_write_close_us": {"on": [], "off": []}}
                for round_ in range(rounds):
                    order = ((on, "on"), (off, "off"))
                    for root, mode in order if round_ % 2 == 0 else reversed(order):
                        figures["small_write_us"][mode].append(small_writes(root, writes))
                        figures["touch_write_close_us"][mode].append(
                            touch_write_close(root, touches))
                        time.sleep(0.05)
    results: dict[str, dict[str, Any]] = {}
    for name, modes in figures.items():
        on_value, off_value = statistics.median(modes["on"]), statistics.median(modes["off"])
        on_best, off_best = min(modes["on"]), min(modes["off"])
        results[f"{name}_timed"] = result(on_value, "us", better="lower", rounds=rounds,
                                          best=round(on_best, 3))
        results[f"{name}_untimed"] = result(off_value, "us", better="lower", rounds=rounds,
                                            best=round(off_best, 3))
        results[f"{name}_timed_vs_untimed"] = result(
            on_value / off_value, "x", target=1.05, better="lower",
            cost_pct=round((on_value / off_value - 1) * 100, 2),
            best_cost_pct=round((on_best / off_best - 1) * 100, 2))
        log(f"{name}: median {on_value:.1f} us timed, {off_value:.1f} us untimed "
            f"({(on_value / off_value - 1) * 100:+.1f} %); best {on_best:.1f} vs "
            f"{off_best:.1f} ({(on_best / off_best - 1) * 100:+.1f} %)")
    return results
