"""A mount's own metrics: caches, fetches, FUSE operations, journal, invalidations.

Each mount has a `MountMetrics` with a `prometheus_client.CollectorRegistry` of its
own (two mounts in one process never mix their figures). It is read three ways:
`.citc/stats` in the mount (JSON, `snapshot`), `citc stats` (a table of that file),
and a Prometheus scrape of `citc mount --metrics ADDR:PORT` (`serve`).

The FUSE path is hot, so what it records costs little:
- every FUSE operation is timed once, around mfusepy's dispatch
  (`client.fuse_lib.CitcFUSE._wrapper`), into a histogram of our own (`OpTimes`):
  two clock reads, a bisect and three list updates, with no lock;
- the metadata caches count lookups and misses as plain integers under the lock
  they already hold (`client.metadata.HeadMetadata`), read only when scraped
  (`CacheCollector`): hits are lookups minus misses;
- the journal's depth is read from the flusher when scraped.
Chunk reads, fetches, flushes and invalidations are rare next to FUSE calls and
use ordinary counters and histograms.

Cache layers: `memory` (the head's entries and listings; the chunk LRU), `local`
(the on-disk object cache, chunks only) and `server` (a hit there is an answer
fetched from the server, by a reader or by read-ahead). A chunk that read-ahead
is still fetching when it is read counts as a memory miss and a server hit (the
local layer is not asked).
"""

from __future__ import annotations

import bisect
import ipaddress
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from citcfs.errors import InvalidArgument

LATENCY_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                   0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
"""From 10 µs (a getattr answered from memory) to seconds (a fetch, a barrier)."""
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                 10.0, 30.0, 120.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000)

FUSE_SUFFIXES = ("_fuse_3", "_fuse_2")
FUSE_NAMES = {"fgetattr": "getattr", "ftruncate": "truncate"}
"""mfusepy's dispatch method -> the operation a user knows."""


class HeadCounts(Protocol):
    """What `client.metadata.HeadMetadata` counts (plain integers under its lock)."""

    entry_lookups: int
    entry_misses: int
    listing_lookups: int
    listing_misses: int


class CacheCollector(Collector):
    """Hits and misses of every cache layer: the metadata caches' integers, read when
    scraped, and the chunk reader's counts."""

    def __init__(self) -> None:
        self.head: HeadCounts | None = None
        self._chunks: dict[tuple[str, bool], int] = {}
        self._lock = threading.Lock()

    def chunk(self, layer: str, hit: bool) -> None:
        """A chunk read was (`hit`) or was not answered by `layer`."""
        with self._lock:
            key = (layer, hit)
            self._chunks[key] = self._chunks.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        hits = CounterMetricFamily("citcfs_mount_cache_hits", "Lookups answered by a "
                                   "cache layer, by layer and kind.", labels=["layer", "kind"])
        misses = CounterMetricFamily("citcfs_mount_cache_misses", "Lookups a cache layer "
                                     "could not answer, by layer and kind.",
                                     labels=["layer", "kind"])
        head = self.head
        if head is not None:
            for kind in ("entry", "listing"):
                lookups = getattr(head, f"{kind}_lookups")
                missed = getattr(head, f"{kind}_misses")
                hits.add_metric(["memory", kind], lookups - missed)
                misses.add_metric(["memory", kind], missed)
        with self._lock:
            chunks = dict(self._chunks)
        for layer in ("memory", "local", "server"):
            hits.add_metric([layer, "chunk"], chunks.get((layer, True), 0))
            if layer != "server":  # the server has every chunk a mount asks for
                misses.add_metric([layer, "chunk"], chunks.get((layer, False), 0))
        yield hits
        yield misses


class OpTimes(Collector):
    """FUSE operations' latency histograms and error counts, cheap to record.

    prometheus_client's Histogram takes a lock for each bucket and for the sum, and
    walks its bounds in Python: about a microsecond a call, which a FUSE operation
    of some 50 µs feels. Here each thread serving FUSE requests has slots of its
    own (by `threading.get_ident`: libfuse's threads are not Python's, and each
    callback gets a fresh Python thread state, so `threading.local` would not
    last), one slot per operation holding the bucket counts, the sum and the
    errors. Only that thread writes them, so `record` needs no lock: a C bisect and
    three list updates. A scrape adds the threads' slots up, makes the buckets
    cumulative, and turns mfusepy's method names into operations (`getattr_fuse_3`
    and `fgetattr` are both getattr); it may see one operation half recorded.
    """

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self._bounds = bounds
        self._width = len(bounds) + 3  # counts per bucket (+Inf last), sum, errors
        self._threads: dict[int, dict[str, list[float]]] = {}
        self._lock = threading.Lock()

    def record(self, name: str, seconds: float, failed: bool) -> None:
        """mfusepy's method `name` answered in `seconds` (with an error if `failed`)."""
        slots = self._threads.get(threading.get_ident())
        if slots is None:
            with self._lock:
                slots = self._threads.setdefault(threading.get_ident(), {})
        slot = slots.get(name)
        if slot is None:
            slot = slots[name] = [0.0] * self._width
        slot[bisect.bisect_left(self._bounds, seconds)] += 1  # the first bound >= seconds
        slot[-2] += seconds
        if failed:
            slot[-1] += 1

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            threads = list(self._threads.values())
        merged: dict[str, list[float]] = {}
        for slots in threads:
            for name, slot in dict(slots).items():  # copied at once: its thread may add
                into = merged.setdefault(_op_name(name), [0.0] * self._width)
                for i, count in enumerate(list(slot)):
                    into[i] += count
        times = HistogramMetricFamily("citcfs_mount_fuse_op_duration_seconds", "Time the "
                                      "mount took to answer a FUSE operation, by operation.",
                                      labels=["op"])
        errors = CounterMetricFamily("citcfs_mount_fuse_errors", "FUSE operations answered "
                                     "with an error, by operation.", labels=["op"])
        bounds = [repr(float(b)) for b in self._bounds] + ["+Inf"]
        for op, slot in sorted(merged.items()):
            counts, total, failed = slot[:-2], slot[-2], slot[-1]
            cumulative, running = [], 0.0
            for bound, count in zip(bounds, counts):
                running += count
                cumulative.append((bound, running))
            times.add_metric([op], cumulative, sum_value=total)
            errors.add_metric([op], failed)
        yield times
        yield errors


