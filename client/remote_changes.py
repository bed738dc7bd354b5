"""Changes made elsewhere reaching a mount: the paths another client changed, a
change of this mount the server refused, and a deleted workspace.

The watcher (`client/invalidation.py`) names the paths a new version changed; each
is dropped from the mount's caches and from the kernel's (its attributes, pages and
listing), and so is every path the kernel may hold below one. A path this mount has
changed too and not yet sent is a conflict: the mount's change lands after the
other (last writer wins), and is counted (`conflicts`, shown in `.citc/status`).

The kernel's caches are dropped with `fuse_invalidate_path`, from the watcher's
thread (and, for the other names of a linked file this mount changed, from the
request that changed it: `client/links.py` says why that is safe); `fuse_ptr` is 0
until the mount has started and once it stops, and nothing is sent to the kernel
then.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import CitcError

from .dircache import paths_below
from .flusher import Flusher
from .inodes import InodeNumbers
from .journal import JournalOp, Link, Rename
from .links import LinkNames, expand_records
from .metadata import HeadMetadata
from .redirect import Redirector
from .remote import Remote

log = logging.getLogger("citcfs.client")


class RemoteChanges:
    """Drops what others changed from the mount's caches and the kernel's."""

    def __init__(self, remote: Remote, workspace: str, meta: HeadMetadata, links: LinkNames,
                 redirects: Redirector, inodes: InodeNumbers, flusher: Flusher) -> None:
        self._remote = remote
        self._workspace = workspace
        self._meta = meta
        self._lock = meta.lock
        self._links = links
        self._redirects = redirects
        self._inodes = inodes
        self._flusher = flusher
        self.conflicts = 0
        self.fuse_ptr = 0  # set once mounted

    def drop(self, changed: Sequence[str], truncated: bool) -> None:
        """Others changed these paths (the watcher says): drop them from every cache."""
        changed = expand_records(changed, self._links) + self.refresh_redirections()
        for path in changed:
            if self._meta.is_pending(path, dirs=False) and not truncated:
                # Another client changed a path this mount changed too and has not
                # sent yet: this mount's change lands after it (last writer wins).
                self.conflicts += 1
                log.warning("%r was changed by another client too; this mount's change, "
                            "still in its journal, will replace it", path)
            self._meta.forget(path)
            self.invalidate_kernel(path)
        self.invalidate_kernel_below([paths.ROOT] if truncated else changed)

    def not_applied(self, op: JournalOp, error: CitcError) -> None:
        """The server refused a journaled change (another client changed its paths
        meanwhile): the mount shows the server's state of them."""
        self.conflicts += 1
        log.warning("the server did not apply %s: %s (another client changed it "
                    "meanwhile); showing the server's state", op, error)
        for path in (op.src, op.dst) if isinstance(op, (Rename, Link)) else (op.path,):
            self._meta.forget(path)
            self.invalidate_kernel(path)

    def invalidate_kernel(self, path: str) -> None:
        """Drop the kernel's cache of `path` and its parent (never from a FUSE thread)."""
        if self.fuse_ptr:
            from .fuse_lib import invalidate_path
            invalidate_path(self.fuse_ptr, b"/" + paths.to_bytes(path))
            if path:
                invalidate_path(self.fuse_ptr, b"/" + paths.to_bytes(paths.split(path)[0]))

    def invalidate_attrs(self, path: str) -> None:
        """Drop the kernel's attributes (and pages) of `path` alone: another name of a
        linked file changed its link count or times, and no directory changed."""
        if self.fuse_ptr:
            from .fuse_lib import invalidate_path
            invalidate_path(self.fuse_ptr, b"/" + paths.to_bytes(path))

    def invalidate_kernel_below(self, changed: Sequence[str]) -> None:
        """Drop the kernel's cache of every path it may hold below `changed`."""
        if self.fuse_ptr and changed:
            from .fuse_lib import invalidate_path
            for path in paths_below(self._inodes.head_paths(), set(changed)):
                invalidate_path(self.fuse_ptr, b"/" + paths.to_bytes(path))

    def workspace_gone(self, reason: str) -> None:
        """The workspace was deleted on the server: drop the journal and every cache,
        so paths answer ENOENT and changes ESTALE until the mount is unmounted."""
        self._flusher.abandon(reason)
        with self._lock:  # the root stays: unmounting stats the mountpoint
            root = self._meta.entries.get(paths.ROOT) or Entry.directory(mode=0o755)
            self._meta.forget(paths.ROOT)
            self._meta.remember(paths.ROOT, root)
        self.invalidate_kernel(paths.ROOT)
        self.invalidate_kernel_below([paths.ROOT])

    def settle(self) -> None:
        """Wait (a while) for the batches in flight, whose versions are this mount's."""
        self._flusher.wait_for(self._flusher.sent_seq, timeout=5.0)

    def refresh_redirections(self) -> list[str]:
        """Read the workspace's redirections again (a version made elsewhere may have
        changed them); the paths that start or stop being redirected."""
        try:
            return self._redirects.update(self._remote.redirections(self._workspace))
        except CitcError as exc:
            log.warning("could not read the redirections of %r: %s", self._workspace, exc)
            return []
