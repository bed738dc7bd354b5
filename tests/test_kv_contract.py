"""The KVStore/KVTxn contract (storage/backend.py), run against every backend.

Each test gets a store with tables "t" (k0..k9 -> v0..v9) and "u" (k0 -> other) on
LMDB in tmp_path and on the session's etcd under a prefix of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kv_support import follow, kv_url

from citcfs.errors import InvalidArgument
from citcfs.storage.backend import KVStore
from citcfs.storage.backends import parse_kv
from citcfs.storage.etcd_backend import EtcdKVStore
from citcfs.storage.lmdb_backend import LmdbKVStore

TABLES = ("t", "u", "e")

Opener = Callable[[], KVStore]


@pytest.fixture
def open_kv(request: pytest.FixtureRequest, kv_backend: str, tmp_path: Path) -> Iterator[Opener]:
    """open_kv(): the test's store; called again, the same data reopened."""
    endpoints = request.getfixturevalue("etcd_endpoints") if kv_backend == "etcd" else None
    opened: list[KVStore] = []

    def open_() -> KVStore:
        url = kv_url(kv_backend, tmp_path, endpoints)
        location = parse_kv(url)
        store: KVStore
        if location.etcd is not None:
            store = EtcdKVStore(location.etcd, TABLES)
            follow(store)
        else:
            store = LmdbKVStore(str(tmp_path / "kv"), TABLES, sync=True)
        opened.append(store)
        return store
    try:
        yield open_
    finally:
        for store in opened:
            store.close()


@pytest.fixture
def kv(open_kv: Opener) -> KVStore:
    store = open_kv()
    with store.write() as txn:
        for i in range(10):
            txn.put("t", b"k%d" % i, b"v%d" % i)
        txn.put("u", b"k0", b"other")
    return store


def keys_of(items: Iterator[tuple[bytes, bytes]] | list[tuple[bytes, bytes]]) -> list[bytes]:
    return [k for k, _ in items]


ALL = [b"k%d" % i for i in range(10)]


def test_get_put_delete_and_tables_are_separate(kv: KVStore) -> None:
    with kv.read() as txn:
        assert txn.get("t", b"k0") == b"v0"
        assert txn.get("u", b"k0") == b"other"
        assert txn.get("t", b"nope") is None
    with kv.write() as txn:
        assert txn.delete("t", b"k0")
        assert not txn.delete("t", b"k0")
        txn.put("t", b"empty", b"")
    with kv.read() as txn:
        assert txn.get("t", b"k0") is None
        assert txn.get("u", b"k0") == b"other"
        assert txn.get("t", b"empty") == b""  # an empty value is a value, not absence


def test_range_forward_and_its_ends(kv: KVStore) -> None:
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"k3", b"k6")) == [b"k3", b"k4", b"k5"]
        assert keys_of(txn.range("t", b"k8")) == [b"k8", b"k9"]
        assert keys_of(txn.range("t", b"k35", b"k5")) == [b"k4"]
        assert keys_of(txn.range("t", b"z")) == []
        assert keys_of(txn.range("t", b"k5", b"k5")) == []
        assert keys_of(txn.range("t", b"")) == ALL
        assert keys_of(txn.range("u", b"")) == [b"k0"]  # no key of "t" leaks in


def test_scan_is_range_as_a_list(kv: KVStore) -> None:
    with kv.read() as txn:
        for start, end in ((b"k3", b"k6"), (b"k35", b"k5"), (b"", b"z"), (b"k5", b"k5"),
                           (b"z", b"zz"), (b"k9", b"k9\0")):
            assert txn.scan("t", start, end) == list(txn.range("t", start, end))
        assert txn.scan("t", b"k3", b"k4") == [(b"k3", b"v3")]


def test_range_reverse_and_its_ends(kv: KVStore) -> None:
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"k3", b"k6", reverse=True)) == [b"k5", b"k4", b"k3"]
        assert keys_of(txn.range("t", b"k8", reverse=True)) == [b"k9", b"k8"]
        assert keys_of(txn.range("t", b"k7", b"z", reverse=True)) == [b"k9", b"k8", b"k7"]
        assert keys_of(txn.range("t", b"k2", b"k35", reverse=True)) == [b"k3", b"k2"]
        assert keys_of(txn.range("t", b"a", b"k0", reverse=True)) == []
        assert keys_of(txn.range("t", b"z", reverse=True)) == []
        assert keys_of(txn.range("t", b"", reverse=True)) == ALL[::-1]


