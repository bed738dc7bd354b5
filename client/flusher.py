"""The flusher: sends a mount's write journal to the server in batches.

Records wait in order. A batch takes the oldest waiting records, collapses them
(`journal.coalesce`), and is sent as one commit over a pipelined commit stream,
carrying its new chunks when they are small (else the chunks the server lacks are
uploaded first): the next batch goes out before the previous answer
arrives, and the server applies them in order. An idle mount sends a record at once
(within `GATHER_S`, 2 ms, so that what a tool does next joins it); a busy one (a
batch in flight, or one sent within `interval`, 40 ms) gathers records for
`interval`, so it makes some 25 versions a second rather than one per operation.

Each batch carries the writer id of its journal and the sequence numbers it covers,
so the server applies a batch sent twice once. When anything goes wrong (the server
is unreachable or restarting, a batch is refused), the flusher waits for every batch
in flight to settle, asks the server how far it got (`writer_progress`), and sends
again from there with backoff: nothing is lost and nothing applied twice.

`wait_for(seq)` is the barrier that fsync, --sync-writes and the CLI use. The journal
holds at most `bound_bytes` of records and pinned chunks that the server lacks;
`make_room` blocks a writer while it is full, then fails with JournalFull (ENOSPC).

A workspace deleted on the server never takes the journal: the first answer saying
so (or `abandon`, when the mount's watch stream learns it first) drops every
journaled record with one log line, and from then on `make_room` fails with
WorkspaceDeleted (ESTALE) and the barriers return at once, so nothing retries
forever and an unmount is not held up.

Locking: one condition guards the queues. Callbacks (`on_applied`) run without it.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from citcfs.errors import (CitcError, CorruptData, JournalFull, WorkspaceDeleted,
                           WorkspaceNotFound)
from citcfs.failpoints import failpoint
from citcfs.objects import KnownObject, ObjectKind

from .cache import ObjectCache
from .journal import Journal, JournalOp, chunk_ids, coalesce, op_to_wire
from .metrics import MountMetrics

log = logging.getLogger("citcfs.client")

BATCH_OPS = 1000
BATCH_BYTES = 4 << 20
CARRIED_BYTES = 1 << 20
"""A batch whose new chunks come to at most this many bytes carries them in its
commit (one message); a larger one asks the server which it lacks and uploads those
first (HasObjects and PutObjects), so that content the server holds is not sent."""
MAX_IN_FLIGHT = 4
INTERVAL_S = 0.04
"""How long a busy mount gathers records. Each batch costs the mount and the server a
commit's work whatever its size: against 20 ms, a tar extract went from 0.585 to
0.644 of the passthrough floor's speed, while another mount sees a file 60 ms after
its close at p99 instead of 50 (bench/client_bench.py, medians of three runs)."""
GATHER_S = 0.002
"""An idle mount sends a record this soon: time for the calls a tool makes together
(write, chmod, utime of one file) to join one batch, far below what a person or
another mount notices."""
BACKOFF_S = (0.05, 2.0)

_JOURNAL_BEFORE_FLUSH = failpoint("journal-before-flush")


@dataclass(slots=True)
class _Record:
    seq: int
    op: JournalOp
    size: int
    added: float
    message: Any = None  # `op` as a citc.v1.Op, made once for the journal and the commit
    pinned: tuple[bytes, ...] = ()  # the cache pins taken for it, released when applied


@dataclass(slots=True)
class _Batch:
    first: int
    last: int
    records: list[_Record]
    ops: list[JournalOp]
    future: "Future[Any] | None" = None
    done: bool = False
    error: BaseException | None = None
    result: Any = None
    sent: float = 0.0  # time.monotonic() when its commit went out (0: never sent)


Applied = Callable[[int, Any, list[tuple[JournalOp, CitcError]]], None]
"""on_applied(last seq, the commit's BatchResult, the operations the server skipped)."""


class Flusher:
    """Sends one journal to the server; see the module docstring."""

    def __init__(self, remote: Any, workspace: str, journal: Journal, cache: ObjectCache, *,
                 on_applied: Applied | None = None, bound_bytes: int = 1 << 30,
                 full_wait_s: float = 10.0, interval: float = INTERVAL_S,
                 recovered: Sequence[tuple[int, JournalOp]] = (),
                 metrics: MountMetrics | None = None) -> None:
        self.remote = remote
        self.metrics = metrics or MountMetrics()
        self.metrics.watch_journal(lambda: self.pending_ops, lambda: self.pending_bytes)
        self.workspace = workspace
        self.journal = journal
        self.cache = cache
        self.on_applied = on_applied
        self.bound_bytes = bound_bytes
        self.full_wait_s = full_wait_s
        self.interval = interval
        self._cond = threading.Condition()
        self._waiting: deque[_Record] = deque()
        self._in_flight: deque[_Batch] = deque()
        self._bytes = 0
        self._stopping = False
        self._broken = bool(recovered)  # recovered records: ask the server first
        self._thread: threading.Thread | None = None
        self._last_sent = 0.0
        self.before_batch: Callable[[], None] | None = None
        """Called (by the sending thread, holding no lock) before each batch is cut:
        the mount journals what it gathers per batch rather than per change."""
        self.acked_seq = 0
        self.last_seq = 0
        self._sent_high = 0  # the last seq of any batch sent, settled or not
        self.batches = 0
        self.skipped = 0
        self.last_error = ""
        self.gone = False
        """The workspace was deleted on the server: everything journaled is dropped."""
        self._gone_reason = ""
        """Why the server refused a batch as not for this workspace (it was deleted,
        or its name now names another one), until the sending thread abandons."""
        now = time.monotonic()
        for seq, op in recovered:
            # A dead mount pinned the new chunks of its files; which were new is not
            # recorded, so each chunk named is released once.
            self._waiting.append(_Record(seq, op, 0, now, pinned=tuple(set(chunk_ids(op)))))
            self.last_seq = seq
        if recovered:
            self.acked_seq = recovered[0][0] - 1

    # --- the writer's side --------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="citcfs-flusher", daemon=True)
        self._thread.start()

    def make_room(self, size: int) -> None:
        """Wait until `size` more bytes fit under the bound; JournalFull if they never do."""
        deadline = time.monotonic() + self.full_wait_s
        with self._cond:
            if self.gone:
                raise WorkspaceDeleted(self.last_error)
            while self._bytes and self._bytes + size > self.bound_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise JournalFull(f"the write journal is full ({self._bytes} bytes not yet "
                                      f"on the server, bound {self.bound_bytes})")
                self._cond.wait(remaining)

    def append(self, op: JournalOp, extra_bytes: int = 0, pinned: tuple[bytes, ...] = ()) -> int:
        """Journal `op`; its sequence number. `pinned`: the chunks pinned in the cache
        for it (one pin each, as often as listed), released once the server has it."""
        message = op_to_wire(op)
        seq, size = self.journal.append(op, message)
        with self._cond:
            self._waiting.append(_Record(seq, op, size + extra_bytes, time.monotonic(), message,
                                         pinned))
            self._bytes += size + extra_bytes
            self.last_seq = seq
            if len(self._waiting) == 1 or len(self._waiting) >= BATCH_OPS:
                # Only these change when the sending thread must act: it already
                # waits for the oldest record's deadline.
                self._cond.notify_all()
        return seq

    def wait_for(self, seq: int | None = None, timeout: float | None = None) -> bool:
        """Block until the server has applied everything up to `seq` (default: all
        journaled so far); False on timeout. Returns at once once the workspace is
        gone (`gone`): nothing will ever be applied then."""
        with self._cond:
            target = self.last_seq if seq is None else seq
            return self._cond.wait_for(lambda: self.acked_seq >= target or self.gone, timeout)

    @property
    def sent_seq(self) -> int:
        """The last sequence number of the batches sent so far. A batch whose answer is
        being handed to the mount (`on_applied`) counts: until that returns, the mount
        does not know the version it made."""
        with self._cond:
            return max(self._sent_high, self.acked_seq)

    @property
    def pending_ops(self) -> int:
        with self._cond:
            return len(self._waiting) + sum(len(b.records) for b in self._in_flight)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def stop(self, timeout: float | None = None) -> bool:
        """Send what is journaled (waiting at most `timeout`), then stop; True if the
        server has everything."""
        drained = self.wait_for(timeout=timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        return drained

    # --- the sending thread ---------------------------------------------------------------

    def _run(self) -> None:
        delay = BACKOFF_S[0]
        while True:
            with self._cond:
                while not self._ready():
                    self._cond.wait(self._wait_time())
                if self._stopping:
                    return
                gone, broken = self.gone, self._broken
                if not gone and broken and any(not b.done for b in self._in_flight):
                    continue
            try:
                if gone:
                    self._drop_all()
                elif broken:
                    if self._gone_reason:
                        raise WorkspaceNotFound(self._gone_reason)
                    self._recover()
                    delay = BACKOFF_S[0]
                else:
                    self._send_batch()
            except WorkspaceNotFound as exc:
                self.abandon(exc.message)
            except Exception as exc:  # the sending thread must outlive any failure
                if not isinstance(exc, CitcError):
                    log.exception("journal: sending a batch failed")
                self.last_error = exc.message if isinstance(exc, CitcError) else repr(exc)
                log.warning("journal: the server has not taken the changes to %r yet (%s); "
                            "retrying in %.2f s", self.workspace, self.last_error, delay)
                with self._cond:
                    self._broken = True
                    self._cond.wait_for(lambda: self._stopping, timeout=delay)
                delay = min(delay * 2, BACKOFF_S[1])

    def abandon(self, reason: str) -> None:
        """The workspace is gone from the server: drop everything journaled, and
        refuse what comes (see the module docstring). Logs once."""
        with self._cond:
            if self.gone:
                return
            self.gone = True
            self.last_error = (f"workspace {self.workspace!r} no longer exists on the "
                               f"server ({reason})")
        dropped = self._drop_all()
        if dropped:
            log.error("journal: %s; dropping %d journaled changes that can no longer be "
                      "sent", self.last_error, dropped)

    def _drop_all(self) -> int:
        """Forget every record waiting or in flight (the workspace is gone), releasing
        their pins and journal segments; how many there were."""
        with self._cond:
            records = [r for b in self._in_flight for r in b.records] + list(self._waiting)
            self._in_flight.clear()
            self._waiting.clear()
            self._broken = False
        if records:
            records.sort(key=lambda record: record.seq)
            self._settle(_Batch(records[0].seq, records[-1].seq, records,
                                [record.op for record in records]), _Recovered(records[-1].seq))
        with self._cond:
            self.acked_seq = max(self.acked_seq, self.last_seq)
            self._cond.notify_all()
        return len(records)

    def _ready(self) -> bool:
        """Whether the sending thread has something to do now."""
        if self._stopping:
            return True
        if self.gone:
            return bool(self._waiting or self._in_flight)
        if self._broken:
            return all(b.done for b in self._in_flight)
        if not self._waiting or len(self._in_flight) >= MAX_IN_FLIGHT:
            return False
        if len(self._waiting) >= BATCH_OPS:
            return True
        return time.monotonic() - self._waiting[0].added >= self._gather()

    def _gather(self) -> float:
        """How long the oldest waiting record may wait for others: a mount that sent a
        batch within `interval` is busy, and gathers for that long."""
        busy = self._in_flight or time.monotonic() - self._last_sent < self.interval
        return self.interval if busy else GATHER_S

    def _wait_time(self) -> float | None:
        if self._waiting:
            return max(0.0005, self._waiting[0].added + self._gather() - time.monotonic())
        return None

    def _take(self) -> list[_Record]:
        with self._cond:
            taken: list[_Record] = []
            size = 0
            while self._waiting and len(taken) < BATCH_OPS and (not taken or size < BATCH_BYTES):
                record = self._waiting.popleft()
                taken.append(record)
                size += record.size
            return taken

    def _send_batch(self) -> None:
        if self.before_batch is not None:
            self.before_batch()
        records = self._take()
        if not records:
            return
        _JOURNAL_BEFORE_FLUSH()  # journaled (and answered), not yet sent
        batch = _Batch(records[0].seq, records[-1].seq, records,
                       coalesce([record.op for record in records]))
        try:
            carried = self._upload(batch)
            with self._cond:
                self._in_flight.append(batch)
                self._sent_high = max(self._sent_high, batch.last)
                if self._broken:  # an earlier batch failed meanwhile: resend from there
                    batch.done = True
                    return
            batch.sent = time.monotonic()
            batch.future = self.remote.commit_batch(
                self.workspace, _messages(batch),
                writer_id=self.journal.writer_id, first_seq=batch.first, last_seq=batch.last,
                workspace_id=self.journal.workspace_id, objects=carried)
        except BaseException:
            with self._cond:
                if batch not in self._in_flight:
                    self._waiting.extendleft(reversed(records))
                else:
                    batch.done = True
                self._broken = True
            raise
        self.batches += 1
        self._last_sent = time.monotonic()
        batch.future.add_done_callback(functools.partial(self._answered, batch))

    def _upload(self, batch: _Batch) -> list[KnownObject]:
        """Upload the chunks of `batch` that the server does not hold yet, or return
        them to travel with its commit when they are small (`CARRIED_BYTES`)."""
        wanted = list(dict.fromkeys(oid for op in batch.ops for oid in chunk_ids(op)))
        if not wanted:
            return []
        objects: list[KnownObject] = []
        for oid in wanted:
            data = self.cache.get(oid)
            if data is None:
                raise CorruptData(f"chunk {oid.hex()} of a journaled file is missing "
                                  "from the local cache")
            objects.append((ObjectKind.CHUNK, data, oid))
        if sum(len(data) for _, data, _ in objects) <= CARRIED_BYTES:
            return objects
        self.remote.upload_missing(objects)
        return []

    def _answered(self, batch: _Batch, future: "Future[Any]") -> None:
        """A batch's answer arrived (answers come in order); settle every finished one."""
        with self._cond:
            batch.done = True
            if self.gone:
                return  # dropped with the rest of the journal
            exc = future.exception()
            if exc is not None:
                batch.error = exc
                if isinstance(exc, WorkspaceNotFound):
                    self._gone_reason = exc.message  # the sending thread abandons
                elif not self._broken:
                    log.info("journal: batch %d-%d not applied (%s); resending from the "
                             "server's progress", batch.first, batch.last, exc)
                self._broken = True
            else:
                batch.result = future.result()
            settled = []
            while self._in_flight and self._in_flight[0].done and self._in_flight[0].error is None \
                    and self._in_flight[0].result is not None:
                settled.append(self._in_flight.popleft())
            self._cond.notify_all()
        for done in settled:
            self._settle(done, done.result)

    def _settle(self, batch: _Batch, result: Any) -> None:
        """The server applied `batch`: release its records and tell the mount."""
        skipped = [(batch.ops[index], error) for index, error in getattr(result, "skipped", ())]
        if batch.sent:
            self.metrics.flushed(len(batch.records), batch.sent, batch.records[0].added)
        self.skipped += len(skipped)
        pinned = [oid for record in batch.records for oid in record.pinned]
        if pinned:
            self.cache.unpin(pinned)
        self.journal.acknowledged(batch.last)
        if self.on_applied is not None:
            try:
                self.on_applied(batch.last, result, skipped)
            except Exception:  # the mount's bookkeeping must not stop the flusher
                log.exception("journal: handling an applied batch failed")
        with self._cond:
            self._bytes -= sum(record.size for record in batch.records)
            self.acked_seq = max(self.acked_seq, batch.last)
            self._cond.notify_all()

    def _recover(self) -> None:
        """After a failure: requeue what was not applied, from the server's progress."""
        applied = self.remote.writer_progress(self.workspace, self.journal.writer_id)
        with self._cond:
            # Every batch in flight goes back, answered or not: those the server
            # applied are at or below `applied` and are settled here.
            requeue = [record for batch in self._in_flight for record in batch.records]
            self._in_flight.clear()
            requeue.extend(self._waiting)
            self._waiting.clear()
            dropped = [record for record in requeue if record.seq <= applied]
            self._waiting.extend(record for record in requeue if record.seq > applied)
            self._broken = False
        if dropped:
            # The server applied these though their answer was lost: settle them.
            first, last = dropped[0].seq, dropped[-1].seq
            ops = [record.op for record in dropped]
            batch = _Batch(first, last, dropped, ops)
            self._settle(batch, _Recovered(applied))
        with self._cond:
            self.acked_seq = max(self.acked_seq, min(applied, self.last_seq))
            self._cond.notify_all()


def _messages(batch: _Batch) -> list[Any]:
    """The batch's operations as messages; those coalescing left as they were keep
    the message their record made."""
    made = {id(record.op): record.message for record in batch.records if record.message}
    return [made.get(id(op)) or op_to_wire(op) for op in batch.ops]


@dataclass(frozen=True, slots=True)
class _Recovered:
    """What the server's progress says of batches whose answers were lost."""

    last_seq: int
    version: int = 0
    duplicate: bool = True
    skipped: tuple[tuple[int, CitcError], ...] = ()


def replay_orphans(remote: Any, server: str, workspace: str, cache: ObjectCache,
                   directory: str, timeout: float | None = None) -> int:
    """Send the journals that dead mounts of this server and workspace left behind,
    and delete them; how many records they held. Unavailable if the server does not
    take them within `timeout` (they stay for the next try)."""
    from citcfs.errors import Unavailable

    replayed = 0
    for journal, records in Journal.orphans(directory, server, workspace):
        if not records:
            journal.remove()
            continue
        log.info("replaying %d journaled changes of %r left by an earlier mount",
                 len(records), workspace)
        flusher = Flusher(remote, workspace, journal, cache, recovered=records)
        flusher.start()
        done = flusher.wait_for(records[-1][0], timeout)
        flusher.stop(timeout=0)
        if not done:
            journal.close()
            raise Unavailable(f"could not replay the journal of an earlier mount of "
                              f"{workspace!r}: {flusher.last_error or 'timed out'}")
        journal.remove()  # sent, or dropped because the workspace is gone (logged)
        replayed += 0 if flusher.gone else len(records)
    return replayed
