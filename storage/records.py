"""Log records and their framing, with their canonical encodings.

A log record says what happened, completely enough that replaying the log rebuilds
every index: a commit stores the resolved overlay writes (the entry each path now
has), never the high-level operation, so replay needs no logic beyond storing them.

On disk each record is framed: ``length (u32) | xxh3-64 of payload (u64) | payload``,
where the payload is ``record type | fields`` in the `citcfs.codec` encoding. The values
of the indexes that replay derives are in `storage.index_values`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar, Union

import xxhash

from citcfs.codec import Reader, Writer, encode_blob, encode_sint, encode_text, encode_uint
from citcfs.entries import Entry
from citcfs.errors import CorruptLog, CorruptData
from citcfs.objects import ID_SIZE, ObjectId

_FRAME = struct.Struct(">IQ")
_ABSENT = encode_uint(0)
_PRESENT = encode_uint(1)


class RecordType(enum.IntEnum):
    BASE_REVISION = 1
    WORKSPACE_CREATED = 2
    COMMITTED = 3
    WORKSPACE_DELETED = 4
    LABEL_SET = 5
    LABEL_REMOVED = 6
    RETENTION_SET = 7
    VERSIONS_PRUNED = 8
    REDIRECTIONS_SET = 9


@dataclass(frozen=True, slots=True)
class OverlayWrite:
    """One path's new overlay state: an entry, or None for "no overlay entry"."""

    path: str
    entry: Entry | None


@dataclass(frozen=True, slots=True)
class BaseRevisionAdded:
    """Revision `rev` of base `base` now names the tree `root`."""

    TYPE: ClassVar[RecordType] = RecordType.BASE_REVISION
    base: str
    rev: int
    root: ObjectId
    time_ns: int
    message: str = ""

    def _write(self, w: Writer) -> None:
        w.text(self.base).uint(self.rev).raw(self.root).sint(self.time_ns).text(self.message)

    @classmethod
    def _read(cls, r: Reader) -> "BaseRevisionAdded":
        return cls(r.text(), r.uint(), ObjectId(r.raw(ID_SIZE)), r.sint(), r.text())


@dataclass(frozen=True, slots=True)
class ForkPoint:
    """Where a forked workspace started: the frozen root tree of `source` at
    `source_version` (`tree`), the base revision the fork was made over, and the
    fork's own version that equals that state (1, or 0 when the source had no
    changes). `tree` is a GC root; `source` and `source_version` are for display,
    since the source may be deleted or its name reused later."""

    source: str
    source_version: int
    tree: ObjectId
    base_rev: int
    version: int

    def _write(self, w: Writer) -> None:
        """The part a record or state carries (`base_rev` is the caller's to write)."""
        w.text(self.source).uint(self.source_version).raw(self.tree).uint(self.version)

    @classmethod
    def _read(cls, r: Reader, base_rev: int) -> "ForkPoint":
        source, source_version = r.text(), r.uint()
        tree = ObjectId(r.raw(ID_SIZE))
        return cls(source, source_version, tree, base_rev, r.uint())


def _read_fork_part(r: Reader, base_rev: int, what: str) -> ForkPoint | None:
    """The optional trailing fork part of a record or state: absent in workspaces
    that were not forked, and in everything written before fork points existed."""
    if r.at_end():
        return None
    if r.uint() != 1:
        raise CorruptData(f"unknown trailing part of {what}")
    return ForkPoint._read(r, base_rev)


@dataclass(frozen=True, slots=True)
class WorkspaceCreated:
    """A workspace named `name` now exists over `root`, at version 0.

    Its id is the LSN of this record. `base`/`base_rev` say which line of history
    it follows; `root` is the tree its overlay applies to (the base revision's root
    for a new workspace).

    With `fork` set, the workspace was forked, and `fork` says from what. It is an
    optional trailing part, present only when set (its `base_rev` is the record's),
    so records written before fork points existed decode unchanged.
    """

    TYPE: ClassVar[RecordType] = RecordType.WORKSPACE_CREATED
    name: str
    owner: str
    base: str
    base_rev: int
    root: ObjectId
    time_ns: int
    fork: ForkPoint | None = None

    def _write(self, w: Writer) -> None:
        w.text(self.name).text(self.owner).text(self.base).uint(self.base_rev)
        w.raw(self.root).sint(self.time_ns)
        if self.fork is not None:  # its base_rev is the record's, so not written again
            self.fork._write(w.uint(1))

    @classmethod
    def _read(cls, r: Reader) -> "WorkspaceCreated":
        name, owner, base, base_rev = r.text(), r.text(), r.text(), r.uint()
        root, time_ns = ObjectId(r.raw(ID_SIZE)), r.sint()
        fork = _read_fork_part(r, base_rev, "a workspace record")
        return cls(name, owner, base, base_rev, root, time_ns, fork)


