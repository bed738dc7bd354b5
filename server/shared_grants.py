"""Grants kept in the shared key-value store, so every server enforces the same access.

With a shared store (etcd) a grants file beside one server's data would be seen by
that server alone. The table ``grants`` (`storage.keys.GRANTS`) holds
``ws id (u64) + user (UTF-8) -> access level (one byte)``; it is policy, not history,
so it is not derived from the log and `rebuild` leaves it alone. Reads go through the
store's read cache (one dict probe while nothing changed); a change is one write
transaction, retried if another server committed first.
"""

from __future__ import annotations

from citcfs.errors import InvalidArgument, Unavailable, WriteConflict
from citcfs.storage import keys
from citcfs.storage.backend import KVStore, KVTxn

from .grants import Access

RETRIES = 50


def _prefix(ws_id: int) -> bytes:
    return keys.workspace_key(ws_id)


class SharedGrantStore:
    """`GrantStore`'s interface over the `grants` table of a shared store."""

    def __init__(self, kv: KVStore) -> None:
        self._kv = kv

    def access(self, ws_id: int, user: str) -> Access:
        with self._kv.read() as txn:
            raw = txn.get(keys.GRANTS, _prefix(ws_id) + user.encode())
        return Access.NONE if raw is None else Access(raw[0])

    def grantees(self, ws_id: int) -> dict[str, Access]:
        start = _prefix(ws_id)
        with self._kv.read() as txn:
            items = txn.scan(keys.GRANTS, start, _prefix(ws_id + 1))
        return {key[len(start):].decode(): Access(value[0]) for key, value in items}

    def grant(self, ws_id: int, user: str, access: Access) -> None:
        """Set `user`'s access to `ws_id`; Access.NONE revokes it."""
        if not user:
            raise InvalidArgument("grant to whom? the user name is empty")
        if access not in (Access.NONE, Access.READ, Access.WRITE):
            raise InvalidArgument("grant read or write access, or none to revoke")
        key = _prefix(ws_id) + user.encode()

        def change(txn: KVTxn) -> None:
            if access == Access.NONE:
                txn.delete(keys.GRANTS, key)
            else:
                txn.put(keys.GRANTS, key, bytes((int(access),)))
        self._write(change)

    def drop(self, ws_id: int) -> None:
        """Forget every grant of a deleted workspace."""
        self._write(lambda txn: txn.delete_range(keys.GRANTS, _prefix(ws_id),
                                                 _prefix(ws_id + 1)))

    def _write(self, change: "object") -> None:
        for _ in range(RETRIES):
            try:
                with self._kv.write() as txn:
                    change(txn)  # type: ignore[operator]
                return
            except WriteConflict:
                continue
        raise Unavailable("the shared store is too contended to change a grant")
