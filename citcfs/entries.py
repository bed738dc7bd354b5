"""Entries and trees: the values a workspace is made of, with canonical encodings.

An `Entry` describes one path: a file (its content inline or as chunk ids), a
directory (optionally naming the tree it was copied from), a symlink, or a whiteout
(the path is deleted in an overlay). A `Tree` is a sorted list of (name, Entry), and is
stored as an object whose id is the hash of its encoding, so equal trees have equal ids
and a diff can skip every identical subtree.

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
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import functools
import operator
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from . import paths
from .codec import (Reader, encode_sint, encode_uint, read_blob, read_raw,
                    read_sint, read_uint, unzigzag, varint_value)
from .errors import CorruptData, InvalidArgument
from .objects import ID_SIZE, INLINE_MAX, ObjectId, ObjectKind, object_id

ENCODING_VERSION = 1

_HAS_CHUNKS = 1
_HAS_INLINE = 2
_HAS_TREE = 4
_OPAQUE = 8
_HAS_ORIGIN = 16
_HAS_ATIME = 32
_HAS_CTIME = 64
_HAS_XATTRS = 128
_HAS_LINK = 256

LINK_ID_SIZE = 16
"""Bytes of a link id: the name of one hard-linked file (inode) within a workspace."""

XATTR_NAME_MAX = 255
"""The longest extended attribute name, in bytes (ext4's limit)."""
XATTR_VALUE_MAX = 64 * 1024
"""The largest extended attribute value, in bytes (ext4's limit with large xattrs)."""
XATTRS_TOTAL_MAX = 64 * 1024
"""The most bytes of names and values one entry may hold."""
XATTR_NAMESPACES = ("user.", "trusted.", "security.")


class EntryKind(enum.IntEnum):
    """What a path is."""

    FILE = 1
    DIR = 2
    SYMLINK = 3
    WHITEOUT = 4
    """Deleted in an overlay: hides whatever the base has at this path."""
    FIFO = 5
    SOCKET = 6
    CHARDEV = 7
    BLOCKDEV = 8


SPECIAL_KINDS = frozenset((EntryKind.FIFO, EntryKind.SOCKET, EntryKind.CHARDEV,
                           EntryKind.BLOCKDEV))
"""Kinds whose entry is all there is: the kernel does their I/O (a FIFO, a socket)
or a driver does (a device, named by `rdev`)."""
DEVICE_KINDS = frozenset((EntryKind.CHARDEV, EntryKind.BLOCKDEV))

_TYPE_BITS = {EntryKind.FILE: stat.S_IFREG, EntryKind.DIR: stat.S_IFDIR,
              EntryKind.SYMLINK: stat.S_IFLNK, EntryKind.FIFO: stat.S_IFIFO,
              EntryKind.SOCKET: stat.S_IFSOCK, EntryKind.CHARDEV: stat.S_IFCHR,
              EntryKind.BLOCKDEV: stat.S_IFBLK}
_KIND_OF_TYPE = {bits: kind for kind, bits in _TYPE_BITS.items()}


def kind_of_mode(st_mode: int) -> EntryKind | None:
    """The kind of an `st_mode` (its type bits), or None for a type citcfs has not."""
    return _KIND_OF_TYPE.get(stat.S_IFMT(st_mode))


Xattrs = tuple[tuple[bytes, bytes], ...]
"""Extended attributes: (name, value) pairs sorted by name, names unique."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One path's metadata and content reference.

    `mode` holds permission bits only (0o7777); the file type is `kind`. A file's
    content is either `inline` (small files) or `chunks` (ids of CHUNK objects of
    `objects.CHUNK_SIZE` bytes each, the last shorter). A directory with `tree` set
    shows that tree's content; with `opaque` set and no tree it hides the base beneath
    it (it was created empty). `origin` records the path an entry was renamed from, so
    that diffs can report renames; it is dropped when an entry goes into a tree.

    `atime_ns` and `ctime_ns` are None when they equal `mtime_ns` (entries written
    before they existed, and most new ones); `st_atime_ns`/`st_ctime_ns` resolve
    that. `rdev` names the device of a CHARDEV or BLOCKDEV entry. `xattrs` are the
    extended attributes, sorted by name.

    `link` is set on every name of a hard-linked file: the id of that file within
    its workspace, shared by all its names, and `nlink` counts them. In an overlay
    the file's current content and attributes live once, in the link record of that
    id (`citcfs.links`), and a name shows them; in a tree each name carries a full
    copy, so a tree stays self-contained.
    """

    kind: EntryKind
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime_ns: int = 0
    chunks: tuple[ObjectId, ...] = ()
    inline: bytes | None = None
    target: str = ""
    tree: ObjectId | None = None
    opaque: bool = False
    origin: str | None = None
    atime_ns: int | None = None
    ctime_ns: int | None = None
    rdev: int = 0
    xattrs: Xattrs = ()
    link: bytes | None = None
    nlink: int = 1

    # --- constructors -------------------------------------------------------------

    @classmethod
    def file(cls, data: bytes = b"", *, mode: int = 0o644, uid: int = 0, gid: int = 0,
             mtime_ns: int = 0, chunks: tuple[ObjectId, ...] | None = None,
             size: int | None = None) -> "Entry":
        """A file entry: inline `data`, or the given chunk ids and size."""
        if chunks is not None:
            return cls(EntryKind.FILE, mode, uid, gid, size or 0, mtime_ns, tuple(chunks))
        if len(data) > INLINE_MAX:
            raise InvalidArgument(f"inline content is limited to {INLINE_MAX} bytes")
        return cls(EntryKind.FILE, mode, uid, gid, len(data), mtime_ns, inline=bytes(data))

    @classmethod
    def directory(cls, *, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime_ns: int = 0,
                  tree: ObjectId | None = None, opaque: bool = False) -> "Entry":
        return cls(EntryKind.DIR, mode, uid, gid, 0, mtime_ns, tree=tree, opaque=opaque)

    @classmethod
    def symlink(cls, target: str, *, uid: int = 0, gid: int = 0, mtime_ns: int = 0) -> "Entry":
        return cls(EntryKind.SYMLINK, 0o777, uid, gid, len(paths.to_bytes(target)), mtime_ns,
                   target=target)

    @classmethod
    def whiteout(cls) -> "Entry":
        return cls(EntryKind.WHITEOUT, 0)

    @classmethod
    def special(cls, kind: EntryKind, *, mode: int = 0o644, uid: int = 0, gid: int = 0,
                mtime_ns: int = 0, rdev: int = 0) -> "Entry":
        """A FIFO, socket or device node (`rdev` only for a device)."""
        return cls(kind, mode, uid, gid, 0, mtime_ns, rdev=rdev)

    # --- queries ------------------------------------------------------------------

    @property
    def is_dir(self) -> bool:
        return self.kind == EntryKind.DIR

    @property
    def is_file(self) -> bool:
        return self.kind == EntryKind.FILE

    @property
    def is_special(self) -> bool:
        return self.kind in SPECIAL_KINDS

    @property
    def st_mode(self) -> int:
        """The full st_mode (type bits and permissions) of this entry."""
        return _TYPE_BITS.get(self.kind, 0) | (self.mode & 0o7777)

    @property
    def st_atime_ns(self) -> int:
        return self.mtime_ns if self.atime_ns is None else self.atime_ns

    @property
    def st_ctime_ns(self) -> int:
        return self.mtime_ns if self.ctime_ns is None else self.ctime_ns

    def compact_times(self) -> "Entry":
        """This entry with an atime or ctime equal to its mtime left unset (as
        entries written before those fields were), so equal states encode alike."""
        if self.atime_ns is None or self.atime_ns != self.mtime_ns:
            if self.ctime_ns is None or self.ctime_ns != self.mtime_ns:
                return self
        return dataclasses.replace(
            self, atime_ns=None if self.atime_ns == self.mtime_ns else self.atime_ns,
            ctime_ns=None if self.ctime_ns == self.mtime_ns else self.ctime_ns)

    def xattr(self, name: bytes) -> bytes | None:
        """The value of extended attribute `name`, or None."""
        for key, value in self.xattrs:
            if key == name:
                return value
        return None

    def replace(self, **changes: object) -> "Entry":
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def check(self) -> None:
        """Raise InvalidArgument if the entry is not self-consistent."""
        if not 0 <= self.mode <= 0o7777:
            raise InvalidArgument(f"mode {self.mode:o} has bits outside 0o7777")
        if self.uid < 0 or self.gid < 0 or self.size < 0:
            raise InvalidArgument("uid, gid and size must not be negative")
        if self.kind == EntryKind.FILE:
            if self.inline is not None:
                if self.chunks:
                    raise InvalidArgument("a file has inline content or chunks, not both")
                if len(self.inline) != self.size:
                    raise InvalidArgument("inline content does not match the size")
                if len(self.inline) > INLINE_MAX:
                    raise InvalidArgument(f"inline content is limited to {INLINE_MAX} bytes")
            else:
                from .objects import CHUNK_SIZE
                needed = -(-self.size // CHUNK_SIZE)
                if len(self.chunks) != needed:
                    raise InvalidArgument(
                        f"a file of {self.size} bytes needs {needed} chunks, not {len(self.chunks)}")
            if self.tree is not None or self.target or self.opaque:
                raise InvalidArgument("a file has no tree, target or opaque flag")
        elif self.kind == EntryKind.DIR:
            if self.chunks or self.inline is not None or self.target or self.size:
                raise InvalidArgument("a directory has no content of its own")
        elif self.kind == EntryKind.SYMLINK:
            if not self.target:
                raise InvalidArgument("a symlink needs a target")
            if "\0" in self.target or len(paths.to_bytes(self.target)) > paths.PATH_MAX:
                raise InvalidArgument("invalid symlink target")
            if self.chunks or self.inline is not None or self.tree is not None:
                raise InvalidArgument("a symlink has only a target")
        elif self.kind in SPECIAL_KINDS:
            if self.chunks or self.inline is not None or self.target or self.size \
                    or self.tree is not None or self.opaque:
                raise InvalidArgument("a special file has no content")
        if self.rdev and self.kind not in DEVICE_KINDS:
            raise InvalidArgument("only a device node has a device number")
        if self.rdev < 0:
            raise InvalidArgument("a device number must not be negative")
        check_xattrs(self.xattrs)
        if self.link is not None:
            if len(self.link) != LINK_ID_SIZE:
                raise InvalidArgument(f"a link id is {LINK_ID_SIZE} bytes")
            if self.kind in (EntryKind.DIR, EntryKind.WHITEOUT):
                raise InvalidArgument("a directory or whiteout cannot be hard-linked")
            if self.nlink < 1:
                raise InvalidArgument("a linked file has at least one name")
        elif self.nlink != 1:
            raise InvalidArgument("only a linked file counts more than one name")
        for oid in self.chunks:
            if len(oid) != ID_SIZE:
                raise InvalidArgument("a chunk id is 32 bytes")
        if self.tree is not None and len(self.tree) != ID_SIZE:
            raise InvalidArgument("a tree id is 32 bytes")

    # --- encoding -----------------------------------------------------------------

    def encode(self) -> bytes:
        return _encode_cached(self)

    def _encode(self) -> bytes:
        flags = 0
        if self.chunks:
            flags |= _HAS_CHUNKS
        if self.inline is not None:
            flags |= _HAS_INLINE
        if self.tree is not None:
            flags |= _HAS_TREE
        if self.opaque:
            flags |= _OPAQUE
        if self.origin is not None:
            flags |= _HAS_ORIGIN
        if self.atime_ns is not None:
            flags |= _HAS_ATIME
        if self.ctime_ns is not None:
            flags |= _HAS_CTIME
        if self.xattrs:
            flags |= _HAS_XATTRS
        if self.link is not None:
            flags |= _HAS_LINK
        u = encode_uint
        parts = [_VERSION_BYTE, u(self.kind), u(flags), u(self.mode), u(self.uid), u(self.gid),
                 u(self.size), encode_sint(self.mtime_ns)]
        if self.chunks:
            parts.append(u(len(self.chunks)))
            parts.append(b"".join(self.chunks))
        if self.inline is not None:
            parts.append(u(len(self.inline)))
            parts.append(self.inline)
        if self.kind == EntryKind.SYMLINK:
            raw = self.target.encode("utf-8", "surrogateescape")
            parts.append(u(len(raw)))
            parts.append(raw)
        if self.tree is not None:
            parts.append(self.tree)
        if self.origin is not None:
            raw = self.origin.encode("utf-8", "surrogateescape")
            parts.append(u(len(raw)))
            parts.append(raw)
        if self.atime_ns is not None:
            parts.append(encode_sint(self.atime_ns))
        if self.ctime_ns is not None:
            parts.append(encode_sint(self.ctime_ns))
        if self.kind in DEVICE_KINDS:
            parts.append(u(self.rdev))
        if self.xattrs:
            parts.append(u(len(self.xattrs)))
            for name, value in self.xattrs:
                parts += (u(len(name)), name, u(len(value)), value)
        if self.link is not None:
            parts += (self.link, u(self.nlink))
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> "Entry":
        if type(data) is not bytes:
            data = bytes(data)
        if cls is Entry:
            return decode_entry(data)
        return _decode_bytes(cls, data)

    @classmethod
    def _read(cls, r: Reader) -> "Entry":
        entry, r._pos = _read_entry(cls, r._data, r._pos)
        return entry


def _decode_bytes(cls: type[Entry], data: bytes) -> Entry:
    entry, pos = _read_entry(cls, data, 0)
    if pos != len(data):
        raise CorruptData(f"{len(data) - pos} trailing bytes")
    return entry


@functools.lru_cache(maxsize=1 << 16)
def _encode_cached(entry: Entry) -> bytes:
    """Encodings by entry: entries are immutable, and freezing a directory re-encodes
    every unchanged entry of it, so most encodings are asked for again and again."""
    return entry._encode()


_DECODE_CACHE_SIZE = 1 << 16
_DECODE_CACHE_MAX_BYTES = 512


@functools.lru_cache(maxsize=_DECODE_CACHE_SIZE)
def _decode_cached(data: bytes) -> Entry:
    """Decoded entries by their encoding: entries are immutable, so equal bytes can
    share one decoded value. Listing a hot directory or resolving the directories
    along a path then costs a dict probe per entry instead of a decode. Only small
    encodings are kept (at most 512 bytes each, 64k of them); errors are not cached."""
    return _decode_bytes(Entry, data)


def decode_entry(data: bytes) -> Entry:
    """`Entry.decode` of a bytes object, without the method's checks: for loops that
    decode many entries (a directory listing)."""
    if len(data) <= _DECODE_CACHE_MAX_BYTES:
        return _decode_cached(data)
    return _decode_bytes(Entry, data)


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


def check_xattrs(xattrs: Xattrs) -> None:
    """Raise InvalidArgument unless `xattrs` are sorted, unique, in a known namespace
    and within ext4's limits."""
    previous: bytes | None = None
    total = 0
    for name, value in xattrs:
        if previous is not None and name <= previous:
            raise InvalidArgument("extended attributes are not sorted and unique")
        previous = name
        check_xattr_name(name)
        if len(value) > XATTR_VALUE_MAX:
            raise InvalidArgument(
                f"an extended attribute value is limited to {XATTR_VALUE_MAX} bytes")
        total += len(name) + len(value)
    if total > XATTRS_TOTAL_MAX:
        raise InvalidArgument(f"extended attributes are limited to {XATTRS_TOTAL_MAX} bytes a path")


def check_xattr_name(name: bytes) -> None:
    """Raise InvalidArgument unless `name` is a valid extended attribute name."""
    if not 0 < len(name) <= XATTR_NAME_MAX or b"\0" in name:
        raise InvalidArgument("an extended attribute name is 1-255 bytes without NUL")
    if not any(name.startswith(ns.encode()) and len(name) > len(ns) for ns in XATTR_NAMESPACES):
        raise InvalidArgument(
            "extended attributes are in the user., trusted. or security. namespace")


def with_xattr(xattrs: Xattrs, name: bytes, value: bytes | None) -> Xattrs:
    """`xattrs` with `name` set to `value` (removed when None), still sorted."""
    kept = {key: val for key, val in xattrs if key != name}
    if value is not None:
        kept[name] = value
    return tuple(sorted(kept.items()))


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


_LINK_OF = operator.attrgetter("link")


def _sort_key(name: str) -> bytes:
    return paths.to_bytes(name)


@dataclass(frozen=True, slots=True)
class Tree:
    """A directory's content: (name, entry) pairs sorted by name bytes.

    Entries in a tree are never whiteouts, and a directory entry in a tree always
    names its subtree, so a tree is a complete, self-contained snapshot of a
    directory.
    """

    entries: tuple[tuple[str, Entry], ...] = ()
    _names: tuple[bytes, ...] = field(init=False, repr=False, compare=False)
    _by_name: dict[str, Entry] = field(init=False, repr=False, compare=False)
    _has_links: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_names", tuple(_sort_key(n) for n, _ in self.entries))
        # Reversed, so that of equal names the first wins, as the search of _names finds.
        object.__setattr__(self, "_by_name", dict(reversed(self.entries)))
        object.__setattr__(self, "_has_links", any(map(_LINK_OF, self._by_name.values())))

    @property
    def has_links(self) -> bool:
        """Whether a name of a hard-linked file is among the entries (decided once,
        so that listing a tree need not look at each entry for it)."""
        return self._has_links

    @classmethod
    def build(cls, items: Iterable[tuple[str, Entry]]) -> "Tree":
        """A tree from unsorted items; origins are dropped, since trees hold states."""
        cleaned = [(name, entry if entry.origin is None else entry.replace(origin=None))
                   for name, entry in items]
        cleaned.sort(key=lambda item: _sort_key(item[0]))
        return cls(tuple(cleaned))

    def get(self, name: str) -> Entry | None:
        """The entry named `name`: a dict probe (every path component resolved asks
        one). Names are compared as bytes, and only an ASCII name has no other
        spelling with the same bytes, so a miss on any other name searches them."""
        found = self._by_name.get(name)
        if found is not None or name.isascii():
            return found
        key = _sort_key(name)
        i = bisect.bisect_left(self._names, key)
        if i < len(self._names) and self._names[i] == key:
            return self.entries[i][1]
        return None

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[tuple[str, Entry]]:
        return iter(self.entries)

    def check(self) -> None:
        """Raise InvalidArgument unless this is a well-formed tree."""
        previous: bytes | None = None
        for (name, entry), key in zip(self.entries, self._names):
            paths.check_name(name)
            if previous is not None and key <= previous:
                raise InvalidArgument("tree entries are not sorted and unique")
            previous = key
            entry.check()
            if entry.kind == EntryKind.WHITEOUT:
                raise InvalidArgument("a tree holds no whiteouts")
            if entry.kind == EntryKind.DIR and entry.tree is None:
                raise InvalidArgument(f"directory {name!r} in a tree names no subtree")
            if entry.origin is not None or entry.opaque:
                raise InvalidArgument("tree entries carry no origin or opaque flag")

    def encode(self) -> bytes:
        u = encode_uint
        parts = [_VERSION_BYTE, u(len(self.entries))]
        for raw_name, (_, entry) in zip(self._names, self.entries):
            data = _encode_cached(entry)
            parts += (u(len(raw_name)), raw_name, u(len(data)), data)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> "Tree":
        if type(data) is not bytes:
            data = bytes(data)
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

    @property
    def id(self) -> ObjectId:
        return object_id(ObjectKind.TREE, self.encode())


EMPTY_TREE = Tree()
EMPTY_TREE_ID = EMPTY_TREE.id
