"""A server's cache of etcd reads, kept current by one watch on the store's prefix.

Why: an etcd read is a network round trip (~0.3 ms here, LMDB ~1 µs), and a Lookup
makes several. But a server is told of every change by its watch, so when nothing
changed it already knows every answer it read before.

How. The watch delivers every change under the prefix in revision order. The cache
holds answers to range calls (a key, or a range with its limit and order) read at
its `revision`, the newest revision whose changes it has applied. A read transaction
that starts while the watch is connected reads at exactly that revision: each of its
calls is answered from the cache or sent to etcd *at that revision* (so fresh and
cached answers belong to one snapshot) and then cached, unless the cache moved on
meanwhile. A change is applied to the cached answers it may affect, so they stay
exact at the new revision (`updated`): its own key, and the ranges of its table that
start in the same workspace (the first 8 bytes of a key after the table name: every
per-workspace key starts with the workspace id), or that span workspaces. Only an
answer cut at its limit that loses a key is dropped (what follows it is unknown).

Freshness. A server's own commit is visible to its next read: a read transaction
uses the cache only once the watch has delivered the store's last commit
(`min_revision`); before that it reads etcd's newest revision. A commit made
through another server reaches this one's cache (and its Watch streams) after the
watch's latency, a few milliseconds: the Watch/Changes contract is already
asynchronous. While the watch is broken the cache answers nothing; when it comes back
it resumes from the next revision, or starts empty if etcd compacted that history.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from citcfs.errors import CitcError
from citcfs.protos import etcd_rpc_pb2 as rpc

from .etcd_client import EtcdClient

log = logging.getLogger("citcfs.storage.etcd")

Query = tuple[bytes, "bytes | None", int, bool]
"""(low, high or None for one key, limit, descending)."""
Answer = tuple[list[tuple[bytes, bytes]], bool]

MAX_ENTRIES = 200_000
"""Cached answers kept before the cache starts over (a bound, not an LRU)."""
WORKSPACE_ID_BYTES = 8


def _end(prefix: bytes) -> bytes:
    trimmed = prefix.rstrip(b"\xff")
    return trimmed[:-1] + bytes((trimmed[-1] + 1,)) if trimmed else b"\0"


@dataclass(frozen=True, slots=True)
class Change:
    """One key's change seen by the watch (value None: deleted)."""

    key: bytes
    value: bytes | None
    previous: bytes | None
    revision: int


class ReadCache:
    """Answers of range calls at one revision (see the module doc)."""

    def __init__(self, prefix: bytes, fence_key: bytes) -> None:
        self._prefix = prefix
        self._fence_key = fence_key
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)
        self.revision = 0
        self.healthy = False
        self.fence_mod = -1
        """The fence's mod revision at `revision` (0: absent; -1: not known yet)."""
        self._points: dict[bytes, Answer] = {}
        self._ranges: dict[bytes, dict[Query, Answer]] = {}
        self._count = 0
        self.hits = 0
        self.misses = 0

    def _partition(self, low: bytes, high: bytes) -> bytes:
        """Which group of cached ranges a change to a key in [low, high) drops."""
        table_end = low.find(b"/", len(self._prefix))
        if table_end < 0:
            return b""
        table = low[:table_end + 1]
        workspace = low[:table_end + 1 + WORKSPACE_ID_BYTES]
        if len(workspace) == len(table) + WORKSPACE_ID_BYTES and high <= _end(workspace):
            return workspace
        return table

    def usable_revision(self, min_revision: int) -> int:
        """The revision a read transaction may read through the cache; 0: it may not."""
        with self._lock:
            if self.healthy and self.revision and self.revision >= min_revision:
                return self.revision
            return 0

    def write_snapshot(self, min_revision: int, wait: float) -> tuple[int, int] | None:
        """(revision, fence mod revision) a write transaction may start from without
        asking etcd, once the cache holds `min_revision` (waiting up to `wait`
        seconds for the watch to deliver it); None: ask etcd."""
        deadline = time.monotonic() + wait
        with self._lock:
            while self.healthy and self.fence_mod >= 0 and self.revision < min_revision:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._moved.wait(left)
            if self.healthy and self.fence_mod >= 0 and self.revision >= max(min_revision, 1):
                return self.revision, self.fence_mod
            return None

    def get(self, query: Query) -> Answer | None:
        low, high = query[0], query[1]
        with self._lock:
            if high is None:
                found = self._points.get(low)
            else:
                found = self._ranges.get(self._partition(low, high), {}).get(query)
            if found is None:
                self.misses += 1
            else:
                self.hits += 1
            return found

    def put(self, query: Query, answer: Answer, revision: int) -> None:
        low, high = query[0], query[1]
        with self._lock:
            if revision != self.revision or not self.healthy:
                return  # the cache moved on: this answer may be stale already
            if self._count >= MAX_ENTRIES:
                self._clear()
            self._count += 1
            if high is None:
                self._points[low] = answer
            else:
                self._ranges.setdefault(self._partition(low, high), {})[query] = answer

    def apply(self, changes: list[Change], revision: int) -> None:
        """Drop what `changes` may affect and move to `revision`."""
        with self._lock:
            for change in changes:
                key, value = change.key, change.value
                if key == self._fence_key:
                    self.fence_mod = change.revision if value is not None else 0
                if key in self._points:
                    self._points[key] = ([(key, value)] if value is not None else [], False)
                table_end = key.find(b"/", len(self._prefix))
                if table_end < 0:
                    continue
                for partition in (key[:table_end + 1],
                                  key[:table_end + 1 + WORKSPACE_ID_BYTES]):
                    answers = self._ranges.get(partition)
                    if not answers:
                        continue
                    for query, answer in list(answers.items()):
                        new = updated(query, answer, key, value)
                        if new is None:
                            del answers[query]
                        elif new is not answer:
                            answers[query] = new
            self.revision = max(self.revision, revision)
            self._moved.notify_all()

    def reset(self, revision: int, fence_mod: int = -1) -> None:
        """Start over, empty, at `revision` (after a compaction ate the history)."""
        with self._lock:
            self._clear()
            self.revision = revision
            self.fence_mod = fence_mod

    def set_healthy(self, healthy: bool) -> None:
        with self._lock:
            self.healthy = healthy
            self._moved.notify_all()

    def _clear(self) -> None:
        self._points.clear()
        self._ranges.clear()
        self._count = 0


