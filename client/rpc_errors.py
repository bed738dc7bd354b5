"""The citcfs error a failed call stands for, rebuilt on the client's side.

The server names the error in the ``citc-error`` trailer (and a commit of a
CommitStream in its CommitError); a server or proxy that sent none is read by its
status code. Both go through `citcfs.wire.status`, the table the server answers with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from citcfs import errors, paths
from citcfs.errors import RpcFailed
from citcfs.protos import citc_pb2 as pb
from citcfs.wire.status import CONFLICT_PATH_KEY, ERROR_BY_STATUS, ERROR_KEY, STATUS_BY_NUMBER


def error_from_rpc(exc: grpc.RpcError) -> errors.CitcError:
    """The citcfs error a failed call stands for."""
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = (exc.details() if hasattr(exc, "details") else None) or str(code)
    # (key, value) pairs at run time, whatever the stubs say of their type
    trailers: Any = (exc.trailing_metadata() if hasattr(exc, "trailing_metadata")
                     else None) or ()
    name = next((str(v) for k, v in trailers if k == ERROR_KEY), "")
    conflicts = [bytes(v) for k, v in trailers if k == CONFLICT_PATH_KEY]
    return _error(code, details, name, conflicts)


def error_from_commit_error(msg: pb.CommitError) -> errors.CitcError:
    """The citcfs error one commit of a CommitStream got."""
    code = STATUS_BY_NUMBER.get(msg.code, grpc.StatusCode.UNKNOWN)
    return _error(code, msg.message or str(code), msg.error, list(msg.conflict_paths))


def _error(code: grpc.StatusCode, details: str, name: str,
           conflicts: Sequence[bytes]) -> errors.CitcError:
    """The error of type `name` if citcfs has one, else the one the status code means."""
    error_type = getattr(errors, name, None)
    if not (isinstance(error_type, type) and issubclass(error_type, errors.CitcError)
            and error_type is not RpcFailed):
        error_type = ERROR_BY_STATUS.get(code)
    if error_type is None:
        return RpcFailed(f"{code.name}: {details}", code)
    if issubclass(error_type, errors.Conflict):
        return errors.Conflict(details, paths=tuple(paths.from_bytes(raw) for raw in conflicts))
    return error_type(details)
