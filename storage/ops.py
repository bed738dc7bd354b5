"""The operations a commit is made of, as plain values.

A commit is a batch of these applied in order, atomically: either every one takes
effect as one new version, or (on the first error) none does. POSIX decides what
each may and may not do, since the FUSE client maps system calls onto them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from citcfs.entries import Entry, Xattrs


@dataclass(frozen=True, slots=True)
class WriteFile:
    """Create or replace the file at `path` with `entry` (a FILE entry)."""

    path: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class MakeDir:
    """Create an empty directory; the path must not exist."""

    path: str
    mode: int = 0o755
    uid: int = 0
    gid: int = 0
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Symlink:
    """Create a symbolic link; the path must not exist."""

    path: str
    target: str
    uid: int = 0
    gid: int = 0
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class Remove:
    """Delete a path. A non-empty directory needs `recursive`.

    `must_be_dir` gives rmdir (True) or unlink (False) semantics; None accepts both.
    """

    path: str
    recursive: bool = False
    must_be_dir: bool | None = None


@dataclass(frozen=True, slots=True)
class Rename:
    """Move `src` to `dst`, replacing `dst` as rename(2) does unless `no_replace`."""

    src: str
    dst: str
    no_replace: bool = False


@dataclass(frozen=True, slots=True)
class SetAttr:
    """Change the attributes of an existing path; None leaves a field as it is."""

    path: str
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    mtime_ns: int | None = None
    atime_ns: int | None = None
    ctime_ns: int | None = None
    xattrs: Xattrs | None = None
    """The whole new set of extended attributes, when given."""


@dataclass(frozen=True, slots=True)
class MakeNode:
    """Create a FIFO, socket or device node (`entry` of a special kind); the path
    must not exist."""

    path: str
    entry: Entry


@dataclass(frozen=True, slots=True)
class Link:
    """Make `dst` another name of the non-directory at `src` (link(2)); `dst` must
    not exist. `link` is the id the file gets if it has none yet (16 bytes)."""

    src: str
    dst: str
    link: bytes


Op = Union[WriteFile, MakeDir, Symlink, Remove, Rename, SetAttr, MakeNode, Link]
