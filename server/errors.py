"""The one table that turns citcfs errors into gRPC status codes.

Every servicer method runs inside `status_for`'s mapping (see `servicer.rpc`), so an
exception raised anywhere below (paths, storage, auth) reaches the caller as the
status this table names, with the exception's message as the details. The class
name travels in the trailing metadata key ``citc-error`` and a conflict's paths (as
bytes) in ``citc-conflict-path-bin``, so a client can raise the very same citcfs error type.
Anything not in the table is a bug: it is logged with its traceback and answered
as INTERNAL without leaking internals.
"""

from __future__ import annotations

import grpc

from citcfs import errors, paths

STATUS_BY_ERROR: tuple[tuple[type[BaseException], grpc.StatusCode], ...] = (
    # Most specific first: the first class the exception is an instance of wins.
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),   # bad paths, names, entries
    (errors.NotFound, grpc.StatusCode.NOT_FOUND),                 # workspace, base, path, object
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS),       # the name is taken
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION),  # stale, conflict, truncated
    (errors.ReadOnly, grpc.StatusCode.FAILED_PRECONDITION),       # writing a read-only view
    (errors.CorruptData, grpc.StatusCode.DATA_LOSS),              # an object does not match its id
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),  # over a limit
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),  # not your workspace
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED),    # no or bad token
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE),
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),         # storage lacks the feature
    (errors.CitcError, grpc.StatusCode.UNKNOWN),
)

ERROR_KEY = "citc-error"
CONFLICT_PATH_KEY = "citc-conflict-path-bin"
MAX_CONFLICT_PATHS_IN_METADATA = 100


def status_for(exc: BaseException) -> grpc.StatusCode | None:
    """The status `exc` maps to, or None if it is not an expected error (a bug)."""
    for error_type, code in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return code
    return None


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
