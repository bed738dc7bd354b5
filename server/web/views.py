"""The pages of the web view: workspaces, a workspace's history, diffs, trees, files.

Every URL is stable and names its states in the query string with the grammar of
`citc help refs` (see `refs.py`), so a code review tool can link to
``/ws/NAME/diff?from=base&to=12`` and get the same page tomorrow (a version never
changes; ``head`` and ``base`` follow the workspace). Each page checks read access
to every workspace it shows, as the API's reads do.

| URL | page |
| --- | --- |
| ``/`` | the workspaces the caller may read |
| ``/ws/NAME?page=P`` | versions, newest first, with time, paths changed and labels |
| ``/ws/NAME/diff?from=A&to=B&view=unified|split&page=P`` | a diff, paginated by file |
| ``/ws/NAME/tree/PATH?at=A`` | a directory listing at any state |
| ``/ws/NAME/file/PATH?at=A`` | a file, highlighted |
| ``/ws/NAME/raw/PATH?at=A`` | a file's bytes, as a download |
"""

from __future__ import annotations

import itertools
import posixpath
from dataclasses import dataclass
from urllib.parse import quote, unquote_to_bytes

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.errors import HistoryTruncated, InvalidArgument, IsADirectory, WorkspaceNotFound
from citcfs.storage.results import Ref

from ..auth import Identity, access_of
from ..grants import Access
from . import refs
from .highlight import highlight_file
from .render import MAX_DIFF_BYTES, file_diff, is_shown
from .site import Site, ws_url

VERSIONS_PER_PAGE = 50
PATHS_PER_VERSION = 10
FILES_PER_PAGE = 25
MAX_VIEW_BYTES = MAX_DIFF_BYTES


@dataclass(frozen=True, slots=True)
class VersionRow:
    version: int
    time_ns: int
    path_count: int
    paths: tuple[str, ...]
    more: int
    labels: tuple[str, ...]
    note: str


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not text.isdigit() or not 1 <= int(text) <= 1 << 32:
        raise InvalidArgument(f"page {text!r} is not a page number (1, 2, ...)")
    return int(text)


def _path_param(request: Request) -> str:
    """The workspace path a URL names after ``/ws/NAME/KIND/``, from its exact bytes:
    the decoded ``path`` parameter would have replaced bytes that are not UTF-8."""
    raw_path = request.scope.get("raw_path")
    if raw_path:
        parts = raw_path.split(b"?", 1)[0].split(b"/", 4)
        text = paths.from_bytes(unquote_to_bytes(parts[4])) if len(parts) == 5 else ""
    else:
        text = str(request.path_params.get("path", ""))
    return paths.normalize(text) if text.strip("/") else paths.ROOT


def _resolve(site: Site, identity: Identity, page_ws: str, at: refs.At) -> Ref:
    """The storage ref of a state, after checking access to its workspace."""
    state, _ = site.workspace(identity, at.workspace)
    return at.ref(state)


def _labels_by_version(site: Site, name: str) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for label in site.db.labels(name):
        found.setdefault(label.version, []).append(label.label)
    return found


def workspaces(site: Site, request: Request, identity: Identity) -> Response:
    rows = []
    for state in sorted(site.db.list_workspaces(), key=lambda s: s.name):
        if access_of(identity, state.id, state.owner, site.grants) < Access.READ:
            continue  # as ListWorkspaces: only what the caller may read
        try:
            labels = [label.label for label in site.db.labels(state.name)]
        except WorkspaceNotFound:
            continue  # deleted since the listing
        rows.append((state, labels))
    return site.page("workspaces.html", identity, rows=rows)


def history(site: Site, request: Request, identity: Identity) -> Response:
    state, _ = site.workspace(identity, request.path_params["name"])
    page = _page_number(request)
    newest = state.version - (page - 1) * VERSIONS_PER_PAGE
    oldest = max(0, newest - VERSIONS_PER_PAGE + 1)
    infos = [info for info in site.db.versions(state.name, oldest) if info.version <= newest]
    labels = _labels_by_version(site, state.name)
    rows = []
    for info in reversed(infos):
        changed: tuple[str, ...] = ()
        note = ""
        if info.version == 0:
            note = f"created over {state.base}@{info.base_rev}"
        else:
            try:
                changed = site.db.changes(state.name, info.version - 1, info.version).paths
            except HistoryTruncated:
                note = f"moved to {state.base}@{info.base_rev}"
        rows.append(VersionRow(info.version, info.time_ns, info.path_count,
                               changed[:PATHS_PER_VERSION],
                               max(0, len(changed) - PATHS_PER_VERSION),
                               tuple(labels.get(info.version, ())), note))
    return site.page("history.html", identity, ws=state, rows=rows, page=page,
                     has_older=oldest > 0)


