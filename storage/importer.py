"""Importing a local directory into the object store (see `citcfs.local_tree`)."""

from __future__ import annotations

from citcfs.local_tree import ImportStats, Progress, store_directory

from .backend import ObjectStore

__all__ = ["ImportStats", "Progress", "import_directory"]


def import_directory(store: ObjectStore, directory: str,
                     progress: Progress | None = None) -> ImportStats:
    """Store the content of `directory` in `store`; return its root tree id and counts."""
    return store_directory(store.put_many, directory, progress)
