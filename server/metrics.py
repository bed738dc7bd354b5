"""Prometheus metrics of a citcfs server, on prometheus_client's default registry.

The metric objects are made once per process, when this module is first imported,
on `prometheus_client.REGISTRY`: `citc server --http` serves that registry at
`/metrics`, beside the process's own `process_*` and `python_*` metrics. Servers
started in one process (tests) share them. A server started with metrics off
(`ServerConfig.metrics = False`, `citc server --no-metrics`) records nothing: no
interceptor, no storage observer, no hub callback; the names still show, unmoved.

Where each figure comes from:
- RPCs: `RpcMetrics`, a gRPC server interceptor, times every call (streams until
  they end) and labels it with service, method and final status code;
- group commit: `storage.group_commit` reports each batch and each job's wait in
  the queue through the `StorageObserver` this module implements;
- Watch: the hub counts open streams and the events it hands them;
- sizes of the log and object store: read from the backend's own statistics at
  scrape time (`StoreCollector`), never by scanning the data;
- GC: storage reports each run.

Names follow Prometheus conventions: `citcfs_` prefix, the unit in the name
(`_seconds`, `_bytes`), `_total` for counters.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import grpc
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from citcfs.storage import Database, GcReport

LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                   0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)
"""From 100 µs (a cached read) to minutes (a stream, a GC of a large store)."""
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
"""Jobs per group-commit batch; 512 is the committer's largest batch."""

RPCS = Counter("citcfs_rpcs_total", "RPCs finished, by service, method and status code.",
               ["service", "method", "code"])
RPC_SECONDS = Histogram("citcfs_rpc_duration_seconds",
                        "Time from the start of an RPC to its end (streams: until closed).",
                        ["service", "method", "code"], buckets=LATENCY_BUCKETS)
COMMIT_BATCH_JOBS = Histogram("citcfs_commit_batch_jobs",
                              "Write jobs (commits and other changes) per group-commit batch.",
                              buckets=BATCH_BUCKETS)
COMMIT_BATCH_SECONDS = Histogram("citcfs_commit_batch_duration_seconds",
                                 "Time to run one group-commit batch and make it durable.",
                                 buckets=LATENCY_BUCKETS)
COMMIT_WAIT_SECONDS = Histogram("citcfs_group_commit_wait_seconds",
                                "Time a write job waited in the queue before its batch began.",
                                buckets=LATENCY_BUCKETS)
WATCH_STREAMS = Gauge("citcfs_watch_streams", "Watch streams open now.")
WATCH_EVENTS = Counter("citcfs_watch_events_sent_total",
                       "Workspace versions and deletions sent on Watch streams.")
GC_RUNS = Counter("citcfs_gc_runs_total", "Garbage collections run, by whether a dry run.",
                  ["dry_run"])
GC_SECONDS = Histogram("citcfs_gc_duration_seconds", "Time of one garbage collection.",
                       buckets=LATENCY_BUCKETS)
GC_FREED_OBJECTS = Counter("citcfs_gc_freed_objects_total", "Objects deleted by GC.")
GC_FREED_BYTES = Counter("citcfs_gc_freed_bytes_total", "Content bytes deleted by GC.")
GC_PRUNED_VERSIONS = Counter("citcfs_gc_pruned_versions_total",
                             "Versions dropped by retention policies during GC.")
GC_LAST_RUN = Gauge("citcfs_gc_last_run_timestamp_seconds",
                    "When the last garbage collection (not a dry run) finished, Unix time.")


class StorageMetrics:
    """The `StorageObserver` of a server: storage events into the metrics above."""

    def commit_batch(self, jobs: int, seconds: float) -> None:
        COMMIT_BATCH_JOBS.observe(jobs)
        COMMIT_BATCH_SECONDS.observe(seconds)

    def commit_wait(self, seconds: float) -> None:
        COMMIT_WAIT_SECONDS.observe(seconds)

    def gc_finished(self, report: GcReport, seconds: float) -> None:
        GC_RUNS.labels(dry_run="true" if report.dry_run else "false").inc()
        GC_SECONDS.observe(seconds)
        if not report.dry_run:
            GC_FREED_OBJECTS.inc(report.objects_freed)
            GC_FREED_BYTES.inc(report.bytes_freed)
            GC_PRUNED_VERSIONS.inc(report.versions_pruned)
            GC_LAST_RUN.set(time.time())


def watch_events_sent(count: int) -> None:
    """The hub handed `count` events to a Watch stream."""
    WATCH_EVENTS.inc(count)


# --- RPCs ---------------------------------------------------------------------------------

_Observed = tuple[Any, Any]  # (counter child, histogram child) of one label set


