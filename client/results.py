"""What `Client` returns: plain, immutable values of the citc.v1 answers.

The CLI, the mount and tests read these instead of the generated protobuf messages,
so nothing above the client depends on the wire format. Each type holds what one
answer says, with paths as `str`, ids as `ObjectId` and enums as their lower-case
names (the names `citc --json` prints). They are built from messages in one place,
`result_wire`; this module imports nothing of the wire.
"""

from __future__ import annotations

from dataclasses import dataclass

from citcfs.entries import Entry
from citcfs.objects import ObjectId

UNKNOWN = "unknown"
"""The name of an enum value this client does not know (or one the server left unset)."""


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The limits a server advertises (see Limits in the .proto)."""

    max_message_bytes: int
    max_ops_per_commit: int
    max_ids_per_request: int
    chunk_size: int
    inline_max: int
    max_watch_streams: int
    name_max: int
    path_max: int
    max_commit_streams: int


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who and what the server is: its versions, limits, the caller's user name, and the
    RPCs it does not serve."""

    server_version: str
    api_version: str
    limits: ServerLimits
    user: str
    unimplemented: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BaseRevision:
    """One revision of a base: its root tree, when it was made, and its message."""

    base: str
    rev: int
    root: ObjectId
    time_ns: int
    message: str


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """A base and its newest revision."""

    name: str
    latest: BaseRevision


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The answer to an import: the revision made (or the equal newest one when
    `unchanged`), and how many objects and entries the request carried."""

    revision: BaseRevision
    objects: int
    entries: int
    unchanged: bool


@dataclass(frozen=True, slots=True)
class Grantee:
    """A user granted access to a workspace; `access` is 'read', 'write', ... ."""

    user: str
    access: str


@dataclass(frozen=True, slots=True)
class ForkPoint:
    """Where a forked workspace started: SOURCE@SOURCE_VERSION, whose root was `tree`,
    over base revision `base_rev`, as the fork's own version `version`."""

    source: str
    source_version: int
    tree: ObjectId
    base_rev: int
    version: int


@dataclass(frozen=True, slots=True)
class WorkspaceInfo:
    """A workspace: its base revision, head version and root, owner and grants, the
    caller's `access` ('none', 'read', 'write' or 'owner'), and its fork point."""

    id: int
    name: str
    owner: str
    base: str
    base_rev: int
    root: ObjectId
    version: int
    created_ns: int
    updated_ns: int
    grants: tuple[Grantee, ...]
    access: str
    fork: ForkPoint | None


@dataclass(frozen=True, slots=True)
class LabelInfo:
    """A snapshot label and the version it names."""

    label: str
    version: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One version of a workspace's log: its LSN, time, and how many paths it changed."""

    version: int
    lsn: int
    time_ns: int
    path_count: int


@dataclass(frozen=True, slots=True)
class DiffSide:
    """A side of a diff: a workspace (its head, a version, a label or its fork point)
    or, when `base` is set, a base (its newest revision or `base_rev`). Made by
    `Client.workspace_ref`, `Client.fork_ref` and `Client.base_ref`."""

    workspace: str = ""
    version: int | None = None
    label: str | None = None
    fork: bool = False
    base: str | None = None
    base_rev: int | None = None


@dataclass(frozen=True, slots=True)
class DiffEntry:
    """A path that differs between two states. `change` is 'added', 'modified',
    'deleted', 'type_changed' or 'renamed'; `old` and `new` are its entry on each side
    (None where it is absent); `old_path` is where a renamed path came from."""

    path: str
    change: str
    old: Entry | None
    new: Entry | None
    old_path: str | None


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """The version a change made (restore, revert) and its place in the log."""

    workspace: str
    version: int
    lsn: int
    time_ns: int


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The workspace's version and base revision after a sync, and the paths that
    conflicted (the workspace's side kept)."""

    version: int
    base_rev: int
    conflicts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The base revision a submit made, and the workspace version it took."""

    revision: BaseRevision
    version: int


@dataclass(frozen=True, slots=True)
class GcReport:
    """What a garbage collection freed (or, in a dry run, would free)."""

    dry_run: bool
    versions_pruned: int
    objects_freed: int
    bytes_freed: int
    objects_live: int


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What a server check found: the log's extent, the objects checked, those that do
    not match their id (`corrupt`) or are reachable but absent (`missing`)."""

    records: int
    first_lsn: int
    last_lsn: int
    objects: int
    corrupt: tuple[ObjectId, ...]
    missing: tuple[ObjectId, ...]
    rebuilt: bool
