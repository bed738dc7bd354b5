"""Who is calling, and what they may do.

Identity:
- Over the Unix socket (created mode 0600, so only the server's own OS user, and
  root, can connect) a caller without a token is the server's OS user, who is an
  administrator: they can read the data directory anyway. gRPC does not expose the
  peer's SO_PEERCRED, so this single-local-user rule is what the socket mode buys.
- Over TCP with a tokens file, every call must carry ``authorization: Bearer
  <token>``; the file maps each token to a user. A missing or unknown token is
  UNAUTHENTICATED. `server.app` refuses to listen on a non-loopback address without
  TLS and a tokens file. A loopback TCP listener without a tokens file trusts its
  callers as the local user (a development setup; the server logs a warning).

Access to a workspace: its owner (recorded at create) has OWNER; an administrator
has OWNER; other users have what `GrantStore` says. Workspaces with no owner (made
directly on a data directory, without a server) are open to every user for writing.
Bases and objects are shared by everyone authenticated; an object id is a
capability, since ids are unguessable hashes of content.

Tokens file format: one ``TOKEN USER [admin]`` per line; blank lines and lines
starting with ``#`` are ignored.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
from dataclasses import dataclass

import grpc

from citcfs.errors import InvalidArgument, PermissionDenied, Unauthenticated

from .grants import Access, GrantStore

AUTH_HEADER = "authorization"


@dataclass(frozen=True, slots=True)
class Identity:
    user: str
    admin: bool = False


def local_user() -> str:
    """The server's OS user name: who every Unix-socket caller is."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (containers): fall back to the uid
        import os
        return f"uid{os.getuid()}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenTable:
    """Bearer tokens and the users they stand for, keyed by a hash of the token."""

    def __init__(self, entries: dict[str, Identity]) -> None:
        self._by_digest = {_digest(token): identity for token, identity in entries.items()}

    @classmethod
    def load(cls, path: str) -> "TokenTable":
        entries: dict[str, Identity] = {}
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                fields = line.split()
                if not fields or fields[0].startswith("#"):
                    continue
                if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] != "admin"):
                    raise InvalidArgument(f"{path}:{number}: expected 'TOKEN USER [admin]'")
                entries[fields[0]] = Identity(fields[1], admin=len(fields) == 3)
        if not entries:
            raise InvalidArgument(f"{path} holds no tokens")
        return cls(entries)

    def find(self, token: str) -> Identity | None:
        digest = _digest(token)
        for known, identity in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return identity
        return None


class Authenticator:
    """Turns a call's peer and metadata into an Identity, or raises Unauthenticated."""

    def __init__(self, tokens: TokenTable | None, user: str | None = None) -> None:
        self._tokens = tokens
        self._local = Identity(user or local_user(), admin=True)

    @property
    def local(self) -> Identity:
        return self._local

    @property
    def requires_tokens(self) -> bool:
        """Whether TCP callers must present a token (a tokens file is loaded)."""
        return self._tokens is not None

    def from_token(self, token: str | None) -> Identity:
        """The identity of an HTTP caller (the web view) presenting `token`: the
        token's user; without a tokens file, the local user, as on loopback gRPC."""
        if self._tokens is None:
            return self._local
        if not token:
            raise Unauthenticated("this server requires a token: log in first")
        identity = self._tokens.find(token.strip())
        if identity is None:
            raise Unauthenticated("the token is not valid on this server")
        return identity

    def authenticate(self, context: grpc.ServicerContext) -> Identity:
        token = None
        for key, value in context.invocation_metadata() or ():
            if key == AUTH_HEADER:
                scheme, _, token = str(value).partition(" ")
                if scheme.lower() != "bearer" or not token:
                    raise Unauthenticated("the authorization header must be 'Bearer <token>'")
        if token is not None and self._tokens is not None:
            identity = self._tokens.find(token.strip())
            if identity is None:
                raise Unauthenticated("the token is not valid on this server")
            return identity
        if self._tokens is None or context.peer().startswith("unix:"):
            return self._local
        raise Unauthenticated("this server requires a bearer token (authorization: Bearer ...)")


def access_of(identity: Identity, ws_id: int, owner: str, grants: GrantStore) -> Access:
    """What `identity` may do with the workspace `ws_id` owned by `owner`."""
    if identity.admin or owner == identity.user:
        return Access.OWNER
    if owner == "":
        return Access.WRITE
    return grants.access(ws_id, identity.user)


def require(identity: Identity, ws_name: str, ws_id: int, owner: str, grants: GrantStore,
            needed: Access) -> Access:
    """The caller's access, or PermissionDenied if it is below `needed`."""
    have = access_of(identity, ws_id, owner, grants)
    if have < needed:
        raise PermissionDenied(f"user {identity.user!r} may not "
                               f"{_VERBS[needed]} workspace {ws_name!r}")
    return have


_VERBS = {Access.READ: "read", Access.WRITE: "write to", Access.OWNER: "administer"}
