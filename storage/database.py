"""The log database: workspaces over bases, every version readable forever.

`Database` is the storage engine the server serves (see its docstring for where
each job lives). Every change is a record appended
to the log; the indexes that answer reads are derived from the log in the same
transaction (see `storage.indexes`), and `rebuild` re-derives them from scratch.
Writes go through a `GroupCommitter`, so concurrent commits share one durable
transaction. Reads take a short snapshot transaction each and never block writers.

On disk, a data directory holds two LMDB environments:
``log/`` (the log, meta and index tables) and ``objects/`` (the object store).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence

from citcfs import paths
from citcfs import redirections as redirection_rules
from citcfs.entries import Entry
from citcfs.errors import (AlreadyExists, BaseNotFound, CorruptObject, DirectoryNotEmpty,
                           HistoryTruncated, InvalidArgument, NotADirectory, NotForked,
                           PathNotFound, SnapshotNotFound)
from citcfs.objects import ObjectId, ObjectKind

from . import history, keys, overlay
from .backend import KVTxn
from .commits import Commits
from .diff import DiffEntry, Side, diff
from .history import History
from .importer import (ImportStats, Progress, build_trees, check_reachable,
                       import_directory)
from .indexes import IndexOverlay, find_workspace, redirections
from .lmdb_backend import LmdbKVStore, LmdbObjectStore
from .maintenance import Maintenance
from .overlay import MemoryOverlay, TreeBatch
from .records import (BaseRevision, BaseRevisionAdded, Committed, ForkPoint, Label, LabelRemoved,
                      LabelSet, OverlayWrite, RedirectionsSet, RetentionSet, VersionInfo,
                      WorkspaceCreated, WorkspaceDeleted, WorkspaceState)
from .results import (BaseInfo, BaseRef, Changes, CommitListener, CommitResult, FsckReport,
                      GcReport, RedirectionsResult, Ref, SubmitResult, SyncResult, VerifyReport,
                      WorkspaceRef, WriterSeq)

__all__ = ["BaseInfo", "BaseRef", "Changes", "CommitListener", "CommitResult", "Database",
           "FsckReport", "GcReport", "RedirectionsResult", "Ref", "SubmitResult", "SyncResult",
           "VerifyReport", "WorkspaceRef", "WriterSeq"]


class Database(Commits, History, Maintenance):
    """A citcfs data directory, opened: the facade the server serves.

    Its jobs live in modules of their own and join here: commits
    (`storage.commits`), restore, revert, sync and submit (`storage.history`),
    fsck, rebuild and GC (`storage.maintenance`), over the shared state and
    helpers of `storage.engine.Engine`. This class adds opening and closing,
    bases, workspaces, reads, snapshots, redirections, fork, freeze and diff.
    """

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

    def import_tree(self, base: str, root: ObjectId,
                    message: str = "") -> tuple[BaseRevision, bool]:
        """(revision, made): an uploaded tree as the next revision of `base`, as
        `add_base_revision_if_changed` makes it, once every tree below `root` is
        checked to be stored and well formed and every chunk to be stored (NotFound
        names what is missing)."""
        check_reachable(root, self.load_tree, self.objects.has)
        return self.add_base_revision_if_changed(base, root, message)

    def import_entries(self, base: str, entries: Mapping[str, Entry],
                       message: str = "") -> tuple[BaseRevision, bool]:
        """(revision, made): the tree of a set of (path -> entry) as the next revision
        of `base`. Directories are implied by the paths beneath them; a directory
        entry gives their attributes, or makes an empty directory, or (with `tree`)
        reuses an uploaded tree. The objects the entries name must be stored first."""
        trees = TreeBatch(self.load_tree)
        root = build_trees(entries, trees.store)
        self.objects.put_many(trees.objects())
        return self.import_tree(base, root, message)

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

    # --- objects ----------------------------------------------------------------------

    def put_objects(self, items: Iterable[tuple[ObjectKind, bytes, ObjectId | None]]) -> list[ObjectId]:
        """Store objects in one object-store transaction, each checked against its id
        when one is given (CorruptObject otherwise); their ids."""
        return self.objects.put_many(items)

    def has_objects(self, oids: Sequence[ObjectId]) -> list[bool]:
        """Whether each object is stored, in order."""
        return self.objects.has(oids)

    def read_object(self, oid: ObjectId) -> tuple[ObjectKind, bytes]:
        """An object's kind and verified content (the store checks kind, then hash)."""
        try:
            return ObjectKind.CHUNK, self.objects.get(oid, ObjectKind.CHUNK)
        except CorruptObject as chunk_error:
            try:
                return ObjectKind.TREE, self.objects.get(oid, ObjectKind.TREE)
            except CorruptObject:
                raise chunk_error from None

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

    # --- reads ----------------------------------------------------------------------

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

