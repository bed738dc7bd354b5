"""storage.s3_backend beyond the ObjectStore contract: its URL, its errors, its cache,
and GC that stays safe while other servers upload, on a real SeaweedFS."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from object_store_support import s3_store
from seaweed_support import SeaweedFS, free_port

from citcfs.entries import Entry
from citcfs.errors import (FailedPrecondition, InvalidArgument, ObjectMissing, PermissionDenied,
                           Unavailable)
from citcfs.objects import ObjectId, ObjectKind, object_id
from citcfs.storage import Database, WriteFile, keys
from citcfs.storage.lmdb_backend import LmdbKVStore
from citcfs.storage.object_lru import DEFAULT_LRU_BYTES
from citcfs.storage.s3_backend import DEFAULT_GRACE, S3Location, S3ObjectStore

GRACE = 2.0
"""Seconds; S3's LastModified has whole seconds, so a grace shorter than 2 s says little."""


# --- the URL --------------------------------------------------------------------------

def test_url_with_every_option() -> None:
    where = S3Location.parse("s3://bkt/some/prefix?endpoint=http://127.0.0.1:8333"
                             "&region=eu-west-1&grace=30&cache_mb=8")
    assert where == S3Location("bkt", "some/prefix/", "http://127.0.0.1:8333", "eu-west-1",
                               30.0, 8 << 20)


def test_url_defaults() -> None:
    assert S3Location.parse("s3://bkt") == S3Location("bkt", "", None, None, DEFAULT_GRACE,
                                                      DEFAULT_LRU_BYTES)


@pytest.mark.parametrize("url", [
    "bkt", "http://bkt", "s3://", "s3:///prefix", "s3://bkt?endpoint=ftp://h",
    "s3://bkt?grace=soon", "s3://bkt?grace=-1", "s3://bkt?colour=red", "s3://bkt?cache_mb=x",
])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidArgument):
        S3Location.parse(url)


# --- errors ---------------------------------------------------------------------------

def test_a_missing_bucket_is_one_clear_error(seaweedfs: SeaweedFS) -> None:
    store = S3ObjectStore.from_url(f"s3://no-such-bucket-here?endpoint={seaweedfs.endpoint}")
    try:
        # SeaweedFS answers a put with AccessDenied (only an admin may make buckets)
        with pytest.raises((FailedPrecondition, PermissionDenied), match="no-such-bucket-here"):
            store.put(ObjectKind.CHUNK, b"x")
        with pytest.raises((FailedPrecondition, PermissionDenied), match="no-such-bucket-here"):
            store.stats()
    finally:
        store.close()


def test_an_unreachable_server_is_unavailable_after_retrying() -> None:
    store = S3ObjectStore.from_url(f"s3://bkt?endpoint=http://127.0.0.1:{free_port()}",
                                   retry_seconds=3.0)
    try:
        started = time.monotonic()
        with pytest.raises(Unavailable):
            store.get(object_id(ObjectKind.CHUNK, b"x"))
        # retried (how often depends on how long boto3's first call takes), then given up
        assert store.retries >= 1 and time.monotonic() - started < 20
    finally:
        store.close()


# --- the read cache -------------------------------------------------------------------

def test_reads_are_cached_and_a_delete_drops_them(seaweedfs: SeaweedFS) -> None:
    store = s3_store(seaweedfs)
    try:
        oid = store.put(ObjectKind.TREE, b"a tree")
        assert store.get(oid) == b"a tree" and store.cache.misses == 1
        store.client.put_object(Bucket=store.bucket, Key=store._key(oid), Body=b"\x02rot")
        assert store.get(oid, ObjectKind.TREE) == b"a tree"  # verified once, never stale
        assert store.cache.hits == 1
        assert store.delete([oid]) == 1
        with pytest.raises(ObjectMissing):
            store.get(oid)
    finally:
        store.close()


# --- the grace period -----------------------------------------------------------------

def s3_database(seaweedfs: SeaweedFS, directory: Path, grace: float) -> Database:
    kv = LmdbKVStore(str(directory / "log"), keys.ALL_TABLES, sync=False)
    return Database(kv, s3_store(seaweedfs, grace=grace))


def last_modified(store: S3ObjectStore, oid: ObjectId) -> float:
    head = store._head(oid)
    assert head is not None
    return head[0].timestamp()


