"""The one place where the answers of citc.v1 become `results` values (and diff sides
become messages): `Client` returns what these functions build, so its callers never
read a generated message.

Paths come as the server sent them (`citcfs.paths.from_bytes`, surrogate escapes for
bytes that are not UTF-8); enums become their lower-case names, `results.UNKNOWN` for
a value this client does not know.
"""

from __future__ import annotations

from collections.abc import Iterable

from citcfs import paths, wire
from citcfs.entries import Entry, EntryKind
from citcfs.objects import ObjectId
from citcfs.protos import citc_pb2 as pb

from . import results as r

ACCESS_NAMES: dict[int, str] = {pb.ACCESS_NONE: "none", pb.ACCESS_READ: "read",
                                pb.ACCESS_WRITE: "write", pb.ACCESS_OWNER: "owner"}
CHANGE_NAMES: dict[int, str] = {pb.CHANGE_ADDED: "added", pb.CHANGE_MODIFIED: "modified",
                                pb.CHANGE_DELETED: "deleted",
                                pb.CHANGE_TYPE_CHANGED: "type_changed",
                                pb.CHANGE_RENAMED: "renamed"}


def _ids(raws: Iterable[bytes]) -> tuple[ObjectId, ...]:
    return tuple(ObjectId(bytes(raw)) for raw in raws)


def _paths(raws: Iterable[bytes]) -> tuple[str, ...]:
    return tuple(paths.from_bytes(bytes(raw)) for raw in raws)


def server_info(msg: pb.ServerInfoResponse) -> r.ServerInfo:
    lim = msg.limits
    limits = r.ServerLimits(
        max_message_bytes=lim.max_message_bytes, max_ops_per_commit=lim.max_ops_per_commit,
        max_ids_per_request=lim.max_ids_per_request, chunk_size=lim.chunk_size,
        inline_max=lim.inline_max, max_watch_streams=lim.max_watch_streams,
        name_max=lim.name_max, path_max=lim.path_max,
        max_commit_streams=lim.max_commit_streams)
    return r.ServerInfo(server_version=msg.server_version, api_version=msg.api_version,
                        limits=limits, user=msg.user, unimplemented=tuple(msg.unimplemented))


def base_revision(msg: pb.BaseRevision) -> r.BaseRevision:
    return r.BaseRevision(base=msg.base, rev=msg.rev, root=ObjectId(bytes(msg.root)),
                          time_ns=msg.time_ns, message=msg.message)


def base_info(msg: pb.Base) -> r.BaseInfo:
    return r.BaseInfo(name=msg.name, latest=base_revision(msg.latest))


def import_result(msg: pb.ImportBaseResponse) -> r.ImportResult:
    return r.ImportResult(revision=base_revision(msg.revision), objects=msg.objects,
                          entries=msg.entries, unchanged=msg.unchanged)


def access_name(value: int) -> str:
    return ACCESS_NAMES.get(value, r.UNKNOWN)


def fork_point(msg: pb.ForkPoint) -> r.ForkPoint:
    return r.ForkPoint(source=msg.source, source_version=msg.source_version,
                       tree=ObjectId(bytes(msg.tree)), base_rev=msg.base_rev,
                       version=msg.version)


def workspace_info(msg: pb.Workspace) -> r.WorkspaceInfo:
    return r.WorkspaceInfo(
        id=msg.id, name=msg.name, owner=msg.owner, base=msg.base, base_rev=msg.base_rev,
        root=ObjectId(bytes(msg.root)), version=msg.version, created_ns=msg.created_ns,
        updated_ns=msg.updated_ns,
        grants=tuple(r.Grantee(user=g.user, access=access_name(g.access)) for g in msg.grants),
        access=access_name(msg.access),
        fork=fork_point(msg.fork) if msg.HasField("fork") else None)


def label_info(msg: pb.LabelInfo) -> r.LabelInfo:
    return r.LabelInfo(label=msg.label, version=msg.version, time_ns=msg.time_ns)


def version_info(msg: pb.VersionInfo) -> r.VersionInfo:
    return r.VersionInfo(version=msg.version, lsn=msg.lsn, time_ns=msg.time_ns,
                         path_count=msg.path_count)


def diff_side(side: r.DiffSide) -> pb.Ref:
    """The message of a diff side; the server checks the combination."""
    if side.base is not None:
        ref = pb.Ref(base=pb.BaseRef(base=side.base))
        if side.base_rev is not None:
            ref.base.rev = side.base_rev
        return ref
    ref = pb.Ref(workspace=pb.WorkspaceRef(workspace=side.workspace, fork=side.fork))
    if side.version is not None:
        ref.workspace.version = side.version
    if side.label:
        ref.workspace.label = side.label
    return ref


def _side_entry(msg: pb.DiffEntry, field: str) -> Entry | None:
    if not msg.HasField(field):
        return None
    entry = wire.entry_from_wire(getattr(msg, field))
    return None if entry.kind == EntryKind.WHITEOUT else entry


def diff_entry(msg: pb.DiffEntry) -> r.DiffEntry:
    """One changed path; a side that is absent or a whiteout is None."""
    return r.DiffEntry(
        path=paths.from_bytes(bytes(msg.path)), change=CHANGE_NAMES.get(msg.change, r.UNKNOWN),
        old=_side_entry(msg, "old"), new=_side_entry(msg, "new"),
        old_path=paths.from_bytes(bytes(msg.old_path)) if msg.HasField("old_path") else None)


def commit_info(msg: pb.CommitResponse) -> r.CommitInfo:
    return r.CommitInfo(workspace=msg.workspace, version=msg.version, lsn=msg.lsn,
                        time_ns=msg.time_ns)


def sync_result(msg: pb.SyncResponse) -> r.SyncResult:
    return r.SyncResult(version=msg.version, base_rev=msg.base_rev,
                        conflicts=_paths(msg.conflicts))


def submit_result(msg: pb.SubmitResponse) -> r.SubmitResult:
    return r.SubmitResult(revision=base_revision(msg.revision), version=msg.version)


def gc_report(msg: pb.GCResponse) -> r.GcReport:
    return r.GcReport(dry_run=msg.dry_run, versions_pruned=msg.versions_pruned,
                      objects_freed=msg.objects_freed, bytes_freed=msg.bytes_freed,
                      objects_live=msg.objects_live)


def verify_report(msg: pb.VerifyResponse) -> r.VerifyReport:
    return r.VerifyReport(records=msg.records, first_lsn=msg.first_lsn, last_lsn=msg.last_lsn,
                          objects=msg.objects, corrupt=_ids(msg.corrupt),
                          missing=_ids(msg.missing), rebuilt=msg.rebuilt)
