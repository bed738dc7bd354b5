"""Assembling and running a citcfs server: listener, security, services, shutdown.

Threads, not asyncio: grpcio's synchronous server runs each call on a pool thread,
which suits `Database` (blocking LMDB calls and a group committer that parks callers
until their batch is durable) with no executor hop per call. Its cost is that every
open Watch or CommitStream stream occupies a thread for as long as it lasts, so the
pool is sized as `Limits.rpc_workers + Limits.max_watch_streams +
Limits.max_commit_streams` (352 by default) and streams beyond their limit are
refused with RESOURCE_EXHAUSTED: streams can never starve ordinary calls. An idle Python thread costs little memory, and a
parked watcher wakes only when a workspace it watches changes.

Security (see `server.auth`): a Unix socket is created with mode 0600; a TCP listener
on a non-loopback address requires TLS and a tokens file.

Shutdown (SIGTERM, SIGINT or `CitcServer.stop`): health turns NOT_SERVING, Watch
streams end, CommitStream calls end (after the commit they are running, if any),
new calls are refused, calls in flight get `grace` seconds, and the handler threads
are joined before the database closes, so a commit that started is
either finished and acknowledged or never acknowledged. Nothing acknowledged is lost:
acknowledgement follows the durable LMDB commit.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import stat
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

from citcfs.errors import AlreadyExists, InvalidArgument
from citcfs.memory import keep_large_buffers
from citcfs.protos import citc_pb2 as pb
from citcfs.protos import citc_pb2_grpc as pb_grpc
from citcfs.storage import Database
from citcfs.storage.backends import parse_kv, parse_objects
from citcfs.storage.etcd_backend import EtcdKVStore

from .auth import Authenticator, TokenTable
from .grants import GrantStore
from .head_feed import feed_hub
from .shared_grants import SharedGrantStore
from .hub import InvalidationHub
from . import metrics as server_metrics
from .limits import Limits
from .servicer import CitcServicer

if TYPE_CHECKING:
    from .web.listener import HttpListener

log = logging.getLogger("citcfs.server")

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Citc"].full_name


REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def enable_reflection(server: grpc.Server, services: tuple[str, ...]) -> None:
    """Serve gRPC reflection as grpc.reflection.v1 (what current grpcurl asks for)
    and v1alpha (older tools).

    grpcio-reflection 1.85 ships only v1alpha. The v1 protocol is the same messages
    under another package, field for field, so one servicer answers both: v1 is
    registered as a generic handler with the v1alpha messages as its codec.
    """
    names = services + (REFLECTION_V1, reflection.SERVICE_NAME)
    servicer = reflection.ReflectionServicer(names)
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(servicer, server)
    handler = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        REFLECTION_V1, {"ServerReflectionInfo": handler}),))


@dataclass(frozen=True)
class ServerConfig:
    """Everything `citc server` can be told."""

    data_dir: str
    listen: str
    """``unix:/path/to/socket`` or ``host:port`` (port 0 picks a free port)."""
    tls_cert: str | None = None
    tls_key: str | None = None
    tokens_file: str | None = None
    limits: Limits = field(default_factory=Limits)
    keepalive_time_s: float = 20.0
    """The server pings an idle connection this often ..."""
    keepalive_timeout_s: float = 10.0
    """... and drops it (ending its streams) if no answer comes within this."""
    grace_s: float = 30.0
    """How long calls in flight may take to finish at shutdown."""
    sync: bool = True
    """fsync every commit (False only for throwaway benchmarks)."""
    local_user: str | None = None
    """Who Unix-socket callers are; the server's OS user by default."""
    http: str | None = None
    """``host:port`` of the HTTP listener (metrics, health, web view); None: none.
    Loopback unless TLS and tokens are configured, as for the gRPC port."""
    kv: str | None = None
    """Where the log and indexes live (`storage.backends`): LMDB in `data_dir` by
    default, or ``etcd://host:port,...`` shared by any number of servers."""
    objects: str | None = None
    """Where objects live: ``local`` (in `data_dir`, the default), ``file:///path``, or
    ``s3://bucket?endpoint=...`` shared by any number of servers."""
    metrics: bool = True
    """Record Prometheus metrics (`server.metrics`); False records nothing."""


def check_backends(kv: object, objects: object) -> None:
    """Refuse a malformed `--kv` or `--objects` URL (InvalidArgument) before anything
    is opened or bound, so that a typo gets one clear line."""
    def url(value: object, what: str) -> str | None:
        if value is None or isinstance(value, str):
            return value
        raise InvalidArgument(f"{what} must be a URL")
    parse_kv(url(kv, "kv"))
    parse_objects(url(objects, "objects"))


