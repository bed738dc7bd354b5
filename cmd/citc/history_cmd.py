"""History: snapshots, the version log, restore and revert, sync and submit."""

from __future__ import annotations

import os

import click

from citcfs import errors
from citcfs.client.results import WorkspaceInfo

from . import barrier, context, output, refs


def _ws_and(args: tuple[str, ...], what: str) -> tuple[str, str]:
    """[WS] X: one argument is X in the current mount's workspace; two are WS and X."""
    if len(args) == 1:
        return context.workspace_or_current(None), args[0]
    if len(args) == 2:
        return args[0], args[1]
    raise click.UsageError(f"expected [WS] {what}")


@click.command()
@click.argument("args", nargs=-1, metavar="[WS] LABEL")
@click.option("--version", "-v", "version", type=int, help="Label this version (default: head).")
@click.option("--replace", is_flag=True, help="Move LABEL if it is already set.")
@output.json_option
def snapshot(args: tuple[str, ...], version: int | None, replace: bool, as_json: bool) -> None:
    """Name a version of WS (the head by default) LABEL.

    Every version is kept anyway; a label makes one easy to name (in diff, cat,
    restore, fork) and keeps it through garbage collection.

    \b
    Example:
      citc snapshot before-refactor
      citc snapshot demo v1 --version 3
    """
    workspace, label = _ws_and(args, "LABEL")
    refs.check_label(label)
    barrier.flush_mounts(workspace)
    info = context.client().label(workspace, label, version, replace)
    if as_json:
        output.emit_json({"workspace": workspace, **output.label_json(info)})
    else:
        click.echo(f"snapshot {output.style(info.label, bold=True)} = {workspace} "
                   f"version {info.version}")


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@output.json_option
def snapshots(workspace: str | None, as_json: bool) -> None:
    """The snapshot labels of WS.

    \b
    Example:
      citc snapshots demo
    """
    name = context.workspace_or_current(workspace)
    labels = sorted(context.client().labels(name), key=lambda x: (x.version, x.label))
    if as_json:
        output.emit_json([output.label_json(x) for x in labels])
        return
    output.table(["label", "version", "time"],
                 [(x.label, x.version, output.when(x.time_ns)) for x in labels],
                 empty=f"no snapshots of {name} (citc snapshot LABEL)")


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@click.option("--limit", "-n", type=click.IntRange(min=1), help="Show only the newest N.")
@output.json_option
def log(workspace: str | None, limit: int | None, as_json: bool) -> None:
    """The versions of WS, newest first: time, paths changed, labels.

    A workspace made by 'citc ws fork' starts at its fork point: that version is
    marked "forked from SRC@V" (its paths are the ones it took over from SRC), and
    the versions before it, never its head, are left out.

    \b
    Example:
      citc log -n 10
      citc log demo --json
    """
    name = context.workspace_or_current(workspace)
    barrier.flush_mounts(name)
    client = context.client()
    ws = client.describe_workspace(name)
    start, forked_from = _fork_start(ws)
    versions = [v for v in reversed(client.versions(name)) if v.version >= start]
    if limit:
        versions = versions[:limit]
    labels: dict[int, list[str]] = {}
    for info in client.labels(name):
        labels.setdefault(info.version, []).append(info.label)
    if as_json:
        docs = []
        for v in versions:
            doc = {"version": v.version, "lsn": v.lsn, "time": output.iso(v.time_ns),
                   "time_ns": v.time_ns, "paths_changed": v.path_count,
                   "labels": sorted(labels.get(v.version, []))}
            if v.version == start and forked_from:
                doc["forked_from"] = forked_from
            docs.append(doc)
        output.emit_json(docs)
        return

    def notes(version: int) -> str:
        shown = output.style(", ".join(sorted(labels.get(version, []))), fg="yellow")
        if version == start and forked_from:
            fork = output.style(f"forked from {forked_from}", fg="cyan")
            shown = f"{shown}, {fork}" if labels.get(version) else fork
        return shown

    output.table(["version", "time", "paths", "labels"],
                 [(v.version, output.when(v.time_ns), v.path_count, notes(v.version))
                  for v in versions])


def _fork_start(ws: WorkspaceInfo) -> tuple[int, str | None]:
    """(first version to list, 'SRC@V' or None): a fork's log starts at its fork point."""
    if ws.fork is None:
        return 0, None
    return ws.fork.version, context.forked_from(ws)


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@click.option("--to", "to", metavar="AT", required=True,
              help="A version number or a snapshot label (see 'citc help refs').")
def restore(workspace: str | None, to: str) -> None:
    """Make WS's head equal to an earlier version, as a new version.

    Nothing is lost: the versions in between stay in the log.

    \b
    Example:
      citc restore --to before-refactor
      citc restore demo --to 3
    """
    name = context.workspace_or_current(workspace)
    at = context.require_version(context.parse_side(name, to), "restore --to")
    if at.workspace != name or at.kind == "head":
        raise click.BadParameter(f"restore --to takes a version or a label of {name}")
    result = context.client().restore(name, at.version, at.label)
    click.echo(f"restored {name} to {to} as version {result.version}")


