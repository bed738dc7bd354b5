"""storage.etcd_backend: what only a shared store has: several writers, a lost
answer, etcd's limits and its compaction. (The KV contract and the engine suites
run on etcd too: tests/test_kv_contract.py and the parametrized `db` fixture.)"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kv_support import kv_url

from citcfs.entries import Entry
from citcfs.errors import InvalidArgument, TxnTooLarge, Unavailable, WriteConflict
from citcfs.protos import etcd_rpc_pb2 as rpc
from citcfs.storage import Database, MakeDir, WriteFile
from citcfs.storage import keys
from citcfs.storage.backends import parse_kv
from citcfs.storage.etcd_backend import EtcdKVStore, EtcdSettings
from citcfs.storage.lmdb_backend import LmdbObjectStore

SERVERS = 2
THREADS = 8
PER_THREAD = 15


@pytest.fixture
def settings(etcd_endpoints: list[str], tmp_path: Path) -> EtcdSettings:
    location = parse_kv(kv_url("etcd", tmp_path, etcd_endpoints))
    assert location.etcd is not None
    return location.etcd


@pytest.fixture
def shared(settings: EtcdSettings, tmp_path: Path,
           make_tree: Callable[..., Path]) -> Iterator[list[Database]]:
    """Two databases on one etcd prefix and one object store, as two servers are;
    base "main" and workspace "ws"."""
    objects = LmdbObjectStore(str(tmp_path / "objects"), sync=False)
    dbs = [Database(EtcdKVStore(settings, keys.ALL_TABLES), objects) for _ in range(SERVERS)]
    try:
        dbs[0].import_directory("main", str(make_tree({"f": b"base"})))
        dbs[1].create_workspace("ws", "main")
        yield dbs
    finally:
        for db in dbs:
            db.kv.close()
        objects.close()


def test_two_servers_committing_to_one_workspace_never_fork_it(shared: list[Database]) -> None:
    acked: list[tuple[int, str]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def worker(i: int) -> None:
        db = shared[i % SERVERS]
        try:
            start.wait()
            for j in range(PER_THREAD):
                result = db.commit("ws", [WriteFile(f"t{i}-{j}", Entry.file(b"%d" % j))])
                with lock:
                    acked.append((result.version, f"t{i}-{j}"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    total = THREADS * PER_THREAD
    # Every acknowledged commit got a version of its own, and the versions are dense:
    # no two servers ever appended over the same head.
    versions = sorted(version for version, _ in acked)
    assert versions == list(range(1, total + 1))
    for db in shared:
        state = db.workspace("ws")
        assert state.version == max(versions)
        assert {name for name, _ in db.listdir("ws", "")} >= {path for _, path in acked}
        for version, path in acked:  # each commit's path appears in its own version
            assert path in dict(db.listdir("ws", "", version))
    assert sum(db.kv.conflicts for db in shared) > 0  # the race did happen
    report = shared[0].verify_log()
    assert report.last_lsn - report.first_lsn + 1 == report.records  # one dense LSN order
    assert shared[1].rebuild() == report.records
    assert shared[0].workspace("ws").version == max(versions)


def test_a_commit_over_the_limits_is_refused_and_changes_nothing(
        etcd_endpoints: list[str], tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    url = kv_url("etcd", tmp_path, etcd_endpoints) + "?max_txn_ops=40&max_request_bytes=65536"
    with Database.open(str(tmp_path / "db"), sync=False, kv=url) as db:
        db.import_directory("main", str(make_tree({"f": b"base"})))
        db.create_workspace("ws", "main")
        with pytest.raises(TxnTooLarge, match="max-txn-ops"):
            db.commit("ws", [MakeDir(f"d{i}") for i in range(50)])
        with pytest.raises(TxnTooLarge, match="max-request-bytes"):
            db.commit("ws", [WriteFile(f"f{i}", Entry.file(os.urandom(3000))) for i in range(25)])
        assert db.workspace("ws").version == 0
        # Commits that fit alone but not together are split across etcd transactions.
        errors: list[BaseException] = []
        start = threading.Barrier(6)

        def worker(i: int) -> None:
            try:
                start.wait()
                db.commit("ws", [MakeDir(f"w{i}-{j}") for j in range(12)])
            except BaseException as exc:  # reported below
                errors.append(exc)
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert db.workspace("ws").version == 6
        assert len(db.listdir("ws", "")) == 1 + 6 * 12


def test_etcds_own_limit_is_reported_as_too_large(settings: EtcdSettings) -> None:
    """A store told of higher limits than etcd runs with gets etcd's refusal as
    TxnTooLarge, not as an unexplained failure (the tests' etcd allows 10000 ops)."""
    store = EtcdKVStore(EtcdSettings(settings.endpoints, settings.prefix, max_txn_ops=20000),
                        ["t"])
    try:
        with pytest.raises(TxnTooLarge, match="too many operations"):
            with store.write() as txn:
                for i in range(10001):
                    txn.put("t", b"%05d" % i, b"")
        with store.read() as txn:
            assert txn.last("t") is None
    finally:
        store.close()


def _fence(store: EtcdKVStore) -> tuple[int, bytes]:
    response = store.client.range(rpc.RangeRequest(key=store.fence_key))
    return (response.kvs[0].mod_revision, bytes(response.kvs[0].value)) if response.kvs \
        else (0, b"")


def _fenced_put(store: EtcdKVStore, fence_mod: int, token: bytes, key: bytes) -> bool:
    """What a commit sends, sent by hand: its answer is then 'lost' to the store."""
    request = rpc.TxnRequest(
        compare=[rpc.Compare(key=store.fence_key, target=rpc.Compare.MOD,
                             result=rpc.Compare.EQUAL, mod_revision=fence_mod)],
        success=[rpc.RequestOp(request_put=rpc.PutRequest(key=store.table_prefix("t") + key,
                                                          value=b"1")),
                 rpc.RequestOp(request_put=rpc.PutRequest(key=store.fence_key, value=token))])
    return bool(store.client.txn_once(request).succeeded)


def test_a_lost_answer_is_resolved_from_the_fence(settings: EtcdSettings) -> None:
    store = EtcdKVStore(settings, ["t"])
    try:
        with store.write() as txn:
            txn.put("t", b"start", b"")
        # Applied, answer lost: the fence's next value is this commit's token.
        mod, _ = _fence(store)
        assert _fenced_put(store, mod, b"mine", b"a")
        with store.write() as txn:  # a later writer moves the fence again
            txn.put("t", b"later", b"")
        assert store._resolve(mod, b"mine") is True
        # Not applied, another writer won: the next value is someone else's token.
        mod, _ = _fence(store)
        assert _fenced_put(store, mod, b"theirs", b"b")
        assert store._resolve(mod, b"mine") is False
        # Still in flight, nobody moved the fence: the store moves it, so the lost
        # request can never apply afterwards.
        mod, _ = _fence(store)
        assert store._resolve(mod, b"late") is False
        assert _fence(store)[0] != mod
        assert not _fenced_put(store, mod, b"late", b"c")
        with store.read() as txn:
            assert [k for k, _ in txn.range("t", b"")] == [b"a", b"b", b"later", b"start"]
    finally:
        store.close()


def test_a_writer_that_lost_the_race_gets_a_conflict(settings: EtcdSettings) -> None:
    first, second = EtcdKVStore(settings, ["t"]), EtcdKVStore(settings, ["t"])
    try:
        with pytest.raises(WriteConflict):
            with first.write() as txn:
                assert txn.get("t", b"k") is None
                with second.write() as other:
                    other.put("t", b"k", b"second")
                txn.put("t", b"k", b"first")
        with first.read() as txn:
            assert txn.get("t", b"k") == b"second"
    finally:
        first.close()
        second.close()


def test_compaction_under_a_reader(settings: EtcdSettings) -> None:
    """etcd's history is etcd's to compact: a reader whose revision went says so."""
    store = EtcdKVStore(settings, ["t"])
    try:
        with store.write() as txn:
            txn.put("t", b"a", b"1")
        with store.read() as reader:
            assert reader.get("t", b"a") == b"1"
            with store.write() as txn:
                txn.put("t", b"a", b"2")
            head = store.client.range(rpc.RangeRequest(key=b"x")).header.revision
            store.client.compact(head)
            with pytest.raises(Unavailable, match="compacted"):
                reader.get("t", b"zzz")
        with store.read() as reader:
            assert reader.get("t", b"a") == b"2"
        with store.write() as txn:  # writers go on
            txn.put("t", b"b", b"3")
    finally:
        store.close()


@pytest.mark.parametrize("url", [
    "etcd://", "etcd://host", "etcd://h:notaport", "etcd://h:1,", "etcd://h:1?bogus=1",
    "etcd://h:1?max_txn_ops=x", "etcd://h:1?max_txn_ops=1", "zk://h:1", "lmdb://host/x",
])
def test_bad_kv_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_kv(url)


def test_kv_urls() -> None:
    location = parse_kv("etcd://a:1,b:2/team/x?max_txn_ops=500&max_request_bytes=2000000")
    assert location.etcd == EtcdSettings(("a:1", "b:2"), b"team/x/", 500, 2000000)
    assert location.shared
    assert parse_kv(None).scheme == parse_kv("lmdb").scheme == "lmdb"
    assert parse_kv("lmdb:///srv/log").path == "/srv/log"
    assert parse_kv("etcd://a:1").etcd.prefix == b"citc/"  # type: ignore[union-attr]
