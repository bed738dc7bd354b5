"""The client's commit path against a real server, without a mount.

The flusher is driven directly (no kernel): here, the case where garbage collection
reclaims objects a batch needs between their upload and the commit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from metrics_support import scrape_registry
from server_support import import_small_base

from citcfs.client.cache import ObjectCache
from citcfs.client.flusher import CARRIED_BYTES, Flusher
from citcfs.client.journal import Journal, WriteFile
from citcfs.client.remote import RpcRemote
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.objects import CHUNK_SIZE, ObjectKind, object_id
from citcfs.server.app import CitcServer

pytestmark = pytest.mark.server_config(sync=False)


@dataclass
class Parts:
    """A workspace "w", a client of the server, and a flusher (not started) with its
    journal and local cache."""

    client: Client
    remote: RpcRemote
    cache: ObjectCache
    flusher: Flusher


@pytest.fixture
def parts(server: CitcServer, tmp_path: Path) -> Iterator[Parts]:
    client = Client.connect(server.address)
    import_small_base(client)
    client.create_workspace("w", "main")
    remote = RpcRemote(Client.connect(server.address))
    cache = ObjectCache(str(tmp_path / "cache"))
    journal = Journal.create(str(tmp_path / "journals"), server.address, "w")
    flusher = Flusher(remote, "w", journal, cache)
    try:
        yield Parts(client, remote, cache, flusher)
    finally:
        flusher.stop(timeout=5)
        journal.remove()
        cache.close()
        remote.close()
        client.close()


def test_flusher_uploads_again_what_gc_reclaimed(parts: Parts) -> None:
    """Chunks the server held when they were journaled may be gone when the batch is
    sent: the flusher asks which are missing at send time and uploads them."""
    client, remote, cache, flusher = parts.client, parts.remote, parts.cache, parts.flusher
    data = os.urandom(CHUNK_SIZE + 10)
    chunks = [(ObjectKind.CHUNK, data[:CHUNK_SIZE]), (ObjectKind.CHUNK, data[CHUNK_SIZE:])]
    remote.put_objects(chunks)
    assert client.gc().objects_freed == 2  # nothing references them yet
    ids = tuple(object_id(k, d) for k, d in chunks)
    cache.pin_many([(kind, d, oid) for oid, (kind, d) in zip(ids, chunks)])
    flusher.append(WriteFile("big.bin", Entry.file(chunks=ids, size=len(data)), new=True))
    flusher.start()
    assert flusher.wait_for(timeout=30)
    assert client.describe_workspace("w").version == 1
    assert client.read_file(client.lookup("w", "big.bin")) == data


def test_every_pin_a_journal_takes_is_released_once_applied(parts: Parts) -> None:
    """A rewrite collapsed away, and one chunk in two files: the pins of every record
    are released, so nothing stays unevictable in the local cache."""
    client, cache, flusher = parts.client, parts.cache, parts.flusher
    a, b = os.urandom(CHUNK_SIZE - 1), os.urandom(CHUNK_SIZE - 1)
    ida, idb = object_id(ObjectKind.CHUNK, a), object_id(ObjectKind.CHUNK, b)
    for path, oid, data in (("f", ida, a), ("f", idb, b), ("g", ida, a)):
        cache.pin_many([(ObjectKind.CHUNK, data, oid)])
        flusher.append(WriteFile(path, Entry.file(chunks=(oid,), size=len(data))),
                       len(data), (oid,))
    assert cache.pinned() == 2
    flusher.start()
    assert flusher.wait_for(timeout=30)
    assert cache.pinned() == 0
    assert client.read_file(client.lookup("w", "f")) == b
    assert client.read_file(client.lookup("w", "g")) == a


def rpc_count(method: str) -> float:
    """How many `method` calls this process's servers finished (server metrics)."""
    return sum(count for (name, labels), count in scrape_registry()[1].items()
               if name == "citcfs_rpcs_total" and ("method", method) in labels)


def test_small_new_chunks_travel_with_their_commit(parts: Parts) -> None:
    """A batch whose chunks are small sends them in its commit, with no HasObjects
    or PutObjects call; a large one asks which the server lacks and uploads those."""
    client, cache, flusher = parts.client, parts.cache, parts.flusher
    flusher.start()
    for name, size, asked in (("small", 9000, 0), ("large", CARRIED_BYTES + 1, 1)):
        data = os.urandom(size)
        oids = []
        for start in range(0, size, CHUNK_SIZE):
            piece = data[start:start + CHUNK_SIZE]
            oids.append(object_id(ObjectKind.CHUNK, piece))
            cache.pin_many([(ObjectKind.CHUNK, piece, oids[-1])])
        before = rpc_count("HasObjects"), rpc_count("PutObjects")
        flusher.append(WriteFile(name, Entry.file(chunks=tuple(oids), size=size)),
                       size, tuple(oids))
        assert flusher.wait_for(timeout=30)
        assert (rpc_count("HasObjects") - before[0], rpc_count("PutObjects") - before[1]) \
            == (asked, asked), name
        assert client.read_file(client.lookup("w", name)) == data
