"""The write journal of a mount: what it changed, on local disk, until the server has it.

A mount acknowledges a `close()`, a metadata change or a rename once the change is
appended here; a flusher (`client.flusher`) sends the journal to the server in
batches. The journal is written with `write()` and never fsynced, as a local
filesystem writes: a killed mount loses nothing (the kernel holds the pages), and a
crashed machine may lose what had not reached the server.

Files, in the journal directory (`<cache dir>/journals`):

``<key>-<writer>.lock``          held (flock) by the mount that writes the journal
``<key>-<writer>-<n>.jnl``       segment n: a header frame, then one frame per record

`key` names the server and workspace; `writer` is the 16 random bytes (hex) that name
this journal to the server, which remembers the last sequence number it applied for
each writer, so a batch sent twice is applied once. A frame is ``len u32 | xxh3-64
u64 | payload`` (as the server's log); a torn or corrupt frame ends a segment. A record
payload is ``seq u64 | flags u8 | citc.v1.Op``. A journal whose lock nobody holds was
left by a dead mount and is replayed by the next mount of the same server and
workspace.

The operations are plain values (`JournalOp`), and `coalesce` (pure) collapses a
batch of them to fewer with the same effect.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Union

import xxhash

from citcfs import paths, wire
from citcfs.entries import Entry, Xattrs
from citcfs.errors import CorruptData
from citcfs.objects import ObjectId
from citcfs.protos import citc_pb2 as pb

log = logging.getLogger("citcfs.client")

_FRAME = struct.Struct("<IQ")
_RECORD = struct.Struct("<QB")
_FLAG_NEW = 1
SEGMENT_BYTES = 8 << 20
"""A segment this large is closed and a new one started, so acknowledged records
can be dropped a file at a time."""


# --- operations ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WriteFile:
    """The file at `path` now has `entry`; `new` when the file did not exist before."""

    path: str
    entry: Entry
    new: bool = False


@dataclass(frozen=True, slots=True)
class MakeDir:
    path: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class Symlink:
    path: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class MakeNode:
    """A FIFO, socket or device node made at `path`."""

    path: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class Remove:
    path: str
    must_be_dir: bool


@dataclass(frozen=True, slots=True)
class Rename:
    src: str
    dst: str
    no_replace: bool = False


@dataclass(frozen=True, slots=True)
class SetAttr:
    path: str
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime_ns: int | None = None
    atime_ns: int | None = None
    ctime_ns: int | None = None
    xattrs: Xattrs | None = None

    def changes(self) -> dict[str, Any]:
        """The fields this change sets, by Entry field name."""
        found = {"mode": self.mode, "uid": self.uid, "gid": self.gid, "mtime_ns": self.mtime_ns,
                 "atime_ns": self.atime_ns, "ctime_ns": self.ctime_ns, "xattrs": self.xattrs}
        return {key: value for key, value in found.items() if value is not None}


@dataclass(frozen=True, slots=True)
class Link:
    """`dst` became another name of the file at `src` (`link`: the file's id, chosen
    here if it had none)."""

    src: str
    dst: str
    link: bytes

    @property
    def path(self) -> str:
        """The name this change made."""
        return self.dst


JournalOp = Union[WriteFile, MakeDir, Symlink, MakeNode, Remove, Rename, SetAttr, Link]
_ATTR_FIELDS = ("mode", "uid", "gid", "mtime_ns", "atime_ns", "ctime_ns")


def op_to_wire(op: JournalOp) -> pb.Op:
    """The commit operation the server applies for `op`."""
    if isinstance(op, WriteFile):
        return wire.write_file_op(op.path, op.entry)
    if isinstance(op, MakeDir):
        e = op.entry
        return wire.make_dir_op(op.path, e.mode, e.uid, e.gid, e.mtime_ns)
    if isinstance(op, Symlink):
        e = op.entry
        return wire.symlink_op(op.path, e.target, e.uid, e.gid, e.mtime_ns)
    if isinstance(op, Remove):
        return wire.remove_op(op.path, must_be_dir=op.must_be_dir)
    if isinstance(op, Rename):
        return wire.rename_op(op.src, op.dst, no_replace=op.no_replace)
    if isinstance(op, MakeNode):
        return wire.make_node_op(op.path, op.entry)
    if isinstance(op, Link):
        return wire.link_op(op.src, op.dst, op.link)
    return wire.set_attr_op(op.path, op.mode, op.uid, op.gid, op.mtime_ns, op.atime_ns,
                            op.ctime_ns, op.xattrs)


def op_from_wire(msg: pb.Op, new: bool = False) -> JournalOp:
    """The journal operation a stored `citc.v1.Op` stands for."""
    which = msg.WhichOneof("op")
    if which == "write_file":
        return WriteFile(wire.path_from_wire(msg.write_file.path),
                         wire.entry_from_wire(msg.write_file.entry), new)
    if which == "make_dir":
        md = msg.make_dir
        return MakeDir(wire.path_from_wire(md.path),
                       Entry.directory(mode=md.mode, uid=md.uid, gid=md.gid, mtime_ns=md.mtime_ns))
    if which == "symlink":
        sl = msg.symlink
        return Symlink(wire.path_from_wire(sl.path),
                       Entry.symlink(paths.from_bytes(sl.target), uid=sl.uid, gid=sl.gid,
                                     mtime_ns=sl.mtime_ns))
    if which == "remove":
        return Remove(wire.path_from_wire(msg.remove.path), bool(msg.remove.must_be_dir))
    if which == "rename":
        mv = msg.rename
        return Rename(wire.path_from_wire(mv.src), wire.path_from_wire(mv.dst), mv.no_replace)
    if which == "set_attr":
        sa = msg.set_attr
        xattrs = wire.xattrs_from_wire(sa.xattrs.items) if sa.HasField("xattrs") else None
        fields: dict[str, Any] = {f: getattr(sa, f) for f in _ATTR_FIELDS if sa.HasField(f)}
        return SetAttr(wire.path_from_wire(sa.path), **fields, xattrs=xattrs)
    if which == "make_node":
        mn = msg.make_node
        return MakeNode(wire.path_from_wire(mn.path), wire.entry_from_wire(mn.entry))
    if which == "link":
        ln = msg.link
        return Link(wire.path_from_wire(ln.src), wire.path_from_wire(ln.dst),
                    wire.link_id_from_wire(ln.link))
    raise CorruptData(f"unknown journal operation {which!r}")


def chunk_ids(op: JournalOp) -> tuple[ObjectId, ...]:
    """The chunks a journaled file refers to (pinned in the local cache until sent)."""
    if isinstance(op, WriteFile):
        return tuple(op.entry.chunks)
    return ()


def encode_record(seq: int, op: JournalOp, msg: pb.Op | None = None) -> bytes:
    """A record's payload (`msg`: `op` as a message, when the caller has it)."""
    flags = _FLAG_NEW if isinstance(op, WriteFile) and op.new else 0
    msg = op_to_wire(op) if msg is None else msg
    return _RECORD.pack(seq, flags) + msg.SerializeToString()


