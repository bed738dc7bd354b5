"""The changes chmod, chown and utimens make to an entry (pure; `Namespace.set_attr`
applies and journals them, and moves ctime to now with each).

A change is a function of the current entry (an open file's attributes, or the
entry the mount shows) to the fields it sets, so the same rule serves both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from citcfs.entries import Entry

from . import permissions

Change = Callable[[Entry], dict[str, Any]]
"""The current entry -> the fields a change sets."""

UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2


def chmod_change(mode: int) -> Change:
    """chmod: the permission bits (with setuid, setgid and sticky) become `mode`'s."""
    return lambda _: {"mode": mode & 0o7777}


def chown_change(uid: int, gid: int, caller: Callable[[], permissions.Caller]) -> Change:
    """chown (-1 leaves the owner or group as it is). A new owner or group drops
    setuid and setgid as Linux does (the kernel drops setuid and
    setgid-with-group-exec itself, not the rest). The caller is read (`caller`, from
    /proc) only for such a file (tar chowns every one). ctime moves even when
    nothing else does (a chown to the same owner)."""
    changes: dict[str, Any] = {}
    if uid != -1:
        changes["uid"] = uid
    if gid != -1:
        changes["gid"] = gid

    def change(current: Entry) -> dict[str, Any]:
        if not changes or not permissions.needs_caller(current.mode):
            return changes
        mode = permissions.mode_after_chown(current.mode, current.gid, caller(),
                                            is_dir=current.is_dir)
        return changes if mode == current.mode else {**changes, "mode": mode}
    return change


def utimens_change(times: tuple[int, int] | None, now: int) -> Change | None:
    """utimensat: each of atime and mtime set to a time, to `now` (UTIME_NOW, or no
    `times`), or left (UTIME_OMIT); None when both are left, as then nothing
    changes, not even ctime."""
    atime, mtime = (now, now) if times is None else times
    if atime == UTIME_OMIT and mtime == UTIME_OMIT:
        return None

    def change(current: Entry) -> dict[str, Any]:
        chosen = {}
        for field, value in (("atime_ns", atime), ("mtime_ns", mtime)):
            if value != UTIME_OMIT:
                chosen[field] = now if value == UTIME_NOW else int(value)
        chosen.setdefault("atime_ns", current.st_atime_ns)
        return chosen
    return change
