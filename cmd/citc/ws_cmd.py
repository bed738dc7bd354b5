"""`citc ws`: creating, forking, listing, showing and deleting workspaces."""

from __future__ import annotations

import sys

import click

from citcfs import errors
from citcfs.client.results import WorkspaceInfo

from . import barrier, context, output


@click.group()
def ws() -> None:
    """Workspaces: your changes over a base, with every version kept."""


def print_workspace_line(verb: str, workspace: WorkspaceInfo) -> None:
    click.echo(f"{verb} workspace {output.style(workspace.name, bold=True)} over "
               f"{workspace.base}@{workspace.base_rev} (version {workspace.version})")


@ws.command()
@click.argument("name")
@click.option("--base", "base_ref", required=True, metavar="BASE[@REV]",
              help="The base to follow, at its newest revision or at REV.")
@output.json_option
def create(name: str, base_ref: str, as_json: bool) -> None:
    """Create workspace NAME over a base.

    \b
    Example:
      citc ws create fix-1234 --base linux
      citc ws create old-bug --base linux@3
    """
    base_name, rev = context.split_base_ref(base_ref)
    workspace = context.client().create_workspace(name, base_name, rev)
    if as_json:
        output.emit_json(output.workspace_json(workspace))
    else:
        print_workspace_line("created", workspace)


@ws.command()
@click.argument("source", metavar="SRC[@N|@LABEL]")
@click.argument("name", metavar="NEW")
@output.json_option
def fork(source: str, name: str, as_json: bool) -> None:
    """Create workspace NEW as a copy of SRC (its head, a version or a snapshot).

    Costs the same whatever the size of the tree. NEW remembers where it came from:
    NEW@fork names that state, and status, diff and log of NEW start there (see
    'citc help refs').

    \b
    Example:
      citc ws fork fix-1234@before-refactor fix-1234-retry
    """
    src = context.require_version(context.parse_ref(source), "ws fork")
    workspace = context.client().fork_workspace(src.workspace, name,
                                                **context.version_kwargs(src))
    if as_json:
        output.emit_json(output.workspace_json(workspace))
    else:
        click.echo(f"forked {src} as {output.style(workspace.name, bold=True)}")


@ws.command("list")
@output.json_option
def list_(as_json: bool) -> None:
    """The workspaces you can read.

    \b
    Example:
      citc ws list
    """
    workspaces = context.client().list_workspaces()
    if as_json:
        output.emit_json([output.workspace_json(w) for w in workspaces])
        return
    output.table(["workspace", "base", "version", "updated", "owner"],
                 [(w.name, f"{w.base}@{w.base_rev}", w.version,
                   output.when(w.updated_ns or w.created_ns), w.owner)
                  for w in workspaces], empty="no workspaces yet (citc ws create NAME --base B)")


@ws.command()
@click.argument("name", required=False)
@output.json_option
def show(name: str | None, as_json: bool) -> None:
    """Everything about workspace NAME (default: the one you are in).

    \b
    Example:
      citc ws show fix-1234 --json
    """
    name = context.workspace_or_current(name)
    client = context.client()
    workspace = client.describe_workspace(name)
    labels = client.labels(name)
    if as_json:
        doc = output.workspace_json(workspace)
        doc["labels"] = [output.label_json(label) for label in labels]
        output.emit_json(doc)
        return
    rows = [("workspace", workspace.name), ("owner", workspace.owner or "-"),
            ("base", f"{workspace.base}@{workspace.base_rev}"),
            ("forked", f"from {workspace.fork.source}@{workspace.fork.source_version} over "
                       f"{workspace.base}@{workspace.fork.base_rev}"
             if workspace.fork is not None else "-"),
            ("version", workspace.version), ("created", output.when(workspace.created_ns)),
            ("updated", output.when(workspace.updated_ns)),
            ("root", workspace.root.hex()),
            ("snapshots", ", ".join(f"{x.label}={x.version}" for x in labels) or "-"),
            ("access", output.access_text(workspace.access))]
    rows += [("granted", f"{g.user} ({output.access_text(g.access)})")
             for g in workspace.grants]
    for key, value in rows:
        click.echo(f"{output.style((key + ':').ljust(11), bold=True)} {value}")


@ws.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True,
              help="Delete it even while mounted here (its mounts then answer ENOENT, "
                   "drop what they had not sent, and only unmounting is left to do).")
def delete(name: str, yes: bool, force: bool) -> None:
    """Delete workspace NAME and its history (snapshots included).

    Asks first when run on a terminal, unless --yes. Refused while a mount on this
    machine serves NAME (unmount it first), unless --force.

    \b
    Example:
      citc ws delete fix-1234 --yes
    """
    client = context.client()
    client.describe_workspace(name)
    mounted = barrier.serving_mounts(name)
    if mounted and not force:
        raise errors.FailedPrecondition(
            f"workspace {name!r} is mounted on {', '.join(mounted)}; unmount it first "
            f"(citc unmount DIR), or pass --force")
    if not yes and sys.stdin.isatty():
        click.confirm(f"delete workspace {name!r} and all its versions?", abort=True)
    client.delete_workspace(name)
    click.echo(f"deleted workspace {name}")
    for mountpoint in mounted:
        click.echo(f"citc: warning: {mountpoint} served {name}; it now answers ENOENT "
                   f"(citc unmount {mountpoint})", err=True)
