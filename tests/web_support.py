"""Helpers for the tests of a server's HTTP side: a plain HTTP client that does not
follow redirects (so a test sees each 303 and Set-Cookie), a TLS server with tokens
and an HTTP listener, and a workspace history made through the real gRPC API.
"""

from __future__ import annotations

import dataclasses
import http.client
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from server_support import TOKENS, connect, tls_server_config

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.protos import citc_pb2 as pb
from citcfs.server.app import CitcServer

BASE = {
    "README.md": b"# Demo\n\nA small tree.\n",
    "src/main.py": b'"""The entry point."""\n\n\ndef main() -> int:\n    print("hello")\n'
                   b"    return 0\n",
    "src/util.c": b"/* util */\nint add(int a, int b) { return a + b; }\n",
    "docs/guide.txt": b"read me\n",
    "logo.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
}
MAIN_V1 = BASE["src/main.py"].replace(b'print("hello")', b'print("hello, web")')
GENERATED = 30
"""Files version 4 adds under gen/: more than one diff page holds."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True)
class Web:
    """Where a server's HTTP listener is, and how to trust its certificate."""

    url: str
    ca: Path | None = None

    def _connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.url)
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=str(self.ca))
            return http.client.HTTPSConnection(parts.hostname or "", parts.port,
                                               context=context, timeout=30)
        return http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)

    def request(self, method: str, path: str, *, token: str | None = None,
                cookie: str | None = None, form: dict[str, str] | None = None) -> Answer:
        headers = {}
        body = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if cookie is not None:
            headers["Cookie"] = cookie
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          data, tuple(response.headers.get_all("set-cookie") or ()))
        finally:
            connection.close()

    def get(self, path: str, token: str | None = None, cookie: str | None = None) -> Answer:
        return self.request("GET", path, token=token, cookie=cookie)


@contextmanager
def tls_web_server(tmp_path: Path) -> Iterator[CitcServer]:
    """A server with TLS and the tokens of `server_support.TOKENS` (root is an
    administrator) on TCP, and its HTTP listener on a free loopback port."""
    config = dataclasses.replace(tls_server_config(tmp_path), http="127.0.0.1:0")
    server = CitcServer.start(config)
    try:
        yield server
    finally:
        server.stop(grace=5)


def web_of(server: CitcServer) -> Web:
    assert server.http is not None
    ca = Path(server.config.tls_cert) if server.config.tls_cert else None
    return Web(server.http.url, ca)


def make_history(server: CitcServer) -> None:
    """Base "main", alice's workspace "demo" with four versions and label "v1", and
    bob's workspace "secret", all made through the gRPC API as their owners.

    demo: 1 edits src/main.py (labelled v1); 2 adds src/new.py, edits README.md and
    deletes docs/guide.txt; 3 adds the binary data.bin; 4 adds GENERATED files.
    """
    alice = connect(server, TOKENS["alice"])
    bob = connect(server, TOKENS["bob"])
    try:
        alice.import_base("main", entries=[(p, Entry.file(d)) for p, d in BASE.items()],
                          message="first import")
        alice.create_workspace("demo", "main")
        alice.commit("demo", [wire.write_file_op("src/main.py", Entry.file(MAIN_V1))])
        alice.label("demo", "v1")
        alice.commit("demo", [
            wire.write_file_op("src/new.py", Entry.file(b"def new():\n    return 42\n")),
            wire.write_file_op("README.md", Entry.file(b"# Demo\n\nA small tree, edited.\n")),
            wire.remove_op("docs/guide.txt")])
        alice.commit("demo", [wire.write_file_op("data.bin", Entry.file(b"\0\1\2\3binary"))])
        alice.commit("demo", [wire.make_dir_op("gen")] + [
            wire.write_file_op(f"gen/f{i:02}.txt", Entry.file(f"line {i}\n".encode()))
            for i in range(GENERATED)])
        bob.create_workspace("secret", "main")
        bob.commit("secret", [wire.write_file_op("README.md", Entry.file(b"bob's\n"))])
    finally:
        alice.close()
        bob.close()


def grant(server: CitcServer, workspace: str, user: str, owner_token: str) -> None:
    client: Client = connect(server, owner_token)
    try:
        client.grant(workspace, user, pb.ACCESS_READ)
    finally:
        client.close()


def cookie_of(answer: Answer) -> str:
    """The ``name=value`` of the login cookie an answer sets."""
    for header in answer.set_cookies:
        if header.startswith("citc_token="):
            return header.split(";", 1)[0]
    raise AssertionError(f"no login cookie in {answer.set_cookies}")
