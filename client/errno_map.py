"""The one table that turns citcfs errors into errno values for the kernel."""

from __future__ import annotations

import errno

from citcfs import errors

_ERRNO: list[tuple[type[errors.CitcError], int]] = [
    # Most specific first: the first matching class wins.
    (errors.NameTooLong, errno.ENAMETOOLONG),
    (errors.NotADirectory, errno.ENOTDIR),
    (errors.IsADirectory, errno.EISDIR),
    (errors.DirectoryNotEmpty, errno.ENOTEMPTY),
    (errors.InvalidArgument, errno.EINVAL),
    (errors.WorkspaceDeleted, errno.ESTALE),
    (errors.NotFound, errno.ENOENT),
    (errors.AlreadyExists, errno.EEXIST),
    (errors.ReadOnly, errno.EROFS),
    (errors.PermissionDenied, errno.EACCES),
    (errors.Unauthenticated, errno.EACCES),
    (errors.JournalFull, errno.ENOSPC),
    (errors.ResourceExhausted, errno.EFBIG),
    (errors.CorruptData, errno.EIO),
    (errors.Unavailable, errno.EIO),
    (errors.FailedPrecondition, errno.EAGAIN),
]


def to_errno(error: errors.CitcError) -> int:
    """The errno a FUSE operation returns for `error` (EIO when nothing fits)."""
    for cls, code in _ERRNO:
        if isinstance(error, cls):
            return code
    return errno.EIO
