"""Object stores for the contract suite and the storage engine tests: one opener per
backend, each over real storage: LMDB in a temporary directory, or S3 on a real
SeaweedFS that the session starts on loopback (tests/seaweed_support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import damage_support
from seaweed_support import SeaweedFS

from citcfs.objects import ObjectId
from citcfs.storage import Database, keys
from citcfs.storage.backend import ObjectStore
from citcfs.storage.lmdb_backend import LmdbKVStore, LmdbObjectStore
from citcfs.storage.s3_backend import S3ObjectStore

OBJECT_BACKENDS = ["lmdb", "s3"]
"""Every ObjectStore implementation; the `object_store` fixture runs once per name."""


def s3_store(seaweedfs: SeaweedFS, grace: float = 0.0, retry_seconds: float = 30.0
             ) -> S3ObjectStore:
    """A store of its own (a fresh key prefix) on the session's SeaweedFS. With grace 0,
    GC may take any unreferenced object, as with LMDB: nothing else uploads to it."""
    return S3ObjectStore.from_url(seaweedfs.new_store_url() + f"&grace={grace}",
                                  retry_seconds=retry_seconds)


def reopen(db: Database) -> Database:
    """The closed database `db` opened again over the same log and objects, with
    nothing cached."""
    log_dir = db.kv.path  # type: ignore[attr-defined]
    if isinstance(db.objects, LmdbObjectStore):
        return Database.open(str(Path(log_dir).parent), sync=False)
    assert isinstance(db.objects, S3ObjectStore)
    kv = LmdbKVStore(log_dir, keys.ALL_TABLES, sync=False)
    return Database(kv, S3ObjectStore.from_url(db.objects.url, retry_seconds=30.0))


@contextmanager
def open_object_store(backend: str, request: pytest.FixtureRequest,
                      tmp_path: Path) -> Iterator[ObjectStore]:
    """An empty store of `backend`, closed afterwards."""
    store: ObjectStore
    if backend == "lmdb":
        store = LmdbObjectStore(str(tmp_path / "objects"), sync=False)
    elif backend == "s3":
        store = s3_store(request.getfixturevalue("seaweedfs"))
    else:
        raise AssertionError(f"no object backend {backend!r}")
    try:
        yield store
    finally:
        store.close()


@contextmanager
def open_database(backend: str, request: pytest.FixtureRequest,
                  directory: Path) -> Iterator[Database]:
    """A database with its log in LMDB under `directory` and its objects in `backend`."""
    if backend == "lmdb":
        database = Database.open(str(directory), sync=False)
    else:
        directory.mkdir(parents=True, exist_ok=True)
        kv = LmdbKVStore(str(directory / "log"), keys.ALL_TABLES, sync=False)
        database = Database(kv, s3_store(request.getfixturevalue("seaweedfs")))
    try:
        yield database
    finally:
        database.close()


def write_raw(store: ObjectStore, oid: ObjectId, value: bytes) -> None:
    """Store `value` (a kind byte, then content) under `oid`, below every check."""
    damage_support.write_raw(store, oid, value)
