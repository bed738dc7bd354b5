"""The read RPCs: a path's entry, a directory's listing, objects by id.

Reads take a short LMDB read transaction inside `Database` and run in parallel;
ListDir reads first, then sends, so a stream never holds a read transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import grpc

from citcfs import wire
from citcfs.protos import citc_pb2 as pb

from .auth import Identity
from .grants import Access
from .rpc_base import RpcBase, batches, streaming, unary, version_fields


class ReadRpcs(RpcBase):
    """Lookup, ListDir and ReadObjects."""

    @unary
    def Lookup(self, request: pb.LookupRequest, context: grpc.ServicerContext,
               identity: Identity) -> pb.LookupResponse:
        path = wire.path_from_wire(request.path)
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        version = self._resolve_version(state, *version_fields(request))
        entry = self.db.lookup(state.name, path, version)
        response = pb.LookupResponse(version=version)
        wire.entry_to_wire(entry, response.entry)
        return response

    @streaming
    def ListDir(self, request: pb.ListDirRequest, context: grpc.ServicerContext,
                identity: Identity) -> Iterator[pb.ListDirResponse]:
        path = wire.path_from_wire(request.path)
        state, _ = self._workspace(identity, request.workspace, Access.READ)
        version = self._resolve_version(state, *version_fields(request))
        listing = self.db.listdir(state.name, path, version)  # the read txn ends here
        sent = False
        for batch in batches(wire.dir_entries_to_wire(listing), self.limits.listdir_batch,
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
