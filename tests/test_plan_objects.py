"""The planner writes nothing: the trees a plan needs come back in `Plan.objects`,
and the caller stores them before the record that names them."""

from __future__ import annotations

from citcfs.entries import Entry, Tree
from citcfs.objects import ObjectId, ObjectKind
from citcfs.storage import Database, Rename, WriteFile
from citcfs.storage.overlay import MemoryOverlay
from citcfs.storage.planner import plan_commit


def test_a_plan_returns_its_trees_and_stores_none() -> None:
    stored: dict[ObjectId, Tree] = {}

    def keep(tree: Tree) -> ObjectId:
        stored[tree.id] = tree
        return tree.id

    lib = keep(Tree.build([("x.c", Entry.file(b"x"))]))
    root = keep(Tree.build([("lib", Entry.directory(tree=lib))]))
    before = dict(stored)
    view = MemoryOverlay({"lib/new.c": Entry.file(b"n")})  # a change inside lib

    plan = plan_commit([Rename("lib", "moved"), WriteFile("moved/later.c", Entry.file(b"l"))],
                       view, stored.__getitem__, root, 1)

    assert stored == before  # the loader's store was never written
    assert plan.objects  # lib's frozen tree, with new.c in it
    assert all(kind == ObjectKind.TREE for kind, _, _ in plan.objects)
    frozen = {oid: Tree.decode(data) for _, data, oid in plan.objects}
    moved = next(write.entry for write in plan.writes if write.path == "moved")
    assert moved is not None and moved.tree in frozen
    assert [name for name, _ in frozen[moved.tree]] == ["new.c", "x.c"]


def test_a_commit_stores_the_plan_trees_before_its_record(ws_db: Database) -> None:
    db = ws_db
    db.commit("ws", [WriteFile("src/new.c", Entry.file(b"n"))])
    db.commit("ws", [Rename("src", "moved"), WriteFile("moved/later.c", Entry.file(b"l"))])
    assert {"new.c", "later.c"} <= {name for name, _ in db.listdir("ws", "moved")}
    assert db.fsck().ok
