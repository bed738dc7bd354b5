"""The write RPCs: uploading objects and committing operations.

Commits go through `Database.commit`, whose group committer batches concurrent
callers into one durable transaction and answers each with its own result.
CommitStream answers each commit with its result or the error Commit would have
ended with (`commit_error_for`).
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from citcfs import wire
from citcfs.errors import InvalidArgument, WorkspaceNotFound
from citcfs.protos import citc_pb2 as pb

from . import convert
from .auth import Identity
from .errors import conflict_paths_for, details_for, status_for
from .grants import Access
from .rpc_base import RpcBase, log, streaming, unary


def commit_error_for(exc: BaseException) -> pb.CommitError | None:
    """The CommitError naming what a Commit call failing with `exc` would have said,
    or None for an unexpected exception (a bug)."""
    code = status_for(exc)
    if code is None:
        return None
    return pb.CommitError(code=code.value[0], message=details_for(exc), error=type(exc).__name__,
                          conflict_paths=conflict_paths_for(exc))


class WriteRpcs(RpcBase):
    """HasObjects, PutObjects, Commit, CommitStream and WriterProgress."""

    @unary
    def HasObjects(self, request: pb.HasObjectsRequest, context: grpc.ServicerContext,
                   identity: Identity) -> pb.HasObjectsResponse:
        self.limits.check_count("ids", len(request.ids), self.limits.max_ids_per_request)
        oids = wire.ids_from_wire(request.ids)
        present = self.db.has_objects(oids)
        return pb.HasObjectsResponse(missing=[oid for oid, ok in zip(oids, present) if not ok])

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
        if request.objects:
            self.db.put_objects([self._object_from_wire(obj) for obj in request.objects])
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
