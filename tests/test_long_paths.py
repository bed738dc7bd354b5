"""Paths of every valid length fit the overlay index (LMDB keys hold 511 bytes).

Parents longer than `keys.PARENT_KEY_MAX` bytes are cut and hashed inside keys; these
tests walk the lengths around that threshold and up to PATH_MAX.
"""

from __future__ import annotations

import pytest

from citcfs import paths
from citcfs.entries import Entry
from citcfs.errors import PathNotFound
from citcfs.storage import Database, MakeDir, Remove, Rename, WriteFile
from citcfs.storage import keys


def _chain(total: int, step: int = 60) -> list[str]:
    """Directory paths, each one level deeper, until a path of about `total` bytes."""
    out: list[str] = []
    path = ""
    i = 0
    while len(path) + step + 1 < total:
        name = f"d{i:03d}" + "x" * (step - 4)
        path = paths.join(path, name)
        out.append(path)
        i += 1
    return out


def test_deepest_paths_commit_read_rename_remove_and_rebuild(ws_db: Database) -> None:
    chain = _chain(paths.PATH_MAX - 300)
    deepest = chain[-1]
    ws_db.commit("ws", [MakeDir(p) for p in chain])
    name = "n" * 255
    ws_db.commit("ws", [WriteFile(f"{deepest}/{name}", Entry.file(b"deep"))])
    assert len(paths.to_bytes(f"{deepest}/{name}")) > 3500
    assert ws_db.lookup("ws", f"{deepest}/{name}").inline == b"deep"
    assert [n for n, _ in ws_db.listdir("ws", deepest)] == [name]

    ws_db.commit("ws", [Rename(chain[2], "moved")])
    moved = "moved/" + deepest[len(chain[2]) + 1:]
    assert ws_db.lookup("ws", f"{moved}/{name}").inline == b"deep"
    with pytest.raises(PathNotFound):
        ws_db.lookup("ws", f"{deepest}/{name}")

    ws_db.commit("ws", [Remove("moved", recursive=True)])
    assert "moved" not in [n for n, _ in ws_db.listdir("ws", "")]
    answers = [ws_db.listdir("ws", p, 2) for p in chain]
    ws_db.rebuild()
    assert [ws_db.listdir("ws", p, 2) for p in chain] == answers
    assert ws_db.lookup("ws", f"{deepest}/{name}", 2).inline == b"deep"


@pytest.mark.parametrize("length", [keys.PARENT_KEY_MAX - 2, keys.PARENT_KEY_MAX - 1,
                                    keys.PARENT_KEY_MAX, keys.PARENT_KEY_MAX + 1])
def test_subtree_around_the_cut(ws_db: Database, length: int) -> None:
    parent = "p" * 100 + "/" + "q" * (length - 101)
    sibling = parent[:-1] + "r"  # shares every byte of the cut prefix but the last
    assert len(paths.to_bytes(parent)) == length
    ws_db.commit("ws", [MakeDir("p" * 100), MakeDir(parent), MakeDir(sibling),
                        MakeDir(f"{parent}/sub"), WriteFile(f"{parent}/sub/f", Entry.file(b"1")),
                        WriteFile(f"{sibling}/g", Entry.file(b"2"))])
    # Removing the parent drops exactly its own subtree, not the sibling's.
    ws_db.commit("ws", [Remove(parent, recursive=True)])
    assert [n for n, _ in ws_db.listdir("ws", "p" * 100)] == [sibling.rsplit("/", 1)[1]]
    assert ws_db.lookup("ws", f"{sibling}/g").inline == b"2"
    ws_db.commit("ws", [MakeDir(parent)])
    assert ws_db.listdir("ws", parent) == []
