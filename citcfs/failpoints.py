"""Named failpoints on the write path, for crash tests (as etcd's gofail).

A failpoint names a boundary between two steps of a write, where a crash must leave
the data whole: what was acknowledged is kept, and nothing half-done shows.

- `objects-stored` (storage): a version's new objects are stored, its record not yet
  appended. A crash leaves unreferenced objects, which GC takes.
- `record-appended` (storage): the record is in the log's transaction, the indexes
  not yet updated. A crash leaves nothing: the transaction never commits.
- `commit-durable` (storage): a batch's transaction is durable, no caller answered
  yet. A crash leaves commits their writers never heard of (a resent writer batch
  applies once).
- `journal-before-flush` (client): changes are in the mount's journal, and answered,
  the batch not yet sent. The next mount of the workspace replays the journal.

`CITCFS_FAILPOINTS="name=action[@hit],..."` turns them on in a process (tests set it
in a server's or a mount daemon's environment). Actions: `kill` (SIGKILL of the
process itself) and `exit` (`os._exit(EXIT_CODE)`, no cleanup, no flush). With `@N`
the failpoint acts on its N-th pass, and lets the earlier ones go (default 1).

Each call site resolves its failpoint once, at import: with the variable unset that is
`_off`, an empty function, so a failpoint costs one call of nothing.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable

from .errors import InvalidArgument

ENV = "CITCFS_FAILPOINTS"
EXIT_CODE = 86
"""The exit code of the `exit` action, which a test can tell from any other death."""

NAMES = frozenset({"objects-stored", "record-appended", "commit-durable",
                   "journal-before-flush"})
ACTIONS = frozenset({"kill", "exit"})


def _off() -> None:
    """A failpoint that is off."""


def parse(spec: str) -> dict[str, tuple[str, int]]:
    """`name=action[@hit],...` as {name: (action, hit)}; InvalidArgument if malformed
    or naming a failpoint that does not exist (a typo must not pass silently)."""
    points: dict[str, tuple[str, int]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, rest = item.partition("=")
        action, _, hit = rest.partition("@")
        if not sep or name not in NAMES or action not in ACTIONS or (hit and not hit.isdigit()):
            raise InvalidArgument(f"{ENV}: {item!r} is not name=action[@hit] with a name in "
                                  f"{sorted(NAMES)} and an action in {sorted(ACTIONS)}")
        points[name] = (action, int(hit or 1))
    return points


def _act(action: str) -> None:
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(EXIT_CODE)


def failpoint(name: str, spec: str | None = None) -> Callable[[], None]:
    """The failpoint `name` as configured by `spec` (default: the environment): `_off`,
    or a function that acts on its configured pass."""
    if name not in NAMES:
        raise InvalidArgument(f"unknown failpoint {name!r}")
    points = parse(os.environ.get(ENV, "") if spec is None else spec)
    if name not in points:
        return _off
    action, hit = points[name]
    passes = 0
    lock = threading.Lock()

    def point() -> None:
        nonlocal passes
        with lock:
            passes += 1
            if passes == hit:
                _act(action)
    return point
