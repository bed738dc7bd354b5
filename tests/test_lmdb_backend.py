"""storage.lmdb_backend: the KV tables on real LMDB files (the object store's
contract is tests/test_object_contract.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from citcfs.storage.lmdb_backend import LmdbKVStore


@pytest.fixture
def kv(tmp_path: Path) -> Iterator[LmdbKVStore]:
    store = LmdbKVStore(str(tmp_path / "kv"), ["t", "u"], sync=False)
    with store.write() as txn:
        for i in range(10):
            txn.put("t", b"k%d" % i, b"v%d" % i)
        txn.put("u", b"k0", b"other")
    try:
        yield store
    finally:
        store.close()


def keys_of(items: Iterator[tuple[bytes, bytes]]) -> list[bytes]:
    return [k for k, _ in items]


def test_get_put_delete_and_tables_are_separate(kv: LmdbKVStore) -> None:
    with kv.read() as txn:
        assert txn.get("t", b"k0") == b"v0"
        assert txn.get("u", b"k0") == b"other"
        assert txn.get("t", b"nope") is None
    with kv.write() as txn:
        assert txn.delete("t", b"k0")
        assert not txn.delete("t", b"k0")
    with kv.read() as txn:
        assert txn.get("t", b"k0") is None
        assert txn.get("u", b"k0") == b"other"


def test_range_forward(kv: LmdbKVStore) -> None:
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"k3", b"k6")) == [b"k3", b"k4", b"k5"]
        assert keys_of(txn.range("t", b"k8")) == [b"k8", b"k9"]
        assert keys_of(txn.range("t", b"k35", b"k5")) == [b"k4"]
        assert keys_of(txn.range("t", b"z")) == []
        assert keys_of(txn.range("t", b"k5", b"k5")) == []
        assert len(list(txn.range("t", b""))) == 10


def test_scan_is_range_as_a_list(kv: LmdbKVStore) -> None:
    with kv.read() as txn:
        for start, end in ((b"k3", b"k6"), (b"k35", b"k5"), (b"", b"z"), (b"k5", b"k5"),
                           (b"z", b"zz"), (b"k9", b"k9\0")):
            assert txn.scan("t", start, end) == list(txn.range("t", start, end))
        assert txn.scan("t", b"k3", b"k4") == [(b"k3", b"v3")]


def test_range_reverse(kv: LmdbKVStore) -> None:
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"k3", b"k6", reverse=True)) == [b"k5", b"k4", b"k3"]
        assert keys_of(txn.range("t", b"k8", reverse=True)) == [b"k9", b"k8"]
        # end past every key, and end between keys
        assert keys_of(txn.range("t", b"k7", b"z", reverse=True)) == [b"k9", b"k8", b"k7"]
        assert keys_of(txn.range("t", b"k2", b"k35", reverse=True)) == [b"k3", b"k2"]
        assert keys_of(txn.range("t", b"a", b"k0", reverse=True)) == []
        assert keys_of(txn.range("t", b"z", reverse=True)) == []
        assert keys_of(txn.range("t", b"", reverse=True))[:2] == [b"k9", b"k8"]


def test_range_on_empty_table(tmp_path: Path) -> None:
    store = LmdbKVStore(str(tmp_path / "e"), ["t"], sync=False)
    try:
        with store.read() as txn:
            assert list(txn.range("t", b"")) == []
            assert list(txn.range("t", b"", reverse=True)) == []
            assert txn.last("t") is None
            assert txn.first_at_or_after("t", b"") is None
    finally:
        store.close()


def test_first_at_or_after_and_last(kv: LmdbKVStore) -> None:
    with kv.read() as txn:
        assert txn.first_at_or_after("t", b"k35") == (b"k4", b"v4")
        assert txn.first_at_or_after("t", b"k4") == (b"k4", b"v4")
        assert txn.first_at_or_after("t", b"l") is None
        assert txn.last("t") == (b"k9", b"v9")


def test_delete_range_and_clear(kv: LmdbKVStore) -> None:
    with kv.write() as txn:
        assert txn.delete_range("t", b"k2", b"k5") == 3
        assert txn.delete_range("t", b"x", b"y") == 0
    with kv.read() as txn:
        assert keys_of(txn.range("t", b"")) == [b"k0", b"k1", b"k5", b"k6", b"k7", b"k8", b"k9"]
    with kv.write() as txn:
        assert txn.delete_range("t", b"k8", b"z") == 2  # up to the end of the table
        txn.clear("t")
    with kv.read() as txn:
        assert list(txn.range("t", b"")) == []
        assert txn.get("u", b"k0") == b"other"


def test_write_rolls_back_on_error(kv: LmdbKVStore) -> None:
    with pytest.raises(RuntimeError):
        with kv.write() as txn:
            txn.put("t", b"new", b"1")
            raise RuntimeError("boom")
    with kv.read() as txn:
        assert txn.get("t", b"new") is None


def test_nested_txn_rollback_and_commit(kv: LmdbKVStore) -> None:
    with kv.write() as txn:
        txn.put("t", b"outer", b"1")
        with pytest.raises(ValueError):
            with txn.nested() as child:
                child.put("t", b"inner-bad", b"x")
                child.delete("t", b"k0")
                raise ValueError("roll back the child only")
        with txn.nested() as child:
            child.put("t", b"inner-good", b"y")
            assert child.get("t", b"outer") == b"1"
        assert txn.get("t", b"inner-good") == b"y"
    with kv.read() as txn:
        assert txn.get("t", b"outer") == b"1"
        assert txn.get("t", b"inner-good") == b"y"
        assert txn.get("t", b"inner-bad") is None
        assert txn.get("t", b"k0") == b"v0"


def test_reader_sees_a_snapshot(kv: LmdbKVStore) -> None:
    with kv.read() as reader:
        with kv.write() as txn:
            txn.put("t", b"k0", b"changed")
        assert reader.get("t", b"k0") == b"v0"
    with kv.read() as reader:
        assert reader.get("t", b"k0") == b"changed"


def test_data_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "kv2")
    store = LmdbKVStore(path, ["t"], sync=True)
    with store.write() as txn:
        txn.put("t", b"a", b"b")
    store.close()
    store = LmdbKVStore(path, ["t"], sync=True)
    try:
        with store.read() as txn:
            assert txn.get("t", b"a") == b"b"
    finally:
        store.close()
