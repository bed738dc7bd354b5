"""The log and its indexes on etcd: a `KVStore` shared by any number of servers.

Layout. Every table is a key prefix: ``<prefix><table>/<key>``, so a table's byte
order is etcd's key order and a range of a table is one etcd range. One more key,
``<prefix>!fence``, orders writers (below). Values are stored as they are.

Reads. A transaction reads one etcd revision: the first read fixes it (the response
header's revision) and every later read asks for that revision, so a reader sees one
snapshot whatever commits meanwhile, as an LMDB reader does.

Writes. A write transaction reads the fence at its start, which fixes its revision R
and the fence's mod revision M. Its writes stay in memory (reads see them merged over
the snapshot). At the end they go to etcd as ONE transaction: "if the fence's mod
revision is still M, apply every put and delete and set the fence to a fresh token".
Every write transaction moves the fence, so a transaction that succeeds saw every
earlier one: the writers of all servers are serialized exactly as LMDB's single
writer is. LSNs stay one dense total order, and two servers committing to one
workspace never fork its history. The loser gets `WriteConflict`; the group
committer plans its jobs again on the new state (`storage.group_commit`).

An answer lost in transit (a member killed mid-call) leaves a transaction applied or
not. The store then finds out which: the first fence change after M is either this
transaction's token (applied) or another's (not applied). If the fence has not moved
at all, the store moves it itself with the same condition, which makes the lost
transaction fail for certain. Nothing acknowledged is lost, nothing is applied twice.

Limits. etcd refuses a transaction of more than ``--max-txn-ops`` operations or a
request over ``--max-request-bytes``. The store checks both before sending (a commit
leaves out keys it rewrote with their old value, so a `rebuild` of sound indexes is
almost free) and raises `TxnTooLarge`; the group committer then splits a batch of
jobs, and refuses a single job that is too large alone. Run etcd with at least the
limits given to the store (docs/architecture.md, "The log on etcd").

Compaction. The log is ours: its records are keys, kept until our own GC drops
them. etcd's MVCC history of those keys is not needed beyond the snapshot of a
running transaction and the resolution above, so etcd should compact it itself
(``--auto-compaction-mode=periodic --auto-compaction-retention=5m``). A read whose
revision was compacted under it fails with `Unavailable` (a write: `WriteConflict`,
and it is planned again).
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import grpc

from citcfs.errors import InvalidArgument, TxnTooLarge, Unavailable, WriteConflict
from citcfs.protos import etcd_rpc_pb2 as rpc

from .etcd_cache import PrefixWatch, ReadCache
from .etcd_client import EtcdClient, is_compacted, is_retryable, translate

PAGE = 512
"""Keys fetched per etcd range call while iterating a range."""
FIRST_PAGE = 16
"""The first page is small: most ranges are read for their first item or few."""
DEFAULT_MAX_TXN_OPS = 10000
DEFAULT_MAX_REQUEST_BYTES = 10 << 20
_REQUEST_SLACK = 4096
"""Bytes kept free of a request for framing and the compare."""
WRITE_WAIT = 0.005
"""How long a write transaction waits for the watch to deliver this store's last
commit before it asks etcd instead (the watch takes well under a millisecond here)."""


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key after every key that starts with `prefix`."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return b"\0"  # etcd: every key
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


@dataclass(frozen=True, slots=True)
class EtcdSettings:
    """Where the store lives in etcd and the limits it keeps to."""

    endpoints: tuple[str, ...]
    prefix: bytes = b"citc/"
    max_txn_ops: int = DEFAULT_MAX_TXN_OPS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES

    def check(self) -> None:
        if not self.prefix:
            raise InvalidArgument("an etcd key prefix must not be empty")
        if self.max_txn_ops < 2 or self.max_request_bytes < 2 * _REQUEST_SLACK:
            raise InvalidArgument("etcd limits too small for any transaction")


class _Snapshot:
    """The revision a transaction reads, fixed by its first read; `cached` when it is
    the revision the server's cache holds (`storage.etcd_cache`)."""

    __slots__ = ("revision", "cached")

    def __init__(self, revision: int = 0) -> None:
        self.revision = revision
        self.cached = False


