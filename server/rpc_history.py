"""The RPCs over a workspace's history: versions, changes and watches; labels, frozen
trees and diffs; sync, submit, restore and revert.

Watch holds only a `Watcher`, never a read transaction; Diff iterates storage that
reads in short transactions and sends in batches.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc

from citcfs import wire
from citcfs.errors import HistoryTruncated, InvalidArgument
from citcfs.protos import citc_pb2 as pb

from . import convert
from .auth import Identity
from .grants import Access
from .rpc_base import RpcBase, batches, log, streaming, unary, version_fields


class HistoryRpcs(RpcBase):
    """Versions, invalidation, labels, diffs, and the commits made from history."""

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
        version = self._resolve_version(state, *version_fields(request))
        return pb.FreezeResponse(tree=self.db.freeze(state.name, version))

    @streaming
    def Diff(self, request: pb.DiffRequest, context: grpc.ServicerContext,
             identity: Identity) -> Iterator[pb.DiffResponse]:
        a = self._ref(identity, request.a)
        b = self._ref(identity, request.b)
        entries = (convert.diff_entry_to_wire(entry, pb.DiffEntry())
                   for entry in self.db.diff(a, b))
        for batch in batches(entries, self.limits.diff_batch, self._batch_bytes):
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
        version, label = version_fields(request)
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
        version, label = version_fields(request)
        # Neither a version nor a label: the base revision the workspace sits on now.
        return convert.commit_to_wire(self.db.revert(state.name, targets, label or version))
