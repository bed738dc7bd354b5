"""storage.object_lru: the bounded in-memory cache in front of a remote object store."""

from __future__ import annotations

from citcfs.objects import ObjectKind, object_id
from citcfs.storage.object_lru import ObjectLru


def test_least_recently_used_goes_first_and_the_bound_holds() -> None:
    lru = ObjectLru(max_bytes=800)
    ids = [object_id(ObjectKind.CHUNK, b"%d" % i) for i in range(10)]
    for oid in ids[:8]:
        lru.put(oid, ObjectKind.CHUNK, b"x" * 100)
    assert lru.total_bytes == 800
    assert lru.get(ids[0]) == (ObjectKind.CHUNK, b"x" * 100)  # now the most recent
    lru.put(ids[8], ObjectKind.TREE, b"y" * 100)
    assert lru.get(ids[1]) is None  # the least recently used went
    assert lru.get(ids[0]) is not None and lru.get(ids[8]) == (ObjectKind.TREE, b"y" * 100)
    assert lru.total_bytes <= 800
    assert (lru.hits, lru.misses) == (3, 1)


def test_an_object_over_an_eighth_of_the_bound_is_not_kept() -> None:
    lru = ObjectLru(max_bytes=800)
    small, big = object_id(ObjectKind.CHUNK, b"s"), object_id(ObjectKind.CHUNK, b"b")
    lru.put(small, ObjectKind.CHUNK, b"s" * 100)
    lru.put(big, ObjectKind.CHUNK, b"b" * 101)
    assert lru.get(big) is None and lru.get(small) is not None


def test_drop_and_replace_keep_the_byte_count() -> None:
    lru = ObjectLru(max_bytes=1000)
    oid = object_id(ObjectKind.CHUNK, b"o")
    lru.put(oid, ObjectKind.CHUNK, b"a" * 50)
    lru.put(oid, ObjectKind.CHUNK, b"a" * 50)
    assert lru.total_bytes == 50
    lru.drop([oid, object_id(ObjectKind.CHUNK, b"never")])
    assert lru.total_bytes == 0 and lru.get(oid) is None
