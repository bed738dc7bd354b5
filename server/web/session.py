"""Who an HTTP caller is: a bearer token in a header, or the one a browser keeps.

A browser logs in once with its token (the login form) and keeps it in a cookie:
HttpOnly (no script can read it), Secure when the listener speaks TLS, and
SameSite=Lax, so a link from a code review tool to a diff page arrives logged in
while another site's form posts and embedded requests do not carry it. The cookie
holds the token itself, checked on every request like a gRPC call's: revoking a
token in the tokens file (and restarting) logs every browser out. Tools send
``Authorization: Bearer <token>`` instead, as they do to the gRPC port.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from citcfs.errors import Unauthenticated

from ..auth import AUTH_HEADER, Authenticator, Identity

COOKIE = "citc_token"
COOKIE_MAX_AGE_S = 30 * 24 * 3600


def token_of(request: Request) -> str | None:
    """The bearer token of the Authorization header, else the login cookie's."""
    header = request.headers.get(AUTH_HEADER)
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the authorization header must be 'Bearer <token>'")
        return token.strip()
    return request.cookies.get(COOKIE) or None


def identify(auth: Authenticator, request: Request) -> Identity:
    """The caller's identity; Unauthenticated without a valid token where one is needed."""
    return auth.from_token(token_of(request))


def keep_token(response: Response, token: str, secure: bool) -> None:
    """Make the browser keep `token` for this server."""
    response.set_cookie(COOKIE, token, max_age=COOKIE_MAX_AGE_S, path="/", secure=secure,
                        httponly=True, samesite="lax")


def forget_token(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE, path="/", secure=secure, httponly=True, samesite="lax")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this server, never another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target
