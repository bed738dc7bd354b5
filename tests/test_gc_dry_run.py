"""A GC dry run writes nothing and stays out of the group committer.

It used to run as a committer job that raised to undo itself; the committer then ran
every other job of that batch a second time (flat, then nested). Now it runs in a
transaction of its own that is always aborted.
"""

from __future__ import annotations

import threading
import time

import pytest

from citcfs.entries import Entry
from citcfs.storage import Database, WriteFile
from citcfs.storage.backend import KVTxn

pytestmark = pytest.mark.every_object_backend


def test_dry_run_reports_what_gc_would_do_and_changes_nothing(ws_db: Database) -> None:
    db = ws_db
    for i in range(4):
        db.commit("ws", [WriteFile("f", Entry.file(b"v%d" % i))])
    db.set_retention("ws", 1)
    jobs = db._writer.jobs
    records = list(db.log_records())
    objects = db.objects.stats()

    dry = db.gc(dry_run=True)

    assert dry.dry_run and dry.versions_pruned == 4  # versions 0 to 3
    assert db._writer.jobs == jobs  # it never went through the committer
    assert list(db.log_records()) == records  # no VersionsPruned record kept
    assert db.objects.stats() == objects
    assert [v.version for v in db.versions("ws")] == [0, 1, 2, 3, 4]
    real = db.gc()
    assert (real.versions_pruned, real.objects_freed) == (dry.versions_pruned, dry.objects_freed)
    assert [v.version for v in db.versions("ws")] == [4]
    assert db.fsck().ok


def test_dry_run_does_not_rerun_the_jobs_committed_beside_it(ws_db: Database) -> None:
    db = ws_db
    started, release = threading.Event(), threading.Event()
    runs = 0

    def blocker(txn: KVTxn) -> None:
        started.set()
        release.wait(10)

    def counted(txn: KVTxn) -> None:
        nonlocal runs
        runs += 1

    threads = [threading.Thread(target=db._writer.submit, args=(blocker,))]
    threads[0].start()
    assert started.wait(10)  # the blocker leads its own batch and holds the write lock
    deadline = time.monotonic() + 10
    threads.append(threading.Thread(target=db._writer.submit, args=(counted,)))
    threads[1].start()
    while len(db._writer._queue) < 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    threads.append(threading.Thread(target=db.gc, kwargs={"dry_run": True}))
    threads[2].start()
    time.sleep(0.2)  # a dry run that queued would now share the counted job's batch
    release.set()
    for thread in threads:
        thread.join(10)
    assert runs == 1
