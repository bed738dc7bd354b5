"""Turning a local directory into a tree of objects.

Shared by the server-side import (`citcfs.storage`) and the client-side upload
(`citcfs.client.importer`): the walk is the same, only where the objects go differs,
so it takes a `sink` that receives batches of (kind, content, id).

Walks the directory depth-first, turns each regular file into an entry (inline when
small, else 1 MiB chunks), each symlink into a link entry and each directory into a
tree object, and writes the objects in large batches. Regular files, directories and
symlinks are kept with their permission bits (the exec bit included), owners and
nanosecond mtimes; sockets, fifos and devices are skipped and counted.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass

from . import paths
from .entries import Entry, Tree
from .errors import InvalidArgument, InvalidPath
from .objects import CHUNK_SIZE, INLINE_MAX, ObjectId, ObjectKind, object_id

ObjectSink = Callable[[list[tuple[ObjectKind, bytes, ObjectId]]], object]
"""Receives a batch of new objects as (kind, content, id); must store them all."""

Progress = Callable[[int, int], None]
"""Called now and then with (files imported, bytes imported) so far."""

_BATCH_BYTES = 64 << 20
_BATCH_OBJECTS = 4096


@dataclass(frozen=True, slots=True)
class ImportStats:
    root: ObjectId
    files: int
    directories: int
    symlinks: int
    bytes: int
    skipped: int


class _Batcher:
    """Buffers objects and writes them to the store in large batches."""

    def __init__(self, sink: ObjectSink) -> None:
        self._sink = sink
        self._items: list[tuple[ObjectKind, bytes, ObjectId]] = []
        self._bytes = 0
        self._seen: set[ObjectId] = set()

    def add(self, kind: ObjectKind, content: bytes) -> ObjectId:
        oid = object_id(kind, content)
        if oid not in self._seen:
            self._seen.add(oid)
            self._items.append((kind, content, oid))
            self._bytes += len(content)
            if self._bytes >= _BATCH_BYTES or len(self._items) >= _BATCH_OBJECTS:
                self.flush()
        return oid

    def flush(self) -> None:
        if self._items:
            self._sink(self._items)
            self._items = []
            self._bytes = 0


class _Importer:
    def __init__(self, sink: ObjectSink, progress: Progress | None) -> None:
        self.objects = _Batcher(sink)
        self.progress = progress
        self.files = self.directories = self.symlinks = self.bytes = self.skipped = 0

    def file_entry(self, path: str, st: os.stat_result) -> Entry:
        common = dict(mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                      mtime_ns=st.st_mtime_ns)
        with open(path, "rb") as handle:
            if st.st_size <= INLINE_MAX:
                data = handle.read(INLINE_MAX + 1)
                if len(data) <= INLINE_MAX:
                    self.bytes += len(data)
                    return Entry.file(data, **common)  # type: ignore[arg-type]
                handle.seek(0)
            chunks = []
            size = 0
            while True:
                chunk = handle.read(CHUNK_SIZE)
                if not chunk:
                    break
                size += len(chunk)
                chunks.append(self.objects.add(ObjectKind.CHUNK, chunk))
        self.bytes += size
        if size <= INLINE_MAX:  # the file shrank while we read it
            with open(path, "rb") as handle:
                return Entry.file(handle.read(INLINE_MAX), **common)  # type: ignore[arg-type]
        return Entry.file(chunks=tuple(chunks), size=size, **common)  # type: ignore[arg-type]

    def directory(self, path: str) -> ObjectId:
        items: list[tuple[str, Entry]] = []
        with os.scandir(path) as listing:
            found = list(listing)
        for item in found:
            name = item.name
            try:
                paths.check_name(name)
            except InvalidPath:
                self.skipped += 1
                continue
            st = item.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode):
                items.append((name, self.file_entry(item.path, st)))
                self.files += 1
                if self.progress is not None and self.files % 1000 == 0:
                    self.progress(self.files, self.bytes)
            elif stat.S_ISDIR(st.st_mode):
                tree = self.directory(item.path)
                items.append((name, Entry.directory(
                    mode=stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                    mtime_ns=st.st_mtime_ns, tree=tree)))
                self.directories += 1
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(item.path)
                items.append((name, Entry.symlink(target, uid=st.st_uid, gid=st.st_gid,
                                                  mtime_ns=st.st_mtime_ns)))
                self.symlinks += 1
            else:
                self.skipped += 1
        return self.objects.add(ObjectKind.TREE, Tree.build(items).encode())


def store_directory(sink: ObjectSink, directory: str,
                    progress: Progress | None = None) -> ImportStats:
    """Send every object of `directory` to `sink`; return its root tree id and counts.

    Objects reach the sink before any tree that references them.
    """
    if not os.path.isdir(directory):
        raise InvalidArgument(f"{directory!r} is not a directory")
    importer = _Importer(sink, progress)
    root = importer.directory(directory)
    importer.objects.flush()
    if progress is not None:
        progress(importer.files, importer.bytes)
    return ImportStats(root, importer.files, importer.directories, importer.symlinks,
                       importer.bytes, importer.skipped)
