"""The values `Database` answers with: commit and history results, references to
workspace states and base revisions, and the reports of maintenance.

Plain frozen dataclasses with no behaviour beyond a check, so that the server, tests
and tools can name them without importing the engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from citcfs.errors import CitcError, InvalidArgument
from citcfs.objects import ObjectId

from . import keys
from .index_values import BaseRevision

CommitListener = Callable[[str, int], None]
"""Called with (workspace name, new version) once a commit is durable."""

@dataclass(frozen=True, slots=True)
class CommitResult:
    """What a commit did. `duplicate`: a writer batch applied before, so nothing was
    applied now and `version` is the one recorded for the writer's last batch.
    `skipped`: (index, error) of each operation a skipping commit left out."""

    workspace: str
    version: int
    lsn: int
    time_ns: int
    paths: tuple[str, ...]
    duplicate: bool = False
    skipped: tuple[tuple[int, CitcError], ...] = ()


@dataclass(frozen=True, slots=True)
class WriterSeq:
    """The writer batch a commit carries: the writer's 16-byte id and the inclusive
    range of its sequence numbers (see `Database.commit`)."""

    writer_id: bytes
    first_seq: int
    last_seq: int

    def check(self) -> None:
        """InvalidArgument unless the id has 16 bytes and 1 <= first <= last < 2**64."""
        if len(self.writer_id) != keys.WRITER_ID_SIZE:
            raise InvalidArgument(f"a writer id has {keys.WRITER_ID_SIZE} bytes, "
                                  f"not {len(self.writer_id)}")
        if not 1 <= self.first_seq <= self.last_seq < 1 << 64:
            raise InvalidArgument(f"a writer batch needs 1 <= first_seq <= last_seq, not "
                                  f"{self.first_seq}..{self.last_seq}")


@dataclass(frozen=True, slots=True)
class Changes:
    """The paths changed in a workspace after `since`, up to `version`."""

    workspace: str
    since: int
    version: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RedirectionsResult:
    """A workspace's redirections after a change, and the (empty) version that
    announced the change to watchers."""

    workspace: str
    version: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BaseInfo:
    name: str
    latest: BaseRevision


@dataclass(frozen=True, slots=True)
class WorkspaceRef:
    """A workspace state: a version number, a snapshot label, or (neither) the head.
    With `fork`, the state the workspace was forked from (its fork point's tree)."""

    workspace: str
    version: int | None = None
    label: str | None = None
    fork: bool = False


@dataclass(frozen=True, slots=True)
class BaseRef:
    """A base revision (the newest when `rev` is None)."""

    base: str
    rev: int | None = None


Ref = WorkspaceRef | BaseRef


@dataclass(frozen=True, slots=True)
class SyncResult:
    workspace: str
    version: int
    base_rev: int
    conflicts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    workspace: str
    version: int
    revision: BaseRevision


@dataclass(frozen=True, slots=True)
class GcReport:
    dry_run: bool
    versions_pruned: int
    objects_freed: int
    bytes_freed: int
    objects_live: int


@dataclass(frozen=True, slots=True)
class FsckReport:
    """What `fsck` found: the log, the objects, and whether the indexes were rebuilt."""

    records: int
    first_lsn: int
    last_lsn: int
    objects: int
    corrupt: tuple[ObjectId, ...]
    missing: tuple[ObjectId, ...]
    rebuilt: bool

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing


@dataclass(frozen=True, slots=True)
class VerifyReport:
    records: int
    first_lsn: int
    last_lsn: int

