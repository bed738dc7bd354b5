"""What every RPC of the citc.v1 servicer shares: the wrappers and the access checks.

Every RPC method is wrapped by `unary` or `streaming`, which authenticate the caller and
turn any exception into a gRPC status through the one table in `server.errors`, so the
methods themselves raise citcfs errors and never touch status codes. `RpcBase` holds
what the RPC groups (`rpc_*.py`) use: the `Database`, the caller's access to a
workspace (`_workspace`), and how a request names a version or a ref.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import grpc

from citcfs import wire
from citcfs.entries import Tree
from citcfs.errors import InvalidArgument
from citcfs.objects import CHUNK_SIZE, ObjectId, ObjectKind
from citcfs.protos import citc_pb2 as pb
from citcfs.protos import citc_pb2_grpc as pb_grpc
from citcfs.storage import Database
from citcfs.storage.index_values import WorkspaceState
from citcfs.storage.results import BaseRef, Ref, WorkspaceRef

from .auth import Authenticator, Identity, require
from .commit_streams import CommitStreams
from .errors import details_for, status_for, trailers_for
from .grants import Access, GrantStore
from .hub import InvalidationHub
from .limits import Limits

log = logging.getLogger("citcfs.server")

Rpcs = TypeVar("Rpcs", bound="RpcBase")
Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[[Rpcs, Request, grpc.ServicerContext, Identity], Response]
"""An RPC method as written: it also takes the caller's authenticated identity."""
RpcMethod = Callable[[Rpcs, Request, grpc.ServicerContext], Response]
"""An RPC method as grpcio calls it."""


def _fail(context: grpc.ServicerContext, method: str, exc: BaseException) -> NoReturn:
    """Abort the call with the status `exc` maps to (this raises)."""
    code = status_for(exc)
    if code is None:
        log.error("%s failed unexpectedly", method, exc_info=exc)
        context.abort(grpc.StatusCode.INTERNAL, f"internal error in {method}: "
                      f"{type(exc).__name__}; see the server log")
    log.info("%s -> %s: %s", method, code.name, details_for(exc))
    context.set_trailing_metadata(trailers_for(exc))
    context.abort(code, details_for(exc))


def _aborted(context: grpc.ServicerContext) -> bool:
    """Whether the call already ended with a status (`context.abort` raised)."""
    return cast(Any, context).code() is not None


def unary(method: Handler[Rpcs, Request, Response]) -> RpcMethod[Rpcs, Request, Response]:
    """Wrap an RPC returning one message: authenticate, map errors to a status."""
    @functools.wraps(method)
    def wrapper(self: Rpcs, request: Request, context: grpc.ServicerContext) -> Response:
        try:
            identity = self.auth.authenticate(context)
            return method(self, request, context, identity)
        except Exception as exc:  # noqa: BLE001 - every error becomes a status
            if _aborted(context):
                raise
            _fail(context, method.__name__, exc)
    return wrapper


def streaming(method: Handler[Rpcs, Request, Iterator[Response]]
              ) -> RpcMethod[Rpcs, Request, Iterator[Response]]:
    """Wrap an RPC that yields messages: authenticate, map errors to a status."""
    @functools.wraps(method)
    def wrapper(self: Rpcs, request: Request,
                context: grpc.ServicerContext) -> Iterator[Response]:
        try:
            identity = self.auth.authenticate(context)
            yield from method(self, request, context, identity)
        except Exception as exc:  # noqa: BLE001
            if _aborted(context):
                raise
            _fail(context, method.__name__, exc)
    return wrapper


def version_fields(msg: Any) -> tuple[int | None, str]:
    """The version and the label a request names (at most one of them)."""
    version = msg.version if msg.HasField("version") else None
    if version is not None and msg.label:
        raise InvalidArgument("give a version or a label, not both")
    return version, msg.label


def batches(messages: Iterable[Any], max_count: int, max_bytes: int) -> Iterator[list[Any]]:
    """Group messages so that no batch exceeds `max_count` items or ~`max_bytes`."""
    batch: list[Any] = []
    size = 0
    for message in messages:
        item_size = message.ByteSize() + 8
        if batch and (len(batch) >= max_count or size + item_size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(message)
        size += item_size
    if batch:
        yield batch


class RpcBase(pb_grpc.CitcServicer):
    """What every group of RPCs shares: the served `Database`, the caller checks,
    the limits, and the helpers that resolve a request's workspace, version or ref."""

    def __init__(self, db: Database, auth: Authenticator, grants: GrantStore,
                 hub: InvalidationHub, limits: Limits) -> None:
        self.db = db
        self.auth = auth
        self.grants = grants
        self.hub = hub
        self.limits = limits
        self.commit_streams = CommitStreams(limits.max_commit_streams)
        self._batch_bytes = max(64 << 10, limits.max_message_bytes // 4)

    def _workspace(self, identity: Identity, name: str,
                   needed: Access) -> tuple[WorkspaceState, Access]:
        """The workspace's state and the caller's access, checked against `needed`."""
        if not name:
            raise InvalidArgument("which workspace? the name is empty")
        state = self.db.workspace(name)
        access = require(identity, name, state.id, state.owner, self.grants, needed)
        return state, access

    def _resolve_version(self, state: WorkspaceState, version: int | None, label: str) -> int:
        """The version a request names by number or label (the head by default)."""
        if label:
            return self.db.version_of(state.name, label)
        if version is None:
            return state.version
        if not 0 <= version <= state.version:
            raise InvalidArgument(f"workspace {state.name!r} has versions 0 to "
                                  f"{state.version}, not {version}")
        return version

    def _ref(self, identity: Identity, msg: pb.Ref) -> Ref:
        """A storage ref for Diff, after checking read access to a workspace ref."""
        which = msg.WhichOneof("ref")
        if which == "workspace":
            ref = msg.workspace
            state, _ = self._workspace(identity, ref.workspace, Access.READ)
            version, label = version_fields(ref)
            if ref.fork and (version is not None or label):
                raise InvalidArgument("a fork ref names the fork point, not a version or a label")
            return WorkspaceRef(state.name, version, label or None, fork=ref.fork)
        if which == "base":
            if not msg.base.base:
                raise InvalidArgument("which base? the ref's base name is empty")
            return BaseRef(msg.base.base, msg.base.rev if msg.base.HasField("rev") else None)
        raise InvalidArgument("a ref names a workspace or a base")

    def _object_from_wire(self, msg: pb.Object) -> tuple[ObjectKind, bytes, ObjectId]:
        """An uploaded object, checked: known kind, size, well-formed tree, id given."""
        kind = wire.kind_from_wire(msg.kind)
        oid = wire.id_from_wire(msg.id)
        data = bytes(msg.data)
        if kind == ObjectKind.CHUNK and len(data) > CHUNK_SIZE:
            raise InvalidArgument(f"a chunk holds at most {CHUNK_SIZE} bytes, not {len(data)}")
        if kind == ObjectKind.TREE:
            Tree.decode(data).check()
        return kind, data, oid
