"""The S3 object store on a real SeaweedFS on loopback: cold reads, GET and HEAD latency.

    python bench/run.py s3 [--quick] --json OUT

Results:
- `cold_read_mb_s`: MiB/s reading N MiB of 1 MiB chunks through `S3ObjectStore.get`
  (ids verified) with its read cache off, one reader, as a file is read; and
  `cold_read_mb_s_8_readers` with eight readers at once (as the server serves
  several clients).
- `get_small_p50_ms`/`_p99_ms`: latency of one cold GET of a 4 KiB object (a tree).
- `head_p50_ms`: one HasObjects probe (HEAD) of a present object.
- `put_mb_s`: uploads of 1 MiB chunks through `put_many` (16 in parallel).
- `lmdb_get_small_us`: the same 4 KiB read from the LMDB object store, for scale.

`cold_read_mb_s(url, mib)` is also what other suites call for the figure.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import log, median_of, result, scratch_dir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests"))
from seaweed_support import running_seaweedfs  # noqa: E402 - the tests' SeaweedFS launcher

from citcfs.objects import CHUNK_SIZE, ObjectId, ObjectKind  # noqa: E402
from citcfs.storage.lmdb_backend import LmdbObjectStore  # noqa: E402
from citcfs.storage.s3_backend import S3ObjectStore  # noqa: E402


def upload_chunks(url: str, mib: int) -> list[ObjectId]:
    """Put `mib` random 1 MiB chunks into the store at `url`; their ids."""
    store = S3ObjectStore.from_url(url)
    try:
        ids: list[ObjectId] = []
        for start in range(0, mib, 16):
            batch = [(ObjectKind.CHUNK, os.urandom(CHUNK_SIZE), None)
                     for _ in range(min(16, mib - start))]
            ids += store.put_many(batch)  # type: ignore[arg-type]
        return ids
    finally:
        store.close()


def read_all(url: str, ids: list[ObjectId], readers: int = 1) -> float:
    """Seconds to read every object of `ids` cold (a fresh store, no read cache)."""
    store = S3ObjectStore.from_url(url + ("&" if "?" in url else "?") + "cache_mb=0")
    try:
        start = time.perf_counter()
        if readers == 1:
            for oid in ids:
                store.get(oid, ObjectKind.CHUNK)
        else:
            with ThreadPoolExecutor(readers) as pool:
                list(pool.map(lambda oid: store.get(oid, ObjectKind.CHUNK), ids))
        return time.perf_counter() - start
    finally:
        store.close()


def cold_read_mb_s(url: str, mib: int, readers: int = 1,
                   ids: list[ObjectId] | None = None) -> float:
    """MiB/s reading `mib` MiB of chunks cold from the S3 store at `url` (uploaded
    first unless `ids` names them), every object verified against its id."""
    ids = ids if ids is not None else upload_chunks(url, mib)
    return len(ids) / read_all(url, ids, readers)


def latencies_ms(fn: Any, items: list[Any]) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1000)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    mib = 8 if smoke else 64 if quick else 256
    small = 20 if smoke else 300 if quick else 1000
    results: dict[str, dict[str, Any]] = {}
    with scratch_dir("citc-s3-bench-") as scratch, \
            running_seaweedfs(Path(scratch) / "seaweedfs") as weed:
        url = weed.new_store_url()
        log(f"uploading {mib} MiB to SeaweedFS at {weed.endpoint}")
        start = time.perf_counter()
        ids = upload_chunks(url, mib)
        put_s = time.perf_counter() - start
        results["put_mb_s"] = result(mib / put_s, "MiB/s", mib=mib, parallel=16)

        log("cold reads")
        one, one_runs = median_of(runs, lambda _: cold_read_mb_s(url, mib, 1, ids))
        results["cold_read_mb_s"] = result(one, "MiB/s", mib=mib, readers=1, runs=one_runs)
        eight, eight_runs = median_of(runs, lambda _: cold_read_mb_s(url, mib, 8, ids))
        results["cold_read_mb_s_8_readers"] = result(eight, "MiB/s", mib=mib, readers=8,
                                                     runs=eight_runs)

        log("small GET and HEAD latency")
        store = S3ObjectStore.from_url(url + "&cache_mb=0")
        lmdb = LmdbObjectStore(os.path.join(scratch, "lmdb"), sync=False)
        try:
            items = [(ObjectKind.TREE, os.urandom(4096), None) for _ in range(small)]
            tree_ids = store.put_many(items)  # type: ignore[arg-type]
            lmdb.put_many(items)  # type: ignore[arg-type]
            gets = latencies_ms(lambda oid: store.get(oid, ObjectKind.TREE), tree_ids)
            heads = latencies_ms(lambda oid: store.has([oid]), tree_ids)
            local = latencies_ms(lambda oid: lmdb.get(oid, ObjectKind.TREE), tree_ids)
        finally:
            store.close()
            lmdb.close()
        results["get_small_p50_ms"] = result(statistics.median(gets), "ms", samples=len(gets),
                                             size=4096)
        results["get_small_p99_ms"] = result(percentile(gets, 0.99), "ms", samples=len(gets))
        results["head_p50_ms"] = result(statistics.median(heads), "ms", samples=len(heads))
        results["lmdb_get_small_us"] = result(statistics.median(local) * 1000, "us",
                                              samples=len(local))
    return results
