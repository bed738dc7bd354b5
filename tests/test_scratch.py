"""Scratch copies (client/scratch.py) against a plain bytearray: any sequence of
writes, truncates and reads gives the same bytes, in memory and once spilled."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citcfs.client.scratch import Scratch, ScratchMemory
from citcfs.objects import CHUNK_SIZE

pytestmark = pytest.mark.unit

_OFFSETS = st.one_of(st.integers(0, 3 * CHUNK_SIZE),
                     st.sampled_from([0, CHUNK_SIZE - 3, CHUNK_SIZE, 2 * CHUNK_SIZE + 5]))
_OPS = st.lists(st.one_of(
    st.tuples(st.just("write"), _OFFSETS, st.integers(0, CHUNK_SIZE + 10), st.integers(0, 255)),
    st.tuples(st.just("truncate"), _OFFSETS),
), max_size=12)


def _apply(model: bytearray, scratch: Scratch, op: tuple) -> None:
    if op[0] == "write":
        _, offset, length, byte = op
        data = bytes([byte]) * length
        if length and offset > len(model):
            model.extend(bytes(offset - len(model)))
        model[offset:offset + length] = data
        assert scratch.pwrite(data, offset) == length
    else:
        _, length = op
        del model[length:]
        model.extend(bytes(length - len(model)))
        scratch.truncate(length)


@settings(max_examples=200, deadline=None)
@given(ops=_OPS, limit=st.sampled_from([0, CHUNK_SIZE, 64 << 20]))
def test_a_scratch_copy_reads_back_what_a_bytearray_would(ops: list, limit: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        _compare(directory, ops, limit)


def _compare(directory: str, ops: list, limit: int) -> None:
    memory = ScratchMemory(limit)
    scratch = Scratch(directory, memory)
    model = bytearray()
    for op in ops:
        _apply(model, scratch, op)
        assert scratch.size == len(model)
        assert memory.used <= limit
    assert scratch.pread(len(model) + 10, 0) == bytes(model)
    for offset in (0, CHUNK_SIZE - 1, CHUNK_SIZE, len(model) // 2):
        assert scratch.pread(CHUNK_SIZE + 7, offset) == bytes(model[offset:offset + CHUNK_SIZE + 7])
    scratch.close()
    assert memory.used == 0


def test_a_whole_chunk_is_kept_as_written_and_read_back_without_a_copy(tmp_path: object) -> None:
    scratch = Scratch(str(tmp_path), ScratchMemory())
    block = os.urandom(CHUNK_SIZE)
    scratch.pwrite(block, CHUNK_SIZE)
    assert scratch.pread(CHUNK_SIZE, CHUNK_SIZE) is block
    assert scratch.pread(CHUNK_SIZE, 0) == bytes(CHUNK_SIZE)
    scratch.pwrite(b"x", CHUNK_SIZE + 1)  # an edit of that chunk
    assert scratch.pread(2, CHUNK_SIZE) == block[:1] + b"x"


def test_copies_past_the_mount_budget_move_to_disk_and_give_their_memory_back(
        tmp_path: object) -> None:
    memory = ScratchMemory(3 * CHUNK_SIZE)
    first, second = Scratch(str(tmp_path), memory), Scratch(str(tmp_path), memory)
    first.pwrite(os.urandom(2 * CHUNK_SIZE), 0)
    assert (memory.used, first.spilled) == (2 * CHUNK_SIZE, False)
    data = os.urandom(2 * CHUNK_SIZE)
    second.pwrite(data, 0)
    assert second.spilled and memory.used == 2 * CHUNK_SIZE
    assert second.pread(2 * CHUNK_SIZE, 0) == data
    first.truncate(CHUNK_SIZE // 2)
    assert memory.used == CHUNK_SIZE // 2
    first.close()
    second.close()
    assert memory.used == 0
