"""Hard links in a mount: which names of each linked file the mount has shown, and
the kernel invalidations a change of one name needs for the others.

The server keeps a linked file's state once (see `citcfs.links`); a mount caches
entries by path, and libfuse's high-level API gives every name its own kernel
inode. So when one name changes (a write through it here, or another client's
change, which `Changes` reports as the file's link record), the mount gives the
other names it knows the same state, and drops the kernel's cached attributes and
pages of those names. The kernel can only hold names the mount has shown it, so
the names noted when stat'ed or listed are all there is to update.

The request that changed the file drops those caches itself before it returns
(`fuse_invalidate_path`), so a `stat` of another name right after a `close` or a
`link` sees the new size or link count. This is safe from a request's own thread:
it invalidates an inode (its attributes and pages), which the kernel does without
taking any lock a request holds: at most it waits for a read of that other name
in flight, which another thread of the daemon answers. Only an entry invalidation
(`notify_inval_entry`, which mounts never send) could deadlock. Handing
it to a thread of its own, as mounts once did, cost a `git commit` a sixth of its
time: git links and unlinks each object it writes.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from citcfs.entries import LINK_ID_SIZE, Entry
from citcfs.links import is_record_path, link_of_record


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
