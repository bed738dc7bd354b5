"""Turning citcfs errors into gRPC statuses, with the one table in `citcfs.wire.status`.

Every servicer method runs inside `status_for`'s mapping (see `rpc_base.unary`), so
an exception raised anywhere below (paths, storage, auth) reaches the caller as the
status the table names, with the exception's message as the details. The class
name travels in the trailing metadata key ``citc-error`` and a conflict's paths (as
bytes) in ``citc-conflict-path-bin`` (keys defined in `citcfs.wire.status`, which the
client reads too), so a client can raise the very same citcfs error type. Anything
not in the table is a bug: it is logged with its traceback and answered as INTERNAL
without leaking internals.
"""

from __future__ import annotations

from citcfs import errors, paths
from citcfs.wire.status import (CONFLICT_PATH_KEY, ERROR_KEY, MAX_CONFLICT_PATHS_IN_METADATA,
                           STATUS_BY_ERROR, status_for)

__all__ = ["CONFLICT_PATH_KEY", "ERROR_KEY", "STATUS_BY_ERROR", "conflict_paths_for",
           "details_for", "status_for", "trailers_for"]


def details_for(exc: BaseException) -> str:
    """The message a person reads."""
    if isinstance(exc, errors.CitcError):
        return exc.message
    return str(exc) or type(exc).__name__


def conflict_paths_for(exc: BaseException) -> list[bytes]:
    """A conflict's paths as bytes (so non-UTF-8 names survive), at most 100."""
    if not isinstance(exc, errors.Conflict):
        return []
    return [paths.to_bytes(path) for path in exc.paths[:MAX_CONFLICT_PATHS_IN_METADATA]]


def trailers_for(exc: BaseException) -> tuple[tuple[str, str | bytes], ...]:
    """Trailing metadata that lets a client rebuild the error type (and conflicts)."""
    found: list[tuple[str, str | bytes]] = [(ERROR_KEY, type(exc).__name__)]
    found.extend((CONFLICT_PATH_KEY, raw) for raw in conflict_paths_for(exc))
    return tuple(found)
