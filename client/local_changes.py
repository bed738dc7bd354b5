"""This mount's own changes: journaled, and shown at once.

Every change the mount makes is appended to its write journal (`client/journal.py`),
which the flusher (`client/flusher.py`) sends to the server in batches. Until the
server has applied a change, its paths are *pending* (`HeadMetadata.pend`): the
pending state wins over anything cached or fetched, so the mount reads its own
writes at once. With `sync_writes` every change waits until the server has it.

A change to a linked file reaches its other names (`client/links.py`): each name the
mount knows shows the new state, pending under the same sequence number, and the
kernel's caches of those names are dropped before the change returns.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable, Sequence

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import CitcError
from citcfs.objects import KnownObject

from .cache import ObjectCache
from .dir_times import DirTimes
from .errno_map import to_errno
from .files import OpenFile, OpenFiles
from .flusher import Flusher
from .fuse_lib import FuseOSError
from .journal import JournalOp, Link, MakeDir, SetAttr, WriteFile
from .links import LinkNames
from .metadata import HeadMetadata

log = logging.getLogger("citcfs.client")


class LocalChanges:
    """Journals the mount's changes and makes them the mount's view of their paths."""

    def __init__(self, meta: HeadMetadata, flusher: Flusher, cache: ObjectCache,
                 links: LinkNames, files: OpenFiles, dir_times: DirTimes,
                 invalidate_kernel: Callable[[str], None], *, sync_writes: bool) -> None:
        self._meta = meta
        self._lock = meta.lock
        self._flusher = flusher
        self._cache = cache
        self._links = links
        self._files = files
        self._dir_times = dir_times
        self._invalidate_kernel = invalidate_kernel
        self._sync_writes = sync_writes

    def journal(self, op: JournalOp, states: Sequence[tuple[str, Entry | None]],
                objects: Sequence[KnownObject] = ()) -> int:
        """Append `op` to the journal and make `states` the mount's view of those paths
        until the server has applied it; its sequence number. ENOSPC while the journal
        is full."""
        extra = sum(len(data) for _, data, _ in objects)
        try:
            self._flusher.make_room(extra + 256)
        except CitcError as exc:
            raise FuseOSError(to_errno(exc)) from None
        if objects:
            self._cache.pin_many(objects)
        with self._lock:  # journal order and pending states agree
            seq = self._flusher.append(op, extra, tuple(oid for _, _, oid in objects))
            self._meta.pend(seq, states, op.path if isinstance(op, MakeDir) else None)
            linked = isinstance(op, (WriteFile, SetAttr, Link))
            others = self._spread(seq, states) if linked else []
        for other in others:
            self._invalidate_kernel(other)
        if self._sync_writes:
            self._flusher.wait_for(seq)
        return seq

    def _spread(self, seq: int, states: Sequence[tuple[str, Entry | None]]) -> list[str]:
        """A journaled change gave linked files these states: every other name of
        them the mount knows shows the same state, pending under `seq`; the names
        whose kernel caches must go."""
        changed = {path for path, _ in states}
        others: list[str] = []
        for _, state in states:
            if state is None or state.link is None:
                continue
            for other in self._links.names(state.link):
                if other in changed:
                    continue
                known, current = self._meta.peek(other)
                if known and (current is None or current.link != state.link):
                    self._links.drop(state.link, other)  # names another file now
                    continue
                if known:
                    self._meta.pend(seq, [(other, state)])
                open_file = self._files.get(other)
                if open_file is not None:
                    open_file.nlink = state.nlink
                others.append(other)
        return others

    def rehome(self, open_file: OpenFile) -> bool:
        """An open file loses its name: if it is a linked file with another name this
        mount knows (and has not open), it lives on under that name, so what is
        written through the open handle still reaches the file."""
        if open_file.link is None or open_file.nlink <= 1:
            return False
        for other in self._links.names(open_file.link):
            known, current = self._meta.peek(other)
            if (other != open_file.path and other not in self._files.open and known
                    and current is not None and current.link == open_file.link):
                open_file.path = other
                open_file.nlink -= 1
                self._files.open[other] = open_file
                return True
        return False

    def unlinked_name(self, path: str, entry: Entry) -> None:
        """Name `path` of `entry` went away (journaled already): the file's other
        names count one fewer, and its ctime moves, journaled through one of them
        (so the server keeps this mount's time, as for every other change)."""
        if entry.link is None:
            return
        self._links.drop(entry.link, path)
        if entry.nlink <= 1:
            return
        now = time.time_ns()
        state = entry.replace(nlink=entry.nlink - 1, ctime_ns=now, origin=None,
                              atime_ns=entry.st_atime_ns).compact_times()
        for other in self._links.names(entry.link):
            known, current = self._meta.peek(other)
            if known and current is not None and current.link == entry.link:
                self.journal(SetAttr(other, ctime_ns=now), [(other, state)])
                self._invalidate_kernel(other)  # the others went with the journal
                return

    def save_file(self, open_file: OpenFile) -> None:
        """Journal an open file's content and attributes, its new chunks pinned in the
        local cache until the server has them."""
        with open_file.lock:
            if not open_file.dirty or open_file.unlinked:
                return
            entry, new_objects = self._files.file_entry(open_file)
            path = open_file.path
            created = open_file.entry is None
            self.journal(WriteFile(path, entry, new=created), [(path, entry)], new_objects)
            if created and path:
                self._dir_times.touch([paths.split(path)[0]])
            open_file.entry = entry
            open_file.dirty = False
            open_file.dirty_chunks.clear()

    def save_open_files(self) -> None:
        """At unmount: journal every open file with unsaved changes (a failure is
        logged, and the others are still saved)."""
        for handle in list(self._files.handles.values()):
            if handle.file is not None and handle.file.dirty:
                try:
                    self.save_file(handle.file)
                except (CitcError, FuseOSError) as exc:
                    log.error("could not save %s at unmount: %s", handle.file.path, exc)

    def barrier(self) -> int:
        """Wait until the server has everything journaled; ESTALE if it never will
        (the workspace was deleted, and the journal dropped)."""
        self._flusher.wait_for()
        if self._flusher.gone:
            raise FuseOSError(errno.ESTALE)
        return 0
