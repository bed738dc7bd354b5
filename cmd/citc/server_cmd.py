"""`citc server`: run a citcfs server on a data directory."""

from __future__ import annotations

import logging
import sys

import click

from citcfs.errors import CitcError

LOG_LEVELS = ("debug", "info", "warning", "error")


def _setup_logging(level: str) -> None:
    """One line per event on stderr: time, level, logger, message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@click.command()
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="The data directory (created if missing).")
@click.option("--listen", required=True, metavar="ADDR",
              help="unix:/path/to/socket, or HOST:PORT (port 0 picks a free one).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              default="info", show_default=True, help="How much to log to stderr.")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True),
              help="PEM certificate chain for TLS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True),
              help="PEM private key for TLS.")
@click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False, exists=True),
              help="Bearer tokens file: one 'TOKEN USER [admin]' per line.")
@click.option("--grace", type=float, default=30.0, show_default=True,
              help="Seconds calls in flight get to finish at shutdown.")
@click.option("--no-metrics", "no_metrics", is_flag=True,
              help="Record no Prometheus metrics (to measure what they cost).")
def server(data_dir: str, listen: str, log_level: str, tls_cert: str | None,
           tls_key: str | None, tokens_file: str | None, grace: float,
           no_metrics: bool) -> None:
    """Serve workspaces from DATA on ADDR until Ctrl-C or SIGTERM.

    A Unix socket is made owner-only (mode 0600) and its callers are the server's
    user. A non-loopback TCP address requires --tls-cert, --tls-key and --tokens.
    """
    from citcfs.server.app import ServerConfig, serve

    _setup_logging(log_level)
    config = ServerConfig(data_dir=data_dir, listen=listen, tls_cert=tls_cert,
                          tls_key=tls_key, tokens_file=tokens_file, grace_s=grace,
                          metrics=not no_metrics)

    def ready(running: object) -> None:
        click.echo(f"citc server listening on {running.address}", err=False)  # type: ignore[attr-defined]
        sys.stdout.flush()

    try:
        serve(config, on_ready=ready)
    except CitcError as exc:
        click.echo(f"citc server: {exc.message}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # `python -m citcfs.cmd.server_cmd`, without the rest of the CLI
    server()
