"""Rendering diffs for people and for `patch -p1`: pure functions over changes.

A `Change` is one path's difference (from the server's Diff stream). `unified`
turns the changes into a git-style unified diff with ``a/`` and ``b/`` prefixes:
``new file mode``, ``deleted file mode``, ``old mode``/``new mode``, and
``rename from``/``rename to`` headers, so that GNU patch (2.7+) and ``git apply``
reproduce additions, deletions, mode changes and renames. Directories have no lines
of their own (patch makes parents as needed); a renamed directory becomes one pure
rename per file below it. Binary files (a NUL in the first 8000 bytes, as git
decides) say ``Binary files a/X and b/X differ``, or, with ``binary=True``, carry
git's binary patch (``GIT binary patch``, zlib literals in base85, after a full
``index`` line), which ``git apply`` applies. Names are quoted by `quoting`.

File content comes through a `read(entry) -> bytes` callable, and the files under a
renamed directory through `files_below(entry) -> [(relative path, entry)]`, so these
functions never touch the network themselves.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from citcfs.entries import Entry, EntryKind

from . import quoting

Reader = Callable[[Entry], bytes]
FilesBelow = Callable[[Entry], list[tuple[str, Entry]]]

LETTERS = {"added": "A", "modified": "M", "deleted": "D", "type_changed": "T",
           "renamed": "R"}


@dataclass(frozen=True, slots=True)
class Change:
    path: str
    change: str  # added, modified, deleted, type_changed, renamed
    old: Entry | None
    new: Entry | None
    old_path: str | None = None

    @property
    def source(self) -> str:
        """Where the old side lives (differs from `path` for renames)."""
        return self.old_path or self.path

    def is_dir(self) -> bool:
        entry = self.new or self.old
        return entry is not None and entry.kind == EntryKind.DIR


def _git_mode(entry: Entry) -> str:
    if entry.kind == EntryKind.SYMLINK:
        return "120000"
    return "100755" if entry.mode & 0o111 else "100644"


def _content(entry: Entry | None, read: Reader) -> bytes:
    if entry is None:
        return b""
    if entry.kind == EntryKind.SYMLINK:
        return entry.target.encode("utf-8", "surrogateescape")
    return read(entry)


def is_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


ZERO_ID = "0" * 40


def git_blob_id(data: bytes) -> str:
    """git's object id of a blob: what `index` lines name and `git apply` checks."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _base85_lines(data: bytes) -> list[str]:
    """git's binary patch lines: up to 52 bytes each, led by their count (A-Z for
    1-26, a-z for 27-52) and base85-encoded in groups of 4 bytes."""
    lines = []
    for start in range(0, len(data), 52):
        piece = data[start:start + 52]
        count = chr(ord("A") + len(piece) - 1) if len(piece) <= 26 \
            else chr(ord("a") + len(piece) - 27)
        lines.append(count + base64.b85encode(piece, pad=True).decode("ascii") + "\n")
    return lines


def binary_hunks(old: bytes, new: bytes) -> str:
    """git's "GIT binary patch": the new content as a zlib literal, then the old one
    (the reverse hunk), so that `git apply` (and `git apply -R`) can carry it."""
    text = ["GIT binary patch\n"]
    for data in (new, old):
        text.append(f"literal {len(data)}\n")
        text.extend(_base85_lines(zlib.compress(data)))
        text.append("\n")
    return "".join(text)


def _index_line(old: Entry | None, new: Entry | None, old_data: bytes, new_data: bytes) -> str:
    """git's full `index` line, which `git apply` needs before a binary patch."""
    a = git_blob_id(old_data) if old is not None else ZERO_ID
    b = git_blob_id(new_data) if new is not None else ZERO_ID
    same_mode = old is not None and new is not None and _git_mode(old) == _git_mode(new)
    return f"index {a}..{b}" + (f" {_git_mode(old)}" if same_mode and old else "") + "\n"


