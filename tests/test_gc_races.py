"""GC beside commits, with the dangerous interleavings forced rather than hoped for.

A client asks whether an object is stored, hears "yes", and commits a reference to it
without uploading it. If GC deletes that object in between, the commit must be refused
(ObjectMissing: the client uploads it again), never acknowledged. The object store is
wrapped so that a test can hold GC between its mark and its sweep, or hold a commit
between its object check and its transaction. Runs over every object backend.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import pytest

from citcfs.entries import Entry
from citcfs.errors import ObjectMissing
from citcfs.objects import ObjectId, ObjectKind
from citcfs.storage import Database, WriteFile

pytestmark = pytest.mark.every_object_backend


class Gate:
    """The store under test, with one call held at a gate until the test opens it."""

    def __init__(self, inner: Any, held: str) -> None:
        self.inner = inner
        self.held = held
        self.reached = threading.Event()
        self.open = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _gate(self, name: str) -> None:
        if name == self.held and not self.open.is_set():
            self.reached.set()
            assert self.open.wait(30)

    def sweep(self, oids: Iterable[ObjectId]) -> list[ObjectId]:
        self._gate("sweep")  # held after the mark, before anything is deleted
        return list(self.inner.sweep(oids))

    def has(self, oids: Iterable[ObjectId]) -> list[bool]:
        found = list(self.inner.has(oids))
        self._gate("has")  # held after the check, before the commit's transaction
        return found


def background(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # returned to the test
            out.append(exc)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def setup(ws_db: Database) -> tuple[ObjectId, list[WriteFile]]:
    data = b"unreferenced until now" * 300
    oid = ws_db.objects.put(ObjectKind.CHUNK, data)
    assert ws_db.has_objects([oid]) == [True]  # the client hears "present"
    return oid, [WriteFile("f", Entry.file(chunks=(oid,), size=len(data)))]


def test_a_commit_during_the_sweep_is_refused(ws_db: Database) -> None:
    oid, ops = setup(ws_db)
    gate = Gate(ws_db.objects, "sweep")
    ws_db.objects = gate  # type: ignore[assignment]
    gc, report = background(ws_db.gc)
    assert gate.reached.wait(30)  # marked: the object is garbage, not yet deleted
    assert ws_db.has_objects([oid]) == [False]  # so a client uploads it again
    with pytest.raises(ObjectMissing, match="garbage-collected"):
        ws_db.commit("ws", ops)
    gate.open.set()
    gc.join(30)
    assert report[0].objects_freed == 1
    ws_db.objects.put(ObjectKind.CHUNK, b"unreferenced until now" * 300)  # the re-upload
    ws_db.commit("ws", ops)
    assert ws_db.fsck().ok


def test_a_commit_checked_before_the_gc_and_applied_after_is_refused(ws_db: Database) -> None:
    oid, ops = setup(ws_db)
    gate = Gate(ws_db.objects, "has")
    ws_db.objects = gate  # type: ignore[assignment]
    commit, result = background(lambda: ws_db.commit("ws", ops))
    assert gate.reached.wait(30)  # the commit saw the object; its transaction waits
    gate.held = ""  # GC's own calls pass
    assert ws_db.gc().objects_freed == 1
    gate.open.set()
    commit.join(30)
    assert isinstance(result[0], ObjectMissing)  # checked again: never acknowledged
    assert ws_db.workspace("ws").version == 0
    assert ws_db.fsck().ok
