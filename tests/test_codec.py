"""citcfs.codec: varints, zig-zag, blobs; strict decoding."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from citcfs.codec import Reader, Writer
from citcfs.errors import CorruptData


@pytest.mark.parametrize("value, encoded", [
    (0, b"\x00"), (1, b"\x01"), (127, b"\x7f"), (128, b"\x80\x01"), (300, b"\xac\x02"),
])
def test_uint_known_encodings(value: int, encoded: bytes) -> None:
    assert Writer().uint(value).getvalue() == encoded
    r = Reader(encoded)
    assert r.uint() == value
    r.finish()


@pytest.mark.parametrize("value, encoded", [(0, 0), (-1, 1), (1, 2), (-2, 3), (2, 4)])
def test_sint_is_zigzag(value: int, encoded: int) -> None:
    assert Writer().sint(value).getvalue() == Writer().uint(encoded).getvalue()


def test_uint_rejects_negative() -> None:
    with pytest.raises(ValueError):
        Writer().uint(-1)


@given(st.integers(0, 2**64 - 1), st.integers(-2**63, 2**63), st.binary(max_size=300),
       st.text(max_size=50))
def test_round_trip(u: int, s: int, blob: bytes, text: str) -> None:
    data = Writer().uint(u).sint(s).blob(blob).text(text).raw(b"xyz").getvalue()
    r = Reader(data)
    assert (r.uint(), r.sint(), r.blob(), r.text(), r.raw(3)) == (u, s, blob, text, b"xyz")
    assert r.at_end()
    r.finish()


def test_truncated_varint() -> None:
    with pytest.raises(CorruptData):
        Reader(b"\x80").uint()
    with pytest.raises(CorruptData):
        Reader(b"").uint()


def test_overlong_varint() -> None:
    with pytest.raises(CorruptData):
        Reader(b"\xff" * 12 + b"\x01").uint()


def test_truncated_blob() -> None:
    data = Writer().blob(b"abcdef").getvalue()
    with pytest.raises(CorruptData):
        Reader(data[:-1]).blob()


def test_finish_rejects_trailing_bytes() -> None:
    r = Reader(Writer().uint(5).getvalue() + b"\x00")
    assert r.uint() == 5
    assert not r.at_end()
    with pytest.raises(CorruptData):
        r.finish()


def test_text_keeps_surrogate_escapes() -> None:
    text = b"caf\xe9".decode("utf-8", "surrogateescape")
    data = Writer().text(text).getvalue()
    assert data == b"\x04caf\xe9"
    assert Reader(data).text() == text