class RpcMetrics(grpc.ServerInterceptor):  # type: ignore[type-arg]
    """Times every RPC and counts it by service, method and status code.

    A call's status is what the servicer set (an abort sets it before raising), OK
    when it returned normally, UNKNOWN when it raised without one, and CANCELLED
    when a stream was closed before its end (the client went away). Wrapped
    handlers and label children are cached, so a call costs two dictionary
    lookups, two clock reads and the two observations.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, tuple[Any, Any]] = {}
        self._children: dict[tuple[str, str, grpc.StatusCode], _Observed] = {}
        self._lock = threading.Lock()

    def intercept_service(self, continuation: Callable[[Any], Any],
                          details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method
        cached = self._handlers.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        with self._lock:
            self._handlers[method] = (handler, wrapped)
        return wrapped

    def _observed(self, service: str, method: str, code: grpc.StatusCode) -> _Observed:
        key = (service, method, code)
        found = self._children.get(key)
        if found is None:
            labels = {"service": service, "method": method, "code": code.name}
            found = (RPCS.labels(**labels), RPC_SECONDS.labels(**labels))
            with self._lock:
                self._children[key] = found
        return found

    def _wrap(self, handler: Any, full_method: str) -> Any:
        service, _, method = full_method.lstrip("/").rpartition("/")
        record = self._recorder(service or "unknown", method)
        if handler.unary_unary is not None:
            return handler._replace(unary_unary=_timed_call(handler.unary_unary, record))
        if handler.stream_unary is not None:
            return handler._replace(stream_unary=_timed_call(handler.stream_unary, record))
        if handler.unary_stream is not None:
            return handler._replace(unary_stream=_timed_stream(handler.unary_stream, record))
        return handler._replace(stream_stream=_timed_stream(handler.stream_stream, record))

    def _recorder(self, service: str, method: str) -> Callable[[grpc.StatusCode, float], None]:
        def record(code: grpc.StatusCode, started: float) -> None:
            count, seconds = self._observed(service, method, code)
            count.inc()
            seconds.observe(time.perf_counter() - started)
        return record


def _final_code(context: grpc.ServicerContext, default: grpc.StatusCode) -> grpc.StatusCode:
    code = context.code()  # type: ignore[attr-defined]  # set by abort(), set_code()
    return code if isinstance(code, grpc.StatusCode) else default


def _timed_call(behavior: Callable[[Any, grpc.ServicerContext], Any],
                record: Callable[[grpc.StatusCode, float], None]) -> Callable[..., Any]:
    """A unary-response handler that records its status and duration."""
    def timed(request: Any, context: grpc.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            response = behavior(request, context)
        except BaseException:
            record(_final_code(context, grpc.StatusCode.UNKNOWN), started)
            raise
        record(_final_code(context, grpc.StatusCode.OK), started)
        return response
    return timed


def _timed_stream(behavior: Callable[[Any, grpc.ServicerContext], Iterable[Any]],
                  record: Callable[[grpc.StatusCode, float], None]) -> Callable[..., Any]:
    """A streaming-response handler that records its status and duration when the
    stream ends, however it ends."""
    def timed(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        started = time.perf_counter()
        code = grpc.StatusCode.CANCELLED  # closed before its end: the client left
        try:
            yield from behavior(request, context)
            # A Watch ends quietly when its client cancels: not active any more.
            code = _final_code(context, grpc.StatusCode.OK if context.is_active()
                               else grpc.StatusCode.CANCELLED)
        except GeneratorExit:
            raise
        except BaseException:
            code = _final_code(context, grpc.StatusCode.UNKNOWN)
            raise
        finally:
            record(code, started)
    return timed


# --- sizes, read at scrape time -------------------------------------------------------------


class StoreCollector(Collector):
    """Sizes of the log and object store of the databases this process serves.

    Read from the backend's statistics when Prometheus scrapes (see
    `storage.observe.usage`). A process serves one database (tests may run more:
    then counts and bytes are summed and the LSN is the largest).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._databases: list[Database] = []

    def attach(self, db: Database) -> None:
        with self._lock:
            self._databases.append(db)

    def detach(self, db: Database) -> None:
        """Stop reading `db` (before it closes: a scrape never reads a closed store)."""
        with self._lock:
            if db in self._databases:
                self._databases.remove(db)

    def describe(self) -> list[Metric]:
        return list(self._families(None))

    def collect(self) -> list[Metric]:
        with self._lock:
            found = [usage for db in self._databases if (usage := db.usage()) is not None]
        return list(self._families(found))

    @staticmethod
    def _families(found: list[Any] | None) -> Iterator[Metric]:
        rows = (
            ("citcfs_log_records", "Records in the log.", "log_records", sum),
            ("citcfs_log_bytes", "Bytes of pages the log occupies.", "log_bytes", sum),
            ("citcfs_log_lsn", "The log sequence number of the newest record.", "last_lsn", max),
            ("citcfs_log_store_bytes", "Bytes of pages the log, meta and index tables "
             "occupy together.", "kv_bytes", sum),
            ("citcfs_object_store_objects", "Objects (chunks and trees) stored.", "objects", sum),
            ("citcfs_object_store_bytes", "Bytes of pages the object store occupies.",
             "object_bytes", sum),
        )
        for name, text, field, combine in rows:
            family = GaugeMetricFamily(name, text)
            if found:
                family.add_metric([], combine(getattr(usage, field) for usage in found))
            yield family


STORES = StoreCollector()
REGISTRY.register(STORES)

_HUBS: "weakref.WeakSet[Any]" = weakref.WeakSet()
WATCH_STREAMS.set_function(lambda: sum(hub.watcher_count for hub in list(_HUBS)))


def track_hub(hub: Any) -> None:
    """Count `hub`'s open Watch streams in `citcfs_watch_streams` (while it lives)."""
    _HUBS.add(hub)


def enable(db: Database) -> RpcMetrics:
    """Record the metrics of a server of `db`: its storage events and sizes; the
    interceptor returned times its RPCs."""
    db.observe(StorageMetrics())
    STORES.attach(db)
    return RpcMetrics()


def disable(db: Database) -> None:
    """Stop recording for `db` (before it closes); harmless if never enabled."""
    STORES.detach(db)
    db.observe(None)
