"""Open files and handles of a mount, and the scratch copies that hold what is
written to them.

A file open for writing has one `OpenFile`, shared by every handle of its path: a
local scratch copy (`client/scratch.py`), filled from the server only when a write
needs the old content (never after O_TRUNC), and the attributes the file shows
until it is saved. `LocalChanges.save_file` journals its entry at flush and at the
last release; `file_entry` builds that entry, reusing the chunks a write did not
touch. A handle opened for reading only keeps the entry it was opened with.

Locking: `lock` (the mount's metadata lock) guards the tables of paths and
handles; each open file has a lock of its own for its scratch copy and attributes.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.objects import CHUNK_SIZE, INLINE_MAX, KnownObject, ObjectId, ObjectKind, object_id

from . import permissions
from .chunks import ChunkReader
from .fuse_lib import fuse_get_context
from .metadata import HeadMetadata
from .scratch import Scratch, ScratchMemory
from .views import View

_SETID = stat.S_ISUID | stat.S_ISGID


class OpenFile:
    """A file open for writing: a scratch copy shared by every handle of that path."""

    def __init__(self, path: str, entry: Entry | None, *, mode: int, uid: int, gid: int) -> None:
        self.path = path
        self.entry = entry
        self.mode = entry.mode if entry is not None else mode
        self.uid = entry.uid if entry is not None else uid
        self.gid = entry.gid if entry is not None else gid
        now = time.time_ns()
        self.mtime_ns = entry.mtime_ns if entry is not None else now
        self.atime_ns = entry.st_atime_ns if entry is not None else now
        self.ctime_ns = entry.st_ctime_ns if entry is not None else now
        self.xattrs = entry.xattrs if entry is not None else ()
        self.link = entry.link if entry is not None else None
        self.nlink = entry.nlink if entry is not None else 1
        self.size = entry.size if entry is not None else 0
        self.scratch: Scratch | None = None
        self.dirty = entry is None
        self.dirty_chunks: set[int] = set()
        self.refs = 0
        self.unlinked = False
        self.lock = threading.RLock()

    def attrs(self) -> Entry:
        mtime = self.mtime_ns
        return Entry(EntryKind.FILE, self.mode, self.uid, self.gid, self.size, mtime,
                     atime_ns=None if self.atime_ns == mtime else self.atime_ns,
                     ctime_ns=None if self.ctime_ns == mtime else self.ctime_ns,
                     xattrs=self.xattrs, link=self.link, nlink=self.nlink)

    def modified(self) -> None:
        """The content changed now: mtime and ctime move."""
        self.mtime_ns = self.ctime_ns = time.time_ns()


@dataclass(slots=True)
class Handle:
    view: View
    entry: Entry
    file: OpenFile | None
    # Where the previous read ended: a read starting there is sequential (and so is
    # a first read from the start of the file, as most reads of a file go on).
    last_end: int = 0
    # The content of a generated file (.citc/status), fixed when it was opened.
    content: bytes | None = None


def _scratch_dir(cache_dir: str) -> str:
    """A scratch directory of this process inside the cache directory.

    Scratch files spill there when large. A mount killed with SIGKILL cannot remove
    its directory, so directories named for processes that no longer run are
    removed here first.
    """
    for name in os.listdir(cache_dir):
        if name.startswith("scratch-"):
            pid = name.split("-")[1]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                shutil.rmtree(os.path.join(cache_dir, name), ignore_errors=True)
    return tempfile.mkdtemp(prefix=f"scratch-{os.getpid()}-", dir=cache_dir)


class OpenFiles:
    """The mount's open files by head path (`open`) and its handles by number
    (`handles`), with the reads and writes of their content."""

    def __init__(self, meta: HeadMetadata, chunks: ChunkReader, cache_dir: str) -> None:
        self._meta = meta
        self._lock = meta.lock
        self._chunks = chunks
        self.open: dict[str, OpenFile] = {}
        self.handles: dict[int, Handle] = {}
        self._next_handle = 1
        self.scratch_dir = _scratch_dir(cache_dir)
        self.scratch_memory = ScratchMemory()

    def get(self, path: str) -> OpenFile | None:
        """The open file at head path `path`, if any. Read without the lock (one dict
        lookup is atomic): asked on every operation, it must not wait behind the
        flusher's bookkeeping, and a caller that acts on the answer takes the lock."""
        return self.open.get(path)

    def below(self, directory: str) -> list[tuple[str, OpenFile]]:
        """The open files directly in `directory`, by name (a readdir shows them)."""
        with self._lock:
            return [(paths.split(path)[1], open_file) for path, open_file in self.open.items()
                    if path and paths.split(path)[0] == directory]

    def any_below(self, directory: str) -> bool:
        """Whether a file created in `directory` is open and not yet journaled."""
        with self._lock:
            return any(paths.split(p)[0] == directory for p in self.open if p)

    def new_handle(self, handle: Handle) -> int:
        with self._lock:
            fh = self._next_handle
            self._next_handle += 1
            self.handles[fh] = handle
            if handle.file is not None:
                handle.file.refs += 1
        return fh

    def pop_handle(self, fh: int) -> Handle | None:
        """Take handle `fh` out of the table (at release)."""
        with self._lock:
            return self.handles.pop(fh, None)

    def unref(self, open_file: OpenFile) -> bool:
        """A handle of `open_file` went away: whether it was the last."""
        with self._lock:
            open_file.refs -= 1
            return open_file.refs == 0

    def is_generated(self, fh: int) -> bool:
        """Whether `fh` reads a generated file, which the kernel must not cache."""
        handle = self.handles.get(fh)
        return handle is not None and handle.content is not None

    def open_file(self, path: str, entry: Entry | None, mode: int = 0o644,
                  owner: tuple[int, int] | None = None) -> OpenFile:
        """The open file of `path`, made (owned by `owner`, else the caller) if none."""
        with self._lock:
            open_file = self.open.get(path)
            if open_file is None:
                if owner is None:
                    uid, gid, _ = fuse_get_context()
                else:
                    uid, gid = owner
                open_file = OpenFile(path, entry, mode=mode, uid=uid, gid=gid)
                self.open[path] = open_file
                if path:
                    self._meta.changed_listing(paths.split(path)[0])
            return open_file

    def scratch(self, open_file: OpenFile) -> Scratch:
        """The file's scratch copy, filled with its committed content on first need."""
        if open_file.scratch is None:
            scratch = Scratch(self.scratch_dir, self.scratch_memory)
            entry = open_file.entry
            if entry is not None and entry.size:
                if entry.inline is not None:
                    scratch.pwrite(entry.inline, 0)
                else:
                    for index in range(len(entry.chunks)):
                        scratch.pwrite(self._chunks.chunk(entry, index), index * CHUNK_SIZE)
            scratch.truncate(open_file.size)
            open_file.scratch = scratch
        return open_file.scratch

    def truncate(self, open_file: OpenFile, length: int) -> None:
        """Cut or extend the file's content to `length`. Call with `open_file.lock`."""
        if length == 0 and open_file.scratch is None:
            open_file.scratch = Scratch(self.scratch_dir, self.scratch_memory)
            open_file.dirty_chunks.clear()
        else:
            scratch = self.scratch(open_file)
            scratch.truncate(length)
            low, high = sorted((length, open_file.size))
            open_file.dirty_chunks.update(range(low // CHUNK_SIZE, high // CHUNK_SIZE + 1))
        open_file.size = length
        open_file.dirty = True
        open_file.modified()

    def kill_privileges(self, open_file: OpenFile) -> None:
        """A write or truncate by the caller: setuid and setgid go as Linux drops them.
        The kernel drops setuid and setgid-with-group-exec itself (a chmod); setgid
        without group-exec for a caller outside the group, and an `O_TRUNC` open,
        are left to the filesystem. Call with `open_file.lock` held."""
        if permissions.needs_caller(open_file.mode):
            caller = permissions.caller_from_proc(*fuse_get_context())
            mode = permissions.mode_after_write(open_file.mode, open_file.gid, caller)
            if mode != open_file.mode:
                open_file.mode = mode
                open_file.dirty = True

    def read(self, handle: Handle, size: int, offset: int) -> bytes:
        """Read through a handle: a generated file's content, an open file's scratch
        copy once it has one, else the chunks of the entry."""
        if handle.content is not None:
            return handle.content[offset:offset + size]
        open_file = handle.file
        if open_file is not None:
            with open_file.lock:
                if open_file.scratch is not None or open_file.dirty:
                    return self.scratch(open_file).pread(size, offset)
                entry = open_file.entry or handle.entry
        else:
            entry = handle.entry
        sequential = offset == handle.last_end
        handle.last_end = offset + size
        return self._chunks.read(entry, size, offset, sequential)

    def write(self, open_file: OpenFile, data: bytes, offset: int) -> int:
        """Write to the file's scratch copy, noting the chunks that changed. Writing
        no bytes changes nothing, as write(2) (the kernel does not send such writes)."""
        if not data:
            return 0
        with open_file.lock:
            written = self.scratch(open_file).pwrite(data, offset)
            end = offset + written
            first, last = offset // CHUNK_SIZE, max(offset, end - 1) // CHUNK_SIZE
            open_file.dirty_chunks.update(range(first, last + 1))
            if offset > open_file.size:
                open_file.dirty_chunks.update(range(open_file.size // CHUNK_SIZE, first))
            open_file.size = max(open_file.size, end)
            open_file.dirty = True
            open_file.modified()
            if open_file.mode & _SETID:
                self.kill_privileges(open_file)
        return written

    def file_entry(self, open_file: OpenFile) -> tuple[Entry, list[KnownObject]]:
        """The entry for an open file's current content and the chunks it needs."""
        size = open_file.size
        common = dict(mode=open_file.mode, uid=open_file.uid, gid=open_file.gid,
                      mtime_ns=open_file.mtime_ns)
        extra = dict(atime_ns=open_file.atime_ns, ctime_ns=open_file.ctime_ns,
                     xattrs=open_file.xattrs, link=open_file.link, nlink=open_file.nlink)
        if size <= INLINE_MAX:
            data = b""
            if size:
                data = self.scratch(open_file).pread(size, 0)
            entry = Entry.file(data, **common).replace(**extra)  # type: ignore[arg-type]
            return entry.compact_times(), []
        old = open_file.entry
        old_chunks = old.chunks if old is not None and old.inline is None else ()
        old_size = old.size if old is not None else 0
        chunks: list[ObjectId] = []
        new_objects: list[KnownObject] = []
        count = -(-size // CHUNK_SIZE)
        for index in range(count):
            length = min(CHUNK_SIZE, size - index * CHUNK_SIZE)
            old_length = min(CHUNK_SIZE, old_size - index * CHUNK_SIZE)
            if (index < len(old_chunks) and index not in open_file.dirty_chunks
                    and length == old_length):
                chunks.append(old_chunks[index])
                continue
            data = self.scratch(open_file).pread(length, index * CHUNK_SIZE)
            oid = object_id(ObjectKind.CHUNK, data)
            chunks.append(oid)
            new_objects.append((ObjectKind.CHUNK, data, oid))
            self._chunks.keep([(oid, data)])
        entry = Entry.file(chunks=tuple(chunks), size=size, **common)  # type: ignore[arg-type]
        return entry.replace(**extra).compact_times(), new_objects

    def close(self, open_file: OpenFile) -> None:
        """Forget a file no handle has open any more, unless it still holds unsaved data."""
        with self._lock:
            if open_file.refs or (open_file.dirty and not open_file.unlinked):
                return
            if self.open.get(open_file.path) is open_file:
                del self.open[open_file.path]
                if open_file.path:
                    self._meta.changed_listing(paths.split(open_file.path)[0])
        if open_file.scratch is not None:
            open_file.scratch.close()
            open_file.scratch = None

    def remove_scratch(self) -> None:
        """Remove the scratch directory (at unmount)."""
        shutil.rmtree(self.scratch_dir, ignore_errors=True)