def test_binary_keys_sort_as_unsigned_bytes(open_kv: Opener) -> None:
    store = open_kv()
    wanted = [b"\x00", b"\x00\x00", b"\x01", b"a", b"a\x00", b"a\xff", b"\x7f", b"\x80",
              b"\xff", b"\xff\xff"]
    with store.write() as txn:
        for key in reversed(wanted):
            txn.put("t", key, key)
    with store.read() as txn:
        assert keys_of(txn.range("t", b"")) == sorted(wanted)
        assert keys_of(txn.range("t", b"", reverse=True)) == sorted(wanted, reverse=True)
        assert txn.last("t") == (b"\xff\xff", b"\xff\xff")
        assert keys_of(txn.range("t", b"a", b"a\xff")) == [b"a", b"a\x00"]


def test_empty_table(kv: KVStore) -> None:
    with kv.read() as txn:
        assert list(txn.range("e", b"")) == []
        assert list(txn.range("e", b"", reverse=True)) == []
        assert txn.last("e") is None
        assert txn.first_at_or_after("e", b"") is None
        assert txn.scan("e", b"", b"\xff") == []


def test_first_at_or_after_and_last(kv: KVStore) -> None:
    with kv.read() as txn:
        assert txn.first_at_or_after("t", b"k35") == (b"k4", b"v4")
        assert txn.first_at_or_after("t", b"k4") == (b"k4", b"v4")
        assert txn.first_at_or_after("t", b"l") is None
        assert txn.last("t") == (b"k9", b"v9")
        assert txn.last("u") == (b"k0", b"other")


def test_delete_range_and_clear(kv: KVStore) -> None:
    with kv.write() as txn:
        assert txn.delete_range("t", b"k2", b"k5") == 3
        assert txn.delete_range("t", b"x", b"y") == 0
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"")) == [b"k0", b"k1", b"k5", b"k6", b"k7", b"k8", b"k9"]
    with kv.write() as txn:
        assert txn.delete_range("t", b"k8", b"z") == 2
        txn.clear("t")
        assert txn.last("t") is None
    with kv.read() as txn:
        assert list(txn.range("t", b"")) == []
        assert txn.get("u", b"k0") == b"other"


def test_a_write_reads_its_own_writes_merged_in_order(kv: KVStore) -> None:
    with kv.write() as txn:
        txn.put("t", b"k35", b"new")
        txn.put("t", b"k4", b"changed")
        assert txn.delete("t", b"k5")
        txn.put("t", b"a", b"first")
        txn.put("t", b"z", b"last")
        expected = [(b"a", b"first"), (b"k0", b"v0"), (b"k1", b"v1"), (b"k2", b"v2"),
                    (b"k3", b"v3"), (b"k35", b"new"), (b"k4", b"changed"), (b"k6", b"v6"),
                    (b"k7", b"v7"), (b"k8", b"v8"), (b"k9", b"v9"), (b"z", b"last")]
        assert list(txn.range("t", b"")) == expected
        assert list(txn.range("t", b"", reverse=True)) == expected[::-1]
        assert txn.scan("t", b"k3", b"k6") == expected[4:7]
        assert list(txn.range("t", b"k3", b"k6", reverse=True)) == expected[4:7][::-1]
        assert txn.first_at_or_after("t", b"k5") == (b"k6", b"v6")
        assert txn.last("t") == (b"z", b"last")
        assert txn.get("t", b"k5") is None
        # Deleting while iterating a range sees every item once.
        seen = []
        for key, _ in txn.range("t", b"k0", b"k9"):
            seen.append(key)
            txn.delete("t", key)
        assert seen == [k for k, _ in expected[1:10]]
        assert keys_of(txn.range("t", b"")) == [b"a", b"k9", b"z"]
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"")) == [b"a", b"k9", b"z"]


def test_put_then_delete_of_a_key_never_read_removes_it(kv: KVStore) -> None:
    with kv.write() as txn:
        txn.put("t", b"k1", b"over")  # never read in this transaction
        txn.delete("t", b"k1")
    with kv.read() as txn:
        assert txn.get("t", b"k1") is None


