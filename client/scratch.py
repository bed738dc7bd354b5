"""Scratch copies of files open for writing: in memory, chunk by chunk, while the
mount's budget allows; on disk past it.

Most files written through a mount are small (sources, objects, git's files), and a
temporary file per open costs system calls on a disk that may be slow. A large file
written in one pass is saved as whole 1 MiB chunks: kept as the very buffers the
kernel's writes arrived in, each chunk is hashed and stored at close without being
copied or read back. So a scratch copy holds its content as pieces, one per chunk
(`bytes` while a single write filled it, a `bytearray` once edited), and all the
scratch copies of a mount share one memory budget (`ScratchMemory`, like JuiceFS's
write buffer). A copy that would take the budget past its limit moves to an
unlinked temporary file in the mount's scratch directory, and stays there.
"""

from __future__ import annotations

import os
import tempfile
import threading

from citcfs.objects import CHUNK_SIZE

MEMORY_BUDGET = 256 << 20


class ScratchMemory:
    """The bytes that the in-memory scratch copies of one mount hold, and their limit."""

    def __init__(self, limit: int = MEMORY_BUDGET) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self, amount: int) -> bool:
        """Reserve `amount` more bytes; False (nothing reserved) past the limit."""
        with self._lock:
            if self.used + amount > self.limit:
                return False
            self.used += amount
            return True

    def give(self, amount: int) -> None:
        with self._lock:
            self.used -= amount


def _spans(offset: int, length: int) -> list[tuple[int, int, int]]:
    """The chunks that [offset, offset + length) touches: (index, start within the
    chunk, start within the range) each."""
    spans = []
    position = offset
    end = offset + length
    while position < end:
        index, start = divmod(position, CHUNK_SIZE)
        spans.append((index, start, position - offset))
        position += CHUNK_SIZE - start
    return spans


class Scratch:
    """A growable byte buffer with positional reads and writes; reading a region
    never written gives zeros."""

    def __init__(self, directory: str, memory: ScratchMemory) -> None:
        self._directory = directory
        self._memory = memory
        self._pieces: dict[int, bytes | bytearray] | None = {}
        self._held = 0
        self._file: int = -1
        self.size = 0

    @property
    def spilled(self) -> bool:
        """Whether the content moved to a file."""
        return self._pieces is None

    def _hold(self, amount: int) -> bool:
        if amount <= 0 or self._memory.take(amount):
            self._held += amount
            return True
        return False

    def _release(self, amount: int) -> None:
        self._held -= amount
        self._memory.give(amount)

    def _spill(self) -> None:
        assert self._pieces is not None
        handle, path = tempfile.mkstemp(dir=self._directory)
        os.unlink(path)
        for index, piece in self._pieces.items():
            os.pwrite(handle, piece, index * CHUNK_SIZE)
        os.ftruncate(handle, self.size)
        self._file = handle
        self._pieces = None
        self._release(self._held)

    def pwrite(self, data: bytes, offset: int) -> int:
        length = len(data)
        if not length:
            return 0  # as write(2): nothing written, the size stays
        if self._pieces is not None and not self._write_pieces(self._pieces, data, offset):
            self._spill()
        if self._pieces is None:
            os.pwrite(self._file, data, offset)
        self.size = max(self.size, offset + length)
        return length

    def _write_pieces(self, pieces: dict[int, bytes | bytearray], data: bytes,
                      offset: int) -> bool:
        """Write `data` into the in-memory pieces; False (nothing written) when the
        memory budget cannot take it."""
        spans = _spans(offset, len(data))
        growth = 0
        for index, start, at in spans:
            stop = min(CHUNK_SIZE, start + len(data) - at)
            growth += max(0, stop - len(pieces.get(index, b"")))
        if not self._hold(growth):
            return False
        view = memoryview(data)
        for index, start, at in spans:
            count = min(CHUNK_SIZE - start, len(data) - at)
            if start == 0 and count == CHUNK_SIZE:
                # A whole chunk: keep the caller's buffer itself when it is one.
                pieces[index] = data if count == len(data) and isinstance(data, bytes) \
                    else bytes(view[at:at + count])
                continue
            piece = pieces.get(index)
            if not isinstance(piece, bytearray):
                piece = pieces[index] = bytearray(piece or b"")
            if start > len(piece):
                piece.extend(bytes(start - len(piece)))
            piece[start:start + count] = view[at:at + count]
        return True

    def pread(self, size: int, offset: int) -> bytes:
        size = max(0, min(size, self.size - offset))
        if self._pieces is None:
            return os.pread(self._file, size, offset)
        spans = _spans(offset, size)
        if len(spans) == 1:
            index, start, _ = spans[0]
            piece = self._pieces.get(index, b"")
            if start == 0 and size == len(piece) and isinstance(piece, bytes):
                return piece  # a whole chunk as it was written: no copy
        parts = []
        for index, start, at in spans:
            count = min(CHUNK_SIZE - start, size - at)
            part = self._pieces.get(index, b"")[start:start + count]
            parts.append(part + bytes(count - len(part)) if len(part) < count else part)
        return b"".join(parts)

    def truncate(self, length: int) -> None:
        if self._pieces is not None:
            last = length // CHUNK_SIZE
            for index in [i for i in self._pieces if i >= last]:
                piece = self._pieces[index]
                keep = max(0, length - index * CHUNK_SIZE)
                if keep == 0:
                    del self._pieces[index]
                    self._release(len(piece))
                elif keep < len(piece):
                    self._pieces[index] = piece[:keep]
                    self._release(len(piece) - keep)
        else:
            os.ftruncate(self._file, length)
        self.size = length

    def close(self) -> None:
        if self._file >= 0:
            os.close(self._file)
            self._file = -1
        if self._pieces is not None:
            self._pieces = None
            self._release(self._held)
