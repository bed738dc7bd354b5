"""storage.group_commit: concurrent commits share transactions and stay independent."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citcfs.entries import Entry
from citcfs.errors import PathNotFound, StaleVersion
from citcfs.storage import Database, MakeDir, Remove, WriteFile
from citcfs.storage.backend import KVTxn
from citcfs.storage.group_commit import GroupCommitter
from citcfs.storage.lmdb_backend import LmdbKVStore

THREADS = 16
PER_THREAD = 25
WORKSPACES = 4


def run_threads(count: int, target: Callable[[int], None]) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            start.wait()
            target(i)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors


def test_concurrent_commits_are_all_present_and_gap_free(
        tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    db = Database.open(str(tmp_path / "db"))  # fsync on, as a server runs
    try:
        db.import_directory("main", str(make_tree({"f": b"base"})))
        for w in range(WORKSPACES):
            db.create_workspace(f"ws{w}", "main")
            db.commit(f"ws{w}", [MakeDir(f"t{i}") for i in range(w, THREADS, WORKSPACES)])
        acked: list[tuple[str, int, str, bytes]] = []
        refused: list[str] = []
        lock = threading.Lock()

        def worker(i: int) -> None:
            ws = f"ws{i % WORKSPACES}"
            for j in range(PER_THREAD):
                if j % 10 == 9:  # an invalid commit now and then, mixed into the batches
                    try:
                        db.commit(ws, [WriteFile(f"t{i}/x", Entry.file(b"x")), Remove("nope")])
                    except PathNotFound:
                        with lock:
                            refused.append(ws)
                        continue
                    raise AssertionError("the invalid commit went through")
                path, data = f"t{i}/f{j}", f"{i}:{j}".encode()
                result = db.commit(ws, [WriteFile(path, Entry.file(data))])
                with lock:
                    acked.append((ws, result.version, path, data))

        batches_before, jobs_before = db._writer.batches, db._writer.jobs
        run_threads(THREADS, worker)
        jobs = db._writer.jobs - jobs_before
        batches = db._writer.batches - batches_before
        assert jobs == THREADS * PER_THREAD
        assert batches < jobs, "no two commits ever shared a transaction"
        assert len(refused) == THREADS * (PER_THREAD // 10)
        db.close()

        db = Database.open(str(tmp_path / "db"))
        for w in range(WORKSPACES):
            ws = f"ws{w}"
            mine = sorted((v, p, d) for name, v, p, d in acked if name == ws)
            head = db.workspace(ws).version
            assert [v for v, _, _ in mine] == list(range(2, head + 1))
            assert [info.version for info in db.versions(ws)] == list(range(head + 1))
            for version, path, data in mine:
                assert db.read_file(db.lookup(ws, path, version)) == data
                assert db.read_file(db.lookup(ws, path)) == data
                with pytest.raises(PathNotFound):
                    db.lookup(ws, path, version - 1)
                assert not any(name == "x" for name, _ in db.listdir(ws, path.split("/")[0]))
        db.verify_log()
    finally:
        db.close()


def test_compare_and_set_under_contention(db: Database, make_tree: Callable[..., Path]) -> None:
    db.import_directory("main", str(make_tree({"f": b"base"})))
    db.create_workspace("ws", "main")
    wins: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(20):
            seen = db.workspace("ws").version
            try:
                r = db.commit("ws", [WriteFile(f"f{i}-{j}", Entry.file(b""))], expected_version=seen)
            except StaleVersion:
                continue
            with lock:
                wins.append(r.version)

    run_threads(8, worker)
    assert sorted(wins) == list(range(1, db.workspace("ws").version + 1))


# --- the committer alone, on a bare LMDB store ---------------------------------------

@pytest.fixture
def kv(tmp_path: Path) -> Iterator[LmdbKVStore]:
    store = LmdbKVStore(str(tmp_path / "kv"), ["t"], sync=False)
    try:
        yield store
    finally:
        store.close()


def test_a_failing_job_does_not_affect_its_batch(kv: LmdbKVStore) -> None:
    committer = GroupCommitter(kv)
    release = threading.Event()
    results: dict[str, object] = {}

    def blocker(txn: KVTxn) -> str:
        release.wait(10)
        txn.put("t", b"blocker", b"1")
        return "blocked"

    def good(n: int) -> Callable[[KVTxn], int]:
        def job(txn: KVTxn) -> int:
            txn.put("t", b"good%d" % n, b"%d" % n)
            return n
        return job

    def bad(txn: KVTxn) -> None:
        txn.put("t", b"bad", b"half-done")
        raise ValueError("job failed")

    jobs: dict[str, Callable[[KVTxn], object]] = {"blocker": blocker, "bad": bad}
    jobs.update({f"good{n}": good(n) for n in range(5)})

    def call(name: str) -> None:
        try:
            results[name] = committer.submit(jobs[name])
        except ValueError as exc:
            results[name] = exc

    leader = threading.Thread(target=call, args=("blocker",))
    leader.start()
    followers = [threading.Thread(target=call, args=(name,))
                 for name in ("good0", "good1", "bad", "good2", "good3", "good4")]
    # Let the blocker's batch start first, then queue the others behind it.
    deadline = threading.Event()
    while not committer._leader_active and not deadline.wait(0.001):
        pass
    for t in followers:
        t.start()
    while len(committer._queue) < len(followers) and not deadline.wait(0.001):
        pass
    release.set()
    for t in [leader, *followers]:
        t.join(10)
    assert committer.batches == 2 and committer.jobs == 7
    assert results["blocker"] == "blocked"
    assert isinstance(results["bad"], ValueError)
    assert [results[f"good{n}"] for n in range(5)] == list(range(5))
    with kv.read() as txn:
        assert txn.get("t", b"bad") is None
        assert txn.get("t", b"blocker") == b"1"
        assert [txn.get("t", b"good%d" % n) for n in range(5)] == [b"%d" % n for n in range(5)]


def test_listener_hears_only_successes(kv: LmdbKVStore) -> None:
    heard: list[list[object]] = []
    committer = GroupCommitter(kv, on_durable=heard.append)
    assert committer.submit(lambda txn: 1) == 1
    with pytest.raises(KeyError):
        committer.submit(lambda txn: {}["missing"])
    assert heard == [[1]]


def test_max_batch_splits_the_queue(kv: LmdbKVStore) -> None:
    committer = GroupCommitter(kv, max_batch=2)

    def worker(i: int) -> None:
        for j in range(10):
            committer.submit(lambda txn: txn.put("t", b"%d-%d" % (i, j), b""))

    run_threads(6, worker)
    assert committer.jobs == 60 and committer.batches >= 30
    with kv.read() as txn:
        assert len(list(txn.range("t", b""))) == 60
