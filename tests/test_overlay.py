"""storage.overlay: the pure merge of an overlay over a base tree (no LMDB here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from citcfs import paths
from citcfs.entries import Entry, Tree
from citcfs.errors import NotADirectory, PathNotFound
from citcfs.objects import ObjectId
from citcfs.storage import overlay


class DictOverlay:
    """An OverlayView over {path: entry}; the root's own entry is at path ""."""

    def __init__(self, entries: dict[str, Entry]) -> None:
        self.entries = entries

    def entry(self, parent: str, name: str) -> Entry | None:
        if parent == "" and name == overlay.ROOT_ENTRY_NAME:
            return self.entries.get("")
        return self.entries.get(paths.join(parent, name))

    def children(self, parent: str) -> Iterator[tuple[str, Entry]]:
        found = [(paths.split(path)[1], entry) for path, entry in self.entries.items()
                 if path and paths.split(path)[0] == parent]
        yield from sorted(found, key=lambda item: paths.to_bytes(item[0]))  # as the protocol says

    def subtree(self, path: str) -> Iterator[tuple[str, Entry]]:
        for child, entry in self.entries.items():
            if child and child != path and paths.is_within(child, path):
                yield child, entry


class MemoryTrees:
    def __init__(self) -> None:
        self.trees: dict[ObjectId, Tree] = {}
        self.stored = 0

    def load(self, oid: ObjectId) -> Tree:
        return self.trees[oid]

    def store(self, tree: Tree) -> ObjectId:
        self.stored += 1
        self.trees[tree.id] = tree
        return tree.id

    def build(self, spec: dict[str, object]) -> ObjectId:
        """A tree from {name: bytes | dict (a subdirectory) | ("symlink", target)}."""
        items = []
        for name, what in spec.items():
            if isinstance(what, dict):
                items.append((name, Entry.directory(tree=self.build(what))))
            elif isinstance(what, tuple):
                items.append((name, Entry.symlink(what[1])))
            else:
                items.append((name, Entry.file(what)))  # type: ignore[arg-type]
        return self.store(Tree.build(items))


BASE = {
    "a.txt": b"a",
    "src": {"main.c": b"int main;", "lib": {"x.c": b"x", "y.c": b"y"}},
    "docs": {"readme": b"r"},
    "ln": ("symlink", "a.txt"),
}


@pytest.fixture
def trees() -> MemoryTrees:
    return MemoryTrees()


def names(view: DictOverlay, trees: MemoryTrees, root: ObjectId, path: str) -> list[str]:
    node = overlay.resolve(view, trees.load, root, path)
    return [name for name, _ in overlay.list_dir(view, trees.load, node)]


def materialize(view: DictOverlay, trees: MemoryTrees, root: ObjectId,
                path: str = "") -> dict[str, Entry]:
    """Every path below `path` with its entry (directory entries without tree/opaque)."""
    out: dict[str, Entry] = {}
    node = overlay.resolve(view, trees.load, root, path)
    for name, entry in overlay.list_dir(view, trees.load, node):
        child = paths.join(path, name)
        if entry.is_dir:
            out[child] = entry.replace(tree=None, opaque=False, origin=None)
            out.update(materialize(view, trees, root, child))
        else:
            out[child] = entry.replace(origin=None)
    return out


def test_empty_overlay_shows_the_base(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({})
    assert names(view, trees, root, "") == ["a.txt", "docs", "ln", "src"]
    assert names(view, trees, root, "src/lib") == ["x.c", "y.c"]
    assert overlay.resolve(view, trees.load, root, "src/lib/x.c").entry == Entry.file(b"x")
    node = overlay.resolve(view, trees.load, root, "")
    assert node.is_dir and node.beneath == root and node.overlay is None


def test_missing_paths_and_files_as_directories(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({})
    with pytest.raises(PathNotFound):
        overlay.resolve(view, trees.load, root, "nope")
    with pytest.raises(PathNotFound):
        overlay.resolve(view, trees.load, root, "src/nope/deeper")
    with pytest.raises(NotADirectory):
        overlay.resolve(view, trees.load, root, "a.txt/x")
    with pytest.raises(NotADirectory):  # symlinks are not followed
        overlay.resolve(view, trees.load, root, "ln/x")
    node = overlay.resolve(view, trees.load, root, "a.txt")
    with pytest.raises(NotADirectory):
        overlay.list_dir(view, trees.load, node)


def test_overlay_entries_win_and_whiteouts_hide(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({
        "a.txt": Entry.file(b"changed"),
        "src/lib/x.c": Entry.whiteout(),
        "src/new.c": Entry.file(b"new"),
        "docs": Entry.whiteout(),
    })
    assert overlay.resolve(view, trees.load, root, "a.txt").entry == Entry.file(b"changed")
    assert overlay.resolve(view, trees.load, root, "a.txt").underlying == Entry.file(b"a")
    assert names(view, trees, root, "") == ["a.txt", "ln", "src"]
    assert names(view, trees, root, "src") == ["lib", "main.c", "new.c"]
    assert names(view, trees, root, "src/lib") == ["y.c"]
    for gone in ("src/lib/x.c", "docs", "docs/readme"):
        with pytest.raises(PathNotFound):
            overlay.resolve(view, trees.load, root, gone)


def test_opaque_directory_hides_the_base(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"src": Entry.directory(opaque=True), "src/only": Entry.file(b"o")})
    assert names(view, trees, root, "src") == ["only"]
    with pytest.raises(PathNotFound):
        overlay.resolve(view, trees.load, root, "src/main.c")


def test_attribute_only_directory_keeps_the_base(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"src": Entry.directory(mode=0o700), "src/extra": Entry.file(b"e")})
    assert overlay.resolve(view, trees.load, root, "src").entry.mode == 0o700
    assert names(view, trees, root, "src") == ["extra", "lib", "main.c"]


def test_directory_naming_a_tree_shows_it(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    lib = trees.build(BASE["src"]["lib"])  # type: ignore[index]
    view = DictOverlay({"moved": Entry.directory(tree=lib), "moved/z.c": Entry.file(b"z"),
                        "moved/x.c": Entry.whiteout()})
    assert names(view, trees, root, "moved") == ["y.c", "z.c"]
    assert overlay.resolve(view, trees.load, root, "moved/y.c").entry == Entry.file(b"y")


def test_a_file_over_a_base_directory_hides_its_children(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"src": Entry.file(b"now a file")})
    with pytest.raises(NotADirectory):
        overlay.resolve(view, trees.load, root, "src/main.c")


def test_root_overlay_entry(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"": Entry.directory(mode=0o700)})
    node = overlay.resolve(view, trees.load, root, "")
    assert node.entry.mode == 0o700 and node.beneath == root
    assert names(view, trees, root, "") == ["a.txt", "docs", "ln", "src"]
    assert overlay.root_entry(root).tree == root