class EtcdTxn:
    """A KVTxn over one etcd revision, with writes buffered until commit."""

    def __init__(self, store: "EtcdKVStore", snapshot: _Snapshot, *, writable: bool) -> None:
        self._store = store
        self._snapshot = snapshot
        self._writable = writable
        # Full key -> value (None: deleted) of this transaction's writes, and per
        # table the sorted written keys (table-relative), for merging into ranges.
        self._writes: dict[bytes, bytes | None] = {}
        self._sorted: dict[str, list[bytes]] = {}
        # Full key -> value at the snapshot, for keys this transaction read.
        self._origin: dict[bytes, bytes | None] = {}

    # --- reading the snapshot ---------------------------------------------------------

    def _range(self, low: bytes, high: bytes | None = None, limit: int = 0,
               descend: bool = False) -> tuple[list[tuple[bytes, bytes]], bool]:
        """Items of [low, high) (a single key when `high` is None) at the snapshot's
        revision, and whether more follow: from the server's cache when it may answer
        (read transactions while its watch is current), else one etcd range call."""
        snapshot = self._snapshot
        cache = self._store.cache
        if not self._writable and not snapshot.revision:
            snapshot.revision = cache.usable_revision(self._store.min_read_revision)
            snapshot.cached = bool(snapshot.revision)
        query = (low, high, limit, descend)
        if snapshot.cached:
            found = cache.get(query)
            if found is not None:
                return found
        request = rpc.RangeRequest(key=low, range_end=high or b"", limit=limit,
                                   revision=snapshot.revision)
        if descend:
            request.sort_order = rpc.RangeRequest.DESCEND
            request.sort_target = rpc.RangeRequest.KEY
        try:
            response = self._store.client.range(request)
        except grpc.RpcError as exc:
            if is_compacted(exc):
                raise (WriteConflict if self._writable else Unavailable)(
                    "etcd compacted the revision this transaction reads; try again") from None
            raise translate(exc, "a read") from None
        if not snapshot.revision:
            snapshot.revision = response.header.revision
        answer = ([(bytes(kv.key), bytes(kv.value)) for kv in response.kvs], response.more)
        if snapshot.cached:
            cache.put(query, answer, snapshot.revision)
        return answer

    def _remote_get(self, full: bytes) -> bytes | None:
        if full in self._origin:
            return self._origin[full]
        items, _ = self._range(full)
        value = items[0][1] if items else None
        self._origin[full] = value
        return value

    def _remote_items(self, table: str, start: bytes, end: bytes | None,
                      reverse: bool) -> Iterator[tuple[bytes, bytes]]:
        """The snapshot's items of [start, end), paged, in order (table-relative keys)."""
        head = self._store.table_prefix(table)
        low = head + start
        high = head + end if end is not None else prefix_end(head)
        limit = FIRST_PAGE
        cut = len(head)
        while low < high:
            items, more = self._range(low, high, limit, reverse)
            for key, value in items:
                self._origin.setdefault(key, value)
                yield key[cut:], value
            if not more or not items:
                return
            if reverse:
                high = items[-1][0]
            else:
                low = items[-1][0] + b"\0"
            limit = PAGE

    # --- the KVTxn interface ----------------------------------------------------------

    def get(self, table: str, key: bytes) -> bytes | None:
        full = self._store.table_prefix(table) + key
        if full in self._writes:
            return self._writes[full]
        return self._remote_get(full)

    def put(self, table: str, key: bytes, value: bytes) -> None:
        self._write(table, key, bytes(value))

    def delete(self, table: str, key: bytes) -> bool:
        existed = self.get(table, key) is not None
        if existed:
            self._write(table, key, None)
        return existed

    def _write(self, table: str, key: bytes, value: bytes | None) -> None:
        if not self._writable:
            raise InvalidArgument("a read transaction cannot write")
        if not key:
            raise InvalidArgument("an empty key cannot be stored")
        full = self._store.table_prefix(table) + key
        if full not in self._writes:
            bisect.insort(self._sorted.setdefault(table, []), key)
        self._writes[full] = value

    def range(self, table: str, start: bytes, end: bytes | None = None,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        remote = self._remote_items(table, start, end, reverse)
        written = self._sorted.get(table)
        if not written:
            yield from remote
            return
        low = bisect.bisect_left(written, start)
        high = len(written) if end is None else bisect.bisect_left(written, end)
        local = written[low:high]  # a copy: the caller may write while iterating
        if reverse:
            local.reverse()
        head = self._store.table_prefix(table)
        writes = self._writes
        pending = next(remote, None)
        for key in local:
            while pending is not None and (pending[0] > key if reverse else pending[0] < key):
                if head + pending[0] not in writes:
                    yield pending
                pending = next(remote, None)
            if pending is not None and pending[0] == key:
                pending = next(remote, None)
            value = writes.get(head + key)
            if value is not None:
                yield key, value
        while pending is not None:
            if head + pending[0] not in writes:
                yield pending
            pending = next(remote, None)

    def scan(self, table: str, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
        return list(self.range(table, start, end))

    def first_at_or_after(self, table: str, key: bytes) -> tuple[bytes, bytes] | None:
        return next(self.range(table, key), None)

    def last(self, table: str) -> tuple[bytes, bytes] | None:
        return next(self.range(table, b"", None, reverse=True), None)

    def delete_range(self, table: str, start: bytes, end: bytes) -> int:
        doomed = [key for key, _ in self.range(table, start, end)]
        for key in doomed:
            self._write(table, key, None)
        return len(doomed)

    def clear(self, table: str) -> None:
        for key, _ in list(self.range(table, b"")):
            self._write(table, key, None)

    @contextmanager
    def nested(self) -> Iterator["EtcdTxn"]:
        saved = dict(self._writes), {t: list(k) for t, k in self._sorted.items()}
        try:
            yield self
        except BaseException:
            self._writes, self._sorted = saved
            raise

    # --- commit -----------------------------------------------------------------------

    def operations(self) -> list[rpc.RequestOp]:
        """The puts and deletes that change what the snapshot holds."""
        ops = []
        for full, value in self._writes.items():
            if full in self._origin and self._origin[full] == value:
                continue  # rewritten with the value it had: nothing to send
            if value is None:
                ops.append(rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=full)))
                continue
            ops.append(rpc.RequestOp(request_put=rpc.PutRequest(key=full, value=value)))
        return ops


