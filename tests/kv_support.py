"""Every key-value backend, opened the same way, for the contract and engine suites.

`KV_BACKENDS` names them; `kv_url(backend, place)` is the `--kv` URL of a store that
belongs to one test (`place`: its directory), so opening the same URL again reopens
the same data: LMDB under the directory, or a key prefix of the session's etcd
derived from the directory's path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

KV_BACKENDS = ("lmdb", "etcd")


def follow(store: object) -> None:
    """Start an etcd store's watch and read cache, as a server does, and wait until
    it follows (nothing for LMDB)."""
    from citcfs.storage.etcd_backend import EtcdKVStore
    if isinstance(store, EtcdKVStore):
        assert store.watch().connected.wait(10), "the etcd watch never connected"


def kv_url(backend: str, place: Path, etcd_endpoints: list[str] | None) -> str | None:
    if backend == "lmdb":
        return None
    assert etcd_endpoints, "the etcd backend needs the session's etcd"
    prefix = hashlib.blake2b(str(place).encode(), digest_size=8).hexdigest()
    return f"etcd://{','.join(etcd_endpoints)}/t{prefix}"