@dataclass(frozen=True, slots=True)
class Committed:
    """Workspace `ws_id` reached `version` by these overlay writes.

    With `base_rev` and `root` set, the version also moves the workspace onto that
    revision of its base (sync, submit, restore): from this version on, the overlay
    applies over `root`.

    With `writer` set, the version applied a writer batch: `writer` is (writer id,
    the batch's last seq), and the `writers` index remembers it so that a resent
    batch is recognized. It is encoded as an optional trailing part, present only
    when set, so records written before writers existed decode unchanged.
    """

    TYPE: ClassVar[RecordType] = RecordType.COMMITTED
    ws_id: int
    version: int
    time_ns: int
    writes: tuple[OverlayWrite, ...]
    base_rev: int | None = None
    root: ObjectId | None = None
    writer: tuple[bytes, int] | None = None

    def _write(self, w: Writer) -> None:
        # Built as one list of parts: every commit writes one of these records.
        parts = [encode_uint(self.ws_id), encode_uint(self.version), encode_sint(self.time_ns),
                 encode_uint(len(self.writes))]
        for write in self.writes:
            parts.append(encode_text(write.path))
            if write.entry is None:
                parts.append(_ABSENT)
            else:
                parts += (_PRESENT, encode_blob(write.entry.encode()))
        if self.root is None or self.base_rev is None:
            parts.append(_ABSENT)
        else:
            parts += (_PRESENT, encode_uint(self.base_rev), self.root)
        if self.writer is not None:
            parts += (_PRESENT, encode_blob(self.writer[0]), encode_uint(self.writer[1]))
        w.raw(b"".join(parts))

    @classmethod
    def _read(cls, r: Reader) -> "Committed":
        ws_id, version, time_ns, count = r.uint(), r.uint(), r.sint(), r.uint()
        writes = []
        for _ in range(count):
            path = r.text()
            present = r.uint()
            writes.append(OverlayWrite(path, Entry.decode(r.blob()) if present else None))
        base_rev: int | None = None
        root: ObjectId | None = None
        if r.uint():
            base_rev, root = r.uint(), ObjectId(r.raw(ID_SIZE))
        writer: tuple[bytes, int] | None = None
        if not r.at_end():  # the trailing writer part (absent in older records)
            if r.uint() != 1:
                raise CorruptData("unknown trailing part of a commit record")
            writer = (r.blob(), r.uint())
        return cls(ws_id, version, time_ns, tuple(writes), base_rev, root, writer)


@dataclass(frozen=True, slots=True)
class WorkspaceDeleted:
    TYPE: ClassVar[RecordType] = RecordType.WORKSPACE_DELETED
    ws_id: int
    name: str
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).text(self.name).sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "WorkspaceDeleted":
        return cls(r.uint(), r.text(), r.sint())


@dataclass(frozen=True, slots=True)
class LabelSet:
    """Snapshot label `label` of workspace `ws_id` now names `version`."""

    TYPE: ClassVar[RecordType] = RecordType.LABEL_SET
    ws_id: int
    label: str
    version: int
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).text(self.label).uint(self.version).sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "LabelSet":
        return cls(r.uint(), r.text(), r.uint(), r.sint())


@dataclass(frozen=True, slots=True)
class LabelRemoved:
    TYPE: ClassVar[RecordType] = RecordType.LABEL_REMOVED
    ws_id: int
    label: str
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).text(self.label).sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "LabelRemoved":
        return cls(r.uint(), r.text(), r.sint())