def test_freeze_without_changes_reuses_ids(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"a.txt": Entry.file(b"changed")})
    before = trees.stored
    src = overlay.resolve(view, trees.load, root, "src")
    assert overlay.freeze(view, trees.load, trees.store, src) == src.entry.tree
    assert trees.stored == before


def test_freeze_stores_only_changed_directories(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"src/lib/x.c": Entry.file(b"X").replace(origin="elsewhere")})
    before = trees.stored
    frozen = overlay.freeze(view, trees.load, trees.store,
                            overlay.resolve(view, trees.load, root, ""))
    assert trees.stored - before == 3  # lib, src and the root
    expected = dict(BASE)
    expected["src"] = {"main.c": b"int main;", "lib": {"x.c": b"X", "y.c": b"y"}}
    assert frozen == MemoryTrees().build(expected)
    assert trees.load(frozen).get("docs") == trees.load(root).get("docs")


@pytest.mark.parametrize("entries", [
    {},
    {"a.txt": Entry.whiteout(), "src/lib": Entry.whiteout()},
    {"src": Entry.directory(opaque=True), "src/n": Entry.directory(opaque=True),
     "src/n/f": Entry.file(b"f")},
    {"docs": Entry.directory(mode=0o700), "docs/more": Entry.file(b"m"),
     "src/lib/y.c": Entry.symlink("x.c")},
    {"new": Entry.directory(opaque=True)},
    {"src": Entry.file(b"replaced dir")},
])
def test_freeze_matches_the_merged_view(trees: MemoryTrees, entries: dict[str, Entry]) -> None:
    root = trees.build(BASE)
    view = DictOverlay(entries)
    expected = materialize(view, trees, root)
    frozen = overlay.freeze(view, trees.load, trees.store,
                            overlay.resolve(view, trees.load, root, ""))
    assert materialize(DictOverlay({}), trees, frozen) == expected
    trees.load(frozen).check()


def test_freeze_a_subdirectory_with_a_renamed_tree_inside(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    lib = trees.build(BASE["src"]["lib"])  # type: ignore[index]
    view = DictOverlay({"src/copy": Entry.directory(tree=lib),
                        "src/copy/x.c": Entry.whiteout(),
                        "src/copy/w.c": Entry.file(b"w")})
    src = overlay.resolve(view, trees.load, root, "src")
    frozen = overlay.freeze(view, trees.load, trees.store, src)
    merged = {k[len("src/"):]: v for k, v in materialize(view, trees, root, "src").items()}
    assert materialize(DictOverlay({}), trees, frozen) == merged
    assert [n for n, _ in trees.load(trees.load(frozen).get("copy").tree)] == ["w.c", "y.c"]


def test_freeze_rejects_files(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({})
    with pytest.raises(NotADirectory):
        overlay.freeze(view, trees.load, trees.store,
                       overlay.resolve(view, trees.load, root, "a.txt"))


def test_is_empty_dir(trees: MemoryTrees) -> None:
    root = trees.build(BASE)
    view = DictOverlay({"docs/readme": Entry.whiteout(), "e": Entry.directory(opaque=True)})
    assert overlay.is_empty_dir(view, trees.load, overlay.resolve(view, trees.load, root, "docs"))
    assert overlay.is_empty_dir(view, trees.load, overlay.resolve(view, trees.load, root, "e"))
    assert not overlay.is_empty_dir(view, trees.load, overlay.resolve(view, trees.load, root, "src"))
