"""Reading file content: chunks from memory, the local object cache, or the server.

A small in-memory LRU keeps the chunks being read; the local object cache (on disk)
keeps every chunk fetched. A sequential reader's next chunks are fetched ahead, in
one request, by background threads; each waiting reader is woken as its chunk
arrives, so the server's latency overlaps the reader's work.
"""

from __future__ import annotations

import errno
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from citcfs.entries import Entry
from citcfs.objects import CHUNK_SIZE, ObjectId, ObjectKind

from .cache import ObjectCache
from .fuse_lib import FuseOSError
from .metrics import MountMetrics
from .remote import Remote

READ_AHEAD_CHUNKS = 8
PREFETCH_THREADS = 2
MEMORY_CHUNKS = 32


def _fail(code: int) -> FuseOSError:
    return FuseOSError(code)


class ChunkReader:
    """The content of one workspace's files, one 1 MiB chunk at a time."""

    def __init__(self, remote: Remote, cache: ObjectCache,
                 call: Callable[..., Any], metrics: MountMetrics | None = None) -> None:
        self.remote = remote
        self.metrics = metrics or MountMetrics()
        self.cache = cache
        self._call = call
        self._chunks: OrderedDict[bytes, bytes] = OrderedDict()
        self._chunks_lock = threading.Lock()
        self._fetching: dict[bytes, Future[None]] = {}
        self._prefetcher = ThreadPoolExecutor(max_workers=PREFETCH_THREADS,
                                              thread_name_prefix="citcfs-prefetch")

    def close(self) -> None:
        self._prefetcher.shutdown(wait=False, cancel_futures=True)

    def read(self, entry: Entry, size: int, offset: int, sequential: bool) -> bytes:
        """`size` bytes of a file at `offset`; a `sequential` reader's next chunks are
        fetched ahead."""
        if offset >= entry.size or size <= 0:
            return b""
        size = min(size, entry.size - offset)
        if entry.inline is not None:
            return entry.inline[offset:offset + size]
        parts = []
        position = offset
        end = offset + size
        ahead = READ_AHEAD_CHUNKS if sequential else 1
        while position < end:
            index = position // CHUNK_SIZE
            data = self.chunk(entry, index, ahead)
            start = position - index * CHUNK_SIZE
            piece = data[start:start + (end - position)]
            if not piece:
                break
            parts.append(piece)
            position += len(piece)
        return b"".join(parts)

    def chunk(self, entry: Entry, index: int, ahead: int = 1) -> bytes:
        """Chunk `index` of a file: from memory, the local cache, or the server.

        With `ahead` > 1 (a sequential reader), this chunk and the next ones are
        fetched together in the background, and this one is used as soon as it
        arrives: the server's latency overlaps the reader's work.
        """
        oid = entry.chunks[index]
        if ahead > 1:
            self._prefetch(entry.chunks[index:index + ahead])
        with self._chunks_lock:
            data = self._chunks.get(oid)
            pending = self._fetching.get(oid) if data is None else None
            if data is not None:
                self._chunks.move_to_end(oid)
        # A chunk still on its way (read-ahead) is a miss: the reader waits for it.
        self.metrics.chunk("memory", data is not None)
        if pending is not None:
            try:
                pending.result(timeout=120)
            except Exception:  # the fetch below tries again and reports its own error
                pass
            with self._chunks_lock:
                data = self._chunks.get(oid)
        if data is None:
            data = self.cache.get(oid)
            self.metrics.chunk("local", data is not None)
        if data is None:
            fetched = dict(self._call(self.remote.read_objects, [oid]))
            if oid not in fetched:
                raise _fail(errno.EIO)
            data = fetched[oid]
            self.metrics.fetched(len(data))
            self.cache.put_many([(ObjectKind.CHUNK, data, oid)], verified=True)
        self.keep([(oid, data)])
        return data

    def keep(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        with self._chunks_lock:
            for oid, data in items:
                self._chunks[oid] = data
                self._chunks.move_to_end(oid)
            while len(self._chunks) > MEMORY_CHUNKS:
                self._chunks.popitem(last=False)

    def _prefetch(self, ids: Sequence[ObjectId]) -> None:
        """Start fetching the chunks of `ids` that are nowhere local yet."""
        with self._chunks_lock:
            candidates = [oid for oid in ids if oid not in self._chunks and oid not in self._fetching]
        wanted = [oid for oid in candidates if oid not in self.cache]
        # Fetch in batches (one request for several chunks), unless the very next
        # chunk is missing: then it is needed now.
        if not wanted or (len(wanted) < len(ids) // 2 and wanted[0] != ids[0]):
            return
        futures: dict[ObjectId, Future[None]] = {}
        with self._chunks_lock:
            wanted = [oid for oid in wanted if oid not in self._fetching]
            for oid in wanted:
                self._fetching[oid] = futures[oid] = Future()
        if wanted:
            self._prefetcher.submit(self._fetch_ahead, wanted, futures)

    def _fetch_ahead(self, ids: list[ObjectId], futures: dict[ObjectId, "Future[None]"]) -> None:
        """Fetch `ids` in one stream; each waiting reader is woken as its chunk arrives.

        A chunk is in the local cache before its reader is woken, so whatever a
        read has returned stays readable without the server.
        """
        def arrived(oid: ObjectId, data: bytes) -> None:
            self.metrics.fetched(len(data))
            self.cache.put_many([(ObjectKind.CHUNK, data, oid)], verified=True)
            self.keep([(oid, data)])
            self._fetched(oid, futures[oid], None)

        try:
            list(self.remote.read_objects(ids, received=arrived))
        except BaseException as exc:  # a reader waiting on it fetches again itself
            for oid in ids:
                self._fetched(oid, futures[oid], exc)
        else:
            for oid in ids:  # not sent: its reader asks for it alone, and reports that
                self._fetched(oid, futures[oid], FileNotFoundError(bytes(oid).hex()))

    def _fetched(self, oid: ObjectId, future: "Future[None]", error: BaseException | None) -> None:
        """Settle the fetch of `oid` (once): with its chunk in memory, or with `error`."""
        with self._chunks_lock:
            if self._fetching.get(oid) is future:
                del self._fetching[oid]
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