@dataclass(frozen=True, slots=True)
class RetentionSet:
    """Keep only the newest `keep` unlabelled versions of `ws_id` (0: keep all)."""

    TYPE: ClassVar[RecordType] = RecordType.RETENTION_SET
    ws_id: int
    keep: int
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).uint(self.keep).sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "RetentionSet":
        return cls(r.uint(), r.uint(), r.sint())


@dataclass(frozen=True, slots=True)
class VersionsPruned:
    """Garbage collection dropped these versions of `ws_id` (as [start, end) ranges).

    Replaying the record drops them again, together with every overlay entry that
    no remaining version can see, so a rebuild agrees with the collected state.
    """

    TYPE: ClassVar[RecordType] = RecordType.VERSIONS_PRUNED
    ws_id: int
    ranges: tuple[tuple[int, int], ...]
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).uint(len(self.ranges))
        for start, end in self.ranges:
            w.uint(start).uint(end)
        w.sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "VersionsPruned":
        ws_id = r.uint()
        ranges = tuple((r.uint(), r.uint()) for _ in range(r.uint()))
        return cls(ws_id, ranges, r.sint())


@dataclass(frozen=True, slots=True)
class RedirectionsSet:
    """The local-only directories of `ws_id` are now exactly `paths` (sorted).

    A redirected directory lives on each mount's local disk and never reaches the
    server (`citc redirect`). The record holds the whole list, not a change, so
    replay needs no logic: the last record of a workspace is its setting.
    """

    TYPE: ClassVar[RecordType] = RecordType.REDIRECTIONS_SET
    ws_id: int
    paths: tuple[str, ...]
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).uint(len(self.paths))
        for path in self.paths:
            w.text(path)
        w.sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "RedirectionsSet":
        ws_id = r.uint()
        found = tuple(r.text() for _ in range(r.uint()))
        return cls(ws_id, found, r.sint())


def encode_paths(found: tuple[str, ...]) -> bytes:
    """The value of a `redirections` index key: a count, then each path."""
    w = Writer().uint(len(found))
    for path in found:
        w.text(path)
    return w.getvalue()


def decode_paths(data: bytes) -> tuple[str, ...]:
    r = Reader(bytes(data))
    found = tuple(r.text() for _ in range(r.uint()))
    r.finish()
    return found


Record = Union[BaseRevisionAdded, WorkspaceCreated, Committed, WorkspaceDeleted, LabelSet,
               LabelRemoved, RetentionSet, VersionsPruned, RedirectionsSet]

_RECORD_CLASSES: dict[int, type[Record]] = {
    cls.TYPE: cls for cls in (BaseRevisionAdded, WorkspaceCreated, Committed, WorkspaceDeleted,
                              LabelSet, LabelRemoved, RetentionSet, VersionsPruned,
                              RedirectionsSet)
}


def encode_record(record: Record) -> bytes:
    w = Writer().uint(record.TYPE)
    record._write(w)
    return w.getvalue()


def decode_record(payload: bytes) -> Record:
    r = Reader(payload)
    try:
        cls = _RECORD_CLASSES[r.uint()]
        record: Record = cls._read(r)
        r.finish()
    except KeyError:
        raise CorruptLog("unknown log record type") from None
    except CorruptData as exc:
        raise CorruptLog(f"undecodable log record: {exc}") from None
    return record


def frame(payload: bytes) -> bytes:
    """Wrap a payload with its length and checksum."""
    return _FRAME.pack(len(payload), xxhash.xxh3_64_intdigest(payload)) + payload


def unframe(data: bytes, lsn: int = 0) -> bytes:
    """The payload of a frame, or CorruptLog if its length or checksum is wrong."""
    if len(data) < _FRAME.size:
        raise CorruptLog(f"log record {lsn} is truncated")
    length, checksum = _FRAME.unpack_from(data)
    payload = data[_FRAME.size:]
    if len(payload) != length:
        raise CorruptLog(f"log record {lsn} has the wrong length")
    if xxhash.xxh3_64_intdigest(payload) != checksum:
        raise CorruptLog(f"log record {lsn} fails its checksum")
    return payload

