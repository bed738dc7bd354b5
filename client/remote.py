"""What the FUSE client needs from the server, as one narrow interface.

`WorkspaceFS` talks to the server only through a `Remote`; `client.rpc` provides the
gRPC implementation. Keeping the interface this small documents exactly which calls
a mount makes (and which it must survive failing).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import grpc

from citcfs.entries import Entry
from citcfs.errors import Unavailable, WorkspaceDeleted
from citcfs.objects import KnownObject, ObjectId, ObjectKind

from .rpc_errors import error_from_rpc

if TYPE_CHECKING:
    from .commit_streams import BatchResult
    from .rpc import Client

log = logging.getLogger("citcfs.client")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Paths changed in a workspace after `since`, up to `version`.

    `truncated` means the server cannot say: the client drops every cached path.
    """

    since: int
    version: int
    paths: tuple[str, ...]
    truncated: bool


class Remote(Protocol):
    def workspace_head(self, workspace: str) -> tuple[int, int]:
        """(id, head version); WorkspaceNotFound if there is no such workspace."""
        ...

    def lookup(self, workspace: str, path: str, version: int | None = None) -> Entry: ...

    def listdir(self, workspace: str, path: str,
                version: int | None = None) -> list[tuple[str, Entry]]: ...

    def read_objects(self, ids: Sequence[ObjectId],
                     received: Callable[[ObjectId, bytes], None] | None = None,
                     ) -> Iterator[tuple[ObjectId, bytes]]:
        """The content of each object, verified against its id.

        `received(id, content)` is called as each object arrives, before the rest
        of the batch, so a reader waiting for the first one need not wait for all
        (after a retry it may be called again for the same object).
        """
        ...

    def missing_objects(self, ids: Sequence[ObjectId]) -> list[ObjectId]: ...

    def put_objects(self, objects: Sequence[tuple[ObjectKind, bytes]]) -> None: ...

    def upload_missing(self, objects: Sequence[KnownObject]) -> int:
        """Upload those of (kind, content, id) the server lacks; how many."""
        ...

    def commit(self, workspace: str, ops: Sequence[object],
               expected_version: int | None = None) -> int:
        """Apply storage ops (citcfs.storage.ops values) as one version; return it."""
        ...

    def commit_batch(self, workspace: str, ops: Sequence[object], *, writer_id: bytes,
                     first_seq: int, last_seq: int, workspace_id: int = 0,
                     objects: Sequence[KnownObject] = ()) -> "Future[BatchResult]":
        """Send one writer batch (wire ops, citcfs.wire's *_op) pipelined, skipping
        failing ops, to the workspace with `workspace_id` only (if non-zero), with
        `objects` (kind, content, id) that the server stores first; the
        future gives its BatchResult, or the error (OutOfSequence, WorkspaceNotFound,
        or Unavailable when the stream broke: the caller resends, duplicates are
        recognized). Never retried here."""
        ...

    def writer_progress(self, workspace: str, writer_id: bytes) -> int:
        """The last seq the workspace applied for this writer (0 if none)."""
        ...

    def changes(self, workspace: str, since: int) -> ChangeSet: ...

    def versions(self, workspace: str) -> list[int]: ...

    def version_times(self, workspace: str, start: int = 0) -> dict[int, int]:
        """Each version of the workspace from `start` on, and when it was made (ns
        since the epoch)."""
        ...

    def labels(self, workspace: str) -> dict[str, int]: ...

    def redirections(self, workspace: str) -> tuple[str, ...]:
        """The workspace's directories that live on local disk only."""
        ...

    def watch(self, known: Mapping[str, int]) -> Iterator[tuple[str, int]]:
        """(workspace, newest version) events until the stream ends or fails;
        WorkspaceDeleted when the server says a watched workspace was deleted."""
        ...

    def close(self) -> None: ...


RETRIES = 5
RETRY_DELAY = 0.2


