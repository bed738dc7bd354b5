"""Redirections on the server: the rules, the log record and index, and the API.

The mount side (passthrough to local disk) is in test_fuse_redirect.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from server_support import TOKENS, connect, import_small_base

from citcfs import errors, redirections, wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.protos import citc_pb2 as pb
from citcfs.server.app import CitcServer
from citcfs.storage import Database, WriteFile
from citcfs.storage.records import (RedirectionsSet, RetentionSet, decode_record,
                                    encode_record)


# --- the rules (pure) -------------------------------------------------------------------


def test_rules_refuse_root_citc_nesting_and_repeats() -> None:
    assert redirections.updated((), ["build/", "/web/node_modules"]) == \
        ("build", "web/node_modules")
    with pytest.raises(errors.InvalidPath, match="workspace root"):
        redirections.updated((), ["/"])
    with pytest.raises(errors.InvalidPath, match=".citc"):
        redirections.updated((), [".citc/versions"])
    with pytest.raises(errors.InvalidPath):
        redirections.updated((), ["a/../b"])
    with pytest.raises(errors.InvalidArgument, match="inside the redirection 'build'"):
        redirections.updated(("build",), ["build/obj"])
    with pytest.raises(errors.InvalidArgument, match="above the redirection 'web/x'"):
        redirections.updated(("web/x",), ["web"])
    with pytest.raises(errors.AlreadyExists, match="already redirected"):
        redirections.updated(("build",), ["build"])
    with pytest.raises(errors.PathNotFound, match="not redirected"):
        redirections.updated(("build",), remove=["target"])
    # Removing first makes room: one request can move a redirection deeper.
    assert redirections.updated(("web",), ["web/node_modules"], ["web"]) == ("web/node_modules",)
    # "buildx" is not inside "build".
    assert redirections.find(("build",), "buildx/a") is None
    assert redirections.find(("build",), "build/a/b") == ("build", "a/b")
    assert redirections.find(("build",), "build") == ("build", "")


# --- the record and the index -----------------------------------------------------------


def test_record_round_trip_and_older_records_decode_unchanged() -> None:
    record = RedirectionsSet(7, ("build", "caf\udce9/out"), 123)
    assert decode_record(encode_record(record)) == record
    # A record type from before redirections decodes exactly as it did.
    old = RetentionSet(7, 3, 5)
    assert encode_record(old) == bytes([7, 7, 3, 10]) and decode_record(encode_record(old)) == old


@pytest.fixture
def db(tmp_path: Path, open_db: Callable[..., Database]) -> Iterator[Database]:
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "main.c").write_text("int main;\n")
    (tree / "empty").mkdir()
    database = open_db(tmp_path / "data")
    database.import_directory("main", str(tree))
    database.create_workspace("w", "main")
    try:
        yield database
    finally:
        database.close()


def test_set_list_remove_make_one_empty_version_each(db: Database) -> None:
    result = db.set_redirections("w", add=["build", "empty"])
    assert result.paths == ("build", "empty") and result.version == 1
    assert db.redirections("w") == ("build", "empty")
    assert db.versions("w")[-1].path_count == 0
    assert db.changes("w", 0).paths == ()
    assert db.set_redirections("w", remove=["empty"]).version == 2
    assert db.redirections("w") == ("build",)
    # Deleting the workspace drops them; a new one of the same name has none.
    db.delete_workspace("w")
    db.create_workspace("w", "main")
    assert db.redirections("w") == ()


def test_paths_with_content_are_refused(db: Database) -> None:
    with pytest.raises(errors.DirectoryNotEmpty, match="remove or move them first"):
        db.set_redirections("w", add=["src"])
    with pytest.raises(errors.NotADirectory, match="is a file"):
        db.set_redirections("w", add=["src/main.c"])
    with pytest.raises(errors.NotADirectory, match="parent"):
        db.set_redirections("w", add=["src/main.c/out"])
    db.commit("w", [WriteFile("out.txt", Entry.file(b"x"))])
    with pytest.raises(errors.NotADirectory):
        db.set_redirections("w", add=["out.txt"])
    with pytest.raises(errors.WorkspaceNotFound):
        db.set_redirections("nope", add=["build"])
    with pytest.raises(errors.WorkspaceNotFound):
        db.redirections("nope")
    assert db.redirections("w") == () and db.workspace("w").version == 1  # nothing changed


def test_rebuild_reproduces_redirections(db: Database) -> None:
    db.set_redirections("w", add=["build", "web/node_modules"])
    db.set_redirections("w", remove=["build"], add=["target"])
    db.create_workspace("other", "main")
    db.set_redirections("other", add=["out"])
    before = (db.redirections("w"), db.redirections("other"), db.workspace("w").version)
    db.rebuild()
    assert (db.redirections("w"), db.redirections("other"), db.workspace("w").version) == before
    assert before[0] == ("target", "web/node_modules")
    assert db.fsck(rebuild=True).ok


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
def client(server: CitcServer) -> Iterator[Client]:
    with Client.connect(server.address) as connected:
        import_small_base(connected)
        connected.create_workspace("w", "main")
        yield connected


def test_api_add_list_remove_and_errors(client: Client) -> None:
    assert client.redirections("w") == ()
    assert client.set_redirections("w", add=["build", "node_modules"]) == \
        ("build", "node_modules")
    assert client.redirections("w") == ("build", "node_modules")
    assert client.describe_workspace("w").version == 1
    assert client.set_redirections("w", remove=["build"]) == ("node_modules",)
    cases = [(errors.InvalidPath, dict(add=[""])), (errors.InvalidPath, dict(add=[".citc"])),
             (errors.InvalidArgument, dict(add=["node_modules/x"])),
             (errors.AlreadyExists, dict(add=["node_modules"])),
             (errors.PathNotFound, dict(remove=["build"])),
             (errors.DirectoryNotEmpty, dict(add=["src"]))]
    for error, change in cases:
        with pytest.raises(error):
            client.set_redirections("w", **change)  # type: ignore[arg-type]
    with pytest.raises(errors.WorkspaceNotFound):
        client.set_redirections("nope", add=["build"])
    with pytest.raises(errors.WorkspaceNotFound):
        client.redirections("nope")
    assert client.redirections("w") == ("node_modules",)
    assert client.describe_workspace("w").version == 2


def test_api_change_reaches_watchers(client: Client) -> None:
    stream = client.watch({"w": 0})
    try:
        client.set_redirections("w", add=["build"])
        event = next(e for e in stream if not e.heartbeat)
        assert (event.workspace, event.version) == ("w", 1)
    finally:
        stream.cancel()
    client.commit("w", [wire.make_dir_op("src2")])
    assert client.redirections("w") == ("build",)  # commits leave them alone


@pytest.mark.server_config(tls=True)
def test_api_access_write_to_change_read_to_list(server: CitcServer) -> None:
    with connect(server, TOKENS["alice"]) as alice, \
            connect(server, TOKENS["bob"]) as bob:
        import_small_base(alice)
        alice.create_workspace("alice-ws", "main")
        alice.set_redirections("alice-ws", add=["build"])
        for refused in (lambda: bob.redirections("alice-ws"),
                        lambda: bob.set_redirections("alice-ws", add=["out"])):
            with pytest.raises(errors.PermissionDenied):
                refused()
        alice.grant("alice-ws", "bob", pb.ACCESS_READ)
        assert bob.redirections("alice-ws") == ("build",)
        with pytest.raises(errors.PermissionDenied):
            bob.set_redirections("alice-ws", remove=["build"])
        alice.grant("alice-ws", "bob", pb.ACCESS_WRITE)
        assert bob.set_redirections("alice-ws", add=["out"]) == ("build", "out")
