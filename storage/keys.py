"""Every table of the log database and the layout of every key in it.

This module is the one place that knows how keys are built. All integers in keys are
fixed-width big-endian, so that byte order is numeric order and a range scan walks
time forward (or, for the inverted version `~v`, backward).

Tables (named LMDB databases in the embedded backend):

``log``
    LSN (u64) -> framed record (see `storage.records`). The source of truth:
    append-only, LSNs dense from 1. Nothing else here is authoritative.
``meta``
    b"format" -> format version of the data directory (u32).
    b"log_start" -> the lowest LSN the log still holds (absent: 1).
``workspace_names``
    name (bytes) -> id (u64) of the live workspace with that name. A workspace's id
    is the LSN of the record that created it, so a name reused after a delete never
    sees the old workspace's overlay.
``workspaces``
    id (u64) -> `WorkspaceState` of a live workspace.
``bases``
    base name + NUL + revision (u64) -> `BaseRevision`. Revisions count from 1.
``overlay``
    ws id (u64) + parent path + NUL + name + NUL + ~version (u64) -> entry bytes, or
    b"" for "no overlay entry from this version on" (the path shows its base again).
    For any version v, the first key at or after (ws, parent, name, ~v) is the
    path's newest overlay state at or before v: a lookup is one seek, and a
    directory's overlay children at v are one range scan of (ws, parent). The
    workspace root's own attributes live under parent "" and name "".
``versions``
    ws id (u64) + version (u64) -> `VersionInfo`: the LSN of the record that made
    that version, its time, how many paths it changed, and the base revision and
    root its overlay applies over. History and `changes`. A version that garbage
    collection dropped has no key here.
``labels``
    ws id (u64) + label (bytes) -> `Label` (the version it names).
``retention``
    ws id (u64) -> how many unlabelled versions to keep (u64; absent: all).
"""

from __future__ import annotations

import struct

from citcfs import paths

LOG = "log"
META = "meta"
WORKSPACE_NAMES = "workspace_names"
WORKSPACES = "workspaces"
BASES = "bases"
OVERLAY = "overlay"
VERSIONS = "versions"
LABELS = "labels"
RETENTION = "retention"

INDEX_TABLES = (WORKSPACE_NAMES, WORKSPACES, BASES, OVERLAY, VERSIONS, LABELS, RETENTION)
"""Tables derived from the log: `rebuild` drops and replays them."""
ALL_TABLES = (LOG, META) + INDEX_TABLES

FORMAT_VERSION = 1
META_FORMAT = b"format"
META_LOG_START = b"log_start"

_U64 = struct.Struct(">Q")
_MAX64 = (1 << 64) - 1


def u64(value: int) -> bytes:
    return _U64.pack(value)


def read_u64(raw: bytes, offset: int = 0) -> int:
    return int(_U64.unpack_from(raw, offset)[0])


def lsn_key(lsn: int) -> bytes:
    return _U64.pack(lsn)


def workspace_name_key(name: str) -> bytes:
    return paths.to_bytes(name)


def workspace_key(ws_id: int) -> bytes:
    return _U64.pack(ws_id)


def base_prefix(base: str) -> bytes:
    return paths.to_bytes(base) + b"\0"


def base_key(base: str, rev: int) -> bytes:
    return base_prefix(base) + _U64.pack(rev)


def split_base_key(key: bytes) -> tuple[str, int]:
    return paths.from_bytes(key[:-9]), read_u64(key, len(key) - 8)


# --- overlay -------------------------------------------------------------------------

def ws_prefix(ws_id: int) -> bytes:
    return _U64.pack(ws_id)


def overlay_dir_prefix(ws_id: int, parent: str) -> bytes:
    """Prefix of every overlay key of the direct children of `parent`."""
    return _U64.pack(ws_id) + paths.to_bytes(parent) + b"\0"


def overlay_name_prefix(ws_id: int, parent: str, name: str) -> bytes:
    """Prefix of every overlay key of one path (all its versions)."""
    return b"".join((_U64.pack(ws_id), parent.encode("utf-8", "surrogateescape"), b"\0",
                     name.encode("utf-8", "surrogateescape"), b"\0"))


def overlay_key(ws_id: int, parent: str, name: str, version: int) -> bytes:
    return overlay_name_prefix(ws_id, parent, name) + _U64.pack(_MAX64 - version)


def inverted_version(version: int) -> bytes:
    """The ~version suffix of an overlay key: overlay_key == name prefix + this."""
    return _U64.pack(_MAX64 - version)


def split_overlay_key(key: bytes) -> tuple[str, str, int]:
    """(parent, name, version) of an overlay key."""
    body = key[8:-8]
    parent, _, rest = body.partition(b"\0")
    name = rest[:-1]
    return paths.from_bytes(parent), paths.from_bytes(name), _MAX64 - read_u64(key, len(key) - 8)


def overlay_subtree_ranges(ws_id: int, path: str) -> list[tuple[bytes, bytes]]:
    """Key ranges [start, end) holding every overlay key strictly below `path`.

    Children of `path` have parent == path; deeper descendants have parents that
    start with path + "/". The two sets are contiguous ranges of their own.
    """
    if path == paths.ROOT:
        return [(_U64.pack(ws_id), _U64.pack(ws_id + 1))]
    raw = _U64.pack(ws_id) + paths.to_bytes(path)
    return [(raw + b"\0", raw + b"\1"), (raw + b"/", raw + b"0")]


def version_key(ws_id: int, version: int) -> bytes:
    return _U64.pack(ws_id) + _U64.pack(version)


def label_key(ws_id: int, label: str) -> bytes:
    return _U64.pack(ws_id) + paths.to_bytes(label)
