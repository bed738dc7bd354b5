"""SeaweedFS restarted (killed, then started on the same ports and data) while readers
read files whose chunks live in it: readers wait and retry, none sees an error or a
wrong byte (every object read is verified against its id), and reads go on after.

Marked `cluster` (run alone: `pytest -m cluster`); the server is one of its own, so
the session's shared SeaweedFS is never disturbed.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seaweed_support import SeaweedFS, running_seaweedfs

from citcfs.entries import Entry
from citcfs.objects import CHUNK_SIZE, ObjectKind, split_chunks
from citcfs.storage import Database, WriteFile, keys
from citcfs.storage.lmdb_backend import LmdbKVStore
from citcfs.storage.s3_backend import S3ObjectStore

pytestmark = pytest.mark.cluster


@pytest.fixture
def own_seaweedfs(tmp_path: Path) -> Iterator[SeaweedFS]:
    with running_seaweedfs(tmp_path / "seaweedfs") as server:
        yield server


def test_reads_survive_a_seaweedfs_restart(own_seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    # No read cache: every read below goes to S3.
    store = S3ObjectStore.from_url(own_seaweedfs.new_store_url() + "&cache_mb=0",
                                   retry_seconds=90)
    db = Database(LmdbKVStore(str(tmp_path / "log"), keys.ALL_TABLES, sync=False), store)
    try:
        db.import_directory("main", str(_empty(tmp_path)))
        db.create_workspace("ws", "main")
        files: dict[str, bytes] = {}
        for i in range(8):
            data = os.urandom(CHUNK_SIZE // 4 + i)
            ids = store.put_many([(ObjectKind.CHUNK, c, None) for c in split_chunks(data)])
            files[f"f{i}"] = data
            db.commit("ws", [WriteFile(f"f{i}", Entry.file(chunks=tuple(ids), size=len(data)))])
        digests = {name: hashlib.sha256(data).digest() for name, data in files.items()}
        entries = {name: db.lookup("ws", name) for name in files}
        stop = threading.Event()
        reads: list[float] = []
        errors: list[BaseException] = []

        def reader() -> None:
            try:
                while not stop.is_set():
                    for name, entry in entries.items():
                        got = db.read_file(entry)
                        assert hashlib.sha256(got).digest() == digests[name], name
                        reads.append(time.monotonic())
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        before = len(reads)
        own_seaweedfs.stop()  # SIGKILL
        down = time.monotonic()
        time.sleep(1.0)
        restarting = time.monotonic()
        own_seaweedfs.start()  # same ports and data; returns once it takes writes too
        up = time.monotonic()
        time.sleep(1.5)
        stop.set()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        assert before > 0 and store.retries > 0  # reads were under way and had to wait
        assert any(t > up for t in reads)  # and went on once it was back
        # None while it was away. Reads may come back before `up`: SeaweedFS serves
        # them before it takes the write that `start` waits for.
        assert not any(down + 0.5 < t < restarting for t in reads)
        assert db.fsck().ok
    finally:
        db.close()


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty"
    path.mkdir()
    return path
