"""Moving a workspace through time: restore, revert, sync and submit.

The functions are pure logic over OverlayViews and a tree loader, like
`storage.overlay`: they return overlay writes (or conflicting paths). The `History`
jobs below record them as a new version, so history is never rewritten: undoing is
itself a commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.errors import (BaseNotFound, Conflict, FailedPrecondition, InvalidArgument,
                           NotADirectory, PathNotFound)
from citcfs.links import is_record_path
from citcfs.objects import ObjectId

from . import hardlinks, keys, overlay
from .backend import KVTxn
from .diff import Change, DiffEntry, Side, diff
from .engine import Engine
from .indexes import IndexOverlay
from .overlay import MemoryOverlay
from .overlay import OverlayView, TreeBatch, TreeLoader
from .planner import PendingView, Plan, Planner
from .index_values import BaseRevision, WorkspaceState
from .records import BaseRevisionAdded, OverlayWrite
from .results import CommitResult, SubmitResult, SyncResult


def live_entries(view: OverlayView) -> dict[str, Entry]:
    """Every overlay entry of a view by path, the root's own entry (path "") included."""
    found = dict(view.subtree(paths.ROOT))
    root = view.entry(paths.ROOT, overlay.ROOT_ENTRY_NAME)
    if root is not None:
        found[paths.ROOT] = root
    return found


def restore_writes(head: OverlayView, target: OverlayView) -> tuple[OverlayWrite, ...]:
    """Writes that make the head's overlay equal to the target's, path by path."""
    now = live_entries(head)
    wanted = live_entries(target)
    writes = []
    for path in sorted(set(now) | set(wanted), key=paths.to_bytes):
        if now.get(path) != wanted.get(path):
            writes.append(OverlayWrite(path, wanted.get(path)))
    return tuple(writes)


def revert_writes(head: OverlayView, head_root: ObjectId, target: OverlayView,
                  target_root: ObjectId, load: TreeLoader,
                  targets: Iterable[str], time_ns: int) -> Plan:
    """Writes that make each path (and everything below it) as it was in `target`,
    with the new trees they name (a reverted directory's frozen tree).

    Missing parent directories are recreated, holding only what is reverted into
    them, as `git checkout <rev> -- path` does. Where the target path did not exist,
    it is deleted. A path that exists on neither side is refused (PathNotFound), so a
    mistyped path makes no version.
    """
    normalized = [paths.normalize(raw) for raw in targets]
    for path in normalized:
        if path == paths.ROOT:
            raise NotADirectory("revert the whole workspace with restore")
        if (overlay.try_resolve(target, load, target_root, path) is None
                and overlay.try_resolve(head, load, head_root, path) is None):
            raise PathNotFound(f"{path}: no such path in the workspace or in the state "
                               f"to revert to")
    planner = Planner(head, load, head_root, time_ns)
    for path in normalized:
        wanted = overlay.try_resolve(target, load, target_root, path)
        current = overlay.try_resolve(planner.view, load, head_root, path)
        if wanted is None:
            if current is not None:
                parent = overlay.resolve(planner.view, load, head_root, paths.split(path)[0])
                if not current.is_dir:
                    hardlinks.unlinked(planner, current)
                planner.delete(path, parent)
            continue
        _ensure_parents(planner, target, target_root, load, head_root, path)
        parent_path, name = paths.split(path)
        parent = overlay.resolve(planner.view, load, head_root, parent_path)
        if wanted.overlay is None and planner.underlying(parent, name) == wanted.underlying:
            # The target shows the base here, and so can the head: copy the overlay
            # below the path instead of pinning a frozen copy of the base.
            planner.drop_subtree(path)
            planner.view.set(path, None)
            for below, entry in target.subtree(path):
                planner.view.set(below, entry)
            continue
        if wanted.is_dir:
            tree = overlay.freeze(target, planner.trees.load, planner.trees.store, wanted)
            entry = wanted.entry.replace(tree=tree, opaque=False, origin=None)
        else:
            entry = hardlinks.reverted(planner, target, current,
                                       wanted.entry.replace(origin=None))
        planner.place(path, entry)
    return planner.plan()


def _ensure_parents(planner: Planner, target: OverlayView, target_root: ObjectId,
                    load: TreeLoader, head_root: ObjectId, path: str) -> None:
    ancestors = paths.components(path)[:-1]
    current = paths.ROOT
    for name in ancestors:
        current = paths.join(current, name)
        node = overlay.try_resolve(planner.view, load, head_root, current)
        if node is not None and node.is_dir:
            continue
        if node is not None:
            parent = overlay.resolve(planner.view, load, head_root, paths.split(current)[0])
            planner.delete(current, parent)
        was = overlay.try_resolve(target, load, target_root, current)
        attrs = was.entry if was is not None else Entry.directory()
        planner.place(current, Entry.directory(mode=attrs.mode, uid=attrs.uid, gid=attrs.gid,
                                               mtime_ns=attrs.mtime_ns, opaque=True))