def _workspace_paths(args: tuple[str, ...], explicit: str | None) -> tuple[str, list[str]]:
    """Split `citc revert [WS] PATH...` into a workspace and workspace paths.

    In a mount, PATHs are local paths (relative to the working directory) unless the
    first argument names a workspace and is no path here; elsewhere the first
    argument is the workspace and the rest are paths within it.
    """
    mount = context.current_mount()
    rest = list(args)
    if explicit:
        name = explicit
    elif mount is None or (len(rest) >= 2 and not os.path.lexists(rest[0])
                           and rest[0] in {w.name for w in context.client().list_workspaces()}):
        if len(rest) < 2 and mount is None:
            raise click.UsageError("expected WS PATH... (the current directory is not in a "
                                   "citcfs mount)")
        name = rest.pop(0)
    else:
        name = mount.workspace
    targets = []
    for path in rest:
        if mount is not None and name == mount.workspace:
            full = os.path.abspath(path)
            rel = os.path.relpath(full, mount.mountpoint)
            if rel == "." or rel.startswith(".."):
                raise click.BadParameter(f"{path!r} is not inside the mount {mount.mountpoint}")
            targets.append(rel)
        else:
            targets.append(path.strip("/"))
    return name, targets


@click.command()
@click.argument("args", nargs=-1, required=True, metavar="[WS] PATH...")
@click.option("--to", "to", metavar="AT", default=None,
              help="base (the default: the base revision WS sits on now), a version "
                   "number or a snapshot label (see 'citc help refs').")
@click.option("--workspace", "-w", metavar="WS", help="The workspace, when it is ambiguous.")
def revert(args: tuple[str, ...], to: str | None, workspace: str | None) -> None:
    """Make PATHs of WS as they are in its base (or at AT), as a new version.

    AT follows 'citc help refs'. A PATH that exists neither in WS nor at REF is an error, and nothing changes.

    \b
    Example:
      cd ~/demo && citc revert src/main.c          # undo my changes to one file
      citc revert demo src docs/guide.txt --to v1
    """
    name, targets = _workspace_paths(args, workspace)
    client = context.client()
    at = context.parse_side(name, to or "base")
    if at.workspace != name or not (at.is_version or (at.kind == "base" and at.base_rev is None)):
        raise click.BadParameter(f"revert --to takes base, a version or a label of {name}")
    if at.kind == "base":
        ws = client.describe_workspace(name)
        shown = f"its base {ws.base}@{ws.base_rev}"
    else:
        shown = str(at)
    version = client.describe_workspace(name).version if at.kind == "head" else at.version
    result = client.revert(name, targets, version, at.label)
    click.echo(f"reverted {len(targets)} path{'s' if len(targets) != 1 else ''} of {name} to "
               f"{shown} as version {result.version}")


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@click.option("--to", "to_rev", type=int, metavar="REV",
              help="The base revision to move to (default: the newest).")
@click.option("--refuse-conflicts", is_flag=True,
              help="Change nothing and exit 4 if any path conflicts.")
@output.json_option
def sync(workspace: str | None, to_rev: int | None, refuse_conflicts: bool,
         as_json: bool) -> None:
    """Move WS onto a newer revision of its base; list the conflicts.

    A conflict is a path both WS and the base changed; WS's version is kept. With
    --refuse-conflicts a conflicting sync changes nothing and exits 4.

    \b
    Example:
      citc sync
      citc sync demo --to 7 --refuse-conflicts
    """
    name = context.workspace_or_current(workspace)
    barrier.flush_mounts(name)
    try:
        result = context.client().sync(name, to_rev, refuse_conflicts)
    except errors.Conflict as exc:
        _print_conflicts(exc.paths, as_json, name)
        raise
    conflicts = list(result.conflicts)
    if as_json:
        output.emit_json({"workspace": name, "version": result.version,
                          "base_rev": result.base_rev, "conflicts": conflicts})
        return
    click.echo(f"{name} is at version {result.version} over base revision {result.base_rev}")
    for path in conflicts:
        click.echo(f"{output.style('conflict', fg='red')}: {path} (your version kept)")


def _print_conflicts(paths: tuple[str, ...], as_json: bool, name: str) -> None:
    if as_json:
        output.emit_json({"workspace": name, "conflicts": list(paths)})
    else:
        for path in paths:
            click.echo(f"{output.style('conflict', fg='red')}: {path}")


@click.command()
@click.argument("workspace", metavar="[WS]", required=False)
@click.option("--message", "-m", default="", help="Recorded with the new base revision.")
@output.json_option
def submit(workspace: str | None, message: str, as_json: bool) -> None:
    """Make WS the next revision of its base.

    Refused, listing the paths and exiting 4, when the base changed under paths WS
    changed: run citc sync, resolve, and submit again.

    \b
    Example:
      citc submit -m "fix the frobnicator"
    """
    name = context.workspace_or_current(workspace)
    barrier.flush_mounts(name)
    try:
        result = context.client().submit(name, message)
    except errors.Conflict as exc:
        _print_conflicts(exc.paths, as_json, name)
        raise errors.Conflict(f"{exc.message} (run 'citc sync {name}', check the conflicts, "
                              f"then submit again)", exc.paths) from None
    rev = result.revision
    if as_json:
        output.emit_json({"workspace": name, "version": result.version,
                          "revision": output.base_revision_json(rev)})
        return
    click.echo(f"submitted {name} as {output.style(f'{rev.base}@{rev.rev}', bold=True)}")
