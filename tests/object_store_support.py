"""Object stores for the contract suite and the storage engine tests: one opener per
backend, each over real storage in a temporary directory (or a real S3 server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from citcfs.objects import ObjectId
from citcfs.storage.backend import ObjectStore
from citcfs.storage.lmdb_backend import LmdbObjectStore

OBJECT_BACKENDS = ["lmdb"]
"""Every ObjectStore implementation; the `object_store` fixture runs once per name."""


@contextmanager
def open_object_store(backend: str, request: pytest.FixtureRequest,
                      tmp_path: Path) -> Iterator[ObjectStore]:
    """An empty store of `backend`, closed afterwards."""
    if backend == "lmdb":
        store = LmdbObjectStore(str(tmp_path / "objects"), sync=False)
    else:
        raise AssertionError(f"no object backend {backend!r}")
    try:
        yield store
    finally:
        store.close()


def write_raw(store: ObjectStore, oid: ObjectId, value: bytes) -> None:
    """Store `value` (a kind byte, then content) under `oid`, below every check."""
    store.write_raw_for_test(oid, value)  # type: ignore[attr-defined]
