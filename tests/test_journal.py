"""The write journal without a mount: coalescing (pure) and the journal files."""

from __future__ import annotations

import os
from pathlib import Path

from citcfs.client.journal import (Journal, MakeDir, MakeNode, Remove, Rename, SetAttr, Symlink,
                                   WriteFile, coalesce, decode_record, encode_record,
                                   read_frames)
from citcfs.entries import Entry, EntryKind

F = Entry.file(b"data", mode=0o644)


def test_create_chmod_chown_utime_is_one_entry() -> None:
    ops = [WriteFile("a", F, new=True), SetAttr("a", mode=0o600), SetAttr("a", uid=7, gid=8),
           SetAttr("a", mtime_ns=123)]
    assert coalesce(ops) == [WriteFile("a", F.replace(mode=0o600, uid=7, gid=8, mtime_ns=123),
                                       new=True)]


def test_create_then_unlink_is_nothing() -> None:
    assert coalesce([WriteFile("a", F, new=True), SetAttr("a", mode=0o600), Remove("a", False)]) == []
    d = Entry.directory()
    assert coalesce([MakeDir("d", d), WriteFile("d/f", F, new=True), Remove("d/f", False),
                     Remove("d", True)]) == []


def test_rewrite_of_an_existing_file_then_unlink_is_the_unlink() -> None:
    assert coalesce([WriteFile("a", F), Remove("a", False)]) == [Remove("a", False)]


def test_a_later_write_replaces_an_earlier_one_and_keeps_new() -> None:
    g = Entry.file(b"other")
    assert coalesce([WriteFile("a", F, new=True), WriteFile("a", g)]) == [WriteFile("a", g, new=True)]


def test_renames_keep_their_order_and_end_what_is_known() -> None:
    ops = [WriteFile("a.tmp", F, new=True), Rename("a.tmp", "a"), SetAttr("a", mode=0o600),
           WriteFile("a.tmp", F, new=True), Remove("a.tmp", False)]
    assert coalesce(ops) == [WriteFile("a.tmp", F, new=True), Rename("a.tmp", "a"),
                             SetAttr("a", mode=0o600)]
    # A rename into a directory made in the batch: the directory is not dropped with
    # the later rmdir, as the moved file's removal must find it.
    d = Entry.directory()
    ops = [MakeDir("p", d), Rename("x", "p/x"), Remove("p/x", False), Remove("p", True)]
    assert coalesce(ops) == ops


def test_symlink_takes_owner_and_time_but_not_mode() -> None:
    link = Entry.symlink("target")
    assert coalesce([Symlink("l", link), SetAttr("l", uid=3)]) == [Symlink("l", link.replace(uid=3))]
    assert len(coalesce([Symlink("l", link), SetAttr("l", mode=0o700)])) == 2


def test_records_round_trip() -> None:
    for op in (WriteFile("dir/ä\udcff", F, new=True), MakeDir("d", Entry.directory(mode=0o700)),
               Symlink("l", Entry.symlink("../t", uid=1)), Remove("x", True),
               Rename("a", "b", no_replace=True), SetAttr("p", mode=0o600, mtime_ns=5)):
        assert decode_record(encode_record(42, op)) == (42, op)


def test_a_torn_tail_ends_the_journal(tmp_path: Path) -> None:
    journal = Journal.create(str(tmp_path), "srv", "ws")
    for i in range(5):
        journal.append(WriteFile(f"f{i}", F, new=True))
    journal.close()
    segment = next(p for p in tmp_path.iterdir() if p.suffix == ".jnl")
    data = segment.read_bytes()
    segment.write_bytes(data[:-3])  # the last record torn mid-write
    [(orphan, records)] = Journal.orphans(str(tmp_path), "srv", "ws")
    assert [seq for seq, _ in records] == [1, 2, 3, 4]
    assert len(list(read_frames(data))) == 6  # the header and five records
    orphan.remove()
    assert os.listdir(tmp_path) == []


def test_a_live_journal_is_no_orphan_and_segments_go_when_applied(tmp_path: Path,
                                                                  monkeypatch) -> None:
    import citcfs.client.journal as journal_module
    monkeypatch.setattr(journal_module, "SEGMENT_BYTES", 200)
    journal = Journal.create(str(tmp_path), "srv", "ws")
    assert Journal.orphans(str(tmp_path), "srv", "ws") == []  # its mount holds the lock
    seqs = [journal.append(WriteFile(f"file-{i}", F, new=True))[0] for i in range(10)]
    assert seqs == list(range(1, 11))
    segments = sorted(p for p in tmp_path.iterdir() if p.suffix == ".jnl")
    assert len(segments) > 2
    journal.acknowledged(10)
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".jnl"]) == 1  # the one in use
    assert Journal.orphans(str(tmp_path), "other-server", "ws") == []
    journal.remove()
    assert os.listdir(tmp_path) == []


def test_new_attributes_merge_and_round_trip() -> None:
    fifo = Entry.special(EntryKind.FIFO, mode=0o600)
    xattrs = ((b"user.a", b"1"),)
    merged = coalesce([MakeNode("p", fifo), SetAttr("p", ctime_ns=9, xattrs=xattrs)])
    assert merged == [MakeNode("p", fifo.replace(ctime_ns=9, xattrs=xattrs))]
    assert coalesce([MakeNode("p", fifo), Remove("p", False)]) == []
    assert coalesce([SetAttr("f", atime_ns=1, mtime_ns=2), SetAttr("f", ctime_ns=3, xattrs=())]) \
        == [SetAttr("f", mtime_ns=2, atime_ns=1, ctime_ns=3, xattrs=())]
    # What a MakeDirOp cannot carry (a ctime of its own, xattrs) stays a SetAttr.
    made = MakeDir("d", Entry.directory(mtime_ns=1))
    touched = SetAttr("d", mtime_ns=5, ctime_ns=5, atime_ns=1)
    assert coalesce([made, touched]) == [made, touched]
    assert coalesce([made, SetAttr("d", mtime_ns=5, ctime_ns=5, atime_ns=5)]) == \
        [MakeDir("d", Entry.directory(mtime_ns=5))]
    for op in (MakeNode("n", fifo.replace(xattrs=xattrs)),
               SetAttr("p", atime_ns=1, ctime_ns=2, xattrs=xattrs), SetAttr("p", xattrs=())):
        assert decode_record(encode_record(7, op)) == (7, op)
