"""The `citc` command line: one click group; each subcommand lives in its own module.

Errors are turned into exit codes here, once: a citcfs error prints one line
``citc: error: ...`` on stderr and exits with its `exit_code` (1 user error, 3 server
unreachable, 4 conflict); usage errors exit 2; nothing prints a traceback unless
``--debug`` is given (or CITC_DEBUG is set).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from citcfs.errors import CitcError, Unavailable

from . import context

# click 8.2+ raises this for a group given no subcommand; older clicks print help.
_NO_ARGS_IS_HELP: type[click.ClickException] = getattr(click.exceptions, "NoArgsIsHelpError",
                                            type("_Never", (click.ClickException,), {}))


def _fail(message: str, code: int) -> None:
    click.echo(f"citc: error: {message}", err=True)
    sys.exit(code)


def _unreachable(detail: str) -> str:
    """gRPC's long connect failure, shortened to what a person needs."""
    reason = detail.rsplit("error: ", 1)[-1].strip() if "error: " in detail else detail
    where = f" at {context.last_address}" if context.last_address else ""
    return f"cannot reach the server{where}: {reason}"


class CitcGroup(click.Group):
    """The top-level group: maps every failure to one error line and an exit code."""

    def main(self, args: Any = None, prog_name: str | None = None,  # type: ignore[override]
             **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv[:argv.index("--")] if "--" in argv else "--debug" in argv
        debug = debug or bool(os.environ.get("CITC_DEBUG"))
        try:
            result = super().main(argv, prog_name=prog_name or "citc", standalone_mode=False,
                                  **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.Abort:
            _fail("aborted", 1)
        except _NO_ARGS_IS_HELP as exc:  # `citc` or `citc ws` alone: show the help
            click.echo(exc.format_message())
            sys.exit(0)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(exc.format_message() + hint, exc.exit_code)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except CitcError as exc:
            if debug:
                raise
            message = exc.message
            if isinstance(exc, Unavailable) and "server" not in message:
                message = _unreachable(message)
            _fail(message, exc.exit_code)
        except BrokenPipeError:
            # The reader went away (citc log | head): not an error worth a line.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:  # a local file problem: permissions, space, a missing dir
            if debug:
                raise
            where = f": {exc.filename}" if exc.filename else ""
            _fail(f"{exc.strerror or exc}{where}", 1)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except Exception as exc:  # a bug: one line, and the way to see the rest
            if debug:
                raise
            _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the "
                  f"traceback)", 1)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=CitcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="citcfs")
@click.option("--server", envvar="CITC_SERVER", metavar="ADDR",
              help="The server (unix:/path or HOST:PORT; also CITC_SERVER). Without it, "
                   "citc uses (and if needed starts) a local server of your own.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, server: str | None, debug: bool) -> None:
    """citcfs: lightweight workspaces over huge source trees.

    \b
    Start here:
      citc mount demo ~/demo --base ./some/tree   # import, create, mount
      cd ~/demo && $EDITOR README && citc diff
      citc snapshot first && citc log
      citc unmount ~/demo

    States are named WS, WS@N, WS@LABEL, WS@base or WS@fork: see 'citc help refs'.
    """
    obj = ctx.ensure_object(context.Context)
    obj.server = server or None
    obj.debug = debug
    ctx.call_on_close(obj.close)


HELP_TOPICS = {"refs": "how to name a state: WS, WS@N, WS@LABEL, WS@base, WS@fork"}


@click.command("help")
@click.argument("topic", required=False, metavar="[TOPIC|COMMAND]")
@click.pass_context
def help_(ctx: click.Context, topic: str | None) -> None:
    """Help on a topic (refs) or a command.

    \b
    Example:
      citc help refs
      citc help diff
    """
    from .refs import HELP as REFS_HELP

    if topic == "refs":
        click.echo(REFS_HELP, nl=False)
        return
    group = ctx.parent.command if ctx.parent is not None else main
    assert isinstance(group, click.Group)
    command = group.get_command(ctx, topic) if topic else None
    if topic and command is None:
        raise click.BadParameter(f"no topic or command {topic!r} (topics: "
                                 f"{', '.join(HELP_TOPICS)})", param_hint="TOPIC")
    target = command or group
    with click.Context(target, info_name=topic or "citc", parent=ctx.parent) as sub:
        click.echo(target.get_help(sub))
    if not topic:
        click.echo("\nTopics:\n" + "".join(f"  citc help {name:<8} {text}\n"
                                           for name, text in HELP_TOPICS.items()), nl=False)


def _register() -> None:
    from .admin_cmd import fsck, gc
    from .base_cmd import base
    from .diff_cmd import diff, status
    from .files_cmd import cat, export
    from .history_cmd import log, restore, revert, snapshot, snapshots, submit, sync
    from .mount_cmd import mount, unmount
    from .redirect_cmd import redirect
    from .server_group import server
    from .stats_cmd import stats
    from .ws_cmd import ws

    for command in (server, base, ws, status, diff, snapshot, snapshots, log, cat, restore,
                    revert, sync, submit, export, mount, unmount, redirect, gc, fsck, stats,
                    help_):
        main.add_command(command)


_register()


if __name__ == "__main__":
    main()
