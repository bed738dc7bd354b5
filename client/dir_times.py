"""The times of directories in a mount: a name added, removed or renamed moves its
directory's mtime and ctime, as POSIX asks.

The mount shows the new times at once (a pending state in `HeadMetadata`); the
journal gets one change of a directory's times per batch (`journal_pending`, which
the flusher calls as it cuts a batch), not one per name, so an `rm -rf` or a `tar`
costs one journal record per file. A crash of the mount before the batch is cut
loses at most those times, never the change of the name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from citcfs.entries import Entry

from .flusher import Flusher
from .fuse_lib import FuseOSError
from .journal import SetAttr
from .metadata import HeadMetadata

DIR_TIMES_GRAIN_NS = 1_000_000
"""A directory's mtime and ctime move at most once a millisecond (ext4 and tmpfs
stamp from a clock of 1-10 ms ticks)."""


class DirTimes:
    """Moves directory times in the mount's view and journals them once a batch.

    `head_entry` is the mount's entry of a head path (raising where there is none);
    everything here happens under the metadata lock (`meta.lock`).
    """

    def __init__(self, meta: HeadMetadata, flusher: Flusher,
                 head_entry: Callable[[str], Entry]) -> None:
        self._meta = meta
        self._lock = meta.lock
        self._flusher = flusher
        self._head_entry = head_entry
        # Directories whose times moved since the last batch was cut: their changes.
        self._dirty: dict[str, dict[str, int]] = {}

    def touch(self, directories: Sequence[str], *, journal: bool = True) -> None:
        """Names were added to, removed from or renamed in `directories`: their
        mtime and ctime move to now. `journal=False`: the view only (as when a file
        is created but not yet journaled). Directory times have a grain of
        `DIR_TIMES_GRAIN_NS`, as ext4 and tmpfs stamp from a clock that ticks every
        few milliseconds: a directory touched less than that ago keeps its times, so
        a burst of names in one directory does not build a new entry for each."""
        now = time.time_ns()
        for directory in dict.fromkeys(directories):
            try:
                current = self._head_entry(directory)
            except FuseOSError:
                continue  # removed meanwhile
            if not current.is_dir:
                continue
            if current.ctime_ns is None and 0 <= now - current.mtime_ns < DIR_TIMES_GRAIN_NS:
                with self._lock:
                    dirty = self._dirty.get(directory)
                    if not journal or (dirty is not None and dirty["mtime_ns"] == current.mtime_ns):
                        continue  # touched within the grain, and these times journaled
            changes = {"mtime_ns": now, "ctime_ns": now, "atime_ns": current.st_atime_ns}
            touched = current.replace(**changes).compact_times()
            with self._lock:
                # Pending until the batch that carries it: the state the view shows.
                self._meta.pend(self._flusher.last_seq, [(directory, touched)])
                if journal:
                    self._dirty[directory] = changes

    def journal_pending(self) -> None:
        """Journal the latest times of each directory touched since the last batch."""
        with self._lock:
            dirty, self._dirty = self._dirty, {}
            for directory, changes in dirty.items():
                known, state = self._meta.peek(directory)
                if known and (state is None or not state.is_dir):
                    continue  # removed or replaced since: its times went with it
                seq = self._flusher.append(SetAttr(directory, mtime_ns=changes["mtime_ns"],
                                                   atime_ns=changes["atime_ns"],
                                                   ctime_ns=changes["ctime_ns"]))
                if state is not None:
                    self._meta.pend(seq, [(directory, state)])
