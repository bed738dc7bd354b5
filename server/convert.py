"""Server-side conversions: commit operations in, storage results out.

Entries, paths and ids are converted by `citcfs.wire`, which clients share. What is
here needs `citcfs.storage` types (ops, workspace states, results), which clients
never import, so it lives with the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from citcfs import paths, wire
from citcfs.errors import CitcError, InvalidArgument
from citcfs.protos import citc_pb2 as pb
from citcfs.storage import (CommitResult, Link, MakeDir, MakeNode, Op, Remove, Rename, SetAttr,
                            Symlink, WriteFile, WriterSeq)

from .grants import Access

ACCESS_TO_WIRE = {Access.NONE: pb.ACCESS_NONE, Access.READ: pb.ACCESS_READ,
                  Access.WRITE: pb.ACCESS_WRITE, Access.OWNER: pb.ACCESS_OWNER}
ACCESS_FROM_WIRE = {wire_value: access for access, wire_value in ACCESS_TO_WIRE.items()}


def _opt(msg: Any, field: str) -> Any:
    return getattr(msg, field) if msg.HasField(field) else None


def op_from_wire(msg: pb.Op) -> Op:
    """One commit operation, validated (InvalidArgument/InvalidPath if malformed)."""
    which = msg.WhichOneof("op")
    if which == "write_file":
        wf = msg.write_file
        return WriteFile(wire.path_from_wire(wf.path), wire.entry_from_wire(wf.entry))
    if which == "make_dir":
        md = msg.make_dir
        return MakeDir(wire.path_from_wire(md.path), md.mode or 0o755, md.uid, md.gid,
                       _opt(md, "mtime_ns"))
    if which == "symlink":
        sl = msg.symlink
        return Symlink(wire.path_from_wire(sl.path), paths.from_bytes(sl.target), sl.uid, sl.gid,
                       _opt(sl, "mtime_ns"))
    if which == "remove":
        rm = msg.remove
        return Remove(wire.path_from_wire(rm.path), rm.recursive, _opt(rm, "must_be_dir"))
    if which == "rename":
        mv = msg.rename
        return Rename(wire.path_from_wire(mv.src), wire.path_from_wire(mv.dst), mv.no_replace)
    if which == "set_attr":
        sa = msg.set_attr
        return SetAttr(wire.path_from_wire(sa.path), _opt(sa, "mode"), _opt(sa, "uid"),
                       _opt(sa, "gid"), _opt(sa, "mtime_ns"), _opt(sa, "atime_ns"),
                       _opt(sa, "ctime_ns"),
                       wire.xattrs_from_wire(sa.xattrs.items) if sa.HasField("xattrs") else None)
    if which == "make_node":
        mn = msg.make_node
        return MakeNode(wire.path_from_wire(mn.path), wire.entry_from_wire(mn.entry))
    if which == "link":
        ln = msg.link
        return Link(wire.path_from_wire(ln.src), wire.path_from_wire(ln.dst),
                    wire.link_id_from_wire(ln.link))
    raise InvalidArgument("an operation names none of write_file, make_dir, symlink, "
                          "remove, rename, set_attr, make_node, link")


def ops_from_wire_skipping(msgs: Sequence[pb.Op],
                           ) -> tuple[list[Op], list[int], list[tuple[int, CitcError]]]:
    """For a commit that skips failing operations: the operations that convert, the
    index in the request of each, and (index, error) of each malformed one."""
    ops: list[Op] = []
    positions: list[int] = []
    refused: list[tuple[int, CitcError]] = []
    for index, msg in enumerate(msgs):
        try:
            ops.append(op_from_wire(msg))
        except InvalidArgument as exc:
            refused.append((index, exc))
        else:
            positions.append(index)
    return ops, positions, refused


def writer_from_wire(request: pb.CommitRequest) -> WriterSeq | None:
    """The writer batch a commit request carries (None without a writer id), checked."""
    if not request.writer_id:
        if request.first_seq or request.last_seq:
            raise InvalidArgument("first_seq and last_seq need a writer_id")
        return None
    writer = WriterSeq(bytes(request.writer_id), request.first_seq, request.last_seq)
    writer.check()
    return writer


def workspace_to_wire(state: Any, access: Access | None = None,
                      grants: dict[str, Access] | None = None) -> pb.Workspace:
    msg = pb.Workspace(id=state.id, name=state.name, owner=state.owner, base=state.base,
                       base_rev=state.base_rev, root=state.root, version=state.version,
                       created_ns=state.created_ns, updated_ns=state.updated_ns)
    if state.fork is not None:
        fork = state.fork
        msg.fork.CopyFrom(pb.ForkPoint(source=fork.source, source_version=fork.source_version,
                                       tree=fork.tree, base_rev=fork.base_rev,
                                       version=fork.version))
    if access is not None:
        msg.access = ACCESS_TO_WIRE[access]
    for user, level in sorted((grants or {}).items()):
        msg.grants.add(user=user, access=ACCESS_TO_WIRE[level])
    return msg


def revision_to_wire(revision: Any, out: pb.BaseRevision | None = None) -> pb.BaseRevision:
    msg = pb.BaseRevision() if out is None else out
    msg.base = revision.base
    msg.rev = revision.rev
    msg.root = revision.root
    msg.time_ns = revision.time_ns
    msg.message = revision.message
    return msg


def commit_to_wire(result: CommitResult) -> pb.CommitResponse:
    """A commit's result, without `skipped` (the servicer maps those to request indexes)."""
    return pb.CommitResponse(workspace=result.workspace, version=result.version,
                             lsn=result.lsn, time_ns=result.time_ns,
                             paths=[wire.path_to_wire(p) for p in result.paths],
                             duplicate=result.duplicate)


def label_to_wire(label: Any) -> pb.LabelInfo:
    return pb.LabelInfo(label=label.label, version=label.version, time_ns=label.time_ns)


_CHANGE_TO_WIRE = {"added": pb.CHANGE_ADDED, "modified": pb.CHANGE_MODIFIED,
                   "deleted": pb.CHANGE_DELETED, "type_changed": pb.CHANGE_TYPE_CHANGED,
                   "renamed": pb.CHANGE_RENAMED}


def diff_entry_to_wire(entry: Any, out: pb.DiffEntry) -> pb.DiffEntry:
    """A storage DiffEntry (path, change, old, new, old_path) as a message."""
    out.path = wire.path_to_wire(entry.path)
    change = getattr(entry.change, "value", entry.change)
    out.change = _CHANGE_TO_WIRE.get(str(change).lower(), pb.CHANGE_UNSPECIFIED)
    if entry.old is not None:
        wire.entry_to_wire(entry.old, out.old)
    if entry.new is not None:
        wire.entry_to_wire(entry.new, out.new)
    if entry.old_path is not None:
        out.old_path = wire.path_to_wire(entry.old_path)
    return out
