"""The read-only views of a mount under `.citc`: old versions, snapshots and the
generated files.

`.citc/versions/<N>/` and `.citc/snapshots/<label>/` in the root show the workspace
as it was (`.citc` is reachable by name but not listed, like ZFS's hidden `.zfs`);
they never change, so their entries and listings are cached without bound, and
writes there fail with EROFS. `.citc/status` and `.citc/stats` are generated when
opened (JSON; read with direct I/O, so the kernel caches neither).
"""

from __future__ import annotations

import errno
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import CitcError

from .errno_map import to_errno
from .fuse_lib import FuseOSError
from .remote import Remote

HISTORY_DIR = ".citc"
STATUS_FILE = HISTORY_DIR + "/status"
VOLATILE_LISTINGS = ("/" + HISTORY_DIR, f"/{HISTORY_DIR}/versions", f"/{HISTORY_DIR}/snapshots")
"""Directories whose listings change with no changed path to invalidate (FUSE paths)."""
STATUS_VIEW = -2
"""The View version of `.citc/status`: a generated file, read with direct I/O."""
STATS_FILE = HISTORY_DIR + "/stats"
STATS_VIEW = -3
"""`.citc/stats`: the mount's metrics as JSON (`client.metrics`), generated likewise."""
GENERATED = {STATUS_FILE: STATUS_VIEW, STATS_FILE: STATS_VIEW}


@dataclass(frozen=True, slots=True)
class View:
    """Which state a path shows: the head (version None) or a fixed version.

    Versions below 0 are `.citc` itself: -1 its folders, and the generated files
    (`STATUS_VIEW`, `STATS_VIEW`).
    """

    version: int | None
    path: str


