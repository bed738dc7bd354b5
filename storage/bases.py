"""Bases: named lines of history, each revision a root tree; imports make them."""

from __future__ import annotations


from collections.abc import Mapping

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import BaseNotFound
from citcfs.objects import ObjectId

from . import keys
from .backend import KVTxn
from .engine import Engine
from .importer import (ImportStats, Progress, build_trees, check_reachable,
                       import_directory)
from .overlay import TreeBatch
from .index_values import BaseRevision
from .records import BaseRevisionAdded
from .results import BaseInfo



class Bases(Engine):
    """Adding, importing and reading base revisions."""

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
