"""What every page of the web view shares: the storage it reads, who is asking,
access checks, templates, error pages and the request metrics.

Pages read the server's own `Database` and check the same grants as the gRPC
servicer (`server.auth.require`), so a page shows exactly what the API would give
the same user, without a gRPC round trip to ourselves. Every endpoint is a plain
function run on Starlette's thread pool (storage calls block), wrapped by
`Site.endpoint`, which identifies the caller and maps citcfs errors to one HTTP
status each (`STATUS_BY_ERROR`): an unauthenticated browser is sent to the login
form, a user without a grant gets the 403 page.
"""

from __future__ import annotations

import datetime
import functools
import logging
import os
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from citcfs import errors, paths
from citcfs.storage import Database
from citcfs.storage.index_values import WorkspaceState

from ..auth import Authenticator, Identity, require
from ..grants import Access, GrantStore
from . import http_metrics, session

log = logging.getLogger("citcfs.server.http")

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")

STATUS_BY_ERROR: tuple[tuple[type[BaseException], int], ...] = (
    # The first matching class wins, so subclasses come before their parents.
    (errors.Unauthenticated, 401),
    (errors.PermissionDenied, 403),
    (errors.NotFound, 404),          # workspace, base, path, label
    (errors.InvalidArgument, 400),   # a bad ref, path or page number
    (errors.FailedPrecondition, 409),  # e.g. WS@fork of a workspace never forked
    (errors.ResourceExhausted, 413),
    (errors.CorruptData, 500),
    (errors.CitcError, 500),
)

SECURITY_HEADERS = {
    # No script, no frames, forms only to ourselves: pages are read-only HTML.
    "content-security-policy": ("default-src 'none'; style-src 'self'; img-src 'self'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}

Endpoint = Callable[[Request], Response]


def status_of(exc: BaseException) -> int:
    for kind, code in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return code
    return 500


def format_time(time_ns: int) -> str:
    """A log time as people read it: UTC, to the second."""
    moment = datetime.datetime.fromtimestamp(time_ns / 1e9, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def url_path(path: str) -> str:
    """A workspace path as a URL path segment (its exact bytes, percent-encoded)."""
    return quote(paths.to_bytes(path), safe="/")


def ws_url(name: str, kind: str = "", path: str = "", /, **query: object) -> str:
    """The URL of a page of workspace `name`: its history (`kind` ""), ``diff``,
    ``tree``, ``file`` or ``raw``; `query` names the states (``from_`` for from)."""
    url = f"/ws/{quote(name, safe='')}"
    if kind:
        url += f"/{kind}"
    if path:
        url += f"/{url_path(path)}"
    shown = {key.rstrip("_"): value for key, value in query.items() if value is not None}
    return f"{url}?{urlencode(shown)}" if shown else url


class Site:
    """The shared state of the web view's pages."""

    def __init__(self, db: Database, auth: Authenticator, grants: GrantStore,
                 tls: bool) -> None:
        self.db = db
        self.auth = auth
        self.grants = grants
        self.tls = tls
        self.templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                            autoescape=True, trim_blocks=True,
                                            lstrip_blocks=True, undefined=jinja2.StrictUndefined)
        self.templates.globals.update(ws_url=ws_url, url_path=url_path,
                                      requires_login=auth.requires_tokens)
        self.templates.filters["time"] = format_time

    # --- answers -------------------------------------------------------------------

    def page(self, name: str, identity: Identity | None, status: int = 200,
             **values: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(user=identity, **values)
        # A path whose bytes are not UTF-8 holds surrogate escapes: shown as U+FFFD
        # (its links keep the exact bytes, percent-encoded by `url_path`).
        body = html.encode("utf-8", "surrogateescape").decode("utf-8", "replace").encode()
        return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)

    def error_page(self, exc: BaseException, identity: Identity | None) -> HTMLResponse:
        code = status_of(exc)
        message = exc.message if isinstance(exc, errors.CitcError) else str(exc)
        return self.page("error.html", identity, status=code, code=code, message=message)

    # --- access --------------------------------------------------------------------

    def workspace(self, identity: Identity, name: str) -> tuple[WorkspaceState, Access]:
        """A workspace the caller may read, and their access (PermissionDenied else)."""
        paths.check_label(name, "workspace name")
        state = self.db.workspace(name)
        access = require(identity, name, state.id, state.owner, self.grants, Access.READ)
        return state, access

    # --- endpoints -----------------------------------------------------------------

    def endpoint(self, route: str, *, login: bool = True) -> Callable[[Callable[..., Response]],
                                                                      Endpoint]:
        """Wrap a page function `(request, identity) -> Response`: identify the caller,
        answer errors with their page, count the request by `route`."""
        def wrap(handler: Callable[..., Response]) -> Endpoint:
            @functools.wraps(handler)
            def run(request: Request) -> Response:
                started = time.perf_counter()
                identity: Identity | None = None
                try:
                    identity = session.identify(self.auth, request)
                    response = handler(request, identity)
                except errors.Unauthenticated as exc:
                    response = self.login_redirect(request, exc) if login else \
                        self.unauthorized(exc)
                except errors.CitcError as exc:
                    response = self.error_page(exc, identity)
                except Exception as exc:  # noqa: BLE001 - a bug: logged, answered 500
                    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
                    response = self.error_page(errors.CitcError("internal error; see the "
                                                                "server log"), identity)
                http_metrics.observe(route, response.status_code,
                                     time.perf_counter() - started)
                return response
            return run
        return wrap

    def login_redirect(self, request: Request, exc: errors.Unauthenticated) -> Response:
        """Send a browser to the login form, to come back here afterwards."""
        if "authorization" in request.headers:
            return self.unauthorized(exc)  # a tool with a bad token: say so
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)

    @staticmethod
    def unauthorized(exc: errors.Unauthenticated) -> Response:
        return Response(f"{exc.message}\n", status_code=401, media_type="text/plain",
                        headers={"www-authenticate": 'Bearer realm="citcfs"'})
