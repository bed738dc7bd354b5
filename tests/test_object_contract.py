"""The ObjectStore contract (storage/backend.py), run against every backend.

Each test takes the `object_store` fixture, which conftest.py parametrizes over
`object_store_support.OBJECT_BACKENDS`: a backend joins the list and passes this file.
The last test holds the client's object cache to the store's argument order.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from object_store_support import write_raw

from citcfs.client.cache import ObjectCache
from citcfs.errors import CorruptObject, ObjectMissing
from citcfs.objects import CHUNK_SIZE, ObjectId, ObjectKind, StoredObject, object_id
from citcfs.storage.backend import ObjectStore


def chunk_id(content: bytes) -> ObjectId:
    return object_id(ObjectKind.CHUNK, content)


# --- put and get ----------------------------------------------------------------------

def test_put_returns_the_id_and_get_the_content(object_store: ObjectStore) -> None:
    oid = object_store.put(ObjectKind.CHUNK, b"content")
    assert oid == chunk_id(b"content")
    assert object_store.get(oid) == b"content"
    assert object_store.get(oid, ObjectKind.CHUNK) == b"content"
    tree = object_store.put(ObjectKind.TREE, b"content")  # same bytes, another kind
    assert tree != oid and object_store.get(tree, ObjectKind.TREE) == b"content"


def test_empty_and_chunk_sized_objects_round_trip(object_store: ObjectStore) -> None:
    big = bytes(range(256)) * (CHUNK_SIZE // 256)
    empty, full = object_store.put_many([(ObjectKind.TREE, b"", None),
                                         (ObjectKind.CHUNK, big, None)])
    assert object_store.get(empty, ObjectKind.TREE) == b""
    assert object_store.get(full) == big
    assert object_store.stats() == (2, len(big))


def test_re_put_is_idempotent(object_store: ObjectStore) -> None:
    oid = object_store.put(ObjectKind.CHUNK, b"once")
    assert object_store.put(ObjectKind.CHUNK, b"once", oid) == oid
    assert object_store.put_many([(ObjectKind.CHUNK, b"once", None)] * 3) == [oid] * 3
    assert object_store.stats() == (1, 4)
    assert list(object_store.ids()) == [oid]


def test_put_many_keeps_order(object_store: ObjectStore) -> None:
    items: list[StoredObject] = [(ObjectKind.CHUNK, b"%d" % i, None) for i in range(20)]
    items[3] = (ObjectKind.CHUNK, b"3", chunk_id(b"3"))  # a named id, checked and kept
    assert object_store.put_many(items) == [chunk_id(b"%d" % i) for i in range(20)]
    assert object_store.put_many([]) == []


# --- verification of ids on put -------------------------------------------------------

def test_put_checks_a_named_id(object_store: ObjectStore) -> None:
    wrong = chunk_id(b"other")
    with pytest.raises(CorruptObject):
        object_store.put(ObjectKind.CHUNK, b"content", wrong)
    with pytest.raises(CorruptObject):  # right bytes, wrong kind
        object_store.put(ObjectKind.TREE, b"other", wrong)
    assert object_store.stats() == (0, 0)
    assert object_store.has([wrong, chunk_id(b"content")]) == [False, False]


def test_one_bad_item_spoils_the_whole_batch(object_store: ObjectStore) -> None:
    wrong = chunk_id(b"other")
    with pytest.raises(CorruptObject):
        object_store.put_many([(ObjectKind.CHUNK, b"fine", None),
                               (ObjectKind.CHUNK, b"x", wrong),
                               (ObjectKind.CHUNK, b"after", None)])
    assert object_store.stats() == (0, 0)
    assert list(object_store.ids()) == []


# --- missing and corrupt objects on get -----------------------------------------------

def test_get_of_a_missing_object(object_store: ObjectStore) -> None:
    absent = chunk_id(b"nothing")
    with pytest.raises(ObjectMissing):
        object_store.get(absent)
    with pytest.raises(ObjectMissing):
        object_store.get(absent, ObjectKind.CHUNK)
    assert object_store.has([absent, ObjectId(b"short"), ObjectId(b"")]) == [False] * 3


def test_get_verifies_the_content(object_store: ObjectStore) -> None:
    oid = object_store.put(ObjectKind.CHUNK, b"good bytes")
    write_raw(object_store, oid, bytes((ObjectKind.CHUNK,)) + b"evil bytes")
    with pytest.raises(CorruptObject):
        object_store.get(oid)
    with pytest.raises(CorruptObject):
        object_store.get(oid, ObjectKind.CHUNK)


def test_get_checks_the_kind(object_store: ObjectStore) -> None:
    oid = object_store.put(ObjectKind.CHUNK, b"chunk")
    with pytest.raises(CorruptObject):
        object_store.get(oid, ObjectKind.TREE)
    assert object_store.get(oid) == b"chunk"


@pytest.mark.parametrize("raw", [b"\x09chunk", b"\x00chunk", b"", b"\x02chunk"])
def test_get_of_a_bad_kind_byte(object_store: ObjectStore, raw: bytes) -> None:
    oid = object_store.put(ObjectKind.CHUNK, b"chunk")
    write_raw(object_store, oid, raw)
    with pytest.raises(CorruptObject):
        object_store.get(oid)


def test_a_corrupt_object_is_healed_by_deleting_and_putting_it(object_store: ObjectStore
                                                                ) -> None:
    oid = object_store.put(ObjectKind.CHUNK, b"payload")
    write_raw(object_store, oid, bytes((ObjectKind.CHUNK,)) + b"rot")
    assert object_store.delete([oid]) == 1
    assert object_store.put(ObjectKind.CHUNK, b"payload") == oid
    assert object_store.get(oid) == b"payload"


# --- delete and listings --------------------------------------------------------------

def test_delete_counts_what_was_stored(object_store: ObjectStore) -> None:
    oids = object_store.put_many([(ObjectKind.CHUNK, b"%d" % i, None) for i in range(20)])
    assert object_store.delete(oids[:5] + [chunk_id(b"absent")]) == 5
    assert object_store.delete(oids[:5]) == 0
    assert object_store.has(oids) == [False] * 5 + [True] * 15
    with pytest.raises(ObjectMissing):
        object_store.get(oids[0])
    assert object_store.stats() == (15, sum(len(b"%d" % i) for i in range(5, 20)))


def test_listings_show_every_object_once_in_id_order(object_store: ObjectStore) -> None:
    contents = {object_id(kind, data): data for kind, data in
                [(ObjectKind.CHUNK, b"a" * n) for n in range(1, 30)] +
                [(ObjectKind.TREE, b"t" * n) for n in range(0, 5)]}
    object_store.put_many([(ObjectKind.CHUNK, b"a" * n, None) for n in range(1, 30)])
    object_store.put_many([(ObjectKind.TREE, b"t" * n, None) for n in range(0, 5)])
    assert list(object_store.ids()) == sorted(contents)
    assert list(object_store.sizes()) == sorted((oid, len(d)) for oid, d in contents.items())
    assert object_store.stats() == (len(contents), sum(map(len, contents.values())))


def test_racing_puts_of_one_object_store_it_once(object_store: ObjectStore) -> None:
    data = b"shared" * 1000
    errors: list[BaseException] = []

    def put() -> None:
        try:
            for _ in range(5):
                object_store.put_many([(ObjectKind.CHUNK, data, None),
                                       (ObjectKind.CHUNK, b"mine", None)])
        except BaseException as exc:  # reported below
            errors.append(exc)
    threads = [threading.Thread(target=put) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert object_store.stats() == (2, len(data) + 4)
    assert object_store.get(chunk_id(data)) == data


# --- the client's cache takes the same items ------------------------------------------

def test_client_cache_takes_the_stores_items(object_store: ObjectStore, tmp_path: Path) -> None:
    """One list of (kind, content, id) goes to the store and to the client's cache."""
    items: list[StoredObject] = [(ObjectKind.CHUNK, b"one", None),
                                 (ObjectKind.TREE, b"two", object_id(ObjectKind.TREE, b"two"))]
    cache = ObjectCache(str(tmp_path / "cache"), 1 << 20)
    try:
        assert cache.put_many(items) == object_store.put_many(items)
        assert cache.put(ObjectKind.CHUNK, b"three") == object_store.put(ObjectKind.CHUNK, b"three")
        for oid in object_store.ids():
            assert cache.get(oid) == object_store.get(oid)
        bad: list[StoredObject] = [(ObjectKind.CHUNK, b"x", chunk_id(b"y"))]
        with pytest.raises(CorruptObject):
            cache.put_many(bad)
        with pytest.raises(CorruptObject):
            object_store.put_many(bad)
        assert chunk_id(b"y") not in cache
    finally:
        cache.close()
