"""storage.records: log record encodings, frames and index values."""

from __future__ import annotations

import struct

import pytest
import xxhash

from citcfs.entries import Entry
from citcfs.errors import CorruptLog
from citcfs.objects import ObjectId
from citcfs.storage.index_values import BaseRevision, VersionInfo, WorkspaceState
from citcfs.storage.records import (BaseRevisionAdded, Committed, ForkPoint, OverlayWrite,
                                    WorkspaceCreated, WorkspaceDeleted, decode_record,
                                    encode_record, frame, unframe)

ROOT = ObjectId(bytes(range(32)))

RECORDS = [
    BaseRevisionAdded("main", 3, ROOT, 1_700_000_000_000_000_000, "import"),
    WorkspaceCreated("ws", "alice", "main", 3, ROOT, 42),
    Committed(7, 2, 99, (OverlayWrite("a/b", Entry.file(b"x")), OverlayWrite("c", None),
                         OverlayWrite("", Entry.directory(mode=0o700)),
                         OverlayWrite("d", Entry.whiteout()))),
    Committed(7, 3, 100, ()),
    WorkspaceDeleted(7, "ws", -1),
]


@pytest.mark.parametrize("record", RECORDS)
def test_record_round_trip(record: object) -> None:
    payload = encode_record(record)  # type: ignore[arg-type]
    assert decode_record(payload) == record
    assert unframe(frame(payload)) == payload


@pytest.mark.parametrize("record", RECORDS)
def test_record_decode_rejects_trailing_and_truncated(record: object) -> None:
    payload = encode_record(record)  # type: ignore[arg-type]
    with pytest.raises(CorruptLog):
        decode_record(payload + b"\x00")
    for cut in range(len(payload)):
        with pytest.raises(CorruptLog):
            decode_record(payload[:cut])


def test_unknown_record_type() -> None:
    with pytest.raises(CorruptLog):
        decode_record(b"\x63")


def test_frame_layout() -> None:
    payload = b"payload"
    framed = frame(payload)
    length, checksum = struct.unpack(">IQ", framed[:12])
    assert length == len(payload)
    assert checksum == xxhash.xxh3_64_intdigest(payload)
    assert framed[12:] == payload


def test_unframe_detects_every_single_byte_flip() -> None:
    framed = frame(encode_record(RECORDS[2]))
    for i in range(len(framed)):
        bad = bytearray(framed)
        bad[i] ^= 0x01
        with pytest.raises(CorruptLog):
            unframe(bytes(bad), lsn=5)


def test_unframe_detects_truncation_and_extension() -> None:
    framed = frame(b"abcdef")
    for cut in range(len(framed)):
        with pytest.raises(CorruptLog):
            unframe(framed[:cut])
    with pytest.raises(CorruptLog):
        unframe(framed + b"g")


def test_corrupt_log_names_the_lsn() -> None:
    bad = bytearray(frame(b"abc"))
    bad[-1] ^= 0xFF
    with pytest.raises(CorruptLog, match="17"):
        unframe(bytes(bad), lsn=17)


@pytest.mark.parametrize("value", [
    WorkspaceState(5, "ws", "bob", "main", 2, ROOT, 9, 1, 2),
    WorkspaceState(5, "ws", "bob", "main", 2, ROOT, 9, 1, 2, ForkPoint("src", 4, ROOT, 1, 1)),
    BaseRevision("main", 1, ROOT, 3, "msg"),
    VersionInfo(4, 10, 11, 12),
])
def test_index_values_round_trip(value: object) -> None:
    data = value.encode()  # type: ignore[attr-defined]
    assert type(value).decode(data) == value  # type: ignore[attr-defined]
    from citcfs.errors import CorruptData
    with pytest.raises(CorruptData):
        type(value).decode(data + b"\x00")  # type: ignore[attr-defined]
