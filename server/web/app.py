"""The HTTP side of a server: `/metrics`, `/healthz`, the login form, and the web view.

Starlette (routing, requests, responses) with Jinja2 templates: a small ASGI stack
whose sync endpoints run on a thread pool, which suits our blocking storage calls,
served by uvicorn (`listener.py`), which speaks TLS with the gRPC port's certificate.
Pages are rendered on the server, with no script at all.

- `/healthz`: ``ok`` while the server serves (no login: a load balancer asks it).
- `/metrics`: prometheus_client's text exposition of its default registry, where
  the server's metrics are registered. It needs a token when the server has tokens
  (Prometheus sends one with ``authorization``), like any other call.
- `/login` (GET: the form; POST: check the token, keep it in a cookie), `/logout`.
- The pages of `views.py`, and `/style.css`.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from citcfs.errors import Unauthenticated
from citcfs.storage import Database

from ..auth import Authenticator, Identity
from ..grants import GrantStore
from . import http_metrics, session, views
from .highlight import CSS, warm_up
from .site import Site

MAX_LOGIN_BODY = 8 << 10


def create_app(db: Database, auth: Authenticator, grants: GrantStore, tls: bool) -> Starlette:
    """The ASGI app of one server's HTTP listener."""
    site = Site(db, auth, grants, tls)
    warm_up()
    style = site.templates.get_template("style.css").render(code_css=CSS)

    @site.endpoint("/metrics", login=False)
    def metrics(request: Request, identity: Identity) -> Response:
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    def healthz(request: Request) -> Response:
        http_metrics.observe("/healthz", 200, 0.0)
        return PlainTextResponse("ok\n")

    def stylesheet(request: Request) -> Response:
        return Response(style, media_type="text/css",
                        headers={"cache-control": "max-age=3600"})

    def login_form(request: Request) -> Response:
        return site.page("login.html", None, next=session.safe_next(
            request.query_params.get("next")), message=None)

    async def login(request: Request) -> Response:
        body = await request.body()
        form = parse_qs(body[:MAX_LOGIN_BODY].decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        target = session.safe_next((form.get("next") or ["/"])[0])
        try:
            auth.from_token(token)
        except Unauthenticated as exc:
            http_metrics.observe("/login", 401, 0.0)
            return site.page("login.html", None, status=401, next=target, message=exc.message)
        response = RedirectResponse(target, status_code=303)
        if token:
            session.keep_token(response, token, secure=tls)
        http_metrics.observe("/login", 303, 0.0)
        return response

    def logout(request: Request) -> Response:
        response = RedirectResponse("/login", status_code=303)
        session.forget_token(response, secure=tls)
        return response

    routes = [
        Route("/healthz", healthz),
        Route("/metrics", metrics),
        Route("/style.css", stylesheet),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        *views.routes(site),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return site.page("error.html", None, status=404, code=404,
                         message=f"no page at {request.url.path}")

    return Starlette(routes=routes, exception_handlers={404: not_found})
