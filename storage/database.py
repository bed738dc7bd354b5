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
from collections.abc import Iterable, Sequence

from citcfs.errors import CorruptObject
from citcfs.objects import ObjectId, ObjectKind

from . import backends, keys
from .bases import Bases
from .commits import Commits
from .history import History
from .maintenance import Maintenance
from .reads import Reads
from .results import (BaseInfo, BaseRef, Changes, CommitListener, CommitResult, FsckReport,
                      GcReport, RedirectionsResult, Ref, SubmitResult, SyncResult, VerifyReport,
                      WorkspaceRef, WriterSeq)
from .workspaces import Workspaces

__all__ = ["BaseInfo", "BaseRef", "Changes", "CommitListener", "CommitResult", "Database",
           "FsckReport", "GcReport", "RedirectionsResult", "Ref", "SubmitResult", "SyncResult",
           "VerifyReport", "WorkspaceRef", "WriterSeq"]


class Database(Bases, Workspaces, Reads, Commits, History, Maintenance):
    """A citcfs data directory, opened: the facade the server serves.

    Each job lives in a module of its own and joins here: bases and imports
    (`storage.bases`), workspaces with their labels, retention, redirections,
    fork and freeze (`storage.workspaces`), reads and diffs (`storage.reads`),
    commits (`storage.commits`), restore, revert, sync and submit
    (`storage.history`), fsck, rebuild and GC (`storage.maintenance`), all over
    the shared state and helpers of `storage.engine.Engine`. This class adds
    only opening and closing, and the object store's calls for the server.
    """

    @classmethod
    def open(cls, directory: str, *, sync: bool = True, map_size: int | None = None,
             kv: str | None = None, objects: str | None = None) -> "Database":
        """Open (creating if needed) the data directory `directory`; `kv` and
        `objects` name other stores by URL (`storage.backends`)."""
        os.makedirs(directory, exist_ok=True)
        kv_store = backends.open_kv(kv, directory, sync=sync, map_size=map_size)
        try:
            object_store = backends.open_objects(objects, directory, sync=sync,
                                                 map_size=map_size)
        except BaseException:
            kv_store.close()
            raise
        try:
            return cls(kv_store, object_store)
        except BaseException:
            kv_store.close()
            object_store.close()
            raise

    def close(self) -> None:
        self.kv.close()
        self.objects.close()

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- objects ----------------------------------------------------------------------

    def put_objects(self, items: Iterable[tuple[ObjectKind, bytes, ObjectId | None]]) -> list[ObjectId]:
        """Store objects in one object-store transaction, each checked against its id
        when one is given (CorruptObject otherwise); their ids."""
        return self.objects.put_many(items)

    def has_objects(self, oids: Sequence[ObjectId]) -> list[bool]:
        """Whether each object is stored, in order. One that a running GC is deleting
        counts as missing: the caller is about to commit a reference to it, so it
        must upload it again (see `Maintenance.gc`)."""
        present = self.objects.has(oids)
        with self.kv.read() as txn:
            if not keys.gc_state(txn.get(keys.META, keys.META_GC))[1]:
                return present
            return [here and txn.get(keys.GC_SWEEP, oid) is None
                    for oid, here in zip(oids, present)]

    def read_object(self, oid: ObjectId) -> tuple[ObjectKind, bytes]:
        """An object's kind and verified content (the store checks kind, then hash)."""
        try:
            return ObjectKind.CHUNK, self.objects.get(oid, ObjectKind.CHUNK)
        except CorruptObject as chunk_error:
            try:
                return ObjectKind.TREE, self.objects.get(oid, ObjectKind.TREE)
            except CorruptObject:
                raise chunk_error from None
