"""`citc redirect`: directories of a workspace that live on local disk only.

Build outputs (`build/`, `node_modules/`, `target/`) are redirected: every mount of
the workspace serves them from a directory of its own cache directory, so they never
reach the server and never make versions. The list is kept per workspace on the
server; `add` and `remove` return once every mount of that workspace on this machine
serves the new list, so a build started next writes to local disk.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable

import click

from citcfs import paths, redirections

from . import context, output
from .barrier import fsync_root
from .patch import Change

MOUNT_WAIT_S = 10.0


def _target(workspace: str | None) -> tuple[str, context.Mount | None]:
    """The workspace meant, and the mount of it the working directory is in (if any)."""
    mount = context.current_mount()
    name = workspace or (mount.workspace if mount is not None else None)
    if name is None:
        raise click.UsageError("name a workspace with -w WS (the current directory is not "
                               "in a citcfs mount)")
    return name, mount if mount is not None and mount.workspace == name else None


def _workspace_path(path: str, mount: context.Mount | None) -> str:
    """PATH as a workspace path: inside a mount of the workspace, relative to the
    working directory (or absolute); elsewhere, relative to the workspace root."""
    if mount is None:
        return path.strip("/") or path
    rel = os.path.relpath(os.path.abspath(path), mount.mountpoint)
    if rel.startswith(".."):
        raise click.BadParameter(f"{path!r} is not inside the mount {mount.mountpoint}")
    return "" if rel == "." else rel


def _sync(mount: context.Mount | None) -> None:
    """Wait until the server has what the mount journaled (fsync of its root is the
    barrier), so the server checks the path against the mount's latest state."""
    if mount is not None:
        fsync_root(mount.mountpoint)


def _mount_status(mount: context.Mount) -> dict[str, object]:
    try:
        with open(os.path.join(mount.mountpoint, ".citc", "status")) as f:
            found = json.load(f)
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _serves(mount: context.Mount, wanted: tuple[str, ...]) -> bool:
    """Whether a mount serves `wanted` (a mount that does not say is believed)."""
    found = _mount_status(mount).get("redirections")
    return not isinstance(found, list) or sorted(found) == sorted(wanted)


def _wait_for_mounts(name: str, wanted: tuple[str, ...]) -> None:
    """Wait until every live mount of `name` here serves `wanted` (its watch stream
    brings the change within milliseconds); warn about any that does not."""
    address = context.get().address()
    mounts = [m for m in context.citc_mounts() if m.workspace == name
              and context.mount_server(m) in (None, address)]
    deadline = time.monotonic() + MOUNT_WAIT_S
    for mount in mounts:
        while not _serves(mount, wanted):
            if time.monotonic() > deadline:
                click.echo(f"citc: warning: the mount at {mount.mountpoint} has not picked "
                           "up the change yet", err=True)
                break
            time.sleep(0.02)


def outside(local_only: tuple[str, ...], found: Iterable[Change]) -> list[Change]:
    """The changes not under a redirected directory. The server has nothing there
    from a mount; what a tool put there (or an empty directory that was there
    before) is hidden in the mounts, so diff and status leave it out too."""
    return [change for change in found if redirections.find(local_only, change.path) is None]


def note(found: tuple[str, ...]) -> str:
    """The line diff and status print when redirected paths are left out."""
    return ("not shown: local-only (citc redirect) " + ", ".join(p + "/" for p in found))


def note_json(found: tuple[str, ...]) -> dict[str, list[str]]:
    """The field diff and status add to --json when redirected paths are left out
    (absent when there are none)."""
    return {"redirected": list(found)} if found else {}


def _change(workspace: str | None, targets: tuple[str, ...], adding: bool) -> None:
    name, mount = _target(workspace)
    chosen = [_workspace_path(path, mount) for path in targets]
    _sync(mount)
    client = context.client()
    if adding:
        found = client.set_redirections(name, add=chosen)
    else:
        found = client.set_redirections(name, remove=chosen)
    _wait_for_mounts(name, found)
    verb = "redirected" if adding else "no longer redirected"
    for path in chosen:
        click.echo(f"{verb}: {paths.normalize(path)}/")


@click.group()
def redirect() -> None:
    """Directories of a workspace kept on local disk only (build outputs).

    A redirected directory never reaches the server: nothing under it is journaled,
    sent or made into a version, and diff, status and snapshots leave it out. Each
    mount keeps it in its cache directory, where it survives a remount; another
    machine's mount sees an empty directory of its own. The setting is per
    workspace, shared by every mount.

    \b
    Examples:
      cd ~/demo && citc redirect add build node_modules
      citc redirect list
      citc redirect remove -w demo build
    """


@redirect.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATH...")
@click.option("--workspace", "-w", metavar="WS",
              help="The workspace (default: the mount the current directory is in).")
def add(targets: tuple[str, ...], workspace: str | None) -> None:
    """Keep PATH on local disk only.

    In a mount, PATH is relative to the current directory; with -w outside one, to
    the workspace root. PATH must be absent or an empty directory in the workspace
    (move what is there away first), and must not be the root, .citc, or inside or
    above another redirection.

    \b
    Examples:
      cd ~/demo && citc redirect add build node_modules
      citc redirect add -w demo out/bin
    """
    _change(workspace, targets, adding=True)


@redirect.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATH...")
@click.option("--workspace", "-w", metavar="WS",
              help="The workspace (default: the mount the current directory is in).")
def remove(targets: tuple[str, ...], workspace: str | None) -> None:
    """Stop keeping PATH on local disk: the mount shows the workspace's PATH again.

    The local files stay in each mount's cache directory (under
    redirections/) and come back if PATH is redirected again.

    \b
    Example:
      citc redirect remove build
    """
    _change(workspace, targets, adding=False)


@redirect.command("list")
@click.argument("workspace", metavar="[WS]", required=False)
@output.json_option
def list_(workspace: str | None, as_json: bool) -> None:
    """The redirected directories of WS (default: the current mount's workspace).

    \b
    Example:
      citc redirect list demo --json
    """
    name, mount = _target(workspace)
    found = context.client().redirections(name)
    local = str(_mount_status(mount).get("redirections_dir", "")) if mount else ""
    if as_json:
        output.emit_json({"workspace": name, "redirections": list(found),
                          "local_dir": local or None})
        return
    if local:
        click.echo(output.style(f"kept under {local}", dim=True), err=True)
    output.table(["PATH"], [[path + "/"] for path in found], empty="no redirections")
