"""Entries and trees: the values a workspace is made of, with canonical encodings.

An `Entry` describes one path: a file (its content inline or as chunk ids), a
directory (optionally naming the tree it was copied from), a symlink, or a whiteout
(the path is deleted in an overlay). A `Tree` is a sorted list of (name, Entry), and is
stored as an object whose id is the hash of its encoding, so equal trees have equal ids
and a diff can skip every identical subtree.

The binary encoding of both (and its description) is in `citcfs.entry_codec`;
`Entry.encode`/`decode` and `Tree.encode`/`decode` call it.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import functools
import operator
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import paths
from .errors import InvalidArgument
from .objects import ID_SIZE, INLINE_MAX, ObjectId, ObjectKind, object_id

ENCODING_VERSION = 1
"""The first byte of every entry and tree encoding (`citcfs.entry_codec`)."""

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
        return self.replace(
            atime_ns=None if self.atime_ns == self.mtime_ns else self.atime_ns,
            ctime_ns=None if self.ctime_ns == self.mtime_ns else self.ctime_ns)

    def xattr(self, name: bytes) -> bytes | None:
        """The value of extended attribute `name`, or None."""
        for key, value in self.xattrs:
            if key == name:
                return value
        return None

    def replace(self, **changes: object) -> "Entry":
        """This entry with `changes` (field=value) made: `dataclasses.replace` at a
        third of its cost, as the mount and the planner call it for every change."""
        new = _new_entry()
        for name, setter in _FIELD_SETTERS:
            setter(new, changes.pop(name) if name in changes else getattr(self, name))
        if changes:
            raise TypeError(f"Entry has no field {next(iter(changes))!r}")
        return new

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

    # --- encoding (`citcfs.entry_codec`) ------------------------------------------

    def encode(self) -> bytes:
        return _codec.encode_entry(self)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> "Entry":
        if type(data) is not bytes:
            data = bytes(data)
        if cls is Entry:
            return _codec.decode_entry(data)
        return _codec.decode_entry_as(cls, data)


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
        return _codec.encode_tree(self)

    @classmethod
    def decode(cls, data: bytes | memoryview) -> "Tree":
        if type(data) is not bytes:
            data = bytes(data)
        return _codec.decode_tree(cls, data)

    @property
    def id(self) -> ObjectId:
        return object_id(ObjectKind.TREE, self.encode())


# Last: the codec builds Entry and Tree values, so it imports this module.
_new_entry = functools.partial(object.__new__, Entry)
_FIELD_SETTERS = tuple((f.name, getattr(Entry, f.name).__set__)
                       for f in dataclasses.fields(Entry))
"""Each field's slot setter, which a frozen dataclass's own __setattr__ refuses."""

from . import entry_codec as _codec  # noqa: E402

EMPTY_TREE = Tree()
EMPTY_TREE_ID = object_id(ObjectKind.TREE, bytes((ENCODING_VERSION, 0)))
"""The id of the empty tree, whose encoding is its version and a count of 0 (spelled
out, so that this module needs no codec call while it loads)."""
