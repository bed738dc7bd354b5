"""Importing a local directory as a base revision through the API.

The client builds the trees itself (`citcfs.local_tree`), asks the server which
objects it lacks, uploads only those, and finally names the root tree: a re-import
of a tree the server mostly has costs little more than hashing it.
"""

from __future__ import annotations

from citcfs.local_tree import ImportStats, Progress, store_directory
from citcfs.objects import KnownObject

from .results import ImportResult
from .rpc import Client


def upload_directory(client: Client, directory: str,
                     progress: Progress | None = None) -> ImportStats:
    """Upload every object of `directory` the server lacks; return the tree's stats."""
    def sink(batch: list[KnownObject]) -> None:
        client.upload_missing(batch)

    return store_directory(sink, directory, progress)


def import_directory(client: Client, base: str, directory: str, message: str = "",
                     progress: Progress | None = None) -> tuple[ImportResult, ImportStats]:
    """Make `directory` the next revision of `base`; return the server's answer and stats."""
    stats = upload_directory(client, directory, progress)
    return client.import_base(base, root=stats.root, message=message), stats
