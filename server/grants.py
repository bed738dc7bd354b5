"""Who besides its owner may use a workspace: a small grants file in the data directory.

Grants are server policy, not workspace history, so they live beside the log rather
than in it: ``<data>/grants.json`` maps a workspace *id* (never reused, unlike a name)
to ``{user: "read" | "write"}``. The file is small (one line per grant) and rewritten
atomically (temp file, fsync, rename, fsync of the directory), so a crash leaves the
old or the new version, never a torn one. Deleting a workspace drops its grants.
Should grants ever need history or replication, they become a log record type.
"""

from __future__ import annotations

import enum
import json
import os
import tempfile
import threading

from citcfs.errors import CorruptData, InvalidArgument

FILE_NAME = "grants.json"


class Access(enum.IntEnum):
    """What a user may do with a workspace; each level includes the ones below."""

    NONE = 0
    READ = 1
    WRITE = 2
    OWNER = 3


class GrantStore:
    """The grants of every workspace, loaded in memory and persisted on change."""

    def __init__(self, data_dir: str) -> None:
        self._path = os.path.join(data_dir, FILE_NAME)
        self._lock = threading.Lock()
        self._grants: dict[int, dict[str, Access]] = self._load()

    def _load(self) -> dict[int, dict[str, Access]]:
        try:
            with open(self._path, encoding="utf-8") as f:
                raw = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise CorruptData(f"cannot read {self._path}: {exc}") from exc
        return {int(ws_id): {user: Access[level.upper()] for user, level in users.items()}
                for ws_id, users in raw.items()}

    def _save(self) -> None:
        raw = {str(ws_id): {user: access.name.lower() for user, access in sorted(users.items())}
               for ws_id, users in sorted(self._grants.items()) if users}
        directory = os.path.dirname(self._path)
        fd, temp = tempfile.mkstemp(prefix=".grants.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(raw, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, self._path)
        except BaseException:
            os.unlink(temp)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def access(self, ws_id: int, user: str) -> Access:
        """The access `user` was granted to workspace `ws_id` (NONE if none)."""
        with self._lock:
            return self._grants.get(ws_id, {}).get(user, Access.NONE)

    def grantees(self, ws_id: int) -> dict[str, Access]:
        with self._lock:
            return dict(self._grants.get(ws_id, {}))

    def grant(self, ws_id: int, user: str, access: Access) -> None:
        """Set `user`'s access to `ws_id`; Access.NONE revokes it."""
        if not user:
            raise InvalidArgument("grant to whom? the user name is empty")
        if access not in (Access.NONE, Access.READ, Access.WRITE):
            raise InvalidArgument("grant read or write access, or none to revoke")
        with self._lock:
            users = self._grants.setdefault(ws_id, {})
            if access == Access.NONE:
                users.pop(user, None)
            else:
                users[user] = access
            self._save()

    def drop(self, ws_id: int) -> None:
        """Forget every grant of a deleted workspace."""
        with self._lock:
            if self._grants.pop(ws_id, None) is not None:
                self._save()
