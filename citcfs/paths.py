"""Path rules: what a workspace path is, and how it is written.

Inside citcfs a path is a `str` relative to the workspace root, with components joined
by "/" and no leading or trailing slash; the root is the empty string. Names are kept
as the kernel gives them: bytes that are not UTF-8 travel as surrogate escapes, and
limits are counted in bytes, as Linux counts them.
"""

from __future__ import annotations

import re

from .errors import InvalidArgument, InvalidPath, NameTooLong

NAME_MAX = 255
PATH_MAX = 4096
ROOT = ""


def to_bytes(text: str) -> bytes:
    """The bytes of a name or path as they are stored on disk and in keys."""
    return text.encode("utf-8", "surrogateescape")


def from_bytes(raw: bytes) -> str:
    """Inverse of `to_bytes`."""
    return raw.decode("utf-8", "surrogateescape")


def names_from_bytes(raw_names: list[bytes]) -> list[str]:
    """`from_bytes` of each of `raw_names` (names, so free of NUL), with one decode
    for all of them: a directory listing decodes a thousand. UTF-8 resynchronizes
    at every NUL, so each name decodes exactly as it would alone."""
    if not raw_names:
        return []
    return b"\0".join(raw_names).decode("utf-8", "surrogateescape").split("\0")


def check_name(name: str) -> str:
    """Return `name` if it is a valid single path component, else raise InvalidPath."""
    if name == "":
        raise InvalidPath("empty name")
    if name in (".", ".."):
        raise InvalidPath(f"name {name!r} is not allowed")
    if "/" in name:
        raise InvalidPath(f"name {name!r} contains '/'")
    if "\0" in name:
        raise InvalidPath(f"name {name!r} contains NUL")
    if len(to_bytes(name)) > NAME_MAX:
        raise NameTooLong(f"name is longer than {NAME_MAX} bytes: {name[:40]!r}...")
    return name


_PLAIN_NAME = r"(?!\.\.?(?:/|\Z))[^/\0]{1,%d}" % NAME_MAX
_PLAIN_PATH = re.compile(rf"(?:{_PLAIN_NAME}/)*{_PLAIN_NAME}")
"""A path already in canonical form, for ASCII text (whose characters are its bytes):
`normalize` answers such a path with one match instead of checking name by name."""


def normalize(path: str) -> str:
    """Return the canonical form of a workspace path, or raise InvalidPath.

    One leading "/" and one trailing "/" are accepted and dropped, so that "/a/b/" and
    "a/b" are the same path. Anything else unusual (empty components, "." or "..",
    NUL bytes, over-long names or paths) is an error rather than silently rewritten:
    a tool that sends "a//b" or "a/../b" has a bug that it should learn about.
    """
    if type(path) is str and path.isascii() and len(path) <= PATH_MAX \
            and _PLAIN_PATH.fullmatch(path):
        return path
    if not isinstance(path, str):
        raise InvalidPath(f"path must be a string, not {type(path).__name__}")
    if "\0" in path:
        raise InvalidPath(f"path {path!r} contains NUL")
    if len(to_bytes(path)) > PATH_MAX:
        raise NameTooLong(f"path is longer than {PATH_MAX} bytes")
    inner = path
    if inner.startswith("/"):
        inner = inner[1:]
    if inner.endswith("/"):
        inner = inner[:-1]
    if inner == "":
        return ROOT
    for name in inner.split("/"):
        if name == "":
            raise InvalidPath(f"path {path!r} has an empty component")
        check_name(name)
    return inner


def split(path: str) -> tuple[str, str]:
    """(parent, name) of a normalized, non-root path."""
    if path == ROOT:
        raise InvalidPath("the root has no parent")
    parent, _, name = path.rpartition("/")
    return parent, name


def join(parent: str, name: str) -> str:
    """The path of `name` inside `parent` (both already valid)."""
    return f"{parent}/{name}" if parent else name


def components(path: str) -> list[str]:
    """The names along a normalized path; [] for the root."""
    return path.split("/") if path else []


def is_within(path: str, ancestor: str) -> bool:
    """Whether `path` is `ancestor` or lies below it."""
    return ancestor == ROOT or path == ancestor or path.startswith(ancestor + "/")


_LABEL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}")


def check_label(name: str, what: str = "name") -> str:
    """Return `name` if it may name a base, workspace or snapshot, else InvalidArgument.

    Such names appear in URLs, in `ws@ref` arguments and in directory names of the
    `.citc/` views, so they are kept to a portable alphabet: letters, digits and
    "._+-", at most 128 characters, not starting with "." or "-".
    """
    if not isinstance(name, str) or not _LABEL.fullmatch(name):
        raise InvalidArgument(
            f"invalid {what} {name!r}: use 1-128 letters, digits or '._+-', "
            "not starting with '.' or '-'")
    return name


REF_WORDS = ("head", "HEAD", "base", "fork")
"""Words that mean a state after ``WS@`` in a reference, so never snapshot labels."""


def check_snapshot_label(label: str) -> str:
    """Return `label` if it may name a snapshot, else InvalidArgument.

    On top of `check_label`: ``WS@123`` means version 123 and ``WS@base`` the base,
    so a label that is all digits or one of REF_WORDS could never be named.
    """
    check_label(label, "snapshot label")
    if label.isdigit():
        raise InvalidArgument(f"snapshot label {label!r} is all digits, but WS@{label} means "
                              f"version {label}: choose a label with a letter in it")
    if label in REF_WORDS:
        raise InvalidArgument(f"snapshot label {label!r} is reserved: WS@{label} already "
                              f"means something else (see 'citc help refs')")
    return label