def decode_record(payload: bytes) -> tuple[int, JournalOp]:
    seq, flags = _RECORD.unpack_from(payload)
    msg = pb.Op()
    msg.ParseFromString(payload[_RECORD.size:])
    return seq, op_from_wire(msg, bool(flags & _FLAG_NEW))


def frame(payload: bytes) -> bytes:
    return _FRAME.pack(len(payload), xxhash.xxh3_64_intdigest(payload)) + payload


def read_frames(data: bytes) -> Iterator[bytes]:
    """The intact frames of a segment, in order, up to the first torn or corrupt one."""
    pos = 0
    while pos + _FRAME.size <= len(data):
        length, digest = _FRAME.unpack_from(data, pos)
        start = pos + _FRAME.size
        payload = data[start:start + length]
        if len(payload) != length or xxhash.xxh3_64_intdigest(payload) != digest:
            log.warning("journal: a torn record ends the segment at byte %d", pos)
            return
        yield payload
        pos = start + length


# --- coalescing (pure) -----------------------------------------------------------------


def coalesce(ops: Sequence[JournalOp]) -> list[JournalOp]:
    """Fewer operations with the effect of `ops` applied in order.

    Operations that set one path's state collapse into its last state: a written file
    absorbs later attribute changes and is replaced by a later write; a file or a
    directory made and then removed within `ops` vanishes with its removal. A rename
    or a hard link (or a removal that is kept) ends what is known about paths, so
    nothing is moved across one: whatever it touches keeps its order.

    One exception to "the last state": a removed path stays a removal even when an
    earlier operation of `ops` wrote it, since it may have existed before them.
    """
    out: list[JournalOp | None] = []
    last: dict[str, int] = {}  # path -> index in `out` of the op that set its state

    def forget_under(path: str) -> None:
        prefix = path + "/"
        for known in [p for p in last if p == path or p.startswith(prefix) or not path]:
            del last[known]

    for op in ops:
        if isinstance(op, (Rename, Link)):
            last.clear()  # what lies under, or above, either name is no longer known
            out.append(op)
            continue
        index = last.get(op.path)
        prior = out[index] if index is not None else None
        if isinstance(op, SetAttr) and prior is not None:
            merged = _merge_attrs(prior, op)
            if merged is not None:
                out[index] = merged  # type: ignore[index]
                continue
        if isinstance(op, WriteFile) and isinstance(prior, WriteFile):
            out[index] = None  # type: ignore[index]
            op = replace(op, new=prior.new)
        elif isinstance(op, Remove) and prior is not None:
            out[index] = None  # type: ignore[index]
            if _made_here(prior):
                forget_under(op.path)
                continue
        if isinstance(op, Remove):
            forget_under(op.path)
            out.append(op)
            continue
        last[op.path] = len(out)
        out.append(op)
    return [op for op in out if op is not None]


