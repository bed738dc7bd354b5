"""Damage stored data on purpose, for the tests of read verification and fsck.

It writes below the store's checks: through the LMDB environment the store holds (LMDB
lets a process open an environment only once), or with the S3 client of the store (and
out of its cache). So it lives here, not in the stores.
"""

from __future__ import annotations

from citcfs.errors import ObjectMissing
from citcfs.objects import ObjectId, ObjectKind
from citcfs.storage.backend import ObjectStore
from citcfs.storage.lmdb_backend import LmdbObjectStore
from citcfs.storage.s3_backend import S3ObjectStore


def write_raw(store: ObjectStore, oid: ObjectId, value: bytes) -> None:
    """Store `value` (a kind byte, then content) under `oid`, below every check."""
    if isinstance(store, LmdbObjectStore):
        with store._write_lock, store._env.begin(write=True, db=store._db) as txn:
            txn.put(oid, value)
    elif isinstance(store, S3ObjectStore):
        store.cache.drop([oid])
        store.client.put_object(Bucket=store.bucket, Key=store._key(oid), Body=value)
    else:
        raise AssertionError(f"cannot damage a {type(store).__name__}")


def _raw(store: ObjectStore, oid: ObjectId) -> bytes:
    if isinstance(store, LmdbObjectStore):
        with store._env.begin(db=store._db) as txn:
            return bytes(txn.get(oid) or b"")
    assert isinstance(store, S3ObjectStore), f"cannot damage a {type(store).__name__}"
    try:
        return store._read(oid)
    except ObjectMissing:
        return b""


def corrupt_object(store: ObjectStore, oid: ObjectId, content: bytes) -> None:
    """Overwrite the bytes stored under `oid` (keeping its kind) with `content`,
    unchecked; a missing object is stored as a chunk."""
    kind = _raw(store, oid)[:1] or bytes((ObjectKind.CHUNK,))
    write_raw(store, oid, kind + content)
