"""The indexes derived from the log: how a record changes them, and how to read them.

`apply_record` is the only code that writes index tables. The live write path and
`rebuild` both call it, which is what makes "drop the indexes and replay the log" give
identical answers.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from citcfs import paths
from citcfs.entries import Entry
from citcfs.entry_codec import decode_entries
from citcfs.errors import CorruptLog
from citcfs.links import is_record_path

from . import keys
from .backend import KVTxn
from .overlay import ROOT_ENTRY_NAME
from .index_values import BaseRevision, Label, VersionInfo, WorkspaceState, WriterProgress
from .records import (BaseRevisionAdded, Committed, LabelRemoved, LabelSet, Record, RedirectionsSet,
                      RetentionSet, VersionsPruned, WorkspaceCreated, WorkspaceDeleted,
                      decode_paths, encode_paths)


def get_workspace(txn: KVTxn, ws_id: int) -> WorkspaceState | None:
    raw = txn.get(keys.WORKSPACES, keys.workspace_key(ws_id))
    return None if raw is None else WorkspaceState.decode(raw)


def find_workspace(txn: KVTxn, name: str) -> WorkspaceState | None:
    raw_id = txn.get(keys.WORKSPACE_NAMES, keys.workspace_name_key(name))
    return None if raw_id is None else get_workspace(txn, keys.read_u64(raw_id))


def _put_workspace(txn: KVTxn, state: WorkspaceState) -> None:
    txn.put(keys.WORKSPACES, keys.workspace_key(state.id), state.encode())


def apply_record(txn: KVTxn, lsn: int, record: Record) -> None:
    """Update every index for `record`, appended at `lsn`."""
    if isinstance(record, Committed):
        _apply_commit(txn, lsn, record)
    elif isinstance(record, BaseRevisionAdded):
        revision = BaseRevision(record.base, record.rev, record.root, record.time_ns, record.message)
        txn.put(keys.BASES, keys.base_key(record.base, record.rev), revision.encode())
    elif isinstance(record, WorkspaceCreated):
        state = WorkspaceState(lsn, record.name, record.owner, record.base, record.base_rev,
                               record.root, 0, record.time_ns, record.time_ns, record.fork)
        txn.put(keys.WORKSPACE_NAMES, keys.workspace_name_key(record.name), keys.u64(lsn))
        _put_workspace(txn, state)
        txn.put(keys.VERSIONS, keys.version_key(lsn, 0),
                VersionInfo(0, lsn, record.time_ns, 0, record.base_rev, record.root).encode())
    elif isinstance(record, WorkspaceDeleted):
        txn.delete(keys.WORKSPACE_NAMES, keys.workspace_name_key(record.name))
        txn.delete(keys.WORKSPACES, keys.workspace_key(record.ws_id))
        txn.delete(keys.RETENTION, keys.workspace_key(record.ws_id))
        txn.delete(keys.REDIRECTIONS, keys.workspace_key(record.ws_id))
        prefix = keys.ws_prefix(record.ws_id)
        end = keys.ws_prefix(record.ws_id + 1)
        for table in (keys.OVERLAY, keys.VERSIONS, keys.LABELS, keys.WRITERS):
            txn.delete_range(table, prefix, end)
    elif isinstance(record, LabelSet):
        txn.put(keys.LABELS, keys.label_key(record.ws_id, record.label),
                Label(record.label, record.version, record.time_ns).encode())
    elif isinstance(record, LabelRemoved):
        txn.delete(keys.LABELS, keys.label_key(record.ws_id, record.label))
    elif isinstance(record, RetentionSet):
        if record.keep:
            txn.put(keys.RETENTION, keys.workspace_key(record.ws_id), keys.u64(record.keep))
        else:
            txn.delete(keys.RETENTION, keys.workspace_key(record.ws_id))
    elif isinstance(record, VersionsPruned):
        _apply_prune(txn, record)
    elif isinstance(record, RedirectionsSet):
        if record.paths:
            txn.put(keys.REDIRECTIONS, keys.workspace_key(record.ws_id),
                    encode_paths(record.paths))
        else:
            txn.delete(keys.REDIRECTIONS, keys.workspace_key(record.ws_id))
    else:  # pragma: no cover - the record types are closed
        raise CorruptLog(f"no index rule for {type(record).__name__}")


def _apply_commit(txn: KVTxn, lsn: int, record: Committed) -> None:
    state = get_workspace(txn, record.ws_id)
    if state is None:
        raise CorruptLog(f"record {lsn} commits to unknown workspace {record.ws_id}")
    if record.version != state.version + 1:
        raise CorruptLog(f"record {lsn} makes version {record.version} after {state.version}")
    for write in record.writes:
        if write.path == paths.ROOT:
            parent, name = paths.ROOT, ROOT_ENTRY_NAME
        else:
            parent, name = paths.split(write.path)
        value = keys.overlay_value(parent, b"" if write.entry is None else write.entry.encode())
        txn.put(keys.OVERLAY, keys.overlay_key(record.ws_id, parent, name, record.version), value)
    base_rev, root = state.base_rev, state.root
    if record.root is not None and record.base_rev is not None:
        base_rev, root = record.base_rev, record.root
    txn.put(keys.VERSIONS, keys.version_key(record.ws_id, record.version),
            VersionInfo(record.version, lsn, record.time_ns,
                        sum(not is_record_path(w.path) for w in record.writes),  # paths only
                        base_rev, root).encode())
    _put_workspace(txn, WorkspaceState(
        state.id, state.name, state.owner, state.base, base_rev, root,
        record.version, state.created_ns, record.time_ns, state.fork))
    if record.writer is not None:
        writer_id, last_seq = record.writer
        txn.put(keys.WRITERS, keys.writer_key(record.ws_id, writer_id),
                WriterProgress(last_seq, record.version).encode())


def writer_progress(txn: KVTxn, ws_id: int, writer_id: bytes) -> WriterProgress:
    """The writer's last applied seq and its version in `ws_id` (0, 0 if none)."""
    raw = txn.get(keys.WRITERS, keys.writer_key(ws_id, writer_id))
    return WriterProgress(0, 0) if raw is None else WriterProgress.decode(raw)


