"""Writer batches over the API: Commit with a writer, WriterProgress, and the client's
PipelinedCommits (answers in order, errors per batch, resends after a broken
stream, unary fallback when streams are refused) against real servers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from server_support import import_small_base, running_server, server_process, socket_dir

from citcfs import errors, wire
from citcfs.client.remote import RpcRemote
from citcfs.client.commit_streams import BatchResult
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.protos import citc_pb2 as pb
from citcfs.server.app import CitcServer, ServerConfig
from citcfs.server.limits import Limits

pytestmark = pytest.mark.server_config(sync=False)

W1 = bytes(range(16))
W2 = bytes(range(16, 32))


@pytest.fixture
def client(server: CitcServer) -> Iterator[Client]:
    with Client.connect(server.address) as connected:
        import_small_base(connected)
        connected.create_workspace("w", "main")
        yield connected


def put(path: str, data: bytes = b"x") -> pb.Op:
    return wire.write_file_op(path, Entry.file(data))


def results(futures: list["Future[BatchResult]"]) -> list[BatchResult]:
    return [future.result(timeout=30) for future in futures]


# --- Commit and WriterProgress ---------------------------------------------------------

def test_commit_with_writer_and_skipped_ops(client: Client) -> None:
    bad = pb.Op(write_file=pb.WriteFileOp(path=b"a/../b", entry=wire.entry_to_wire(Entry.file(b"1"))))
    ops = [put("a"), wire.remove_op("missing"), bad, wire.make_dir_op("src"), put("b")]
    first = client.commit("w", ops, writer_id=W1, first_seq=1, last_seq=5, skip_failing_ops=True)
    assert first.version == 1 and not first.duplicate
    assert [(s.index, s.error.error) for s in first.skipped] == [
        (1, "PathNotFound"), (2, "InvalidPath"), (3, "AlreadyExists")]
    again = client.commit("w", ops, writer_id=W1, first_seq=1, last_seq=5, skip_failing_ops=True)
    assert again.duplicate and again.version == 1 and not again.skipped
    with pytest.raises(errors.OutOfSequence, match="up to seq 5"):
        client.commit("w", [put("c")], writer_id=W1, first_seq=7, last_seq=7)
    with pytest.raises(errors.InvalidArgument):
        client.commit("w", [put("c")], writer_id=b"short", first_seq=1, last_seq=1)
    with pytest.raises(errors.InvalidArgument):
        client.commit("w", [put("c")], writer_id=W2, first_seq=2, last_seq=1)
    assert client.writer_progress("w", W1) == (5, 1)
    assert client.writer_progress("w", W2) == (0, 0)
    with pytest.raises(errors.WorkspaceNotFound):
        client.writer_progress("nope", W1)
    with pytest.raises(errors.InvalidArgument):
        client.writer_progress("w", b"")
    # without a writer nothing changed: the first failing op fails the commit
    with pytest.raises(errors.PathNotFound):
        client.commit("w", [put("c"), wire.remove_op("missing")])



def test_a_batch_for_a_deleted_workspace_never_reaches_its_namesake(client: Client) -> None:
    old_id = client.describe_workspace("w").id
    pipe = client.pipelined_commits()
    try:
        first = pipe.submit("w", [put("a")], writer_id=W1, first_seq=1, last_seq=1,
                            workspace_id=old_id)
        assert first.result(timeout=30).version == 1
        client.delete_workspace("w")
        client.create_workspace("w", "main")
        late = pipe.submit("w", [put("b")], writer_id=W1, first_seq=2, last_seq=2,
                           workspace_id=old_id)
        with pytest.raises(errors.WorkspaceNotFound, match="deleted"):
            late.result(timeout=30)
    finally:
        pipe.close()
    assert client.describe_workspace("w").version == 0
    with pytest.raises(errors.PathNotFound):
        client.lookup("w", "b")
    new_id = client.describe_workspace("w").id
    assert new_id != old_id
    assert client.commit("w", [put("c")], writer_id=W1, first_seq=1, last_seq=1).version == 1

def test_writer_progress_needs_read_access(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("tok-alice-0123456789 alice\ntok-bob-0123456789 bob\n")
    config = ServerConfig(data_dir=str(tmp_path / "data"), listen="127.0.0.1:0",
                          tokens_file=str(tokens), sync=False)
    server = CitcServer.start(config)
    try:
        port = server.address.rsplit(":", 1)[1]
        with Client.connect(f"127.0.0.1:{port}", token="tok-alice-0123456789") as alice, \
                Client.connect(f"127.0.0.1:{port}", token="tok-bob-0123456789") as bob:
            import_small_base(alice)
            alice.create_workspace("mine", "main")
            alice.commit("mine", [put("a")], writer_id=W1, first_seq=1, last_seq=1)
            with pytest.raises(errors.PermissionDenied):
                bob.writer_progress("mine", W1)
            alice.grant("mine", "bob", pb.ACCESS_READ)
            assert bob.writer_progress("mine", W1) == (1, 1)
    finally:
        server.stop(grace=5)


# --- PipelinedCommits ------------------------------------------------------------------

def test_pipelined_batches_come_back_in_order(client: Client) -> None:
    pipe = client.pipelined_commits()
    try:
        futures = [pipe.submit("w", [put(f"f{n % 7}", b"%d" % n), put("last", b"%d" % n)],
                               writer_id=W1, first_seq=2 * n + 1, last_seq=2 * n + 2)
                   for n in range(300)]
        assert pipe.in_flight > 0
        answers = results(futures)
        assert [a.version for a in answers] == list(range(1, 301))
        assert not any(a.duplicate or a.skipped for a in answers)
        assert pipe.in_flight == 0
        assert client.writer_progress("w", W1) == (600, 300)
        assert client.read_file(client.lookup("w", "last")) == b"299"
        # A batch resent on a new stream after its answer came is a duplicate.
        pipe.close()
        again = pipe.submit("w", [put("last", b"299")], writer_id=W1, first_seq=599, last_seq=600)
        assert again.result(timeout=30) == BatchResult(300, True, ())
    finally:
        pipe.close()


def test_a_failed_batch_does_not_end_the_stream(client: Client) -> None:
    pipe = client.pipelined_commits()
    try:
        ok = pipe.submit("w", [put("a")], writer_id=W1, first_seq=1, last_seq=1)
        gap = pipe.submit("w", [put("b")], writer_id=W1, first_seq=3, last_seq=3)
        ghost = pipe.submit("nope", [put("b")], writer_id=W1, first_seq=2, last_seq=2)
        skipped = pipe.submit("w", [wire.remove_op("missing"), put("c")], writer_id=W1,
                              first_seq=2, last_seq=2)
        after_gap = pipe.submit("w", [put("d")], writer_id=W1, first_seq=4, last_seq=4)
        assert ok.result(30).version == 1
        with pytest.raises(errors.OutOfSequence):
            gap.result(30)
        with pytest.raises(errors.WorkspaceNotFound):
            ghost.result(30)
        done = skipped.result(30)
        assert done.version == 2 and [(i, type(e)) for i, e in done.skipped] == [
            (0, errors.PathNotFound)]
        with pytest.raises(errors.OutOfSequence, match="up to seq 2"):
            after_gap.result(30)
    finally:
        pipe.close()


def test_refused_stream_falls_back_to_calls_in_order(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", sync=False,
                        limits=Limits(max_commit_streams=1)) as server, \
            Client.connect(server.address) as client:
        import_small_base(client)
        client.create_workspace("w", "main")
        held = client.commit_stream()
        pipe = client.pipelined_commits()
        try:
            held.commit("w", [put("held")])  # takes the only stream
            futures = [pipe.submit("w", [put("f", b"%d" % n)], writer_id=W1, first_seq=n,
                                   last_seq=n) for n in range(1, 41)]
            assert [a.version for a in results(futures)] == list(range(2, 42))
            assert server.servicer.commit_streams.count == 1
            later = pipe.submit("w", [put("g")], writer_id=W1, first_seq=41, last_seq=41)
            assert later.result(30).version == 42
            with pytest.raises(errors.OutOfSequence):
                pipe.submit("w", [put("g")], writer_id=W1, first_seq=50, last_seq=50).result(30)
            assert pipe.in_flight == 0
        finally:
            pipe.close()
            held.close()


def test_close_fails_what_is_unanswered(client: Client) -> None:
    pipe = client.pipelined_commits()
    futures = [pipe.submit("w", [put(f"f{n}")], writer_id=W1, first_seq=n, last_seq=n)
               for n in range(1, 200)]
    pipe.close()
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(30).version)
        except errors.Unavailable:
            outcomes.append(None)
    answered = [v for v in outcomes if v is not None]
    assert outcomes[:len(answered)] == answered  # a prefix was answered, the rest failed
    assert pipe.in_flight == 0


def test_resend_after_a_server_restart_applies_each_batch_once(tmp_path: Path) -> None:
    """Kill the server (by pid) while batches are in flight, start it again, resend
    every batch whose answer was lost: each is applied exactly once."""
    data = tmp_path / "data"
    with socket_dir() as sockets:
        listen = f"unix:{sockets}/citc.sock"
        with server_process(data, listen) as first:
            setup = Client.connect(first.address)
            import_small_base(setup)
            setup.create_workspace("w", "main")
            setup.close()
            client = Client.connect(first.address)
            pipe = client.pipelined_commits()
            batches = {n: [put(f"f{n}", b"%d" % n), put("last", b"%d" % n)] for n in range(1, 301)}
            futures = {n: pipe.submit("w", ops, writer_id=W1, first_seq=n, last_seq=n)
                       for n, ops in batches.items()}
            while pipe.in_flight > 250:
                time.sleep(0.001)
            first.kill()
        lost = []
        for n, future in futures.items():
            try:
                assert future.result(30).version == n
            except errors.Unavailable:
                lost.append(n)
        assert lost, "the server answered everything before it was killed"
        assert lost == list(range(lost[0], 301))
        with server_process(data, listen) as second:
            resent = []
            for n in lost:
                for _ in range(100):  # the channel reconnects to the new server
                    try:
                        resent.append(pipe.submit("w", batches[n], writer_id=W1, first_seq=n,
                                                  last_seq=n).result(30))
                        break
                    except errors.Unavailable:
                        time.sleep(0.05)
            assert len(resent) == len(lost)
            assert [r.version for r in resent] == lost
            assert client.describe_workspace("w").version == 300
            assert client.writer_progress("w", W1) == (300, 300)
            assert client.read_file(client.lookup("w", "last")) == b"300"
            pipe.close()
            client.close()
            assert second.stop() == 0


def test_remote_commit_batch_and_progress(client: Client, server: CitcServer) -> None:
    remote = RpcRemote(Client.connect(server.address))
    try:
        assert remote.writer_progress("w", W2) == 0
        first = remote.commit_batch("w", [put("a"), wire.remove_op("missing")], writer_id=W2,
                                    first_seq=1, last_seq=2)
        second = remote.commit_batch("w", [put("b")], writer_id=W2, first_seq=3, last_seq=3)
        assert first.result(30).version == 1 and len(first.result().skipped) == 1
        assert second.result(30).version == 2
        assert remote.writer_progress("w", W2) == 3
    finally:
        remote.close()
