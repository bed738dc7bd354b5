"""Conversions between the citc.v1 protobuf messages and citcfs values.

Both ends of the API use this module, so that an `Entry` means the same thing on
the server and in every client: the server turns what it receives into citcfs
values here and its answers into messages here; the client wrapper does the reverse
with the same functions. Paths travel as bytes (Linux names need not be UTF-8) and
become `str` with surrogate escapes, exactly as `citcfs.paths` stores them.

Decoding never trusts the sender: ids are checked for length, entries with
`Entry.check`, and paths with `citcfs.paths.normalize`, raising `InvalidArgument`
(or `InvalidPath`) before anything reaches the storage engine. Operations (commit
ops) are built here as messages; the server turns them into storage ops itself,
since `citcfs` does not depend on `citcfs.storage`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from citcfs import paths
from citcfs.entries import LINK_ID_SIZE, Entry, EntryKind, Xattrs, check_xattrs
from citcfs.errors import InvalidArgument
from citcfs.objects import ObjectId, ObjectKind, check_id
from citcfs.protos import citc_pb2 as pb

# --- scalars ---------------------------------------------------------------------------


def path_to_wire(path: str) -> bytes:
    """A citcfs path as the bytes the API carries."""
    return paths.to_bytes(path)


def path_from_wire(raw: bytes) -> str:
    """A path received over the API, normalized; InvalidPath if it is not valid."""
    return paths.normalize(paths.from_bytes(bytes(raw)))


def name_from_wire(raw: bytes) -> str:
    """A single name received over the API; InvalidPath if it is not valid."""
    return paths.check_name(paths.from_bytes(bytes(raw)))


def id_from_wire(raw: bytes) -> ObjectId:
    """An object id received over the API; InvalidArgument unless it is 32 bytes."""
    return check_id(bytes(raw))


def ids_from_wire(raws: Iterable[bytes]) -> list[ObjectId]:
    return [id_from_wire(raw) for raw in raws]


def kind_from_wire(value: int) -> ObjectKind:
    """An ObjectKind received over the API; InvalidArgument if unknown."""
    try:
        return ObjectKind(value)
    except ValueError:
        raise InvalidArgument(f"unknown object kind {value}") from None


# --- entries ---------------------------------------------------------------------------


def entry_to_wire(entry: Entry, out: pb.Entry | None = None) -> pb.Entry:
    """`entry` as a message (filled into `out` when given)."""
    msg = pb.Entry() if out is None else out
    msg.kind = cast(pb.EntryKind, int(entry.kind))
    msg.mode = entry.mode
    msg.uid = entry.uid
    msg.gid = entry.gid
    msg.size = entry.size
    msg.mtime_ns = entry.mtime_ns
    if entry.chunks:
        msg.chunks.extend(entry.chunks)
    if entry.inline is not None:
        msg.inline = entry.inline
    if entry.target:
        msg.target = paths.to_bytes(entry.target)
    if entry.tree is not None:
        msg.tree = entry.tree
    msg.opaque = entry.opaque
    if entry.origin is not None:
        msg.origin = paths.to_bytes(entry.origin)
    if entry.atime_ns is not None:
        msg.atime_ns = entry.atime_ns
    if entry.ctime_ns is not None:
        msg.ctime_ns = entry.ctime_ns
    if entry.rdev:
        msg.rdev = entry.rdev
    if entry.xattrs:
        xattrs_to_wire(entry.xattrs, msg.xattrs)
    if entry.link is not None:
        msg.link = entry.link
        msg.nlink = entry.nlink
    return msg


def xattrs_to_wire(xattrs: Xattrs, out: Any) -> Any:
    """Fill repeated `Xattr` field `out` with `xattrs`."""
    for name, value in xattrs:
        item = out.add()
        item.name = name
        item.value = value
    return out


def xattrs_from_wire(msgs: Iterable[pb.Xattr]) -> Xattrs:
    """Extended attributes received over the API, checked (InvalidArgument if not
    sorted, unique and within limits)."""
    xattrs = tuple((bytes(m.name), bytes(m.value)) for m in msgs)
    check_xattrs(xattrs)
    return xattrs


def entry_from_wire(msg: pb.Entry) -> Entry:
    """An Entry from a message, checked for consistency (InvalidArgument if not)."""
    try:
        kind = EntryKind(msg.kind)
    except ValueError:
        raise InvalidArgument(f"unknown entry kind {msg.kind}") from None
    entry = Entry(
        kind=kind,
        mode=msg.mode,
        uid=msg.uid,
        gid=msg.gid,
        size=msg.size,
        mtime_ns=msg.mtime_ns,
        chunks=tuple(ids_from_wire(msg.chunks)),
        inline=bytes(msg.inline) if msg.HasField("inline") else None,
        target=paths.from_bytes(msg.target),
        tree=id_from_wire(msg.tree) if msg.HasField("tree") else None,
        opaque=msg.opaque,
        origin=path_from_wire(msg.origin) if msg.HasField("origin") else None,
        atime_ns=msg.atime_ns if msg.HasField("atime_ns") else None,
        ctime_ns=msg.ctime_ns if msg.HasField("ctime_ns") else None,
        rdev=msg.rdev,
        xattrs=tuple((bytes(m.name), bytes(m.value)) for m in msg.xattrs),
        link=bytes(msg.link) if msg.HasField("link") else None,
        nlink=msg.nlink if msg.HasField("link") else 1,
    )
    entry.check()
    return entry


def dir_entries_to_wire(items: Iterable[tuple[str, Entry]]) -> list[pb.DirEntry]:
    out = []
    for name, entry in items:
        msg = pb.DirEntry(name=paths.to_bytes(name))
        entry_to_wire(entry, msg.entry)
        out.append(msg)
    return out


def dir_entries_from_wire(msgs: Iterable[pb.DirEntry]) -> list[tuple[str, Entry]]:
    return [(name_from_wire(msg.name), entry_from_wire(msg.entry)) for msg in msgs]


# --- commit operations (built by clients) ----------------------------------------------


def write_file_op(path: str, entry: Entry) -> pb.Op:
    """Create or replace the file at `path` with `entry`."""
    op = pb.Op()
    op.write_file.path = path_to_wire(path)
    entry_to_wire(entry, op.write_file.entry)
    return op


def make_dir_op(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0,
                mtime_ns: int | None = None) -> pb.Op:
    """Create an empty directory at `path`."""
    op = pb.Op(make_dir=pb.MakeDirOp(path=path_to_wire(path), mode=mode, uid=uid, gid=gid))
    if mtime_ns is not None:
        op.make_dir.mtime_ns = mtime_ns
    return op


def symlink_op(path: str, target: str, uid: int = 0, gid: int = 0,
               mtime_ns: int | None = None) -> pb.Op:
    """Create a symbolic link at `path` pointing at `target`."""
    op = pb.Op(symlink=pb.SymlinkOp(path=path_to_wire(path), target=paths.to_bytes(target),
                                    uid=uid, gid=gid))
    if mtime_ns is not None:
        op.symlink.mtime_ns = mtime_ns
    return op


def remove_op(path: str, recursive: bool = False, must_be_dir: bool | None = None) -> pb.Op:
    """Delete `path` (see RemoveOp in the proto for the flags)."""
    op = pb.Op(remove=pb.RemoveOp(path=path_to_wire(path), recursive=recursive))
    if must_be_dir is not None:
        op.remove.must_be_dir = must_be_dir
    return op


def rename_op(src: str, dst: str, no_replace: bool = False) -> pb.Op:
    """Move `src` to `dst`."""
    return pb.Op(rename=pb.RenameOp(src=path_to_wire(src), dst=path_to_wire(dst),
                                    no_replace=no_replace))


def set_attr_op(path: str, mode: int | None = None, uid: int | None = None,
                gid: int | None = None, mtime_ns: int | None = None,
                atime_ns: int | None = None, ctime_ns: int | None = None,
                xattrs: Xattrs | None = None) -> pb.Op:
    """Change the attributes of `path`; None leaves one as it is (`xattrs`: the
    whole new set)."""
    op = pb.Op(set_attr=pb.SetAttrOp(path=path_to_wire(path)))
    for field, value in (("mode", mode), ("uid", uid), ("gid", gid), ("mtime_ns", mtime_ns),
                         ("atime_ns", atime_ns), ("ctime_ns", ctime_ns)):
        if value is not None:
            setattr(op.set_attr, field, value)
    if xattrs is not None:
        op.set_attr.xattrs.SetInParent()
        xattrs_to_wire(xattrs, op.set_attr.xattrs.items)
    return op


def make_node_op(path: str, entry: Entry) -> pb.Op:
    """Create the FIFO, socket or device node `entry` at `path`."""
    op = pb.Op()
    op.make_node.path = path_to_wire(path)
    entry_to_wire(entry, op.make_node.entry)
    return op


def link_id_from_wire(raw: bytes) -> bytes:
    """A link id received over the API; InvalidArgument unless it is 16 bytes."""
    if len(raw) != LINK_ID_SIZE:
        raise InvalidArgument(f"a link id is {LINK_ID_SIZE} bytes")
    return bytes(raw)


def link_op(src: str, dst: str, link: bytes) -> pb.Op:
    """Make `dst` another name of the file at `src` (`link`: its id if it has none)."""
    return pb.Op(link=pb.LinkOp(src=path_to_wire(src), dst=path_to_wire(dst), link=link))