def redirections(txn: KVTxn, ws_id: int) -> tuple[str, ...]:
    """The local-only directories of `ws_id`, sorted (none: empty)."""
    raw = txn.get(keys.REDIRECTIONS, keys.workspace_key(ws_id))
    return () if raw is None else decode_paths(raw)


def kept_versions(txn: KVTxn, ws_id: int) -> list[int]:
    """The versions of a workspace that are still readable, oldest first."""
    return [keys.read_u64(key, 8) for key, _ in txn.range(
        keys.VERSIONS, keys.ws_prefix(ws_id), keys.ws_prefix(ws_id + 1))]


def kept_versions_from(txn: KVTxn, ws_id: int) -> Iterator[int]:
    """The workspace's readable versions, oldest first, read lazily (the first one
    costs one key)."""
    for key, _ in txn.range(keys.VERSIONS, keys.ws_prefix(ws_id), keys.ws_prefix(ws_id + 1)):
        yield keys.read_u64(key, 8)


def _apply_prune(txn: KVTxn, record: VersionsPruned) -> None:
    """Drop the pruned versions, then every overlay entry no kept version can see.

    An overlay entry written at version u and superseded at version n (n = infinity
    for the newest) is seen by the versions in [u, n); it stays if one is kept.
    """
    for start, end in record.ranges:
        txn.delete_range(keys.VERSIONS, keys.version_key(record.ws_id, start),
                         keys.version_key(record.ws_id, end))
    kept = kept_versions(txn, record.ws_id)
    doomed: list[bytes] = []
    newer: tuple[bytes, int] | None = None
    for key, _ in txn.range(keys.OVERLAY, keys.ws_prefix(record.ws_id), keys.ws_prefix(record.ws_id + 1)):
        # Keys of one path share everything but the ~version suffix, newest first.
        path_key, version = key[:-8], keys.MAX64 - keys.read_u64(key, len(key) - 8)
        superseded_at = newer[1] if newer is not None and newer[0] == path_key else None
        newer = (path_key, version)
        i = bisect.bisect_left(kept, version)
        visible = i < len(kept) and (superseded_at is None or kept[i] < superseded_at)
        if not visible:
            doomed.append(key)
    for key in doomed:
        txn.delete(keys.OVERLAY, key)


class IndexOverlay:
    """The OverlayView of workspace `ws_id` at `version`, read from the overlay index."""

    def __init__(self, txn: KVTxn, ws_id: int, version: int, *, head: bool = False) -> None:
        """`head`: `version` is the workspace's newest, so no key is newer and a seek
        may start at a name's first key. The seek is then the same at every version,
        which a shared store's read cache keeps answering across commits. Only for
        a view read before its transaction writes a newer version."""
        self._txn = txn
        self._ws = ws_id
        self._version = version
        self._cut = b"" if head else keys.inverted_version(version)

    def entry(self, parent: str, name: str) -> Entry | None:
        prefix = keys.overlay_name_prefix(self._ws, parent, name)
        item = self._txn.first_at_or_after(keys.OVERLAY, prefix + self._cut)
        if item is None:
            return None
        key, value = item
        if not value or not key.startswith(prefix):
            return None
        if keys.is_long_parent(parent):
            value = keys.overlay_entry_bytes(parent, value)
        return Entry.decode(value) if value else None

    def children(self, parent: str) -> list[tuple[str, Entry]]:
        """The overlay entries of `parent`'s children at the version, as a list.

        A listing reads them all at once and this is most of its cost, so one pass
        over the scanned keys picks each child's state, and the names and entries
        are then decoded in bulk (`paths.names_from_bytes`, `decode_entries`).
        """
        prefix = keys.overlay_dir_prefix(self._ws, parent)
        start = len(prefix)
        cut = self._cut
        long_parent = keys.is_long_parent(parent)
        at_root = parent == paths.ROOT
        raw_names: list[bytes] = []
        values: list[bytes] = []
        last = None
        for key, value in self._txn.scan(keys.OVERLAY, prefix, prefix[:-1] + b"\1"):
            # key = prefix + name + NUL + ~version, a name's versions newest first.
            raw_name = key[start:-9]
            if raw_name == last or key[-8:] < cut:
                continue  # an older version of a name already answered, or a newer one
            last = raw_name
            if long_parent:
                value = keys.overlay_entry_bytes(parent, value)
            if value and (raw_name or not at_root):
                raw_names.append(raw_name)
                values.append(value)
        return list(zip(paths.names_from_bytes(raw_names), decode_entries(values)))

    def subtree(self, path: str) -> Iterator[tuple[str, Entry]]:
        """Every overlay entry strictly below `path`, newest at the version."""
        for start, end in keys.overlay_subtree_ranges(self._ws, path):
            last = b""
            version_cut = keys.inverted_version(self._version)
            for key, value in self._txn.range(keys.OVERLAY, start, end):
                if key[:-8] == last or key[-8:] < version_cut:
                    continue
                last = key[:-8]
                parent, name, _, entry = keys.split_overlay_item(key, value)
                if not entry or (name == ROOT_ENTRY_NAME and parent == paths.ROOT):
                    continue
                child = paths.join(parent, name)
                if paths.is_within(child, path) and child != path:
                    yield child, Entry.decode(entry)