def test_write_rolls_back_on_error(kv: KVStore) -> None:
    with pytest.raises(RuntimeError):
        with kv.write() as txn:
            txn.put("t", b"new", b"1")
            txn.delete("t", b"k1")
            raise RuntimeError("boom")
    with kv.read() as txn:
        assert txn.get("t", b"new") is None
        assert txn.get("t", b"k1") == b"v1"


def test_nested_txn_rollback_and_commit(kv: KVStore) -> None:
    with kv.write() as txn:
        txn.put("t", b"outer", b"1")
        with pytest.raises(ValueError):
            with txn.nested() as child:
                child.put("t", b"inner-bad", b"x")
                child.delete("t", b"k0")
                child.put("t", b"outer", b"overwritten")
                raise ValueError("roll back the child only")
        assert txn.get("t", b"k0") == b"v0"
        assert txn.get("t", b"outer") == b"1"
        assert txn.get("t", b"inner-bad") is None
        with txn.nested() as child:
            child.put("t", b"inner-good", b"y")
            assert child.get("t", b"outer") == b"1"
            with pytest.raises(KeyError):
                with child.nested() as grandchild:
                    grandchild.put("t", b"deep", b"z")
                    raise KeyError("only the grandchild")
            with child.nested() as grandchild:
                grandchild.put("t", b"deep-good", b"w")
        assert txn.get("t", b"inner-good") == b"y"
        assert keys_of(txn.range("t", b"d", b"j")) == [b"deep-good", b"inner-good"]
    with kv.read() as txn:
        assert txn.get("t", b"outer") == b"1"
        assert txn.get("t", b"inner-good") == b"y"
        assert txn.get("t", b"deep-good") == b"w"
        assert txn.get("t", b"inner-bad") is None
        assert txn.get("t", b"deep") is None
        assert txn.get("t", b"k0") == b"v0"


def test_reader_sees_a_snapshot_later_writes_do_not_disturb(kv: KVStore) -> None:
    with kv.read() as reader:
        assert reader.get("t", b"k0") == b"v0"  # the snapshot is taken by now
        with kv.write() as txn:
            txn.put("t", b"k0", b"changed")
            txn.delete("t", b"k5")
            txn.put("t", b"k55", b"new")
            txn.clear("u")
        assert reader.get("t", b"k0") == b"v0"
        assert keys_of(reader.range("t", b"")) == ALL
        assert reader.get("u", b"k0") == b"other"
        assert reader.last("t") == (b"k9", b"v9")
    with kv.read() as reader:
        assert reader.get("t", b"k0") == b"changed"
        assert b"k55" in keys_of(reader.range("t", b""))
        assert reader.get("u", b"k0") is None


def test_a_long_range_is_read_whole(open_kv: Opener) -> None:
    """More keys than a backend reads per call, and values of 100 KiB."""
    store = open_kv()
    big = bytes(range(256)) * 400
    with store.write() as txn:
        for i in range(1500):
            txn.put("t", b"%06d" % i, b"%d" % i)
        for i in range(5):
            txn.put("u", b"big%d" % i, big)
    with store.read() as txn:
        items = list(txn.range("t", b""))
        assert [k for k, _ in items] == [b"%06d" % i for i in range(1500)]
        assert keys_of(txn.range("t", b"", reverse=True)) == [b"%06d" % i
                                                               for i in reversed(range(1500))]
        assert keys_of(txn.range("t", b"000700", b"001300")) == [b"%06d" % i
                                                                 for i in range(700, 1300)]
        assert [v for _, v in txn.range("u", b"")] == [big] * 5


def test_data_survives_reopen(open_kv: Opener) -> None:
    store = open_kv()
    with store.write() as txn:
        txn.put("t", b"a", b"b")
    store.close()
    again = open_kv()
    with again.read() as txn:
        assert txn.get("t", b"a") == b"b"


def test_an_empty_key_is_refused_and_changes_nothing(kv: KVStore) -> None:
    with pytest.raises(InvalidArgument):
        with kv.write() as txn:
            txn.put("t", b"before", b"1")
            txn.put("t", b"", b"x")
    with kv.read() as txn:
        assert txn.get("t", b"before") is None
