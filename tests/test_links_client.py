"""Hard links in the client without a mount: journaling a link (pure coalescing and
the record encoding), and turning link records among changed paths into names."""

from __future__ import annotations

from citcfs.client.journal import Link, Remove, SetAttr, WriteFile, coalesce, decode_record, \
    encode_record
from citcfs.client.links import LinkNames, expand_records, inode_key, new_link_id
from citcfs.entries import LINK_ID_SIZE, Entry
from citcfs.links import record_path

F = Entry.file(b"data")
L = bytes(range(LINK_ID_SIZE))


def test_a_link_keeps_its_place_in_a_batch() -> None:
    # made, linked, then the first name removed: the file must exist when linked, and
    # the removal of its first name must stay (the second name keeps the file)
    ops = [WriteFile("a", F, new=True), Link("a", "b", L), Remove("a", False),
           SetAttr("b", mode=0o600), SetAttr("b", uid=3)]
    assert coalesce(ops) == [WriteFile("a", F, new=True), Link("a", "b", L), Remove("a", False),
                             SetAttr("b", mode=0o600, uid=3)]
    # a write after the link is not folded into the write before it
    g = Entry.file(b"other")
    ops = [WriteFile("a", F), Link("a", "b", L), WriteFile("a", g)]
    assert coalesce(ops) == ops


def test_link_records_round_trip() -> None:
    op = Link("dir/a", "other/b\udcff", L)
    assert decode_record(encode_record(7, op)) == (7, op)
    assert op.path == "other/b\udcff"


def test_changed_records_become_the_names_the_mount_showed() -> None:
    names = LinkNames()
    names.note("a", F.replace(link=L, nlink=2))
    names.note("d/b", F.replace(link=L, nlink=2))
    names.note("plain", F)  # not linked: not noted
    assert expand_records(["x", record_path(L), "plain"], names) == ["x", "a", "d/b", "plain"]
    names.drop(L, "a")
    assert names.names(L) == ["d/b"]
    names.drop(L, "d/b")
    assert expand_records([record_path(L)], names) == []


def test_link_ids_and_inode_keys() -> None:
    first, second = new_link_id(), new_link_id()
    assert len(first) == LINK_ID_SIZE and first != second
    assert inode_key(first) != inode_key(second) and inode_key(first).startswith("\0")
