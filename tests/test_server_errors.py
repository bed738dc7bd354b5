"""Bad requests get the right gRPC status, a clear message, and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from damage_support import corrupt_object
from server_support import import_small_base, running_server

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.objects import CHUNK_SIZE, ObjectKind, object_id
from citcfs.protos import citc_pb2 as pb
from citcfs.server.app import CitcServer
from citcfs.server.limits import Limits

LIMITS = Limits(max_message_bytes=2 << 20, max_ops_per_commit=50, max_ids_per_request=20)

pytestmark = pytest.mark.server_config(sync=False, limits=LIMITS)


@pytest.fixture
def client(server: CitcServer) -> Iterator[Client]:
    with Client.connect(server.address) as connected:
        import_small_base(connected)
        connected.create_workspace("w", "main")
        connected.commit("w", [wire.write_file_op("kept", Entry.file(b"kept"))])
        yield connected


def state_of(client: Client) -> tuple[object, ...]:
    """What a refused call must leave unchanged."""
    ws = client.describe_workspace("w")
    return (ws.version, tuple(client.listdir("w", "")), len(client.versions("w")),
            tuple(b.latest.rev for b in client.list_bases()),
            tuple(w.name for w in client.list_workspaces()))


def expect(code: grpc.StatusCode, call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(grpc.RpcError) as failure:
        result = call(*args, **kwargs)  # type: ignore[operator]
        if hasattr(result, "__next__"):
            list(result)
    assert failure.value.code() == code, failure.value.details()
    details = failure.value.details()
    assert details and "Traceback" not in details
    return details


def commit_request(*ops: pb.Op, workspace: str = "w") -> pb.CommitRequest:
    return pb.CommitRequest(workspace=workspace, ops=list(ops))


@pytest.mark.parametrize("bad_path", [b"../etc", b"a/../b", b"a//b", b"a\0b", b"x" * 256,
                                      b"/".join([b"d" * 200] * 21)])
def test_invalid_paths(client: Client, bad_path: bytes) -> None:
    before = state_of(client)
    op = pb.Op(make_dir=pb.MakeDirOp(path=bad_path, mode=0o755))
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.Commit, commit_request(op), timeout=10)
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.Lookup,
           pb.LookupRequest(workspace="w", path=bad_path), timeout=10)
    assert state_of(client) == before


def test_unknown_names_and_ids(client: Client) -> None:
    before = state_of(client)
    op = wire.make_dir_op("d")
    details = expect(grpc.StatusCode.NOT_FOUND, client.stub.Commit,
                     commit_request(op, workspace="ghost"), timeout=10)
    assert "ghost" in details
    expect(grpc.StatusCode.NOT_FOUND, client.stub.Lookup,
           pb.LookupRequest(workspace="w", path=b"no/such"), timeout=10)
    expect(grpc.StatusCode.NOT_FOUND, client.stub.BaseHistory,
           pb.BaseHistoryRequest(base="ghost"), timeout=10)
    unknown = object_id(ObjectKind.CHUNK, b"unknown")
    expect(grpc.StatusCode.NOT_FOUND, client.stub.ReadObjects,
           pb.ReadObjectsRequest(ids=[unknown]), timeout=10)
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.ReadObjects,
           pb.ReadObjectsRequest(ids=[b"short"]), timeout=10)
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.Lookup,
           pb.LookupRequest(workspace="w", path=b"kept", version=99), timeout=10)
    # A file whose chunks were never uploaded.
    missing = wire.write_file_op("f", Entry.file(chunks=(unknown,), size=7))
    expect(grpc.StatusCode.NOT_FOUND, client.stub.Commit, commit_request(missing), timeout=10)
    assert state_of(client) == before


def test_stale_version_and_name_taken(client: Client) -> None:
    before = state_of(client)
    request = commit_request(wire.make_dir_op("d"))
    request.expected_version = 0
    details = expect(grpc.StatusCode.FAILED_PRECONDITION, client.stub.Commit, request, timeout=10)
    assert "version 1" in details
    expect(grpc.StatusCode.ALREADY_EXISTS, client.stub.CreateWorkspace,
           pb.CreateWorkspaceRequest(name="w", base="main"), timeout=10)
    expect(grpc.StatusCode.ALREADY_EXISTS, client.stub.Commit,
           commit_request(wire.make_dir_op("kept")), timeout=10)
    assert state_of(client) == before


def test_malformed_entries_and_ops(client: Client) -> None:
    before = state_of(client)
    lying = pb.Op()
    lying.write_file.path = b"f"
    lying.write_file.entry.kind = pb.ENTRY_KIND_FILE
    lying.write_file.entry.size = 10
    lying.write_file.entry.inline = b"short"
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.Commit, commit_request(lying), timeout=10)
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.Commit, commit_request(pb.Op()), timeout=10)
    unknown_kind = wire.write_file_op("f", Entry.file(b"x"))
    unknown_kind.write_file.entry.kind = 42
    expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.Commit, commit_request(unknown_kind),
           timeout=10)
    # The whole batch fails when its last op does: the first one is not applied either.
    batch = commit_request(wire.make_dir_op("fresh"), wire.remove_op("not-there"))
    expect(grpc.StatusCode.NOT_FOUND, client.stub.Commit, batch, timeout=10)
    assert state_of(client) == before


def test_oversized_requests(client: Client) -> None:
    before = state_of(client)
    too_many = commit_request(*[wire.make_dir_op(f"d{i}") for i in range(LIMITS.max_ops_per_commit + 1)])
    details = expect(grpc.StatusCode.RESOURCE_EXHAUSTED, client.stub.Commit, too_many, timeout=10)
    assert str(LIMITS.max_ops_per_commit) in details
    # Over the message size limit: gRPC refuses it before the servicer runs.
    chunks = tuple(object_id(ObjectKind.CHUNK, b"%d" % i) for i in range(70_000))
    huge = commit_request(wire.write_file_op("huge", Entry.file(chunks=chunks,
                                                                size=len(chunks) * CHUNK_SIZE)))
    assert huge.ByteSize() > LIMITS.max_message_bytes
    expect(grpc.StatusCode.RESOURCE_EXHAUSTED, client.stub.Commit, huge, timeout=10)
    blob = b"y" * (LIMITS.max_message_bytes + 1000)
    put = pb.PutObjectsRequest(objects=[pb.Object(id=object_id(ObjectKind.CHUNK, blob),
                                                  kind=pb.OBJECT_KIND_CHUNK, data=blob)])
    expect(grpc.StatusCode.RESOURCE_EXHAUSTED, client.stub.PutObjects, iter([put]), timeout=10)
    assert client.has_objects([object_id(ObjectKind.CHUNK, blob)]) != []
    ids = [object_id(ObjectKind.CHUNK, b"%d" % i) for i in range(LIMITS.max_ids_per_request + 1)]
    expect(grpc.StatusCode.RESOURCE_EXHAUSTED, client.stub.HasObjects,
           pb.HasObjectsRequest(ids=ids), timeout=10)
    assert state_of(client) == before


def test_chunk_over_chunk_size_is_refused(tmp_path: Path) -> None:
    with running_server(tmp_path / "data2", sync=False) as server, \
            Client.connect(server.address) as client:
        blob = b"z" * (CHUNK_SIZE + 1)
        put = pb.PutObjectsRequest(objects=[pb.Object(id=object_id(ObjectKind.CHUNK, blob),
                                                      kind=pb.OBJECT_KIND_CHUNK, data=blob)])
        expect(grpc.StatusCode.INVALID_ARGUMENT, client.stub.PutObjects, iter([put]), timeout=10)
        assert client.has_objects([object_id(ObjectKind.CHUNK, blob)]) != []


def test_a_commit_carries_the_objects_it_refers_to(client: Client) -> None:
    data = b"c" * (CHUNK_SIZE // 2 + 17)
    oid = object_id(ObjectKind.CHUNK, data)
    assert client.has_objects([oid]) == [oid]
    request = commit_request(wire.write_file_op("carried", Entry.file(chunks=(oid,),
                                                                      size=len(data))))
    request.objects.add(id=oid, kind=pb.OBJECT_KIND_CHUNK, data=data)
    client.stub.Commit(request, timeout=10)
    assert client.has_objects([oid]) == []
    assert client.read_file(client.lookup("w", "carried")) == data


def test_a_commit_whose_carried_object_lies_changes_nothing(client: Client) -> None:
    before = state_of(client)
    data, other = b"what was sent", b"what the id names"
    oid = object_id(ObjectKind.CHUNK, other)
    request = commit_request(wire.write_file_op("lied", Entry.file(chunks=(oid,),
                                                                   size=len(other))))
    request.objects.add(id=oid, kind=pb.OBJECT_KIND_CHUNK, data=data)
    expect(grpc.StatusCode.DATA_LOSS, client.stub.Commit, request, timeout=10)
    assert client.has_objects([oid]) == [oid]
    assert state_of(client) == before


def test_mismatched_and_corrupt_objects(client: Client, server: CitcServer) -> None:
    good, other = b"good bytes", b"other bytes"
    wrong = pb.PutObjectsRequest(objects=[
        pb.Object(id=object_id(ObjectKind.CHUNK, good), kind=pb.OBJECT_KIND_CHUNK, data=good),
        pb.Object(id=object_id(ObjectKind.CHUNK, other), kind=pb.OBJECT_KIND_CHUNK, data=good)])
    expect(grpc.StatusCode.DATA_LOSS, client.stub.PutObjects, iter([wrong]), timeout=10)
    # The whole message was refused: not even the good object was stored.
    assert client.has_objects([object_id(ObjectKind.CHUNK, good)]) != []
    bad_tree = pb.PutObjectsRequest(objects=[pb.Object(
        id=object_id(ObjectKind.TREE, b"\x01\x05junk"), kind=pb.OBJECT_KIND_TREE,
        data=b"\x01\x05junk")])
    expect(grpc.StatusCode.DATA_LOSS, client.stub.PutObjects, iter([bad_tree]), timeout=10)
    # An object that rots on the server is caught on read.
    data = b"r" * 10000
    oid = object_id(ObjectKind.CHUNK, data)
    client.put_objects([(ObjectKind.CHUNK, data)])
    corrupt_object(server.db.objects, oid, b"rotten" * 1000)
    expect(grpc.StatusCode.DATA_LOSS, client.stub.ReadObjects,
           pb.ReadObjectsRequest(ids=[oid]), timeout=10)


def test_changes_says_truncated_when_the_range_is_gone(client: Client) -> None:
    client.create_workspace("old", "main")
    client.commit("old", [wire.write_file_op("mine", Entry.file(b"m"))])
    client.import_base("main", entries=[("README", Entry.file(b"new readme"))])
    client.sync("old")
    head = client.describe_workspace("old").version
    answer = client.changes("old", 0)
    assert answer.truncated and answer.version == head and list(answer.paths) == []
    assert not client.changes("old", head).truncated
