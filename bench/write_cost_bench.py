"""What a write costs on a mount: many small writes to one file, and file creation.

    python bench/run.py write_cost [--quick]

Once a filesystem implements `getxattr`, the kernel asks it for
`security.capability` before every `write()` (to drop file capabilities), one more
FUSE round trip per write; a mount that leaves the xattr calls unimplemented is
asked once, answers ENOSYS, and is never asked again. These figures compare the
two: run this suite on a checkout without xattrs and on one with them.

- small_write_us: microseconds per `write()` of 64 bytes, 20,000 (quick: 5,000)
  writes to one open file (the file is closed, so flushed, once);
- create_files_per_s: files of 4 KiB created and closed one after another
  (the client suite's create_files);
- touch_write_close_us: microseconds per open, one small write, close of an
  existing file.
"""

from __future__ import annotations

import os
import time
from typing import Any

from client_bench import citc_mount, citc_server, create_files
from common import log, median_of, result, scratch_dir


def small_writes(root: str, count: int) -> float:
    """Microseconds per 64-byte write() to one open file."""
    path = os.path.join(root, f"small-{time.monotonic_ns()}")
    data = b"w" * 64
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        start = time.perf_counter()
        for _ in range(count):
            os.write(fd, data)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    return elapsed / count * 1e6


def touch_write_close(root: str, count: int) -> float:
    """Microseconds per open, one small write and close of one existing file."""
    path = os.path.join(root, f"touch-{time.monotonic_ns()}")
    with open(path, "wb"):
        pass
    start = time.perf_counter()
    for i in range(count):
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"%d" % i)
        os.close(fd)
    return (time.perf_counter() - start) / count * 1e6


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    writes = 200 if smoke else 5_000 if quick else 20_000
    creates = 50 if smoke else 1_000 if quick else 3_000
    touches = 50 if smoke else 500 if quick else 2_000
    with scratch_dir("write-cost") as work:
        os.makedirs(os.path.join(work, "server"))
        return _measure(work, writes, creates, touches, runs)


def _measure(work: str, writes: int, creates: int, touches: int,
             runs: int) -> dict[str, dict[str, Any]]:
    from citcfs.client.importer import import_directory
    from citcfs.client.rpc import Client

    with citc_server(os.path.join(work, "server")) as address:
        base_dir = os.path.join(work, "base")
        os.makedirs(base_dir)
        with open(os.path.join(base_dir, "README"), "wb") as handle:
            handle.write(b"base\n")
        with Client.connect(address) as client:
            import_directory(client, "base", base_dir)
            client.create_workspace("bench", "base")
        with citc_mount(address, "bench", os.path.join(work, "mnt"),
                        os.path.join(work, "cache")) as root:
            log(f"small writes: {writes} x 64 B")
            small, small_all = median_of(runs, lambda _: small_writes(root, writes))
            log(f"create_files: {creates}")
            rate, rate_all = median_of(runs, lambda _: create_files(root, creates))
            log(f"open/write/close: {touches}")
            touch, touch_all = median_of(runs, lambda _: touch_write_close(root, touches))
    # The best run as well: on a shared machine the median moves with the load.
    return {"small_write_us": result(small, "us", best=round(min(small_all), 3)),
            "create_files_per_s": result(rate, "files/s", best=round(max(rate_all), 1)),
            "touch_write_close_us": result(touch, "us", best=round(min(touch_all), 3))}
