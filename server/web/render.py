"""One changed path of a diff, made ready for a page: hunks of highlighted lines.

Pure: it takes a storage `DiffEntry` and a callable that reads a file entry's bytes,
and returns values the templates lay out, either unified (`Hunk.lines`) or side by
side (`Hunk.rows`). Hunks are difflib's grouped opcodes with three lines of context,
as `citc diff` and git show them. A file with a NUL byte is binary and named, never
shown; a file over `MAX_DIFF_BYTES` or `MAX_DIFF_LINES` is named with its size.
Directories are not files: the page lists the files inside an added or deleted one.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable
from dataclasses import dataclass

from citcfs.entries import Entry, EntryKind
from citcfs.storage.diff import Change, DiffEntry

from .highlight import highlight_file

MAX_DIFF_BYTES = 1 << 20
MAX_DIFF_LINES = 20_000
MAX_SHOWN_LINES = 2_000
"""A file whose hunks hold more lines is summed up, not shown, so that a page of 25
files stays a page (GitHub calls these "large diffs")."""
CONTEXT_LINES = 3

Reader = Callable[[Entry], bytes]


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a hunk: "context", "add" or "del", its numbers, its HTML."""

    kind: str
    old_no: int | None
    new_no: int | None
    html: str


@dataclass(frozen=True, slots=True)
class Hunk:
    header: str
    lines: tuple[Line, ...]
    rows: tuple[tuple[Line | None, Line | None], ...]
    """Side by side: (old line, new line); None where one side has no line."""


@dataclass(frozen=True, slots=True)
class FileDiff:
    """What a page shows of one changed path."""

    path: str
    change: str
    old_path: str | None
    notes: tuple[str, ...]
    """Why content is not shown (binary, too large, special) and mode changes."""
    hunks: tuple[Hunk, ...]
    added: int
    deleted: int
    binary: bool = False


def is_shown(entry: DiffEntry) -> bool:
    """Whether a diff entry is a file-like path (a directory alone is not shown)."""
    return any(side is not None and not side.is_dir for side in (entry.old, entry.new))


def _kind_name(entry: Entry) -> str:
    return {EntryKind.SYMLINK: "symbolic link", EntryKind.FIFO: "FIFO",
            EntryKind.SOCKET: "socket", EntryKind.CHARDEV: "character device",
            EntryKind.BLOCKDEV: "block device", EntryKind.DIR: "directory"}.get(
                entry.kind, "file")


def _content(entry: Entry | None, read: Reader, notes: list[str]) -> bytes | None:
    """The bytes a side shows, or None (no such side, or a note says why not)."""
    if entry is None or entry.is_dir:
        return None
    if entry.kind == EntryKind.SYMLINK:
        return entry.target.encode("utf-8", "surrogateescape") + b"\n"
    if entry.kind != EntryKind.FILE:
        notes.append(f"{_kind_name(entry)}")
        return None
    if entry.size > MAX_DIFF_BYTES:
        notes.append(f"too large to show here ({entry.size:,} bytes): download it raw")
        return None
    return read(entry)


def _lines(path: str, data: bytes) -> tuple[str, ...]:
    if not data:
        return ()
    lines = highlight_file(path, data)
    return lines[:-1] if data.endswith(b"\n") else lines


def _raw_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    return lines if data else []


def _hunks(old_raw: list[bytes], new_raw: list[bytes], old_html: tuple[str, ...],
           new_html: tuple[str, ...]) -> tuple[Hunk, ...]:
    matcher = difflib.SequenceMatcher(None, old_raw, new_raw, autojunk=False)
    hunks = []
    for group in matcher.get_grouped_opcodes(CONTEXT_LINES):
        lines: list[Line] = []
        rows: list[tuple[Line | None, Line | None]] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for i, j in zip(range(i1, i2), range(j1, j2)):
                    line = Line("context", i + 1, j + 1, new_html[j])
                    lines.append(line)
                    rows.append((Line("context", i + 1, None, old_html[i]),
                                 Line("context", None, j + 1, new_html[j])))
                continue
            gone = [Line("del", i + 1, None, old_html[i]) for i in range(i1, i2)]
            came = [Line("add", None, j + 1, new_html[j]) for j in range(j1, j2)]
            lines.extend(gone)
            lines.extend(came)
            rows.extend(itertools.zip_longest(gone, came))
        first, last = group[0], group[-1]
        old_len, new_len = last[2] - first[1], last[4] - first[3]
        header = (f"@@ -{first[1] + (1 if old_len else 0)},{old_len} "
                  f"+{first[3] + (1 if new_len else 0)},{new_len} @@")
        hunks.append(Hunk(header, tuple(lines), tuple(rows)))
    return tuple(hunks)


def file_diff(entry: DiffEntry, read: Reader) -> FileDiff:
    """The page's view of one changed path."""
    notes: list[str] = []
    old, new = entry.old, entry.new
    if old is not None and new is not None and old.kind != new.kind:
        notes.append(f"{_kind_name(old)} became a {_kind_name(new)}")
    elif old is not None and new is not None and old.mode != new.mode:
        notes.append(f"mode {old.mode:o} → {new.mode:o}")
    if entry.change == Change.RENAMED and old is not None and old.is_dir:
        notes.append("directory renamed")
    old_data = _content(old, read, notes)
    new_data = _content(new, read, notes)
    binary = any(data is not None and b"\0" in data for data in (old_data, new_data))
    if binary:
        notes.append("binary file; download it raw")
        return FileDiff(entry.path, entry.change.value, entry.old_path, tuple(notes), (),
                        0, 0, binary=True)
    old_raw, new_raw = _raw_lines(old_data or b""), _raw_lines(new_data or b"")
    if max(len(old_raw), len(new_raw)) > MAX_DIFF_LINES:
        notes.append(f"too many lines to show here ({max(len(old_raw), len(new_raw)):,})")
        return FileDiff(entry.path, entry.change.value, entry.old_path, tuple(notes), (), 0, 0)
    hunks = _hunks(old_raw, new_raw, _lines(entry.old_path or entry.path, old_data or b""),
                   _lines(entry.path, new_data or b""))
    added = sum(1 for hunk in hunks for line in hunk.lines if line.kind == "add")
    deleted = sum(1 for hunk in hunks for line in hunk.lines if line.kind == "del")
    shown = sum(len(hunk.lines) for hunk in hunks)
    if shown > MAX_SHOWN_LINES:
        notes.append(f"a large diff ({shown:,} lines): not shown here; view the file")
        hunks = ()
    return FileDiff(entry.path, entry.change.value, entry.old_path, tuple(notes), hunks,
                    added, deleted)
