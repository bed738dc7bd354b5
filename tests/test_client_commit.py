"""The client's commit path against a real server, without a mount.

WorkspaceFS is driven directly (no kernel): here, the case where garbage collection
reclaims objects a commit needs between their upload and the commit.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_support import import_small_base, running_server

from citcfs import wire
from citcfs.client.cache import ObjectCache
from citcfs.client.fs import WorkspaceFS
from citcfs.client.remote import RpcRemote
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.objects import CHUNK_SIZE, ObjectKind, object_id
from citcfs.server.app import CitcServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[CitcServer]:
    with running_server(tmp_path / "data", sync=False) as running:
        yield running


def test_commit_uploads_again_what_gc_reclaimed(server: CitcServer, tmp_path: Path) -> None:
    client = Client.connect(server.address)
    import_small_base(client)
    client.create_workspace("w", "main")
    remote = RpcRemote(Client.connect(server.address))
    fs = WorkspaceFS(remote, "w", ObjectCache(str(tmp_path / "cache")), watch=False)
    try:
        data = os.urandom(CHUNK_SIZE + 10)
        chunks = [(ObjectKind.CHUNK, data[:CHUNK_SIZE]), (ObjectKind.CHUNK, data[CHUNK_SIZE:])]
        remote.put_objects(chunks)
        assert client.gc().objects_freed == 2  # nothing references them yet
        entry = Entry.file(chunks=tuple(object_id(k, d) for k, d in chunks), size=len(data))
        version = fs._commit([wire.write_file_op("big.bin", entry)], reupload=chunks)
        assert version == client.describe_workspace("w").version == 1
        assert client.read_file(client.lookup("w", "big.bin")) == data
    finally:
        fs.destroy("/")
        remote.close()
        client.close()
