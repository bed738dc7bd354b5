"""citcfs.entries and citcfs.objects: canonical encodings, ids and check()."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from citcfs.entries import EMPTY_TREE_ID, Entry, EntryKind, Tree
from citcfs.entry_codec import decode_entries
from citcfs.errors import CorruptData, CorruptObject, InvalidArgument
from citcfs.objects import (CHUNK_SIZE, INLINE_MAX, ObjectId, ObjectKind, check_id, object_id,
                            split_chunks, verify)

OID = ObjectId(b"\x01" * 32)
OID2 = ObjectId(b"\x02" * 32)

SAMPLES = [
    Entry.file(b""),
    Entry.file(b"hello", mode=0o755, uid=1000, gid=100, mtime_ns=1_700_000_000_123_456_789),
    Entry.file(chunks=(OID, OID2), size=CHUNK_SIZE + 1),
    Entry.directory(),
    Entry.directory(tree=OID, mode=0o700),
    Entry.directory(opaque=True),
    Entry.symlink("../target", mtime_ns=-5),
    Entry.whiteout(),
    Entry.file(b"x").replace(origin="old/place"),
]


@pytest.mark.parametrize("entry", SAMPLES)
def test_entry_round_trip(entry: Entry) -> None:
    data = entry.encode()
    assert Entry.decode(data) == entry
    assert Entry.decode(data).encode() == data


@pytest.mark.parametrize("entry", SAMPLES)
def test_entry_decode_rejects_trailing_and_truncated(entry: Entry) -> None:
    data = entry.encode()
    with pytest.raises(CorruptData):
        Entry.decode(data + b"\x00")
    for cut in range(len(data)):
        with pytest.raises(CorruptData):
            Entry.decode(data[:cut])


def test_entry_decode_rejects_unknown_version_kind_flags() -> None:
    good = bytearray(Entry.file(b"a").encode())
    for index, value in ((0, 2), (1, 9), (2, 0x40)):
        bad = bytearray(good)
        bad[index] = value
        with pytest.raises(CorruptData):
            Entry.decode(bytes(bad))


_entries = st.one_of(
    st.builds(lambda data, mode, mtime: Entry.file(data, mode=mode, mtime_ns=mtime),
              st.binary(max_size=64), st.integers(0, 0o7777), st.integers(-2**62, 2**62)),
    st.builds(lambda mode, opaque: Entry.directory(mode=mode, opaque=opaque),
              st.integers(0, 0o7777), st.booleans()),
    st.builds(lambda target: Entry.symlink(target), st.text(min_size=1, max_size=30)),
)


@given(_entries)
def test_entry_round_trip_property(entry: Entry) -> None:
    assert Entry.decode(entry.encode()) == entry


def test_equal_entries_have_equal_bytes_and_unequal_differ() -> None:
    a = Entry.file(b"same", mode=0o644, mtime_ns=7)
    b = Entry.file(b"same", mode=0o644, mtime_ns=7)
    assert a.encode() == b.encode()
    assert a.encode() != a.replace(mode=0o755).encode()
    assert a.encode() != a.replace(mtime_ns=8).encode()


def test_tree_build_sorts_by_bytes_and_ids_are_canonical() -> None:
    items = [("b", Entry.file(b"2")), ("a", Entry.file(b"1")), ("B", Entry.file(b"3")),
             ("\udce9", Entry.file(b"4")), ("é", Entry.file(b"5"))]
    t1 = Tree.build(items)
    t2 = Tree.build(reversed(items))
    assert [n for n, _ in t1] == ["B", "a", "b", "é", "\udce9"]  # c3 a9 < e9
    assert t1 == t2
    assert t1.encode() == t2.encode()
    assert t1.id == t2.id
    assert Tree.decode(t1.encode()) == t1
    assert Tree.build(items[:-1]).id != t1.id
    assert t1.get("a") == Entry.file(b"1")
    assert t1.get("zz") is None
    assert len(t1) == 5


def test_tree_build_drops_origins() -> None:
    moved = Tree.build([("a", Entry.file(b"1").replace(origin="x"))])
    assert moved == Tree.build([("a", Entry.file(b"1"))])


def test_tree_id_depends_on_kind_tag() -> None:
    data = Tree().encode()
    assert EMPTY_TREE_ID == object_id(ObjectKind.TREE, data)
    assert object_id(ObjectKind.CHUNK, data) != EMPTY_TREE_ID


def test_tree_decode_rejects_unsorted_duplicate_and_trailing() -> None:
    from citcfs.codec import Writer
    e = Entry.file(b"x").encode()
    unsorted = Writer().uint(1).uint(2).text("b").blob(e).text("a").blob(e).getvalue()
    dup = Writer().uint(1).uint(2).text("a").blob(e).text("a").blob(e).getvalue()
    for bad in (unsorted, dup, Tree.build([("a", Entry.file(b"x"))]).encode() + b"\0",
                Writer().uint(2).uint(0).getvalue(), Writer().uint(1).uint(1).getvalue()):
        with pytest.raises(CorruptData):
            Tree.decode(bad)


@pytest.mark.parametrize("entry", [
    Entry(EntryKind.FILE, mode=0o10000),
    Entry(EntryKind.FILE, uid=-1, inline=b""),
    Entry(EntryKind.FILE, size=3, inline=b"ab"),
    Entry(EntryKind.FILE, size=1, inline=b"a", chunks=(OID,)),
    Entry(EntryKind.FILE, size=CHUNK_SIZE + 1, chunks=(OID,)),
    Entry(EntryKind.FILE, size=0, inline=b"", tree=OID),
    Entry(EntryKind.FILE, size=1, chunks=(ObjectId(b"short"),)),
    Entry(EntryKind.FILE, size=INLINE_MAX + 1, inline=b"x" * (INLINE_MAX + 1)),
    Entry(EntryKind.DIR, size=1),
    Entry(EntryKind.DIR, inline=b""),
    Entry(EntryKind.DIR, tree=ObjectId(b"short")),
    Entry(EntryKind.SYMLINK, target=""),
    Entry(EntryKind.SYMLINK, target="a\0b"),
    Entry(EntryKind.SYMLINK, target="x" * 4097),
    Entry(EntryKind.SYMLINK, target="t", chunks=(OID,)),
])
def test_entry_check_rejects(entry: Entry) -> None:
    with pytest.raises(InvalidArgument):
        entry.check()


@pytest.mark.parametrize("entry", SAMPLES)
def test_entry_check_accepts_samples(entry: Entry) -> None:
    entry.check()


def test_file_constructor_limits_inline() -> None:
    Entry.file(b"x" * INLINE_MAX).check()
    with pytest.raises(InvalidArgument):
        Entry.file(b"x" * (INLINE_MAX + 1))


@pytest.mark.parametrize("items", [
    [("a", Entry.whiteout())],
    [("a", Entry.directory())],  # a directory in a tree must name its subtree
    [("a", Entry.directory(tree=OID, opaque=True))],
    [("a", Entry(EntryKind.FILE, inline=b"", origin="x"))],
    [("a/b", Entry.file(b""))],
    [("..", Entry.file(b""))],
])
def test_tree_check_rejects(items: list[tuple[str, Entry]]) -> None:
    with pytest.raises(InvalidArgument):
        Tree(tuple(items)).check()


def test_tree_check_rejects_unsorted() -> None:
    with pytest.raises(InvalidArgument):
        Tree((("b", Entry.file(b"")), ("a", Entry.file(b"")))).check()
    Tree.build([("b", Entry.file(b"")), ("a", Entry.directory(tree=OID))]).check()


def test_st_mode() -> None:
    import stat
    assert Entry.file(b"", mode=0o755).st_mode == stat.S_IFREG | 0o755
    assert Entry.directory().st_mode == stat.S_IFDIR | 0o755
    assert Entry.symlink("x").st_mode == stat.S_IFLNK | 0o777


def test_object_ids_and_verify() -> None:
    oid = object_id(ObjectKind.CHUNK, b"data")
    assert len(oid) == 32
    verify(ObjectKind.CHUNK, oid, b"data")
    with pytest.raises(CorruptObject):
        verify(ObjectKind.CHUNK, oid, b"date")
    with pytest.raises(CorruptObject):
        verify(ObjectKind.TREE, oid, b"data")
    assert check_id(oid) == oid
    for bad in (b"x" * 31, "x" * 32, None):
        with pytest.raises(InvalidArgument):
            check_id(bad)  # type: ignore[arg-type]


def test_split_chunks() -> None:
    assert split_chunks(b"") == []
    data = bytes(range(256)) * (CHUNK_SIZE // 256) + b"tail"
    pieces = split_chunks(data)
    assert [len(p) for p in pieces] == [CHUNK_SIZE, 4]
    assert b"".join(pieces) == data


def test_decode_entries_decodes_small_and_large_entries_alike():
    small = [Entry.file(b"x" * n, mtime_ns=n) for n in range(3)]
    large = Entry.file(b"y" * 2000)
    for entries in (small, small + [large], []):
        assert decode_entries([entry.encode() for entry in entries]) == entries


def test_tree_get_matches_names_by_their_bytes():
    accented = "\u00e9t\u00e9"
    escaped = accented.encode().decode("ascii", "surrogateescape")  # same bytes, other text
    tree = Tree.build([(accented, Entry.file(b"1")), ("b", Entry.file(b"2"))])
    assert tree.get(accented) == tree.get(escaped) == Entry.file(b"1")
    assert tree.get("b") == Entry.file(b"2")
    assert tree.get("\u00e9") is None and tree.get("c") is None


# --- times, special files and extended attributes ---------------------------------------------


def test_trees_written_before_the_new_fields_keep_their_ids() -> None:
    tree = Tree.build([
        ("a", Entry.file(b"hello", mode=0o755, uid=1000, gid=100,
                         mtime_ns=1_700_000_000_123_456_789)),
        ("d", Entry.directory(tree=OID, mode=0o700, mtime_ns=5)),
        ("l", Entry.symlink("../t", mtime_ns=-5))])
    # The id the encoding gave before atime, ctime, rdev and xattrs existed.
    assert tree.id.hex() == "0b054e02b8a9aec3825e02b6f7fa6cbffb470439631915a60930ab13c917f7fb"


NEW_SAMPLES = [
    Entry.file(b"x", mtime_ns=10).replace(atime_ns=5, ctime_ns=20),
    Entry.file(b"x", mtime_ns=10).replace(ctime_ns=-3),
    Entry.file(b"x").replace(xattrs=((b"security.capability", b"\x01\x00"), (b"user.a", b""))),
    Entry.directory(opaque=True).replace(xattrs=((b"trusted.t", b"v" * 300),), atime_ns=1),
    Entry.special(EntryKind.FIFO, mode=0o600, uid=5),
    Entry.special(EntryKind.SOCKET, mode=0o755),
    Entry.special(EntryKind.CHARDEV, mode=0o666, rdev=(1 << 8) | 3),
    Entry.special(EntryKind.BLOCKDEV, rdev=(8 << 8) | 1, mtime_ns=9).replace(ctime_ns=10),
    Entry.special(EntryKind.CHARDEV),  # rdev 0 is still written for a device
]


@pytest.mark.parametrize("entry", NEW_SAMPLES)
def test_new_fields_round_trip_and_check(entry: Entry) -> None:
    entry.check()
    data = entry.encode()
    assert Entry.decode(data) == entry
    with pytest.raises(CorruptData):
        Entry.decode(data + b"\x00")
    for cut in range(len(data)):
        with pytest.raises(CorruptData):
            Entry.decode(data[:cut])
    assert Tree.decode(Tree.build([("n", entry)]).encode()) == Tree.build([("n", entry)])


def test_times_default_to_mtime_and_compact_away() -> None:
    entry = Entry.file(b"", mtime_ns=7)
    assert (entry.st_atime_ns, entry.st_ctime_ns) == (7, 7)
    same = entry.replace(atime_ns=7, ctime_ns=7).compact_times()
    assert same == entry and same.encode() == entry.encode()
    moved = entry.replace(atime_ns=7, ctime_ns=8).compact_times()
    assert (moved.atime_ns, moved.ctime_ns, moved.st_ctime_ns) == (None, 8, 8)


@pytest.mark.parametrize("entry", [
    Entry.special(EntryKind.FIFO).replace(rdev=3),
    Entry.special(EntryKind.FIFO).replace(size=1),
    Entry.file(b"").replace(rdev=1),
    Entry.file(b"").replace(xattrs=((b"user.b", b""), (b"user.a", b""))),
    Entry.file(b"").replace(xattrs=((b"user.a", b""), (b"user.a", b"x"))),
    Entry.file(b"").replace(xattrs=((b"other.a", b""),)),
    Entry.file(b"").replace(xattrs=((b"user.", b""),)),
    Entry.file(b"").replace(xattrs=((b"user." + b"n" * 251, b""),)),
    Entry.file(b"").replace(xattrs=((b"user.a", b"v" * (64 * 1024 + 1)),)),
    Entry.file(b"").replace(xattrs=((b"user.a", b"v" * 40000), (b"user.b", b"v" * 40000))),
])
def test_check_rejects_bad_new_fields(entry: Entry) -> None:
    with pytest.raises(InvalidArgument):
        entry.check()


def test_decode_rejects_unsorted_or_empty_xattrs() -> None:
    good = Entry.file(b"").replace(xattrs=((b"user.a", b"1"), (b"user.b", b"2"))).encode()
    swapped = good.replace(b"user.a", b"user.c")
    with pytest.raises(CorruptData):
        Entry.decode(swapped)
    empty = Entry.file(b"").replace(xattrs=((b"user.a", b"1"),)).encode()
    with pytest.raises(CorruptData):
        Entry.decode(empty[:-len(b"\x01\x06user.a\x011")] + b"\x00")


def test_special_st_modes() -> None:
    import stat as st_
    assert st_.S_ISFIFO(Entry.special(EntryKind.FIFO).st_mode)
    assert st_.S_ISSOCK(Entry.special(EntryKind.SOCKET).st_mode)
    assert st_.S_ISCHR(Entry.special(EntryKind.CHARDEV).st_mode)
    assert st_.S_ISBLK(Entry.special(EntryKind.BLOCKDEV).st_mode)
