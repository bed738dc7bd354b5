"""What every part of `Database` shares: the stores, the group committer, the log,
and the lookups that each job runs inside its transaction.

`Engine` holds the state (key-value store, object store, clock, tree cache, commit
listeners) and the helpers: appending a record and applying it to the indexes,
finding a workspace, a version or a base revision, recording a new version. The jobs
themselves live in their own modules (`storage.bases`, `storage.workspaces`,
`storage.reads`, `storage.commits`, `storage.history`, `storage.maintenance`) as
classes over `Engine`, and `storage.database.Database`
joins them into the one object the server serves.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence

from citcfs import paths
from citcfs.entries import Tree
from citcfs.errors import (BaseNotFound, CitcError, CorruptLog, FailedPrecondition,
                           HistoryTruncated, InvalidArgument, ObjectMissing, SnapshotNotFound,
                           WorkspaceNotFound)
from citcfs.failpoints import failpoint
from citcfs.objects import ObjectId, ObjectKind, StoredObject

from . import keys, overlay
from .backend import KVStore, KVTxn, ObjectStore
from .group_commit import GroupCommitter
from .observe import StorageObserver, StoreUsage, usage
from .indexes import IndexOverlay, apply_record, find_workspace, kept_versions_from
from .overlay import OverlayView, TreeBatch
from .index_values import BaseRevision, Label, VersionInfo, WorkspaceState
from .records import Committed, OverlayWrite, Record, decode_record, encode_record, frame, unframe
from .results import (CommitListener, CommitResult, RedirectionsResult, SubmitResult,
                      SyncResult, WriterSeq)

TREE_CACHE_SIZE = 16384

_OBJECTS_STORED = failpoint("objects-stored")
_RECORD_APPENDED = failpoint("record-appended")


def _now_ns() -> int:
    return time.time_ns()


class Engine:
    """The shared state and transaction helpers of a database (see the module doc)."""

    def __init__(self, kv: KVStore, objects: ObjectStore, *, clock: Callable[[], int] = _now_ns) -> None:
        self.kv = kv
        self.objects = objects
        self._clock = clock
        self._listeners: list[CommitListener] = []
        self._listeners_lock = threading.Lock()
        self._writer = GroupCommitter(kv, on_durable=self._announce)
        self.observer: StorageObserver | None = None
        self._load_tree = functools.lru_cache(maxsize=TREE_CACHE_SIZE)(self._read_tree)
        self._check_format()

    def _check_format(self) -> None:
        with self.kv.read() as txn:
            found = txn.get(keys.META, keys.META_FORMAT)
        if found is None:
            def job(txn: KVTxn) -> None:  # a job: servers starting together may race
                if txn.get(keys.META, keys.META_FORMAT) is None:
                    txn.put(keys.META, keys.META_FORMAT, keys.u64(keys.FORMAT_VERSION))
            self._writer.submit(job)
        elif keys.read_u64(found) != keys.FORMAT_VERSION:
            raise FailedPrecondition(
                f"data directory has format {keys.read_u64(found)}, this citcfs reads "
                f"{keys.FORMAT_VERSION}")

    # --- listeners ------------------------------------------------------------------

    def observe(self, observer: StorageObserver | None) -> None:
        """Report commits and GC runs to `observer` (None: stop reporting)."""
        self.observer = self._writer.observer = observer

    def usage(self) -> StoreUsage | None:
        """Sizes of the log and object stores, read cheaply (`storage.observe`)."""
        return usage(self.kv, self.objects)

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
        _RECORD_APPENDED()  # in the log's transaction, the indexes not yet updated
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

    @staticmethod
    def _workspace(txn: KVTxn, name: str) -> WorkspaceState:
        state = find_workspace(txn, name)
        if state is None:
            raise WorkspaceNotFound(f"workspace {name!r} does not exist")
        return state

    @staticmethod
    def _state_by_id(txn: KVTxn, ws_id: int) -> WorkspaceState:
        raw = txn.get(keys.WORKSPACES, keys.workspace_key(ws_id))
        if raw is None:
            raise CorruptLog(f"index names unknown workspace {ws_id}")
        return WorkspaceState.decode(raw)

    def _at(self, txn: KVTxn, name: str, version: int | None) -> tuple[ObjectId, IndexOverlay]:
        """The root and overlay view of workspace `name` at `version` (None: head)."""
        state = self._workspace(txn, name)
        if version is None or version == state.version:
            return state.root, IndexOverlay(txn, state.id, state.version, head=True)
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
                                  f"{Engine._version_range(txn, state)}, not {version}")
        raw = txn.get(keys.VERSIONS, keys.version_key(state.id, version))
        if raw is None:
            raise HistoryTruncated(f"version {version} of {state.name!r} was garbage-collected")
        return VersionInfo.decode(raw)

    @staticmethod
    def _ref_version(txn: KVTxn, state: WorkspaceState, ref: int | str | None) -> int:
        if ref is None:
            return state.version
        if isinstance(ref, int):
            Engine._version_info(txn, state, ref)
            return ref
        raw = txn.get(keys.LABELS, keys.label_key(state.id, ref))
        if raw is None:
            raise SnapshotNotFound(f"workspace {state.name!r} has no snapshot {ref!r}")
        return Label.decode(raw).version

    def _commit_writes(self, txn: KVTxn, state: WorkspaceState, writes: tuple[OverlayWrite, ...],
                       rebase: tuple[int, ObjectId] | None, *, now: int | None = None,
                       writer: WriterSeq | None = None,
                       skipped: tuple[tuple[int, CitcError], ...] = (),
                       objects: Sequence[StoredObject] = ()) -> CommitResult:
        """Record `writes` as the workspace's next version; the one path by which
        commits, restores, reverts, syncs, submits and redirection changes make one.

        `objects` (new trees the writes name) are stored first, then the record is
        appended: a crash in between leaves only unreferenced objects, which GC
        reclaims. `rebase` = (base revision, root) moves the workspace onto that root
        with this version. `now` is the time the writes were planned at (the clock
        when None), `writer` the writer batch applied, `skipped` what a skipping
        commit left out.
        """
        if objects:
            self.objects.put_many(objects)
        _OBJECTS_STORED()  # the objects are stored, the record that names them is not
        now = self._clock() if now is None else now
        record = Committed(state.id, state.version + 1, now, writes,
                           rebase[0] if rebase else None, rebase[1] if rebase else None,
                           writer=None if writer is None else (writer.writer_id, writer.last_seq))
        lsn = self._append(txn, record)
        return CommitResult(state.name, record.version, lsn, now, tuple(w.path for w in writes),
                            skipped=skipped)

    def _freeze_view(self, view: OverlayView, root: ObjectId) -> ObjectId:
        """Store the trees of `view` over `root` that differ from it; the root tree id.

        Only directories with overlay changes get new tree objects, and they are
        written in one object-store transaction, children before parents.
        """
        trees = TreeBatch(self.load_tree)
        node = overlay.resolve(view, self.load_tree, root, paths.ROOT)
        frozen = overlay.freeze(view, trees.load, trees.store, node)
        if trees.objects():
            self.objects.put_many(trees.objects())
        return frozen

