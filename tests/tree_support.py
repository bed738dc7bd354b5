"""Building small directory trees for tests, and modelling them as plain dicts.

A spec maps relative paths to bytes (a file), None (a directory) or
("symlink", target). Shared by the storage, versions and CLI tests.
"""

from __future__ import annotations

import os
from pathlib import Path

TreeSpec = dict[str, object]
Model = dict[str, tuple]
"""path -> ("file", bytes, mode) | ("dir", None, mode) | ("symlink", target, 0o777)."""

SMALL_BASE: TreeSpec = {
    "README": b"hello\n",
    "src/main.py": b"print('hi')\n",
    "src/lib/util.py": b"x = 1\n",
    "src/lib/deep/leaf.txt": b"leaf\n",
    "docs/guide.md": b"# guide\n",
    "empty": None,
    "link": ("symlink", "README"),
}
"""A small base: nested directories, an empty directory and a symlink."""


def write_tree(root: Path, spec: TreeSpec, mtime_ns: int | None = None,
               fixed_modes: bool = False) -> Path:
    """Create the files, directories and symlinks of `spec` under `root`.

    With `mtime_ns`, every created path gets that mtime (deepest first, so that
    creating a child does not move its parent's mtime afterwards). With
    `fixed_modes`, directories get 0o755 and files 0o644 whatever the umask, so
    that equal specs give equal trees.
    """
    root.mkdir(parents=True, exist_ok=True)
    for rel, what in sorted(spec.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if what is None:
            path.mkdir(exist_ok=True)
        elif isinstance(what, tuple):
            os.symlink(what[1], path)
        else:
            path.write_bytes(what)  # type: ignore[arg-type]
    if mtime_ns is not None or fixed_modes:
        for path in sorted(root.rglob("*"), key=lambda p: -len(p.parts)):
            if fixed_modes and not path.is_symlink():
                os.chmod(path, 0o755 if path.is_dir() else 0o644)
            if mtime_ns is not None:
                os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
    return root


def spec_model(spec: TreeSpec) -> Model:
    """The model of a tree written from `spec` with fixed modes."""
    model: Model = {}
    for rel, what in spec.items():
        parts = rel.split("/")
        for i in range(1, len(parts)):
            model["/".join(parts[:i])] = ("dir", None, 0o755)
        if what is None:
            model[rel] = ("dir", None, 0o755)
        elif isinstance(what, tuple):
            model[rel] = ("symlink", what[1], 0o777)
        else:
            model[rel] = ("file", what, 0o644)
    return model


def snapshot_tree(root: Path) -> dict[str, tuple[str, object, int]]:
    """Everything comparable about a tree: kind, content or target, permission bits."""
    found: dict[str, tuple[str, object, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path), 0)
            elif path.is_dir():
                found[rel] = ("dir", None, st.st_mode & 0o7777)
            else:
                found[rel] = ("file", path.read_bytes(), st.st_mode & 0o7777)
    return found