class HistoryViews:
    """Kernel paths to views, and the entries and listings of the fixed ones.

    `call` runs a `Remote` method with its errors as FuseOSError; `fetch_entry`
    is one Lookup (the entry, or None where the path does not exist). The caches
    share the mount's metadata lock (`lock`), never held across a call.
    """

    def __init__(self, remote: Remote, workspace: str, lock: threading.RLock,
                 call: Callable[..., Any],
                 fetch_entry: Callable[[str, int | None], Entry | None],
                 status: Callable[[], dict[str, Any]],
                 stats: Callable[[], dict[str, Any]]) -> None:
        self._remote = remote
        self._workspace = workspace
        self._lock = lock
        self._call = call
        self._fetch_entry = fetch_entry
        self._status = status
        self._stats = stats
        self._mounted_ns = time.time_ns()
        self._entries: dict[tuple[int, str], Entry | None] = {}
        self._listings: dict[tuple[int, str], dict[str, Entry]] = {}
        self._labels: dict[str, int] = {}
        self._version_times: dict[int, int] = {}

    def view(self, fuse_path: str) -> View:
        """Which state and workspace path a kernel path names; ENOENT for bad ones."""
        try:
            # Kernel paths are absolute: without the "/", a canonical one is answered
            # by normalize's one-match fast path.
            path = paths.normalize(fuse_path[1:] if fuse_path[:1] == "/" else fuse_path)
        except CitcError as exc:
            raise FuseOSError(to_errno(exc)) from None
        if path != HISTORY_DIR and not path.startswith(HISTORY_DIR + "/"):
            return View(None, path)
        parts = path.split("/")
        if len(parts) == 1 or (len(parts) == 2 and parts[1] in ("versions", "snapshots")):
            return View(-1, path)  # .citc itself, or .citc/versions, .citc/snapshots
        if path in GENERATED:
            return View(GENERATED[path], path)
        if len(parts) == 2:
            raise FuseOSError(errno.ENOENT)
        kind, ref, rest = parts[1], parts[2], "/".join(parts[3:])
        if kind == "versions" and ref.isdigit():
            return View(int(ref), rest)
        if kind == "snapshots":
            version = self.label_version(ref)
            if version is not None:
                return View(version, rest)
        raise FuseOSError(errno.ENOENT)

    def writable(self, fuse_path: str) -> str:
        """The head path a change names; EROFS anywhere in `.citc`, also for names
        that do not exist there (mkdir .citc/x)."""
        if fuse_path.lstrip("/").split("/", 1)[0] == HISTORY_DIR:
            raise FuseOSError(errno.EROFS)
        view = self.view(fuse_path)
        if view.version is not None:
            raise FuseOSError(errno.EROFS)
        return view.path

    def label_version(self, label: str) -> int | None:
        """The version snapshot `label` names, asking the server when not known."""
        with self._lock:
            if label in self._labels:
                return self._labels[label]
        labels = self._call(self._remote.labels, self._workspace)
        with self._lock:
            self._labels = dict(labels)
            return self._labels.get(label)

    def known_label(self, label: str) -> int:
        """The version of a snapshot label listed already, else -1."""
        return self._labels.get(label, -1)

    def entry(self, version: int, path: str) -> Entry:
        """The entry of `path` in a fixed view; FuseOSError(ENOENT) if none."""
        if version in (STATUS_VIEW, STATS_VIEW):
            return Entry.file(b"", mode=0o444, mtime_ns=self._mounted_ns)
        if version < 0:  # .citc and its two folders
            return Entry.directory(mode=0o555, mtime_ns=self._mounted_ns)
        key = (version, path)
        with self._lock:
            if key in self._entries:
                found = self._entries[key]
                if found is None:
                    raise FuseOSError(errno.ENOENT)
                return found
        entry = self._fetch_entry(path, version)
        if entry is not None and path == paths.ROOT:
            entry = self._at_version_time(entry, version)
        with self._lock:
            self._entries[key] = entry
        if entry is None:
            raise FuseOSError(errno.ENOENT)
        return entry

    def _at_version_time(self, root: Entry, version: int) -> Entry:
        """The root entry of a version's view, showing when that version was made
        (its tree keeps no time of its own)."""
        made = self._version_time(version)
        if made is None:
            return root
        return root.replace(mtime_ns=made, atime_ns=None, ctime_ns=None)

    def _version_time(self, version: int) -> int | None:
        with self._lock:
            if version in self._version_times:
                return self._version_times[version]
        times = self._call(self._remote.version_times, self._workspace, version)
        with self._lock:
            self._version_times.update(times)
            return self._version_times.get(version)

    def listing(self, view: View) -> dict[str, Entry]:
        """The names in a directory of a fixed view, or of `.citc` and its folders."""
        if view.version == -1:
            if view.path == HISTORY_DIR:
                return {"snapshots": Entry.directory(mode=0o555),
                        "versions": Entry.directory(mode=0o555),
                        "status": Entry.file(b"", mode=0o444),
                        "stats": Entry.file(b"", mode=0o444)}
            if view.path == HISTORY_DIR + "/versions":
                times = self._call(self._remote.version_times, self._workspace)
                with self._lock:
                    self._version_times.update(times)
                return {str(v): Entry.directory(mode=0o555, mtime_ns=t) for v, t in times.items()}
            if view.path == HISTORY_DIR + "/snapshots":
                labels = self._call(self._remote.labels, self._workspace)
                with self._lock:
                    self._labels = dict(labels)
                return {label: Entry.directory(mode=0o555) for label in labels}
            raise FuseOSError(errno.ENOENT)
        assert view.version is not None
        key = (view.version, view.path)
        with self._lock:
            if key in self._listings:
                return self._listings[key]
        items = dict(self._call(self._remote.listdir, self._workspace, view.path, view.version))
        with self._lock:
            self._listings[key] = items
        return items

    def content(self, view: View) -> bytes | None:
        """What a generated file holds now (fixed when it is opened), else None."""
        if view.version == STATUS_VIEW:
            return (json.dumps(self._status(), indent=1) + "\n").encode()
        if view.version == STATS_VIEW:
            return (json.dumps(self._stats(), indent=1) + "\n").encode()
        return None
