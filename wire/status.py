"""The error contract of the citc.v1 API, shared by both of its edges.

One table (`STATUS_BY_ERROR`) names the gRPC status code each citcfs error is
answered with; the server maps with it (`citcfs.server.errors`) and the client maps
back with `ERROR_BY_STATUS`, which is derived from it, so the two cannot drift. The
class name of the error travels in the trailing metadata key `ERROR_KEY`, and a
conflict's paths (as bytes) in `CONFLICT_PATH_KEY`, so that a client raises the very
same citcfs error type; the table is the fallback for a server or proxy that sent
no trailer.
"""

from __future__ import annotations

import grpc

from citcfs import errors

ERROR_KEY = "citc-error"
"""Trailing metadata: the class name of the citcfs error a call failed with."""

CONFLICT_PATH_KEY = "citc-conflict-path-bin"
"""Trailing metadata, repeated: a conflict's paths as bytes (non-UTF-8 names survive)."""

MAX_CONFLICT_PATHS_IN_METADATA = 100

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
    (NotImplementedError, grpc.StatusCode.UNIMPLEMENTED),         # a call not offered
    (errors.CitcError, grpc.StatusCode.UNKNOWN),
)


def _error_by_status() -> dict[grpc.StatusCode, type[errors.CitcError]]:
    """The reverse of STATUS_BY_ERROR: for each code, the first (most general of its
    code, as the table lists them) citcfs error answered with it. UNKNOWN (any
    CitcError) and UNIMPLEMENTED (not a citcfs error) have none: a client reports
    them as `RpcFailed`. A deadline the client set is the server being unavailable."""
    found: dict[grpc.StatusCode, type[errors.CitcError]] = {}
    for error_type, code in STATUS_BY_ERROR:
        if (issubclass(error_type, errors.CitcError) and error_type is not errors.CitcError
                and code not in found):
            found[code] = error_type
    found[grpc.StatusCode.DEADLINE_EXCEEDED] = errors.Unavailable
    return found


ERROR_BY_STATUS: dict[grpc.StatusCode, type[errors.CitcError]] = _error_by_status()
"""The citcfs error a status code stands for when no `ERROR_KEY` trailer names one."""

STATUS_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
"""Status codes by their number (as `CommitError.code` carries them)."""


def status_for(exc: BaseException) -> grpc.StatusCode | None:
    """The status `exc` maps to, or None if it is not an expected error (a bug)."""
    for error_type, code in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return code
    return None
