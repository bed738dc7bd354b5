"""The web view's pages over HTTP, on a TLS server with tokens and a history made
through the gRPC API: what each page shows, its stable URLs, and the grants."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from server_support import TOKENS
from web_support import BASE, GENERATED, MAIN_V1, Web, make_history, tls_web_server, web_of

from citcfs.server.app import CitcServer
from citcfs.server.web import views

ALICE, BOB, ROOT = TOKENS["alice"], TOKENS["bob"], TOKENS["root"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CitcServer]:
    with tls_web_server(tmp_path_factory.mktemp("web")) as running:
        make_history(running)
        yield running


@pytest.fixture(scope="module")
def web(server: CitcServer) -> Web:
    return web_of(server)


def text_of(page: str) -> str:
    """A page's visible text, tags removed and entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def sections(page: str) -> list[str]:
    """The paths of the file sections of a diff page, in order."""
    return [html.unescape(p) for p in re.findall(r'<section class="file"[^>]*data-path="([^"]*)"',
                                                 page)]


# --- workspaces ---------------------------------------------------------------------

def test_workspaces_lists_only_what_the_user_may_read(web: Web) -> None:
    page = web.get("/", token=ALICE)
    assert page.status == 200
    row = re.search(r'<tr>\s*<td><a href="/ws/demo">demo</a></td>(.*?)</tr>', page.text, re.S)
    assert row is not None
    cells = [text_of(cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert cells[:3] == ["alice", "main@1", "4"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", cells[3])
    assert cells[4] == "v1"
    assert "secret" not in page.text  # bob's

    admin = web.get("/", token=ROOT).text
    assert "/ws/demo" in admin and "/ws/secret" in admin


# --- history ------------------------------------------------------------------------

def test_history_shows_versions_paths_and_labels(web: Web) -> None:
    page = web.get("/ws/demo", token=ALICE)
    assert page.status == 200
    rows = re.findall(r'<tr id="v(\d+)">(.*?)</tr>', page.text, re.S)
    assert [int(v) for v, _ in rows] == [4, 3, 2, 1, 0]
    by_version = {int(v): text_of(body) for v, body in rows}
    assert "src/main.py" in by_version[1] and "v1" in by_version[1]
    for path in ("src/new.py", "README.md", "docs/guide.txt"):
        assert path in by_version[2]
    assert "src/main.py" not in by_version[2]  # each version's own paths only
    assert "data.bin" in by_version[3]
    assert f"and {GENERATED + 1 - views.PATHS_PER_VERSION} more" in by_version[4]
    assert "created over main@1" in by_version[0]
    assert 'href="/ws/demo/diff?from=1&amp;to=2"' in page.text


def test_history_paginates(server: CitcServer, web: Web) -> None:
    from citcfs import wire
    from citcfs.entries import Entry
    from server_support import connect

    client = connect(server, ALICE)
    try:
        client.create_workspace("long", "main")
        for i in range(views.VERSIONS_PER_PAGE + 5):
            client.commit("long", [wire.write_file_op("n.txt", Entry.file(f"{i}\n".encode()))])
    finally:
        client.close()
    first = web.get("/ws/long", token=ALICE).text
    versions = [int(v) for v in re.findall(r'<tr id="v(\d+)">', first)]
    assert versions == list(range(55, 5, -1))
    assert 'rel="next" href="/ws/long?page=2"' in first and 'rel="prev"' not in first
    second = web.get("/ws/long?page=2", token=ALICE).text
    assert [int(v) for v in re.findall(r'<tr id="v(\d+)">', second)] == [5, 4, 3, 2, 1, 0]
    assert 'rel="prev" href="/ws/long?page=1"' in second and 'rel="next"' not in second
    assert web.get("/ws/long?page=zero", token=ALICE).status == 400


# --- diffs --------------------------------------------------------------------------

def test_diff_shows_changed_lines_unified(web: Web) -> None:
    page = web.get("/ws/demo/diff?from=base&to=1", token=ALICE)
    assert page.status == 200
    assert sections(page.text) == ["src/main.py"]
    lines = [(kind, text_of(src)) for kind, src in re.findall(
        r'<tr class="(add|del|context)">.*?<td class="src">(.*?)</td></tr>', page.text, re.S)]
    assert ("del", '-    print("hello")') in lines
    assert ("add", '+    print("hello, web")') in lines
    assert "@@ -2,5 +2,5 @@" in page.text
    assert '<span class="k">def</span>' in page.text  # highlighted by pygments


def test_diff_side_by_side_pairs_old_and_new(web: Web) -> None:
    page = web.get("/ws/demo/diff?from=base&to=v1&view=split", token=ALICE).text
    row = re.search(r'<td class="src del">(.*?)</td><td class="no">5</td>'
                    r'<td class="src add">(.*?)</td>', page, re.S)
    assert row is not None
    assert text_of(row.group(1)) == '    print("hello")'
    assert text_of(row.group(2)) == '    print("hello, web")'


def test_diff_between_versions_and_labels(web: Web) -> None:
    page = web.get("/ws/demo/diff?from=v1&to=2", token=ALICE).text
    assert sections(page) == ["README.md", "docs/guide.txt", "src/new.py"]
    assert "deleted" in page and "+    return 42" in text_of(page)
    same = web.get("/ws/demo/diff?from=1&to=v1", token=ALICE).text
    assert sections(same) == [] and "No differences" in same
    older = web.get("/ws/demo/diff?from=base@1&to=head", token=ALICE)
    assert older.status == 200 and "data.bin" in sections(older.text)


def test_diff_names_binary_files(web: Web) -> None:
    page = web.get("/ws/demo/diff?from=2&to=3", token=ALICE).text
    assert sections(page) == ["data.bin"]
    assert 'class="note binary"' in page and "binary file" in page


def test_diff_paginates_by_file(web: Web) -> None:
    first = web.get("/ws/demo/diff?from=3&to=4", token=ALICE).text
    assert sections(first) == [f"gen/f{i:02}.txt" for i in range(views.FILES_PER_PAGE)]
    assert 'rel="next" href="/ws/demo/diff?from=3&amp;to=4&amp;page=2"' in first
    second = web.get("/ws/demo/diff?from=3&to=4&page=2", token=ALICE).text
    assert sections(second) == [f"gen/f{i:02}.txt"
                                for i in range(views.FILES_PER_PAGE, GENERATED)]
    assert 'rel="next"' not in second and f'start="{views.FILES_PER_PAGE + 1}"' in second


@pytest.mark.parametrize("query,status", [("from=zz@@", 400), ("from=nolabel", 404),
                                          ("to=99", 400), ("view=fancy", 400),
                                          ("from=fork", 409), ("from=secret@1", 403)])
def test_diff_bad_refs_get_one_clear_error(web: Web, query: str, status: int) -> None:
    page = web.get(f"/ws/demo/diff?{query}", token=ALICE)
    assert page.status == status
    assert re.search(r'<p id="message">.+</p>', page.text)


# --- trees, files, raw --------------------------------------------------------------

def test_tree_at_any_ref(web: Web) -> None:
    base = web.get("/ws/demo/tree?at=base", token=ALICE).text
    names = re.findall(r'<td(?: class="dir")?><a href="[^"]*">([^<]*)</a>', base)
    assert names == ["docs/", "src/", "README.md", "logo.png"]
    head = web.get("/ws/demo/tree", token=ALICE).text
    assert "data.bin" in head and "gen/" in head
    assert "guide.txt" in web.get("/ws/demo/tree/docs?at=1", token=ALICE).text
    assert "guide.txt" not in web.get("/ws/demo/tree/docs", token=ALICE).text
    src = web.get("/ws/demo/tree/src?at=2", token=ALICE).text
    assert 'href="/ws/demo/file/src/new.py?at=2"' in src
    assert web.get("/ws/demo/tree/nothing", token=ALICE).status == 404


def test_file_at_an_old_version(web: Web) -> None:
    old = web.get("/ws/demo/file/src/main.py?at=base", token=ALICE).text
    new = web.get("/ws/demo/file/src/main.py?at=v1", token=ALICE).text
    rows = lambda page: [text_of(src) for src in re.findall(  # noqa: E731
        r'<tr id="L\d+"><td class="no">\d+</td><td class="src">(.*?)</td></tr>', page, re.S)]
    assert rows(old) == BASE["src/main.py"].decode().splitlines()
    assert rows(new) == MAIN_V1.decode().splitlines()
    gone = web.get("/ws/demo/file/docs/guide.txt?at=head", token=ALICE)
    assert gone.status == 404
    binary = web.get("/ws/demo/file/data.bin", token=ALICE).text
    assert "binary file, 10 bytes" in binary
    folder = web.get("/ws/demo/file/src?at=1", token=ALICE)
    assert folder.status == 303 and folder.headers["location"] == "/ws/demo/tree/src?at=1"


def test_raw_downloads_exact_bytes(web: Web) -> None:
    answer = web.get("/ws/demo/raw/logo.png?at=base", token=ALICE)
    assert answer.status == 200 and answer.body == BASE["logo.png"]
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["content-disposition"] == "attachment; filename*=UTF-8''logo.png"
    old = web.get("/ws/demo/raw/src/main.py?at=v1", token=ALICE)
    assert old.body == MAIN_V1
    assert web.get("/ws/demo/raw/src?at=v1", token=ALICE).status == 400


# --- grants -------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/ws/demo", "/ws/demo/diff?from=base&to=1", "/ws/demo/tree",
                                  "/ws/demo/tree/src", "/ws/demo/file/README.md",
                                  "/ws/demo/raw/README.md"])
def test_every_page_refuses_a_user_without_a_grant(web: Web, path: str) -> None:
    page = web.get(path, token=BOB)
    assert page.status == 403
    assert "user &#39;bob&#39; may not read workspace &#39;demo&#39;" in page.text
    assert "hello" not in page.text


def test_a_read_grant_opens_the_pages(server: CitcServer, web: Web) -> None:
    from web_support import grant

    assert web.get("/ws/secret", token=ALICE).status == 403
    grant(server, "secret", "alice", TOKENS["bob"])
    assert web.get("/ws/secret", token=ALICE).status == 200
    assert web.get("/ws/secret/raw/README.md", token=ALICE).body == b"bob's\n"


def test_unknown_workspace_and_pages_carry_security_headers(web: Web) -> None:
    missing = web.get("/ws/nope", token=ALICE)
    assert missing.status == 404 and "does not exist" in missing.text
    page = web.get("/ws/demo", token=ALICE)
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-content-type-options"] == "nosniff"
    style = web.get("/style.css")
    assert style.status == 200 and style.headers["content-type"].startswith("text/css")
    assert ".code .k" in style.text  # pygments' classes


def test_paths_with_odd_bytes_round_trip_through_urls(server: CitcServer, web: Web) -> None:
    from citcfs import paths, wire
    from citcfs.entries import Entry
    from server_support import connect

    odd = paths.from_bytes(b"dir x/caf\xe9 #1?.txt")  # not UTF-8, a space, '#' and '?'
    client = connect(server, ALICE)
    try:
        client.create_workspace("odd", "main")
        client.commit("odd", [wire.make_dir_op("dir x"),
                              wire.write_file_op(odd, Entry.file(b"odd\n"))])
    finally:
        client.close()
    listing = web.get("/ws/odd/tree/dir%20x", token=ALICE).text
    link = re.search(r'href="(/ws/odd/file/dir%20x/caf%E9%20%231%3F.txt\?at=head)"', listing)
    assert link is not None, listing
    page = web.get(html.unescape(link.group(1)), token=ALICE)
    assert page.status == 200 and "odd" in text_of(page.text)
    raw = web.get("/ws/odd/raw/dir%20x/caf%E9%20%231%3F.txt", token=ALICE)
    assert raw.body == b"odd\n"
    assert raw.headers["content-disposition"] == "attachment; filename*=UTF-8''caf%E9%20%231%3F.txt"
