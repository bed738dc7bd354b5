"""The citc.v1 servicer: each RPC authenticates, checks access, calls `Database`.

Every method is wrapped by `unary` or `streaming`, which authenticate the caller and
turn any exception into a gRPC status through the one table in `server.errors`, so the
methods themselves raise citcfs errors and never touch status codes.

Concurrency: grpcio runs each call on a pool thread. Reads take a short LMDB read
transaction inside `Database` and run in parallel; commits go through
`Database.commit`, whose group committer batches concurrent callers into one durable
transaction and answers each with its own result. Streams never hold a read
transaction: ListDir and Diff read first (or iterate storage that reads in short
transactions), then send; Watch holds only a `Watcher`.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NoReturn, TypeVar, cast

import grpc

from citcfs import __version__ as citcfs_version
from citcfs import paths, wire
from citcfs.entries import Entry, Tree
from citcfs.errors import (HistoryTruncated, InvalidArgument, PermissionDenied,
                           WorkspaceNotFound)
from citcfs.objects import CHUNK_SIZE, ObjectId, ObjectKind
from citcfs.protos import citc_pb2 as pb
from citcfs.protos import citc_pb2_grpc as pb_grpc
from citcfs.storage import Database
from citcfs.storage.index_values import WorkspaceState
from citcfs.storage.results import BaseRef, Ref, WorkspaceRef

from . import convert
from .auth import Authenticator, Identity, access_of, require
from .commit_streams import CommitStreams
from .errors import conflict_paths_for, details_for, status_for, trailers_for
from .grants import Access, GrantStore
from .hub import InvalidationHub
from .limits import Limits

log = logging.getLogger("citcfs.server")

Request = TypeVar("Request")
Response = TypeVar("Response")
Handler = Callable[["CitcServicer", Request, grpc.ServicerContext, Identity], Response]
"""An RPC method as written: it also takes the caller's authenticated identity."""
RpcMethod = Callable[["CitcServicer", Request, grpc.ServicerContext], Response]
"""An RPC method as grpcio calls it."""

_IMPORT_OBJECT_BATCH = 256


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


def unary(method: Handler[Request, Response]) -> RpcMethod[Request, Response]:
    """Wrap an RPC returning one message: authenticate, map errors to a status."""
    @functools.wraps(method)
    def wrapper(self: "CitcServicer", request: Request, context: grpc.ServicerContext) -> Response:
        try:
            identity = self.auth.authenticate(context)
            return method(self, request, context, identity)
        except Exception as exc:  # noqa: BLE001 - every error becomes a status
            if _aborted(context):
                raise
            _fail(context, method.__name__, exc)
    return wrapper


def streaming(method: Handler[Request, Iterator[Response]]
              ) -> RpcMethod[Request, Iterator[Response]]:
    """Wrap an RPC that yields messages: authenticate, map errors to a status."""
    @functools.wraps(method)
    def wrapper(self: "CitcServicer", request: Request,
                context: grpc.ServicerContext) -> Iterator[Response]:
        try:
            identity = self.auth.authenticate(context)
            yield from method(self, request, context, identity)
        except Exception as exc:  # noqa: BLE001
            if _aborted(context):
                raise
            _fail(context, method.__name__, exc)
    return wrapper


def commit_error_for(exc: BaseException) -> pb.CommitError | None:
    """The CommitError naming what a Commit call failing with `exc` would have said,
    or None for an unexpected exception (a bug)."""
    code = status_for(exc)
    if code is None:
        return None
    return pb.CommitError(code=code.value[0], message=details_for(exc), error=type(exc).__name__,
                          conflict_paths=conflict_paths_for(exc))


def _version_fields(msg: Any) -> tuple[int | None, str]:
    version = msg.version if msg.HasField("version") else None
    if version is not None and msg.label:
        raise InvalidArgument("give a version or a label, not both")
    return version, msg.label


def _batches(messages: Iterable[Any], max_count: int, max_bytes: int) -> Iterator[list[Any]]:
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


