"""What a mount knows of its workspace's head: cached entries and listings, and the
journaled changes the server has not applied yet (pending paths).

Three layers answer a path, first match wins:

1. *pending*: the state a journaled change gave a path, until the server applies it
   (`applied`). It is never dropped by an invalidation, so a mount reads its own
   writes at once, and a fetch from the server cannot undo them.
2. the cached entries and directory listings, filled from the server and updated by
   the mount's own changes (`remember`), dropped by invalidation (`forget`);
3. the server, through the `fetch` callables the caller passes.

A directory made by a pending change lists only its pending children: the server
does not know it yet. A listing fetched from the server is merged with the pending
children of its directory before it is kept.

Locking: `lock` guards every table and is never held across `fetch`; a fill that
started before an invalidation (`generation` moved) is not kept, so a slow answer
never brings back a stale entry. The mount's own tables (open files, handles) share
the same lock.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from citcfs import paths
from citcfs.entries import Entry


class HeadMetadata:
    """Entries and listings of the head of one workspace; see the module docstring."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.generation = 0
        self.entries: dict[str, Entry | None] = {}
        self.listings: dict[str, dict[str, Entry]] = {}
        # Built readdir answers by directory; dropped whenever its listing changes.
        self.readdir_cache: dict[str, list[tuple[str, dict[str, int], int]]] = {}
        # path -> (state, seq of the last journaled change of it); the same by parent
        # and name; directories made by a pending change; (seq, path) in journal order.
        self._pending: dict[str, tuple[Entry | None, int]] = {}
        self._pending_children: dict[str, dict[str, Entry | None]] = {}
        self._new_dirs: dict[str, int] = {}
        self._order: deque[tuple[int, str]] = deque()
        # Counted under `lock` for the mount's metrics (hits are lookups - misses).
        self.entry_lookups = self.entry_misses = 0
        self.listing_lookups = self.listing_misses = 0

    # --- answering --------------------------------------------------------------------

    def entry(self, path: str, fetch: Callable[[str], Entry | None]) -> Entry | None:
        """The entry of `path`, or None where it does not exist."""
        with self.lock:
            self.entry_lookups += 1
            pending = self._pending.get(path)
            if pending is not None:
                return pending[0]
            if path in self.entries:
                return self.entries[path]
            if path:
                parent, name = paths.split(path)
                listing = self.listings.get(parent)
                if listing is not None:
                    return listing.get(name)
                if parent in self._new_dirs:
                    return None  # made here: only pending children
            generation = self.generation
            self.entry_misses += 1
        found = fetch(path)
        with self.lock:
            pending = self._pending.get(path)
            if pending is not None:
                return pending[0]  # changed here while the answer was on its way
            if generation == self.generation:
                # Kept unless a change of this mount set it meanwhile: the answer
                # may predate that change.
                found = self.entries.setdefault(path, found)
        return found

    def listing(self, path: str,
                fetch: Callable[[str], Iterable[tuple[str, Entry]]]) -> dict[str, Entry]:
        """The children of directory `path` by name."""
        with self.lock:
            self.listing_lookups += 1
            listing = self.listings.get(path)
            if listing is not None:
                return listing
            self.listing_misses += 1
            generation = self.generation
            made_here = path in self._new_dirs
            # The server may apply these while the fetch runs, and the answer may
            # predate that: they are merged in even if no longer pending then.
            pending_before = dict(self._pending_children.get(path, {}))
        items = {} if made_here else dict(fetch(path))
        with self.lock:
            pending = {**pending_before, **self._pending_children.get(path, {})}
            for name, state in pending.items():
                if state is None:
                    items.pop(name, None)
                else:
                    items[name] = state
            if generation == self.generation:
                self.listings[path] = items
                if path:  # the root's entry is kept: it has no parent listing to answer it
                    self.entries.pop(path, None)
        return items

    def peek(self, path: str) -> tuple[bool, Entry | None]:
        """(known, entry): what the mount knows of `path` without asking the server."""
        with self.lock:
            pending = self._pending.get(path)
            if pending is not None:
                return True, pending[0]
            if path in self.entries:
                return True, self.entries[path]
            if path:
                parent, name = paths.split(path)
                listing = self.listings.get(parent)
                if listing is not None:
                    return True, listing.get(name)
            return False, None

    def is_pending(self, path: str, *, dirs: bool = True) -> bool:
        """Whether a journaled change of `path` waits for the server (with `dirs`
        False, not counting a directory whose change was to its attributes or times:
        every name added to or removed from it changes those)."""
        with self.lock:
            found = self._pending.get(path)
            if found is None:
                return False
            return dirs or found[0] is None or not found[0].is_dir

    def cached_readdir(self, path: str) -> tuple[Any, int]:
        """A built readdir answer of `path` (or None), and the generation to store one."""
        with self.lock:
            return self.readdir_cache.get(path), self.generation

    def keep_readdir(self, path: str, generation: int, result: Any) -> None:
        with self.lock:
            if generation == self.generation:
                self.readdir_cache[path] = result

    # --- the mount's own changes ---------------------------------------------------------

    def pend(self, seq: int, states: Sequence[tuple[str, Entry | None]],
             made_dir: str | None = None) -> None:
        """Journaled change `seq` gave these paths these states (`made_dir`: the
        directory it made, which the server does not know yet)."""
        with self.lock:
            for path, state in states:
                self._pending[path] = (state, seq)
                self._order.append((seq, path))
                if path:
                    parent, name = paths.split(path)
                    self._pending_children.setdefault(parent, {})[name] = state
                if path == made_dir:
                    self._new_dirs[path] = seq
                    self.listings[path] = {}
                elif state is None or not state.is_dir:
                    # Replaced or removed. A directory made here whose attributes
                    # changed is still unknown to the server until its MakeDir lands.
                    self._new_dirs.pop(path, None)
                self.remember(path, state)

    def applied(self, last_seq: int) -> None:
        """The server applied every journaled change up to `last_seq`."""
        with self.lock:
            while self._order and self._order[0][0] <= last_seq:
                seq, path = self._order.popleft()
                if self._new_dirs.get(path) == seq:
                    del self._new_dirs[path]  # the server has the directory now
                found = self._pending.get(path)
                if found is None or found[1] != seq:
                    continue  # a later change set it again
                del self._pending[path]
                if path:
                    parent, name = paths.split(path)
                    children = self._pending_children.get(parent)
                    if children is not None:
                        children.pop(name, None)
                        if not children:
                            del self._pending_children[parent]

    def remember(self, path: str, entry: Entry | None) -> None:
        """Record a change of `path` in the cached entries and its parent's listing."""
        with self.lock:
            self.entries[path] = entry
            self.readdir_cache.pop(path, None)
            if path:
                parent, name = paths.split(path)
                self.readdir_cache.pop(parent, None)
                listing = self.listings.get(parent)
                if listing is not None:
                    if entry is None:
                        listing.pop(name, None)
                    else:
                        listing[name] = entry

    def changed_listing(self, directory: str) -> None:
        """The readdir answer of `directory` must be built again."""
        with self.lock:
            self.readdir_cache.pop(directory, None)

    # --- invalidation -----------------------------------------------------------------

    def forget(self, path: str) -> None:
        """Drop `path`, everything below it and its parent's listing from the caches
        (pending states stay)."""
        with self.lock:
            self.generation += 1
            prefix = path + "/"
            for table in (self.entries, self.listings, self.readdir_cache):
                for key in [k for k in table if k == path or k.startswith(prefix) or not path]:
                    del table[key]
            if path:
                parent = paths.split(path)[0]
                self.listings.pop(parent, None)
                self.entries.pop(parent, None)
                self.readdir_cache.pop(parent, None)

    def removed_dir(self, path: str) -> None:
        """Directory `path` was removed: drop its listing. It was empty, so below it
        the caches hold at most removals, which stay true."""
        with self.lock:
            self.listings.pop(path, None)
            self.readdir_cache.pop(path, None)
