"""The HTTP listener of a server: uvicorn serving one ASGI app from a thread.

The socket is bound here, in the caller's thread, before uvicorn starts, so a port
in use or a bad address fails `CitcServer.start` with one clear error rather than in
a background thread; port 0 picks a free port, and `address` tells which. TLS, when
the server has a certificate, is uvicorn's (the same certificate and key as the
gRPC port). uvicorn installs no signal handlers outside the main thread, so the
server process keeps its own SIGTERM handling, and `stop` ends the loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from typing import Any

import uvicorn

from citcfs.errors import AlreadyExists, InvalidArgument, Unavailable

log = logging.getLogger("citcfs.server.http")

START_TIMEOUT_S = 10.0
STOP_GRACE_S = 5.0


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); AlreadyExists if the port is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=128)
    except OSError as exc:
        if isinstance(exc, PermissionError) or "in use" in str(exc):
            raise AlreadyExists(f"cannot listen on {host}:{port} for HTTP: {exc.strerror}") \
                from exc
        raise InvalidArgument(f"cannot listen on {host}:{port} for HTTP: {exc}") from exc


class HttpListener:
    """uvicorn on a bound socket, in a daemon thread; `stop` ends it."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread,
                 sock: socket.socket, address: str, tls: bool) -> None:
        self._server = server
        self._thread = thread
        self._socket = sock
        self.address = address
        """``host:port`` as bound (the real port when 0 was asked)."""
        self.tls = tls

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.address}"

    @classmethod
    def start(cls, app: Any, host: str, port: int, tls_cert: str | None = None,
              tls_key: str | None = None) -> "HttpListener":
        """Bind, then serve `app` from a new thread; returns once it accepts."""
        sock = bind(host, port)
        try:
            config = uvicorn.Config(app, ssl_certfile=tls_cert, ssl_keyfile=tls_key,
                                    log_config=None, access_log=False, lifespan="off",
                                    timeout_graceful_shutdown=None, server_header=False)
            config.load()  # TLS files are read here, in the caller's thread
            server = uvicorn.Server(config)
            thread = threading.Thread(target=cls._run, args=(server, sock), daemon=True,
                                      name="citc-http")
            thread.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    server.should_exit = True
                    thread.join(START_TIMEOUT_S)
                    raise Unavailable("the HTTP listener did not start; see the server log")
                time.sleep(0.005)
        except BaseException:
            sock.close()
            raise
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        listener = cls(server, thread, sock, f"{shown}:{bound_port}", tls_cert is not None)
        log.info("serving HTTP (metrics, health, web view) on %s", listener.url)
        return listener

    @staticmethod
    def _run(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except BaseException:  # noqa: BLE001 - logged; start() or stop() sees the thread end
            log.exception("the HTTP listener failed")

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Stop accepting, let requests in flight finish (`grace_s` at most), then close
        every connection and join the thread.

        uvicorn would also wait for idle keep-alive connections to close, and a
        browser may keep one open for minutes; only requests in flight are waited for.
        """
        self._server.should_exit = True
        deadline = time.monotonic() + grace_s
        while self._server.server_state.tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        self._server.force_exit = True
        self._thread.join(10)
        self._socket.close()
