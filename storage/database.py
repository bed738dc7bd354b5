"""The log database: workspaces over bases, every version readable forever.

`Database` is the storage engine the server serves. Every change is a record appended
to the log; the indexes that answer reads are derived from the log in the same
transaction (see `storage.indexes`), and `rebuild` re-derives them from scratch.
Writes go through a `GroupCommitter`, so concurrent commits share one durable
transaction. Reads take a short snapshot transaction each and never block writers.

On disk, a data directory holds two LMDB environments:
``log/`` (the log, meta and index tables) and ``objects/`` (the object store).
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from citcfs import paths
from citcfs import redirections as redirection_rules
from citcfs.entries import Entry, Tree
from citcfs.errors import (AlreadyExists, BaseNotFound, CitcError, Conflict, CorruptData,
                           CorruptLog, DirectoryNotEmpty, FailedPrecondition, NotADirectory,
                           NotForked, OutOfSequence, HistoryTruncated, InvalidArgument,
                           ObjectMissing, PathNotFound, SnapshotNotFound, StaleVersion,
                           WorkspaceNotFound)
from citcfs.objects import ObjectId, ObjectKind, object_id

from . import history, keys, overlay
from .backend import KVStore, KVTxn, ObjectStore
from .diff import DiffEntry, Side, diff
from .group_commit import GroupCommitter
from .importer import ImportStats, Progress, import_directory
from .indexes import (IndexOverlay, apply_record, find_workspace, kept_versions,
                      kept_versions_from, redirections, writer_progress)
from .overlay import MemoryOverlay, OverlayView
from .planner import PendingView
from .lmdb_backend import LmdbKVStore, LmdbObjectStore
from .ops import Op, WriteFile
from .planner import plan_commit, plan_skipping
from .records import (BaseRevision, BaseRevisionAdded, Committed, ForkPoint, Label, LabelRemoved,
                      LabelSet, OverlayWrite, Record, RedirectionsSet, RetentionSet, VersionInfo,
                      VersionsPruned,
                      WorkspaceCreated, WorkspaceDeleted, WorkspaceState, decode_record,
                      encode_record, frame, unframe)

T = TypeVar("T")

CommitListener = Callable[[str, int], None]
"""Called with (workspace name, new version) once a commit is durable."""

TREE_CACHE_SIZE = 16384


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


class _DryRun(Exception):
    """Carries a result out of a write job whose changes must not be kept."""

    def __init__(self, result: object) -> None:
        super().__init__("dry run")
        self.result = result


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


def _now_ns() -> int:
    return time.time_ns()


class Database:
    """A citcfs data directory, opened."""

    def __init__(self, kv: KVStore, objects: ObjectStore, *, clock: Callable[[], int] = _now_ns) -> None:
        self.kv = kv
        self.objects = objects
        self._clock = clock
        self._listeners: list[CommitListener] = []
        self._listeners_lock = threading.Lock()
        self._writer = GroupCommitter(kv, on_durable=self._announce)
        self._load_tree = functools.lru_cache(maxsize=TREE_CACHE_SIZE)(self._read_tree)
        self._check_format()

    @classmethod
    def open(cls, directory: str, *, sync: bool = True, map_size: int | None = None) -> "Database":
        """Open (creating if needed) the data directory `directory`."""
        extra = {} if map_size is None else {"map_size": map_size}
        os.makedirs(directory, exist_ok=True)
        kv = LmdbKVStore(os.path.join(directory, "log"), keys.ALL_TABLES, sync=sync, **extra)
        objects = LmdbObjectStore(os.path.join(directory, "objects"), sync=sync, **extra)
        return cls(kv, objects)

    def close(self) -> None:
        self.kv.close()
        self.objects.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_format(self) -> None:
        with self.kv.read() as txn:
            found = txn.get(keys.META, keys.META_FORMAT)
        if found is None:
            with self.kv.write() as txn:
                txn.put(keys.META, keys.META_FORMAT, keys.u64(keys.FORMAT_VERSION))
        elif keys.read_u64(found) != keys.FORMAT_VERSION:
            raise FailedPrecondition(
                f"data directory has format {keys.read_u64(found)}, this citcfs reads "
                f"{keys.FORMAT_VERSION}")

    # --- listeners ------------------------------------------------------------------

    def add_listener(self, listener: CommitListener) -> None:
        """Call `listener(workspace, version)` after each durable commit."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: CommitListener) -> None:
        with self._listeners_lock:
            self._listeners.remove(listener)

    def _announce(self, results: list[object]) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        if not listeners:
            return
        for result in results:
            # Every result that moved a workspace to a new version says so: commits,
            # restores and reverts (CommitResult), syncs and submits.
            if isinstance(result, CommitResult) and result.duplicate:
                continue  # nothing new: a resent writer batch
            if isinstance(result, (CommitResult, SyncResult, SubmitResult, RedirectionsResult)):
                for listener in listeners:
                    listener(result.workspace, result.version)

    # --- the log --------------------------------------------------------------------

    def _append(self, txn: KVTxn, record: Record) -> int:
        """Append `record` to the log and apply it to the indexes; return its LSN."""
        last = txn.last(keys.LOG)
        lsn = 1 if last is None else keys.read_u64(last[0]) + 1
        txn.put(keys.LOG, keys.lsn_key(lsn), frame(encode_record(record)))
        apply_record(txn, lsn, record)
        return lsn

    def _read_record(self, txn: KVTxn, lsn: int) -> Record:
        raw = txn.get(keys.LOG, keys.lsn_key(lsn))
        if raw is None:
            raise HistoryTruncated(f"log record {lsn} is no longer held")
        return decode_record(unframe(raw, lsn))

    def log_records(self, start: int = 1) -> Iterator[tuple[int, Record]]:
        """Every (LSN, record) from `start` on, verified, in order."""
        with self.kv.read() as txn:
            items = list(txn.range(keys.LOG, keys.lsn_key(start)))
        for key, raw in items:
            lsn = keys.read_u64(key)
            yield lsn, decode_record(unframe(raw, lsn))

    def verify_log(self) -> VerifyReport:
        """Check every frame's checksum and that LSNs are dense; CorruptLog if not."""
        count = 0
        first = last = 0
        with self.kv.read() as txn:
            start_raw = txn.get(keys.META, keys.META_LOG_START)
            expected = keys.read_u64(start_raw) if start_raw else 1
            for key, raw in txn.range(keys.LOG, b""):
                lsn = keys.read_u64(key)
                if lsn != expected:
                    raise CorruptLog(f"log record {expected} is missing (found {lsn})")
                decode_record(unframe(raw, lsn))
                first = first or lsn
                last = lsn
                expected += 1
                count += 1
        return VerifyReport(count, first, last)

    def fsck(self, rebuild: bool = False, objects: bool = True) -> FsckReport:
        """Verify the log's checksums and sequence, then (with `objects`) every stored
        object against its id and that every object a live state reaches is present.
        With `rebuild`, the indexes are then dropped and replayed from the log.

        CorruptLog is raised, and nothing is rebuilt, if the log itself is damaged:
        a rebuild from a damaged log would lose what the damaged records said.
        """
        log_report = self.verify_log()
        corrupt: list[ObjectId] = []
        missing: list[ObjectId] = []
        count = 0
        if objects:
            for oid in self.objects.ids():
                count += 1
                try:
                    self.objects.get(oid)
                except CorruptData:
                    corrupt.append(oid)
            bad = set(corrupt)
            with self.kv.read() as txn:
                reachable = self._mark(txn, tolerate_missing=True)
            present = self.objects.has(list(reachable))
            missing = [oid for oid, here in zip(reachable, present) if not here and oid not in bad]
        if rebuild:
            self.rebuild()
        return FsckReport(log_report.records, log_report.first_lsn, log_report.last_lsn, count,
                          tuple(corrupt), tuple(sorted(missing)), rebuild)

    def rebuild(self) -> int:
        """Drop every index and replay the whole log; return the records replayed."""
        def job(txn: KVTxn) -> int:
            for table in keys.INDEX_TABLES:
                txn.clear(table)
            count = 0
            for key, raw in list(txn.range(keys.LOG, b"")):
                lsn = keys.read_u64(key)
                apply_record(txn, lsn, decode_record(unframe(raw, lsn)))
                count += 1
            return count
        return self._writer.submit(job)

    # --- objects and trees ----------------------------------------------------------

    def _read_tree(self, oid: ObjectId) -> Tree:
        return Tree.decode(self.objects.get(oid, ObjectKind.TREE))

    def load_tree(self, oid: ObjectId) -> Tree:
        """The tree `oid`, verified against its id (decoded trees are cached)."""
        return self._load_tree(oid)

    def store_tree(self, tree: Tree) -> ObjectId:
        return self.objects.put(ObjectKind.TREE, tree.encode())

    def _require_objects(self, oids: Iterable[ObjectId]) -> None:
        wanted = list(dict.fromkeys(oids))
        if not wanted:
            return
        missing = [oid for oid, present in zip(wanted, self.objects.has(wanted)) if not present]
        if missing:
            raise ObjectMissing(f"{len(missing)} object(s) are not in the store, first "
                                f"{bytes(missing[0]).hex()}; upload them before committing")

    # --- bases ----------------------------------------------------------------------

    def add_base_revision(self, base: str, root: ObjectId, message: str = "") -> BaseRevision:
        """Make `root` the next revision of `base` (creating the base at revision 1);
        the newest revision itself when it already has that root."""
        return self.add_base_revision_if_changed(base, root, message)[0]

    def add_base_revision_if_changed(self, base: str, root: ObjectId,
                                     message: str = "") -> tuple[BaseRevision, bool]:
        """(revision, made): `root` as the next revision of `base`, or, when the newest
        revision has that very root (an unchanged tree imported again), that revision
        and False, so that a base's history lists only revisions that differ."""
        paths.check_label(base, "base name")
        self.load_tree(root)  # must exist and verify

        def job(txn: KVTxn) -> tuple[BaseRevision, bool]:
            latest = self._latest_revision(txn, base)
            if latest is not None and latest.root == root:
                return latest, False
            record = BaseRevisionAdded(base, (latest.rev if latest else 0) + 1, root,
                                       self._clock(), message)
            self._append(txn, record)
            return BaseRevision(record.base, record.rev, record.root, record.time_ns, message), True
        return self._writer.submit(job)

    def import_directory(self, base: str, directory: str, message: str = "",
                         progress: Progress | None = None) -> tuple[BaseRevision, ImportStats]:
        """Import a local directory as the next revision of `base`."""
        paths.check_label(base, "base name")
        stats = import_directory(self.objects, directory, progress)
        return self.add_base_revision(base, stats.root, message), stats

    @staticmethod
    def _latest_revision(txn: KVTxn, base: str) -> BaseRevision | None:
        prefix = keys.base_prefix(base)
        for _, raw in txn.range(keys.BASES, prefix, prefix[:-1] + b"\1", reverse=True):
            return BaseRevision.decode(raw)
        return None

    def base_revision(self, base: str, rev: int | None = None) -> BaseRevision:
        """Revision `rev` of `base` (the newest when None); BaseNotFound if absent."""
        with self.kv.read() as txn:
            if rev is None:
                found = self._latest_revision(txn, base)
            elif not isinstance(rev, int) or not 1 <= rev < 1 << 64:
                found = None  # no key can name it; struct would raise on packing
            else:
                raw = txn.get(keys.BASES, keys.base_key(base, rev))
                found = None if raw is None else BaseRevision.decode(raw)
        if found is None:
            what = f"base {base!r}" if rev is None else f"revision {rev} of base {base!r}"
            raise BaseNotFound(f"{what} does not exist")
        return found

    def list_bases(self) -> list[BaseInfo]:
        latest: dict[str, BaseRevision] = {}
        with self.kv.read() as txn:
            for _, raw in txn.range(keys.BASES, b""):
                revision = BaseRevision.decode(raw)
                latest[revision.base] = revision
        return [BaseInfo(name, rev) for name, rev in sorted(latest.items())]

    def base_history(self, base: str) -> list[BaseRevision]:
        prefix = keys.base_prefix(base)
        with self.kv.read() as txn:
            found = [BaseRevision.decode(raw) for _, raw in txn.range(keys.BASES, prefix, prefix[:-1] + b"\1")]
        if not found:
            raise BaseNotFound(f"base {base!r} does not exist")
        return found

    # --- workspaces -----------------------------------------------------------------

    def create_workspace(self, name: str, base: str, rev: int | None = None,
                         owner: str = "") -> WorkspaceState:
        """A new workspace over `base@rev` (the newest revision when None), at version 0."""
        paths.check_label(name, "workspace name")
        revision = self.base_revision(base, rev)
        return self._create(name, owner, revision.base, revision.rev, revision.root)

    def _create(self, name: str, owner: str, base: str, base_rev: int, root: ObjectId) -> WorkspaceState:
        def job(txn: KVTxn) -> WorkspaceState:
            if find_workspace(txn, name) is not None:
                raise AlreadyExists(f"workspace {name!r} already exists")
            lsn = self._append(txn, WorkspaceCreated(name, owner, base, base_rev, root, self._clock()))
            state = find_workspace(txn, name)
            assert state is not None and state.id == lsn
            return state
        return self._writer.submit(job)

    def workspace(self, name: str) -> WorkspaceState:
        """The state of workspace `name`; WorkspaceNotFound if there is none."""
        with self.kv.read() as txn:
            return self._workspace(txn, name)

    @staticmethod
    def _workspace(txn: KVTxn, name: str) -> WorkspaceState:
        state = find_workspace(txn, name)
        if state is None:
            raise WorkspaceNotFound(f"workspace {name!r} does not exist")
        return state

    def list_workspaces(self) -> list[WorkspaceState]:
        with self.kv.read() as txn:
            ids = [keys.read_u64(raw) for _, raw in txn.range(keys.WORKSPACE_NAMES, b"")]
            found = [txn.get(keys.WORKSPACES, keys.workspace_key(ws_id)) for ws_id in ids]
        return [WorkspaceState.decode(raw) for raw in found if raw is not None]

    def delete_workspace(self, name: str) -> None:
        def job(txn: KVTxn) -> None:
            state = self._workspace(txn, name)
            self._append(txn, WorkspaceDeleted(state.id, name, self._clock()))
        self._writer.submit(job)

    # --- commits --------------------------------------------------------------------

    def commit(self, name: str, ops: Sequence[Op], expected_version: int | None = None, *,
               workspace_id: int | None = None, writer: WriterSeq | None = None,
               skip_failing: bool = False) -> CommitResult:
        """Apply `ops` atomically as the workspace's next version.

        With `expected_version`, the commit is refused (StaleVersion) unless the
        workspace is at exactly that version: a compare-and-set for tools. With
        `workspace_id`, it is refused (WorkspaceNotFound) unless `name` still names
        that workspace: a caller that checked access to a workspace by name commits
        to the one it checked, not to a namesake created since.

        With `writer`, the commit is a writer batch, applied at most once: if the
        workspace already applied the writer's `last_seq`, nothing is applied and
        the result is `duplicate`; if the batch does not start right after the last
        applied seq (a gap, or a partial overlap), it is refused (OutOfSequence).
        The check runs in the write transaction that applies the batch, so two
        concurrent sends of one batch cannot both apply it.

        With `skip_failing`, an operation that fails its checks (or names a missing
        object) is left out and reported in `skipped`; the rest apply as one
        version, which may be empty.
        """
        if writer is not None:
            writer.check()
        missing: dict[int, ObjectMissing] = {}
        if writer is None and not skip_failing:
            self._require_objects(oid for op in ops if isinstance(op, WriteFile)
                                  for oid in op.entry.chunks)
        else:
            # Checked in the job, after the writer: a duplicate is a duplicate even
            # if its objects were collected since; skipped ops are reported one by one.
            missing = self._missing_objects({index: op.entry.chunks for index, op in enumerate(ops)
                                             if isinstance(op, WriteFile) and op.entry.chunks})
        if not ops and not skip_failing:
            raise InvalidArgument("a commit needs at least one operation")

        def job(txn: KVTxn) -> CommitResult:
            state = self._workspace(txn, name)
            if workspace_id is not None and state.id != workspace_id:
                raise WorkspaceNotFound(f"workspace {name!r} was deleted (a new one has its name)")
            if writer is not None:
                applied = self._writer_check(txn, state, writer)
                if applied is not None:
                    return applied
            if expected_version is not None and state.version != expected_version:
                raise StaleVersion(f"workspace {name!r} is at version {state.version}, "
                                   f"not {expected_version}")
            if missing and not skip_failing:
                raise missing[min(missing)]
            now = self._clock()
            view = IndexOverlay(txn, state.id, state.version)
            skipped: tuple[tuple[int, CitcError], ...] = ()
            if skip_failing:
                writes, skipped = plan_skipping(ops, view, self.load_tree, self.store_tree,
                                                state.root, now, missing)
            else:
                writes = plan_commit(ops, view, self.load_tree, self.store_tree, state.root, now)
            record = Committed(state.id, state.version + 1, now, writes,
                               writer=None if writer is None else (writer.writer_id,
                                                                   writer.last_seq))
            lsn = self._append(txn, record)
            return CommitResult(name, record.version, lsn, now, tuple(w.path for w in writes),
                                skipped=skipped)
        return self._writer.submit(job)

    def _missing_objects(self, chunk_ids: dict[int, tuple[ObjectId, ...]]) -> dict[int, ObjectMissing]:
        """ObjectMissing for each operation (by index) that names an object not stored."""
        wanted = list(dict.fromkeys(oid for ids in chunk_ids.values() for oid in ids))
        if not wanted:
            return {}
        absent = {oid for oid, present in zip(wanted, self.objects.has(wanted)) if not present}
        if not absent:
            return {}
        found: dict[int, ObjectMissing] = {}
        for index, ids in chunk_ids.items():
            gone = [oid for oid in ids if oid in absent]
            if gone:
                found[index] = ObjectMissing(
                    f"{len(gone)} object(s) are not in the store, first {bytes(gone[0]).hex()}; "
                    "upload them before committing")
        return found

    def _writer_check(self, txn: KVTxn, state: WorkspaceState,
                      writer: WriterSeq) -> CommitResult | None:
        """The duplicate answer for a batch already applied, None for the next batch;
        OutOfSequence for a gap or a partial overlap."""
        progress = writer_progress(txn, state.id, writer.writer_id)
        last = progress.last_seq
        if writer.last_seq <= last:
            raw = txn.get(keys.VERSIONS, keys.version_key(state.id, progress.version))
            info = None if raw is None else VersionInfo.decode(raw)
            return CommitResult(state.name, progress.version, info.lsn if info else 0,
                                info.time_ns if info else 0, (), duplicate=True)
        if last and writer.first_seq != last + 1:
            raise OutOfSequence(
                f"writer {writer.writer_id.hex()} of workspace {state.name!r} has applied up "
                f"to seq {last}; a batch of seqs {writer.first_seq}..{writer.last_seq} "
                f"{'leaves a gap' if writer.first_seq > last + 1 else 'overlaps it in part'}")
        return None

    def writer_progress(self, name: str, writer_id: bytes) -> tuple[int, int]:
        """(last seq applied, version recorded with it) of a writer in workspace
        `name`; (0, 0) if the workspace never applied a batch of that writer."""
        if len(writer_id) != keys.WRITER_ID_SIZE:
            raise InvalidArgument(f"a writer id has {keys.WRITER_ID_SIZE} bytes, "
                                  f"not {len(writer_id)}")
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            progress = writer_progress(txn, state.id, writer_id)
        return progress.last_seq, progress.version

    # --- reads ----------------------------------------------------------------------

    def _at(self, txn: KVTxn, name: str, version: int | None) -> tuple[ObjectId, IndexOverlay]:
        """The root and overlay view of workspace `name` at `version` (None: head)."""
        state = self._workspace(txn, name)
        if version is None or version == state.version:
            return state.root, IndexOverlay(txn, state.id, state.version)
        return self._version_info(txn, state, version).root, IndexOverlay(txn, state.id, version)

    @staticmethod
    def _version_range(txn: KVTxn, state: WorkspaceState) -> str:
        """The versions a workspace still has, for errors: after a GC the oldest kept
        one, not 0, starts the range."""
        first = next(iter(kept_versions_from(txn, state.id)), state.version)
        text = f"versions {first} to {state.version}" if first != state.version \
            else f"only version {first}"
        return text + (" (older ones were garbage-collected)" if first > 0 else "")

    @staticmethod
    def _version_info(txn: KVTxn, state: WorkspaceState, version: int) -> VersionInfo:
        if not 0 <= version <= state.version:
            raise InvalidArgument(f"workspace {state.name!r} has "
                                  f"{Database._version_range(txn, state)}, not {version}")
        raw = txn.get(keys.VERSIONS, keys.version_key(state.id, version))
        if raw is None:
            raise HistoryTruncated(f"version {version} of {state.name!r} was garbage-collected")
        return VersionInfo.decode(raw)

    def lookup(self, name: str, path: str, version: int | None = None) -> Entry:
        """The entry at `path` in workspace `name` at `version` (the head when None)."""
        path = paths.normalize(path)
        with self.kv.read() as txn:
            root, view = self._at(txn, name, version)
            return overlay.resolve(view, self.load_tree, root, path).entry

    def listdir(self, name: str, path: str, version: int | None = None) -> list[tuple[str, Entry]]:
        """The directory at `path` as (name, entry) pairs sorted by name."""
        path = paths.normalize(path)
        with self.kv.read() as txn:
            root, view = self._at(txn, name, version)
            node = overlay.resolve(view, self.load_tree, root, path)
            return overlay.list_dir(view, self.load_tree, node)

    def read_file(self, entry: Entry) -> bytes:
        """The whole content of a file entry (for tools and tests; clients read chunks)."""
        if entry.inline is not None:
            return entry.inline
        return b"".join(self.objects.get(oid, ObjectKind.CHUNK) for oid in entry.chunks)

    def versions(self, name: str, start: int = 0) -> list[VersionInfo]:
        """The workspace's versions from `start` on, oldest first."""
        if not isinstance(start, int) or not 0 <= start < 1 << 64:
            raise InvalidArgument(f"a version is a number from 0, not {start!r}")
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            return [VersionInfo.decode(raw) for _, raw in txn.range(
                keys.VERSIONS, keys.version_key(state.id, start), keys.version_key(state.id + 1, 0))]

    def changes(self, name: str, since: int) -> Changes:
        """The paths changed after version `since`: the head scan behind invalidation.

        HistoryTruncated means the log no longer holds that range: drop every cached
        path of the workspace instead.
        """
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            if not 0 <= since <= state.version:
                raise InvalidArgument(f"workspace {name!r} has "
                                      f"{self._version_range(txn, state)}, not {since}")
            changed: dict[str, None] = {}
            expected = since + 1
            for _, raw in txn.range(keys.VERSIONS, keys.version_key(state.id, since + 1),
                                    keys.version_key(state.id, state.version + 1)):
                info = VersionInfo.decode(raw)
                if info.version != expected:
                    raise HistoryTruncated(f"versions {expected} to {info.version - 1} of "
                                           f"{name!r} were garbage-collected")
                expected += 1
                record = self._read_record(txn, info.lsn)
                if isinstance(record, Committed):
                    if record.root is not None:
                        # The base moved under the overlay: any path may differ.
                        raise HistoryTruncated(f"version {info.version} of {name!r} moved to "
                                               "another base revision")
                    changed.update((write.path, None) for write in record.writes)
            return Changes(name, since, state.version, tuple(changed))

    # --- snapshots ------------------------------------------------------------------

    def version_of(self, name: str, ref: int | str | None = None) -> int:
        """The version a reference names: None (head), a number, or a snapshot label."""
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            return self._ref_version(txn, state, ref)

    @staticmethod
    def _ref_version(txn: KVTxn, state: WorkspaceState, ref: int | str | None) -> int:
        if ref is None:
            return state.version
        if isinstance(ref, int):
            Database._version_info(txn, state, ref)
            return ref
        raw = txn.get(keys.LABELS, keys.label_key(state.id, ref))
        if raw is None:
            raise SnapshotNotFound(f"workspace {state.name!r} has no snapshot {ref!r}")
        return Label.decode(raw).version

    def label(self, name: str, label: str, version: int | None = None,
              replace: bool = False) -> Label:
        """Name `version` (the head when None) of a workspace `label`."""
        paths.check_snapshot_label(label)

        def job(txn: KVTxn) -> Label:
            state = self._workspace(txn, name)
            target = state.version if version is None else version
            self._version_info(txn, state, target)
            if not replace and txn.get(keys.LABELS, keys.label_key(state.id, label)) is not None:
                raise AlreadyExists(f"workspace {name!r} already has a snapshot {label!r}")
            record = LabelSet(state.id, label, target, self._clock())
            self._append(txn, record)
            return Label(label, target, record.time_ns)
        return self._writer.submit(job)

    def unlabel(self, name: str, label: str) -> None:
        def job(txn: KVTxn) -> None:
            state = self._workspace(txn, name)
            if txn.get(keys.LABELS, keys.label_key(state.id, label)) is None:
                raise SnapshotNotFound(f"workspace {name!r} has no snapshot {label!r}")
            self._append(txn, LabelRemoved(state.id, label, self._clock()))
        self._writer.submit(job)

    def labels(self, name: str) -> list[Label]:
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            return [Label.decode(raw) for _, raw in txn.range(
                keys.LABELS, keys.ws_prefix(state.id), keys.ws_prefix(state.id + 1))]

    def set_retention(self, name: str, keep: int) -> None:
        """Keep only the newest `keep` unlabelled versions at the next GC (0: all)."""
        if keep < 0:
            raise InvalidArgument("retention must be 0 (keep all) or more")

        def job(txn: KVTxn) -> None:
            state = self._workspace(txn, name)
            self._append(txn, RetentionSet(state.id, keep, self._clock()))
        self._writer.submit(job)

    # --- redirections ---------------------------------------------------------------

    def redirections(self, name: str) -> tuple[str, ...]:
        """The directories of workspace `name` that live on local disk only, sorted."""
        with self.kv.read() as txn:
            return redirections(txn, self._workspace(txn, name).id)

    def set_redirections(self, name: str, add: Sequence[str] = (),
                         remove: Sequence[str] = ()) -> RedirectionsResult:
        """Redirect the directories `add` and stop redirecting `remove` (one change).

        The rules are `citcfs.redirections.updated`; on top, a path added must hold
        nothing in the workspace's head (absent, or an empty directory), so that no
        content is hidden by the redirection. The change is logged as a
        `RedirectionsSet` record followed by a commit with no writes: that version
        reaches every mount's watch stream, which then reads the list again.
        """
        def job(txn: KVTxn) -> RedirectionsResult:
            state = self._workspace(txn, name)
            current = redirections(txn, state.id)
            found = redirection_rules.updated(current, add, remove)
            for path in set(found) - set(current):
                self._check_redirectable(txn, state, path)
            self._append(txn, RedirectionsSet(state.id, found, self._clock()))
            result = self._commit_writes(txn, state, (), None)
            return RedirectionsResult(state.name, result.version, found)
        return self._writer.submit(job)

    def _check_redirectable(self, txn: KVTxn, state: WorkspaceState, path: str) -> None:
        """Refuse to redirect a path that holds something in the workspace's head."""
        view = IndexOverlay(txn, state.id, state.version)
        try:
            node = overlay.resolve(view, self.load_tree, state.root, path)
        except PathNotFound:
            return
        except NotADirectory:
            raise NotADirectory(f"cannot redirect {path!r}: a parent of it is not a "
                                "directory in the workspace") from None
        if not node.is_dir:
            raise NotADirectory(f"cannot redirect {path!r}: it is a file in the workspace; "
                                "remove or move it first")
        if not overlay.is_empty_dir(view, self.load_tree, node):
            raise DirectoryNotEmpty(f"cannot redirect {path!r}: the workspace has files "
                                    "there; remove or move them first")

    # --- freeze, fork, restore, revert ----------------------------------------------

    def freeze(self, name: str, ref: int | str | None = None) -> ObjectId:
        """The root tree id of a workspace version: equal content, equal id."""
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            root, view = self._at(txn, name, self._ref_version(txn, state, ref))
            return self._freeze_view(view, root)

    def _freeze_view(self, view: OverlayView, root: ObjectId) -> ObjectId:
        """Store the trees of `view` over `root` that differ from it; the root tree id.

        Only directories with overlay changes get new tree objects, and they are
        written in one object-store transaction, children before parents.
        """
        batch: list[tuple[ObjectKind, bytes, ObjectId | None]] = []

        def store(tree: Tree) -> ObjectId:
            data = tree.encode()
            oid = object_id(ObjectKind.TREE, data)
            batch.append((ObjectKind.TREE, data, oid))
            return oid

        node = overlay.resolve(view, self.load_tree, root, paths.ROOT)
        frozen = overlay.freeze(view, self.load_tree, store, node)
        if batch:
            self.objects.put_many(batch)
        return frozen

    def fork(self, source: str, name: str, ref: int | str | None = None,
             owner: str = "") -> WorkspaceState:
        """A new workspace that starts as `source` at `ref`; its version 1 is that state.

        It shares the source's base revision and copies only its overlay, so the cost
        follows the source's changes, not the size of the tree. It records its fork
        point: the frozen root of that state (new tree objects only for the changed
        directories, stored before the record that names them), so that diffs can
        show the fork's own changes and not the source's.
        """
        paths.check_label(name, "workspace name")

        def job(txn: KVTxn) -> WorkspaceState:
            src = self._workspace(txn, source)
            version = self._ref_version(txn, src, ref)
            info = self._version_info(txn, src, version)
            view = IndexOverlay(txn, src.id, version)
            entries = history.live_entries(view)
            if find_workspace(txn, name) is not None:
                raise AlreadyExists(f"workspace {name!r} already exists")
            fork_point = ForkPoint(src.name, version, self._freeze_view(view, info.root),
                                   info.base_rev, 1 if entries else 0)
            now = self._clock()
            ws_id = self._append(txn, WorkspaceCreated(name, owner, src.base, info.base_rev,
                                                       info.root, now, fork_point))
            if entries:
                writes = tuple(OverlayWrite(p, e) for p, e in entries.items())
                self._append(txn, Committed(ws_id, 1, now, writes))
            return self._workspace(txn, name)
        return self._writer.submit(job)

    def restore(self, name: str, ref: int | str) -> CommitResult:
        """Make the head equal to an earlier version, as a new version."""
        def job(txn: KVTxn) -> CommitResult:
            state = self._workspace(txn, name)
            info = self._version_info(txn, state, self._ref_version(txn, state, ref))
            writes = history.restore_writes(IndexOverlay(txn, state.id, state.version),
                                            IndexOverlay(txn, state.id, info.version))
            moved = info.root != state.root or info.base_rev != state.base_rev
            return self._commit_writes(txn, state, writes,
                                       (info.base_rev, info.root) if moved else None)
        return self._writer.submit(job)

    def revert(self, name: str, targets: Sequence[str], ref: int | str | None = None) -> CommitResult:
        """Make each path as it was at `ref`: a version or a label, or (None) the base
        revision the workspace sits on now, which after a sync is not version 0's."""
        if not targets:
            raise InvalidArgument("revert needs at least one path")
        normalized = [paths.normalize(path) for path in targets]

        def job(txn: KVTxn) -> CommitResult:
            state = self._workspace(txn, name)
            target, target_root = self._revert_target(txn, state, ref)
            writes = history.revert_writes(
                IndexOverlay(txn, state.id, state.version), state.root, target, target_root,
                self.load_tree, self.store_tree, normalized, self._clock())
            return self._commit_writes(txn, state, writes, None)
        return self._writer.submit(job)

    def _revert_target(self, txn: KVTxn, state: WorkspaceState,
                       ref: int | str | None) -> tuple[OverlayView, ObjectId]:
        """The overlay and root `revert` copies from: a version's, or the current base's
        (its root with nothing over it) when `ref` is None."""
        if ref is None:
            return MemoryOverlay({}), state.root
        info = self._version_info(txn, state, self._ref_version(txn, state, ref))
        return IndexOverlay(txn, state.id, info.version), info.root

    def _commit_writes(self, txn: KVTxn, state: WorkspaceState, writes: tuple[OverlayWrite, ...],
                       rebase: tuple[int, ObjectId] | None) -> CommitResult:
        now = self._clock()
        record = Committed(state.id, state.version + 1, now, writes,
                           rebase[0] if rebase else None, rebase[1] if rebase else None)
        lsn = self._append(txn, record)
        return CommitResult(state.name, record.version, lsn, now, tuple(w.path for w in writes))

    # --- diff -----------------------------------------------------------------------

    def _side(self, ref: Ref) -> Side:
        """A diff side, read into memory so no transaction stays open while it streams."""
        if isinstance(ref, BaseRef):
            return Side(self.base_revision(ref.base, ref.rev).root)
        with self.kv.read() as txn:
            state = self._workspace(txn, ref.workspace)
            if ref.fork:
                return Side(self._fork_point(state, ref).tree)
            version = self._ref_version(txn, state, ref.label if ref.label is not None else ref.version)
            root, view = self._at(txn, ref.workspace, version)
            return Side(root, MemoryOverlay(history.live_entries(view)))

    @staticmethod
    def _fork_point(state: WorkspaceState, ref: WorkspaceRef) -> ForkPoint:
        """The fork point a `fork` ref names; NotForked for a workspace made by create
        (or forked before fork points were recorded)."""
        if ref.version is not None or ref.label is not None:
            raise InvalidArgument("a fork ref names no version or label")
        if state.fork is None:
            raise NotForked(f"{state.name}@fork: workspace {state.name!r} was not forked, "
                            f"so it has no fork point")
        return state.fork

    def diff(self, old: Ref, new: Ref) -> Iterator[DiffEntry]:
        """Stream what changed from `old` to `new`, in path order."""
        return diff(self.load_tree, self._side(old), self._side(new))

    # --- sync and submit ------------------------------------------------------------

    def _conflicts(self, view: IndexOverlay | PendingView, old_root: ObjectId,
                   new_root: ObjectId) -> list[str]:
        return history.find_conflicts(history.live_entries(view),
                                      diff(self.load_tree, Side(old_root), Side(new_root)))

    def sync(self, name: str, to_rev: int | None = None, refuse_conflicts: bool = False) -> SyncResult:
        """Move the workspace onto another revision of its base (the newest by default).

        Paths that both the workspace and the base changed are conflicts: they keep
        the workspace's version and are reported. With `refuse_conflicts`, a sync that
        would have any is refused (Conflict) and changes nothing.
        """
        def job(txn: KVTxn) -> SyncResult:
            state = self._workspace(txn, name)
            if to_rev is None:
                target = self._latest_revision(txn, state.base)
                assert target is not None
            else:
                raw = txn.get(keys.BASES, keys.base_key(state.base, to_rev))
                if raw is None:
                    raise BaseNotFound(f"revision {to_rev} of base {state.base!r} does not exist")
                target = BaseRevision.decode(raw)
            if target.rev == state.base_rev:
                return SyncResult(name, state.version, state.base_rev, ())
            head = IndexOverlay(txn, state.id, state.version)
            conflicts = self._conflicts(head, state.root, target.root)
            if conflicts and refuse_conflicts:
                raise Conflict(f"sync of {name!r} to revision {target.rev} conflicts at "
                               + ", ".join(conflicts[:10]), tuple(conflicts))
            writes = history.rebase_writes(head, state.root, target.root, self.load_tree)
            result = self._commit_writes(txn, state, writes, (target.rev, target.root))
            return SyncResult(name, result.version, target.rev, tuple(conflicts))
        return self._writer.submit(job)

    def submit(self, name: str, message: str = "") -> SubmitResult:
        """Make the workspace the next revision of its base; it then has an empty overlay.

        If the base moved on since the workspace's revision, the workspace's changes
        go onto the newest revision, unless the base changed paths the workspace
        changed too: then the submit is refused with those paths (Conflict).
        """
        def job(txn: KVTxn) -> SubmitResult:
            state = self._workspace(txn, name)
            latest = self._latest_revision(txn, state.base)
            assert latest is not None
            view = PendingView(IndexOverlay(txn, state.id, state.version))
            if latest.rev != state.base_rev:
                conflicts = self._conflicts(view, state.root, latest.root)
                if conflicts:
                    raise Conflict(f"base {state.base!r} changed under {name!r} since revision "
                                   f"{state.base_rev}: " + ", ".join(conflicts[:10]), tuple(conflicts))
                for write in history.rebase_writes(view, state.root, latest.root, self.load_tree):
                    view.set(write.path, write.entry)
            changed = history.live_entries(view)
            if not changed:
                raise FailedPrecondition(f"workspace {name!r} has no changes to submit")
            node = overlay.resolve(view, self.load_tree, latest.root, paths.ROOT)
            root = overlay.freeze(view, self.load_tree, self.store_tree, node)
            now = self._clock()
            revision = BaseRevision(state.base, latest.rev + 1, root, now, message)
            self._append(txn, BaseRevisionAdded(state.base, revision.rev, root, now, message))
            cleared = {path: None for path in changed}
            cleared.update({path: None for path in view.writes})
            writes = tuple(OverlayWrite(p, None) for p in cleared)
            result = self._commit_writes(txn, state, writes, (revision.rev, root))
            return SubmitResult(name, result.version, revision)
        return self._writer.submit(job)

    # --- garbage collection -----------------------------------------------------------

    def _prune(self, txn: KVTxn) -> int:
        """Log the versions that retention policies let go; return how many."""
        pruned = 0
        for key, raw_keep in list(txn.range(keys.RETENTION, b"")):
            ws_id, keep = keys.read_u64(key), keys.read_u64(raw_keep)
            state = self._state_by_id(txn, ws_id)
            labelled = {Label.decode(raw).version for _, raw in txn.range(
                keys.LABELS, keys.ws_prefix(ws_id), keys.ws_prefix(ws_id + 1))}
            protected = labelled | set(range(max(0, state.version - keep + 1), state.version + 1))
            doomed = [v for v in kept_versions(txn, ws_id) if v not in protected]
            if not doomed:
                continue
            ranges: list[tuple[int, int]] = []
            for version in doomed:
                if ranges and ranges[-1][1] == version:
                    ranges[-1] = (ranges[-1][0], version + 1)
                else:
                    ranges.append((version, version + 1))
            self._append(txn, VersionsPruned(ws_id, tuple(ranges), self._clock()))
            pruned += len(doomed)
        return pruned

    @staticmethod
    def _state_by_id(txn: KVTxn, ws_id: int) -> WorkspaceState:
        raw = txn.get(keys.WORKSPACES, keys.workspace_key(ws_id))
        if raw is None:
            raise CorruptLog(f"index names unknown workspace {ws_id}")
        return WorkspaceState.decode(raw)

    def _mark(self, txn: KVTxn, tolerate_missing: bool = False) -> set[ObjectId]:
        """Every object reachable from a base revision, a kept workspace version or a
        live workspace's fork point.

        With `tolerate_missing`, a tree that cannot be read is counted as reachable
        and not descended into (fsck reports it), instead of raising.
        """
        reachable: set[ObjectId] = set()

        def visit_entry(entry: Entry) -> None:
            reachable.update(entry.chunks)
            if entry.tree is not None:
                visit_tree(entry.tree)

        def visit_tree(oid: ObjectId) -> None:
            if oid in reachable:
                return
            reachable.add(oid)
            try:
                tree = self.load_tree(oid)
            except (ObjectMissing, CorruptData):
                if not tolerate_missing:
                    raise
                return
            for _, entry in tree:
                visit_entry(entry)

        for _, raw in txn.range(keys.BASES, b""):
            visit_tree(BaseRevision.decode(raw).root)
        for _, raw in txn.range(keys.VERSIONS, b""):
            visit_tree(VersionInfo.decode(raw).root)
        for _, raw in txn.range(keys.WORKSPACES, b""):
            fork = WorkspaceState.decode(raw).fork
            if fork is not None:  # a fork point is a root: `ws@fork` reads it
                visit_tree(fork.tree)
        for key, value in txn.range(keys.OVERLAY, b""):
            # A long parent's full path leads the value: split_overlay_item removes it.
            entry = keys.split_overlay_item(key, value)[3]
            if entry:
                visit_entry(Entry.decode(entry))
        return reachable

    def gc(self, dry_run: bool = False) -> GcReport:
        """Apply retention policies, then delete every object nothing reaches.

        Objects are deleted only if they existed before the reachable set was
        computed, so an upload racing with GC is never lost unless it was already
        unreferenced; a commit naming an object GC removed fails with ObjectMissing
        and the client uploads it again.
        """
        existing = {oid: size for oid, size in self.objects.sizes()}

        def job(txn: KVTxn) -> tuple[int, set[ObjectId]]:
            result = (self._prune(txn), self._mark(txn))
            if dry_run:
                raise _DryRun(result)
            return result
        try:
            pruned, reachable = self._writer.submit(job)
        except _DryRun as outcome:
            pruned, reachable = outcome.result  # type: ignore[misc]
        garbage = [oid for oid in existing if oid not in reachable]
        freed_bytes = sum(existing[oid] for oid in garbage)
        if not dry_run and garbage:
            self.objects.delete(garbage)
        return GcReport(dry_run, pruned, len(garbage), freed_bytes, len(existing) - len(garbage))
