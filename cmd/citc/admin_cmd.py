"""Administration: `citc gc` and `citc fsck`."""

from __future__ import annotations

import sys
from typing import Any

import click

from . import context, output


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


@click.command()
@click.option("--quick", is_flag=True, help="Check the log only; read no objects.")
@click.option("--rebuild", is_flag=True,
              help="After the checks, drop every index and replay the log.")
@output.json_option
def fsck(quick: bool, rebuild: bool, as_json: bool) -> None:
    """Verify the server's log and objects, and rebuild its indexes if asked.

    Checks every log record's checksum and that the log has no gaps, every stored
    object against its id, and that every object a base revision or kept workspace
    version reaches is present. Exits 1 if anything is wrong.

    \b
    Example:
      citc fsck
      citc fsck --quick --json
      citc fsck --rebuild
    """
    client = context.client()
    report = client.verify(rebuild=rebuild, skip_objects=quick)
    corrupt = [bytes(oid).hex() for oid in report.corrupt]
    missing = [bytes(oid).hex() for oid in report.missing]
    problems = [f"object {oid} does not match its content" for oid in corrupt]
    problems += [f"object {oid} is reachable but missing" for oid in missing]
    result: dict[str, Any] = {
        "ok": not problems, "problems": problems,
        "log": {"records": report.records, "first_lsn": report.first_lsn,
                "last_lsn": report.last_lsn},
        "objects_verified": not quick, "objects": report.objects,
        "corrupt": corrupt, "missing": missing, "rebuilt": report.rebuilt,
    }
    if as_json:
        output.emit_json(result)
    else:
        for problem in problems:
            click.echo(f"{output.style('problem', fg='red')}: {problem}", err=True)
        click.echo(f"checked {report.records} log records (LSN {report.first_lsn}-"
                   f"{report.last_lsn})" + ("" if quick else f", {report.objects} objects")
                   + ("; indexes rebuilt" if report.rebuilt else ""))
        click.echo(output.style("ok", fg="green") if not problems
                   else output.style(f"{len(problems)} problems", fg="red"))
    if problems:
        sys.exit(1)
