"""Following the workspace on the server: the watch stream and catching up.

The server announces each workspace's newest version on a `Watch` stream (coalesced,
never one message per commit). For a version this mount did not make, the watcher
asks `Changes(since)` and hands the changed paths to the mount, which drops them
from its caches and the kernel's. A lost message costs only latency: the next one,
or a reconnect from the last known version, catches up. Versions the mount made
itself are recognised (`own`) and cost nothing.

When the workspace is deleted on the server (the stream says so, or the server no
longer knows it), the watcher logs it once, tells the mount (`gone`) and stops:
there is nothing left to follow.

The watcher runs in a thread of its own that never serves a FUSE request, so the
kernel invalidations it triggers cannot deadlock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from citcfs import paths
from citcfs.errors import CitcError, WorkspaceNotFound

from .metrics import MountMetrics
from .remote import Remote

log = logging.getLogger("citcfs.client")

Dropped = Callable[[Sequence[str], bool], None]
"""drop(changed paths, truncated): the mount forgets them (everything when truncated)."""


class Watcher:
    """Keeps `known_version` up with the server and reports what others changed."""

    def __init__(self, remote: Remote, workspace: str, version: int, *,
                 drop: Dropped, settle: Callable[[], None] = lambda: None,
                 gone: Callable[[str], None] = lambda reason: None,
                 metrics: MountMetrics | None = None) -> None:
        self.remote = remote
        self.metrics = metrics or MountMetrics()
        self.workspace = workspace
        self.known_version = version
        self._drop = drop
        self._settle = settle
        self._gone = gone
        self._lock = threading.Lock()
        self._own: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def own(self, version: int) -> None:
        """This mount made `version`: catching up past it changes nothing."""
        with self._lock:
            self._own.add(version)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="citcfs-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        delay = 0.05
        while not self._stop.is_set():
            try:
                for _, version in self.remote.watch({self.workspace: self.known_version}):
                    delay = 0.05
                    if self._stop.is_set():
                        return
                    if version > self.known_version:
                        self.metrics.watch_events.inc()
                        self.catch_up(version)
            except WorkspaceNotFound as exc:
                log.error("workspace %r is gone from the server (%s): this mount now answers "
                          "ENOENT or ESTALE; unmount it (citc unmount DIR)",
                          self.workspace, exc.message)
                self._gone(exc.message)
                return
            except CitcError as exc:
                log.info("watch stream ended (%s); reconnecting", exc)
            except Exception:  # a broken stream must never kill invalidation
                log.exception("watch stream failed; reconnecting")
            self._stop.wait(delay)
            delay = min(delay * 2, 2.0)

    def catch_up(self, version: int) -> None:
        """Bring the mount from `known_version` to `version`."""
        since = self.known_version
        # The server may announce a version of this mount before its answer arrives:
        # `settle` waits for what is in flight, so as not to take it for others'.
        self._settle()
        with self._lock:
            own = all(v in self._own for v in range(since + 1, version + 1))
        if own:
            self.known_version = max(self.known_version, version)
            return
        try:
            changes = self.remote.changes(self.workspace, since)
        except CitcError as exc:
            log.warning("could not read changes since %d: %s", since, exc)
            return
        self._drop([paths.ROOT] if changes.truncated else list(changes.paths), changes.truncated)
        self.metrics.invalidations.inc()
        if changes.truncated:
            self.metrics.full_invalidations.inc()
        else:
            self.metrics.invalidated_paths.inc(len(changes.paths))
        with self._lock:
            self._own = {v for v in self._own if v > changes.version}
        self.known_version = max(self.known_version, changes.version)