class MountMetrics:
    """Every metric of one mount, in a registry of its own (see the module doc)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.address = ""
        """Where `serve` answers scrapes (HOST:PORT), or "" when it does not."""
        registry = self.registry
        self.caches = CacheCollector()
        registry.register(self.caches)
        self.fetched_bytes = Counter("citcfs_mount_fetched_bytes_total", "Bytes of file "
                                     "content fetched from the server.", registry=registry)
        self.fuse_ops = OpTimes()
        registry.register(self.fuse_ops)
        self.fuse_op = self.fuse_ops.record
        """fuse_op(mfusepy method name, seconds, failed): one FUSE operation answered."""
        self.journal_ops = Gauge("citcfs_mount_journal_ops", "Journaled changes the server "
                                 "has not applied yet.", registry=registry)
        self.journal_bytes = Gauge("citcfs_mount_journal_bytes", "Bytes of journaled changes "
                                   "and their new chunks not yet on the server.",
                                   registry=registry)
        self.flush_seconds = Histogram("citcfs_mount_flush_duration_seconds", "Time from "
                                       "sending a journal batch to the server's answer.",
                                       buckets=FLUSH_BUCKETS, registry=registry)
        self.flush_lag_seconds = Histogram("citcfs_mount_flush_lag_seconds", "Age of a "
                                           "batch's oldest change when the server applied it.",
                                           buckets=FLUSH_BUCKETS, registry=registry)
        self.flush_ops = Histogram("citcfs_mount_flush_batch_ops", "Journaled changes per "
                                   "batch sent.", buckets=BATCH_BUCKETS, registry=registry)
        self.watch_events = Counter("citcfs_mount_watch_events_total", "New versions the "
                                    "server announced on the watch stream.", registry=registry)
        self.invalidations = Counter("citcfs_mount_invalidations_total", "Catch-ups that "
                                     "dropped what others changed from the caches.",
                                     registry=registry)
        self.invalidated_paths = Counter("citcfs_mount_invalidated_paths_total", "Paths "
                                         "dropped from the caches because others changed "
                                         "them.", registry=registry)
        self.full_invalidations = Counter("citcfs_mount_full_invalidations_total", "Catch-ups "
                                          "that dropped every cache (the log no longer held "
                                          "the range).", registry=registry)

    # --- wiring -----------------------------------------------------------------------

    def watch_head(self, head: HeadCounts) -> None:
        """Report the hits and misses `head` counts."""
        self.caches.head = head

    def watch_journal(self, ops: Callable[[], float], nbytes: Callable[[], float]) -> None:
        """Read the journal's depth from these when scraped."""
        self.journal_ops.set_function(ops)
        self.journal_bytes.set_function(nbytes)

    # --- recording ----------------------------------------------------------------------

    def chunk(self, layer: str, hit: bool) -> None:
        """A chunk read was (`hit`) or was not answered by `layer`."""
        self.caches.chunk(layer, hit)

    def fetched(self, nbytes: int) -> None:
        """A chunk of `nbytes` came from the server (`server` layer hit)."""
        self.caches.chunk("server", True)
        self.fetched_bytes.inc(nbytes)

    def flushed(self, ops: int, sent: float, oldest: float) -> None:
        """A batch of `ops` changes, sent at `sent` with its oldest change journaled at
        `oldest` (time.monotonic), was applied now."""
        now = time.monotonic()
        self.flush_ops.observe(ops)
        self.flush_seconds.observe(now - sent)
        self.flush_lag_seconds.observe(now - oldest)

    # --- reading ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Every metric as JSON-ready data: what `.citc/stats` holds."""
        families = []
        for family in self.registry.collect():
            samples = [{"name": s.name, "labels": dict(s.labels), "value": s.value}
                       for s in family.samples if not s.name.endswith("_created")]
            families.append({"name": family.name, "type": family.type,
                             "help": family.documentation, "samples": samples})
        return {"address": self.address, "metrics": families}


def _op_name(name: str) -> str:
    for suffix in FUSE_SUFFIXES:
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return FUSE_NAMES.get(name, name)


# --- serving scrapes -----------------------------------------------------------------------


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT, [V6]:PORT, :PORT or PORT (loopback when no host); InvalidArgument
    for anything else."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidArgument(f"metrics address {text!r} is not HOST:PORT (e.g. "
                              f"127.0.0.1:9567, or :0 for any free port)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(metrics: MountMetrics, address: str) -> Callable[[], None]:
    """Answer Prometheus scrapes of `metrics` on `address` (HOST:PORT) from a thread;
    returns the function that stops it. InvalidArgument for a bad address, OSError
    when it cannot be bound."""
    from prometheus_client import start_http_server

    host, port = parse_address(address)
    server, thread = start_http_server(port, host, registry=metrics.registry)
    bound = server.server_port
    metrics.address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(5)
    return stop
