"""The values of derived indexes, with their canonical encodings.

Each index row (`storage.keys` names the tables) holds one of these: the state of a
live workspace, a base revision, a version, a label, a writer's progress. Unlike log
records (`storage.records`) they are never the truth: replaying the log rebuilds them
(`storage.indexes.apply_record` is their only writer).
"""

from __future__ import annotations

from dataclasses import dataclass

from citcfs.codec import Reader, Writer, encode_sint, encode_text, encode_uint
from citcfs.errors import CorruptData
from citcfs.objects import ID_SIZE, ObjectId

from .records import ForkPoint

@dataclass(frozen=True, slots=True)
class WorkspaceState:
    """What the `workspaces` index knows of a live workspace.

    `fork` is where a forked workspace started (None otherwise). It is encoded as an
    optional trailing part, so states stored before fork points existed decode.
    """

    id: int
    name: str
    owner: str
    base: str
    base_rev: int
    root: ObjectId
    version: int
    created_ns: int
    updated_ns: int
    fork: ForkPoint | None = None

    def encode(self) -> bytes:
        parts = [encode_uint(self.id), encode_text(self.name), encode_text(self.owner),
                 encode_text(self.base), encode_uint(self.base_rev), self.root,
                 encode_uint(self.version), encode_sint(self.created_ns),
                 encode_sint(self.updated_ns)]
        if self.fork is not None:
            w = Writer().uint(1).uint(self.fork.base_rev)
            self.fork._write(w)
            parts.append(w.getvalue())
        data = b"".join(parts)
        _remember_state(data, self)
        return data

    @classmethod
    def decode(cls, data: bytes) -> "WorkspaceState":
        """Decoded states are shared by their bytes: every read of a workspace starts here,
        and a commit's next reader finds the state it just wrote already decoded."""
        data = bytes(data)
        found = _STATES.get(data)
        if found is None:
            found = cls._decode(data)
            _remember_state(data, found)
        return found

    @classmethod
    def _decode(cls, data: bytes) -> "WorkspaceState":
        r = Reader(data)
        fields = (r.uint(), r.text(), r.text(), r.text(), r.uint(), ObjectId(r.raw(ID_SIZE)),
                  r.uint(), r.sint(), r.sint())
        fork: ForkPoint | None = None
        if not r.at_end():  # the trailing fork part (the state's base_rev moves on sync)
            if r.uint() != 1:
                raise CorruptData("unknown trailing part of a workspace state")
            fork = ForkPoint._read(r, base_rev=r.uint())
        r.finish()
        return cls(*fields, fork=fork)


_STATES: dict[bytes, WorkspaceState] = {}
_STATES_MAX = 4096


def _remember_state(data: bytes, state: WorkspaceState) -> None:
    """Keep a state by its encoding (values are immutable, so sharing is safe)."""
    if len(_STATES) >= _STATES_MAX:
        _STATES.clear()
    _STATES[data] = state


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
    """One version of a workspace: the record that made it, when, how many paths,
    and the base revision and root tree its overlay applies over."""

    version: int
    lsn: int
    time_ns: int
    path_count: int
    base_rev: int = 0
    root: ObjectId = ObjectId(bytes(ID_SIZE))

    def encode(self) -> bytes:
        return b"".join((encode_uint(self.version), encode_uint(self.lsn), encode_sint(self.time_ns),
                         encode_uint(self.path_count), encode_uint(self.base_rev), self.root))

    @classmethod
    def decode(cls, data: bytes) -> "VersionInfo":
        r = Reader(data)
        value = cls(r.uint(), r.uint(), r.sint(), r.uint(), r.uint(), ObjectId(r.raw(ID_SIZE)))
        r.finish()
        return value


@dataclass(frozen=True, slots=True)
class Label:
    """A snapshot label: a name for one version of a workspace."""

    label: str
    version: int
    time_ns: int

    def encode(self) -> bytes:
        return Writer().text(self.label).uint(self.version).sint(self.time_ns).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> "Label":
        r = Reader(data)
        value = cls(r.text(), r.uint(), r.sint())
        r.finish()
        return value


@dataclass(frozen=True, slots=True)
class WriterProgress:
    """What the `writers` index knows of one writer in one workspace: the last seq
    of its last applied batch and the version that batch made."""

    last_seq: int
    version: int

    def encode(self) -> bytes:
        return encode_uint(self.last_seq) + encode_uint(self.version)

    @classmethod
    def decode(cls, data: bytes) -> "WriterProgress":
        r = Reader(data)
        value = cls(r.uint(), r.uint())
        r.finish()
        return value
