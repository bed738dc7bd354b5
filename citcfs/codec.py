"""A tiny binary codec: the building blocks of every canonical encoding in citcfs.

Encodings must be deterministic (equal values give equal bytes, so equal trees get
equal ids), compact, and strict on decode (trailing or missing bytes are corruption).
Integers are unsigned LEB128 varints; signed ones are zig-zag encoded; byte strings
and text carry a varint length prefix.
"""

from __future__ import annotations

import re

from .errors import CorruptData


_SMALL = tuple(bytes((i,)) for i in range(0x80))


def _lane_masks(width: int, bits: int, lanes: int) -> int:
    """`lanes` copies of a `bits`-wide mask, one every `width` bits."""
    return sum(((1 << bits) - 1) << (width * i) for i in range(lanes))


# Moving 7-bit groups between a packed integer and one group per byte, in four
# steps of doubling width instead of a loop per byte (values of up to 112 bits;
# wider ones take the loop). Each step is (low mask, high mask, shift): the low
# half of every lane stays, the high half moves by `shift`.
_SPREAD = tuple((_lane_masks(2 * w, b, 128 // (2 * w)), _lane_masks(2 * w, b, 128 // (2 * w)) << w, w - b)
                for w, b in ((64, 56), (32, 28), (16, 14), (8, 7)))
_GATHER = tuple((low, high >> shift, shift) for low, high, shift in reversed(_SPREAD))
_CONTINUATION = tuple(_lane_masks(8, 1, n - 1) << 7 for n in range(17))
"""The high bit of each of the first n - 1 bytes: the varint of n bytes continues."""
_FAST_BITS = 112


def encode_uint(value: int) -> bytes:
    """The LEB128 varint of an unsigned integer (ValueError if negative)."""
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        raise ValueError(f"negative value {value} for an unsigned field")
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    bits = value.bit_length()
    if bits > _FAST_BITS:
        return _encode_uint_loop(value)
    for low, high, shift in _SPREAD:
        value = (value & low) | ((value << shift) & high)
    length = (bits + 6) // 7
    return (value | _CONTINUATION[length]).to_bytes(length, "little")


def _encode_uint_loop(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_sint(value: int) -> bytes:
    """The zig-zag varint of a signed integer."""
    return encode_uint((value << 1) if value >= 0 else ((-value << 1) - 1))


def encode_blob(data: bytes) -> bytes:
    """A length-prefixed byte string, as `Writer.blob` writes it."""
    return encode_uint(len(data)) + data


def encode_text(value: str) -> bytes:
    """A length-prefixed string, as `Writer.text` writes it."""
    return encode_blob(value.encode("utf-8", "surrogateescape"))


_VARINT = re.compile(rb"[\x80-\xff]{2,10}[\x00-\x7f]")
"""A varint of three to eleven bytes (the longest `read_uint` accepts)."""


def read_uint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`; CorruptData if malformed."""
    if pos < len(data):
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1
        if pos + 1 < len(data) and data[pos + 1] < 0x80:
            return (byte & 0x7F) | (data[pos + 1] << 7), pos + 2
        match = _VARINT.match(data, pos)
        if match is not None:
            end = match.end()
            return varint_value(data[pos:end]), end
    return _read_uint_loop(data, pos)


def varint_value(raw: bytes) -> int:
    """The value of `raw`, which is exactly one varint of at most 16 bytes."""
    if len(raw) == 1:
        return raw[0]
    if len(raw) == 2:  # modes and most sizes: two plain steps beat the mask steps
        return (raw[0] & 0x7F) | (raw[1] << 7)
    value = int.from_bytes(raw, "little")
    for low, high, shift in _GATHER:
        value = (value & low) | ((value >> shift) & high)
    return value


def unzigzag(value: int) -> int:
    """The signed integer whose zig-zag encoding is `value`."""
    return (value >> 1) if not value & 1 else -((value + 1) >> 1)


def _read_uint_loop(data: bytes, pos: int) -> tuple[int, int]:
    """`read_uint` one byte at a time: the reference, and where errors are found."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise CorruptData("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise CorruptData("varint too long")


def read_sint(data: bytes, pos: int) -> tuple[int, int]:
    value, pos = read_uint(data, pos)
    return unzigzag(value), pos


def read_raw(data: bytes, pos: int, length: int) -> tuple[bytes, int]:
    """(`length` bytes at `pos`, position after them); CorruptData if too few."""
    end = pos + length
    if end > len(data):
        raise CorruptData("truncated field")
    return data[pos:end], end


def read_blob(data: bytes, pos: int) -> tuple[bytes, int]:
    length, pos = read_uint(data, pos)
    end = pos + length
    if end > len(data):
        raise CorruptData("truncated field")
    return data[pos:end], end


class Writer:
    """Accumulates an encoding."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def uint(self, value: int) -> "Writer":
        self._parts.append(encode_uint(value))
        return self

    def sint(self, value: int) -> "Writer":
        return self.uint((value << 1) if value >= 0 else ((-value << 1) - 1))

    def raw(self, data: bytes) -> "Writer":
        self._parts.append(data)
        return self

    def blob(self, data: bytes) -> "Writer":
        self.uint(len(data))
        self._parts.append(data)
        return self

    def text(self, value: str) -> "Writer":
        return self.blob(value.encode("utf-8", "surrogateescape"))

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Consumes an encoding; every malformed input raises CorruptData."""

    __slots__ = ("_data", "_pos")

    def __init__(self, data: bytes | memoryview) -> None:
        self._data = bytes(data)
        self._pos = 0

    def uint(self) -> int:
        value, self._pos = read_uint(self._data, self._pos)
        return value

    def sint(self) -> int:
        value = self.uint()
        return (value >> 1) if not value & 1 else -((value + 1) >> 1)

    def raw(self, length: int) -> bytes:
        end = self._pos + length
        if end > len(self._data):
            raise CorruptData("truncated field")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def blob(self) -> bytes:
        return self.raw(self.uint())

    def text(self) -> str:
        return self.blob().decode("utf-8", "surrogateescape")

    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def finish(self) -> None:
        """Raise unless every byte was consumed."""
        if self._pos != len(self._data):
            raise CorruptData(f"{len(self._data) - self._pos} trailing bytes")
