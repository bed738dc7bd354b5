"""Keeping large buffers in the heap: glibc's malloc tuned for 1 MiB chunks.

A mount and a server move file content in 1 MiB chunks, each passing through a few
buffers of that size (the message received, its content, the pieces handed to the
kernel). By default glibc trims the heap such buffers were freed to, and serves some
with fresh mmap()s, so every chunk pays for its pages again in page faults: that was
a third of a mount's time while it streamed a file from the server, and streaming
ran ~25% faster once the pages stayed. Processes that serve (the server, a mount)
call this once at start; a library never should, since it changes the process.
"""

from __future__ import annotations

import ctypes

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

SETTINGS = (
    (_M_MMAP_THRESHOLD, 4 << 20),   # buffers up to 4 MiB come from the heap ...
    (_M_TRIM_THRESHOLD, 64 << 20),  # ... which keeps up to 64 MiB free, not trimmed ...
    (_M_TOP_PAD, 16 << 20),         # ... and grows 16 MiB at a time
)


def keep_large_buffers() -> bool:
    """Apply SETTINGS with mallopt(3); False where the C library has no mallopt."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)
