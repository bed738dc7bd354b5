"""Commits over long-lived CommitStream calls: one at a time (`CommitStream`), or
writer batches sent without waiting for answers (`PipelinedCommits`)."""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from citcfs import errors
from citcfs.objects import KnownObject
from citcfs.protos import citc_pb2 as pb

from .rpc_errors import error_from_commit_error, error_from_rpc

if TYPE_CHECKING:
    from .rpc import Client

log = logging.getLogger("citcfs.client")


def commit_request(workspace: str, ops: Sequence[pb.Op], expected_version: int | None, *,
                   writer_id: bytes = b"", first_seq: int = 0, last_seq: int = 0,
                   skip_failing_ops: bool = False, workspace_id: int = 0,
                   objects: Sequence[KnownObject] = ()) -> pb.CommitRequest:
    """A CommitRequest; `objects` (kind, content, id) travel with it (see the .proto)."""
    request = pb.CommitRequest(workspace=workspace, ops=list(ops), writer_id=writer_id,
                               first_seq=first_seq, last_seq=last_seq,
                               skip_failing_ops=skip_failing_ops, workspace_id=workspace_id)
    for kind, data, oid in objects:
        request.objects.add(id=oid, kind=int(kind), data=data)
    if expected_version is not None:
        request.expected_version = expected_version
    return request