def split_lines(data: bytes) -> list[str]:
    r"""`data` as lines that keep their ending, split on \n only, as git does.

    `str.splitlines` would also split on \r, form feeds, \x1c-\x1e, \x85 and
    \u2028, which puts "No newline at end of file" markers inside hunks.
    """
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def _hunks(a_name: str, b_name: str, old: bytes, new: bytes) -> Iterator[str]:
    a_lines = split_lines(old)
    b_lines = split_lines(new)
    for line in difflib.unified_diff(a_lines, b_lines, a_name, b_name, n=3):
        if line.endswith("\n"):
            yield line
        else:
            yield line + "\n\\ No newline at end of file\n"


@dataclass
class FileDiff:
    """One file's patch text and its line counts (for --stat)."""

    a_path: str
    b_path: str
    text: str
    added: int = 0
    removed: int = 0
    binary: bool = False


def file_diff(a_path: str | None, b_path: str | None, old: Entry | None, new: Entry | None,
              read: Reader, binary: bool = False) -> FileDiff:
    """The git-style patch turning file/symlink `old` at a_path into `new` at b_path;
    with `binary`, binary content as a GIT binary patch rather than a note."""
    shown_a = a_path or b_path or ""
    shown_b = b_path or a_path or ""
    head = [f"diff --git {quoting.prefixed('a/', shown_a)} {quoting.prefixed('b/', shown_b)}\n"]
    if old is None and new is not None:
        head.append(f"new file mode {_git_mode(new)}\n")
    elif new is None and old is not None:
        head.append(f"deleted file mode {_git_mode(old)}\n")
    elif old is not None and new is not None:
        if _git_mode(old) != _git_mode(new):
            head.append(f"old mode {_git_mode(old)}\nnew mode {_git_mode(new)}\n")
        if shown_a != shown_b:
            head.append(f"rename from {quoting.quote(shown_a)}\n"
                        f"rename to {quoting.quote(shown_b)}\n")
    old_data, new_data = _content(old, read), _content(new, read)
    result = FileDiff(shown_a, shown_b, "")
    a_name = quoting.header_name("a/", shown_a) if old is not None else "/dev/null"
    b_name = quoting.header_name("b/", shown_b) if new is not None else "/dev/null"
    if old_data == new_data:
        if len(head) == 1:
            return result  # only times or owners changed: nothing a patch can say
        if shown_a != shown_b and len(head) == 2:
            head.insert(1, "similarity index 100%\n")
        result.text = "".join(head)
        return result
    if is_binary(old_data) or is_binary(new_data):
        result.binary = True
        if binary:
            result.text = ("".join(head) + _index_line(old, new, old_data, new_data)
                           + binary_hunks(old_data, new_data))
            return result
        result.text = "".join(head) + (f"Binary files {a_name.rstrip(chr(9))} and "
                                       f"{b_name.rstrip(chr(9))} differ\n")
        return result
    body = list(_hunks(a_name, b_name, old_data, new_data))
    for line in body[2:]:
        if line.startswith("+"):
            result.added += 1
        elif line.startswith("-"):
            result.removed += 1
    result.text = "".join(head) + "".join(body)
    return result


def _content_side(entry: Entry | None) -> Entry | None:
    """The entry if it has lines of its own (a file or symlink), else None."""
    return entry if entry is not None and entry.kind in (EntryKind.FILE,
                                                         EntryKind.SYMLINK) else None


def file_diffs(changes: Iterable[Change], read: Reader, files_below: FilesBelow,
               binary: bool = False) -> Iterator[FileDiff]:
    """Every file's patch for `changes` (which are in path order, parents first)."""
    def diff_one(a: str | None, b: str | None, old: Entry | None, new: Entry | None) -> FileDiff:
        return file_diff(a, b, old, new, read, binary)
    return (d for d in _file_diffs(list(changes), diff_one, files_below) if d.text)


