"""Log records and the values of derived indexes, with their canonical encodings.

A log record says what happened, completely enough that replaying the log rebuilds
every index: a commit stores the resolved overlay writes (the entry each path now
has), never the high-level operation, so replay needs no logic beyond storing them.

On disk each record is framed: ``length (u32) | xxh3-64 of payload (u64) | payload``,
where the payload is ``record type | fields`` in the `citcfs.codec` encoding.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import ClassVar, Union

import xxhash

from citcfs.codec import Reader, Writer
from citcfs.entries import Entry
from citcfs.errors import CorruptLog, CorruptData
from citcfs.objects import ID_SIZE, ObjectId

_FRAME = struct.Struct(">IQ")


class RecordType(enum.IntEnum):
    BASE_REVISION = 1
    WORKSPACE_CREATED = 2
    COMMITTED = 3
    WORKSPACE_DELETED = 4


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
class WorkspaceCreated:
    """A workspace named `name` now exists over `root`, at version 0.

    Its id is the LSN of this record. `base`/`base_rev` say which line of history
    it follows; `root` is the tree its overlay applies to (the base revision's root
    for a new workspace).
    """

    TYPE: ClassVar[RecordType] = RecordType.WORKSPACE_CREATED
    name: str
    owner: str
    base: str
    base_rev: int
    root: ObjectId
    time_ns: int

    def _write(self, w: Writer) -> None:
        w.text(self.name).text(self.owner).text(self.base).uint(self.base_rev)
        w.raw(self.root).sint(self.time_ns)

    @classmethod
    def _read(cls, r: Reader) -> "WorkspaceCreated":
        return cls(r.text(), r.text(), r.text(), r.uint(), ObjectId(r.raw(ID_SIZE)), r.sint())


@dataclass(frozen=True, slots=True)
class Committed:
    """Workspace `ws_id` reached `version` by these overlay writes."""

    TYPE: ClassVar[RecordType] = RecordType.COMMITTED
    ws_id: int
    version: int
    time_ns: int
    writes: tuple[OverlayWrite, ...]

    def _write(self, w: Writer) -> None:
        w.uint(self.ws_id).uint(self.version).sint(self.time_ns).uint(len(self.writes))
        for write in self.writes:
            w.text(write.path)
            if write.entry is None:
                w.uint(0)
            else:
                w.uint(1).blob(write.entry.encode())

    @classmethod
    def _read(cls, r: Reader) -> "Committed":
        ws_id, version, time_ns, count = r.uint(), r.uint(), r.sint(), r.uint()
        writes = []
        for _ in range(count):
            path = r.text()
            present = r.uint()
            writes.append(OverlayWrite(path, Entry.decode(r.blob()) if present else None))
        return cls(ws_id, version, time_ns, tuple(writes))


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


Record = Union[BaseRevisionAdded, WorkspaceCreated, Committed, WorkspaceDeleted]

_RECORD_CLASSES: dict[int, type] = {
    cls.TYPE: cls for cls in (BaseRevisionAdded, WorkspaceCreated, Committed, WorkspaceDeleted)
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


# --- values of derived indexes --------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WorkspaceState:
    """What the `workspaces` index knows of a live workspace."""

    id: int
    name: str
    owner: str
    base: str
    base_rev: int
    root: ObjectId
    version: int
    created_ns: int
    updated_ns: int

    def encode(self) -> bytes:
        w = Writer().uint(self.id).text(self.name).text(self.owner).text(self.base)
        w.uint(self.base_rev).raw(self.root).uint(self.version)
        w.sint(self.created_ns).sint(self.updated_ns)
        return w.getvalue()

    @classmethod
    def decode(cls, data: bytes) -> "WorkspaceState":
        r = Reader(data)
        value = cls(r.uint(), r.text(), r.text(), r.text(), r.uint(), ObjectId(r.raw(ID_SIZE)),
                    r.uint(), r.sint(), r.sint())
        r.finish()
        return value


@dataclass(frozen=True, slots=True)
class BaseRevision:
    """Revision `rev` of a base: its root tree, when it was made and why."""

    base: str
    rev: int
    root: ObjectId
    time_ns: int
    message: str

    def encode(self) -> bytes:
        return Writer().text(self.base).uint(self.rev).raw(self.root).sint(self.time_ns) \
            .text(self.message).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> "BaseRevision":
        r = Reader(data)
        value = cls(r.text(), r.uint(), ObjectId(r.raw(ID_SIZE)), r.sint(), r.text())
        r.finish()
        return value


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One version of a workspace: the record that made it, when, how many paths."""

    version: int
    lsn: int
    time_ns: int
    path_count: int

    def encode(self) -> bytes:
        return Writer().uint(self.version).uint(self.lsn).sint(self.time_ns) \
            .uint(self.path_count).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> "VersionInfo":
        r = Reader(data)
        value = cls(r.uint(), r.uint(), r.sint(), r.uint())
        r.finish()
        return value
