"""What storage reports to whoever watches it (the server's metrics), and how big it is.

Storage knows nothing of Prometheus: the server installs a `StorageObserver` with
`Engine.observe`, and storage calls it at the few places where something worth
counting happens (a group-commit batch, a job's wait for its batch, a GC run).
Without an observer nothing is timed or counted, so a server with metrics turned
off pays nothing here.

`usage` reads sizes the backends keep anyway (LMDB's page statistics, the last log
key), never a scan of the data, so it is cheap enough for every Prometheus scrape.
A backend that cannot say (`ReportsUsage` not implemented) reports no sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from . import keys
from .backend import KVStore, ObjectStore
from .results import GcReport


class StorageObserver(Protocol):
    """Receives storage events; every call must be quick (some run on a commit path)."""

    def commit_batch(self, jobs: int, seconds: float) -> None:
        """A group-commit batch of `jobs` jobs took `seconds` (run and made durable)."""
        ...

    def commit_wait(self, seconds: float) -> None:
        """A job waited `seconds` in the queue before its batch began."""
        ...

    def gc_finished(self, report: GcReport, seconds: float) -> None:
        """A GC run (or dry run) finished in `seconds`."""
        ...


@runtime_checkable
class ReportsUsage(Protocol):
    """A store that can say, cheaply, how many items and bytes a table holds."""

    def usage(self, table: str | None = None) -> tuple[int, int]:
        """(entries, bytes) of `table`, or of the whole store when None."""
        ...


@dataclass(frozen=True, slots=True)
class StoreUsage:
    """Sizes of a database. Bytes are the pages the store occupies (LMDB), not the
    content alone: what the disk holds."""

    log_records: int
    log_bytes: int
    last_lsn: int
    kv_bytes: int
    """The whole log environment: log, meta and every index."""
    objects: int
    object_bytes: int


def usage(kv: KVStore, objects: ObjectStore) -> StoreUsage | None:
    """The sizes of a database's stores, or None when a backend cannot say."""
    if not isinstance(kv, ReportsUsage) or not isinstance(objects, ReportsUsage):
        return None
    log_records, log_bytes = kv.usage(keys.LOG)
    _, kv_bytes = kv.usage()
    object_count, object_bytes = objects.usage()
    with kv.read() as txn:
        last = txn.last(keys.LOG)
    last_lsn = 0 if last is None else keys.read_u64(last[0])
    return StoreUsage(log_records, log_bytes, last_lsn, kv_bytes, object_count, object_bytes)