class CitcServicer(pb_grpc.CitcServicer):
    """Serves one `Database` to authenticated callers."""

    def __init__(self, db: Database, auth: Authenticator, grants: GrantStore,
                 hub: InvalidationHub, limits: Limits) -> None:
        self.db = db
        self.auth = auth
        self.grants = grants
        self.hub = hub
        self.limits = limits
        self.commit_streams = CommitStreams(limits.max_commit_streams)
        self._batch_bytes = max(64 << 10, limits.max_message_bytes // 4)

    # --- helpers -------------------------------------------------------------------

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
            version, label = _version_fields(ref)
            if ref.fork and (version is not None or label):
                raise InvalidArgument("a fork ref names the fork point, not a version or a label")
            return WorkspaceRef(state.name, version, label or None, fork=ref.fork)
        if which == "base":
            if not msg.base.base:
                raise InvalidArgument("which base? the ref's base name is empty")
            return BaseRef(msg.base.base, msg.base.rev if msg.base.HasField("rev") else None)
        raise InvalidArgument("a ref names a workspace or a base")

    # --- server ----------------------------------------------------------------------

    @unary
    def ServerInfo(self, request: pb.ServerInfoRequest, context: grpc.ServicerContext,
                   identity: Identity) -> pb.ServerInfoResponse:
        limits = self.limits
        return pb.ServerInfoResponse(
            server_version=citcfs_version, api_version="citc.v1", user=identity.user,
            limits=pb.Limits(max_message_bytes=limits.max_message_bytes,
                             max_ops_per_commit=limits.max_ops_per_commit,
                             max_ids_per_request=limits.max_ids_per_request,
                             chunk_size=limits.chunk_size, inline_max=limits.inline_max,
                             max_watch_streams=limits.max_watch_streams,
                             max_commit_streams=limits.max_commit_streams,
                             name_max=limits.name_max, path_max=limits.path_max))

    # --- bases -----------------------------------------------------------------------

    @unary
    def ImportBase(self, request_iterator: Iterator[pb.ImportBaseRequest],
                   context: grpc.ServicerContext, identity: Identity) -> pb.ImportBaseResponse:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("item") != "header":
            raise InvalidArgument("an ImportBase stream starts with its header")
        base = paths.check_label(first.header.base, "base name")
        pending: list[tuple[ObjectKind, bytes, ObjectId | None]] = []
        entries: dict[str, Entry] = {}
        objects = 0
        root: ObjectId | None = None
        for request in request_iterator:
            which = request.WhichOneof("item")
            if root is not None:
                raise InvalidArgument("nothing may follow the root in an ImportBase stream")
            if which == "object":
                pending.append(self._object_from_wire(request.object))
                objects += 1
                if len(pending) >= _IMPORT_OBJECT_BATCH:
                    self.db.put_objects(pending)
                    pending.clear()
            elif which == "entry":
                path = wire.path_from_wire(request.entry.path)
                if path == paths.ROOT:
                    raise InvalidArgument("an imported entry needs a path below the root")
                if path in entries:
                    raise InvalidArgument(f"path {path!r} is imported twice")
                entries[path] = wire.entry_from_wire(request.entry.entry)
            elif which == "root":
                root = wire.id_from_wire(request.root)
            else:
                raise InvalidArgument("an ImportBase message after the first holds an "
                                      "object, an entry or the root")
        self.db.put_objects(pending)
        if root is not None and entries:
            raise InvalidArgument("an import gives either entries or a root, not both")
        if root is None:
            revision, made = self.db.import_entries(base, entries, first.header.message)
        else:
            revision, made = self.db.import_tree(base, root, first.header.message)
        log.info("imported base %s revision %d (%d objects, %d entries%s) for %s", base,
                 revision.rev, objects, len(entries), "" if made else ", unchanged",
                 identity.user)
        response = pb.ImportBaseResponse(objects=objects, entries=len(entries),
                                         unchanged=not made)
        convert.revision_to_wire(revision, response.revision)
        return response

    @unary
    def ListBases(self, request: pb.ListBasesRequest, context: grpc.ServicerContext,
                  identity: Identity) -> pb.ListBasesResponse:
        response = pb.ListBasesResponse()
        for info in self.db.list_bases():
            convert.revision_to_wire(info.latest, response.bases.add(name=info.name).latest)
        return response

    @unary
    def BaseHistory(self, request: pb.BaseHistoryRequest, context: grpc.ServicerContext,
                    identity: Identity) -> pb.BaseHistoryResponse:
        response = pb.BaseHistoryResponse()
        for revision in self.db.base_history(request.base):
            convert.revision_to_wire(revision, response.revisions.add())
        return response

    # --- workspaces ------------------------------------------------------------------

    @unary
    def CreateWorkspace(self, request: pb.CreateWorkspaceRequest, context: grpc.ServicerContext,
                        identity: Identity) -> pb.Workspace:
        rev = request.base_rev if request.HasField("base_rev") else None
        state = self.db.create_workspace(request.name, request.base, rev, owner=identity.user)
        log.info("workspace %s created over %s@%d by %s", state.name, state.base,
                 state.base_rev, identity.user)
        return convert.workspace_to_wire(state, Access.OWNER)

    @unary
    def ForkWorkspace(self, request: pb.ForkWorkspaceRequest, context: grpc.ServicerContext,
                      identity: Identity) -> pb.Workspace:
        source, _ = self._workspace(identity, request.source, Access.READ)
        version, label = _version_fields(request)
        state = self.db.fork(source.name, request.name, label or version, owner=identity.user)
        log.info("workspace %s forked from %s by %s", state.name, source.name, identity.user)
        return convert.workspace_to_wire(state, Access.OWNER)

    @unary
    def ListWorkspaces(self, request: pb.ListWorkspacesRequest, context: grpc.ServicerContext,
                       identity: Identity) -> pb.ListWorkspacesResponse:
        response = pb.ListWorkspacesResponse()
        for state in sorted(self.db.list_workspaces(), key=lambda s: s.name):
            access = access_of(identity, state.id, state.owner, self.grants)
            if access >= Access.READ:
                response.workspaces.append(convert.workspace_to_wire(state, access))
        return response

    @unary
    def DescribeWorkspace(self, request: pb.DescribeWorkspaceRequest,
                          context: grpc.ServicerContext, identity: Identity) -> pb.Workspace:
        state, access = self._workspace(identity, request.name, Access.READ)
        return convert.workspace_to_wire(state, access, self.grants.grantees(state.id))

    @unary
    def DeleteWorkspace(self, request: pb.DeleteWorkspaceRequest, context: grpc.ServicerContext,
                        identity: Identity) -> pb.DeleteWorkspaceResponse:
        state, _ = self._workspace(identity, request.name, Access.OWNER)
        self.db.delete_workspace(state.name)
        self.grants.drop(state.id)
        self.hub.deleted(state.name)
        log.info("workspace %s deleted by %s", state.name, identity.user)
        return pb.DeleteWorkspaceResponse()

    @unary
    def Grant(self, request: pb.GrantRequest, context: grpc.ServicerContext,
              identity: Identity) -> pb.GrantResponse:
        state, _ = self._workspace(identity, request.workspace, Access.OWNER)
        access = convert.ACCESS_FROM_WIRE.get(request.access)
        if access is None or access == Access.OWNER:
            raise InvalidArgument("grant ACCESS_READ or ACCESS_WRITE, or ACCESS_NONE to revoke")
        if request.user == state.owner:
            raise InvalidArgument(f"{request.user!r} owns workspace {state.name!r}")
        self.grants.grant(state.id, request.user, access)
        log.info("workspace %s: %s granted %s by %s", state.name, request.user,
                 access.name.lower(), identity.user)
        return pb.GrantResponse()

    # --- reads -----------------------------------------------------------------------

    @unary
    def Lookup(self, request: pb.LookupRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.LookupResponse:
        path = wire.path_from_wire(request.path)
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        version = self._resolve_version(state, *_version_fields(request))
        entry = self.db.lookup(state.name, path, version)
        response = pb.LookupResponse(version=version)
        wire.entry_to_wire(entry, response.entry)
        return response

    @streaming
    def ListDir(self, request: pb.ListDirRequest, context: grpc.ServicerContext,
                identity: Identity) -> Iterator[pb.ListDirResponse]:
        path = wire.path_from_wire(request.path)
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        version = self._resolve_version(state, *_version_fields(request))
        listing = self.db.listdir(state.name, path, version)  # the read txn ends here
        sent = False
        for batch in _batches(wire.dir_entries_to_wire(listing), self.limits.listdir_batch,
                              self._batch_bytes):
            yield pb.ListDirResponse(entries=batch, version=version)
            sent = True
        if not sent:
            yield pb.ListDirResponse(version=version)

    @streaming
    def ReadObjects(self, request: pb.ReadObjectsRequest, context: grpc.ServicerContext,
                    identity: Identity) -> Iterator[pb.ReadObjectsResponse]:
        self.limits.check_count("ids", len(request.ids), self.limits.max_ids_per_request)
        oids = wire.ids_from_wire(request.ids)
        for oid in oids:
            kind, data = self.db.read_object(oid)
            kind_value = cast(pb.ObjectKind, int(kind))
            yield pb.ReadObjectsResponse(object=pb.Object(id=oid, kind=kind_value, data=data))

    # --- writes ----------------------------------------------------------------------

    @unary
    def HasObjects(self, request: pb.HasObjectsRequest, context: grpc.ServicerContext,
                   identity: Identity) -> pb.HasObjectsResponse:
        self.limits.check_count("ids", len(request.ids), self.limits.max_ids_per_request)
        oids = wire.ids_from_wire(request.ids)
        present = self.db.has_objects(oids)
        return pb.HasObjectsResponse(missing=[oid for oid, ok in zip(oids, present) if not ok])

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

    @unary
    def PutObjects(self, request_iterator: Iterator[pb.PutObjectsRequest],
                   context: grpc.ServicerContext, identity: Identity) -> pb.PutObjectsResponse:
        count = size = 0
        for request in request_iterator:
            # A whole message is checked before any of it is stored.
            batch = [self._object_from_wire(obj) for obj in request.objects]
            self.db.put_objects(batch)
            count += len(batch)
            size += sum(len(data) for _, data, _ in batch)
        return pb.PutObjectsResponse(objects=count, bytes=size)

    @unary
    def Commit(self, request: pb.CommitRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.CommitResponse:
        return self._commit(request, identity)

    @streaming
    def CommitStream(self, request_iterator: Iterator[pb.CommitRequest],
                     context: grpc.ServicerContext,
                     identity: Identity) -> Iterator[pb.CommitStreamResponse]:
        slot = self.commit_streams.open(context)
        try:
            for request in request_iterator:
                if not slot.begin():
                    return
                try:
                    response = self._commit_outcome(request, identity)
                finally:
                    slot.end()
                yield response
                if slot.closing:
                    return
        except grpc.RpcError:
            if slot.closing or not context.is_active():
                return  # cancelled: by the client, or by the server's shutdown
            raise
        finally:
            self.commit_streams.release(slot)

    def _commit_outcome(self, request: pb.CommitRequest,
                        identity: Identity) -> pb.CommitStreamResponse:
        """One CommitStream answer: the commit, or the error Commit would have ended with."""
        try:
            return pb.CommitStreamResponse(committed=self._commit(request, identity))
        except Exception as exc:  # noqa: BLE001 - expected errors become answers
            error = commit_error_for(exc)
            if error is None:
                raise  # a bug: the stream ends with INTERNAL and a logged traceback
            log.info("CommitStream -> %s: %s", error.error, error.message)
            return pb.CommitStreamResponse(error=error)

    def _commit(self, request: pb.CommitRequest, identity: Identity) -> pb.CommitResponse:
        self.limits.check_count("operations", len(request.ops), self.limits.max_ops_per_commit)
        writer = convert.writer_from_wire(request)
        if request.skip_failing_ops:
            if not request.ops:
                raise InvalidArgument("a commit needs at least one operation")
            ops, positions, refused = convert.ops_from_wire_skipping(request.ops)
        else:
            ops = [convert.op_from_wire(op) for op in request.ops]
            positions, refused = list(range(len(ops))), []
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        expected = request.expected_version if request.HasField("expected_version") else None
        if request.workspace_id and request.workspace_id != state.id:
            raise WorkspaceNotFound(f"workspace {state.name!r} is not the one this writer "
                                    f"wrote to (that one was deleted)")
        result = self.db.commit(state.name, ops, expected, workspace_id=state.id, writer=writer,
                                skip_failing=request.skip_failing_ops)
        log.debug("commit %s@%d (%d paths%s) by %s", result.workspace, result.version,
                  len(result.paths), ", duplicate" if result.duplicate else "", identity.user)
        response = convert.commit_to_wire(result)
        if request.skip_failing_ops and not result.duplicate:
            skipped = sorted(refused + [(positions[i], exc) for i, exc in result.skipped],
                             key=lambda item: item[0])
            for index, exc in skipped:
                response.skipped.add(index=index, error=commit_error_for(exc))
        return response

    @unary
    def WriterProgress(self, request: pb.WriterProgressRequest, context: grpc.ServicerContext,
                       identity: Identity) -> pb.WriterProgressResponse:
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        last_seq, version = self.db.writer_progress(state.name, bytes(request.writer_id))
        return pb.WriterProgressResponse(last_seq=last_seq, version=version)

    # --- history and invalidation ----------------------------------------------------

    @unary
    def Versions(self, request: pb.VersionsRequest, context: grpc.ServicerContext,
                 identity: Identity) -> pb.VersionsResponse:
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        response = pb.VersionsResponse()
        for info in self.db.versions(state.name, request.start):
            response.versions.add(version=info.version, lsn=info.lsn, time_ns=info.time_ns,
                                  path_count=info.path_count)
        return response

    @unary
    def Changes(self, request: pb.ChangesRequest, context: grpc.ServicerContext,
                identity: Identity) -> pb.ChangesResponse:
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        try:
            changes = self.db.changes(state.name, request.since)
        except HistoryTruncated:
            head = self.db.workspace(state.name)
            return pb.ChangesResponse(workspace=state.name, since=request.since,
                                      version=head.version, truncated=True)
        return pb.ChangesResponse(workspace=changes.workspace, since=changes.since,
                                  version=changes.version,
                                  paths=[wire.path_to_wire(p) for p in changes.paths])

    @streaming
    def Watch(self, request: pb.WatchRequest, context: grpc.ServicerContext,
              identity: Identity) -> Iterator[pb.WatchEvent]:
        known: dict[str, int] = {}
        for target in request.targets:
            self._workspace(identity, target.workspace, Access.READ)
            known[target.workspace] = max(known.get(target.workspace, 0), target.known_version)
        if not known:
            raise InvalidArgument("watch which workspaces? the request names none")
        watcher = self.hub.open(known)
        try:
            # Registered first, read second: no commit can fall between the two.
            if not context.add_callback(lambda: self.hub.close(watcher)):
                return
            for name in known:
                watcher.offer(name, self.db.workspace(name).version)
            while True:
                events = watcher.wait(self.limits.watch_heartbeat_s)
                if events is None:
                    return
                if not events:
                    yield pb.WatchEvent(heartbeat=True)
                for event in events:
                    yield pb.WatchEvent(workspace=event.workspace, version=event.version,
                                        deleted=event.deleted)
                if events:
                    time.sleep(self.limits.watch_min_interval_s)  # let a burst coalesce
        finally:
            self.hub.close(watcher)

    # --- snapshots and versions ------------------------------------------------------

    @unary
    def Label(self, request: pb.LabelRequest, context: grpc.ServicerContext,
              identity: Identity) -> pb.LabelInfo:
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        version = request.version if request.HasField("version") else None
        return convert.label_to_wire(self.db.label(state.name, request.label, version,
                                                   replace=request.replace))

    @unary
    def Unlabel(self, request: pb.UnlabelRequest, context: grpc.ServicerContext,
                identity: Identity) -> pb.UnlabelResponse:
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        self.db.unlabel(state.name, request.label)
        return pb.UnlabelResponse()

    @unary
    def ListLabels(self, request: pb.ListLabelsRequest, context: grpc.ServicerContext,
                   identity: Identity) -> pb.ListLabelsResponse:
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        return pb.ListLabelsResponse(labels=[convert.label_to_wire(label)
                                             for label in self.db.labels(state.name)])

    @unary
    def Freeze(self, request: pb.FreezeRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.FreezeResponse:
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        version = self._resolve_version(state, *_version_fields(request))
        return pb.FreezeResponse(tree=self.db.freeze(state.name, version))

    @streaming
    def Diff(self, request: pb.DiffRequest, context: grpc.ServicerContext,
             identity: Identity) -> Iterator[pb.DiffResponse]:
        a = self._ref(identity, request.a)
        b = self._ref(identity, request.b)
        entries = (convert.diff_entry_to_wire(entry, pb.DiffEntry())
                   for entry in self.db.diff(a, b))
        for batch in _batches(entries, self.limits.diff_batch, self._batch_bytes):
            yield pb.DiffResponse(entries=batch)

    @unary
    def Sync(self, request: pb.SyncRequest, context: grpc.ServicerContext,
             identity: Identity) -> pb.SyncResponse:
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        to_rev = request.to_rev if request.HasField("to_rev") else None
        result = self.db.sync(state.name, to_rev=to_rev,
                              refuse_conflicts=request.refuse_conflicts)
        log.info("workspace %s synced to %s@%d by %s", state.name, state.base,
                 result.base_rev, identity.user)
        return pb.SyncResponse(version=result.version, base_rev=result.base_rev,
                               conflicts=[wire.path_to_wire(p) for p in result.conflicts])

    @unary
    def Submit(self, request: pb.SubmitRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.SubmitResponse:
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        result = self.db.submit(state.name, message=request.message)
        response = pb.SubmitResponse(version=result.version)
        convert.revision_to_wire(result.revision, response.revision)
        log.info("workspace %s submitted by %s", state.name, identity.user)
        return response

    @unary
    def Restore(self, request: pb.RestoreRequest, context: grpc.ServicerContext,
                identity: Identity) -> pb.CommitResponse:
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        version, label = _version_fields(request)
        target: int | str
        if label:
            target = label
        elif version is not None:
            target = version
        else:
            raise InvalidArgument("restore which version? give a version or a label")
        return convert.commit_to_wire(self.db.restore(state.name, target))

    @unary
    def Revert(self, request: pb.RevertRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.CommitResponse:
        targets = [wire.path_from_wire(p) for p in request.paths]
        if not targets:
            raise InvalidArgument("revert which paths? the request names none")
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        version, label = _version_fields(request)
        # Neither a version nor a label: the base revision the workspace sits on now.
        return convert.commit_to_wire(self.db.revert(state.name, targets, label or version))

    @unary
    def GC(self, request: pb.GCRequest, context: grpc.ServicerContext,
           identity: Identity) -> pb.GCResponse:
        if not identity.admin:
            raise PermissionDenied(f"user {identity.user!r} is not an administrator")
        report = self.db.gc(dry_run=request.dry_run)
        log.info("gc by %s: %s", identity.user, report)
        return pb.GCResponse(dry_run=report.dry_run, versions_pruned=report.versions_pruned,
                             objects_freed=report.objects_freed, bytes_freed=report.bytes_freed,
                             objects_live=report.objects_live)

    @unary
    def Verify(self, request: pb.VerifyRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.VerifyResponse:
        if not identity.admin:
            raise PermissionDenied(f"user {identity.user!r} is not an administrator")
        report = self.db.fsck(rebuild=request.rebuild, objects=not request.skip_objects)
        log.info("verify by %s: %d records, %d objects, %d corrupt, %d missing%s",
                 identity.user, report.records, report.objects, len(report.corrupt),
                 len(report.missing), ", indexes rebuilt" if report.rebuilt else "")
        return pb.VerifyResponse(records=report.records, first_lsn=report.first_lsn,
                                 last_lsn=report.last_lsn, objects=report.objects,
                                 corrupt=list(report.corrupt), missing=list(report.missing),
                                 rebuilt=report.rebuilt)

    @unary
    def SetRetention(self, request: pb.SetRetentionRequest, context: grpc.ServicerContext,
                     identity: Identity) -> pb.SetRetentionResponse:
        state, _ = self._workspace(identity, request.workspace, Access.OWNER)
        self.db.set_retention(state.name, request.keep)
        log.info("workspace %s keeps %d unlabelled versions (set by %s)", state.name,
                 request.keep, identity.user)
        return pb.SetRetentionResponse()

    # --- redirections ----------------------------------------------------------------

    @unary
    def SetRedirections(self, request: pb.SetRedirectionsRequest,
                        context: grpc.ServicerContext,
                        identity: Identity) -> pb.RedirectionsResponse:
        state, _ = self._workspace(identity, request.workspace, Access.WRITE)
        result = self.db.set_redirections(state.name,
                                          [wire.path_from_wire(p) for p in request.add],
                                          [wire.path_from_wire(p) for p in request.remove])
        log.info("workspace %s redirects %s (set by %s)", state.name,
                 ", ".join(result.paths) or "nothing", identity.user)
        return pb.RedirectionsResponse(paths=[wire.path_to_wire(p) for p in result.paths],
                                       version=result.version)

    @unary
    def ListRedirections(self, request: pb.ListRedirectionsRequest,
                         context: grpc.ServicerContext,
                         identity: Identity) -> pb.RedirectionsResponse:
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        found = self.db.redirections(state.name)
        return pb.RedirectionsResponse(paths=[wire.path_to_wire(p) for p in found],
                                       version=state.version)