def diff(site: Site, request: Request, identity: Identity) -> Response:
    name = request.path_params["name"]
    state, _ = site.workspace(identity, name)
    old_at = refs.parse(name, request.query_params.get("from"), default="base")
    new_at = refs.parse(name, request.query_params.get("to"), default="head")
    view = request.query_params.get("view", "unified")
    if view not in ("unified", "split"):
        raise InvalidArgument(f"view {view!r} is 'unified' or 'split'")
    page = _page_number(request)
    old_ref = _resolve(site, identity, name, old_at)
    new_ref = _resolve(site, identity, name, new_at)
    shown = (entry for entry in site.db.diff(old_ref, new_ref) if is_shown(entry))
    start = (page - 1) * FILES_PER_PAGE
    entries = list(itertools.islice(shown, start, start + FILES_PER_PAGE + 1))
    has_next = len(entries) > FILES_PER_PAGE
    files = [file_diff(entry, site.db.read_file) for entry in entries[:FILES_PER_PAGE]]
    return site.page("diff.html", identity, ws=state, files=files, view=view, page=page,
                     has_next=has_next, first_number=start + 1,
                     from_text=old_at.text(name), to_text=new_at.text(name))


def _breadcrumbs(path: str) -> list[tuple[str, str]]:
    """(name, path) of each directory leading to `path`, the root first."""
    crumbs = [("/", paths.ROOT)]
    walked = ""
    for part in paths.components(path) if path != paths.ROOT else ():
        walked = posixpath.join(walked, part) if walked else part
        crumbs.append((part, walked))
    return crumbs


def tree(site: Site, request: Request, identity: Identity) -> Response:
    name = request.path_params["name"]
    state, _ = site.workspace(identity, name)
    at = refs.parse(name, request.query_params.get("at"))
    path = _path_param(request)
    ref = _resolve(site, identity, name, at)
    listing = site.db.listdir_ref(ref, path)
    rows = [(child, posixpath.join(path, child) if path != paths.ROOT else child, entry)
            for child, entry in listing]
    rows.sort(key=lambda row: (not row[2].is_dir, paths.to_bytes(row[0])))
    return site.page("tree.html", identity, ws=state, at=at.text(name), path=path,
                     crumbs=_breadcrumbs(path), rows=rows)


def _file_entry(site: Site, identity: Identity, request: Request) -> tuple[str, str, Entry]:
    name = request.path_params["name"]
    site.workspace(identity, name)
    at = refs.parse(name, request.query_params.get("at"))
    path = _path_param(request)
    entry = site.db.lookup_ref(_resolve(site, identity, name, at), path)
    return at.text(name), path, entry


def file_view(site: Site, request: Request, identity: Identity) -> Response:
    name = request.path_params["name"]
    state, _ = site.workspace(identity, name)
    at, path, entry = _file_entry(site, identity, request)
    if entry.is_dir:
        return RedirectResponse(ws_url(name, "tree", path, at=at), status_code=303)
    lines: list[str] = []
    note = ""
    if entry.kind == EntryKind.SYMLINK:
        note = f"symbolic link to {entry.target}"
    elif entry.kind != EntryKind.FILE:
        note = "a special file: it has no content"
    elif entry.size > MAX_VIEW_BYTES:
        note = f"{entry.size:,} bytes: too large to show here"
    else:
        data = site.db.read_file(entry)
        if b"\0" in data:
            note = f"binary file, {entry.size:,} bytes"
        else:
            lines = list(highlight_file(path, data)) if data else []
            if data.endswith(b"\n"):
                lines.pop()
    return site.page("file.html", identity, ws=state, at=at, path=path, entry=entry,
                     crumbs=_breadcrumbs(posixpath.dirname(path) or paths.ROOT),
                     lines=lines, note=note)


def raw(site: Site, request: Request, identity: Identity) -> Response:
    _, path, entry = _file_entry(site, identity, request)
    if entry.is_dir:
        raise IsADirectory(f"{path!r} is a directory")
    if entry.kind == EntryKind.SYMLINK:
        data = entry.target.encode("utf-8", "surrogateescape")
    elif entry.kind == EntryKind.FILE:
        data = site.db.read_file(entry)
    else:
        raise InvalidArgument(f"{path!r} is a special file: it has no content")
    filename = quote(paths.to_bytes(posixpath.basename(path)), safe="")
    # A download, never rendered: a workspace's HTML must not run on this origin.
    return Response(data, media_type="application/octet-stream", headers={
        "content-disposition": f"attachment; filename*=UTF-8''{filename}",
        "x-content-type-options": "nosniff"})


def routes(site: Site) -> list[Route]:
    """The web view's routes, each wrapped by `Site.endpoint` under its template."""
    def route(template: str, page: object) -> Route:
        def handler(request: Request, identity: Identity) -> Response:
            return page(site, request, identity)  # type: ignore[operator, no-any-return]
        return Route(template, site.endpoint(template)(handler), methods=["GET"])

    return [
        route("/", workspaces),
        route("/ws/{name}", history),
        route("/ws/{name}/diff", diff),
        route("/ws/{name}/tree", tree),
        route("/ws/{name}/tree/{path:path}", tree),
        route("/ws/{name}/file/{path:path}", file_view),
        route("/ws/{name}/raw/{path:path}", raw),
    ]
