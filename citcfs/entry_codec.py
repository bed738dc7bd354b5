"""The canonical encodings of entries and trees (`citcfs.entries` holds the values).

Encoding of an entry (all integers are varints, see `citcfs.codec`):

    version=1 | kind | flags | mode | uid | gid | size | mtime_ns (zig-zag)
    [chunks: count, 32 bytes each]   if flags & HAS_CHUNKS
    [inline: length, bytes]          if flags & HAS_INLINE
    [target: length, bytes]          if kind == SYMLINK
    [tree: 32 bytes]                 if flags & HAS_TREE
    [origin: length, bytes]          if flags & HAS_ORIGIN
    [atime_ns (zig-zag)]             if flags & HAS_ATIME
    [ctime_ns (zig-zag)]             if flags & HAS_CTIME
    [rdev]                           if kind is CHARDEV or BLOCKDEV
    [xattrs: count, (name, value)*]  if flags & HAS_XATTRS (names sorted, unique)
    [link: 16 bytes | nlink]         if flags & HAS_LINK (a name of a hard-linked file)

The parts after `origin` came later: they are written only when they hold
something (an atime or ctime of its own, a device, extended attributes), so every
entry written before them still has the same bytes, and every tree the same id. An
entry without its own atime or ctime shows its mtime for them.

A tree is `version=1 | count | (name, entry-bytes)*` with names in strictly increasing
byte order. Decoding rejects anything a canonical encoder would not have produced.

Decoding is on the path of every lookup and listing, so it is written out flat and
caches small encodings; encoding caches by entry, since freezing a directory
re-encodes its unchanged entries.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

from .codec import (encode_sint, encode_uint, read_blob, read_raw, read_sint, read_uint,
                    unzigzag, varint_value)
from .entries import (DEVICE_KINDS, ENCODING_VERSION, LINK_ID_SIZE, Entry, EntryKind, Tree,
                      Xattrs)
from .errors import CorruptData
from .objects import ID_SIZE, ObjectId

_HAS_CHUNKS = 1
_HAS_INLINE = 2
_HAS_TREE = 4
_OPAQUE = 8
_HAS_ORIGIN = 16
_HAS_ATIME = 32
_HAS_CTIME = 64
_HAS_XATTRS = 128
_HAS_LINK = 256


def _encode(entry: Entry) -> bytes:
    """The canonical encoding of `entry` (see the module's docstring)."""
    flags = 0
    if entry.chunks:
        flags |= _HAS_CHUNKS
    if entry.inline is not None:
        flags |= _HAS_INLINE
    if entry.tree is not None:
        flags |= _HAS_TREE
    if entry.opaque:
        flags |= _OPAQUE
    if entry.origin is not None:
        flags |= _HAS_ORIGIN
    if entry.atime_ns is not None:
        flags |= _HAS_ATIME
    if entry.ctime_ns is not None:
        flags |= _HAS_CTIME
    if entry.xattrs:
        flags |= _HAS_XATTRS
    if entry.link is not None:
        flags |= _HAS_LINK
    u = encode_uint
    parts = [_VERSION_BYTE, u(entry.kind), u(flags), u(entry.mode), u(entry.uid), u(entry.gid),
             u(entry.size), encode_sint(entry.mtime_ns)]
    if entry.chunks:
        parts.append(u(len(entry.chunks)))
        parts.append(b"".join(entry.chunks))
    if entry.inline is not None:
        parts.append(u(len(entry.inline)))
        parts.append(entry.inline)
    if entry.kind == EntryKind.SYMLINK:
        raw = entry.target.encode("utf-8", "surrogateescape")
        parts.append(u(len(raw)))
        parts.append(raw)
    if entry.tree is not None:
        parts.append(entry.tree)
    if entry.origin is not None:
        raw = entry.origin.encode("utf-8", "surrogateescape")
        parts.append(u(len(raw)))
        parts.append(raw)
    if entry.atime_ns is not None:
        parts.append(encode_sint(entry.atime_ns))
    if entry.ctime_ns is not None:
        parts.append(encode_sint(entry.ctime_ns))
    if entry.kind in DEVICE_KINDS:
        parts.append(u(entry.rdev))
    if entry.xattrs:
        parts.append(u(len(entry.xattrs)))
        for name, value in entry.xattrs:
            parts += (u(len(name)), name, u(len(value)), value)
    if entry.link is not None:
        parts += (entry.link, u(entry.nlink))
    return b"".join(parts)


def decode_entry_as(cls: type[Entry], data: bytes) -> Entry:
    """The entry (of class `cls`) that `data` encodes, or CorruptData."""
    entry, pos = _read_entry(cls, data, 0)
    if pos != len(data):
        raise CorruptData(f"{len(data) - pos} trailing bytes")
    return entry


@functools.lru_cache(maxsize=1 << 16)
def encode_entry(entry: Entry) -> bytes:
    """Encodings by entry: entries are immutable, and freezing a directory re-encodes
    every unchanged entry of it, so most encodings are asked for again and again."""
    return _encode(entry)


_DECODE_CACHE_SIZE = 1 << 16
_DECODE_CACHE_MAX_BYTES = 512


@functools.lru_cache(maxsize=_DECODE_CACHE_SIZE)
def _decode_cached(data: bytes) -> Entry:
    """Decoded entries by their encoding: entries are immutable, so equal bytes can
    share one decoded value. Listing a hot directory or resolving the directories
    along a path then costs a dict probe per entry instead of a decode. Only small
    encodings are kept (at most 512 bytes each, 64k of them); errors are not cached."""
    return decode_entry_as(Entry, data)


def decode_entry(data: bytes) -> Entry:
    """`Entry.decode` of a bytes object, without the method's checks: for loops that
    decode many entries (a directory listing)."""
    if len(data) <= _DECODE_CACHE_MAX_BYTES:
        return _decode_cached(data)
    return decode_entry_as(Entry, data)


def decode_entries(values: list[bytes]) -> list[Entry]:
    """`decode_entry` of each of `values`. When every one is small enough for the
    cache, as usual, that is one map over it, without a Python call per entry."""
    if max(map(len, values), default=0) <= _DECODE_CACHE_MAX_BYTES:
        return list(map(_decode_cached, values))
    return [decode_entry(value) for value in values]


_VERSION_BYTE = encode_uint(ENCODING_VERSION)
_KINDS = {int(kind): kind for kind in EntryKind}
_ALL_FLAGS = (_HAS_CHUNKS | _HAS_INLINE | _HAS_TREE | _OPAQUE | _HAS_ORIGIN | _HAS_ATIME
              | _HAS_CTIME | _HAS_XATTRS | _HAS_LINK)


_VARINT_GROUP = rb"([\x80-\xff]{0,10}[\x00-\x7f])"
_HEADER = re.compile(rb"\x01([\x01-\x08])([\x00-\x7f])" + _VARINT_GROUP * 5)
"""The fixed fields of an entry in their usual form (version 1, a known kind and
one-byte flags, five varints): one match reads them all, where field by field is slower.
Anything else goes to `_read_header`, which reads any form and finds the errors."""


def _read_header(data: bytes, pos: int) -> tuple[EntryKind, int, int, int, int, int, int, int]:
    """(kind, flags, mode, uid, gid, size, mtime_ns, position after) of an entry."""
    version, pos = read_uint(data, pos)
    if version != ENCODING_VERSION:
        raise CorruptData("unknown entry encoding version")
    raw_kind, pos = read_uint(data, pos)
    kind = _KINDS.get(raw_kind)
    if kind is None:
        raise CorruptData(f"unknown entry kind: {raw_kind!r} is not a valid EntryKind")
    flags, pos = read_uint(data, pos)
    if flags & ~_ALL_FLAGS:
        raise CorruptData("unknown entry flags")
    mode, pos = read_uint(data, pos)
    uid, pos = read_uint(data, pos)
    gid, pos = read_uint(data, pos)
    size, pos = read_uint(data, pos)
    mtime_ns, pos = read_sint(data, pos)
    return kind, flags, mode, uid, gid, size, mtime_ns, pos


def _read_entry(cls: type[Entry], data: bytes, pos: int) -> tuple[Entry, int]:
    """Decode the entry at `pos` of `data`: (entry, position after it).

    The same format and checks as `Entry.encode` describes, written out flat because
    every lookup and listing decodes entries.
    """
    ru = read_uint
    header = _HEADER.match(data, pos)
    if header is not None:
        raw_kind, raw_flags, *numbers, raw_mtime = header.groups()
        kind, flags = _KINDS[raw_kind[0]], raw_flags[0]
        mode, uid, gid, size = map(varint_value, numbers)
        mtime_ns, pos = unzigzag(varint_value(raw_mtime)), header.end()
    else:
        kind, flags, mode, uid, gid, size, mtime_ns, pos = _read_header(data, pos)
    chunks: tuple[ObjectId, ...] = ()
    if flags & _HAS_CHUNKS:
        count, pos = ru(data, pos)
        raw, pos = read_raw(data, pos, count * ID_SIZE)
        chunks = tuple(ObjectId(raw[i:i + ID_SIZE]) for i in range(0, len(raw), ID_SIZE))
    inline = None
    if flags & _HAS_INLINE:
        inline, pos = read_blob(data, pos)
    target = ""
    if kind == EntryKind.SYMLINK:
        raw, pos = read_blob(data, pos)
        target = raw.decode("utf-8", "surrogateescape")
    tree: ObjectId | None = None
    if flags & _HAS_TREE:
        raw_tree, pos = read_raw(data, pos, ID_SIZE)
        tree = ObjectId(raw_tree)
    origin = None
    if flags & _HAS_ORIGIN:
        raw, pos = read_blob(data, pos)
        origin = raw.decode("utf-8", "surrogateescape")
    atime_ns = ctime_ns = None
    rdev = 0
    xattrs: Xattrs = ()
    if flags & _HAS_ATIME:
        atime_ns, pos = read_sint(data, pos)
    if flags & _HAS_CTIME:
        ctime_ns, pos = read_sint(data, pos)
    if kind in DEVICE_KINDS:
        rdev, pos = ru(data, pos)
    if flags & _HAS_XATTRS:
        xattrs, pos = _read_xattrs(data, pos)
    link = None
    nlink = 1
    if flags & _HAS_LINK:
        link, pos = read_raw(data, pos, LINK_ID_SIZE)
        nlink, pos = ru(data, pos)
        if kind in (EntryKind.DIR, EntryKind.WHITEOUT) or nlink < 1:
            raise CorruptData("a directory, whiteout or name-less file with a link id")
    make = _new_entry if cls is Entry else cls
    return make(kind, mode, uid, gid, size, mtime_ns, chunks, inline, target, tree,
                bool(flags & _OPAQUE), origin, atime_ns, ctime_ns, rdev, xattrs,
                link, nlink), pos


def _read_xattrs(data: bytes, pos: int) -> tuple[Xattrs, int]:
    """The extended attributes at `pos`: at least one, sorted and unique."""
    count, pos = read_uint(data, pos)
    if not count:
        raise CorruptData("an empty list of extended attributes is not written")
    items: list[tuple[bytes, bytes]] = []
    for _ in range(count):
        name, pos = read_blob(data, pos)
        value, pos = read_blob(data, pos)
        if items and name <= items[-1][0]:
            raise CorruptData("extended attributes are not sorted")
        items.append((name, value))
    return tuple(items), pos


def _slot_setters() -> tuple[Callable[[Entry, object], None], ...]:
    """The `__set__` of each field's slot descriptor, in field order."""
    return tuple(getattr(Entry, f.name).__set__ for f in dataclasses.fields(Entry))


(_set_kind, _set_mode, _set_uid, _set_gid, _set_size, _set_mtime, _set_chunks, _set_inline,
 _set_target, _set_tree, _set_opaque, _set_origin, _set_atime, _set_ctime, _set_rdev,
 _set_xattrs, _set_link, _set_nlink) = _slot_setters()


def _new_entry(kind: EntryKind, mode: int, uid: int, gid: int, size: int, mtime_ns: int,
               chunks: tuple[ObjectId, ...], inline: bytes | None, target: str,
               tree: ObjectId | None, opaque: bool, origin: str | None,
               atime_ns: int | None, ctime_ns: int | None, rdev: int, xattrs: Xattrs,
               link: bytes | None = None, nlink: int = 1) -> Entry:
    """`Entry(...)` with every field given, for decoders: it fills the slots through
    their descriptors, about twice as fast as a frozen dataclass's `__init__` (which
    goes through `object.__setattr__` by name), and every lookup decodes an entry."""
    entry = object.__new__(Entry)
    _set_kind(entry, kind)
    _set_mode(entry, mode)
    _set_uid(entry, uid)
    _set_gid(entry, gid)
    _set_size(entry, size)
    _set_mtime(entry, mtime_ns)
    _set_chunks(entry, chunks)
    _set_inline(entry, inline)
    _set_target(entry, target)
    _set_tree(entry, tree)
    _set_opaque(entry, opaque)
    _set_origin(entry, origin)
    _set_atime(entry, atime_ns)
    _set_ctime(entry, ctime_ns)
    _set_rdev(entry, rdev)
    _set_xattrs(entry, xattrs)
    _set_link(entry, link)
    _set_nlink(entry, nlink)
    return entry


def encode_tree(tree: Tree) -> bytes:
    """The canonical encoding of `tree`."""
    u = encode_uint
    parts = [_VERSION_BYTE, u(len(tree.entries))]
    for raw_name, (_, entry) in zip(tree._names, tree.entries):
        data = encode_entry(entry)
        parts += (u(len(raw_name)), raw_name, u(len(data)), data)
    return b"".join(parts)


def decode_tree(cls: type[Tree], data: bytes) -> Tree:
    """The tree (of class `cls`) that `data` encodes, or CorruptData."""
    version, pos = read_uint(data, 0)
    if version != ENCODING_VERSION:
        raise CorruptData("unknown tree encoding version")
    count, pos = read_uint(data, pos)
    items = []
    previous = b""
    for i in range(count):
        raw_name, pos = read_blob(data, pos)
        if i and raw_name <= previous:
            raise CorruptData("tree entries are not sorted")
        previous = raw_name
        length, pos = read_uint(data, pos)
        end = pos + length
        if end > len(data):
            raise CorruptData("truncated field")
        # Decode in place: the entry must fill its blob exactly, as Entry.decode checks
        # (reading past the blob's end shows up as after != end).
        entry, after = _read_entry(Entry, data, pos)
        if after != end:
            raise CorruptData(f"{end - after} trailing bytes")
        items.append((raw_name.decode("utf-8", "surrogateescape"), entry))
        pos = end
    if pos != len(data):
        raise CorruptData(f"{len(data) - pos} trailing bytes")
    return cls(tuple(items))
