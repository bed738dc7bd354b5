"""Printing file names as git does, and carrying them losslessly in JSON: pure functions.

Paths are `str` with non-UTF-8 bytes as surrogate escapes (`citcfs.paths`). For text
output they are quoted like git's ``core.quotePath``: a name holding a control
character, ``"``, ``\\``, DEL or any byte outside ASCII is written in double quotes with
C escapes (``\\n``, ``\\t``, ``\\"``, ``\\\\``, and ``\\ooo`` octal for other bytes), so that
one name is always one token on one line, and GNU patch (2.7+) and ``git apply`` read
it back byte for byte. One addition to git's rule: a name that ends in a space is
quoted too. git writes it bare (with a tab after it on ``---``/``+++`` lines), and
GNU patch then drops the trailing spaces and cannot find the file; the quoted form
is read exactly by both patch and ``git apply``. Other names are written as they are.

In JSON a path is a string; when its bytes are not UTF-8, that string has U+FFFD in
their place and a ``<key>_b64`` field beside it holds the exact bytes in base64.
"""

from __future__ import annotations

import base64
from typing import Any

from citcfs import paths

_NAMED = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f",
          0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def _needs_quoting(byte: int) -> bool:
    return byte < 0x20 or byte in (0x22, 0x5C) or byte >= 0x7F


def quote(path: str) -> str:
    """`path` as git prints it: unchanged, or C-quoted in double quotes."""
    raw = paths.to_bytes(path)
    if not any(_needs_quoting(b) for b in raw) and not raw.endswith(b" "):
        return path
    out = []
    for byte in raw:
        if byte in _NAMED:
            out.append(_NAMED[byte])
        elif _needs_quoting(byte):
            out.append(f"\\{byte:03o}")
        else:
            out.append(chr(byte))
    return '"' + "".join(out) + '"'


def is_quoted(text: str) -> bool:
    return len(text) >= 2 and text[0] == '"' and text[-1] == '"'


def prefixed(prefix: str, path: str) -> str:
    """``a/PATH`` for a patch header, quoted as a whole when PATH needs it (git writes
    ``"a/x\\ty"``, not ``a/"x\\ty"``)."""
    return quote(prefix + path)


def header_name(prefix: str, path: str) -> str:
    """The name on a ``---``/``+++`` line. git ends it with a tab when it holds a space
    (and is not quoted), so that trailing spaces stay part of the name for patch and
    git apply."""
    shown = prefixed(prefix, path)
    return shown + "\t" if " " in shown and not is_quoted(shown) else shown


def json_path(doc: dict[str, Any], key: str, path: str | None) -> dict[str, Any]:
    """Set doc[key] to `path` as JSON text, and doc[key + "_b64"] to its exact bytes
    when they are not UTF-8 (the text then holds U+FFFD in their place)."""
    if path is None:
        doc[key] = None
        return doc
    raw = paths.to_bytes(path)
    try:
        doc[key] = raw.decode("utf-8")
    except UnicodeDecodeError:
        doc[key] = raw.decode("utf-8", "replace")
        doc[key + "_b64"] = base64.b64encode(raw).decode("ascii")
    return doc
