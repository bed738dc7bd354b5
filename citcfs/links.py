"""Hard links: where the one state of a hard-linked file lives in an overlay.

A hard-linked file has one *link id* (16 random bytes, unique within its
workspace), which every name of it carries in its entry (`Entry.link`), with the
number of names (`Entry.nlink`). Its current content and attributes live once, in
the overlay's *link record*: an overlay entry at the reserved path `./<hex id>`.
No path of a workspace can be that path (a "." component is never valid), so the
record rides on everything the overlay already has: versions, `Changes`, fork
(which copies the overlay), retention and GC (which mark overlay entries), restore,
and rebuild. A name resolves through its record when the overlay holds one; in a
tree (a base revision, a frozen directory) every name carries a full copy, so a
tree stays self-contained.

Shared by server and client: the server keeps records, and a mount reads record
paths among the changed paths of a version (`Changes`) to know which linked file
another client changed.
"""

from __future__ import annotations

LINKS_PARENT = "."
"""The parent of every link record: a name no valid path has."""


def record_path(link: bytes) -> str:
    """The overlay path of the link record of `link`."""
    return f"{LINKS_PARENT}/{link.hex()}"


def record_name(link: bytes) -> str:
    """The name of the link record of `link` within `LINKS_PARENT`."""
    return link.hex()


def is_record_path(path: str) -> bool:
    """Whether `path` is a link record's, not a path of the workspace."""
    return path.startswith(LINKS_PARENT + "/")


def link_of_record(path: str) -> bytes:
    """The link id a record path names."""
    return bytes.fromhex(path[len(LINKS_PARENT) + 1:])
