"""TLS with a certificate made here, bearer tokens, and per-workspace access."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_support import TOKENS, connect, import_small_base, make_certificate

from citcfs import errors, wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.protos import citc_pb2 as pb
from citcfs.server.app import CitcServer, ServerConfig

pytestmark = pytest.mark.server_config(tls=True)  # `server`: TLS and tokens (TOKENS)

def test_insecure_remote_listener_is_refused(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidArgument, match="--tls-cert"):
        CitcServer.start(ServerConfig(data_dir=str(tmp_path / "d"), listen="0.0.0.0:0"))
    cert, key = make_certificate(tmp_path)
    with pytest.raises(errors.InvalidArgument, match="--tokens"):
        CitcServer.start(ServerConfig(data_dir=str(tmp_path / "d"), listen="0.0.0.0:0",
                                      tls_cert=str(cert), tls_key=str(key)))


def test_tokens_are_required(server: CitcServer) -> None:
    with connect(server, None) as anonymous:
        with pytest.raises(errors.Unauthenticated):
            anonymous.server_info()
        with pytest.raises(errors.Unauthenticated):
            anonymous.create_workspace("x", "main")
        with pytest.raises(errors.Unauthenticated):
            anonymous.commit_stream().commit("x", [wire.make_dir_op("d")])
    with connect(server, "not-a-token") as stranger:
        with pytest.raises(errors.Unauthenticated):
            stranger.list_workspaces()
    with connect(server, TOKENS["alice"]) as alice:
        assert alice.server_info().user == "alice"
    port = server.address.rsplit(":", 1)[1]
    with Client.connect(f"127.0.0.1:{port}", token=TOKENS["alice"]) as plaintext:
        with pytest.raises(errors.Unavailable):
            plaintext.server_info(timeout=5)


def test_workspace_access_owner_grants_and_refusals(server: CitcServer,
                                                     tls_config: ServerConfig) -> None:
    with connect(server, TOKENS["alice"]) as alice, connect(server, TOKENS["bob"]) as bob:
        import_small_base(alice)
        created = alice.create_workspace("alice-ws", "main")
        assert created.owner == "alice"
        alice.commit("alice-ws", [wire.write_file_op("secret", Entry.file(b"s"))])

        def unchanged() -> None:
            ws = alice.describe_workspace("alice-ws")
            assert ws.version == 1
            assert {n for n, _ in alice.listdir("alice-ws", "")} == {"README", "docs", "src", "secret"}

        assert [w.name for w in bob.list_workspaces()] == []
        for refused in (lambda: bob.lookup("alice-ws", "secret"),
                        lambda: bob.listdir("alice-ws", ""),
                        lambda: bob.describe_workspace("alice-ws"),
                        lambda: bob.changes("alice-ws", 0),
                        lambda: next(iter(bob.diff(bob.workspace_ref("alice-ws", version=0),
                                                   bob.workspace_ref("alice-ws")))),
                        lambda: bob.commit("alice-ws", [wire.make_dir_op("bobs")]),
                        lambda: bob.commit_stream().commit("alice-ws", [wire.make_dir_op("bobs")]),
                        lambda: bob.label("alice-ws", "mine"),
                        lambda: bob.fork_workspace("alice-ws", "bob-copy"),
                        lambda: bob.delete_workspace("alice-ws"),
                        lambda: bob.grant("alice-ws", "bob", pb.ACCESS_WRITE),
                        lambda: bob.gc(dry_run=True)):
            with pytest.raises(errors.PermissionDenied):
                refused()
        stream = bob.watch({"alice-ws": 0})
        with pytest.raises(Exception) as watch_failure:
            next(stream)
        assert "PERMISSION_DENIED" in str(watch_failure.value)
        unchanged()
        assert [w.name for w in alice.list_workspaces()] == ["alice-ws"]

        alice.grant("alice-ws", "bob", pb.ACCESS_READ)
        assert bob.lookup("alice-ws", "secret").inline == b"s"
        assert [w.name for w in bob.list_workspaces()] == ["alice-ws"]
        assert bob.fork_workspace("alice-ws", "bob-copy").owner == "bob"
        with pytest.raises(errors.PermissionDenied):
            bob.commit("alice-ws", [wire.make_dir_op("bobs")])
        unchanged()

        alice.grant("alice-ws", "bob", pb.ACCESS_WRITE)
        assert bob.commit("alice-ws", [wire.make_dir_op("bobs")]).version == 2
        with pytest.raises(errors.PermissionDenied):
            bob.delete_workspace("alice-ws")
        alice.grant("alice-ws", "bob", pb.ACCESS_NONE)
        with pytest.raises(errors.PermissionDenied):
            bob.lookup("alice-ws", "secret")
        alice.grant("alice-ws", "bob", pb.ACCESS_READ)

    with connect(server, TOKENS["root"]) as admin:
        assert admin.gc(dry_run=True).dry_run
        assert {w.name for w in admin.list_workspaces()} == {"alice-ws", "bob-copy"}

    # Grants survive a restart.
    server.stop(grace=5)
    again = CitcServer.start(ServerConfig(**{**tls_config.__dict__, "listen": "0.0.0.0:0"}))
    try:
        with connect(again, TOKENS["bob"]) as bob:
            assert bob.lookup("alice-ws", "secret").inline == b"s"
    finally:
        again.stop(grace=5)
