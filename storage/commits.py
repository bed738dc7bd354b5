"""Commits: a batch of path operations applied as a workspace's next version.

The operations are planned (`storage.planner`) against the head inside the write job,
so each sees the state left by every commit before it; a writer batch is checked
against the writer's progress in that same job, which makes it apply at most once.
"""

from __future__ import annotations

from collections.abc import Sequence

from citcfs.errors import (InvalidArgument, ObjectMissing, OutOfSequence,
                           StaleVersion, WorkspaceNotFound)
from citcfs.objects import ObjectId

from . import keys
from .backend import KVTxn
from .engine import Engine
from .indexes import IndexOverlay, writer_progress
from .ops import Op, WriteFile
from .planner import plan_commit, plan_skipping
from .index_values import VersionInfo, WorkspaceState
from .results import CommitResult, WriterSeq


class Commits(Engine):
    """`commit` and the writer-batch bookkeeping around it."""

    # --- commits --------------------------------------------------------------------

    def commit(self, name: str, ops: Sequence[Op], expected_version: int | None = None, *,
               workspace_id: int | None = None, writer: WriterSeq | None = None,
               skip_failing: bool = False) -> CommitResult:
        """Apply `ops` atomically as the workspace's next version.

        With `expected_version`, the commit is refused (StaleVersion) unless the
        workspace is at exactly that version: a compare-and-set for tools. With
        `workspace_id`, it is refused (WorkspaceNotFound) unless `name` still names
        that workspace: a caller that checked access to a workspace by name commits
        to the one it checked, not to a namesake created since.

        With `writer`, the commit is a writer batch, applied at most once: if the
        workspace already applied the writer's `last_seq`, nothing is applied and
        the result is `duplicate`; if the batch does not start right after the last
        applied seq (a gap, or a partial overlap), it is refused (OutOfSequence).
        The check runs in the write transaction that applies the batch, so two
        concurrent sends of one batch cannot both apply it.

        With `skip_failing`, an operation that fails its checks (or names a missing
        object) is left out and reported in `skipped`; the rest apply as one
        version, which may be empty.
        """
        if writer is not None:
            writer.check()
        chunk_ids = {index: op.entry.chunks for index, op in enumerate(ops)
                     if isinstance(op, WriteFile) and op.entry.chunks}
        # Read before the objects are checked (see _recheck_objects), and only when
        # there are objects to check: a commit of inline content needs no GC epoch.
        seen_gc = self._gc_epoch() if chunk_ids else 0
        missing: dict[int, ObjectMissing] = {}
        if writer is None and not skip_failing:
            self._require_objects(oid for op in ops if isinstance(op, WriteFile)
                                  for oid in op.entry.chunks)
        else:
            # Checked in the job, after the writer: a duplicate is a duplicate even
            # if its objects were collected since; skipped ops are reported one by one.
            missing = self._missing_objects(chunk_ids)
        if not ops and not skip_failing:
            raise InvalidArgument("a commit needs at least one operation")

        def job(txn: KVTxn) -> CommitResult:
            state = self._workspace(txn, name)
            if workspace_id is not None and state.id != workspace_id:
                raise WorkspaceNotFound(f"workspace {name!r} was deleted (a new one has its name)")
            if writer is not None:
                applied = self._writer_check(txn, state, writer)
                if applied is not None:
                    return applied
            if expected_version is not None and state.version != expected_version:
                raise StaleVersion(f"workspace {name!r} is at version {state.version}, "
                                   f"not {expected_version}")
            found = self._recheck_objects(txn, seen_gc, chunk_ids, missing)
            if found and not skip_failing:
                raise found[min(found)]
            now = self._clock()
            view = IndexOverlay(txn, state.id, state.version, head=True)
            if skip_failing:
                plan = plan_skipping(ops, view, self.load_tree, state.root, now, found)
            else:
                plan = plan_commit(ops, view, self.load_tree, state.root, now)
            return self._commit_writes(txn, state, plan.writes, None, now=now, writer=writer,
                                       skipped=plan.skipped, objects=plan.objects)
        return self._writer.submit(job)

    def _gc_epoch(self) -> int:
        with self.kv.read() as txn:
            return keys.gc_state(txn.get(keys.META, keys.META_GC))[0]

    def _recheck_objects(self, txn: KVTxn, seen_gc: int, chunk_ids: dict[int, tuple[ObjectId, ...]],
                         missing: dict[int, ObjectMissing]) -> dict[int, ObjectMissing]:
        """`missing`, made true inside the commit's transaction.

        The object check before the transaction may be stale: a GC may have marked
        since (its epoch moved), in which case the objects are checked again; and a
        GC may be deleting some of them right now (they are in ``gc_sweep``), which
        makes them missing already. One META read when no GC ran in between.
        """
        if not chunk_ids:
            return missing
        epoch, sweeping = keys.gc_state(txn.get(keys.META, keys.META_GC))
        if epoch == seen_gc and not sweeping:
            return missing
        found = dict(missing)
        if epoch != seen_gc:
            found.update(self._missing_objects(chunk_ids))
        if sweeping:
            for index, ids in chunk_ids.items():
                doomed = [oid for oid in ids if txn.get(keys.GC_SWEEP, oid) is not None]
                if doomed and index not in found:
                    found[index] = ObjectMissing(
                        f"object {bytes(doomed[0]).hex()} is being garbage-collected; "
                        "upload it again before committing")
        return found

    def _missing_objects(self, chunk_ids: dict[int, tuple[ObjectId, ...]]) -> dict[int, ObjectMissing]:
        """ObjectMissing for each operation (by index) that names an object not stored."""
        wanted = list(dict.fromkeys(oid for ids in chunk_ids.values() for oid in ids))
        if not wanted:
            return {}
        absent = {oid for oid, present in zip(wanted, self.objects.has(wanted)) if not present}
        if not absent:
            return {}
        found: dict[int, ObjectMissing] = {}
        for index, ids in chunk_ids.items():
            gone = [oid for oid in ids if oid in absent]
            if gone:
                found[index] = ObjectMissing(
                    f"{len(gone)} object(s) are not in the store, first {bytes(gone[0]).hex()}; "
                    "upload them before committing")
        return found

    def _writer_check(self, txn: KVTxn, state: WorkspaceState,
                      writer: WriterSeq) -> CommitResult | None:
        """The duplicate answer for a batch already applied, None for the next batch;
        OutOfSequence for a gap or a partial overlap."""
        progress = writer_progress(txn, state.id, writer.writer_id)
        last = progress.last_seq
        if writer.last_seq <= last:
            raw = txn.get(keys.VERSIONS, keys.version_key(state.id, progress.version))
            info = None if raw is None else VersionInfo.decode(raw)
            return CommitResult(state.name, progress.version, info.lsn if info else 0,
                                info.time_ns if info else 0, (), duplicate=True)
        if last and writer.first_seq != last + 1:
            raise OutOfSequence(
                f"writer {writer.writer_id.hex()} of workspace {state.name!r} has applied up "
                f"to seq {last}; a batch of seqs {writer.first_seq}..{writer.last_seq} "
                f"{'leaves a gap' if writer.first_seq > last + 1 else 'overlaps it in part'}")
        return None

    def writer_progress(self, name: str, writer_id: bytes) -> tuple[int, int]:
        """(last seq applied, version recorded with it) of a writer in workspace
        `name`; (0, 0) if the workspace never applied a batch of that writer."""
        if len(writer_id) != keys.WRITER_ID_SIZE:
            raise InvalidArgument(f"a writer id has {keys.WRITER_ID_SIZE} bytes, "
                                  f"not {len(writer_id)}")
        with self.kv.read() as txn:
            state = self._workspace(txn, name)
            progress = writer_progress(txn, state.id, writer_id)
        return progress.last_seq, progress.version

