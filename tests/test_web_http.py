"""The HTTP side of a server (`citc server --http`): the listener, /healthz, /metrics,
the login form and its cookie, and the rules on where it may listen."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_support import TOKENS, server_process, socket_dir, tls_server_config
from web_support import Web, cookie_of, tls_web_server, web_of

from citcfs.client.rpc import Client
from citcfs.errors import AlreadyExists, InvalidArgument
from citcfs.server.app import CitcServer, ServerConfig

pytestmark = pytest.mark.server  # several tests start servers of their own


def _counter(metrics_text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.server_config(sync=False, http="127.0.0.1:0")
def test_healthz_and_metrics_parse_and_move(server: CitcServer) -> None:
    web = web_of(server)
    assert web.url.startswith("http://127.0.0.1:")
    health = web.get("/healthz")
    assert (health.status, health.text) == (200, "ok\n")

    before = web.get("/metrics")
    assert before.status == 200
    assert before.headers["content-type"].startswith("text/plain; version=")
    families = {family.name for family in text_string_to_metric_families(before.text)}
    assert {"citcfs_http_requests", "citcfs_http_request_duration_seconds"} <= families
    seen = _counter(before.text, "citcfs_http_requests_total", route="/", code="200")

    for _ in range(3):
        assert web.get("/").status == 200  # loopback without tokens: the local user
    after = web.get("/metrics").text
    assert _counter(after, "citcfs_http_requests_total", route="/", code="200") == seen + 3
    assert _counter(after, "citcfs_http_request_duration_seconds_count", route="/") >= 3


@pytest.mark.server_config(sync=False, http="127.0.0.1:0")
def test_metrics_page_shows_the_servers_own_metrics(server: CitcServer) -> None:
    """/metrics carries the gRPC side's metrics too, and they move with its calls."""
    web = web_of(server)
    before = web.get("/metrics").text
    families = {family.name for family in text_string_to_metric_families(before)}
    assert {"citcfs_rpcs", "citcfs_rpc_duration_seconds", "citcfs_log_lsn",
            "citcfs_watch_streams"} <= families
    labels = {"method": "ListWorkspaces", "code": "OK"}
    seen = _counter(before, "citcfs_rpcs_total", **labels)
    with Client.connect(server.address) as client:
        client.list_workspaces()
        client.list_workspaces()
    assert _counter(web.get("/metrics").text, "citcfs_rpcs_total", **labels) == seen + 2

@pytest.mark.server_config(sync=False, http="127.0.0.1:0")
def test_unknown_page_is_a_404_page(server: CitcServer) -> None:
    answer = web_of(server).get("/no/such/page")
    assert answer.status == 404
    assert "no page at /no/such/page" in answer.text


def test_non_loopback_http_needs_tls_and_tokens(tmp_path: Path) -> None:
    with socket_dir() as sockets:
        config = ServerConfig(data_dir=str(tmp_path / "data"), listen=f"unix:{sockets}/s",
                              http="0.0.0.0:0", sync=False)
        with pytest.raises(InvalidArgument, match="--http on 0.0.0.0 needs --tls-cert"):
            CitcServer.start(config)
        assert not Path(f"{sockets}/s").exists()  # refused before anything listened


def test_http_port_in_use_fails_start_and_frees_everything(tmp_path: Path) -> None:
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        port = taken.getsockname()[1]
        with socket_dir() as sockets:
            config = ServerConfig(data_dir=str(tmp_path / "data"), listen=f"unix:{sockets}/s",
                                  http=f"127.0.0.1:{port}", sync=False)
            with pytest.raises(AlreadyExists, match="for HTTP"):
                CitcServer.start(config)
            # The data directory was closed: a new server opens it at once.
            retry = CitcServer.start(dataclasses.replace(config, http="127.0.0.1:0"))
            retry.stop(grace=1)
    finally:
        taken.close()


def test_tls_listener_with_tokens_requires_login(tmp_path: Path) -> None:
    with tls_web_server(tmp_path) as server:
        web = web_of(server)
        assert web.url.startswith("https://127.0.0.1:")
        assert web.get("/healthz").status == 200  # health needs no token

        # /metrics: a token in a header (what Prometheus sends), 401 without one.
        refused = web.get("/metrics")
        assert refused.status == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert web.get("/metrics", token="not-a-token").status == 401
        assert web.get("/metrics", token=TOKENS["bob"]).status == 200

        # A page without a token sends the browser to the login form, to come back.
        away = web.get("/ws/demo/diff?from=base&to=3")
        assert away.status == 303
        assert away.headers["location"] == "/login?next=%2Fws%2Fdemo%2Fdiff%3Ffrom%3Dbase%26to%3D3"
        form = web.get(away.headers["location"])
        assert form.status == 200 and 'name="token"' in form.text
        assert 'value="/ws/demo/diff?from=base&amp;to=3"' in form.text


def test_login_sets_a_secure_httponly_cookie_and_logout_clears_it(tmp_path: Path) -> None:
    with tls_web_server(tmp_path) as server:
        web = web_of(server)
        wrong = web.request("POST", "/login", form={"token": "guess", "next": "/"})
        assert wrong.status == 401 and "not valid" in wrong.text and not wrong.set_cookies

        answer = web.request("POST", "/login", form={"token": TOKENS["alice"], "next": "/ws/x"})
        assert answer.status == 303 and answer.headers["location"] == "/ws/x"
        (cookie_header,) = answer.set_cookies
        attributes = {part.strip().split("=")[0].lower() for part in cookie_header.split(";")}
        assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
        assert "samesite=lax" in cookie_header.lower()
        cookie = cookie_of(answer)
        assert cookie == f"citc_token={TOKENS['alice']}"

        page = web.get("/", cookie=cookie)
        assert page.status == 200 and "alice" in page.text and "log out" in page.text

        out = web.request("POST", "/logout")
        assert out.status == 303 and out.headers["location"] == "/login"
        assert out.set_cookies[0].startswith('citc_token=""') or "max-age=0" in \
            out.set_cookies[0].lower()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\evil",
                                    "relative"])
def test_login_returns_only_to_this_server(tmp_path: Path, target: str) -> None:
    config = dataclasses.replace(tls_server_config(tmp_path), http="127.0.0.1:0",
                                 listen="127.0.0.1:0")
    server = CitcServer.start(config)
    try:
        answer = web_of(server).request("POST", "/login",
                                        form={"token": TOKENS["alice"], "next": target})
        assert answer.status == 303 and answer.headers["location"] == "/"
    finally:
        server.stop(grace=1)


def test_citc_server_http_option(tmp_path: Path) -> None:
    with socket_dir() as sockets:
        with server_process(tmp_path / "data", f"unix:{sockets}/s", "--http",
                            "127.0.0.1:0") as running:
            assert running.proc.stdout is not None
            line = running.proc.stdout.readline().decode()
            assert line.startswith("citc server web view on http://127.0.0.1:")
            web = Web(line.rsplit(" ", 1)[-1].strip().rstrip("/"))
            assert web.get("/healthz").text == "ok\n"
            assert web.get("/metrics").status == 200
            assert running.stop() == 0
