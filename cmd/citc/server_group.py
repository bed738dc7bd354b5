"""`citc server`: run a server (`citc server --data DIR --listen ADDR`), or manage the
local one that `citc` starts by itself (`citc server status`, `citc server stop`).

The serving command itself is `server_cmd.server`; this group takes the same options
and hands them to it, so both spellings stay one implementation.
"""

from __future__ import annotations

import copy
import sys

import click

from citcfs.errors import CitcError

from . import context, local_server, output
from .server_cmd import server as serve_command


def _optional(params: list[click.Parameter]) -> list[click.Parameter]:
    optional = []
    for param in params:
        param = copy.copy(param)
        param.required = False
        optional.append(param)
    return optional


class ServerGroup(click.Group):
    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path,
                              "--data DIR --listen ADDR [OPTIONS] | status | stop")


@click.group(cls=ServerGroup, invoke_without_command=True,
             params=_optional(serve_command.params))
@click.pass_context
def server(ctx: click.Context, /, **options: object) -> None:
    """Run a citcfs server, or manage your local one.

    \b
    Serve a data directory until Ctrl-C or SIGTERM:
      citc server --data /srv/citc --listen unix:/run/citc.sock
      citc server --data /srv/citc --listen 0.0.0.0:7070 --tls-cert c.pem \\
                  --tls-key k.pem --tokens tokens.txt
    The local server citc starts by itself (when no --server or CITC_SERVER is set):
      citc server status
      citc server stop
    """
    if ctx.invoked_subcommand is not None:
        if any(options.get(name) for name in ("data_dir", "listen", "tls_cert", "tls_key",
                                                 "tokens_file", "http", "kv", "objects",
                                                 "config_file")):
            raise click.UsageError("serving options go without a subcommand")
        return
    if not options.get("config_file") and (not options.get("data_dir")
                                           or not options.get("listen")):
        raise click.UsageError("citc server needs --data DIR and --listen ADDR "
                               "(or a subcommand: status, stop)")
    ctx.invoke(serve_command, **options)


def _local_status() -> dict[str, object]:
    paths = local_server.local_paths()
    pid = local_server.running_pid(paths)
    return {"local": True, "running": pid is not None and local_server.answers(paths.socket),
            "pid": pid, "address": paths.address, "data_dir": paths.data_dir,
            "log": paths.log_file}


@server.command()
@output.json_option
def status(as_json: bool) -> None:
    """Whether the server answers, and where it keeps things.

    Exits 0 when it answers and 3 when it does not. It never starts a server.

    \b
    Example:
      citc server status
      citc --server host:7070 server status --json
    """
    ctx = context.get()
    if ctx.is_local:
        state = _local_status()
    else:
        state = {"local": False, "running": False, "pid": None, "address": ctx.server,
                 "data_dir": None, "log": None}
    if state["running"] or not ctx.is_local:
        try:
            info = ctx.client().server_info(timeout=5)
            state.update(running=True, server_version=info.server_version,
                         api_version=info.api_version, user=info.user)
        except CitcError as exc:
            state.update(running=False, error=exc.message)
    if as_json:
        output.emit_json(state)
    elif state["running"]:
        where = "local server" if state["local"] else "server"
        pid = f" (pid {state['pid']})" if state["pid"] else ""
        click.echo(f"{where}{pid} {output.style('running', fg='green')} at {state['address']}")
        click.echo(f"  version {state['server_version']}, api {state['api_version']}, "
                   f"you are {state['user']!r}")
        if state["local"]:
            click.echo(f"  data {state['data_dir']}\n  log  {state['log']}")
    else:
        detail = f": {state['error']}" if state.get("error") else ""
        click.echo(f"{'local server' if state['local'] else 'server'} "
                   f"{output.style('not running', fg='red')} at {state['address']}{detail}")
    if not state["running"]:
        sys.exit(3)


@server.command()
def stop() -> None:
    """Stop the local server citc started (SIGTERM, then SIGKILL after 30 s).

    Mounts served by it stop working until it runs again.

    \b
    Example:
      citc server stop
    """
    if not context.get().is_local:
        raise click.UsageError("citc server stop manages the local server only "
                               "(unset --server / CITC_SERVER)")
    paths = local_server.local_paths()
    pid = local_server.stop(paths)
    if pid is None:
        click.echo("no local server is running")
        return
    click.echo(f"stopped the local server (pid {pid})")
    mounts = context.mounts_of_server(paths.address)
    if mounts:
        click.echo(f"note: {len(mounts)} citcfs mount(s) remain: "
                   + ", ".join(m.mountpoint for m in mounts), err=True)
