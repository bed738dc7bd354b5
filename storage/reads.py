"""Reading workspaces: lookups, listings, file content, versions, the changes
behind invalidation, and diffs. Each read takes one short snapshot transaction."""

from __future__ import annotations


from collections.abc import Iterator

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import HistoryTruncated, InvalidArgument, NotForked
from citcfs.objects import ObjectKind

from . import history, keys, overlay
from .diff import DiffEntry, Side, diff
from .engine import Engine
from .overlay import MemoryOverlay
from .index_values import VersionInfo, WorkspaceState
from .records import Committed, ForkPoint
from .results import BaseRef, Changes, Ref, WorkspaceRef



class Reads(Engine):
    """Reads at any version, and diffs between any two states."""

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

    def changes(self, name: str, since: int, until: int | None = None) -> Changes:
        """The paths changed after version `since` up to `until` (the head when None):
        the head scan behind invalidation, and one version's paths in the web view.

        HistoryTruncated means the log no longer holds that range: drop every cached
        path of the workspace instead.
        """
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            if not 0 <= since <= state.version:
                raise InvalidArgument(f"workspace {name!r} has "
                                      f"{self._version_range(txn, state)}, not {since}")
            last = state.version if until is None else until
            if not since <= last <= state.version:
                raise InvalidArgument(f"workspace {name!r} has "
                                      f"{self._version_range(txn, state)}, not {last}")
            changed: dict[str, None] = {}
            expected = since + 1
            for _, raw in txn.range(keys.VERSIONS, keys.version_key(state.id, since + 1),
                                    keys.version_key(state.id, last + 1)):
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
            return Changes(name, since, last, tuple(changed))

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

    def lookup_ref(self, ref: Ref, path: str) -> Entry:
        """The entry at `path` in any state a ref names (a base revision, a fork
        point, or a workspace version), for views that browse every state alike."""
        side = self._side(ref)
        return overlay.resolve(side.view, self.load_tree, side.root, paths.normalize(path)).entry

    def listdir_ref(self, ref: Ref, path: str) -> list[tuple[str, Entry]]:
        """The directory at `path` in any state a ref names, sorted by name."""
        side = self._side(ref)
        node = overlay.resolve(side.view, self.load_tree, side.root, paths.normalize(path))
        return overlay.list_dir(side.view, self.load_tree, node)

    def diff(self, old: Ref, new: Ref) -> Iterator[DiffEntry]:
        """Stream what changed from `old` to `new`, in path order."""
        return diff(self.load_tree, self._side(old), self._side(new))