def _position(items: list[tuple[bytes, bytes]], key: bytes, descend: bool) -> int:
    """Where `key` is or would go in `items` (ascending, or descending)."""
    low, high = 0, len(items)
    while low < high:
        middle = (low + high) // 2
        if (items[middle][0] > key) if descend else (items[middle][0] < key):
            low = middle + 1
        else:
            high = middle
    return low


def updated(query: Query, answer: Answer, key: bytes, value: bytes | None) -> Answer | None:
    """`answer` to `query` after `key` was set to `value` (None: deleted): the same
    object if unaffected, a new answer, or None if it can no longer be known."""
    low, high, limit, descend = query
    if high is None:
        return answer if key != low else ([(key, value)] if value is not None else [], False)
    if not low <= key < high:
        return answer
    items, more = answer
    if more and items and ((key < items[-1][0]) if descend else (key > items[-1][0])):
        return answer  # beyond what the answer covers: the cut stays where it was
    index = _position(items, key, descend)
    exists = index < len(items) and items[index][0] == key
    if value is None:
        if not exists:
            return answer
        if more:
            return None  # the item after the cut would move in: unknown here
        return items[:index] + items[index + 1:], False
    changed = list(items)
    if exists:
        changed[index] = (key, value)
        return changed, more
    changed.insert(index, (key, value))
    if limit and len(changed) > limit:
        changed.pop()
        more = True
    return changed, more


ChangeListener = Callable[[list[Change]], None]
ResyncListener = Callable[[], None]


class PrefixWatch:
    """The thread that follows every change under a prefix into a `ReadCache` and
    on to listeners (the server's Watch hub). `resync` listeners are called when
    changes may have been missed (a compacted history): they re-read what they need."""

    def __init__(self, client: EtcdClient, prefix: bytes, fence_key: bytes,
                 cache: ReadCache) -> None:
        self._client = client
        self._prefix = prefix
        self._fence_key = fence_key
        self._cache = cache
        self._listeners: list[ChangeListener] = []
        self._resync: list[ResyncListener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch: object | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="etcd-watch")
        self.connected = threading.Event()

    def add_listener(self, listener: ChangeListener, resync: ResyncListener | None = None) -> None:
        with self._lock:
            self._listeners.append(listener)
            if resync is not None:
                self._resync.append(resync)

    def remove_listener(self, listener: ChangeListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def start(self) -> None:
        self._thread.start()

    def _current(self) -> tuple[int, int]:
        """etcd's newest revision and the fence's mod revision at it (0: absent)."""
        response = self._client.range(rpc.RangeRequest(key=self._fence_key))
        return (int(response.header.revision),
                int(response.kvs[0].mod_revision) if response.kvs else 0)

    def _run(self) -> None:
        delay = 0.05
        while not self._stop.is_set():
            try:
                if not self._cache.revision:
                    self._cache.reset(*self._current())
                    self._notify_resync()
                self._follow()
                delay = 0.05
            except (grpc.RpcError, CitcError) as exc:
                self._cache.set_healthy(False)
                self.connected.clear()
                if self._stop.is_set():
                    return
                log.warning("etcd watch broke (%s); resuming", exc)
                self._stop.wait(delay)
                delay = min(delay * 2, 1.0)

    def _follow(self) -> None:
        watch = self._client.watch(rpc.WatchCreateRequest(
            key=self._prefix, range_end=_end(self._prefix),
            start_revision=self._cache.revision + 1, prev_kv=True))
        self._watch = watch
        if self._stop.is_set():
            watch.cancel()
            return
        try:
            for response in watch:
                if response.compact_revision:
                    log.warning("etcd compacted the history this watch needed; "
                                "the cache starts over")
                    self._cache.set_healthy(False)
                    self._cache.reset(0)
                    return
                if response.canceled:
                    return
                if response.created:
                    self._cache.set_healthy(True)
                    self.connected.set()
                    continue
                if not response.events:
                    continue
                changes = [Change(bytes(event.kv.key),
                                  None if event.type == event.DELETE else bytes(event.kv.value),
                                  bytes(event.prev_kv.value) if event.HasField("prev_kv")
                                  else None,
                                  int(event.kv.mod_revision))
                           for event in response.events]
                self._cache.apply(changes, changes[-1].revision)
                with self._lock:
                    listeners = list(self._listeners)
                for listener in listeners:
                    try:
                        listener(changes)
                    except Exception:  # a listener's bug must not stop the cache
                        log.exception("etcd change listener failed")
        finally:
            watch.cancel()
            self._cache.set_healthy(False)
            self.connected.clear()

    def _notify_resync(self) -> None:
        with self._lock:
            listeners = list(self._resync)
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("etcd resync listener failed")

    def stop(self) -> None:
        self._stop.set()
        watch = self._watch
        if watch is not None:
            watch.cancel()  # type: ignore[attr-defined]
        if self._thread.is_alive():
            self._thread.join(timeout=5)


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True
