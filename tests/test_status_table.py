"""citcfs.wire.status: the one table both edges of the API map errors with."""

from __future__ import annotations

import grpc

from citcfs import errors
from citcfs.client import rpc_errors as rpc
from citcfs.server import errors as server_errors
from citcfs.wire.status import ERROR_BY_STATUS, STATUS_BY_ERROR, status_for


def test_the_client_maps_each_status_back_to_the_error_the_server_answers_it_for() -> None:
    assert ERROR_BY_STATUS == {
        grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
        grpc.StatusCode.NOT_FOUND: errors.NotFound,
        grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
        grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
        grpc.StatusCode.DATA_LOSS: errors.CorruptData,
        grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
        grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
        grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
        grpc.StatusCode.UNAVAILABLE: errors.Unavailable,
        grpc.StatusCode.DEADLINE_EXCEEDED: errors.Unavailable,
    }
    for error_type, code in STATUS_BY_ERROR:
        back = ERROR_BY_STATUS.get(code)
        assert back is None or status_for(back()) == code


def test_both_edges_use_the_same_keys_and_table() -> None:
    assert server_errors.ERROR_KEY == rpc.ERROR_KEY == "citc-error"
    assert server_errors.CONFLICT_PATH_KEY == rpc.CONFLICT_PATH_KEY == "citc-conflict-path-bin"
    assert server_errors.status_for is status_for
    assert rpc.RpcFailed is errors.RpcFailed


def test_a_status_without_a_citcfs_error_is_rpc_failed() -> None:
    failed = rpc._error(grpc.StatusCode.UNIMPLEMENTED, "no such call", "", [])
    assert isinstance(failed, errors.RpcFailed) and failed.code == grpc.StatusCode.UNIMPLEMENTED
    # A trailer naming RpcFailed itself does not make one without a code.
    assert isinstance(rpc._error(grpc.StatusCode.NOT_FOUND, "x", "RpcFailed", []), errors.NotFound)
