"""Maintenance of a database: verifying the log and objects (fsck), rebuilding the
indexes from the log, and garbage collection (retention, then unreachable objects).

None of it is on the path of a commit; each job either reads in one transaction or
runs as one write job of the group committer (a GC dry run runs in a transaction
of its own that is always aborted, so it writes nothing and never joins a batch).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from citcfs.entries import Entry
from citcfs.errors import CorruptData, CorruptLog, ObjectMissing
from citcfs.objects import ObjectId

from . import keys
from .backend import KVTxn
from .engine import Engine
from .indexes import apply_record, kept_versions
from .index_values import BaseRevision, Label, VersionInfo, WorkspaceState
from .records import VersionsPruned, decode_record, unframe
from .results import FsckReport, GcReport, VerifyReport

T = TypeVar("T")


class _Abort(Exception):
    """Ends a scratch transaction: its writes are thrown away."""


class Maintenance(Engine):
    """fsck, rebuild and GC over the shared engine."""

    def verify_log(self) -> VerifyReport:
        """Check every frame's checksum and that LSNs are dense; CorruptLog if not."""
        count = 0
        first = last = 0
        with self.kv.read() as txn:
            start_raw = txn.get(keys.META, keys.META_LOG_START)
            expected = keys.read_u64(start_raw) if start_raw else 1
            for key, raw in txn.range(keys.LOG, b""):
                lsn = keys.read_u64(key)
                if lsn != expected:
                    raise CorruptLog(f"log record {expected} is missing (found {lsn})")
                decode_record(unframe(raw, lsn))
                first = first or lsn
                last = lsn
                expected += 1
                count += 1
        return VerifyReport(count, first, last)

    def fsck(self, rebuild: bool = False, objects: bool = True) -> FsckReport:
        """Verify the log's checksums and sequence, then (with `objects`) every stored
        object against its id and that every object a live state reaches is present.
        With `rebuild`, the indexes are then dropped and replayed from the log.

        CorruptLog is raised, and nothing is rebuilt, if the log itself is damaged:
        a rebuild from a damaged log would lose what the damaged records said.
        """
        log_report = self.verify_log()
        corrupt: list[ObjectId] = []
        missing: list[ObjectId] = []
        count = 0
        if objects:
            for oid in self.objects.ids():
                count += 1
                try:
                    self.objects.get(oid)
                except CorruptData:
                    corrupt.append(oid)
            bad = set(corrupt)
            with self.kv.read() as txn:
                reachable = self._mark(txn, tolerate_missing=True)
            present = self.objects.has(list(reachable))
            missing = [oid for oid, here in zip(reachable, present) if not here and oid not in bad]
        if rebuild:
            self.rebuild()
        return FsckReport(log_report.records, log_report.first_lsn, log_report.last_lsn, count,
                          tuple(corrupt), tuple(sorted(missing)), rebuild)

    def rebuild(self) -> int:
        """Drop every index and replay the whole log; return the records replayed."""
        def job(txn: KVTxn) -> int:
            for table in keys.INDEX_TABLES:
                txn.clear(table)
            count = 0
            for key, raw in list(txn.range(keys.LOG, b"")):
                lsn = keys.read_u64(key)
                apply_record(txn, lsn, decode_record(unframe(raw, lsn)))
                count += 1
            return count
        return self._writer.submit(job)

    # --- garbage collection -----------------------------------------------------------

    def _prune(self, txn: KVTxn) -> int:
        """Log the versions that retention policies let go; return how many."""
        pruned = 0
        for key, raw_keep in list(txn.range(keys.RETENTION, b"")):
            ws_id, keep = keys.read_u64(key), keys.read_u64(raw_keep)
            state = self._state_by_id(txn, ws_id)
            labelled = {Label.decode(raw).version for _, raw in txn.range(
                keys.LABELS, keys.ws_prefix(ws_id), keys.ws_prefix(ws_id + 1))}
            protected = labelled | set(range(max(0, state.version - keep + 1), state.version + 1))
            doomed = [v for v in kept_versions(txn, ws_id) if v not in protected]
            if not doomed:
                continue
            ranges: list[tuple[int, int]] = []
            for version in doomed:
                if ranges and ranges[-1][1] == version:
                    ranges[-1] = (ranges[-1][0], version + 1)
                else:
                    ranges.append((version, version + 1))
            self._append(txn, VersionsPruned(ws_id, tuple(ranges), self._clock()))
            pruned += len(doomed)
        return pruned

    def _mark(self, txn: KVTxn, tolerate_missing: bool = False) -> set[ObjectId]:
        """Every object reachable from a base revision, a kept workspace version or a
        live workspace's fork point.

        With `tolerate_missing`, a tree that cannot be read is counted as reachable
        and not descended into (fsck reports it), instead of raising.
        """
        reachable: set[ObjectId] = set()

        def visit_entry(entry: Entry) -> None:
            reachable.update(entry.chunks)
            if entry.tree is not None:
                visit_tree(entry.tree)

        def visit_tree(oid: ObjectId) -> None:
            if oid in reachable:
                return
            reachable.add(oid)
            try:
                tree = self.load_tree(oid)
            except (ObjectMissing, CorruptData):
                if not tolerate_missing:
                    raise
                return
            for _, entry in tree:
                visit_entry(entry)

        for _, raw in txn.range(keys.BASES, b""):
            visit_tree(BaseRevision.decode(raw).root)
        for _, raw in txn.range(keys.VERSIONS, b""):
            visit_tree(VersionInfo.decode(raw).root)
        for _, raw in txn.range(keys.WORKSPACES, b""):
            fork = WorkspaceState.decode(raw).fork
            if fork is not None:  # a fork point is a root: `ws@fork` reads it
                visit_tree(fork.tree)
        for key, value in txn.range(keys.OVERLAY, b""):
            # A long parent's full path leads the value: split_overlay_item removes it.
            entry = keys.split_overlay_item(key, value)[3]
            if entry:
                visit_entry(Entry.decode(entry))
        return reachable

    def gc(self, dry_run: bool = False) -> GcReport:
        """Apply retention policies, then delete every object nothing reaches.

        Safe beside commits and uploads, through any number of servers sharing the
        store (docs/architecture.md, "Garbage collection beside uploads"):
        - only objects listed before the mark are candidates, and a store shared by
          several servers lists young objects as not collectable (`sweepable`);
        - the mark transaction bumps the GC epoch and writes the garbage to
          ``gc_sweep``; until the sweep ends, a commit naming one of them is refused
          with ObjectMissing and HasObjects calls it missing, so the client uploads
          it again; a commit whose object check ran before this epoch checks again.
        """
        started = time.perf_counter()
        listed = list(self.objects.sweepable())
        existing = {oid: size for oid, size, _ in listed}
        collectable = [oid for oid, _, may in listed if may]

        def job(txn: KVTxn) -> tuple[int, list[ObjectId]]:
            pruned, reachable = self._prune(txn), self._mark(txn)
            garbage = [oid for oid in collectable if oid not in reachable]
            epoch, _ = keys.gc_state(txn.get(keys.META, keys.META_GC))
            txn.clear(keys.GC_SWEEP)  # a GC that died mid-sweep left its set
            for oid in garbage:
                txn.put(keys.GC_SWEEP, oid, b"")
            txn.put(keys.META, keys.META_GC, keys.gc_state_value(epoch + 1, bool(garbage)))
            return pruned, garbage
        if dry_run:
            pruned, garbage = self._scratch(job)
        else:
            pruned, garbage = self._writer.submit(job)
            if garbage:
                try:
                    garbage = self.objects.sweep(garbage)
                finally:
                    self._writer.submit(self._end_sweep)
        freed_bytes = sum(existing[oid] for oid in garbage)
        report = GcReport(dry_run, pruned, len(garbage), freed_bytes, len(existing) - len(garbage))
        if self.observer is not None:
            self.observer.gc_finished(report, time.perf_counter() - started)
        return report

    @staticmethod
    def _end_sweep(txn: KVTxn) -> None:
        epoch, _ = keys.gc_state(txn.get(keys.META, keys.META_GC))
        txn.clear(keys.GC_SWEEP)
        txn.put(keys.META, keys.META_GC, keys.gc_state_value(epoch, False))

    def _scratch(self, job: Callable[[KVTxn], T]) -> T:
        """`job`'s answer from a write transaction of its own that is always aborted.

        A dry run must see what pruning would leave (the marking follows it), yet keep
        nothing. It never joins a group-commit batch: aborting a batch to undo one job
        would make the committer run every other job of it again. It only waits for
        the store's write lock, as a batch does, and holds it while it marks.
        """
        found: list[T] = []
        try:
            with self.kv.write() as txn:
                found.append(job(txn))
                raise _Abort
        except _Abort:
            pass
        return found[0]