class CommitStream:
    """Commits over one CommitStream call: what `Client.commit` does, at a lower cost
    per commit, since the call is set up once (see the .proto).

    One commit at a time (callers queue on a lock; `busy` tells whether one is
    running, so a caller with other work may use `Client.commit` meanwhile). The
    stream opens at the first commit; if it breaks (the server restarted or shut
    down), that commit raises and the next one opens a new stream. When the server
    refuses a stream (it serves as many as it will), commits go by `Commit` calls for
    a while, then a stream is tried again. A commit on the stream waits for its
    answer without a deadline: the channel's keepalive pings detect a dead server.
    """

    REFUSED_RETRY_S = 60.0
    """After a refused stream, how long commits go by `Commit` calls."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._requests: queue.SimpleQueue[pb.CommitRequest | None] | None = None
        self._responses: Any = None
        self._calls_until = 0.0

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    def commit(self, workspace: str, ops: Sequence[pb.Op],
               expected_version: int | None = None) -> pb.CommitResponse:
        """Commit `ops` as the workspace's next version; the citcfs error if refused."""
        with self._lock:
            if time.monotonic() < self._calls_until:
                return self._client.commit(workspace, ops, expected_version)
            if self._requests is None:
                self._open()
            assert self._requests is not None
            self._requests.put(commit_request(workspace, ops, expected_version))
            try:
                answer = next(self._responses)
            except StopIteration:
                self._reset()
                raise errors.Unavailable("the server closed the commit stream") from None
            except grpc.RpcError as exc:
                self._reset()
                if exc.code() == grpc.StatusCode.CANCELLED:
                    # Only the server cancels a stream this object still uses: it is
                    # shutting down, and did not take this commit.
                    raise errors.Unavailable("the server closed the commit stream") from None
                if exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
                    # A refused stream (or a request over the message limit, which
                    # the call then reports): the commit was not applied.
                    self._calls_until = time.monotonic() + self.REFUSED_RETRY_S
                    return self._client.commit(workspace, ops, expected_version)
                raise error_from_rpc(exc) from None
        if answer.HasField("error"):
            raise error_from_commit_error(answer.error)
        return answer.committed

    def close(self) -> None:
        with self._lock:
            self._reset()

    def _open(self) -> None:
        requests: queue.SimpleQueue[pb.CommitRequest | None] = queue.SimpleQueue()

        def send() -> Iterator[pb.CommitRequest]:
            while (request := requests.get()) is not None:
                yield request

        self._responses = self._client.stub.CommitStream(send(), metadata=self._client._metadata)
        self._requests = requests

    def _reset(self) -> None:
        if self._requests is not None:
            self._requests.put(None)
        if self._responses is not None:
            self._responses.cancel()
        self._requests = self._responses = None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The answer to one writer batch: the version it made (or, when `duplicate`, the
    version recorded for the writer's last applied batch: nothing was applied now),
    and (index, error) of each operation the server left out."""

    version: int
    duplicate: bool
    skipped: tuple[tuple[int, errors.CitcError], ...]


def batch_result(response: pb.CommitResponse) -> BatchResult:
    return BatchResult(int(response.version), bool(response.duplicate),
                       tuple((int(s.index), error_from_commit_error(s.error))
                             for s in response.skipped))


def _settle(future: "Future[BatchResult]", result: BatchResult | None = None,
            error: BaseException | None = None) -> None:
    """Complete `future` unless it is complete already (close() may have failed it)."""
    if future.done():
        return
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - InvalidStateError: settled meanwhile
        pass


class _Stream:
    """One open CommitStream call of a PipelinedCommits: its request queue, its
    response iterator, and the futures of requests sent and not yet answered."""

    def __init__(self, client: Client) -> None:
        self.requests: queue.SimpleQueue[pb.CommitRequest | None] = queue.SimpleQueue()
        self.pending: collections.deque[tuple[pb.CommitRequest, Future[BatchResult]]] = \
            collections.deque()
        self.answered = 0
        self.closed = False
        requests = self.requests

        def send() -> Iterator[pb.CommitRequest]:
            while (request := requests.get()) is not None:
                yield request

        self.responses: Any = client.stub.CommitStream(send(), metadata=client._metadata)

    def end(self) -> None:
        """Stop sending and cancel the call (idempotent)."""
        if not self.closed:
            self.closed = True
            self.requests.put(None)  # releases grpc's sending thread
            self.responses.cancel()


class PipelinedCommits:
    """Writer batches over one CommitStream, sent without waiting for answers.

    `submit` sends a batch at once and returns a future; a reader thread completes
    the futures in the order the batches were sent, which is the order the server
    applies and answers them (see CommitStream in the .proto). A batch the server
    refuses fails its future with the citcfs error (OutOfSequence, ...) and the
    stream goes on. If the stream breaks, every unanswered future fails with
    Unavailable (those batches may or may not have been applied: resend them, the
    server recognizes duplicates) and the next submit opens a new stream. When the
    server refuses the stream (RESOURCE_EXHAUSTED: it serves as many as it will), the
    unanswered batches and later ones go as `Commit` calls, one at a time and in
    order, from a worker thread, for `REFUSED_RETRY_S`; then a stream is tried again.
    """

    REFUSED_RETRY_S = 60.0

    def __init__(self, client: Client) -> None:
        self._client = client
        # Reentrant: a future completed while it is held runs `_forget`, which takes it.
        self._lock = threading.RLock()
        self._stream: _Stream | None = None
        self._calls_until = 0.0
        self._calls: ThreadPoolExecutor | None = None
        self._calls_queued = 0
        self._outstanding: set[Future[BatchResult]] = set()

    @property
    def in_flight(self) -> int:
        """Batches submitted and not yet answered."""
        with self._lock:
            return len(self._outstanding)

    def submit(self, workspace: str, ops: Sequence[pb.Op], *, writer_id: bytes, first_seq: int,
               last_seq: int, skip_failing_ops: bool = True,
               workspace_id: int = 0, objects: Sequence[KnownObject] = ()) -> "Future[BatchResult]":
        """Send one writer batch now (to the workspace with `workspace_id` only, if
        given, with `objects` stored first); its future gives the BatchResult or the
        error."""
        request = commit_request(workspace, ops, None, writer_id=writer_id, first_seq=first_seq,
                                 last_seq=last_seq, skip_failing_ops=skip_failing_ops,
                                 workspace_id=workspace_id, objects=objects)
        future: Future[BatchResult] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            self._outstanding.add(future)
            future.add_done_callback(self._forget)
            if self._calls_queued or time.monotonic() < self._calls_until:
                self._call_later(request, future)
                return future
            stream = self._stream
            if stream is None:
                try:
                    stream = self._stream = self._open()
                except Exception as exc:  # noqa: BLE001 - the future carries it
                    _settle(future, error=errors.Unavailable(f"cannot open a commit stream: {exc}"))
                    return future
            stream.pending.append((request, future))
            stream.requests.put(request)
        return future

    def close(self) -> None:
        """End the stream; unanswered batches fail with Unavailable."""
        with self._lock:
            stream, self._stream = self._stream, None
            calls, self._calls = self._calls, None
            outstanding = list(self._outstanding)
            self._calls_queued = 0
        if stream is not None:
            stream.end()
        if calls is not None:
            calls.shutdown(wait=False, cancel_futures=True)
        for future in outstanding:
            _settle(future, error=errors.Unavailable("the commit stream was closed"))

    # --- inside ----------------------------------------------------------------------

    def _forget(self, future: "Future[BatchResult]") -> None:
        with self._lock:
            self._outstanding.discard(future)

    def _open(self) -> _Stream:
        stream = _Stream(self._client)
        threading.Thread(target=self._read, args=(stream,), name="citc-commit-reader",
                         daemon=True).start()
        return stream

    def _read(self, stream: _Stream) -> None:
        """Complete the stream's futures in order as answers arrive; on a break, fail or
        (for a refused stream) resend the rest."""
        failure: BaseException | None = None
        code: grpc.StatusCode | None = None
        try:
            for answer in stream.responses:
                with self._lock:
                    _, future = stream.pending.popleft()
                    stream.answered += 1
                if answer.HasField("error"):
                    _settle(future, error=error_from_commit_error(answer.error))
                else:
                    _settle(future, batch_result(answer.committed))
            failure = errors.Unavailable("the server closed the commit stream")
        except grpc.RpcError as exc:
            code = exc.code()
            failure = errors.Unavailable(f"the commit stream broke: {code.name}: {exc.details()}")
        except Exception as exc:  # noqa: BLE001 - no future may wait forever
            log.exception("commit stream reader failed")
            failure = errors.Unavailable(f"the commit stream failed: {exc}")
        self._broken(stream, failure, code)

    def _broken(self, stream: _Stream, failure: BaseException,
                code: grpc.StatusCode | None) -> None:
        with self._lock:
            if self._stream is stream:
                self._stream = None
            left = list(stream.pending)
            stream.pending.clear()
            refused = (code == grpc.StatusCode.RESOURCE_EXHAUSTED and stream.answered == 0
                       and not stream.closed)
            if refused:
                # The server refused the stream before reading a request: send them
                # (and the batches after them) as calls, in order.
                self._calls_until = time.monotonic() + self.REFUSED_RETRY_S
                for request, future in left:
                    self._call_later(request, future)
                left = []
        stream.end()
        for _, future in left:
            _settle(future, error=failure)

    def _call_later(self, request: pb.CommitRequest, future: "Future[BatchResult]") -> None:
        """Queue a Commit call on the worker thread (caller holds the lock)."""
        if self._calls is None:
            self._calls = ThreadPoolExecutor(max_workers=1, thread_name_prefix="citc-commit-call")
        self._calls_queued += 1
        self._calls.submit(self._call, request, future)

    def _call(self, request: pb.CommitRequest, future: "Future[BatchResult]") -> None:
        try:
            if not future.done():  # closed meanwhile: nothing to send
                try:
                    response = self._client.stub.Commit(request, metadata=self._client._metadata,
                                                        timeout=60)
                    _settle(future, batch_result(response))
                except grpc.RpcError as exc:
                    _settle(future, error=error_from_rpc(exc))
                except Exception as exc:  # noqa: BLE001 - the future carries it
                    _settle(future, error=errors.Unavailable(f"commit call failed: {exc}"))
        finally:
            with self._lock:
                self._calls_queued = max(0, self._calls_queued - 1)