def _retrying(fn: Callable[[], T], what: str) -> T:
    """Run `fn`, retrying while the server is unreachable; then give up with the error."""
    delay = RETRY_DELAY
    for attempt in range(RETRIES):
        try:
            return fn()
        except Unavailable as exc:
            if attempt == RETRIES - 1:
                log.error("server unreachable, giving up on %s: %s", what, exc)
                raise
            log.warning("server unreachable during %s, retrying: %s", what, exc)
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class RpcRemote:
    """A `Remote` over the gRPC client wrapper (`citcfs.client.rpc.Client`)."""

    def __init__(self, client: "Client") -> None:
        self.client = client
        self._commits = client.commit_stream()
        self._batches = client.pipelined_commits()

    def workspace_head(self, workspace: str) -> tuple[int, int]:
        found = _retrying(lambda: self.client.describe_workspace(workspace), "describe")
        return int(found.id), int(found.version)

    def lookup(self, workspace: str, path: str, version: int | None = None) -> Entry:
        return _retrying(lambda: self.client.lookup(workspace, path, version), "lookup")

    def listdir(self, workspace: str, path: str,
                version: int | None = None) -> list[tuple[str, Entry]]:
        return _retrying(lambda: self.client.listdir(workspace, path, version), "listdir")

    def read_objects(self, ids: Sequence[ObjectId],
                     received: Callable[[ObjectId, bytes], None] | None = None,
                     ) -> Iterator[tuple[ObjectId, bytes]]:
        def fetch() -> list[tuple[ObjectId, bytes]]:
            found = []
            for oid, _, data in self.client.read_objects(ids):
                found.append((oid, data))
                if received is not None:
                    received(oid, data)
            return found
        return iter(_retrying(fetch, "read"))

    def missing_objects(self, ids: Sequence[ObjectId]) -> list[ObjectId]:
        return _retrying(lambda: self.client.has_objects(ids), "has-objects")

    def put_objects(self, objects: Sequence[tuple[ObjectKind, bytes]]) -> None:
        _retrying(lambda: self.client.put_objects(objects), "upload")

    def upload_missing(self, objects: Sequence[KnownObject]) -> int:
        return _retrying(lambda: self.client.upload_missing(objects), "upload")

    def commit(self, workspace: str, ops: Sequence[object],
               expected_version: int | None = None) -> int:
        def commit() -> Any:
            # The stream is the cheaper way; a commit arriving while another thread's
            # is in it takes a call of its own rather than waiting its turn.
            if self._commits.busy:
                return self.client.commit(workspace, ops, expected_version)
            return self._commits.commit(workspace, ops, expected_version)  # type: ignore[arg-type]
        return int(_retrying(commit, "commit").version)

    def commit_batch(self, workspace: str, ops: Sequence[object], *, writer_id: bytes,
                     first_seq: int, last_seq: int, workspace_id: int = 0,
                     objects: Sequence[KnownObject] = ()) -> "Future[BatchResult]":
        return self._batches.submit(workspace, ops, writer_id=writer_id,  # type: ignore[arg-type]
                                    first_seq=first_seq, last_seq=last_seq,
                                    skip_failing_ops=True, workspace_id=workspace_id,
                                    objects=objects)

    def writer_progress(self, workspace: str, writer_id: bytes) -> int:
        return _retrying(lambda: self.client.writer_progress(workspace, writer_id),
                         "writer progress")[0]

    def changes(self, workspace: str, since: int) -> ChangeSet:
        response = _retrying(lambda: self.client.changes(workspace, since), "changes")
        return ChangeSet(since, int(response.version), tuple(self.client.changed_paths(response)),
                         bool(response.truncated))

    def versions(self, workspace: str) -> list[int]:
        return [int(v.version) for v in _retrying(lambda: self.client.versions(workspace), "versions")]

    def version_times(self, workspace: str, start: int = 0) -> dict[int, int]:
        found = _retrying(lambda: self.client.versions(workspace, start), "versions")
        return {int(v.version): int(v.time_ns) for v in found}

    def labels(self, workspace: str) -> dict[str, int]:
        found = _retrying(lambda: self.client.labels(workspace), "labels")
        return {label.label: int(label.version) for label in found}

    def redirections(self, workspace: str) -> tuple[str, ...]:
        return _retrying(lambda: self.client.redirections(workspace), "redirections")

    def watch(self, known: Mapping[str, int]) -> Iterator[tuple[str, int]]:
        stream = self.client.watch(dict(known))
        self._stream = stream
        try:
            for event in stream:
                if event.deleted:
                    raise WorkspaceDeleted(f"workspace {event.workspace!r} was deleted")
                if not event.heartbeat:
                    yield event.workspace, int(event.version)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    def close(self) -> None:
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.cancel()
        self._commits.close()
        self._batches.close()
        self.client.close()
