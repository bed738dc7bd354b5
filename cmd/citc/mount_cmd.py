"""`citc mount` and `citc unmount`: workspaces as directories.

`citc mount demo ~/demo --base ./tree` is the newcomer's one command: it imports the
tree as a base when no base of that name exists yet, creates the workspace when it
is missing, and mounts it.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
from collections.abc import Callable

import click

from citcfs import errors, paths
from citcfs.client.cache import DEFAULT_CACHE_BYTES
from citcfs.client.metrics import parse_address
from citcfs.client.mount import (DEFAULT_ATTR_TIMEOUT, MountOptions, check_empty,
                                  clear_dead_mount, dead_mount, mount_background,
                                  mount_foreground)
from citcfs.client.mount import unmount as unmount_path

from . import barrier, context, local_server, output
from .base_cmd import import_tree


FUSE_DEVICE = "/dev/fuse"


def fuse_problems(device: str = FUSE_DEVICE,
                  find_library: Callable[[str], str | None] = ctypes.util.find_library,
                  which: Callable[[str], str | None] = shutil.which,
                  is_root: bool | None = None) -> list[str]:
    """What this machine lacks to mount: libfuse 3, /dev/fuse, and (for a user who is
    not root) the setuid fusermount3 that mounts for them. Empty when nothing."""
    problems = []
    if find_library("fuse3") is None:
        problems.append("libfuse 3 is not installed (Debian/Ubuntu: apt install fuse3; "
                        "Fedora: dnf install fuse3)")
    elif (is_root if is_root is not None else os.geteuid() == 0) is False \
            and which("fusermount3") is None:
        problems.append("fusermount3 is missing (it comes with the fuse3 package)")
    if not os.path.exists(device):
        problems.append(f"{device} does not exist (load the module: modprobe fuse; in a "
                        f"container, run it with --device /dev/fuse --cap-add SYS_ADMIN)")
    return problems


def _check_fuse() -> None:
    problems = fuse_problems()
    if problems:
        raise errors.FailedPrecondition("citc mount needs FUSE: " + "; ".join(problems)
                                        + ". Every other citc command works without it.")


def _check_names(name: str, base_name: str | None) -> None:
    """Name the argument that is wrong before anything is imported or created: the
    base is named like WS by default, so a bad WS would otherwise be blamed on it."""
    try:
        paths.check_label(name, "workspace name")
    except errors.InvalidArgument as exc:
        raise click.BadParameter(exc.message, param_hint="WS") from None
    if base_name is not None:
        try:
            paths.check_label(base_name, "base name")
        except errors.InvalidArgument as exc:
            raise click.BadParameter(exc.message, param_hint="--base-name") from None


def _ensure_workspace(name: str, tree: str | None, base_name: str | None) -> None:
    _check_names(name, base_name)
    client = context.client()
    try:
        client.describe_workspace(name)
        return
    except errors.NotFound:
        pass
    if tree is None and base_name is None:
        raise errors.WorkspaceNotFound(f"no workspace {name!r}; give --base DIR (a tree to "
                                       f"import) or --base-name BASE to create it")
    base_name = base_name or name
    known = {b.name for b in client.list_bases()}
    if base_name not in known:
        if tree is None:
            raise errors.BaseNotFound(f"no base {base_name!r}; give --base DIR to import one")
        import_tree(base_name, tree, f"imported by citc mount from {os.path.abspath(tree)}")
    elif tree is not None:
        click.echo(f"base {base_name!r} exists; using it as it is (citc base import "
                   f"{tree} --name {base_name} adds a revision)", err=True)
    workspace = client.create_workspace(name, base_name)
    click.echo(f"created workspace {workspace.name} over {workspace.base}@{workspace.base_rev}")


def _check_metrics_address(ctx: click.Context, param: click.Parameter,
                           value: str | None) -> str | None:
    """Refuse a malformed --metrics before anything is imported, created or mounted."""
    if value is not None:
        try:
            parse_address(value)
        except errors.InvalidArgument as exc:
            raise click.BadParameter(exc.message) from None
    return value


@click.command()
@click.argument("workspace", metavar="WS")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--base", "tree", type=click.Path(exists=True, file_okay=False), metavar="TREE",
              help="Create WS if missing, over a base imported from this directory (if the "
                   "base does not exist yet).")
@click.option("--base-name", metavar="BASE",
              help="The base to create WS over (default: named like WS).")
@click.option("--server", metavar="ADDR", help="The server (as citc --server; overrides it).")
@click.option("--foreground", "-f", is_flag=True, help="Serve in this process until unmounted.")
@click.option("--cache-size", "cache_bytes", default=str(DEFAULT_CACHE_BYTES), metavar="SIZE",
              callback=lambda _ctx, _param, value: output.parse_size(value),
              help=f"Local object cache size, e.g. 512M or 4G "
                   f"(default {output.human_bytes(DEFAULT_CACHE_BYTES)}).")
@click.option("--attr-timeout", type=float, default=DEFAULT_ATTR_TIMEOUT, show_default=True,
              metavar="S", help="Seconds the kernel may cache names, attributes and "
              "listings (changes by others are invalidated at once).")
@click.option("--sync-writes", is_flag=True,
              help="A returned close(), chmod or rename means the server has it (slower); "
                   "by default they return once journaled locally.")
@click.option("--journal-size", "journal_bytes", default="1G", show_default=True,
              metavar="SIZE", callback=lambda _c, _p, v: output.parse_size(v),
              help="Journaled changes the server has not taken yet, at most; past it, "
                   "writes wait, then fail with ENOSPC.")
@click.option("--nonempty", is_flag=True,
              help="Mount even if DIR holds files (they are hidden while it is mounted).")
@click.option("--metrics", metavar="HOST:PORT", callback=_check_metrics_address,
              help="Serve the mount's metrics for Prometheus at http://HOST:PORT/metrics "
                   "(HOST defaults to 127.0.0.1; port 0 picks a free one).")
def mount(workspace: str, directory: str, tree: str | None, base_name: str | None,
          server: str | None, foreground: bool, cache_bytes: int, attr_timeout: float,
          sync_writes: bool, journal_bytes: int, nonempty: bool, metrics: str | None) -> None:
    """Mount workspace WS on DIR (made if missing; refused if it holds files, unless
    --nonempty).

    A dead mount on DIR (its process was killed) is unmounted first, and what it
    had journaled reaches the server before the new mount serves anything.

    Needs FUSE: libfuse 3 (the fuse3 package) and /dev/fuse; without them it says
    what is missing and changes nothing.

    With --base TREE, a newcomer's one command: TREE is imported as a base (named
    like WS, or --base-name) unless that base exists, and WS is created over it
    unless it exists.

    \b
    Example:
      citc mount demo ~/demo --base ./some/tree
      citc mount fix-1234 /src/fix --cache-size 8G
      citc mount demo ~/demo --metrics 127.0.0.1:9567   # for Prometheus
    """
    ctx = context.get()
    if server:
        ctx.server = server
    _check_fuse()
    _check_names(workspace, base_name)
    mountpoint = os.path.abspath(os.path.expanduser(directory))
    _clear_dead(mountpoint)
    if not nonempty and os.path.isdir(mountpoint) and not os.path.ismount(mountpoint):
        check_empty(mountpoint)  # before a workspace or base is made for nothing
    _ensure_workspace(workspace, tree, base_name)
    os.makedirs(mountpoint, exist_ok=True)
    options = MountOptions(server=ctx.address(), workspace=workspace, mountpoint=mountpoint,
                           cache_bytes=cache_bytes,
                           attr_timeout=attr_timeout, token=os.environ.get("CITC_TOKEN"),
                           tls_ca=os.environ.get("CITC_TLS_CA"), debug=ctx.debug,
                           sync_writes=sync_writes, journal_bytes=journal_bytes,
                           nonempty=nonempty, metrics=metrics)
    if foreground:
        click.echo(f"serving {workspace} on {mountpoint} (Ctrl-C or citc unmount to stop)",
                   err=True)
        context.record_mount(mountpoint, workspace, options.server)
        try:
            mount_foreground(options)
        finally:
            context.forget_mount(mountpoint)
        return
    log_dir = local_server.data_dir()
    os.makedirs(log_dir, mode=0o700, exist_ok=True)
    log_file = os.path.join(log_dir, f"mount-{workspace}.log")
    pid = mount_background(options, log_file)
    context.record_mount(mountpoint, workspace, options.server)
    click.echo(f"mounted {output.style(workspace, bold=True)} on {mountpoint} (pid {pid}, "
               f"log {log_file})")


def _clear_dead(mountpoint: str) -> None:
    """Unmount a dead citcfs mount on `mountpoint`, saying so."""
    source = clear_dead_mount(mountpoint)
    if source is not None:
        click.echo(f"{mountpoint} held a dead mount of {source.partition(':')[2]} (its "
                   f"process had ended); unmounted it", err=True)
        context.forget_mount(mountpoint)


@click.command()
@click.argument("directory", metavar="DIR", type=click.Path())
def unmount(directory: str) -> None:
    """Unmount the citcfs mount at DIR, once the server has everything it journaled.

    If the server cannot be reached, the journal stays in the cache directory and the
    next mount of the workspace sends it first. A dead mount (its process was
    killed) is unmounted as well, lazily if something still uses it; the next mount
    of its workspace sends what it had journaled.

    \b
    Example:
      citc unmount ~/demo
    """
    path = os.path.abspath(os.path.expanduser(directory))
    mount = next((m for m in context.citc_mounts() if m.mountpoint == path), None)
    if mount is None and (os.path.ismount(path) or dead_mount(path) is not None):
        raise errors.InvalidArgument(f"{directory!r} is not a citcfs mount")
    if mount is not None and dead_mount(path) is not None:
        unmount_path(path)
        context.forget_mount(path)
        click.echo(f"unmounted {mount.workspace} from {path} (its mount process had ended; "
                   f"the next mount of {mount.workspace} sends what it had journaled)")
        return
    if mount is not None:
        try:
            barrier.flush_mount(mount.mountpoint)
        except (errors.Unavailable, errors.WorkspaceDeleted) as exc:
            click.echo(f"citc: warning: {exc.message}", err=True)
    unmount_path(path)
    context.forget_mount(path)
    click.echo(f"unmounted {mount.workspace + ' from ' if mount else ''}{path}")
