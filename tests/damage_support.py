"""Damage stored data on purpose, for the tests of read verification and fsck.

It writes below the store's checks, through the LMDB environment the store holds (LMDB
lets a process open an environment only once), so it lives here and not in the store.
"""

from __future__ import annotations

from citcfs.objects import ObjectId, ObjectKind
from citcfs.storage.backend import ObjectStore
from citcfs.storage.lmdb_backend import LmdbObjectStore


def corrupt_object(store: ObjectStore, oid: ObjectId, content: bytes) -> None:
    """Overwrite the bytes stored under `oid` (keeping its kind) with `content`,
    unchecked; a missing object is stored as a chunk."""
    assert isinstance(store, LmdbObjectStore), f"cannot damage a {type(store).__name__}"
    with store._write_lock, store._env.begin(write=True, db=store._db) as txn:
        old = txn.get(oid)
        kind = old[0] if old else ObjectKind.CHUNK
        txn.put(oid, bytes((kind,)) + content)
