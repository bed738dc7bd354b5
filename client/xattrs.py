"""Extended attributes in a mount: the rules setxattr and removexattr follow, as
changes to an entry (pure; `Namespace.set_attr` applies and journals them).

Attributes live in the entry (`Entry.xattrs`), so a read is answered from memory:
the kernel asks for `security.capability` before every write. The errors are the
ones Linux gives (ext4's, where filesystems differ).
"""

from __future__ import annotations

import errno
from typing import Any

from citcfs import paths
from citcfs.entries import (XATTR_NAME_MAX, XATTR_NAMESPACES, XATTR_VALUE_MAX, XATTRS_TOTAL_MAX,
                            Entry, with_xattr)

from .attr_changes import Change
from .fuse_lib import FuseOSError

XATTR_CREATE = 1
XATTR_REPLACE = 2



def check_name(name: bytes) -> None:
    """The errno Linux gives for a name setxattr cannot take: ERANGE for a long one,
    ENOTSUP outside the user., trusted. and security. namespaces."""
    if not name or len(name) > XATTR_NAME_MAX:
        raise FuseOSError(errno.ERANGE)
    if not any(name.startswith(ns.encode()) and len(name) > len(ns) for ns in XATTR_NAMESPACES):
        raise FuseOSError(errno.ENOTSUP)


def value_of(xattrs: tuple[tuple[bytes, bytes], ...], name: str) -> bytes | None:
    """The value of attribute `name` among `xattrs`, or None."""
    if not xattrs:
        return None
    raw = paths.to_bytes(name)
    for key, value in xattrs:
        if key == raw:
            return value
    return None


def names(xattrs: tuple[tuple[bytes, bytes], ...]) -> list[str]:
    """The names listxattr shows."""
    return [paths.from_bytes(key) for key, _ in xattrs]


def set_change(name: str, value: bytes, options: int) -> Change:
    """The change setxattr makes; the errors of a bad name or value at once, those
    that depend on the entry (EEXIST, ENODATA, ENOSPC) when it is applied."""
    raw = paths.to_bytes(name)
    check_name(raw)
    if len(value) > XATTR_VALUE_MAX:
        raise FuseOSError(errno.E2BIG)

    def change(current: Entry) -> dict[str, Any]:
        exists = current.xattr(raw) is not None
        if options & XATTR_CREATE and exists:
            raise FuseOSError(errno.EEXIST)
        if options & XATTR_REPLACE and not exists:
            raise FuseOSError(errno.ENODATA)
        xattrs = with_xattr(current.xattrs, raw, bytes(value))
        if sum(len(k) + len(v) for k, v in xattrs) > XATTRS_TOTAL_MAX:
            raise FuseOSError(errno.ENOSPC)  # as ext4 answers when they do not fit
        return {"xattrs": xattrs}
    return change


def remove_change(name: str) -> Change:
    """The change removexattr makes (ENODATA when it is applied to an entry without
    that attribute)."""
    raw = paths.to_bytes(name)

    def change(current: Entry) -> dict[str, Any]:
        if current.xattr(raw) is None:
            raise FuseOSError(errno.ENODATA)
        return {"xattrs": with_xattr(current.xattrs, raw, None)}
    return change
