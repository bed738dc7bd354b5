"""Every RPC of citc.v1 against a real in-process server on a Unix socket."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from damage_support import corrupt_object
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from server_support import BASE_FILES, import_small_base, running_server

from citcfs import errors, wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry, EntryKind, Tree
from citcfs.objects import CHUNK_SIZE, ObjectKind, object_id
from citcfs.protos import citc_pb2 as pb
from citcfs.server.app import CitcServer
from citcfs.server.limits import Limits

pytestmark = pytest.mark.server_config(sync=False)


@pytest.fixture
def client(server: CitcServer) -> Iterator[Client]:
    with Client.connect(server.address) as connected:
        import_small_base(connected)
        yield connected


def test_socket_is_owner_only(server: CitcServer) -> None:
    path = server.address[len("unix:"):]
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_server_info_advertises_limits(client: Client, server: CitcServer) -> None:
    info = client.server_info()
    assert info.api_version == "citc.v1"
    assert info.limits.max_message_bytes == server.config.limits.max_message_bytes
    assert info.limits.chunk_size == CHUNK_SIZE
    assert info.limits.max_ops_per_commit > 0 and info.limits.max_watch_streams >= 100
    assert info.user == server.servicer.auth.local.user
    assert list(info.unimplemented) == []  # every RPC is served


def test_health_and_reflection(client: Client) -> None:
    health = health_pb2_grpc.HealthStub(client.channel)
    for service in ("", "citc.v1.Citc"):
        answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(client.channel)
    responses = reflect.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"citc.v1.Citc", "grpc.health.v1.Health"} <= names
    # grpc.reflection.v1 (what current grpcurl asks first) answers too, with the same
    # messages under its own method name, including the API's file descriptors.
    v1 = client.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    answers = list(v1(iter([reflection_pb2.ServerReflectionRequest(list_services=""),
                            reflection_pb2.ServerReflectionRequest(
                                file_containing_symbol="citc.v1.Citc")]), timeout=10))
    assert {s.name for s in answers[0].list_services_response.service} >= {
        "citc.v1.Citc", "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection"}
    assert answers[1].file_descriptor_response.file_descriptor_proto


def test_bases_import_list_history(client: Client) -> None:
    bases = client.list_bases()
    assert [b.name for b in bases] == ["main"] and bases[0].latest.rev == 1
    # Second revision: objects uploaded first, the client builds the trees, root last.
    blob = os.urandom(CHUNK_SIZE + 10)
    chunks = [blob[:CHUNK_SIZE], blob[CHUNK_SIZE:]]
    ids = [object_id(ObjectKind.CHUNK, c) for c in chunks]
    assert client.has_objects(ids) == ids
    client.put_objects((ObjectKind.CHUNK, c) for c in chunks)
    assert client.has_objects(ids) == []
    sub = Tree.build([("big.bin", Entry.file(chunks=tuple(ids), size=len(blob)))])
    top = Tree.build([("data", Entry.directory(tree=sub.id)), ("x", Entry.file(b"x"))])
    answer = client.import_base("main", objects_=[(ObjectKind.TREE, sub.encode()),
                                                  (ObjectKind.TREE, top.encode())],
                                root=top.id, message="second")
    assert answer.revision.rev == 2 and answer.revision.root == top.id and answer.objects == 2
    history = client.base_history("main")
    assert [(r.rev, r.message) for r in history] == [(1, "first import"), (2, "second")]
    ws = client.create_workspace("reader", "main")
    assert ws.base_rev == 2
    assert client.read_file(client.lookup("reader", "data/big.bin")) == blob


def test_import_refuses_missing_objects_and_changes_nothing(client: Client) -> None:
    ghost = object_id(ObjectKind.CHUNK, b"never uploaded" * 1000)
    top = Tree.build([("f", Entry.file(chunks=(ghost,), size=14000))])
    with pytest.raises(errors.NotFound):
        client.import_base("main", objects_=[(ObjectKind.TREE, top.encode())], root=top.id)
    with pytest.raises(errors.NotFound):
        client.import_base("other", root=object_id(ObjectKind.TREE, b"nope"))
    assert [r.rev for r in client.base_history("main")] == [1]
    assert [b.name for b in client.list_bases()] == ["main"]


def test_workspaces_create_list_describe_delete(client: Client, server: CitcServer) -> None:
    created = client.create_workspace("alice-fix", "main")
    assert created.owner == server.servicer.auth.local.user and created.version == 0
    assert created.access == "owner"
    with pytest.raises(errors.AlreadyExists):
        client.create_workspace("alice-fix", "main")
    with pytest.raises(errors.NotFound):
        client.create_workspace("other", "no-such-base")
    with pytest.raises(errors.InvalidArgument):
        client.create_workspace("bad/name", "main")
    assert [w.name for w in client.list_workspaces()] == ["alice-fix"]
    client.grant("alice-fix", "bob", pb.ACCESS_READ)
    described = client.describe_workspace("alice-fix")
    assert [(g.user, g.access) for g in described.grants] == [("bob", "read")]
    client.grant("alice-fix", "bob", pb.ACCESS_NONE)
    assert list(client.describe_workspace("alice-fix").grants) == []
    client.delete_workspace("alice-fix")
    assert client.list_workspaces() == []
    with pytest.raises(errors.WorkspaceNotFound):
        client.describe_workspace("alice-fix")


def test_reads_lookup_listdir_read_objects(client: Client) -> None:
    client.create_workspace("w", "main")
    names = [name for name, _ in client.listdir("w", "")]
    assert names == ["README", "docs", "src"]
    assert client.read_file(client.lookup("w", "src/lib/util.c")) == BASE_FILES["src/lib/util.c"]
    assert client.lookup("w", "src").kind == EntryKind.DIR
    with pytest.raises(errors.PathNotFound):
        client.lookup("w", "nope")
    tree_id = client.lookup("w", "src").tree
    assert tree_id is not None
    [(oid, kind, data)] = list(client.read_objects([tree_id]))
    assert kind == ObjectKind.TREE and Tree.decode(data).get("main.c") is not None


def test_listdir_streams_large_directories(client: Client) -> None:
    client.create_workspace("wide", "main")
    ops = [wire.make_dir_op("big")] + [wire.write_file_op(f"big/f{i:05d}", Entry.file(b"%d" % i))
                                       for i in range(2500)]
    client.commit("wide", ops)
    listing = client.listdir("wide", "big")
    assert [n for n, _ in listing] == [f"f{i:05d}" for i in range(2500)]
    request = pb.ListDirRequest(workspace="wide", path=b"big")
    messages = list(client.stub.ListDir(request, timeout=30))
    assert len(messages) >= 3  # 1,000 entries per message


def test_commit_every_op_and_read_any_version(client: Client) -> None:
    client.create_workspace("w", "main")
    content = os.urandom(2 * CHUNK_SIZE + 5)
    entry = client.upload_file(content, mode=0o755)
    first = client.commit("w", [wire.make_dir_op("bin"), wire.write_file_op("bin/tool", entry),
                                wire.make_dir_op("newdir", mode=0o700),
                                wire.symlink_op("link", "bin/tool")])
    assert first.version == 1 and set(wire.path_from_wire(p) for p in first.paths) >= {"bin/tool", "newdir", "link"}
    second = client.commit("w", [wire.rename_op("README", "README.md"),
                                 wire.set_attr_op("bin/tool", mode=0o700),
                                 wire.remove_op("docs", recursive=True)], expected_version=1)
    assert second.version == 2
    assert client.read_file(client.lookup("w", "bin/tool")) == content
    assert client.lookup("w", "bin/tool").mode == 0o700
    assert client.lookup("w", "link").target == "bin/tool"
    assert {n for n, _ in client.listdir("w", "")} == {"README.md", "bin", "link", "newdir", "src"}
    assert {n for n, _ in client.listdir("w", "", version=0)} == {"README", "docs", "src"}
    assert client.lookup("w", "bin/tool", version=1).mode == 0o755
    with pytest.raises(errors.StaleVersion):
        client.commit("w", [wire.make_dir_op("late")], expected_version=1)
    versions = client.versions("w")
    assert [v.version for v in versions][-2:] == [1, 2]
    changes = client.changes("w", 1)
    assert not changes.truncated and changes.version == 2
    assert set(client.changed_paths(changes)) >= {"README", "README.md", "bin/tool", "docs"}


def test_commit_stream_answers_each_commit_in_order(client: Client) -> None:
    client.create_workspace("w", "main")
    stream = client.commit_stream()
    try:
        first = stream.commit("w", [wire.write_file_op("a", Entry.file(b"1"))])
        assert first.version == 1 and [wire.path_from_wire(p) for p in first.paths] == ["a"]
        # Refused commits are answered with their error and end nothing.
        with pytest.raises(errors.StaleVersion):
            stream.commit("w", [wire.write_file_op("a", Entry.file(b"2"))], expected_version=0)
        with pytest.raises(errors.WorkspaceNotFound):
            stream.commit("nowhere", [wire.make_dir_op("d")])
        with pytest.raises(errors.InvalidArgument):
            stream.commit("w", [wire.make_dir_op("a/../b")])
        with pytest.raises(errors.PathNotFound):
            stream.commit("w", [wire.write_file_op("missing/dir/f", Entry.file(b"x"))])
        assert client.describe_workspace("w").version == 1  # the refused ones changed nothing
        second = stream.commit("w", [wire.write_file_op("b", Entry.file(b"2"))], expected_version=1)
        assert second.version == 2
        assert client.lookup("w", "b").inline == b"2"
    finally:
        stream.close()
    # closed, it opens a new call for the next commit
    assert stream.commit("w", [wire.make_dir_op("d")]).version == 3
    stream.close()


def test_commit_streams_are_bounded_and_end_at_shutdown(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", sync=False,
                        limits=Limits(max_commit_streams=1)) as server, \
            Client.connect(server.address) as client:
        import_small_base(client)
        client.create_workspace("w", "main")
        assert client.server_info().limits.max_commit_streams == 1
        held = client.commit_stream()
        assert held.commit("w", [wire.make_dir_op("d1")]).version == 1
        beyond = client.stub.CommitStream(iter([pb.CommitRequest(workspace="w")]))
        with pytest.raises(grpc.RpcError) as refused:
            next(beyond)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert server.servicer.commit_streams.count == 1
        # A CommitStream the server refuses commits by calls instead.
        second = client.commit_stream()
        assert second.commit("w", [wire.make_dir_op("d2")]).version == 2
        with pytest.raises(errors.StaleVersion):
            second.commit("w", [wire.make_dir_op("late")], expected_version=1)
        assert client.commit("w", [wire.make_dir_op("d3")]).version == 3
        started = time.monotonic()
        server.stop(grace=20)
        # the idle stream was ended at once, not after the grace period
        assert time.monotonic() - started < 10
        with pytest.raises(errors.Unavailable):
            held.commit("w", [wire.make_dir_op("d4")])
        held.close()


def test_put_objects_verifies_ids(client: Client) -> None:
    good = b"content"
    request = pb.PutObjectsRequest(objects=[pb.Object(id=object_id(ObjectKind.CHUNK, b"other"),
                                                      kind=pb.OBJECT_KIND_CHUNK, data=good)])
    with pytest.raises(grpc.RpcError) as failure:
        client.stub.PutObjects(iter([request]), timeout=10)
    assert failure.value.code() == grpc.StatusCode.DATA_LOSS
    assert client.has_objects([object_id(ObjectKind.CHUNK, good)]) != []
    stored = client.put_objects([(ObjectKind.CHUNK, good)])
    assert stored.objects == 1 and client.has_objects([object_id(ObjectKind.CHUNK, good)]) == []


def test_snapshots_freeze_fork_diff_restore_revert(client: Client) -> None:
    client.create_workspace("w", "main")
    client.commit("w", [wire.write_file_op("a.txt", Entry.file(b"one"))])
    label = client.label("w", "first")
    assert (label.label, label.version) == ("first", 1)
    client.commit("w", [wire.write_file_op("a.txt", Entry.file(b"two")),
                        wire.remove_op("README")])
    assert [(l.label, l.version) for l in client.labels("w")] == [("first", 1)]
    assert client.read_file(client.lookup("w", "a.txt", label="first")) == b"one"
    frozen = client.freeze("w", label="first")
    assert frozen == client.freeze("w", version=1)
    assert frozen != client.freeze("w")
    forked = client.fork_workspace("w", "w-fork", label="first")
    assert forked.name == "w-fork"
    assert client.read_file(client.lookup("w-fork", "a.txt")) == b"one"
    changes = {d.path: d.change
               for d in client.diff(client.workspace_ref("w", label="first"),
                                    client.workspace_ref("w"))}
    assert changes == {"a.txt": "modified", "README": "deleted"}
    base_diff = list(client.diff(client.base_ref("main"), client.workspace_ref("w", version=1)))
    assert [d.path for d in base_diff] == ["a.txt"]
    added = base_diff[0]
    assert added.change == "added" and added.old is None and added.old_path is None
    assert added.new is not None and added.new.inline == b"one"
    restored = client.restore("w", label="first")
    assert restored.version == 3
    assert client.read_file(client.lookup("w", "README")) == BASE_FILES["README"]
    client.commit("w", [wire.write_file_op("a.txt", Entry.file(b"three"))])
    reverted = client.revert("w", ["a.txt"], version=1)
    assert reverted.version == 5
    assert client.read_file(client.lookup("w", "a.txt")) == b"one"
    client.unlabel("w", "first")
    assert client.labels("w") == []
    with pytest.raises(errors.SnapshotNotFound):
        client.lookup("w", "a.txt", label="first")


def test_fork_point_in_describe_and_diff(client: Client) -> None:
    client.create_workspace("w", "main")
    client.commit("w", [wire.write_file_op("a.txt", Entry.file(b"one"))])
    forked = client.fork_workspace("w", "f")
    assert forked.fork is not None and client.describe_workspace("w").fork is None
    assert (forked.fork.source, forked.fork.source_version, forked.fork.base_rev,
            forked.fork.version) == ("w", 1, 1, 1)
    assert forked.fork.tree == client.freeze("w")
    assert client.describe_workspace("f").fork == forked.fork
    assert [w.fork for w in client.list_workspaces() if w.name == "f"] == [forked.fork]
    client.commit("f", [wire.write_file_op("b.txt", Entry.file(b"mine"))])
    changes = {d.path: d.change
               for d in client.diff(client.fork_ref("f"), client.workspace_ref("f"))}
    assert changes == {"b.txt": "added"}
    with pytest.raises(errors.NotForked, match="not forked"):
        list(client.diff(client.fork_ref("w"), client.workspace_ref("w")))
    with pytest.raises(errors.InvalidArgument):
        list(client.diff(replace(client.fork_ref("f"), version=1), client.workspace_ref("f")))


def test_sync_submit_and_gc(client: Client) -> None:
    client.create_workspace("w", "main")
    client.commit("w", [wire.write_file_op("new.txt", Entry.file(b"new"))])
    submitted = client.submit("w", message="add new.txt")
    assert submitted.revision.rev == 2 and submitted.revision.message == "add new.txt"
    assert client.describe_workspace("w").base_rev == 2
    client.create_workspace("late", "main", base_rev=1)
    client.commit("late", [wire.write_file_op("other.txt", Entry.file(b"o"))])
    synced = client.sync("late")
    assert synced.base_rev == 2 and list(synced.conflicts) == []
    assert client.read_file(client.lookup("late", "new.txt")) == b"new"
    # Conflicting sync refused when asked.
    client.create_workspace("c", "main", base_rev=1)
    client.commit("c", [wire.write_file_op("new.txt", Entry.file(b"mine"))])
    with pytest.raises(errors.Conflict) as conflict:
        client.sync("c", refuse_conflicts=True)
    assert "new.txt" in conflict.value.paths
    client.set_retention("w", 1)
    dry = client.gc(dry_run=True)
    assert dry.dry_run and dry.objects_live > 0
    done = client.gc()
    assert not done.dry_run
    assert client.read_file(client.lookup("late", "new.txt")) == b"new"


def test_watch_and_changes(client: Client) -> None:
    client.create_workspace("w", "main")
    stream = client.watch({"w": 0})
    try:
        client.commit("w", [wire.write_file_op("f", Entry.file(b"1"))])
        event = next(stream)
        assert (event.workspace, event.version) == ("w", 1)
        client.delete_workspace("w")
        event = next(stream)
        assert event.workspace == "w" and event.deleted
    finally:
        stream.cancel()


def test_verify_reports_corrupt_objects_and_rebuilds(client: Client, server: CitcServer) -> None:
    client.create_workspace("v", "main")
    entry = client.upload_file(os.urandom(2 * CHUNK_SIZE))  # two chunks
    client.commit("v", [wire.write_file_op("big.bin", entry)])
    clean = client.verify()
    assert clean.records >= 3 and clean.first_lsn == 1 and clean.objects >= 2
    assert list(clean.corrupt) == [] and list(clean.missing) == [] and not clean.rebuilt
    assert client.verify(skip_objects=True).objects == 0
    corrupt_object(server.db.objects, entry.chunks[0], b"not the chunk")
    damaged = client.verify(rebuild=True)
    assert list(damaged.corrupt) == [entry.chunks[0]] and damaged.rebuilt
    assert client.lookup("v", "big.bin") == entry
