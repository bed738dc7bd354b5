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

import functools
import posixpath
from html import escape

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


def lexer_for(path: str) -> Lexer | None:
    """The lexer for a file name (cached by extension, or by name without one)."""
    name = posixpath.basename(path)
    _, ext = posixpath.splitext(name)
    return _lexer_for(f"x{ext}" if ext else name)


@functools.lru_cache(maxsize=None)
def _css_class(ttype: _TokenType) -> str:
    while ttype not in STANDARD_TYPES:
        ttype = ttype.parent
    return STANDARD_TYPES[ttype]


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
