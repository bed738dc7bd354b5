"""Reads of a mount from the server, answered as FUSE wants them: entries of the head
through its metadata cache, and every error as an errno.

A path that does not exist is the usual answer (the kernel asks for every name
before it is created), so it is None here, not an exception; other errors become
FuseOSError with the errno of `client/errno_map.py` (EIO ones logged).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from citcfs.entries import Entry
from citcfs.errors import (CitcError, HistoryTruncated, InvalidArgument, NotADirectory,
                           PathNotFound)

from .errno_map import to_errno
from .fuse_lib import FuseOSError
from .metadata import HeadMetadata
from .remote import Remote

log = logging.getLogger("citcfs.client")


class Lookups:
    """The server's answers for one workspace, counted (`rpc_count`)."""

    def __init__(self, remote: Remote, workspace: str, meta: HeadMetadata) -> None:
        self._remote = remote
        self._workspace = workspace
        self._meta = meta
        self.rpc_count = 0

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` (a `Remote` method), its errors as FuseOSError."""
        self.rpc_count += 1
        try:
            return fn(*args, **kwargs)
        except CitcError as exc:
            code = to_errno(exc)
            if code == errno.EIO:
                log.error("%s failed: %s", getattr(fn, "__name__", "call"), exc)
            raise FuseOSError(code) from None

    def fetch_entry(self, path: str, version: int | None) -> Entry | None:
        """One Lookup: the entry, None where the path does not exist, else the errno."""
        self.rpc_count += 1
        try:
            return self._remote.lookup(self._workspace, path, version)
        except (PathNotFound, NotADirectory):
            return None
        except CitcError as exc:
            if version is not None and type(exc) in (HistoryTruncated, InvalidArgument):
                # No such version (not yet, or no longer): .citc/versions/<N> does not
                # exist. Not cached, since a version past the head may exist later.
                raise FuseOSError(errno.ENOENT) from None
            raise FuseOSError(to_errno(exc)) from None

    def head_entry_or_none(self, path: str) -> Entry | None:
        """The head's entry of `path` (cached, pending or fetched), None if none."""
        return self._meta.entry(path, lambda missing: self.fetch_entry(missing, None))

    def head_entry(self, path: str) -> Entry:
        """The head's entry of `path`; FuseOSError(ENOENT) if it does not exist."""
        entry = self.head_entry_or_none(path)
        if entry is None:
            raise FuseOSError(errno.ENOENT)
        return entry

    def head_listing(self, path: str) -> dict[str, Entry]:
        """The head's listing of directory `path` (cached, or fetched)."""
        return self._meta.listing(
            path, lambda missing: self.call(self._remote.listdir, self._workspace, missing))