def find_conflicts(changed: dict[str, Entry], base_changes: Iterable[DiffEntry]) -> list[str]:
    """Paths the workspace changed that the base also changed, sorted.

    `changed` is the workspace's overlay (path -> entry). A path conflicts when the
    base changed the same path (unless both sides merely have a directory there),
    when the base changed something inside a path the workspace replaced or deleted,
    or when the base deleted or replaced a directory the workspace changed inside.
    """
    def replaces(entry: Entry) -> bool:
        return not (entry.is_dir and entry.tree is None and not entry.opaque)

    conflicts: set[str] = set()
    removed_dirs: set[str] = set()
    for change in base_changes:
        mine = changed.get(change.path)
        if mine is not None:
            both_dirs = mine.is_dir and change.new is not None and change.new.is_dir
            if not both_dirs:
                conflicts.add(change.path)
        parent = change.path
        while parent:
            parent = paths.split(parent)[0]
            above = changed.get(parent)
            if above is not None and replaces(above) and parent != paths.ROOT:
                conflicts.add(parent)
        if change.change in (Change.DELETED, Change.TYPE_CHANGED) and change.old is not None \
                and change.old.is_dir:
            removed_dirs.add(change.path)
    if removed_dirs:
        for path in changed:
            parent = path
            while parent:
                parent = paths.split(parent)[0]
                if parent in removed_dirs:
                    conflicts.add(path)
                    break
    return sorted(conflicts, key=paths.to_bytes)


def rebase_writes(head: OverlayView, old_root: ObjectId, new_root: ObjectId,
                  load: TreeLoader) -> tuple[OverlayWrite, ...]:
    """Writes that keep every overlay entry visible once the overlay sits on `new_root`.

    The overlay moves as it is; only where the new base lost (or replaced with a
    non-directory) a directory that holds overlay entries is that directory written
    into the overlay, with its old attributes, so that nothing the workspace changed
    disappears. The workspace's version wins; `find_conflicts` reports where.
    """
    planner = Planner(head, load, new_root, 0)
    for path, entry in sorted(live_entries(head).items(), key=lambda item: paths.to_bytes(item[0])):
        if path == paths.ROOT or entry.kind == EntryKind.WHITEOUT or is_record_path(path):
            continue  # a link record lies under no directory
        current = paths.ROOT
        for name in paths.components(path)[:-1]:
            current = paths.join(current, name)
            node = overlay.try_resolve(planner.view, load, new_root, current)
            if node is not None and node.is_dir:
                continue
            was = overlay.try_resolve(head, load, old_root, current)
            attrs = was.entry if was is not None else Entry.directory()
            planner.view.set(current, Entry.directory(mode=attrs.mode, uid=attrs.uid,
                                                      gid=attrs.gid, mtime_ns=attrs.mtime_ns))
    return tuple(OverlayWrite(p, e) for p, e in planner.view.writes.items())


class History(Engine):
    """Recording moves through time as new versions: restore, revert, sync, submit.

    Each job computes its writes with the pure functions above and records them
    with `Engine._commit_writes`, so undoing is itself a commit.
    """

    # --- sync and submit ------------------------------------------------------------

    def _conflicts(self, view: IndexOverlay | PendingView, old_root: ObjectId,
                   new_root: ObjectId) -> list[str]:
        return find_conflicts(live_entries(view),
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
            writes = rebase_writes(head, state.root, target.root, self.load_tree)
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
                for write in rebase_writes(view, state.root, latest.root, self.load_tree):
                    view.set(write.path, write.entry)
            changed = live_entries(view)
            if not changed:
                raise FailedPrecondition(f"workspace {name!r} has no changes to submit")
            node = overlay.resolve(view, self.load_tree, latest.root, paths.ROOT)
            trees = TreeBatch(self.load_tree)
            root = overlay.freeze(view, trees.load, trees.store, node)
            if trees.objects():
                self.objects.put_many(trees.objects())  # before the records naming them
            now = self._clock()
            revision = BaseRevision(state.base, latest.rev + 1, root, now, message)
            self._append(txn, BaseRevisionAdded(state.base, revision.rev, root, now, message))
            cleared = {path: None for path in changed}
            cleared.update({path: None for path in view.writes})
            writes = tuple(OverlayWrite(p, None) for p in cleared)
            result = self._commit_writes(txn, state, writes, (revision.rev, root))
            return SubmitResult(name, result.version, revision)
        return self._writer.submit(job)

    def restore(self, name: str, ref: int | str) -> CommitResult:
        """Make the head equal to an earlier version, as a new version."""
        def job(txn: KVTxn) -> CommitResult:
            state = self._workspace(txn, name)
            info = self._version_info(txn, state, self._ref_version(txn, state, ref))
            writes = restore_writes(IndexOverlay(txn, state.id, state.version),
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
            plan = revert_writes(
                IndexOverlay(txn, state.id, state.version), state.root, target, target_root,
                self.load_tree, normalized, self._clock())
            return self._commit_writes(txn, state, plan.writes, None, objects=plan.objects)
        return self._writer.submit(job)

    def _revert_target(self, txn: KVTxn, state: WorkspaceState,
                       ref: int | str | None) -> tuple[OverlayView, ObjectId]:
        """The overlay and root `revert` copies from: a version's, or the current base's
        (its root with nothing over it) when `ref` is None."""
        if ref is None:
            return MemoryOverlay({}), state.root
        info = self._version_info(txn, state, self._ref_version(txn, state, ref))
        return IndexOverlay(txn, state.id, info.version), info.root

