"""Group commit: many callers' write jobs share one durable transaction.

The first caller to find no transaction in progress becomes the leader: it takes
every job queued so far, runs each in a nested transaction of one write transaction,
and commits it once, so one fsync serves the whole batch. Callers that arrive while
it works queue up and the next leader takes them all. A job that raises is rolled
back alone (its nested transaction is aborted) and its caller gets the error; the
others are unaffected. No caller is answered before the batch is durable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .backend import KVStore, KVTxn

T = TypeVar("T")

BatchListener = Callable[[list[Any]], None]


class _Request(Generic[T]):
    __slots__ = ("job", "result", "error", "done", "wake")

    def __init__(self, job: Callable[[KVTxn], T]) -> None:
        self.job = job
        self.result: T | None = None
        self.error: BaseException | None = None
        self.done = False
        self.wake = threading.Event()

    def outcome(self) -> T:
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class GroupCommitter:
    """Serializes write jobs on a KVStore, batching those that arrive together.

    Each waiting caller sleeps on an event of its own: the leader wakes exactly the
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

    def submit(self, job: Callable[[KVTxn], T]) -> T:
        """Run `job` inside a durable write transaction and return its result."""
        request: _Request[T] = _Request(job)
        with self._lock:
            self._queue.append(request)
            leading = not self._leader_active
            self._leader_active = True
        if not leading:
            request.wake.wait()
            if request.done:
                return request.outcome()
            # Otherwise the previous leader handed leadership to this caller.
        try:
            while not request.done:
                with self._lock:
                    batch = self._queue[:self._max_batch]
                    del self._queue[:self._max_batch]
                try:
                    self._run(batch)
                finally:
                    for item in batch:
                        item.done = True
                        if item is not request:
                            item.wake.set()
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].wake.set()
                else:
                    self._leader_active = False
        return request.outcome()

    def _run(self, batch: list[_Request[Any]]) -> None:
        succeeded: list[Any] = []
        try:
            with self._store.write() as txn:
                if len(batch) == 1:
                    # Alone in its batch, a job needs no nested transaction: if it
                    # fails, aborting the whole (otherwise empty) transaction is the
                    # same, and its caller gets the error below.
                    batch[0].result = batch[0].job(txn)
                    succeeded.append(batch[0].result)
                else:
                    for request in batch:
                        try:
                            with txn.nested() as child:
                                request.result = request.job(child)
                        except Exception as exc:  # the caller gets it; the batch goes on
                            request.error = exc
                        else:
                            succeeded.append(request.result)
        except BaseException as exc:
            for request in batch:
                if request.error is None:
                    request.error = exc
                    request.result = None
            raise
        finally:
            self.batches += 1
            self.jobs += len(batch)
        if self._on_durable is not None and succeeded:
            self._on_durable(succeeded)
