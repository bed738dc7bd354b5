"""The oracle every mount test ends with (`verify_server`, the server's fsck) fails on
damaged data: a test whose teardown it runs can fail through it."""

from __future__ import annotations

import pytest
from damage_support import corrupt_object
from server_support import import_small_base, verify_server

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.objects import CHUNK_SIZE
from citcfs.server.app import CitcServer


def test_verify_server_fails_on_a_corrupt_object(server: CitcServer) -> None:
    with Client.connect(server.address) as client:
        import_small_base(client)
        client.create_workspace("ws", "main")
        entry = client.upload_file(bytes(range(256)) * (CHUNK_SIZE // 128))  # two chunks
        client.commit("ws", [wire.write_file_op("big.bin", entry)])
    verify_server(server.address)
    corrupt_object(server.db.objects, entry.chunks[1], b"rotten")
    with pytest.raises(AssertionError, match="1 corrupt and 0 missing"):
        verify_server(server.address)
