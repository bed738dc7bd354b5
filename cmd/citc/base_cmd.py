"""`citc base`: bases (imported source trees) and their revisions."""

from __future__ import annotations

import os

import click

from citcfs.client.importer import import_directory
from citcfs.client.results import ImportResult

from . import context, output


@click.group()
def base() -> None:
    """Bases: source trees workspaces are made over, and their revisions."""


def tree_size(directory: str) -> int:
    """Bytes of regular files below `directory` (for the progress bar's total)."""
    total = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(root, name)):
                total += st.st_size
    return total


def import_tree(name: str, directory: str, message: str,
                to_stderr: bool = False) -> ImportResult:
    """Upload `directory` as the next revision of base `name`, with a progress bar."""
    if not os.path.isdir(directory):
        raise click.BadParameter(f"{directory!r} is not a directory", param_hint="DIR")
    client = context.client()
    total = tree_size(directory) if click.get_text_stream("stderr").isatty() else 0
    with output.progress_bar(f"importing {name}", total) as bar:
        done = [0]

        def progress(files: int, nbytes: int) -> None:
            bar.advance(nbytes - done[0])
            done[0] = nbytes

        response, stats = import_directory(client, name, directory,
                                           message or f"import of {os.path.abspath(directory)}",
                                           progress)
    rev = response.revision
    if response.unchanged:
        click.echo(f"nothing changed: {directory} is the same tree as "
                   f"{output.style(f'{rev.base}@{rev.rev}', bold=True)}; no revision made",
                   err=to_stderr)
        return response
    click.echo(f"imported {stats.files} files, {stats.directories} directories, "
               f"{stats.symlinks} symlinks ({output.human_bytes(stats.bytes)}) as "
               f"{output.style(f'{rev.base}@{rev.rev}', bold=True)}"
               + (f"; skipped {stats.skipped} special files" if stats.skipped else ""),
               err=to_stderr)
    return response


@base.command("import")
@click.argument("directory", metavar="DIR", type=click.Path(exists=True, file_okay=False))
@click.option("--name", "-n", required=True, help="The base to add a revision to (made if new).")
@click.option("--message", "-m", default="", help="Recorded with the revision.")
@output.json_option
def import_(directory: str, name: str, message: str, as_json: bool) -> None:
    """Import DIR as the next revision of base NAME.

    Only content the server lacks is uploaded, so re-importing a tree that changed a
    little is quick. A tree equal to the newest revision makes no revision (--json
    says "unchanged": true).

    \b
    Example:
      citc base import ./linux --name linux -m "v6.9"
    """
    response = import_tree(name, directory, message, to_stderr=as_json)
    if as_json:
        output.emit_json(dict(output.base_revision_json(response.revision),
                              unchanged=response.unchanged))


@base.command("list")
@output.json_option
def list_(as_json: bool) -> None:
    """The bases with their newest revision.

    \b
    Example:
      citc base list --json
    """
    bases = context.client().list_bases()
    if as_json:
        output.emit_json([{"name": b.name, "latest": output.base_revision_json(b.latest)}
                          for b in bases])
        return
    output.table(["base", "rev", "time", "message"],
                 [(b.name, b.latest.rev, output.when(b.latest.time_ns), b.latest.message)
                  for b in bases], empty="no bases yet (citc base import DIR --name NAME)")


@base.command()
@click.argument("name")
@output.json_option
def log(name: str, as_json: bool) -> None:
    """Every revision of base NAME, newest first.

    \b
    Example:
      citc base log linux
    """
    revisions = list(reversed(context.client().base_history(name)))
    if as_json:
        output.emit_json([output.base_revision_json(r) for r in revisions])
        return
    output.table(["rev", "time", "root", "message"],
                 [(r.rev, output.when(r.time_ns), r.root.hex()[:12], r.message)
                  for r in revisions])
