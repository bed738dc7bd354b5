"""Group commit: many callers' write jobs share one durable transaction.

The first caller to find no transaction in progress becomes the leader: it takes
every job queued so far, runs them in one write transaction, and commits it once, so
one fsync serves the whole batch. Callers that arrive while it works queue up and the
next leader takes them all. A job that raises is rolled back alone and its caller
gets the error; the others are unaffected. No caller is answered before the batch is
durable.

Jobs run flat, one after another in the write transaction itself, since almost none
fail and a nested transaction per job costs two more LMDB calls (each one a hand-off
of the GIL while other threads queue). When a job of a larger batch raises, the whole
transaction is aborted and the batch runs again with each job in a nested
transaction of its own. Jobs are therefore functions of the transaction they are
given: running one twice must be harmless (database jobs read everything they
decide on from the transaction).

On a shared store (etcd) two more outcomes exist. `WriteConflict`: another server
committed after the batch read; nothing was applied, and the batch is planned and run
again on the new state, so no job ever applies over a head it did not see.
`TxnTooLarge`: the batch exceeds the store's limits; it is split in two halves, each
committed on its own, and a job too large alone gets the error.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from citcfs.errors import TxnTooLarge, Unavailable, WriteConflict

from citcfs.failpoints import failpoint

from .backend import KVStore, KVTxn

MAX_CONFLICTS = 200
"""Conflicts one batch survives before its callers get `Unavailable`."""

if TYPE_CHECKING:
    from .observe import StorageObserver

T = TypeVar("T")

_COMMIT_DURABLE = failpoint("commit-durable")

BatchListener = Callable[[list[Any]], None]


class _Request(Generic[T]):
    __slots__ = ("job", "result", "error", "done", "_parked", "queued", "started")

    def __init__(self, job: Callable[[KVTxn], T]) -> None:
        self.job = job
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False
        self.queued = self.started = 0.0  # perf_counter stamps, set while observed
        # A lock held from the start: the caller parks on it, and the leader releases
        # it exactly once (when the job is done, or to hand over leadership). A bare
        # lock is one C call each way, where an Event is several frames of Python.
        self._parked = threading.Lock()
        self._parked.acquire()

    def park(self) -> None:
        """Sleep until `wake`."""
        self._parked.acquire()

    def wake(self) -> None:
        self._parked.release()

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class _Retry(Exception):
    """Aborts a flat run of a batch in which a job failed."""


class GroupCommitter:
    """Serializes write jobs on a KVStore, batching those that arrive together.

    Each waiting caller sleeps on a lock of its own: the leader wakes exactly the
    callers of the batch it finished, and hands leadership to the oldest queued one,
    so a commit storm does not wake every thread after every batch.
    """

    def __init__(self, store: KVStore, *, max_batch: int = 512,
                 on_durable: BatchListener | None = None) -> None:
        self._store = store
        self._max_batch = max_batch
        self._on_durable = on_durable
        self._lock = threading.Lock()
        self._queue: list[_Request[Any]] = []
        self._leader_active = False
        self.batches = 0
        self.jobs = 0
        self.conflicts = 0
        self.observer: StorageObserver | None = None
        """Told of each batch and each job's wait (`Engine.observe`); None: no timing."""

    def submit(self, job: Callable[[KVTxn], T]) -> T:
        """Run `job` inside a durable write transaction and return its result."""
        request: _Request[T] = _Request(job)
        observer = self.observer
        if observer is not None:
            request.queued = time.perf_counter()
        with self._lock:
            self._queue.append(request)
            leading = not self._leader_active
            self._leader_active = True
        if not leading:
            request.park()
            if request.done:
                if observer is not None:  # timed by each caller, off the leader's path
                    observer.commit_wait(request.started - request.queued)
                return request.outcome()
            # Otherwise the previous leader handed leadership to this caller.
        try:
            while not request.done:
                with self._lock:
                    batch = self._queue[:self._max_batch]
                    del self._queue[:self._max_batch]
                started = time.perf_counter()
                try:
                    self._run(batch)
                finally:
                    for item in batch:
                        item.started = started
                        item.done = True
                        if item is not request:
                            item.wake()
                watching = self.observer
                if watching is not None:
                    watching.commit_batch(len(batch), time.perf_counter() - started)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].wake()
                else:
                    self._leader_active = False
        if observer is not None:
            observer.commit_wait(request.started - request.queued)
        return request.outcome()

    def _run(self, batch: list[_Request[Any]]) -> None:
        try:
            self._commit(batch)
        except BaseException as exc:
            for request in batch:
                if request.error is None:
                    request.error = exc
                    request.result = None
            raise
        finally:
            self.batches += 1
            self.jobs += len(batch)
        succeeded = [request.result for request in batch if request.error is None]
        if succeeded:
            _COMMIT_DURABLE()  # durable, and no caller answered yet
        if self._on_durable is not None and succeeded:
            self._on_durable(succeeded)

    def _commit(self, batch: list[_Request[Any]]) -> None:
        """Run and commit `batch`: again after a conflict, in halves when too large."""
        conflicts = 0
        while True:
            try:
                try:
                    self._attempt(batch, nested=False)
                except _Retry:
                    if len(batch) > 1:  # alone, the failed job's abort was all there was
                        _reset(batch)
                        self._attempt(batch, nested=True)
                return
            except WriteConflict:
                conflicts += 1
                self.conflicts += 1
                if conflicts >= MAX_CONFLICTS:
                    raise Unavailable("the store is too contended: a commit lost "
                                      f"{conflicts} races in a row") from None
                _reset(batch)
                time.sleep(random.uniform(0, min(0.05, 0.001 * conflicts)))
            except TxnTooLarge as exc:
                _reset(batch)
                if len(batch) == 1:
                    batch[0].error = exc
                    return
                half = len(batch) // 2
                self._commit(batch[:half])
                self._commit(batch[half:])
                return

    def _attempt(self, batch: list[_Request[Any]], nested: bool) -> None:
        """Run every job of `batch` in one write transaction and commit it.

        Flat, the first failing job aborts everything (`_Retry`); nested, it is
        rolled back alone and the others are committed.
        """
        with self._store.write() as txn:
            for request in batch:
                try:
                    if nested:
                        with txn.nested() as child:
                            request.result = request.job(child)
                    else:
                        request.result = request.job(txn)
                except Exception as exc:  # the caller gets it; the batch goes on
                    request.error = exc
                    request.result = None
                    if not nested:
                        raise _Retry() from None


def _reset(batch: list[_Request[Any]]) -> None:
    for request in batch:
        request.result = request.error = None
