"""The RPCs over bases and workspaces: importing and listing bases; creating, forking,
listing, describing and deleting workspaces; their redirections.
"""

from __future__ import annotations

from collections.abc import Iterator

import grpc

from citcfs import paths, wire
from citcfs.entries import Entry
from citcfs.errors import InvalidArgument
from citcfs.objects import ObjectId, ObjectKind
from citcfs.protos import citc_pb2 as pb

from . import convert
from .auth import Identity, access_of
from .grants import Access
from .rpc_base import RpcBase, log, unary, version_fields

_IMPORT_OBJECT_BATCH = 256
"""Uploaded objects stored per `put_objects` call while an ImportBase stream is read."""


class WorkspaceRpcs(RpcBase):
    """Bases, workspaces and redirections."""

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
        version, label = version_fields(request)
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
