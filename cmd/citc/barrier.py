"""The barrier before a command reads a workspace from the server: the mounts of that
workspace on this machine first send what they journaled.

A mount acknowledges writes once they are in its journal; the server has them a few
milliseconds later. `citc snapshot`, `diff`, `status`, `log`, `submit`, `sync` and
`unmount` would otherwise miss what was written just before them. An fsync of a
mount's root returns once the server has everything the mount journaled before it;
each mount's `.citc/status` says which server and workspace it serves and how much
is still waiting.
"""

from __future__ import annotations

import errno
import json
import os
import threading
from dataclasses import dataclass
from typing import Any

from citcfs import errors

from . import context

FLUSH_TIMEOUT_S = float(os.environ.get("CITC_FLUSH_TIMEOUT", "60"))


@dataclass(frozen=True, slots=True)
class MountState:
    """One mount's journal as `.citc/status` reported it before the barrier."""

    mountpoint: str
    pending_ops: int
    conflicts: int
    sync_writes: bool
    last_error: str

    def to_json(self) -> dict[str, Any]:
        return {"mountpoint": self.mountpoint, "pending_ops": self.pending_ops,
                "conflicts": self.conflicts, "sync_writes": self.sync_writes}


def mount_status(mountpoint: str) -> dict[str, Any] | None:
    """What a mount says of itself, or None where it cannot answer (a dead mount)."""
    try:
        with open(os.path.join(mountpoint, ".citc", "status"), "rb") as f:
            found = json.loads(f.read())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def fsync_root(mountpoint: str) -> None:
    """The barrier of a mount: fsync of its root returns once the server has
    everything the mount journaled before it."""
    fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def flush_mounts(workspace: str, timeout: float | None = None) -> list[MountState]:
    """Wait until every mount of `workspace` on this machine that reads from this
    command's server has sent its journal; their states as they were before.

    Unavailable when a mount cannot reach the server within `timeout`.
    """
    found = []
    for mountpoint, status in _serving(workspace):
        state = _state(mountpoint, status)
        _wait(state, FLUSH_TIMEOUT_S if timeout is None else timeout)
        found.append(state)
    return found


def serving_mounts(workspace: str) -> list[str]:
    """The live mounts on this machine that serve `workspace` from this command's
    server, as their `.citc/status` says (dead mounts, mounts of a workspace of that
    name on another server, and mounts whose workspace was deleted are left out)."""
    return [mountpoint for mountpoint, _ in _serving(workspace)]


def _serving(workspace: str) -> list[tuple[str, dict[str, Any]]]:
    """`serving_mounts`, each with the status it answered."""
    address = context.get().address()
    found = []
    for mount in context.citc_mounts():
        if mount.workspace != workspace:
            continue
        status = mount_status(mount.mountpoint)
        if status is None or status.get("workspace") != workspace:
            continue
        if status.get("server") and status["server"] != address:
            continue
        if status.get("workspace_deleted"):
            continue  # serves nothing: the workspace it served was deleted
        found.append((mount.mountpoint, status))
    return found


def flush_mount(mountpoint: str, timeout: float | None = None) -> MountState | None:
    """The barrier for one mount (None if it cannot answer: a dead mount).
    WorkspaceDeleted when its workspace was deleted (it dropped its journal)."""
    status = mount_status(mountpoint)
    if status is None:
        return None
    if status.get("workspace_deleted"):
        raise errors.WorkspaceDeleted(
            f"the workspace of the mount on {mountpoint} was deleted on the server; what "
            f"the mount had not sent was dropped")
    state = _state(mountpoint, status)
    _wait(state, FLUSH_TIMEOUT_S if timeout is None else timeout)
    return state


def _state(mountpoint: str, status: dict[str, Any]) -> MountState:
    return MountState(mountpoint, int(status.get("pending_ops", 0)),
                      int(status.get("conflicts", 0)), bool(status.get("sync_writes")),
                      str(status.get("last_error", "")))


def _wait(state: MountState, timeout: float) -> None:
    failure: list[OSError] = []

    def flush() -> None:
        try:
            fsync_root(state.mountpoint)
        except OSError as exc:
            failure.append(exc)

    thread = threading.Thread(target=flush, name="citc-flush", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise errors.Unavailable(
            f"the mount on {state.mountpoint} has not sent its {state.pending_ops} journaled "
            f"changes to the server within {timeout:g} s"
            + (f" ({state.last_error})" if state.last_error else "")
            + "; they are kept, and sent when the server answers")
    if failure and failure[0].errno == errno.ESTALE:
        raise errors.WorkspaceDeleted(
            f"the workspace of the mount on {state.mountpoint} was deleted on the server "
            f"while it flushed; what the mount had not sent was dropped")
    if failure:
        raise errors.Unavailable(f"cannot flush the mount on {state.mountpoint}: "
                                 f"{failure[0].strerror}")