def _made_here(op: JournalOp | None) -> bool:
    """Whether `op` created its path (so removing it again leaves no trace)."""
    return isinstance(op, (MakeDir, Symlink, MakeNode)) or (isinstance(op, WriteFile) and op.new)


def _merge_attrs(prior: JournalOp, change: SetAttr) -> JournalOp | None:
    """`prior` with `change` folded in, or None where they cannot merge."""
    changes = change.changes()
    if isinstance(prior, SetAttr):
        return SetAttr(prior.path, **{**prior.changes(), **changes})
    if isinstance(prior, (WriteFile, MakeNode)):
        return replace(prior, entry=prior.entry.replace(**changes).compact_times())
    if isinstance(prior, MakeDir) or (isinstance(prior, Symlink) and "mode" not in changes):
        entry = prior.entry.replace(**changes).compact_times()
        if entry.atime_ns is None and entry.ctime_ns is None and not entry.xattrs:
            return replace(prior, entry=entry)  # all a MakeDirOp or SymlinkOp carries
    return None


# --- the journal files ------------------------------------------------------------------


def _read_header(payload: bytes) -> dict[str, str]:
    """The fields of a segment's header frame ({} if it is not one this code wrote)."""
    try:
        fields = json.loads(payload)
    except ValueError:
        return {}
    if not isinstance(fields, dict):
        return {}
    return {str(key): str(value) for key, value in fields.items() if key != "segment"}


def journal_key(server: str, workspace: str) -> str:
    """The name part shared by every journal of one workspace on one server."""
    return xxhash.xxh3_64_hexdigest(f"{server}\0{workspace}".encode())


