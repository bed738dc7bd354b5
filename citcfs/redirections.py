"""Redirections: directories of a workspace that live on each mount's local disk only.

Build outputs (`build/`, `node_modules/`, `target/`) change constantly, are large and
are worth nothing in a workspace's history, so a workspace may name directories
that mounts keep on local disk (as EdenFS's redirections): nothing under them is
journaled, sent to the server or made into a version. The list is kept per
workspace on the server (`RedirectionsSet` records) so that every mount agrees.

This module holds the rules both sides apply: which paths may be redirected, how a
list changes (`updated`), and which redirection a path falls in (`find`). All pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import paths
from .errors import AlreadyExists, InvalidArgument, InvalidPath, PathNotFound

HISTORY_DIR = ".citc"
"""The read-only history view in every mount's root; never redirected."""


def check_path(path: str) -> str:
    """The canonical form of a path that may be redirected, else InvalidPath.

    The root cannot be (the whole workspace would be local) and neither can `.citc`
    or anything below it (the mount's view of the workspace's history).
    """
    canonical = paths.normalize(path)
    if canonical == paths.ROOT:
        raise InvalidPath("cannot redirect the workspace root: name a directory inside it")
    if paths.is_within(canonical, HISTORY_DIR):
        raise InvalidPath(f"cannot redirect {canonical!r}: .citc shows the workspace's "
                          "history and is never local")
    return canonical


def _overlap(path: str, others: Iterable[str]) -> str | None:
    """A redirection of `others` that `path` is inside of or holds, if any."""
    for other in others:
        if paths.is_within(path, other) or paths.is_within(other, path):
            return other
    return None


def updated(current: Iterable[str], add: Iterable[str] = (),
            remove: Iterable[str] = ()) -> tuple[str, ...]:
    """`current` after removing `remove` and adding `add`, sorted.

    Raises PathNotFound for a removed path that is not redirected, AlreadyExists for
    an added one that already is, and InvalidArgument for an added one that lies
    inside another redirection or holds one (a redirection is one local directory,
    so they never nest).
    """
    result = set(current)
    for path in remove:
        canonical = paths.normalize(path)
        if canonical not in result:
            raise PathNotFound(f"{canonical!r} is not redirected")
        result.discard(canonical)
    for path in add:
        canonical = check_path(path)
        if canonical in result:
            raise AlreadyExists(f"{canonical!r} is already redirected")
        other = _overlap(canonical, result)
        if other is not None:
            where = "inside" if paths.is_within(canonical, other) else "above"
            raise InvalidArgument(f"cannot redirect {canonical!r}: it is {where} the "
                                  f"redirection {other!r}, and redirections cannot nest")
        result.add(canonical)
    return tuple(sorted(result, key=paths.to_bytes))


def find(redirections: Iterable[str], path: str) -> tuple[str, str] | None:
    """(the redirection `path` lies in, `path` relative to it: "" for itself), or None."""
    for root in redirections:
        if path == root:
            return root, ""
        if path.startswith(root) and path[len(root):len(root) + 1] == "/":
            return root, path[len(root) + 1:]
    return None
