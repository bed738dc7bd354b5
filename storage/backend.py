"""The narrow seam between the log database and the engines that hold its bytes.

The workspace logic sees two interfaces and nothing else:

- `KVStore`: named tables of ordered byte keys with serializable transactions, one
  writer at a time and any number of snapshot readers (LMDB here; a replicated
  key-value store with revisions later).
- `ObjectStore`: immutable, content-addressed blobs (an LMDB environment of its own
  here; an S3-compatible bucket later). It verifies ids on put and on get.

Keeping objects out of the key-value transaction is deliberate: a blob store is not
transactional, so the engine always writes objects first and the log record that
references them second. A crash in between leaves only unreferenced objects, which
garbage collection reclaims.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol

from citcfs.objects import ObjectId, ObjectKind, StoredObject


class KVTxn(Protocol):
    """A transaction over named tables; a read transaction sees one snapshot."""

    def get(self, table: str, key: bytes) -> bytes | None: ...

    def put(self, table: str, key: bytes, value: bytes) -> None: ...

    def delete(self, table: str, key: bytes) -> bool: ...

    def range(self, table: str, start: bytes, end: bytes | None = None,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Items with start <= key < end (end None: to the last key), in key order."""
        ...

    def scan(self, table: str, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
        """`range(table, start, end)` as a list: for callers that want every item
        (a directory listing), which a backend can then read in one go."""
        ...

    def first_at_or_after(self, table: str, key: bytes) -> tuple[bytes, bytes] | None:
        """The first item whose key is >= `key`: one seek."""
        ...

    def last(self, table: str) -> tuple[bytes, bytes] | None: ...

    def delete_range(self, table: str, start: bytes, end: bytes) -> int: ...

    def clear(self, table: str) -> None: ...

    def nested(self) -> AbstractContextManager["KVTxn"]:
        """A child transaction: its writes vanish if the block raises."""
        ...


class KVStore(Protocol):
    def read(self) -> AbstractContextManager[KVTxn]: ...

    def write(self) -> AbstractContextManager[KVTxn]:
        """The single write transaction; it is durable when the block returns."""
        ...

    def close(self) -> None: ...


class ObjectStore(Protocol):
    """Immutable objects by id; tests/test_object_contract.py holds every backend to
    this contract.

    Puts are idempotent (storing an object again changes nothing) and a batch with one
    bad item stores none of it. Listings (`ids`, `sizes`, `stats`) see every object
    once, in id order, as of some moment during the call.
    """

    def put(self, kind: ObjectKind, content: bytes, oid: ObjectId | None = None) -> ObjectId:
        """Store `content`; if `oid` is given it must be the content's id (CorruptObject)."""
        ...

    def put_many(self, items: Iterable[StoredObject]) -> list[ObjectId]:
        """Store (kind, content, id) items, every id checked before any is stored; their
        ids, in order."""
        ...

    def get(self, oid: ObjectId, kind: ObjectKind | None = None) -> bytes:
        """The verified content of `oid`; ObjectMissing if absent, CorruptObject if bad."""
        ...

    def has(self, oids: Iterable[ObjectId]) -> list[bool]:
        """Whether each id is stored, in order (False for a malformed id)."""
        ...

    def delete(self, oids: Iterable[ObjectId]) -> int:
        """Remove objects; how many of them were stored."""
        ...

    def sweepable(self) -> Iterator[tuple[ObjectId, int, bool]]:
        """For GC: (id, content size, whether GC may delete it if unreferenced) of every
        object. A store that several servers upload to answers False for objects
        uploaded (or re-stamped by `has`) within its grace period."""
        ...

    def sweep(self, oids: Iterable[ObjectId]) -> list[ObjectId]:
        """For GC: delete unreferenced objects, except any that became young again
        since `sweepable` listed them; the ids deleted."""
        ...

    def ids(self) -> Iterator[ObjectId]: ...

    def sizes(self) -> Iterator[tuple[ObjectId, int]]:
        """(id, content size) of every object."""
        ...

    def stats(self) -> tuple[int, int]:
        """(object count, total content bytes)."""
        ...

    def close(self) -> None: ...
