"""A bounded in-memory cache of verified objects, least recently used out first.

Objects never change (an id is the hash of its content), so a cached object is never
stale and any number of servers cache the same objects without telling each other
anything. A remote object store keeps one in front of its GETs: trees near the root
are read by every lookup, and a round trip to S3 costs milliseconds.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from citcfs.objects import ObjectId, ObjectKind

DEFAULT_LRU_BYTES = 256 << 20


class ObjectLru:
    """id -> (kind, content), bounded by total content bytes; thread-safe."""

    def __init__(self, max_bytes: int = DEFAULT_LRU_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[bytes, tuple[ObjectKind, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, oid: ObjectId) -> tuple[ObjectKind, bytes] | None:
        with self._lock:
            found = self._items.get(oid)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(oid)
            self.hits += 1
            return found

    def put(self, oid: ObjectId, kind: ObjectKind, content: bytes) -> None:
        """Keep a verified object (one larger than an eighth of the bound is not kept:
        it would push out everything else)."""
        if len(content) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._items.pop(oid, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._items[oid] = (kind, content)
            self._bytes += len(content)
            while self._bytes > self.max_bytes and self._items:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= len(dropped)

    def drop(self, oids: list[ObjectId]) -> None:
        with self._lock:
            for oid in oids:
                old = self._items.pop(oid, None)
                if old is not None:
                    self._bytes -= len(old[1])

    @property
    def total_bytes(self) -> int:
        return self._bytes
