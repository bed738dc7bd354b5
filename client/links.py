"""Hard links in a mount: which names of each linked file the mount has shown, and
the kernel invalidations a change of one name needs for the others.

The server keeps a linked file's state once (see `citcfs.links`); a mount caches
entries by path, and libfuse's high-level API gives every name its own kernel
inode. So when one name changes (a write through it here, or another client's
change, which `Changes` reports as the file's link record), the mount gives the
other names it knows the same state, and drops the kernel's cached attributes and
pages of those names. The kernel can only hold names the mount has shown it, so
the names noted when stat'ed or listed are all there is to update.

`KernelNotifier` sends those invalidations from a thread of its own:
`fuse_invalidate_path` must not be called from a thread serving a FUSE request.
The request that changed the file waits (briefly) until they are done, so a
`stat` of another name right after a `close` sees the new size.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable

from citcfs.entries import LINK_ID_SIZE, Entry
from citcfs.links import is_record_path, link_of_record

log = logging.getLogger("citcfs.client")

NOTIFY_WAIT_S = 0.5
"""How long a change waits for the kernel invalidations of the other names."""


def new_link_id() -> bytes:
    """An id for a file getting its second name: random, so that mounts need not
    agree on anything to make one."""
    return os.urandom(LINK_ID_SIZE)


def inode_key(link: bytes) -> str:
    """The key numbering a linked file's inode (one for all its names): a string no
    workspace path can be (paths never start with NUL)."""
    return "\0link:" + link.hex()


class LinkNames:
    """Head paths the mount has shown, by the link id of the file they name."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[bytes, set[str]] = {}

    def note(self, path: str, entry: Entry) -> None:
        """`path` was shown naming `entry`."""
        if entry.link is None:
            return
        with self._lock:
            self._names.setdefault(entry.link, set()).add(path)

    def names(self, link: bytes) -> list[str]:
        """Every path noted for `link` (some may name another file by now: callers
        check)."""
        with self._lock:
            return sorted(self._names.get(link, ()))

    def drop(self, link: bytes, path: str) -> None:
        with self._lock:
            found = self._names.get(link)
            if found is not None:
                found.discard(path)
                if not found:
                    del self._names[link]


class KernelNotifier:
    """A thread that runs kernel invalidations for FUSE request threads."""

    def __init__(self, invalidate: Callable[[str], None]) -> None:
        self._invalidate = invalidate
        self._queue: queue.Queue[tuple[list[str], threading.Event] | None] = queue.Queue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="citc-link-notify", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def invalidate(self, names: Iterable[str], wait_s: float = NOTIFY_WAIT_S) -> None:
        """Drop the kernel's caches of `names`, waiting up to `wait_s` for it."""
        todo = list(names)
        if not todo or self._thread is None:
            return
        done = threading.Event()
        self._queue.put((todo, done))
        done.wait(wait_s)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            todo, done = item
            for path in todo:
                try:
                    self._invalidate(path)
                except Exception:  # noqa: BLE001 - a failed notification costs freshness only
                    log.exception("could not invalidate %r in the kernel", path)
            done.set()


def expand_records(changed: Iterable[str], names: LinkNames) -> list[str]:
    """Changed paths as `Changes` reports them, with each link record (a linked file
    another client changed) replaced by the names of that file the mount knows."""
    out: list[str] = []
    for path in changed:
        if is_record_path(path):
            out.extend(names.names(link_of_record(path)))
        else:
            out.append(path)
    return out