def _check_exposure(host: str, config: ServerConfig, tokens: TokenTable | None, listener: str,
                    remote: str, loopback_warning: str) -> None:
    """The one rule of every listener: off loopback, TLS and bearer tokens are required
    (InvalidArgument naming `listener`); on loopback without tokens, warn."""
    if not is_loopback(host) and (not config.tls_cert or tokens is None):
        raise InvalidArgument(f"{listener} needs --tls-cert, --tls-key and --tokens: "
                              f"{remote} requires TLS and bearer tokens")
    if tokens is None:
        log.warning(loopback_warning)


def is_unix(address: str) -> bool:
    return address.startswith("unix:")


def unix_path(address: str) -> str:
    path = address[len("unix:"):]
    if path.startswith("//"):
        path = path[2:]
    if not path:
        raise InvalidArgument(f"listen address {address!r} names no socket path")
    return path


def split_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InvalidArgument(f"listen address {address!r} is not unix:PATH or HOST:PORT")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a dead server; refuse if a server answers on it."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise AlreadyExists(f"{path} exists and is not a socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        os.unlink(path)
        return
    finally:
        probe.close()
    raise AlreadyExists(f"a server is already listening on {path}")


class CitcServer:
    """A running server; make one with `CitcServer.start(config)`."""

    def __init__(self, config: ServerConfig, db: Database, server: grpc.Server,
                 executor: futures.ThreadPoolExecutor, servicer: CitcServicer,
                 health_servicer: health.HealthServicer, address: str,
                 http: HttpListener | None = None) -> None:
        self.config = config
        self.http = http
        """The HTTP listener (`config.http`), or None."""
        self.db = db
        self.servicer = servicer
        self.address = address
        self._server = server
        self._executor = executor
        self._health = health_servicer
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._stop_feed: Callable[[], None] | None = None

    @property
    def hub(self) -> InvalidationHub:
        return self.servicer.hub

    @classmethod
    def start(cls, config: ServerConfig) -> "CitcServer":
        """Open the data directory, bind the listener and start serving."""
        limits = config.limits
        tokens = TokenTable.load(config.tokens_file) if config.tokens_file else None
        credentials = cls._credentials(config, tokens)
        http_address = cls._http_address(config, tokens)
        db = Database.open(config.data_dir, sync=config.sync, kv=config.kv,
                           objects=config.objects)
        http: HttpListener | None = None
        started: grpc.Server | None = None
        stop_feed: Callable[[], None] | None = None
        try:
            metrics = server_metrics.enable(db) if config.metrics else None
            hub = InvalidationHub(limits.max_watch_streams,
                                  on_sent=server_metrics.watch_events_sent if metrics else None)
            shared = isinstance(db.kv, EtcdKVStore)
            grants = SharedGrantStore(db.kv) if shared else GrantStore(config.data_dir)
            servicer = CitcServicer(db, Authenticator(tokens, config.local_user),
                                    grants, hub, limits)  # type: ignore[arg-type]
            db.add_listener(hub.published)
            stop_feed = feed_hub(db, hub)
            executor = futures.ThreadPoolExecutor(max_workers=limits.thread_pool_size,
                                                  thread_name_prefix="citc-rpc")
            server = grpc.server(executor, options=cls._options(config),
                                 interceptors=[metrics] if metrics else None)
            pb_grpc.add_CitcServicer_to_server(servicer, server)
            health_servicer = health.HealthServicer()
            health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
            enable_reflection(server, (SERVICE_NAME, health.SERVICE_NAME))
            address = cls._bind(server, config, credentials)
            server.start()
            started = server
            if http_address is not None:
                http = cls._start_http(config, db, servicer, http_address)
        except BaseException:
            if started is not None:
                started.stop(0)
            if stop_feed is not None:
                stop_feed()
            server_metrics.disable(db)
            db.close()
            raise
        if metrics:
            server_metrics.track_hub(hub)
        for service in ("", SERVICE_NAME):
            health_servicer.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info("serving %s on %s (data %s, kv %s, %d threads, %s)", SERVICE_NAME, address,
                 config.data_dir, config.kv or "lmdb", limits.thread_pool_size,
                 "TLS" if credentials else "no TLS")
        running = cls(config, db, server, executor, servicer, health_servicer, address, http)
        running._stop_feed = stop_feed
        return running

    @staticmethod
    def _start_http(config: ServerConfig, db: Database, servicer: CitcServicer,
                    address: tuple[str, int]) -> HttpListener:
        """The HTTP listener. Its modules (Starlette, uvicorn, Jinja2, pygments) are
        imported only here, so a server without --http starts as fast as before."""
        from .web.app import create_app
        from .web.listener import HttpListener

        app = create_app(db, servicer.auth, servicer.grants, tls=bool(config.tls_cert))
        return HttpListener.start(app, *address, tls_cert=config.tls_cert,
                                  tls_key=config.tls_key)

    @staticmethod
    def _http_address(config: ServerConfig, tokens: TokenTable | None) -> tuple[str, int] | None:
        """Where the HTTP listener binds; the same rule as the gRPC port: a
        non-loopback address needs TLS and tokens."""
        if config.http is None:
            return None
        host, port = split_host_port(config.http)
        _check_exposure(host, config, tokens, f"--http on {host or 'every address'}",
                        "a remote web view", "HTTP on loopback without --tokens: every "
                        "local caller reads every workspace as the server's user")
        return host, port

    @staticmethod
    def _options(config: ServerConfig) -> list[tuple[str, int]]:
        limits = config.limits
        return [
            ("grpc.max_receive_message_length", limits.max_message_bytes),
            ("grpc.max_send_message_length", limits.max_message_bytes),
            ("grpc.keepalive_time_ms", int(config.keepalive_time_s * 1000)),
            ("grpc.keepalive_timeout_ms", int(config.keepalive_timeout_s * 1000)),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
            ("grpc.so_reuseport", 0),  # a second server on the same port must fail
        ]

    @staticmethod
    def _credentials(config: ServerConfig, tokens: TokenTable | None) -> grpc.ServerCredentials | None:
        """TLS credentials if configured; refuse insecure non-loopback listeners."""
        if bool(config.tls_cert) != bool(config.tls_key):
            raise InvalidArgument("--tls-cert and --tls-key go together")
        if not is_unix(config.listen):
            host, _ = split_host_port(config.listen)
            _check_exposure(host, config, tokens, f"listening on {host or 'every address'}",
                            "a remote server", "listening on loopback TCP without --tokens: "
                            "every local caller is trusted as the server's user")
        if not config.tls_cert:
            return None
        assert config.tls_key is not None
        with open(config.tls_key, "rb") as f:
            key = f.read()
        with open(config.tls_cert, "rb") as f:
            cert = f.read()
        return grpc.ssl_server_credentials([(key, cert)])

    @staticmethod
    def _bind(server: grpc.Server, config: ServerConfig,
              credentials: grpc.ServerCredentials | None) -> str:
        """Bind the listener; return the address clients use."""
        if is_unix(config.listen):
            if credentials is not None:
                raise InvalidArgument("TLS is for TCP listeners; a Unix socket is private")
            path = os.path.abspath(unix_path(config.listen))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            _remove_stale_socket(path)
            # The socket is created owner-only from the start (no window where others
            # could connect), then chmod makes sure of it.
            old_umask = os.umask(0o177)
            try:
                server.add_insecure_port(f"unix:{path}")
            finally:
                os.umask(old_umask)
            os.chmod(path, 0o600)
            return f"unix:{path}"
        host, port = split_host_port(config.listen)
        if credentials is None:
            bound = server.add_insecure_port(config.listen)
        else:
            bound = server.add_secure_port(config.listen, credentials)
        if bound == 0:
            raise AlreadyExists(f"cannot listen on {config.listen} (in use?)")
        shown = f"[{host}]" if ":" in host else host
        return f"{shown}:{bound}"

    def stop(self, grace: float | None = None) -> None:
        """Stop gracefully (idempotent): finish calls in flight, then close the data."""
        with self._stop_lock:
            if self._stopped.is_set():
                return
            grace = self.config.grace_s if grace is None else grace
            log.info("shutting down (grace %.0f s)", grace)
            self._health.enter_graceful_shutdown()
            if self.http is not None:
                self.http.stop()
            self.hub.shutdown()
            self.servicer.commit_streams.shutdown()
            self._server.stop(grace).wait()
            self._executor.shutdown(wait=True)  # handler threads still committing
            self.db.remove_listener(self.hub.published)
            if self._stop_feed is not None:
                self._stop_feed()
            server_metrics.disable(self.db)
            self.db.close()
            if is_unix(self.address):
                try:
                    os.unlink(unix_path(self.address))
                except FileNotFoundError:
                    pass
            self._stopped.set()
            log.info("stopped")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server has stopped; False on timeout."""
        return self._stopped.wait(timeout)

    def __enter__(self) -> "CitcServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace=5)


def serve(config: ServerConfig, on_ready: Callable[[CitcServer], None] | None = None) -> None:
    """Run a server until SIGTERM or SIGINT (main thread only), then stop gracefully."""
    keep_large_buffers()
    server = CitcServer.start(config)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop_requested.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_ready is not None:
            on_ready(server)
        while not stop_requested.wait(1.0):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
