"""A typed Python client of the citc.v1 API.

`Client` wraps the generated stub: it turns citcfs values (`Entry`, paths as `str`)
into messages and back through `citcfs.wire`, attaches the bearer token, verifies
every object it reads against its id, and raises the citcfs error the server raised
(`rpc_errors`). Workspace-level results are returned as plain immutable values
(`results`, built from the messages in `result_wire`), so callers never read a
generated message; `commit` still answers with its message, which the mount's
commit paths read. Commits over long-lived streams are in `commit_streams`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar, cast

import grpc

from citcfs import errors, objects, paths, wire
from citcfs.entries import Entry
from citcfs.objects import KnownObject, ObjectId, ObjectKind
from citcfs.protos import citc_pb2 as pb
from citcfs.protos import citc_pb2_grpc as pb_grpc

from . import result_wire as rw
from .commit_streams import CommitStream, PipelinedCommits, commit_request
from .results import (BaseInfo, BaseRevision, CommitInfo, DiffEntry, DiffSide, GcReport,
                      ImportResult, LabelInfo, ServerInfo, SubmitResult, SyncResult, VerifyReport,
                      VersionInfo, WorkspaceInfo)
from .rpc_errors import error_from_rpc

T = TypeVar("T")
log = logging.getLogger("citcfs.client")

MAX_MESSAGE_BYTES = 64 << 20
PUT_BATCH_BYTES = 2 << 20


def _translate(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
    return wrapper


def _translate_stream(method: Callable[..., Iterator[T]]) -> Callable[..., Iterator[T]]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Iterator[T]:
        try:
            yield from method(*args, **kwargs)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None
    return wrapper


def _at(msg: Any, version: int | None, label: str | None) -> Any:
    if version is not None:
        msg.version = version
    if label:
        msg.label = label
    return msg


def channel_for(address: str, *, tls_ca: bytes | None = None, server_name: str | None = None,
                options: Sequence[tuple[str, Any]] = ()) -> grpc.Channel:
    """A channel to `address` (``unix:/path`` or ``host:port``), TLS when `tls_ca` given."""
    opts: list[tuple[str, Any]] = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
    ]
    if server_name:
        opts.append(("grpc.ssl_target_name_override", server_name))
    opts.extend(options)
    if tls_ca is not None:
        return grpc.secure_channel(address, grpc.ssl_channel_credentials(tls_ca), options=opts)
    return grpc.insecure_channel(address, options=opts)


class Client:
    """One connection to a citcfs server."""

    def __init__(self, channel: grpc.Channel, token: str | None = None) -> None:
        self.channel = channel
        self.stub = pb_grpc.CitcStub(channel)
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {token}"),) if token else ())

    @classmethod
    def connect(cls, address: str, *, token: str | None = None, tls_ca: bytes | None = None,
                server_name: str | None = None) -> "Client":
        return cls(channel_for(address, tls_ca=tls_ca, server_name=server_name), token)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _kw(self, timeout: float | None) -> dict[str, Any]:
        return {"metadata": self._metadata, "timeout": timeout}

    # --- server and bases ------------------------------------------------------------

    @_translate
    def server_info(self, timeout: float | None = 30) -> ServerInfo:
        return rw.server_info(self.stub.ServerInfo(pb.ServerInfoRequest(), **self._kw(timeout)))

    @_translate
    def import_base(self, base: str, *, entries: Iterable[tuple[str, Entry]] = (),
                    objects_: Iterable[tuple[ObjectKind, bytes]] = (), root: ObjectId | None = None,
                    message: str = "", timeout: float | None = None) -> ImportResult:
        """Stream an import: objects, then entries (server builds trees) or a root."""
        def requests() -> Iterator[pb.ImportBaseRequest]:
            yield pb.ImportBaseRequest(header=pb.ImportBaseHeader(base=base, message=message))
            for kind, data in objects_:
                yield pb.ImportBaseRequest(object=pb.Object(
                    id=objects.object_id(kind, data), kind=cast(pb.ObjectKind, int(kind)),
                    data=data))
            for path, entry in entries:
                request = pb.ImportBaseRequest()
                request.entry.path = wire.path_to_wire(path)
                wire.entry_to_wire(entry, request.entry.entry)
                yield request
            if root is not None:
                yield pb.ImportBaseRequest(root=root)
        return rw.import_result(self.stub.ImportBase(requests(), **self._kw(timeout)))

    @_translate
    def list_bases(self, timeout: float | None = 30) -> list[BaseInfo]:
        response = self.stub.ListBases(pb.ListBasesRequest(), **self._kw(timeout))
        return [rw.base_info(b) for b in response.bases]

    @_translate
    def base_history(self, base: str, timeout: float | None = 30) -> list[BaseRevision]:
        response = self.stub.BaseHistory(pb.BaseHistoryRequest(base=base), **self._kw(timeout))
        return [rw.base_revision(rev) for rev in response.revisions]

    # --- workspaces ------------------------------------------------------------------

    @_translate
    def create_workspace(self, name: str, base: str, base_rev: int | None = None,
                         timeout: float | None = 30) -> WorkspaceInfo:
        request = pb.CreateWorkspaceRequest(name=name, base=base)
        if base_rev is not None:
            request.base_rev = base_rev
        return rw.workspace_info(self.stub.CreateWorkspace(request, **self._kw(timeout)))

    @_translate
    def fork_workspace(self, source: str, name: str, version: int | None = None,
                       label: str | None = None, timeout: float | None = 60) -> WorkspaceInfo:
        request = _at(pb.ForkWorkspaceRequest(source=source, name=name), version, label)
        return rw.workspace_info(self.stub.ForkWorkspace(request, **self._kw(timeout)))

    @_translate
    def list_workspaces(self, timeout: float | None = 30) -> list[WorkspaceInfo]:
        response = self.stub.ListWorkspaces(pb.ListWorkspacesRequest(), **self._kw(timeout))
        return [rw.workspace_info(ws) for ws in response.workspaces]

    @_translate
    def describe_workspace(self, name: str, timeout: float | None = 30) -> WorkspaceInfo:
        return rw.workspace_info(self.stub.DescribeWorkspace(
            pb.DescribeWorkspaceRequest(name=name), **self._kw(timeout)))

    @_translate
    def delete_workspace(self, name: str, timeout: float | None = 30) -> None:
        self.stub.DeleteWorkspace(pb.DeleteWorkspaceRequest(name=name), **self._kw(timeout))

    @_translate
    def grant(self, workspace: str, user: str, access: int,
              timeout: float | None = 30) -> None:
        """Grant `access` (pb.ACCESS_READ, pb.ACCESS_WRITE, pb.ACCESS_NONE to revoke)."""
        self.stub.Grant(pb.GrantRequest(workspace=workspace, user=user,
                                        access=cast(pb.Access, access)),
                        **self._kw(timeout))

    # --- reads -----------------------------------------------------------------------

    @_translate
    def lookup(self, workspace: str, path: str, version: int | None = None,
               label: str | None = None, timeout: float | None = 30) -> Entry:
        request = _at(pb.LookupRequest(workspace=workspace, path=wire.path_to_wire(path)),
                      version, label)
        return wire.entry_from_wire(self.stub.Lookup(request, **self._kw(timeout)).entry)

    @_translate
    def listdir(self, workspace: str, path: str = "", version: int | None = None,
                label: str | None = None, timeout: float | None = 60) -> list[tuple[str, Entry]]:
        request = _at(pb.ListDirRequest(workspace=workspace, path=wire.path_to_wire(path)),
                      version, label)
        found: list[tuple[str, Entry]] = []
        for response in self.stub.ListDir(request, **self._kw(timeout)):
            found.extend(wire.dir_entries_from_wire(response.entries))
        return found

    @_translate_stream
    def read_objects(self, ids: Sequence[ObjectId],
                     timeout: float | None = 300) -> Iterator[tuple[ObjectId, ObjectKind, bytes]]:
        """(id, kind, content) of each object in order, each verified against its id."""
        responses = self.stub.ReadObjects(pb.ReadObjectsRequest(ids=list(ids)),
                                          **self._kw(timeout))
        for oid, response in zip(ids, responses):
            obj = response.object
            if obj.id != oid:
                raise errors.CorruptObject(f"asked for {oid.hex()}, got {obj.id.hex()}")
            kind = wire.kind_from_wire(obj.kind)
            objects.verify(kind, oid, obj.data)
            yield oid, kind, obj.data

    def read_file(self, entry: Entry) -> bytes:
        """The whole content of a file entry."""
        if entry.inline is not None:
            return entry.inline
        return b"".join(data for _, _, data in self.read_objects(list(entry.chunks)))

    # --- writes ----------------------------------------------------------------------

    @_translate
    def has_objects(self, ids: Sequence[ObjectId], timeout: float | None = 60) -> list[ObjectId]:
        """The ids the server does not hold."""
        response = self.stub.HasObjects(pb.HasObjectsRequest(ids=list(ids)), **self._kw(timeout))
        return [ObjectId(oid) for oid in response.missing]

    def put_objects(self, items: Iterable[tuple[ObjectKind, bytes]],
                    timeout: float | None = 600) -> pb.PutObjectsResponse:
        """Upload objects, several per message up to a couple of MiB."""
        return self.put_known(((kind, data, objects.object_id(kind, data))
                               for kind, data in items), timeout)

    @_translate
    def put_known(self, items: Iterable[KnownObject],
                  timeout: float | None = 600) -> pb.PutObjectsResponse:
        """Upload objects whose ids the caller computed (the server checks them)."""
        def requests() -> Iterator[pb.PutObjectsRequest]:
            batch = pb.PutObjectsRequest()
            size = 0
            for kind, data, oid in items:
                if batch.objects and size + len(data) > PUT_BATCH_BYTES:
                    yield batch
                    batch, size = pb.PutObjectsRequest(), 0
                batch.objects.add(id=oid, kind=int(kind), data=data)
                size += len(data)
            if batch.objects:
                yield batch
        return self.stub.PutObjects(requests(), **self._kw(timeout))

    def upload_missing(self, items: Sequence[KnownObject]) -> int:
        """Upload those of `items` (kind, content, id) the server lacks; how many.

        The one upload path of the importer, `upload_file` and mounts: each object
        is hashed once, by whoever made it."""
        if not items:
            return 0
        missing = set(self.has_objects([oid for _, _, oid in items]))
        if missing:
            self.put_known(item for item in items if item[2] in missing)
        return len(missing)

    def upload_file(self, data: bytes, **attrs: Any) -> Entry:
        """A file entry for `data`: inline when small, else chunks uploaded as needed."""
        if len(data) <= objects.INLINE_MAX:
            return Entry.file(data, **attrs)
        items = [(ObjectKind.CHUNK, chunk, objects.object_id(ObjectKind.CHUNK, chunk))
                 for chunk in objects.split_chunks(data)]
        self.upload_missing(items)
        return Entry.file(chunks=tuple(oid for _, _, oid in items), size=len(data), **attrs)

    @_translate
    def commit(self, workspace: str, ops: Sequence[pb.Op], expected_version: int | None = None,
               timeout: float | None = 60, *, writer_id: bytes = b"", first_seq: int = 0,
               last_seq: int = 0, skip_failing_ops: bool = False) -> pb.CommitResponse:
        """Commit `ops` (built with citcfs.wire's *_op functions) as the next version.

        With `writer_id` (16 bytes), the commit is a writer batch carrying the writer's
        seqs `first_seq`..`last_seq`: applied at most once (a resend answers with
        `duplicate` set) and refused with OutOfSequence unless it follows the last
        batch applied. `skip_failing_ops` leaves out failing operations (reported in
        `skipped`) instead of failing the commit. See CommitRequest in the .proto.
        """
        request = commit_request(workspace, ops, expected_version, writer_id=writer_id,
                                 first_seq=first_seq, last_seq=last_seq,
                                 skip_failing_ops=skip_failing_ops)
        return self.stub.Commit(request, **self._kw(timeout))

    def commit_stream(self) -> "CommitStream":
        """A CommitStream over this connection, for a caller that commits often."""
        return CommitStream(self)

    def pipelined_commits(self) -> "PipelinedCommits":
        """A pipelined CommitStream over this connection, for writer batches."""
        return PipelinedCommits(self)

    @_translate
    def writer_progress(self, workspace: str, writer_id: bytes,
                        timeout: float | None = 30) -> tuple[int, int]:
        """(last seq applied, version recorded with it) of a writer; (0, 0) if none."""
        response = self.stub.WriterProgress(
            pb.WriterProgressRequest(workspace=workspace, writer_id=writer_id), **self._kw(timeout))
        return int(response.last_seq), int(response.version)

    # --- history and invalidation ----------------------------------------------------

    @_translate
    def versions(self, workspace: str, start: int = 0,
                 timeout: float | None = 30) -> list[VersionInfo]:
        response = self.stub.Versions(pb.VersionsRequest(workspace=workspace, start=start),
                                      **self._kw(timeout))
        return [rw.version_info(v) for v in response.versions]

    @_translate
    def changes(self, workspace: str, since: int,
                timeout: float | None = 30) -> pb.ChangesResponse:
        """Changed paths after `since`; check `.truncated` before trusting `.paths`."""
        return self.stub.Changes(pb.ChangesRequest(workspace=workspace, since=since),
                                 **self._kw(timeout))

    def changed_paths(self, response: pb.ChangesResponse) -> list[str]:
        return [paths.from_bytes(p) for p in response.paths]

    def watch(self, targets: dict[str, int], timeout: float | None = None) -> Any:
        """The raw Watch call (an iterator of pb.WatchEvent with .cancel()).

        Errors surface as grpc.RpcError from iteration; `error_from_rpc` converts one.
        """
        request = pb.WatchRequest(targets=[pb.WatchTarget(workspace=ws, known_version=v)
                                           for ws, v in targets.items()])
        return self.stub.Watch(request, **self._kw(timeout))

    # --- snapshots and versions ------------------------------------------------------

    @_translate
    def label(self, workspace: str, label: str, version: int | None = None,
              replace: bool = False, timeout: float | None = 30) -> LabelInfo:
        request = pb.LabelRequest(workspace=workspace, label=label, replace=replace)
        if version is not None:
            request.version = version
        return rw.label_info(self.stub.Label(request, **self._kw(timeout)))

    @_translate
    def unlabel(self, workspace: str, label: str, timeout: float | None = 30) -> None:
        self.stub.Unlabel(pb.UnlabelRequest(workspace=workspace, label=label), **self._kw(timeout))

    @_translate
    def labels(self, workspace: str, timeout: float | None = 30) -> list[LabelInfo]:
        response = self.stub.ListLabels(pb.ListLabelsRequest(workspace=workspace),
                                        **self._kw(timeout))
        return [rw.label_info(label) for label in response.labels]

    @_translate
    def freeze(self, workspace: str, version: int | None = None, label: str | None = None,
               timeout: float | None = 120) -> ObjectId:
        request = _at(pb.FreezeRequest(workspace=workspace), version, label)
        return ObjectId(self.stub.Freeze(request, **self._kw(timeout)).tree)

    @_translate_stream
    def diff(self, a: DiffSide, b: DiffSide,
             timeout: float | None = 600) -> Iterator[DiffEntry]:
        """The paths that differ from state `a` to state `b`, in path order."""
        request = pb.DiffRequest(a=rw.diff_side(a), b=rw.diff_side(b))
        for response in self.stub.Diff(request, **self._kw(timeout)):
            for entry in response.entries:
                yield rw.diff_entry(entry)

    @staticmethod
    def workspace_ref(workspace: str, version: int | None = None,
                      label: str | None = None) -> DiffSide:
        return DiffSide(workspace=workspace, version=version, label=label or None)

    @staticmethod
    def fork_ref(workspace: str) -> DiffSide:
        """The state `workspace` was forked from (NotForked if it was not forked)."""
        return DiffSide(workspace=workspace, fork=True)

    @staticmethod
    def base_ref(base: str, rev: int | None = None) -> DiffSide:
        return DiffSide(base=base, base_rev=rev)

    @_translate
    def sync(self, workspace: str, to_rev: int | None = None, refuse_conflicts: bool = False,
             timeout: float | None = 120) -> SyncResult:
        request = pb.SyncRequest(workspace=workspace, refuse_conflicts=refuse_conflicts)
        if to_rev is not None:
            request.to_rev = to_rev
        return rw.sync_result(self.stub.Sync(request, **self._kw(timeout)))

    @_translate
    def submit(self, workspace: str, message: str = "",
               timeout: float | None = 120) -> SubmitResult:
        return rw.submit_result(self.stub.Submit(
            pb.SubmitRequest(workspace=workspace, message=message), **self._kw(timeout)))

    @_translate
    def restore(self, workspace: str, version: int | None = None, label: str | None = None,
                timeout: float | None = 120) -> CommitInfo:
        request = _at(pb.RestoreRequest(workspace=workspace), version, label)
        return rw.commit_info(self.stub.Restore(request, **self._kw(timeout)))

    @_translate
    def revert(self, workspace: str, targets: Sequence[str], version: int | None = None,
               label: str | None = None, timeout: float | None = 120) -> CommitInfo:
        request = _at(pb.RevertRequest(workspace=workspace,
                                       paths=[wire.path_to_wire(p) for p in targets]),
                      version, label)
        return rw.commit_info(self.stub.Revert(request, **self._kw(timeout)))

    @_translate
    def set_retention(self, workspace: str, keep: int, timeout: float | None = 30) -> None:
        self.stub.SetRetention(pb.SetRetentionRequest(workspace=workspace, keep=keep),
                               **self._kw(timeout))

    @_translate
    def set_redirections(self, workspace: str, add: Sequence[str] = (),
                         remove: Sequence[str] = (), timeout: float | None = 30,
                         ) -> tuple[str, ...]:
        """Redirect `add` and stop redirecting `remove` (one change); the new list."""
        request = pb.SetRedirectionsRequest(workspace=workspace,
                                            add=[wire.path_to_wire(p) for p in add],
                                            remove=[wire.path_to_wire(p) for p in remove])
        response = self.stub.SetRedirections(request, **self._kw(timeout))
        return tuple(paths.from_bytes(p) for p in response.paths)

    @_translate
    def redirections(self, workspace: str, timeout: float | None = 30) -> tuple[str, ...]:
        """The directories of `workspace` that live on each mount's local disk only."""
        request = pb.ListRedirectionsRequest(workspace=workspace)
        try:
            response = self.stub.ListRedirections(request, **self._kw(timeout))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return ()  # a server from before redirections: there are none
            raise
        return tuple(paths.from_bytes(p) for p in response.paths)

    @_translate
    def gc(self, dry_run: bool = False, timeout: float | None = 3600) -> GcReport:
        return rw.gc_report(self.stub.GC(pb.GCRequest(dry_run=dry_run), **self._kw(timeout)))

    @_translate
    def verify(self, rebuild: bool = False, skip_objects: bool = False,
               timeout: float | None = 3600) -> VerifyReport:
        """Check the server's log and objects (and rebuild its indexes if asked)."""
        request = pb.VerifyRequest(rebuild=rebuild, skip_objects=skip_objects)
        return rw.verify_report(self.stub.Verify(request, **self._kw(timeout)))
