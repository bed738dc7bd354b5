"""Scratch copies of files open for writing: in memory while small, on disk when large.

Most files written through a mount are small (sources, objects, git's files), and a
temporary file per open costs system calls on a disk that may be slow. A scratch
copy therefore starts as a bytearray and moves to an unlinked temporary file in the
mount's scratch directory once it passes SPILL_BYTES.
"""

from __future__ import annotations

import os
import tempfile

SPILL_BYTES = 8 << 20


class Scratch:
    """A growable byte buffer with positional reads and writes."""

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._memory: bytearray | None = bytearray()
        self._file: int = -1
        self.size = 0

    def _spill(self) -> None:
        assert self._memory is not None
        handle, path = tempfile.mkstemp(dir=self._directory)
        os.unlink(path)
        os.pwrite(handle, self._memory, 0)
        self._file = handle
        self._memory = None

    def pwrite(self, data: bytes, offset: int) -> int:
        end = offset + len(data)
        if self._memory is not None and end > SPILL_BYTES:
            self._spill()
        if self._memory is not None:
            if offset > len(self._memory):
                self._memory.extend(bytes(offset - len(self._memory)))
            self._memory[offset:end] = data
        else:
            os.pwrite(self._file, data, offset)
        self.size = max(self.size, end)
        return len(data)

    def pread(self, size: int, offset: int) -> bytes:
        size = max(0, min(size, self.size - offset))
        if self._memory is not None:
            return bytes(self._memory[offset:offset + size])
        return os.pread(self._file, size, offset)

    def truncate(self, length: int) -> None:
        if self._memory is not None:
            if length > SPILL_BYTES:
                self._spill()
            elif length <= len(self._memory):
                del self._memory[length:]
            else:
                self._memory.extend(bytes(length - len(self._memory)))
        if self._file >= 0:
            os.ftruncate(self._file, length)
        self.size = length

    def close(self) -> None:
        if self._file >= 0:
            os.close(self._file)
            self._file = -1
        self._memory = None
