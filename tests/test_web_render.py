"""The web view's pure parts: the ref grammar of its URLs, highlighting, diff hunks."""

from __future__ import annotations

import pytest

from citcfs.entries import Entry
from citcfs.errors import InvalidArgument
from citcfs.objects import ObjectId
from citcfs.server.web import refs, render
from citcfs.server.web.highlight import highlight_lines
from citcfs.storage.diff import Change, DiffEntry
from citcfs.storage.index_values import WorkspaceState
from citcfs.storage.results import BaseRef, WorkspaceRef

STATE = WorkspaceState(id=7, name="demo", owner="alice", base="main", base_rev=3,
                       root=ObjectId(bytes(32)), version=9, created_ns=0, updated_ns=0)


@pytest.mark.parametrize("text,ref", [
    (None, WorkspaceRef("demo")), ("head", WorkspaceRef("demo")),
    ("12", WorkspaceRef("demo", 12)), ("v1", WorkspaceRef("demo", None, "v1")),
    ("base", BaseRef("main", 3)), ("base@1", BaseRef("main", 1)),
    ("fork", WorkspaceRef("demo", fork=True))])
def test_refs_of_the_page_workspace(text: str | None, ref: object) -> None:
    at = refs.parse("demo", text)
    assert at.ref(STATE) == ref
    assert refs.parse("demo", at.text("demo")) == at  # URLs round-trip


def test_refs_of_another_workspace_and_bad_ones() -> None:
    at = refs.parse("demo", "other@v2")
    assert (at.workspace, at.label, at.text("demo")) == ("other", "v2", "other@v2")
    assert refs.parse("demo", None, default="base").kind == "base"
    for bad in ("demo@@", "base@x", "../x@1", "a b"):
        with pytest.raises(InvalidArgument):
            refs.parse("demo", bad)


def test_highlight_keeps_one_html_line_per_line() -> None:
    text = 'x = """first\nsecond"""\nprint(x)\n'
    lines = highlight_lines("a.py", text)
    assert len(lines) == 4 and lines[-1] == ""
    assert lines[1].startswith('<span class="s2">second')  # still inside the string
    assert highlight_lines("a.py", "a\r\nb<") == ["a\r", "b&lt;"]  # plain, not shifted
    assert highlight_lines("no-such-kind.zzz", "<b>") == ["&lt;b&gt;"]


def _entry(old: bytes | None, new: bytes | None, path: str = "f.txt") -> DiffEntry:
    change = Change.ADDED if old is None else Change.DELETED if new is None else Change.MODIFIED
    return DiffEntry(path, change, None if old is None else Entry.file(old),
                     None if new is None else Entry.file(new))


def _read(entry: Entry) -> bytes:
    assert entry.inline is not None
    return entry.inline


def test_file_diff_hunks_unified_and_side_by_side() -> None:
    old = b"".join(f"{i}\n".encode() for i in range(1, 21))
    new = old.replace(b"10\n", b"ten\n").replace(b"20\n", b"")
    diff = render.file_diff(_entry(old, new), _read)
    assert [h.header for h in diff.hunks] == ["@@ -7,7 +7,7 @@", "@@ -17,4 +17,3 @@"]
    first = diff.hunks[0]
    assert [(l.kind, l.html) for l in first.lines if l.kind != "context"] == [
        ("del", "10"), ("add", "ten")]
    left, right = next(row for row in first.rows if row[0] and row[0].kind == "del")
    assert (left.old_no, right.new_no if right else None) == (10, 10)
    assert (diff.added, diff.deleted) == (1, 2)


def test_file_diff_names_binary_added_and_mode_changes() -> None:
    assert render.file_diff(_entry(b"a\0b", b"a\0c"), _read).binary
    added = render.file_diff(_entry(None, b"new\n"), _read)
    assert [(l.kind, l.new_no) for h in added.hunks for l in h.lines] == [("add", 1)]
    chmod = DiffEntry("x", Change.MODIFIED, Entry.file(b"1\n"), Entry.file(b"1\n", mode=0o755))
    shown = render.file_diff(chmod, _read)
    assert shown.notes == ("mode 644 → 755",) and shown.hunks == ()
    link = DiffEntry("l", Change.ADDED, None, Entry.symlink("target"))
    assert render.file_diff(link, _read).hunks[0].lines[0].html == "target"
    assert not render.is_shown(DiffEntry("d", Change.ADDED, None, Entry.directory()))


def test_highlighted_files_are_cached_by_content_and_bounded() -> None:
    from citcfs.server.web.highlight import LineCache, highlight_file

    data = b"def cached():\n    return 'once'\n"
    first = highlight_file("x.py", data)
    assert highlight_file("y.py", data) is first  # same content, same lexer: one entry
    assert highlight_file("x.txt", data) is not first  # another lexer
    cache = LineCache(max_chars=8 * 200)
    for i in range(20):
        cache.put((bytes([i]), "x.py"), ("a" * 100,))
    assert cache.get((bytes([0]), "x.py")) is None  # the oldest went first
    assert cache.get((bytes([19]), "x.py")) == ("a" * 100,)
    cache.put((b"big", "x.py"), ("b" * 1000,))  # over an eighth of the cache: not kept
    assert cache.get((b"big", "x.py")) is None


def test_a_large_diff_is_summed_up_not_shown() -> None:
    from citcfs.objects import ObjectKind, object_id

    contents: dict[ObjectId, bytes] = {}

    def chunked(data: bytes) -> Entry:
        oid = object_id(ObjectKind.CHUNK, data)
        contents[oid] = data
        return Entry.file(chunks=(oid,), size=len(data))

    def read(entry: Entry) -> bytes:
        return entry.inline if entry.inline is not None else contents[entry.chunks[0]]

    big = b"".join(f"{i}\n".encode() for i in range(render.MAX_SHOWN_LINES + 1))
    diff = render.file_diff(DiffEntry("big", Change.ADDED, None, chunked(big)), read)
    assert diff.hunks == () and diff.added == render.MAX_SHOWN_LINES + 1
    assert diff.notes == (f"a large diff ({render.MAX_SHOWN_LINES + 1:,} lines): not shown "
                          "here; view the file",)
    huge = chunked(b"x\n" * (render.MAX_DIFF_LINES + 1))
    notes = render.file_diff(DiffEntry("huge", Change.ADDED, None, huge), read).notes
    assert notes[0].startswith("too many lines")