def _file_diffs(changes: list[Change], file_diff: Callable[..., FileDiff],
                files_below: FilesBelow) -> Iterator[FileDiff]:
    reported = {c.path for c in changes}
    for change in changes:
        if change.path == "":
            continue
        old, new = _content_side(change.old), _content_side(change.new)
        if change.change == "renamed" and change.is_dir() and change.new is not None:
            for rel, entry in files_below(change.new):
                if f"{change.path}/{rel}" not in reported:
                    yield file_diff(f"{change.source}/{rel}", f"{change.path}/{rel}",
                                    entry, entry)
            continue
        if old is None and new is None:
            continue
        if old is not None and new is not None and (
                old.kind != new.kind  # file <-> symlink
                or (old.kind == EntryKind.SYMLINK and old.target != new.target)):
            # A delete and an add: GNU patch refuses to patch a symlink in place.
            yield file_diff(change.source, None, old, None)
            yield file_diff(None, change.path, None, new)
            continue
        yield file_diff(change.source if old is not None else None,
                        change.path if new is not None else None, old, new)


KIND_WORDS = {EntryKind.FIFO: "fifo", EntryKind.SOCKET: "socket",
              EntryKind.CHARDEV: "character device", EntryKind.BLOCKDEV: "block device"}


def inexpressible(changes: Iterable[Change]) -> list[str]:
    """What a patch cannot carry among `changes`, one line each: special files
    (FIFOs, sockets, devices), extended attributes, and hard links (a patch makes
    each name a file of its own). The diff still names them."""
    notes = []
    for change in changes:
        new = change.new
        if (new is not None and new.link is not None and new.nlink > 1
                and change.change in ("added", "renamed", "type_changed")):
            notes.append(f"hard link {quoting.quote(change.path)} (one of {new.nlink} names "
                         "of a file; patched in as a copy)")
        for side, entry in (("old", change.old), ("new", change.new)):
            if entry is not None and entry.kind in KIND_WORDS:
                verb = {"added": "added", "deleted": "deleted", "renamed": "renamed"}.get(
                    change.change, "changed")
                notes.append(f"{KIND_WORDS[entry.kind]} {quoting.quote(change.path)} {verb}")
                break
        old_xattrs = change.old.xattrs if change.old is not None else ()
        new_xattrs = change.new.xattrs if change.new is not None else ()
        if old_xattrs != new_xattrs:
            notes.append(f"extended attributes of {quoting.quote(change.path)} changed")
    return notes


def name_status(change: Change) -> str:
    """git's --name-status line, names quoted as git quotes them."""
    suffix = "/" if change.is_dir() else ""
    letter = LETTERS.get(change.change, "?")
    if change.change == "renamed":
        return (f"{letter}\t{quoting.quote(change.source + suffix)}\t"
                f"{quoting.quote(change.path + suffix)}")
    return f"{letter}\t{quoting.quote(change.path + suffix)}"


def stat_lines(diffs: list[FileDiff], width: int = 60) -> list[str]:
    """git's --stat: one line per file and a summary."""
    if not diffs:
        return []
    names = [quoting.quote(d.b_path) if d.a_path == d.b_path
             else f"{quoting.quote(d.a_path)} => {quoting.quote(d.b_path)}" for d in diffs]
    name_width = max(len(n) for n in names)
    most = max((d.added + d.removed for d in diffs), default=0)
    count_width = len(str(most))
    scale = min(1.0, (width - name_width) / most) if most and width > name_width else 1.0
    lines = []
    for name, d in zip(names, diffs):
        if d.binary:
            lines.append(f" {name.ljust(name_width)} | Bin")
            continue
        plus = "+" * max(int(d.added * scale), 1 if d.added else 0)
        minus = "-" * max(int(d.removed * scale), 1 if d.removed else 0)
        lines.append(f" {name.ljust(name_width)} | {str(d.added + d.removed).rjust(count_width)}"
                     f" {plus}{minus}".rstrip())
    added = sum(d.added for d in diffs)
    removed = sum(d.removed for d in diffs)
    lines.append(stat_summary(len(diffs), added, removed))
    return lines


def stat_summary(files: int, added: int, removed: int) -> str:
    """git's --stat summary line, which leaves out a zero count of insertions or
    deletions (but names both when both are zero, as git does for mode changes)."""
    parts = [f" {files} file{'s' if files != 1 else ''} changed"]
    if added or not removed:
        parts.append(f"{added} insertion{'s' if added != 1 else ''}(+)")
    if removed or not added:
        parts.append(f"{removed} deletion{'s' if removed != 1 else ''}(-)")
    return ", ".join(parts)