class Journal:
    """One writer's journal: appends records and drops segments the server has applied."""

    def __init__(self, directory: str, key: str, writer_id: bytes, lock_fd: int,
                 header: dict[str, str]) -> None:
        self.directory = directory
        self.key = key
        self.writer_id = writer_id
        self.workspace_id = int(header.get("workspace_id", 0))
        """The id of the workspace written to (0: unknown, a journal of an older
        version): its batches go to that workspace only, never to a namesake."""
        self._lock_fd = lock_fd
        self._header = header
        self._segments: list[tuple[int, int]] = []  # (segment number, its last seq)
        self._fd = -1
        self._segment_bytes = 0
        self.next_seq = 1

    # --- opening ----------------------------------------------------------------------

    @classmethod
    def create(cls, directory: str, server: str, workspace: str,
               workspace_id: int = 0) -> "Journal":
        """A new, empty journal of the workspace with `workspace_id`, with a writer
        id of its own, locked by this process."""
        os.makedirs(directory, exist_ok=True)
        key = journal_key(server, workspace)
        writer_id = os.urandom(16)
        lock_fd = os.open(os.path.join(directory, f"{key}-{writer_id.hex()}.lock"),
                          os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return cls(directory, key, writer_id, lock_fd,
                   {"server": server, "workspace": workspace, "writer": writer_id.hex(),
                    "workspace_id": str(workspace_id)})

    @classmethod
    def orphans(cls, directory: str, server: str,
                workspace: str) -> list[tuple["Journal", list[tuple[int, JournalOp]]]]:
        """Journals of this server and workspace that no live mount holds, each locked
        now by this process, with their records."""
        if not os.path.isdir(directory):
            return []
        key = journal_key(server, workspace)
        found = []
        for name in sorted(os.listdir(directory)):
            if not (name.startswith(key + "-") and name.endswith(".lock")):
                continue
            writer_hex = name[len(key) + 1:-len(".lock")]
            lock_fd = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CLOEXEC)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(lock_fd)
                continue  # a live mount writes it
            journal = cls(directory, key, bytes.fromhex(writer_hex), lock_fd,
                          {"server": server, "workspace": workspace, "writer": writer_hex})
            found.append((journal, journal._load()))
        return found

    def _segment_path(self, number: int) -> str:
        return os.path.join(self.directory, f"{self.key}-{self.writer_id.hex()}-{number:08d}.jnl")

    def _load(self) -> list[tuple[int, JournalOp]]:
        """Read every segment of this writer; later appends go to a new segment."""
        prefix = f"{self.key}-{self.writer_id.hex()}-"
        numbers = sorted(int(name[len(prefix):-4]) for name in os.listdir(self.directory)
                         if name.startswith(prefix) and name.endswith(".jnl"))
        records: list[tuple[int, JournalOp]] = []
        for number in numbers:
            with open(self._segment_path(number), "rb") as handle:
                frames = read_frames(handle.read())
            header = next(frames, None)
            if header is not None and not self.workspace_id:
                self._header = {**self._header, **_read_header(header)}
                self.workspace_id = int(self._header.get("workspace_id", 0))
            last = 0
            for payload in frames:
                seq, op = decode_record(payload)
                records.append((seq, op))
                last = seq
            self._segments.append((number, last))
        if records:
            self.next_seq = records[-1][0] + 1
        return records

    # --- writing ----------------------------------------------------------------------

    def append(self, op: JournalOp, msg: pb.Op | None = None) -> tuple[int, int]:
        """Append `op` (`msg`: it as a message, if made already); its sequence number
        and the bytes it took."""
        seq = self.next_seq
        data = frame(encode_record(seq, op, msg))
        if self._fd < 0 or self._segment_bytes >= SEGMENT_BYTES:
            self._start_segment()
        os.write(self._fd, data)
        self._segment_bytes += len(data)
        number, _ = self._segments[-1]
        self._segments[-1] = (number, seq)
        self.next_seq = seq + 1
        return seq, len(data)

    def _start_segment(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        number = self._segments[-1][0] + 1 if self._segments else 1
        self._fd = os.open(self._segment_path(number),
                           os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC, 0o600)
        header = frame(json.dumps({**self._header, "segment": number}).encode())
        os.write(self._fd, header)
        self._segment_bytes = len(header)
        self._segments.append((number, 0))

    def acknowledged(self, seq: int) -> None:
        """The server has applied everything up to `seq`: drop the segments it covers."""
        while len(self._segments) > 1 and self._segments[0][1] <= seq:
            number, _ = self._segments.pop(0)
            _unlink(self._segment_path(number))

    def remove(self) -> None:
        """Delete this journal (everything in it is on the server) and release it."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        for number, _ in self._segments:
            _unlink(self._segment_path(number))
        self._segments.clear()
        _unlink(os.path.join(self.directory, f"{self.key}-{self.writer_id.hex()}.lock"))
        self.close()

    def close(self) -> None:
        """Stop writing; the files stay (and the next mount replays them)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

