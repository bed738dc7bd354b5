"""Permission rules the kernel leaves to a FUSE filesystem, as pure functions.

With `default_permissions` (every mount sets it) the kernel itself checks who may
read, write, search, chmod, chown and chgrp, clears setgid on a chmod by a caller
outside the file's group, and enforces sticky directories (`may_delete` in the VFS
works on the owners the mount reports). What it leaves to the filesystem:

- **Killing privileges.** Linux drops setuid and setgid on a write, truncate or chown
  by the rules of `setattr_should_drop_suidgid` and `notify_change` (fs/attr.c),
  which ext4 and tmpfs follow:
  - a write or truncate by a caller without `CAP_FSETID` clears setuid, and setgid
    when group-exec is set or the caller is not in the file's group (setgid without
    group-exec once meant mandatory locking, so a member of the group keeps it);
  - a chown (a new owner or group, by anyone) of a non-directory clears setuid
    always, and setgid when group-exec is set or the caller is neither in the
    file's group nor holds `CAP_FSETID`.
  FUSE does part of this itself (libfuse 3.14 does not ask the kernel for
  `HANDLE_KILLPRIV`, so `fuse_setattr` turns the kill into a chmod), but only for setuid
  and setgid-with-group-exec, and not at all for an `O_TRUNC` open (with
  `atomic_o_trunc` it returns before the kill). The mount applies the whole rule;
  where the kernel already did, nothing is left to change. The kernel removes
  `security.capability` itself (it asks for it before each write).
- **Inheriting from a setgid directory.** An entry made in a directory with setgid
  takes the directory's group, and a directory made there takes setgid too
  (`inode_init_owner`). The kernel has already dropped setgid from a new file's
  mode when the caller may not keep it (`mode_strip_sgid`).

`Caller` is who makes a request; `caller_from_proc` reads what the FUSE context
does not carry (supplementary groups, `CAP_FSETID`) from /proc, which is only needed
when a file has setuid or setgid, so the common write costs nothing more.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

CAP_FSETID = 4
"""The bit of CAP_FSETID in /proc/PID/status's CapEff (linux/capability.h)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a request: filesystem uid and gid, supplementary groups, and
    whether it holds CAP_FSETID (may keep setuid/setgid through writes)."""

    uid: int
    gid: int
    groups: frozenset[int] = frozenset()
    fsetid: bool = False

    def in_group(self, gid: int) -> bool:
        return gid == self.gid or gid in self.groups


def needs_caller(mode: int) -> bool:
    """Whether a rule below can depend on the caller for a file with `mode`: only
    setuid and setgid files, so the caller is looked up only for them."""
    return bool(mode & (stat.S_ISUID | stat.S_ISGID))


def _drops_setgid(mode: int, gid: int, caller: Caller) -> bool:
    """`setattr_should_drop_sgid`: setgid goes with group-exec set, or when the
    caller is neither in the file's group nor holds CAP_FSETID."""
    if not mode & stat.S_ISGID:
        return False
    if mode & stat.S_IXGRP:
        return True
    return not (caller.in_group(gid) or caller.fsetid)


def mode_after_write(mode: int, gid: int, caller: Caller) -> int:
    """The permission bits (`st_mode & 0o7777`) of a regular file with group `gid`
    after `caller` wrote to it or truncated it."""
    if caller.fsetid:
        return mode
    if mode & stat.S_ISUID:
        mode &= ~stat.S_ISUID
    if _drops_setgid(mode, gid, caller):
        mode &= ~stat.S_ISGID
    return mode


def mode_after_chown(mode: int, gid: int, caller: Caller, *, is_dir: bool) -> int:
    """The permission bits of an entry with group `gid` after `caller` changed its
    owner or group (a directory keeps them: its setgid is inheritance)."""
    if is_dir:
        return mode
    mode &= ~stat.S_ISUID
    if _drops_setgid(mode, gid, caller):
        mode &= ~stat.S_ISGID
    return mode


def new_owner(parent_mode: int, parent_gid: int, uid: int, gid: int, mode: int,
              *, is_dir: bool) -> tuple[int, int, int]:
    """(uid, gid, permission bits) of an entry a caller with fsuid `uid` and fsgid
    `gid` makes with `mode` in a directory with `parent_mode` and `parent_gid`
    (`inode_init_owner`)."""
    if not parent_mode & stat.S_ISGID:
        return uid, gid, mode
    if is_dir:
        mode |= stat.S_ISGID
    return uid, parent_gid, mode


def parse_proc_status(text: str, uid: int, gid: int) -> Caller:
    """A `Caller` from the text of /proc/PID/status (its `Groups:` and `CapEff:`
    lines) and the fsuid and fsgid the FUSE request carries."""
    groups: frozenset[int] = frozenset()
    fsetid = uid == 0
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "Groups":
            groups = frozenset(int(part) for part in value.split())
        elif key == "CapEff":
            fsetid = bool(int(value.strip(), 16) >> CAP_FSETID & 1)
    return Caller(uid, gid, groups, fsetid)


def caller_from_proc(uid: int, gid: int, pid: int) -> Caller:
    """The caller of a FUSE request, from its context and /proc/PID/status. When the
    process is gone (or pid is 0, a request from the kernel itself), uid 0 counts as
    privileged and nobody else does."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            return parse_proc_status(handle.read(), uid, gid)
    except (OSError, ValueError):
        return Caller(uid, gid, frozenset(), uid == 0)
