"""Administration: `citc gc` and `citc fsck`."""

from __future__ import annotations

import sys
from typing import Any

import click

from citcfs import errors
from citcfs.client.rpc import Client
from citcfs.entries import EntryKind
from citcfs.objects import ObjectId

from . import context, output, trees


@click.command()
@click.option("--dry-run", "-n", is_flag=True, help="Report what would be freed; free nothing.")
@click.option("--keep", type=click.IntRange(min=0), metavar="N",
              help="First set retention: keep the newest N unlabelled versions (0: all) of "
                   "each workspace named by -w, or of every workspace you can see.")
@click.option("--workspace", "-w", "workspaces", multiple=True, metavar="WS",
              help="The workspace(s) --keep applies to (repeatable).")
@output.json_option
def gc(dry_run: bool, keep: int | None, workspaces: tuple[str, ...], as_json: bool) -> None:
    """Drop versions past their retention and free objects nothing reaches.

    Labelled versions (snapshots) and every base revision are always kept. Needs an
    administrator (the local server's own user is one).

    \b
    Example:
      citc gc --dry-run
      citc gc --keep 100 -w demo
    """
    if workspaces and keep is None:
        raise click.UsageError("-w/--workspace goes with --keep")
    if keep is not None and dry_run:
        raise click.UsageError("--keep changes the retention policy, so it cannot be "
                               "combined with --dry-run")
    client = context.client()
    if keep is not None:
        names = list(workspaces) or [w.name for w in client.list_workspaces()]
        for name in names:
            client.set_retention(name, keep)
        if not as_json:
            click.echo(f"retention: keep {keep or 'all'} unlabelled versions of "
                       f"{', '.join(names) or 'no workspaces'}")
    result = client.gc(dry_run)
    if as_json:
        output.emit_json({"dry_run": result.dry_run, "versions_pruned": result.versions_pruned,
                          "objects_freed": result.objects_freed,
                          "bytes_freed": result.bytes_freed, "objects_live": result.objects_live})
        return
    verb = "would free" if result.dry_run else "freed"
    click.echo(f"{verb} {result.objects_freed} objects ({output.human_bytes(result.bytes_freed)}),"
               f" {'would prune' if result.dry_run else 'pruned'} {result.versions_pruned} "
               f"versions; {result.objects_live} objects live")


class _Checker:
    """Client-side verification through the public API (no Verify RPC exists yet)."""

    def __init__(self, client: Client, read_objects: bool) -> None:
        self.client = client
        self.read_objects = read_objects
        self.problems: list[str] = []
        self.trees_seen: set[ObjectId] = set()
        self.chunks: set[ObjectId] = set()
        self.counts = {"bases": 0, "base_revisions": 0, "workspaces": 0, "versions": 0,
                       "labels": 0, "trees": 0, "chunks": 0}

    def problem(self, text: str) -> None:
        self.problems.append(text)
        click.echo(f"{output.style('problem', fg='red')}: {text}", err=True)

    def walk(self, root: ObjectId, what: str) -> None:
        if root in self.trees_seen or not self.read_objects:
            return
        self.trees_seen.add(root)
        try:
            for _, entry in trees.walk(self.client, root):
                if entry.is_dir and entry.tree is not None:
                    self.trees_seen.add(entry.tree)
                elif entry.kind == EntryKind.FILE:
                    self.chunks.update(entry.chunks)
        except errors.CitcError as exc:
            self.problem(f"{what}: {exc.message}")

    def bases(self) -> None:
        for base in self.client.list_bases():
            self.counts["bases"] += 1
            history = self.client.base_history(base.name)
            revs = [r.rev for r in history]
            if revs != list(range(1, len(revs) + 1)):
                self.problem(f"base {base.name}: revisions are {revs}, not 1..{len(revs)}")
            if history and history[-1].rev != base.latest.rev:
                self.problem(f"base {base.name}: newest revision {history[-1].rev} but the "
                             f"list says {base.latest.rev}")
            for revision in history:
                self.counts["base_revisions"] += 1
                self.walk(ObjectId(revision.root), f"base {base.name}@{revision.rev}")

    def workspaces(self) -> None:
        for ws in self.client.list_workspaces():
            self.counts["workspaces"] += 1
            try:
                versions = self.client.versions(ws.name)
                labels = self.client.labels(ws.name)
            except errors.CitcError as exc:
                self.problem(f"workspace {ws.name}: {exc.message}")
                continue
            numbers = [v.version for v in versions]
            self.counts["versions"] += len(numbers)
            if numbers and numbers[-1] != ws.version:
                self.problem(f"workspace {ws.name}: head is {ws.version} but the log ends "
                             f"at {numbers[-1]}")
            if numbers != sorted(set(numbers)):
                self.problem(f"workspace {ws.name}: versions out of order")
            lsns = [v.lsn for v in versions]
            if lsns != sorted(lsns):
                self.problem(f"workspace {ws.name}: log positions out of order")
            for label in labels:
                self.counts["labels"] += 1
                if label.version > ws.version:
                    self.problem(f"workspace {ws.name}: label {label.label} names version "
                                 f"{label.version}, past the head")
            try:
                self.walk(self.client.freeze(ws.name), f"workspace {ws.name}")
            except errors.CitcError as exc:
                self.problem(f"workspace {ws.name}: cannot freeze the head: {exc.message}")

    def chunks_readable(self) -> None:
        ids = sorted(self.chunks)
        for start in range(0, len(ids), 256):
            batch = ids[start:start + 256]
            try:
                for _ in self.client.read_objects(batch):
                    pass
            except errors.CitcError as exc:
                self.problem(f"chunks: {exc.message}")

    def summary(self) -> dict[str, Any]:
        self.counts["trees"] = len(self.trees_seen)
        self.counts["chunks"] = len(self.chunks)
        return {"ok": not self.problems, "problems": self.problems, "counts": self.counts,
                "objects_verified": self.read_objects,
                "scope": "client-side: bases, versions, labels and every object reachable "
                         "from base revisions and workspace heads (the server's log "
                         "checksums and indexes need a Verify RPC)"}


@click.command()
@click.option("--quick", is_flag=True,
              help="Check bases, versions and labels only; read no objects.")
@output.json_option
def fsck(quick: bool, as_json: bool) -> None:
    """Verify what the server holds, through the API.

    Checks that base revisions and workspace versions are contiguous and in log
    order, that labels name existing versions, and reads every tree and chunk
    reachable from each base revision and workspace head, verifying each object
    against its id. Exits 1 if anything is wrong.

    \b
    Example:
      citc fsck
      citc fsck --quick --json
    """
    client = context.client()
    info = client.server_info()
    checker = _Checker(client, read_objects=not quick)
    checker.bases()
    checker.workspaces()
    if not quick:
        checker.chunks_readable()
    result = checker.summary()
    result["server_version"] = info.server_version
    if as_json:
        output.emit_json(result)
    else:
        c = result["counts"]
        click.echo(f"checked {c['bases']} bases ({c['base_revisions']} revisions), "
                   f"{c['workspaces']} workspaces ({c['versions']} versions, {c['labels']} "
                   f"labels)" + ("" if quick else f", {c['trees']} trees, {c['chunks']} chunks"))
        click.echo(output.style("ok", fg="green") if result["ok"]
                   else output.style(f"{len(checker.problems)} problems", fg="red"))
    if checker.problems:
        sys.exit(1)
