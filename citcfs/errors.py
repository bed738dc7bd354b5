"""The exceptions every part of citcfs raises.

Each class is one kind of failure a user can meet. The edges translate them once:
`citcfs.server` maps them to gRPC status codes, `citcfs.client` to errno values, and
`citcfs.cmd` to exit codes. Inside, code raises these and nothing else for expected
failures, so a message reaches the user unchanged from where the problem was found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import grpc


class CitcError(Exception):
    """Something went wrong in citcfs."""

    #: what `citcfs.cmd` exits with: 1 for user errors, 3 unreachable, 4 conflict.
    exit_code: int = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or type(self).__name__).strip())

    @property
    def message(self) -> str:
        """The one line shown to a person."""
        return str(self.args[0])


class InvalidArgument(CitcError):
    """The request is malformed."""


class InvalidPath(InvalidArgument):
    """The path is not valid."""


class NameTooLong(InvalidPath):
    """A name is longer than 255 bytes or a path longer than 4096 bytes."""


class NotFound(CitcError):
    """Not found."""


class WorkspaceNotFound(NotFound):
    """No such workspace."""


class WorkspaceDeleted(WorkspaceNotFound):
    """The workspace this mount serves was deleted on the server."""


class BaseNotFound(NotFound):
    """No such base or base revision."""


class PathNotFound(NotFound):
    """No such file or directory."""


class SnapshotNotFound(NotFound):
    """No such snapshot label."""


class ObjectMissing(NotFound):
    """An object named by the request is not in the object store."""


class AlreadyExists(CitcError):
    """The name is taken."""


class NotADirectory(InvalidArgument):
    """A path component is not a directory."""


class IsADirectory(InvalidArgument):
    """The path is a directory."""


class DirectoryNotEmpty(InvalidArgument):
    """The directory is not empty."""


class FailedPrecondition(CitcError):
    """The operation is not possible in the current state."""


class StaleVersion(FailedPrecondition):
    """The workspace has moved past the expected version."""


class Conflict(FailedPrecondition):
    """The change conflicts with changes in the base."""

    exit_code = 4

    def __init__(self, message: str | None = None, paths: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.paths = paths


class OutOfSequence(FailedPrecondition):
    """A writer batch does not follow the last batch applied for its writer."""


class HistoryTruncated(FailedPrecondition):
    """The log no longer holds the requested range of versions."""


class NotForked(FailedPrecondition):
    """The workspace was not forked from another, so it has no fork point."""


class ReadOnly(CitcError):
    """This view is read-only."""


class CorruptData(CitcError):
    """Stored data failed its integrity check."""


class CorruptObject(CorruptData):
    """An object's content does not match its id."""


class CorruptLog(CorruptData):
    """A log record failed its checksum or could not be decoded."""


class ResourceExhausted(CitcError):
    """The request is larger than the server accepts."""


class PermissionDenied(CitcError):
    """You are not allowed to do that."""


class Unauthenticated(CitcError):
    """The request carries no valid credentials."""


class JournalFull(ResourceExhausted):
    """A mount's write journal holds as much as it may while the server is away."""


class Unavailable(CitcError):
    """The server cannot be reached."""

    exit_code = 3


class WriteConflict(Unavailable):
    """Another server committed to the shared store after this transaction read it:
    the transaction was not applied, and its jobs are planned again."""


class TxnTooLarge(ResourceExhausted):
    """A transaction exceeds the store's limits on operations or request bytes."""


class RpcFailed(CitcError):
    """The server answered with a status citcfs has no error type for."""

    def __init__(self, message: str, code: grpc.StatusCode) -> None:
        super().__init__(message)
        self.code = code
