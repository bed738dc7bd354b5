"""The embedded backend: the key-value tables and the object store on LMDB.

The log and its indexes share one LMDB environment, so that a record and every index
change derived from it commit in one transaction. Objects live in a second
environment: they are written before the record that references them, by their own
writer, exactly as they would be to a remote blob store.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import lmdb

from citcfs.errors import CorruptObject, InvalidArgument, ObjectMissing, ResourceExhausted
from citcfs.objects import ID_SIZE, ObjectId, ObjectKind, object_id, stored_content

DEFAULT_MAP_SIZE = 1 << 40
"""Address space reserved for each environment; the file grows only as data does."""
MAX_READERS = 1024


def _open_env(path: str, *, max_dbs: int, sync: bool, map_size: int) -> lmdb.Environment:
    os.makedirs(path, exist_ok=True)
    return lmdb.open(path, map_size=map_size, max_dbs=max_dbs, max_readers=MAX_READERS,
                     sync=sync, metasync=sync, readahead=False, lock=True)


class LmdbTxn:
    """A KVTxn over an LMDB transaction."""

    __slots__ = ("_txn", "_dbs", "_env", "_seekers")

    def __init__(self, env: lmdb.Environment, txn: "lmdb.Transaction[bytes]",
                 dbs: dict[str, Any]) -> None:
        self._env = env
        self._txn = txn
        self._dbs = dbs
        # One cursor per table for single seeks (lookups seek once per path component);
        # range scans get cursors of their own, since they may interleave.
        self._seekers: dict[str, "lmdb.Cursor[bytes]"] = {}

    def _seeker(self, table: str) -> "lmdb.Cursor[bytes]":
        cursor = self._seekers.get(table)
        if cursor is None:
            cursor = self._seekers[table] = self._txn.cursor(self._dbs[table])
        return cursor

    def get(self, table: str, key: bytes) -> bytes | None:
        value = self._txn.get(key, db=self._dbs[table])
        return None if value is None else bytes(value)

    def put(self, table: str, key: bytes, value: bytes) -> None:
        try:
            self._txn.put(key, value, db=self._dbs[table])
        except lmdb.BadValsizeError as exc:
            raise InvalidArgument(f"key too long for the store ({len(key)} bytes)") from exc
        except lmdb.MapFullError as exc:
            raise ResourceExhausted("the database is full") from exc

    def delete(self, table: str, key: bytes) -> bool:
        return bool(self._txn.delete(key, db=self._dbs[table]))

    def range(self, table: str, start: bytes, end: bytes | None = None,
              reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        cursor = self._txn.cursor(self._dbs[table])
        if not reverse:
            if not cursor.set_range(start):
                return
            for key, value in cursor:
                if end is not None and key >= end:
                    return
                yield key, value
            return
        # Reverse: position on the last key < end, walk back while key >= start.
        if end is None:
            positioned = cursor.last()
        elif cursor.set_range(end):
            positioned = cursor.prev()
        else:
            positioned = cursor.last()
        if not positioned:
            return
        for key, value in cursor.iterprev():
            if key < start:
                return
            yield key, value

    def scan(self, table: str, start: bytes, end: bytes) -> list[tuple[bytes, bytes]]:
        cursor = self._txn.cursor(self._dbs[table])
        if not cursor.set_range(start):
            return []
        # (key, value) < (end,) exactly when key < end, so the whole loop runs in C.
        return list(itertools.takewhile((end,).__gt__, cursor))

    def first_at_or_after(self, table: str, key: bytes) -> tuple[bytes, bytes] | None:
        cursor = self._seekers.get(table) or self._seeker(table)
        return cursor.item() if cursor.set_range(key) else None

    def last(self, table: str) -> tuple[bytes, bytes] | None:
        cursor = self._seekers.get(table) or self._seeker(table)
        return cursor.item() if cursor.last() else None

    def delete_range(self, table: str, start: bytes, end: bytes) -> int:
        cursor = self._txn.cursor(self._dbs[table])
        count = 0
        if not cursor.set_range(start):
            return 0
        while cursor.key() and cursor.key() < end:
            if not cursor.delete():
                break
            count += 1
        return count

    def clear(self, table: str) -> None:
        self._txn.drop(self._dbs[table], delete=False)

    @contextmanager
    def nested(self) -> Iterator["LmdbTxn"]:
        child = self._env.begin(write=True, parent=self._txn)
        try:
            yield LmdbTxn(self._env, child, self._dbs)
        except BaseException:
            child.abort()
            raise
        else:
            child.commit()


class _Txn:
    """The context manager `LmdbKVStore.read` and `write` return: a class rather than
    a generator-based contextmanager, since every lookup, listing and commit batch
    opens one. A write transaction commits unless its block raised."""

    __slots__ = ("_env", "_dbs", "_write", "_txn")

    def __init__(self, env: lmdb.Environment, dbs: dict[str, Any], write: bool) -> None:
        self._env = env
        self._dbs = dbs
        self._write = write
        self._txn: lmdb.Transaction | None = None

    def __enter__(self) -> LmdbTxn:
        self._txn = (self._env.begin(write=True) if self._write
                     else self._env.begin(write=False, buffers=False))
        return LmdbTxn(self._env, self._txn, self._dbs)

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        txn, self._txn = self._txn, None
        if txn is None:
            return
        if kind is not None or not self._write:
            txn.abort()
            return
        try:
            txn.commit()
        except lmdb.MapFullError as exc:
            raise ResourceExhausted("the database is full") from exc


class LmdbKVStore:
    """The log and index tables in one LMDB environment."""

    def __init__(self, path: str, tables: Iterable[str], *, sync: bool = True,
                 map_size: int = DEFAULT_MAP_SIZE) -> None:
        tables = list(tables)
        self.path = path
        self._env = _open_env(path, max_dbs=len(tables) + 2, sync=sync, map_size=map_size)
        self._dbs = {name: self._env.open_db(name.encode()) for name in tables}

    def read(self) -> "_Txn":
        """A read-only snapshot: `with store.read() as txn: ...` (aborted on exit)."""
        return _Txn(self._env, self._dbs, write=False)

    def write(self) -> "_Txn":
        """A write transaction: `with store.write() as txn: ...`, committed on a normal
        exit (durably, with `sync`) and aborted if the block raises."""
        return _Txn(self._env, self._dbs, write=True)

    def usage(self, table: str | None = None) -> tuple[int, int]:
        """(entries, bytes of pages) of `table`; of the whole environment when None."""
        return _usage(self._env, None if table is None else self._dbs[table])

    def close(self) -> None:
        self._env.close()


class LmdbObjectStore:
    """Content-addressed objects in their own LMDB environment.

    A value is the kind tag byte followed by the content; the id is recomputed from
    both on every put that names an id and on every get.
    """

    def __init__(self, path: str, *, sync: bool = True, map_size: int = DEFAULT_MAP_SIZE) -> None:
        self.path = path
        self._env = _open_env(path, max_dbs=2, sync=sync, map_size=map_size)
        self._db = self._env.open_db(b"objects")
        self._write_lock = threading.Lock()

    @staticmethod
    def _prepare(kind: ObjectKind, content: bytes, oid: ObjectId | None) -> tuple[ObjectId, bytes]:
        actual = object_id(kind, content)
        if oid is not None and oid != actual:
            raise CorruptObject(f"object {bytes(oid).hex()} does not match its content")
        return actual, bytes((kind,)) + content

    def put(self, kind: ObjectKind, content: bytes, oid: ObjectId | None = None) -> ObjectId:
        return self.put_many([(kind, content, oid)])[0]

    def put_many(self, items: Iterable[tuple[ObjectKind, bytes, ObjectId | None]]) -> list[ObjectId]:
        prepared = [self._prepare(kind, content, oid) for kind, content, oid in items]
        if not prepared:
            return []
        with self._write_lock, self._env.begin(write=True, db=self._db) as txn:
            for oid, value in prepared:
                txn.put(oid, value, overwrite=False)
        return [oid for oid, _ in prepared]

    def get(self, oid: ObjectId, kind: ObjectKind | None = None) -> bytes:
        with self._env.begin(db=self._db) as txn:
            value = txn.get(oid)
        if value is None:
            raise ObjectMissing(f"object {bytes(oid).hex()} is not in the store")
        return stored_content(oid, value, kind)[1]

    def has(self, oids: Iterable[ObjectId]) -> list[bool]:
        with self._env.begin(db=self._db) as txn:
            cursor = txn.cursor()
            return [len(oid) == ID_SIZE and cursor.set_key(oid) for oid in oids]

    def delete(self, oids: Iterable[ObjectId]) -> int:
        count = 0
        with self._write_lock, self._env.begin(write=True, db=self._db) as txn:
            for oid in oids:
                count += bool(txn.delete(oid))
        return count

    def sweepable(self) -> Iterator[tuple[ObjectId, int, bool]]:
        """Every object may be collected: this process is the store's only writer, and
        its GC marks inside the committer, so no upload races it unseen."""
        return iter([(oid, size, True) for oid, size in self.sizes()])

    def sweep(self, oids: Iterable[ObjectId]) -> list[ObjectId]:
        gone = []
        with self._write_lock, self._env.begin(write=True, db=self._db) as txn:
            for oid in dict.fromkeys(oids):
                if txn.delete(oid):
                    gone.append(oid)
        return gone

    def ids(self) -> Iterator[ObjectId]:
        with self._env.begin(db=self._db) as txn:
            keys = [ObjectId(bytes(key)) for key in txn.cursor().iternext(keys=True, values=False)]
        return iter(keys)

    def sizes(self) -> Iterator[tuple[ObjectId, int]]:
        with self._env.begin(db=self._db, buffers=True) as txn:
            found = [(ObjectId(bytes(key)), len(value) - 1) for key, value in txn.cursor()]
        return iter(found)

    def stats(self) -> tuple[int, int]:
        count = 0
        total = 0
        with self._env.begin(db=self._db) as txn:
            for _, value in txn.cursor():
                count += 1
                total += len(value) - 1
        return count, total

    def usage(self, table: str | None = None) -> tuple[int, int]:
        """(objects, bytes of pages they occupy), from LMDB's statistics: no scan."""
        return _usage(self._env, self._db)

    def close(self) -> None:
        self._env.close()


def _usage(env: lmdb.Environment, db: Any) -> tuple[int, int]:
    """(entries, bytes) of one table from its page statistics, or of the whole
    environment (every page up to the last one used) when `db` is None."""
    with env.begin() as txn:
        if db is None:
            stat = env.stat()
            return stat["entries"], (env.info()["last_pgno"] + 1) * stat["psize"]
        stat = txn.stat(db)
    pages = stat["branch_pages"] + stat["leaf_pages"] + stat["overflow_pages"]
    return stat["entries"], pages * stat["psize"]
