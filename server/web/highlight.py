"""Syntax highlighting with pygments, one HTML string per line of a file.

A diff shows single lines of two files, so each file is highlighted whole (a line
inside a multi-line string or comment keeps its colour) and then cut at ``\\n``
into lines, each closed on its own. Lines split on ``\\n`` only, as `citc diff` and
git split them. The lexer is chosen by file name alone (guessing from content costs
more than the rest of a page); an unknown name, a file with ``\\r`` (pygments
would rewrite its line ends and so shift the lines) or a very large one is shown
escaped but not coloured. Classes are pygments' short names, styled by `CSS`.
"""

from __future__ import annotations

import collections
import functools
import posixpath
import threading
from html import escape

import blake3

from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import get_lexer_for_filename
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

MAX_HIGHLIGHT_BYTES = 512 << 10
"""Larger files are shown plain: lexing costs ~1 s per few MB in pure Python."""

CSS = HtmlFormatter(style="default").get_style_defs(".code")


@functools.lru_cache(maxsize=512)
def _lexer_for(name: str) -> Lexer | None:
    try:
        return get_lexer_for_filename(name, stripnl=False, ensurenl=False, stripall=False)
    except ClassNotFound:
        return None


def _lexer_key(path: str) -> str:
    name = posixpath.basename(path)
    _, ext = posixpath.splitext(name)
    return f"x{ext}" if ext else name


def warm_up() -> threading.Thread:
    """Find the first lexers in a background thread. pygments' first lookup scans
    every installed package's entry points for plugins: seconds, once per process,
    which the first page viewed would otherwise wait for."""
    def find() -> None:
        for name in ("x.py", "x.c", "x.go", "x.md", "x.txt"):
            _lexer_for(name)
    thread = threading.Thread(target=find, name="citc-http-lexers", daemon=True)
    thread.start()
    return thread


def lexer_for(path: str) -> Lexer | None:
    """The lexer for a file name (cached by extension, or by name without one)."""
    return _lexer_for(_lexer_key(path))


@functools.lru_cache(maxsize=None)
def _css_class(ttype: _TokenType) -> str:
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return str(STANDARD_TYPES[ttype])


def plain_lines(text: str) -> list[str]:
    """`text` as escaped HTML lines, uncoloured."""
    return [escape(line, quote=False) for line in text.split("\n")]


def highlight_lines(path: str, text: str) -> list[str]:
    """`text` as HTML lines (as many as ``text.split("\\n")``), coloured for `path`."""
    lexer = lexer_for(path)
    if lexer is None or "\r" in text or len(text) > MAX_HIGHLIGHT_BYTES:
        return plain_lines(text)
    lines: list[list[str]] = [[]]
    for ttype, value in lexer.get_tokens(text):
        css = _css_class(ttype)
        for i, part in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if part:
                html = escape(part, quote=False)
                lines[-1].append(f'<span class="{css}">{html}</span>' if css else html)
    wanted = text.count("\n") + 1
    if len(lines) != wanted:  # a lexer that added or dropped a line end: stay exact
        return plain_lines(text)
    return ["".join(parts) for parts in lines]


class LineCache:
    """Highlighted files by (BLAKE3 of the bytes, lexer), least recently used first
    out, bounded in characters. Content never changes under its hash, so an entry is
    never stale; a cryptographic hash, so no one can make their file show as
    another's. Thread-safe: pages render on a thread pool."""

    def __init__(self, max_chars: int) -> None:
        self._max_chars = max_chars
        self._chars = 0
        self._items: collections.OrderedDict[tuple[bytes, str], tuple[str, ...]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[bytes, str]) -> tuple[str, ...] | None:
        with self._lock:
            lines = self._items.get(key)
            if lines is not None:
                self._items.move_to_end(key)
            return lines

    def put(self, key: tuple[bytes, str], lines: tuple[str, ...]) -> None:
        size = sum(len(line) for line in lines) + 64
        if size > self._max_chars // 8:
            return  # one file may not push out everything else
        with self._lock:
            if key in self._items:
                return
            self._items[key] = lines
            self._chars += size
            while self._chars > self._max_chars:
                _, dropped = self._items.popitem(last=False)
                self._chars -= sum(len(line) for line in dropped) + 64


CACHE = LineCache(max_chars=32 << 20)


def highlight_file(path: str, data: bytes) -> tuple[str, ...]:
    """`data` decoded as UTF-8 (bad bytes replaced) and highlighted for `path`, one
    HTML string per line, from `CACHE` when this content was shown before: a review
    page is opened again and again, and lexing is most of its cost."""
    key = (blake3.blake3(data).digest(), _lexer_key(path))
    lines = CACHE.get(key)
    if lines is None:
        lines = tuple(highlight_lines(path, data.decode("utf-8", "replace")))
        CACHE.put(key, lines)
    return lines
