"""A tiny binary codec: the building blocks of every canonical encoding in citcfs.

Encodings must be deterministic (equal values give equal bytes, so equal trees get
equal ids), compact, and strict on decode (trailing or missing bytes are corruption).
Integers are unsigned LEB128 varints; signed ones are zig-zag encoded; byte strings
and text carry a varint length prefix.
"""

from __future__ import annotations

from .errors import CorruptData


class Writer:
    """Accumulates an encoding."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def uint(self, value: int) -> "Writer":
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
                break
        self._parts.append(bytes(out))
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
        result = 0
        shift = 0
        data = self._data
        pos = self._pos
        while True:
            if pos >= len(data):
                raise CorruptData("truncated varint")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 70:
                raise CorruptData("varint too long")
        self._pos = pos
        return result

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
