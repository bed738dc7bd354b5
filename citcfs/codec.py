"""A tiny binary codec: the building blocks of every canonical encoding in citcfs.

Encodings must be deterministic (equal values give equal bytes, so equal trees get
equal ids), compact, and strict on decode (trailing or missing bytes are corruption).
Integers are unsigned LEB128 varints; signed ones are zig-zag encoded; byte strings
and text carry a varint length prefix.
"""

from __future__ import annotations

from .errors import CorruptData


_SMALL = tuple(bytes((i,)) for i in range(0x80))


def encode_uint(value: int) -> bytes:
    """The LEB128 varint of an unsigned integer (ValueError if negative)."""
    if 0 <= value < 0x80:
        return _SMALL[value]
    if value < 0:
        raise ValueError(f"negative value {value} for an unsigned field")
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


def read_uint(data: bytes, pos: int) -> tuple[int, int]:
    """(value, position after it) of the varint at `pos`; CorruptData if malformed."""
    if pos < len(data):
        byte = data[pos]
        if byte < 0x80:
            return byte, pos + 1
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
    return ((value >> 1) if not value & 1 else -((value + 1) >> 1)), pos


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
