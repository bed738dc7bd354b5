"""The RPCs about the server and who may do what: ServerInfo, Grant, SetRetention, and
the administrators' GC and Verify.
"""

from __future__ import annotations

import grpc

from citcfs import __version__ as citcfs_version
from citcfs.errors import InvalidArgument, PermissionDenied
from citcfs.protos import citc_pb2 as pb

from . import convert
from .auth import Identity
from .grants import Access
from .rpc_base import RpcBase, log, unary


class AdminRpcs(RpcBase):
    """The server's description, grants, retention, GC and Verify."""

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