def test_gc_keeps_young_garbage_until_the_grace_period_ends(seaweedfs: SeaweedFS,
                                                            tmp_path: Path) -> None:
    db = s3_database(seaweedfs, tmp_path, GRACE)
    try:
        young = db.objects.put(ObjectKind.CHUNK, b"unreferenced")
        assert [may for _, _, may in db.objects.sweepable()] == [False]
        report = db.gc()
        assert report.objects_freed == 0 and list(db.objects.ids()) == [young]
        time.sleep(GRACE + 1.1)
        assert [may for _, _, may in db.objects.sweepable()] == [True]
        # (ids(), not has(): has() would re-stamp it, as for a client about to use it)
        assert db.gc(dry_run=True).objects_freed == 1 and list(db.objects.ids()) == [young]
        assert db.gc().objects_freed == 1
        assert list(db.objects.ids()) == []
    finally:
        db.close()


def test_has_re_stamps_an_old_object_so_gc_keeps_it(seaweedfs: SeaweedFS,
                                                      tmp_path: Path) -> None:
    """A client hears "present", skips the upload and commits a reference: the object
    must outlive a GC that listed it as old garbage just before."""
    db = s3_database(seaweedfs, tmp_path, GRACE)
    try:
        store = db.objects
        assert isinstance(store, S3ObjectStore)
        oid = store.put(ObjectKind.CHUNK, b"old garbage")
        time.sleep(GRACE + 1.1)
        listed = {o: may for o, _, may in store.sweepable()}
        assert listed == {oid: True}  # a GC now would take it...
        before = last_modified(store, oid)
        assert store.has([oid]) == [True]  # ...but a client asked for it first
        assert last_modified(store, oid) > before
        assert store.sweep([oid]) == []  # the GC that listed it looks again and keeps it
        assert store.get(oid) == b"old garbage"
    finally:
        db.close()


def test_two_uploaders_racing_gc_lose_nothing(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    """Two writers upload new chunks and re-use old unreferenced ones (as a client does
    after HasObjects says present) and commit, while GC runs again and again. A commit
    may be refused (ObjectMissing: upload again), but every acknowledged commit reads
    back and fsck finds nothing missing; garbage nobody re-used is collected meanwhile,
    so GC really ran beside them."""
    db = s3_database(seaweedfs, tmp_path, GRACE)
    try:
        store = db.objects
        db.import_directory("main", str(_empty_dir(tmp_path)))
        old = store.put_many([(ObjectKind.CHUNK, b"old %d" % i, None) for i in range(40)])
        reused, spare = old[:20], old[20:]
        time.sleep(GRACE + 1.1)  # every old chunk is now old enough for GC
        stop = threading.Event()
        errors: list[BaseException] = []
        written: dict[str, bytes] = {}
        gc_runs: list[int] = []
        refused: list[str] = []

        def uploader(name: str) -> None:
            db.create_workspace(name, "main")
            try:
                for n in itertools.count():
                    if stop.is_set():
                        return
                    data = b"%s new %d" % (name.encode(), n)
                    new = object_id(ObjectKind.CHUNK, data)
                    again = reused[n % len(reused)]
                    again_data = b"old %d" % (n % len(reused))
                    ops = [WriteFile(f"new{n}", Entry.file(chunks=(new,), size=len(data))),
                           WriteFile(f"old{n}", Entry.file(chunks=(again,), size=len(again_data)))]
                    while True:  # as a client: HasObjects, upload what is missing, commit
                        present = dict(zip([new, again], db.has_objects([new, again])))
                        if not present[new]:
                            store.put(ObjectKind.CHUNK, data, new)
                        if not present[again]:
                            store.put(ObjectKind.CHUNK, again_data, again)
                        try:
                            db.commit(name, ops)
                            break
                        except ObjectMissing:  # collected meanwhile: upload it again
                            refused.append(name)
                    written[f"{name}/new{n}"] = data
                    written[f"{name}/old{n}"] = again_data
            except BaseException as exc:  # reported below
                errors.append(exc)

        def collector() -> None:
            try:
                while not stop.is_set():
                    gc_runs.append(db.gc().objects_freed)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=uploader, args=(name,)) for name in ("a", "b")]
        threads.append(threading.Thread(target=collector))
        for thread in threads:
            thread.start()
        time.sleep(5)
        stop.set()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        assert len(gc_runs) >= 3 and len(written) >= 20
        assert db.objects.has(spare) == [False] * len(spare)  # GC worked beside them
        report = db.fsck()
        assert report.ok, (report.missing, report.corrupt)
        for path, data in written.items():
            name, file = path.split("/")
            assert db.read_file(db.lookup(name, file)) == data
    finally:
        db.close()


def _empty_dir(tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_clock_is_the_servers(seaweedfs: SeaweedFS) -> None:
    """Ages are measured on S3's clock (the Date header), not this machine's."""
    store = s3_store(seaweedfs)
    try:
        oid = store.put(ObjectKind.CHUNK, b"now")
        head = store._head(oid)
        assert head is not None
        modified, now = head
        assert timedelta(0) <= now - modified < timedelta(seconds=30)
    finally:
        store.close()
