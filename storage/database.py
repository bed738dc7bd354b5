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
from citcfs.entries import Entry, Tree
from citcfs.errors import (AlreadyExists, BaseNotFound, CorruptLog, FailedPrecondition,
                           HistoryTruncated, InvalidArgument, ObjectMissing, StaleVersion,
                           WorkspaceNotFound)
from citcfs.objects import ObjectId, ObjectKind

from . import keys, overlay
from .backend import KVStore, KVTxn, ObjectStore
from .group_commit import GroupCommitter
from .importer import ImportStats, Progress, import_directory
from .indexes import IndexOverlay, apply_record, find_workspace
from .lmdb_backend import LmdbKVStore, LmdbObjectStore
from .ops import Op, WriteFile
from .planner import plan_commit
from .records import (BaseRevision, BaseRevisionAdded, Committed, Record, VersionInfo,
                      WorkspaceCreated, WorkspaceDeleted, WorkspaceState, decode_record,
                      encode_record, frame, unframe)

T = TypeVar("T")

CommitListener = Callable[[str, int], None]
"""Called with (workspace name, new version) once a commit is durable."""

TREE_CACHE_SIZE = 16384


@dataclass(frozen=True, slots=True)
class CommitResult:
    workspace: str
    version: int
    lsn: int
    time_ns: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Changes:
    """The paths changed in a workspace after `since`, up to `version`."""

    workspace: str
    since: int
    version: int
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BaseInfo:
    name: str
    latest: BaseRevision


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
            if isinstance(result, CommitResult):
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
        """Make `root` the next revision of `base` (creating the base at revision 1)."""
        paths.check_label(base, "base name")
        self.load_tree(root)  # must exist and verify

        def job(txn: KVTxn) -> BaseRevision:
            latest = self._latest_revision(txn, base)
            record = BaseRevisionAdded(base, (latest.rev if latest else 0) + 1, root,
                                       self._clock(), message)
            self._append(txn, record)
            return BaseRevision(record.base, record.rev, record.root, record.time_ns, message)
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

    def commit(self, name: str, ops: Sequence[Op], expected_version: int | None = None) -> CommitResult:
        """Apply `ops` atomically as the workspace's next version.

        With `expected_version`, the commit is refused (StaleVersion) unless the
        workspace is at exactly that version: a compare-and-set for tools.
        """
        self._require_objects(oid for op in ops if isinstance(op, WriteFile) for oid in op.entry.chunks)

        def job(txn: KVTxn) -> CommitResult:
            state = self._workspace(txn, name)
            if expected_version is not None and state.version != expected_version:
                raise StaleVersion(f"workspace {name!r} is at version {state.version}, "
                                   f"not {expected_version}")
            now = self._clock()
            view = IndexOverlay(txn, state.id, state.version)
            writes = plan_commit(ops, view, self.load_tree, self.store_tree, state.root, now)
            record = Committed(state.id, state.version + 1, now, writes)
            lsn = self._append(txn, record)
            return CommitResult(name, record.version, lsn, now, tuple(w.path for w in writes))
        return self._writer.submit(job)

    # --- reads ----------------------------------------------------------------------

    def _at(self, txn: KVTxn, name: str, version: int | None) -> tuple[WorkspaceState, IndexOverlay]:
        state = self._workspace(txn, name)
        if version is None:
            version = state.version
        elif not 0 <= version <= state.version:
            raise InvalidArgument(f"workspace {name!r} has versions 0 to {state.version}, "
                                  f"not {version}")
        return state, IndexOverlay(txn, state.id, version)

    def lookup(self, name: str, path: str, version: int | None = None) -> Entry:
        """The entry at `path` in workspace `name` at `version` (the head when None)."""
        path = paths.normalize(path)
        with self.kv.read() as txn:
            state, view = self._at(txn, name, version)
            return overlay.resolve(view, self.load_tree, state.root, path).entry

    def listdir(self, name: str, path: str, version: int | None = None) -> list[tuple[str, Entry]]:
        """The directory at `path` as (name, entry) pairs sorted by name."""
        path = paths.normalize(path)
        with self.kv.read() as txn:
            state, view = self._at(txn, name, version)
            node = overlay.resolve(view, self.load_tree, state.root, path)
            return overlay.list_dir(view, self.load_tree, node)

    def read_file(self, entry: Entry) -> bytes:
        """The whole content of a file entry (for tools and tests; clients read chunks)."""
        if entry.inline is not None:
            return entry.inline
        return b"".join(self.objects.get(oid, ObjectKind.CHUNK) for oid in entry.chunks)

    def versions(self, name: str, start: int = 0) -> list[VersionInfo]:
        """The workspace's versions from `start` on, oldest first."""
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
                raise InvalidArgument(f"workspace {name!r} has versions 0 to {state.version}, "
                                      f"not {since}")
            changed: dict[str, None] = {}
            for _, raw in txn.range(keys.VERSIONS, keys.version_key(state.id, since + 1),
                                    keys.version_key(state.id, state.version + 1)):
                info = VersionInfo.decode(raw)
                record = self._read_record(txn, info.lsn)
                if isinstance(record, Committed):
                    changed.update((write.path, None) for write in record.writes)
            return Changes(name, since, state.version, tuple(changed))