class EtcdKVStore:
    """The log and index tables in etcd, under one key prefix (see the module doc)."""

    def __init__(self, settings: EtcdSettings, tables: Iterable[str]) -> None:
        settings.check()
        self.settings = settings
        self.tables = tuple(tables)
        for table in self.tables:
            if not table or "/" in table or table.startswith("!"):
                raise InvalidArgument(f"table name {table!r} cannot be an etcd prefix")
        self._prefixes = {table: settings.prefix + table.encode() + b"/"
                          for table in self.tables}
        self.fence_key = settings.prefix + b"!fence"
        self.client = EtcdClient(settings.endpoints)
        self._write_lock = threading.Lock()
        self.commits = 0
        self.conflicts = 0
        self.cache = ReadCache(settings.prefix, self.fence_key)
        self.min_read_revision = 0
        """The revision of this store's last commit: a cached read must include it."""
        self._write_floor = 0
        """After a conflict: the revision the next write must see (the winner's)."""
        self._watch: PrefixWatch | None = None

    def watch(self) -> PrefixWatch:
        """The watch on this store's prefix, started on first use: it keeps the read
        cache current and tells listeners of every change (`storage.etcd_cache`)."""
        with self._write_lock:
            if self._watch is None:
                self._watch = PrefixWatch(self.client, self.settings.prefix, self.fence_key,
                                          self.cache)
                self._watch.start()
            return self._watch

    def table_prefix(self, table: str) -> bytes:
        return self._prefixes[table]

    @contextmanager
    def read(self) -> Iterator[EtcdTxn]:
        yield EtcdTxn(self, _Snapshot(), writable=False)

    @contextmanager
    def write(self) -> Iterator[EtcdTxn]:
        """A write transaction: committed as one conditional etcd transaction when the
        block returns; `WriteConflict` if another writer committed since it began."""
        with self._write_lock:
            # From the cache's revision when the watch holds this store's last commit
            # (and the winner of its last conflict): no round trip to begin,
            # and reads answered from the cache. Else from etcd's newest revision.
            known = self.cache.write_snapshot(
                max(self.min_read_revision, self._write_floor), WRITE_WAIT)
            if known is not None:
                snapshot = _Snapshot(known[0])
                snapshot.cached = True
                fence_mod = known[1]
            else:
                fence = self.client.range(rpc.RangeRequest(key=self.fence_key))
                fence_mod = fence.kvs[0].mod_revision if fence.kvs else 0
                snapshot = _Snapshot(fence.header.revision)
            txn = EtcdTxn(self, snapshot, writable=True)
            yield txn
            ops = txn.operations()
            if ops:
                self._commit(ops, fence_mod)

    def _commit(self, ops: list[rpc.RequestOp], fence_mod: int) -> None:
        token = os.urandom(16)
        request = rpc.TxnRequest(
            compare=[rpc.Compare(key=self.fence_key, target=rpc.Compare.MOD,
                                 result=rpc.Compare.EQUAL, mod_revision=fence_mod)],
            success=ops + [rpc.RequestOp(request_put=rpc.PutRequest(key=self.fence_key,
                                                                     value=token))])
        self._check_limits(request)
        try:
            response = self.client.txn_once(request)
        except grpc.RpcError as exc:
            if not is_retryable(exc):
                raise translate(exc, "a commit") from None
            applied = self._resolve(fence_mod, token)
            if applied:  # its revision is unknown: reads wait for today's newest
                newest = self.client.range(rpc.RangeRequest(key=self.fence_key)).header.revision
                self.min_read_revision = max(self.min_read_revision, newest)
        else:
            applied = response.succeeded
            if not applied:  # the winner committed at or before this revision
                self._write_floor = max(self._write_floor, response.header.revision)
            if applied:
                self.min_read_revision = max(self.min_read_revision, response.header.revision)
        if not applied:
            self.conflicts += 1
            raise WriteConflict("another server committed first")
        self.commits += 1

    def _check_limits(self, request: rpc.TxnRequest) -> None:
        count = len(request.success)
        if count > self.settings.max_txn_ops:
            raise TxnTooLarge(f"a transaction of {count} operations exceeds etcd's "
                              f"--max-txn-ops ({self.settings.max_txn_ops})")
        size = request.ByteSize()
        if size > self.settings.max_request_bytes - _REQUEST_SLACK:
            raise TxnTooLarge(f"a transaction of {size} bytes exceeds etcd's "
                              f"--max-request-bytes ({self.settings.max_request_bytes})")

    def _resolve(self, fence_mod: int, token: bytes) -> bool:
        """Whether the transaction that set the fence to `token` after `fence_mod` was
        applied, when its answer was lost (see the module doc)."""
        while True:
            winner = self._next_fence(fence_mod)
            if winner is not None:
                return winner == token
            # Nobody moved the fence yet: move it, so the lost request can never apply.
            blocker = rpc.TxnRequest(
                compare=[rpc.Compare(key=self.fence_key, target=rpc.Compare.MOD,
                                     result=rpc.Compare.EQUAL, mod_revision=fence_mod)],
                success=[rpc.RequestOp(request_put=rpc.PutRequest(
                    key=self.fence_key, value=os.urandom(16)))])
            try:
                self.client.retrying("a fence", lambda kv: kv.Txn(blocker, timeout=5.0))
            except grpc.RpcError as exc:
                raise translate(exc, "a fence") from None

    def _next_fence(self, fence_mod: int) -> bytes | None:
        """The fence's first value written after revision `fence_mod`; None if it
        has not changed since."""
        current = self.client.range(rpc.RangeRequest(key=self.fence_key))
        if current.kvs and current.kvs[0].mod_revision == fence_mod or \
                (not current.kvs and fence_mod == 0):
            return None
        # It moved: its history from fence_mod + 1 names the first writer.
        for _ in range(20):
            watch = self.client.watch(rpc.WatchCreateRequest(key=self.fence_key,
                                                             start_revision=fence_mod + 1))
            try:
                for response in watch:
                    if response.compact_revision:
                        raise Unavailable("etcd compacted the history that says whether "
                                          "a commit was applied")
                    for event in response.events:
                        return bytes(event.kv.value)
            except grpc.RpcError:
                continue
            finally:
                watch.cancel()
        raise Unavailable("etcd did not say whether a commit was applied")

    def close(self) -> None:
        if self._watch is not None:
            self._watch.stop()
        self.client.close()
