"""The open CommitStream calls: how many there may be, and ending them at shutdown.

A CommitStream holds a server thread for as long as its client keeps it open, so
their number is capped (`Limits.max_commit_streams`) like Watch streams are. At
shutdown a stream waiting for its next request is cancelled at once, while one in
the middle of a commit finishes it, answers, and then ends: a commit that started
is acknowledged, and no stream keeps the server waiting for its grace period.
"""

from __future__ import annotations

import threading

import grpc

from citcfs.errors import ResourceExhausted


class StreamSlot:
    """One open CommitStream: whether it is committing, and whether it must end."""

    __slots__ = ("_context", "_lock", "_busy", "closing")

    def __init__(self, context: grpc.ServicerContext) -> None:
        self._context = context
        self._lock = threading.Lock()
        self._busy = False
        self.closing = False

    def begin(self) -> bool:
        """Mark a commit as started; False if the stream must end instead."""
        with self._lock:
            if self.closing:
                return False
            self._busy = True
            return True

    def end(self) -> None:
        with self._lock:
            self._busy = False

    def close(self) -> None:
        """End the stream: now if it is idle, after its commit if one is running."""
        with self._lock:
            self.closing = True
            idle = not self._busy
        if idle:
            self._context.cancel()


class CommitStreams:
    """The registry of open CommitStream calls."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._open: set[StreamSlot] = set()
        self._closed = False

    def open(self, context: grpc.ServicerContext) -> StreamSlot:
        slot = StreamSlot(context)
        with self._lock:
            if self._closed:
                raise ResourceExhausted("the server is shutting down")
            if len(self._open) >= self._limit:
                raise ResourceExhausted(f"the server already serves {self._limit} CommitStream calls")
            self._open.add(slot)
        return slot

    def release(self, slot: StreamSlot) -> None:
        with self._lock:
            self._open.discard(slot)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def shutdown(self) -> None:
        """Refuse new streams and end the open ones (see the module docstring)."""
        with self._lock:
            self._closed = True
            slots = list(self._open)
        for slot in slots:
            slot.close()
