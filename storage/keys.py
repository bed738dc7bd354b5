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
    b"gc" -> GC epoch (u64: how many GCs have marked) + sweeping (u8: 1 while a GC
    deletes the ids in ``gc_sweep``). Absent: epoch 0, not sweeping.
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
    A parent longer than PARENT_KEY_MAX bytes is cut and hashed in the key, and its
    full path leads the value (see `parent_key`).
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
``writers``
    ws id (u64) + writer id (16 bytes) -> `WriterProgress` (last seq applied, version
    that applied it) of a writer whose batches carry sequence numbers (a mount's
    write journal). Written by every commit record that carries a writer, dropped
    with its workspace, untouched by pruning (a writer must still be recognized
    after the version that recorded it was garbage-collected).
``grants`` (not derived from the log: `rebuild` leaves it)
    ws id (u64) + user (UTF-8) -> access level (one byte) of a user granted a
    workspace, on a shared store (`server.shared_grants`; LMDB keeps a grants file).
``redirections``
    ws id (u64) -> the workspace's local-only directories (`records.encode_paths`:
    a count, then each path, sorted). Absent: none. Written by `RedirectionsSet`
    records, dropped with the workspace.
``gc_sweep``
    object id (32 bytes) -> b"": the objects a running GC found unreferenced and is
    deleting. Written in the GC's mark transaction, cleared when its sweep ends; a
    commit naming one of them is refused (ObjectMissing) and HasObjects reports it
    missing, so no commit can come to reference an object that is being deleted.
    Not derived from the log (`rebuild` leaves it alone).
"""

from __future__ import annotations

import functools
import struct

import blake3

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
WRITERS = "writers"
REDIRECTIONS = "redirections"
GRANTS = "grants"

INDEX_TABLES = (WORKSPACE_NAMES, WORKSPACES, BASES, OVERLAY, VERSIONS, LABELS, RETENTION, WRITERS,
                REDIRECTIONS)
"""Tables derived from the log: `rebuild` drops and replays them."""
GC_SWEEP = "gc_sweep"
ALL_TABLES = (LOG, META) + INDEX_TABLES + (GRANTS, GC_SWEEP)

FORMAT_VERSION = 1
META_FORMAT = b"format"
META_LOG_START = b"log_start"
META_GC = b"gc"
_GC_STATE = struct.Struct(">QB")


def gc_state(raw: bytes | None) -> tuple[int, bool]:
    """(epoch, sweeping) from the META_GC value (absent: (0, False))."""
    if not raw:
        return 0, False
    epoch, sweeping = _GC_STATE.unpack(raw)
    return int(epoch), bool(sweeping)


def gc_state_value(epoch: int, sweeping: bool) -> bytes:
    return _GC_STATE.pack(epoch, int(sweeping))

_U64 = struct.Struct(">Q")
_MAX64 = MAX64 = (1 << 64) - 1


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


PARENT_KEY_MAX = 200
"""Longest parent path kept whole in an overlay key (LMDB keys hold 511 bytes)."""
_LONG_PARENT_KEY = PARENT_KEY_MAX + 2 + 32


@functools.lru_cache(maxsize=65536)
def parent_key(parent: str) -> bytes:
    """The parent part of an overlay key.

    A parent of up to PARENT_KEY_MAX bytes is kept as it is. A longer one is cut to
    that length and followed by 0xFF 0xFF and 32 hex digits of its BLAKE3 hash, which
    keeps keys within LMDB's limit for paths of any valid length while keys of one
    parent stay together and paths sharing a short prefix still sort together. The
    full parent of such a key is stored at the front of its value.
    """
    raw = parent.encode("utf-8", "surrogateescape")
    if len(raw) <= PARENT_KEY_MAX:
        return raw
    return raw[:PARENT_KEY_MAX] + b"\xff\xff" + blake3.blake3(raw).hexdigest()[:32].encode()


@functools.lru_cache(maxsize=65536)
def overlay_dir_prefix(ws_id: int, parent: str) -> bytes:
    """Prefix of every overlay key of the direct children of `parent`."""
    return _U64.pack(ws_id) + parent_key(parent) + b"\0"


def overlay_name_prefix(ws_id: int, parent: str, name: str) -> bytes:
    """Prefix of every overlay key of one path (all its versions)."""
    return overlay_dir_prefix(ws_id, parent) + name.encode("utf-8", "surrogateescape") + b"\0"


def overlay_key(ws_id: int, parent: str, name: str, version: int) -> bytes:
    return overlay_name_prefix(ws_id, parent, name) + _U64.pack(_MAX64 - version)


def overlay_value(parent: str, entry: bytes) -> bytes:
    """The value of an overlay key: the entry (b"" for none), after the full parent
    path and a NUL when the key holds only a cut and hashed parent."""
    raw = parent.encode("utf-8", "surrogateescape")
    return entry if len(raw) <= PARENT_KEY_MAX else raw + b"\0" + entry


def is_long_parent(parent: str) -> bool:
    """Whether keys of `parent`'s children hold a cut and hashed parent."""
    return len(parent_key(parent)) > PARENT_KEY_MAX


