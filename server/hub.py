"""The invalidation hub: fan each durable commit out to the Watch streams that care.

`Database` calls `InvalidationHub.published(ws, version)` after every durable commit
(from the thread that committed, so it must be quick: it only updates a dict and
notifies a condition per interested watcher). Each `Watcher` keeps *the newest
version per workspace not yet sent*, nothing more, so however many commits land
while a stream is busy sending, the next message carries just the newest version:
coalescing falls out of the data structure, and memory per watcher is bounded by the
number of workspaces it watches. Watchers hold no LMDB transaction.

Concurrency: one lock guards the hub's registry; each watcher has its own condition.
A watcher is closed when its RPC ends (client gone, keepalive timeout, cancel) or
the hub shuts down, which wakes its thread so the server thread is returned.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from citcfs.errors import ResourceExhausted


@dataclass(frozen=True, slots=True)
class Event:
    workspace: str
    version: int
    deleted: bool = False


class Watcher:
    """One Watch stream's pending state."""

    def __init__(self, known: dict[str, int],
                 on_sent: Callable[[int], None] | None = None) -> None:
        self._on_sent = on_sent  # told how many events each `wait` hands out (metrics)
        self._cond = threading.Condition()
        self._sent = dict(known)           # newest version sent (or known) per workspace
        self._pending: dict[str, Event] = {}
        self._closed = False
        self.workspaces = frozenset(known)

    def offer(self, workspace: str, version: int, deleted: bool = False) -> None:
        """Note a newer version (or deletion); drops anything not newer than sent."""
        with self._cond:
            if not deleted and version <= self._sent.get(workspace, 0):
                return
            pending = self._pending.get(workspace)
            if pending is None or deleted or version > pending.version:
                self._pending[workspace] = Event(workspace, version, deleted)
                self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def wait(self, timeout: float) -> list[Event] | None:
        """The pending events (emptied), [] after `timeout` idle, None once closed."""
        with self._cond:
            if not self._pending and not self._closed:
                self._cond.wait(timeout)
            if self._closed:
                return None
            events = list(self._pending.values())
            self._pending.clear()
            for event in events:
                self._sent[event.workspace] = event.version
        if events and self._on_sent is not None:
            self._on_sent(len(events))
        return events


class InvalidationHub:
    """Registry of open watchers by workspace."""

    def __init__(self, max_watchers: int,
                 on_sent: Callable[[int], None] | None = None) -> None:
        self._max = max_watchers
        self._on_sent = on_sent
        self._lock = threading.Lock()
        self._by_workspace: dict[str, set[Watcher]] = {}
        self._all: set[Watcher] = set()
        self._closed = False
        self.published_count = 0

    def open(self, known: dict[str, int]) -> Watcher:
        """Register a watcher of `known` (workspace -> version the client has)."""
        watcher = Watcher(known, self._on_sent)
        with self._lock:
            if self._closed:
                raise ResourceExhausted("the server is shutting down")
            if len(self._all) >= self._max:
                raise ResourceExhausted(f"the server already serves {self._max} Watch streams")
            self._all.add(watcher)
            for workspace in watcher.workspaces:
                self._by_workspace.setdefault(workspace, set()).add(watcher)
        return watcher

    def close(self, watcher: Watcher) -> None:
        """Unregister `watcher` (idempotent) and wake its thread."""
        watcher.close()
        with self._lock:
            if watcher not in self._all:
                return
            self._all.discard(watcher)
            for workspace in watcher.workspaces:
                watchers = self._by_workspace.get(workspace)
                if watchers is not None:
                    watchers.discard(watcher)
                    if not watchers:
                        del self._by_workspace[workspace]

    def published(self, workspace: str, version: int) -> None:
        """A commit made `version` of `workspace` durable (a Database listener)."""
        self.published_count += 1
        with self._lock:
            watchers = list(self._by_workspace.get(workspace, ()))
        for watcher in watchers:
            watcher.offer(workspace, version)

    def deleted(self, workspace: str) -> None:
        with self._lock:
            watchers = list(self._by_workspace.get(workspace, ()))
        for watcher in watchers:
            watcher.offer(workspace, 0, deleted=True)

    @property
    def watcher_count(self) -> int:
        with self._lock:
            return len(self._all)

    def shutdown(self) -> None:
        """Close every watcher, so their server threads return."""
        with self._lock:
            self._closed = True
            everyone = list(self._all)
        for watcher in everyone:
            watcher.close()
