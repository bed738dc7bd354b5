"""`citc server`: run a citcfs server on a data directory."""

from __future__ import annotations

import logging
import sys

import click

from citcfs.errors import CitcError

from . import server_config

LOG_LEVELS = ("debug", "info", "warning", "error")


def _setup_logging(level: str) -> None:
    """One line per event on stderr: time, level, logger, message."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@click.command()
@click.option("--data", "data_dir", type=click.Path(file_okay=False),
              help="The data directory (created if missing).")
@click.option("--listen", metavar="ADDR",
              help="unix:/path/to/socket, or HOST:PORT (port 0 picks a free one).")
@click.option("--kv", metavar="URL",
              help="Where the log lives: lmdb (in DATA, the default) or "
                   "etcd://HOST:PORT[,HOST:PORT...][/PREFIX], shared by many servers.")
@click.option("--objects", metavar="URL",
              help="Where objects live: local (in DATA, the default), file:///PATH, or "
                   "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
              help="A TOML file with these options in [server]; the command line wins.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False),
              help="How much to log to stderr.  [default: info]")
@click.option("--tls-cert", type=click.Path(dir_okay=False, exists=True),
              help="PEM certificate chain for TLS.")
@click.option("--tls-key", type=click.Path(dir_okay=False, exists=True),
              help="PEM private key for TLS.")
@click.option("--tokens", "tokens_file", type=click.Path(dir_okay=False, exists=True),
              help="Bearer tokens file: one 'TOKEN USER [admin]' per line.")
@click.option("--grace", type=float,
              help="Seconds calls in flight get to finish at shutdown.  [default: 30]")
@click.option("--http", "http", metavar="HOST:PORT",
              help="Also serve /metrics, /healthz and the web view over HTTP here "
                   "(e.g. 127.0.0.1:8080; port 0 picks a free one).")
@click.option("--no-metrics", "no_metrics", is_flag=True, default=None,
              help="Record no Prometheus metrics (to measure what they cost).")
def server(data_dir: str | None, listen: str | None, kv: str | None, objects: str | None,
           config_file: str | None, log_level: str | None, tls_cert: str | None,
           tls_key: str | None, tokens_file: str | None, grace: float | None,
           http: str | None, no_metrics: bool | None) -> None:
    """Serve workspaces from DATA on ADDR until Ctrl-C or SIGTERM.

    A Unix socket is made owner-only (mode 0600) and its callers are the server's
    user. A non-loopback TCP address requires --tls-cert, --tls-key and --tokens,
    and so does a non-loopback --http address (it uses the same certificate and
    tokens; a browser logs in with a token once). With --kv etcd://... any number
    of servers serve the same workspaces.
    """
    from citcfs.server.app import CitcServer, ServerConfig, check_backends, serve

    given = {"data_dir": data_dir, "listen": listen, "kv": kv, "objects": objects,
             "log_level": log_level, "tls_cert": tls_cert, "tls_key": tls_key,
             "tokens_file": tokens_file, "grace": grace, "http": http,
             "no_metrics": no_metrics}
    try:
        settings = server_config.load(config_file) if config_file else {}
        settings.update({name: value for name, value in given.items() if value is not None})
        if not settings.get("data_dir") or not settings.get("listen"):
            raise click.UsageError("citc server needs --data DIR and --listen ADDR "
                                   "(on the command line or in --config)")
        check_backends(settings.get("kv"), settings.get("objects"))
    except CitcError as exc:
        click.echo(f"citc server: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    level = str(settings.get("log_level") or "info")
    if level.lower() not in LOG_LEVELS:
        raise click.UsageError(f"log-level must be one of {', '.join(LOG_LEVELS)}")
    _setup_logging(level)
    config = ServerConfig(data_dir=str(settings["data_dir"]), listen=str(settings["listen"]),
                          tls_cert=settings.get("tls_cert"),  # type: ignore[arg-type]
                          tls_key=settings.get("tls_key"),  # type: ignore[arg-type]
                          tokens_file=settings.get("tokens_file"),  # type: ignore[arg-type]
                          grace_s=float(settings.get("grace") or 30.0),  # type: ignore[arg-type]
                          kv=settings.get("kv"),  # type: ignore[arg-type]
                          objects=settings.get("objects"),  # type: ignore[arg-type]
                          http=settings.get("http"),  # type: ignore[arg-type]
                          metrics=not settings.get("no_metrics"))

    def ready(running: CitcServer) -> None:
        click.echo(f"citc server listening on {running.address}", err=False)
        if running.http is not None:
            click.echo(f"citc server web view on {running.http.url}/", err=False)
        sys.stdout.flush()

    try:
        serve(config, on_ready=ready)
    except CitcError as exc:
        click.echo(f"citc server: {exc.message}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":  # `python -m citcfs.cmd.server_cmd`, without the rest of the CLI
    server()