def overlay_entry_bytes(parent: str, value: bytes) -> bytes:
    """The entry bytes of an overlay value whose parent is known."""
    if not is_long_parent(parent):
        return value
    return value[value.index(b"\0") + 1:]


def inverted_version(version: int) -> bytes:
    """The ~version suffix of an overlay key: overlay_key == name prefix + this."""
    return _U64.pack(_MAX64 - version)


def split_overlay_item(key: bytes, value: bytes) -> tuple[str, str, int, bytes]:
    """(parent, name, version, entry bytes) of an overlay key and its value."""
    body = key[8:-8]
    raw_parent, _, rest = body.partition(b"\0")
    if len(raw_parent) == _LONG_PARENT_KEY and raw_parent[PARENT_KEY_MAX:PARENT_KEY_MAX + 2] == b"\xff\xff":
        raw_parent, _, value = value.partition(b"\0")
    return (paths.from_bytes(raw_parent), paths.from_bytes(rest[:-1]),
            _MAX64 - read_u64(key, len(key) - 8), value)


def overlay_subtree_ranges(ws_id: int, path: str) -> list[tuple[bytes, bytes]]:
    """Key ranges [start, end) holding every overlay key strictly below `path`.

    Children of `path` have parent == path; deeper descendants have parents that
    start with path + "/". While path + "/" fits in PARENT_KEY_MAX bytes, the two sets
    are exact contiguous ranges. Beyond that the one range returned also holds other
    paths sharing the cut prefix: callers filter by the full path.
    """
    if path == paths.ROOT:
        return [(_U64.pack(ws_id), _U64.pack(ws_id + 1))]
    raw = path.encode("utf-8", "surrogateescape")
    if len(raw) + 1 <= PARENT_KEY_MAX:
        prefix = _U64.pack(ws_id) + raw
        return [(prefix + b"\0", prefix + b"\1"), (prefix + b"/", prefix + b"0")]
    prefix = _U64.pack(ws_id) + raw[:PARENT_KEY_MAX]
    return [(prefix, _successor(prefix))]


def _successor(prefix: bytes) -> bytes:
    """The smallest key greater than every key starting with `prefix`."""
    trimmed = prefix.rstrip(b"\xff")
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


def version_key(ws_id: int, version: int) -> bytes:
    return _U64.pack(ws_id) + _U64.pack(version)


def label_key(ws_id: int, label: str) -> bytes:
    return _U64.pack(ws_id) + paths.to_bytes(label)


WRITER_ID_SIZE = 16


def writer_key(ws_id: int, writer_id: bytes) -> bytes:
    return _U64.pack(ws_id) + writer_id
