"""Reading workspaces back as plain models, and applying diffs to models.

Shared by the focused versions tests and the versions state machine: a model maps
each path to ("file", content, mode), ("dir", None, mode) or ("symlink", target, mode).
"""

from __future__ import annotations

from tree_support import Model

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.storage import Change, Database


def drop(model: Model, path: str) -> None:
    for p in [p for p in model if paths.is_within(p, path)]:
        del model[p]


def subtree(model: Model, path: str) -> Model:
    return {p: v for p, v in model.items() if paths.is_within(p, path)}


def describe(db: Database, entry: Entry) -> tuple:
    if entry.kind == EntryKind.FILE:
        return ("file", db.read_file(entry), entry.mode)
    if entry.kind == EntryKind.SYMLINK:
        return ("symlink", entry.target, entry.mode)
    assert entry.kind == EntryKind.DIR, entry
    return ("dir", None, entry.mode)


def walk(db: Database, ws: str, version: int | None = None) -> Model:
    found: Model = {}

    def visit(path: str) -> None:
        for name, entry in db.listdir(ws, path, version):
            child = paths.join(path, name)
            found[child] = describe(db, entry)
            assert describe(db, db.lookup(ws, child, version)) == found[child], child
            if entry.is_dir:
                visit(child)
    visit(paths.ROOT)
    return found


def walk_tree(db: Database, root) -> Model:
    found: Model = {}

    def visit(path: str, oid) -> None:
        for name, entry in db.load_tree(oid):
            child = paths.join(path, name)
            found[child] = describe(db, entry)
            if entry.is_dir:
                visit(child, entry.tree)
    visit(paths.ROOT, root)
    return found


def apply_diff(db: Database, model: Model, entries) -> Model:
    result = dict(model)
    removed: list[str] = []
    for d in entries:
        if d.change == Change.DELETED:
            assert d.path in result or any(paths.is_within(d.path, r) for r in removed), d
            drop(result, d.path)
            removed.append(d.path)
        elif d.change == Change.RENAMED:
            # the source is read from the old side: the stream may have reported its
            # parent deleted already (every path below a deleted directory follows it)
            moved = subtree(model, d.old_path)
            assert moved, d
            drop(result, d.old_path)
            drop(result, d.path)
            for p, v in moved.items():
                result[d.path + p[len(d.old_path):]] = v
            result[d.path] = describe(db, d.new)
        else:
            assert (d.path not in result) == (d.change == Change.ADDED), d
            if d.change == Change.TYPE_CHANGED:
                drop(result, d.path)
                removed.append(d.path)
            result[d.path] = describe(db, d.new)
    return result
