"""Workspaces and what belongs to each: creating, forking, freezing and deleting
them, their snapshot labels, retention and redirections."""

from __future__ import annotations


from collections.abc import Sequence

from citcfs import paths
from citcfs import redirections as redirection_rules
from citcfs.errors import (AlreadyExists, DirectoryNotEmpty, InvalidArgument, NotADirectory,
                           PathNotFound, SnapshotNotFound)
from citcfs.objects import ObjectId

from . import history, keys, overlay
from .backend import KVTxn
from .engine import Engine
from .indexes import IndexOverlay, find_workspace, redirections
from .index_values import Label, WorkspaceState
from .records import (Committed, ForkPoint, LabelRemoved, LabelSet, OverlayWrite, RedirectionsSet,
                      RetentionSet, WorkspaceCreated, WorkspaceDeleted)
from .results import RedirectionsResult



class Workspaces(Engine):
    """The life of a workspace and its settings (labels, retention, redirections)."""

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
