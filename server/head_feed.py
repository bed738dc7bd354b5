"""Feeding a server's Watch hub from the shared store's watch on workspace heads.

With LMDB, a server's own commits are all there are, and `Database.add_listener`
tells the hub of each. With a shared store other servers commit too: every change of
a workspace's state (`storage.keys.WORKSPACES`: its version, or its deletion) arrives
through the store's watch (`storage.etcd_cache.PrefixWatch`), already applied to the
read cache, and is published to this server's hub, so clients of every server learn
of every commit. Local commits are still published at once by the listener; the hub
drops the second, older-or-equal notice of the same version. When the watch lost
history (etcd compacted it), every workspace's current head is published again.
"""

from __future__ import annotations

from collections.abc import Callable

from citcfs.storage import Database, keys
from citcfs.storage.etcd_backend import EtcdKVStore
from citcfs.storage.etcd_cache import Change
from citcfs.storage.index_values import WorkspaceState

from .hub import InvalidationHub


def feed_hub(db: Database, hub: InvalidationHub) -> Callable[[], None] | None:
    """Start feeding `hub` from `db`'s shared store; the function that stops it
    (None when the store is not shared)."""
    kv = db.kv
    if not isinstance(kv, EtcdKVStore):
        return None
    head = kv.table_prefix(keys.WORKSPACES)

    def on_changes(changes: list[Change]) -> None:
        for change in changes:
            if not change.key.startswith(head):
                continue
            if change.value is not None:
                state = WorkspaceState.decode(change.value)
                hub.published(state.name, state.version)
            elif change.previous is not None:
                hub.deleted(WorkspaceState.decode(change.previous).name)

    def resync() -> None:
        for state in db.list_workspaces():
            hub.published(state.name, state.version)

    watch = kv.watch()
    watch.add_listener(on_changes, resync)
    return lambda: watch.remove_listener(on_changes)
