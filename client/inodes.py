"""Inode numbers in a mount: one per (version, path) the kernel has been shown.

libfuse's high-level API leaves numbering to the filesystem (`use_ino`). The head's
root is 1; every other name gets the next number when first shown, and keeps it
across a rename (the kernel keeps the number an inode was first shown with). Every
name of a linked file shows one number, kept under the file's link key
(`client/links.py`).
"""

from __future__ import annotations

import threading

from citcfs import paths

from .links import inode_key

Key = tuple[int | None, str]
"""(version, path): version None is the head; views and generated files use their own."""


class InodeNumbers:
    """The numbers handed out so far, under the mount's metadata lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._numbers: dict[Key, int] = {}
        self._next = 2

    def number(self, version: int | None, path: str) -> int:
        """The inode number of `path` in `version`, made when first asked for."""
        key = (version, path)
        with self._lock:
            ino = self._numbers.get(key)
            if ino is None:
                if key == (None, paths.ROOT):
                    ino = 1
                else:
                    ino = self._next
                    self._next += 1
                self._numbers[key] = ino
            return ino

    def of_link(self, version: int | None, path: str, link: bytes) -> int:
        """The inode number of every name of a linked file: the number its first
        name already had, if the mount had numbered it, else a new one."""
        key = (version, inode_key(link))
        with self._lock:
            ino = self._numbers.get(key)
            if ino is None:
                ino = self._numbers.get((version, path))
                if ino is not None:
                    self._numbers[key] = ino
        return ino if ino is not None else self.number(version, inode_key(link))

    def renamed(self, src: str, dst: str) -> None:
        """Head path `src` is now `dst`: its number goes with it."""
        with self._lock:
            inode = self._numbers.pop((None, src), None)
            if inode is not None:
                self._numbers[(None, dst)] = inode

    def head_paths(self) -> list[str]:
        """Every head path the kernel may hold (it was shown a number for it)."""
        with self._lock:
            return [path for version, path in self._numbers if version is None]
