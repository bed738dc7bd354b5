"""The local object cache: fetched objects kept on disk, bounded in bytes.

Objects never change (their id is the hash of their content), so a cached object is
never stale and the cache is shared by every mount of the user, across remounts.
It is an LMDB environment under the user's cache directory:

``objects``  id -> content
``access``   id -> access stamp (u64)
``order``    stamp (u64 BE) + id -> empty: oldest first, for eviction
``meta``     b"bytes" -> total content bytes (u64), b"stamp" -> last stamp
``pins``     id -> pin count (u64): objects a mount's write journal refers to and the
             server may not hold yet; they are out of ``order``, so never evicted

Every insert verifies the content against its id. Reads record their access in memory
and the stamps are written with the next insert (or on close), so a read never waits
for a write transaction. When the total passes the bound, the least recently used
objects are evicted.
"""

from __future__ import annotations

import os
import struct
import threading
from collections.abc import Iterable

import lmdb

from citcfs.errors import CorruptObject
from citcfs.objects import KnownObject, ObjectId, ObjectKind, StoredObject, object_id

DEFAULT_CACHE_BYTES = 4 << 30
_U64 = struct.Struct(">Q")


def default_cache_dir() -> str:
    """$XDG_CACHE_HOME/citcfs (or ~/.cache/citcfs)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "citcfs")


class ObjectCache:
    """A bounded, verified, LRU-evicting store of objects on local disk."""

    def __init__(self, directory: str, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.max_bytes = max_bytes
        # Reserve address space for the bound plus slack; the file grows as needed.
        self._env = lmdb.open(directory, map_size=max(1 << 30, max_bytes * 2 + (256 << 20)),
                              max_dbs=5, sync=False, metasync=False, readahead=False,
                              max_readers=512)
        self._objects = self._env.open_db(b"objects")
        self._access = self._env.open_db(b"access")
        self._order = self._env.open_db(b"order")
        self._meta = self._env.open_db(b"meta")
        self._pins = self._env.open_db(b"pins")
        self._lock = threading.Lock()
        self._touched: dict[bytes, None] = {}
        self.hits = 0
        self.misses = 0

    def get(self, oid: ObjectId) -> bytes | None:
        """The cached content of `oid`, or None."""
        with self._env.begin(db=self._objects) as txn:
            data = txn.get(oid)
        if data is None:
            self.misses += 1
            return None
        self.hits += 1
        with self._lock:
            self._touched[bytes(oid)] = None
        return data

    def put(self, kind: ObjectKind, content: bytes, oid: ObjectId | None = None) -> ObjectId:
        """Insert one object after verifying it; CorruptObject if it is not `oid`.
        The arguments are those of `ObjectStore.put`."""
        return self.put_many([(kind, content, oid)])[0]

    def put_many(self, items: Iterable[StoredObject], verified: bool = False) -> list[ObjectId]:
        """Insert (kind, content, id) items, in `ObjectStore.put_many`'s order: each id
        is checked against its content unless the caller just did (`verified`: the RPC
        layer checks every object it receives), and computed where it is None."""
        checked = []
        for kind, content, given in items:
            oid = object_id(kind, content) if given is None else given
            if not verified and given is not None and object_id(kind, content) != given:
                raise CorruptObject(f"object {bytes(oid).hex()} does not match its content")
            checked.append((bytes(oid), content))
        with self._lock:
            touched = list(self._touched)
            self._touched.clear()
            with self._env.begin(write=True) as txn:
                total = self._read_u64(txn, b"bytes")
                stamp = self._read_u64(txn, b"stamp")
                for key, content in checked:
                    if txn.get(key, db=self._objects) is None:
                        txn.put(key, content, db=self._objects)
                        total += len(content)
                    touched.append(key)
                for key in touched:
                    if txn.get(key, db=self._pins) is not None:
                        continue  # pinned objects stay out of the eviction order
                    stamp += 1
                    old = txn.get(key, db=self._access)
                    if old is not None:
                        txn.delete(bytes(old) + key, db=self._order)
                    if txn.get(key, db=self._objects) is None:
                        continue
                    txn.put(key, _U64.pack(stamp), db=self._access)
                    txn.put(_U64.pack(stamp) + key, b"", db=self._order)
                total = self._evict(txn, total)
                txn.put(b"bytes", _U64.pack(total), db=self._meta)
                txn.put(b"stamp", _U64.pack(stamp), db=self._meta)
        return [ObjectId(key) for key, _ in checked]

    def pin_many(self, items: Iterable[KnownObject]) -> None:
        """Insert objects (verified by the caller) and keep them until `unpin`."""
        items = list(items)
        if not items:
            return
        with self._lock, self._env.begin(write=True) as txn:
            total = self._read_u64(txn, b"bytes")
            for _, content, known in items:
                oid = bytes(known)
                if txn.get(oid, db=self._objects) is None:
                    txn.put(oid, content, db=self._objects)
                    total += len(content)
                old = txn.pop(oid, db=self._access)
                if old is not None:
                    txn.delete(bytes(old) + oid, db=self._order)
                count = txn.get(oid, db=self._pins)
                txn.put(oid, _U64.pack((_U64.unpack(count)[0] if count else 0) + 1), db=self._pins)
            txn.put(b"bytes", _U64.pack(total), db=self._meta)

    def unpin(self, ids: Iterable[bytes]) -> None:
        """Release pins; an object with none left becomes evictable again."""
        with self._lock:
            with self._env.begin(write=True) as txn:
                for oid in ids:
                    oid = bytes(oid)
                    count = txn.get(oid, db=self._pins)
                    if count is None:
                        continue
                    left = _U64.unpack(count)[0] - 1
                    if left > 0:
                        txn.put(oid, _U64.pack(left), db=self._pins)
                    else:
                        txn.delete(oid, db=self._pins)
                        self._touched[oid] = None
        self.put_many([])

    def pinned(self) -> int:
        """How many objects are pinned (a journal still needs them)."""
        with self._env.begin(db=self._pins) as txn:
            return int(txn.stat(self._pins)["entries"])

    def _evict(self, txn: lmdb.Transaction, total: int) -> int:
        if total <= self.max_bytes:
            return total
        cursor = txn.cursor(db=self._order)
        doomed = []
        for key, _ in cursor:
            if total <= self.max_bytes:
                break
            oid = key[8:]
            content = txn.get(oid, db=self._objects)
            if content is not None:
                total -= len(content)
            doomed.append(key)
        for key in doomed:
            oid = key[8:]
            txn.delete(key, db=self._order)
            txn.delete(oid, db=self._access)
            txn.delete(oid, db=self._objects)
        return total

    def _read_u64(self, txn: lmdb.Transaction, key: bytes) -> int:
        raw = txn.get(key, db=self._meta)
        return int(_U64.unpack(raw)[0]) if raw else 0

    def total_bytes(self) -> int:
        with self._env.begin(db=self._meta) as txn:
            raw = txn.get(b"bytes")
        return _U64.unpack(raw)[0] if raw else 0

    def __contains__(self, oid: bytes) -> bool:
        with self._env.begin(db=self._objects, buffers=True) as txn:
            return bool(txn.cursor().set_key(oid))  # a seek, without copying the value

    def close(self) -> None:
        with self._lock:
            pending = bool(self._touched)
        if pending:
            self.put_many([])  # writes the pending access stamps
        self._env.close()
