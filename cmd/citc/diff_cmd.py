"""`citc status` and `citc diff`: what changed, between any two states."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from citcfs.client.results import UNKNOWN, DiffSide
from citcfs.client.rpc import Client
from citcfs.entries import Entry, EntryKind

from . import barrier, context, output, quoting, refs, trees
from .redirect_cmd import note, note_json, outside
from .patch import Change, file_diffs, inexpressible, name_status, stat_lines

KIND_NAMES = {EntryKind.FILE: "file", EntryKind.DIR: "dir", EntryKind.SYMLINK: "symlink",
              EntryKind.FIFO: "fifo", EntryKind.SOCKET: "socket", EntryKind.CHARDEV: "chardev",
              EntryKind.BLOCKDEV: "blockdev"}


def changes(client: Client, a: DiffSide, b: DiffSide) -> Iterator[Change]:
    """The server's diff from `a` to `b` as Changes, the root's own entry left out (a
    change this client does not know shows as modified)."""
    for found in client.diff(a, b):
        if not found.path:
            continue
        change = "modified" if found.change == UNKNOWN else found.change
        yield Change(found.path, change, found.old, found.new, found.old_path)


def change_json(change: Change) -> dict[str, Any]:
    """One change for --json; a non-UTF-8 path also comes as path_b64 (see quoting)."""
    entry = change.new or change.old
    doc: dict[str, Any] = {}
    quoting.json_path(doc, "path", change.path)
    quoting.json_path(doc, "old_path", change.old_path)
    return doc | {"change": change.change,
                  "kind": KIND_NAMES.get(entry.kind, "other") if entry else None,
                  "old_size": change.old.size if change.old else None,
                  "new_size": change.new.size if change.new else None,
                  "old_mode": change.old.mode if change.old else None,
                  "new_mode": change.new.mode if change.new else None}


PROGRESS_MIN_CHANGES = 100
COLOURS = {"A": "green", "M": "yellow", "D": "red", "T": "magenta", "R": "cyan"}


def _coloured(line: str) -> str:
    return output.style(line[0], fg=COLOURS.get(line[0])) + line[1:]


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@output.json_option
def status(workspace: str | None, as_json: bool) -> None:
    """The paths WS changed relative to its base (like git status --short).

    One line per path: A added, M modified, D deleted, T type changed, R renamed
    (directories end in "/"). A workspace made by 'citc ws fork' shows only its own
    changes, made since the fork, while it sits on the base revision it was forked
    over; after a sync to another revision, it shows its changes to that base.
    Mounts of WS on this machine first send what they journaled; each says how many
    changes were waiting, and how many of its changes replaced another client's
    change of the same path (last writer wins).

    \b
    Example:
      cd ~/demo && citc status
      citc status demo --json
    """
    name = context.workspace_or_current(workspace)
    mounts = barrier.flush_mounts(name)
    client = context.client()
    ws = client.describe_workspace(name)
    since, since_name = context.diff_side(client, refs.parse_at(name, context.default_from(ws)))
    local_only = client.redirections(name)
    found = outside(local_only, changes(client, since, Client.workspace_ref(name, ws.version)))
    if as_json:
        doc = {"workspace": name, "base": ws.base, "base_rev": ws.base_rev,
               "version": ws.version, "from": since_name,
               "mounts": [m.to_json() for m in mounts]}
        if ws.fork is not None:
            doc["fork"] = output.fork_json(ws.fork)
        output.emit_json(doc | {"changes": [change_json(c) for c in found]}
                         | note_json(local_only))
        return
    since_fork = f"changes since its fork from {context.forked_from(ws)}, " \
        if since.fork else ""
    click.echo(output.style(f"workspace {name} at version {ws.version}, {since_fork}over "
                            f"{ws.base}@{ws.base_rev}", dim=True), err=True)
    for mount in mounts:
        click.echo(output.style(
            f"mount {mount.mountpoint}: {mount.pending_ops} journaled changes were not yet "
            f"on the server; {mount.conflicts} replaced another client's change",
            dim=True), err=True)
    if local_only:
        click.echo(output.style(note(local_only), dim=True), err=True)
    if not found:
        click.echo("nothing changed", err=True)
    for change in found:
        line = name_status(change).replace("\t", " ", 1)
        click.echo(_coloured(line.replace("\t", " -> ")))


def _write_patch_text(text: str, colour: bool) -> None:
    if not colour:
        sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
        return
    for line in text.split("\n")[:-1]:  # \n only: a \r or form feed is inside a line
        shown = line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if line.startswith(("diff --git", "---", "+++", "new file", "deleted file", "old mode",
                            "new mode", "rename ", "similarity")):
            shown = output.style(shown, bold=True)
        elif line.startswith("@@"):
            shown = output.style(shown, fg="cyan")
        elif line.startswith("+"):
            shown = output.style(shown, fg="green")
        elif line.startswith("-"):
            shown = output.style(shown, fg="red")
        click.echo(shown)


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@click.option("--from", "from_", metavar="X", default=None,
              help="The old side: N, LABEL, base (the default), base@REV, fork (the "
                   "default for a fork on the base it was forked over), head, or "
                   "OTHER-WS@AT (see 'citc help refs').")
@click.option("--to", metavar="Y", default=None,
              help="The new side, named like --from (default: the head).")
@click.option("--name-status", "mode", flag_value="name-status",
              help="One line per changed path with A/M/D/T/R.")
@click.option("--stat", "mode", flag_value="stat", help="Lines added and removed per file.")
@click.option("--patch", "-p", "mode", flag_value="patch", default=True,
              help="A unified diff (the default) that applies with 'patch -p1'.")
@click.option("--binary", is_flag=True,
              help="Write binary changes as git binary patches, which 'git apply' applies "
                   "(GNU patch cannot), instead of 'Binary files differ'.")
@output.json_option
def diff(workspace: str | None, from_: str | None, to: str | None, mode: str,
         binary: bool, as_json: bool) -> None:
    """Differences between two states of WS (default: its base and its head).

    For a workspace made by 'citc ws fork', --from defaults to 'fork' (its own
    changes) while it sits on the base revision it was forked over, as in status.

    X and Y are a version number (0 is the workspace as created), a snapshot label,
    'base' (the base revision WS sits on), 'base@REV', 'fork', 'head', or
    OTHER-WS@AT: the grammar of 'citc help refs'.

    \b
    Examples:
      citc diff                                  # your changes, as a patch
      citc diff demo --from 3 --to v2 --stat
      citc diff demo --name-status --from base@1
      citc diff demo > fix.patch && (cd ../plain-copy && patch -p1 < ../fix.patch)
      citc diff demo --binary | (cd ../plain-copy && git apply)
    """
    name = context.workspace_or_current(workspace)
    barrier.flush_mounts(name)
    client = context.client()
    if from_ is None:
        from_ = context.default_from(client.describe_workspace(name))
    a, a_name = context.diff_side(client, context.parse_side(name, from_))
    b, b_name = context.diff_side(client, context.parse_side(name, to))
    local_only = client.redirections(name)
    found = outside(local_only, changes(client, a, b))
    if as_json:
        output.emit_json({"from": a_name, "to": b_name,
                          "changes": [change_json(c) for c in found]} | note_json(local_only))
        return
    if local_only:
        click.echo(output.style(note(local_only), dim=True), err=True)
    if mode == "name-status":
        for change in found:
            click.echo(_coloured(name_status(change)))
        return
    for line in inexpressible(found):
        click.echo(f"citc: not in the patch: {line}", err=True)
    # A bar on stderr for long diffs, unless it would mix with the diff on the terminal.
    show_bar = not sys.stdout.isatty() and len(found) >= PROGRESS_MIN_CHANGES
    total = sum(e.size for c in found for e in (c.old, c.new)
                if e is not None and e.is_file) if show_bar else 0
    with output.progress_bar("diffing", total if show_bar else -1) as bar:
        def read(entry: Entry) -> bytes:
            data = client.read_file(entry)
            bar.advance(len(data))
            return data

        diffs = file_diffs(found, read, lambda entry: trees.files_below(client, entry),
                           binary=binary)
        if mode == "stat":
            lines = stat_lines(list(diffs))
        else:
            colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
            for file_diff in diffs:
                _write_patch_text(file_diff.text, colour)
            sys.stdout.flush()
            return
    for line in lines:
        click.echo(line)
