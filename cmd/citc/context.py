"""What every `citc` command shares: the server connection, the current workspace,
and resolving references (``demo@3``, ``demo@base``; the grammar is in `refs`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import click

from citcfs import errors
from citcfs.client.results import DiffSide, WorkspaceInfo
from citcfs.client.mountinfo import MOUNTINFO, mountinfo_fields
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.objects import ObjectId

from . import local_server, refs, trees


last_address: str | None = None
"""The server the last connection went to, for error messages."""


@dataclass
class Context:
    """The `obj` of the click context: options of the `citc` group, the lazy client."""

    server: str | None = None
    debug: bool = False
    _client: Client | None = field(default=None, repr=False)
    _address: str | None = field(default=None, repr=False)

    @property
    def is_local(self) -> bool:
        return not self.server

    def address(self) -> str:
        """The server in use: --server/CITC_SERVER; else, inside a mount citc made, the
        server that mount reads from; else the local server, started if need be."""
        global last_address
        if self._address is not None:
            return self._address
        explicit = self.server or mount_server(current_mount())
        if explicit:
            address = explicit
        else:
            paths = local_server.local_paths()
            last_address = paths.address  # named in the error if it cannot start
            address = local_server.ensure_running(paths)
        self._address = last_address = address
        return address

    def client(self) -> Client:
        if self._client is None:
            tls_ca = None
            if os.environ.get("CITC_TLS_CA"):
                with open(os.environ["CITC_TLS_CA"], "rb") as f:
                    tls_ca = f.read()
            self._client = Client.connect(self.address(), token=os.environ.get("CITC_TOKEN"),
                                          tls_ca=tls_ca)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def get() -> Context:
    return click.get_current_context().find_object(Context) or Context()


def client() -> Client:
    return get().client()


# --- the current workspace: which citcfs mount the working directory is in -------------

FSNAME_PREFIX = "citcfs:"


@dataclass(frozen=True, slots=True)
class Mount:
    mountpoint: str
    workspace: str


def citc_mounts(mountinfo: str = MOUNTINFO) -> list[Mount]:
    """Every citcfs mount on this machine: the fsname is ``citcfs:<workspace>``."""
    return [Mount(point, source[len(FSNAME_PREFIX):])
            for point, fstype, source in mountinfo_fields(mountinfo)
            if fstype.startswith("fuse") and source.startswith(FSNAME_PREFIX)]


def mount_of(path: str) -> Mount | None:
    """The innermost citcfs mount containing `path`."""
    path = os.path.abspath(path)
    best: Mount | None = None
    for mount in citc_mounts():
        inside = path == mount.mountpoint or path.startswith(mount.mountpoint.rstrip("/") + "/")
        if inside and (best is None or len(mount.mountpoint) > len(best.mountpoint)):
            best = mount
    return best


def current_mount() -> Mount | None:
    try:
        return mount_of(os.getcwd())
    except OSError:  # the working directory is gone (a mount went away under it)
        return None


# A small record of the mounts citc made, so that a command run inside a mount talks
# to the server that mount reads from: {mountpoint: {"workspace": ..., "server": ...}}.
# Only entries whose mount is live (in mountinfo, same workspace) are believed.


def _mounts_file() -> str:
    return os.path.join(local_server.data_dir(), "mounts.json")


def _read_mounts() -> dict[str, dict[str, str]]:
    try:
        with open(_mounts_file()) as f:
            records = json.load(f)
        return records if isinstance(records, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_mounts(records: dict[str, dict[str, str]]) -> None:
    os.makedirs(os.path.dirname(_mounts_file()), mode=0o700, exist_ok=True)
    tmp = f"{_mounts_file()}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(records, f, indent=1, sort_keys=True)
    os.replace(tmp, _mounts_file())


def record_mount(mountpoint: str, workspace: str, server: str) -> None:
    live = {m.mountpoint for m in citc_mounts()}
    records = {k: v for k, v in _read_mounts().items() if k in live}
    records[mountpoint] = {"workspace": workspace, "server": server}
    _write_mounts(records)


def forget_mount(mountpoint: str) -> None:
    records = _read_mounts()
    if records.pop(mountpoint, None) is not None:
        _write_mounts(records)


def mount_server(mount: Mount | None) -> str | None:
    """The server a live citc mount reads from, if citc recorded it."""
    if mount is None:
        return None
    record = _read_mounts().get(mount.mountpoint)
    if record and record.get("workspace") == mount.workspace:
        return record.get("server") or None
    return None


def mounts_of_server(address: str) -> list[Mount]:
    """The live citc mounts that read from the server at `address` (other servers'
    mounts on this machine are left out)."""
    return [m for m in citc_mounts() if mount_server(m) == address]


def workspace_or_current(ws: str | None) -> str:
    """`ws`, or the workspace of the mount the working directory is in."""
    if ws:
        return ws
    mount = current_mount()
    if mount is None:
        raise click.UsageError("name a workspace (the current directory is not in a "
                               "citcfs mount)")
    return mount.workspace


# --- references: the grammar is in `refs`; here they are resolved through the API -------


def parse_ref(text: str) -> refs.StateRef:
    """`text` as WS[@AT]; a malformed one is a usage error (exit 2)."""
    try:
        return refs.parse(text)
    except errors.InvalidArgument as exc:
        raise click.BadParameter(exc.message) from None


def parse_side(workspace: str, text: str | None) -> refs.StateRef:
    """An option's AT of `workspace`, or OTHER-WS@AT; malformed: a usage error."""
    try:
        return refs.parse_side(workspace, text)
    except errors.InvalidArgument as exc:
        raise click.BadParameter(exc.message) from None


def version_kwargs(ref: refs.StateRef) -> dict[str, Any]:
    """The version/label arguments of Client calls for a version-kind reference."""
    return {"version": ref.version, "label": ref.label}


def require_version(ref: refs.StateRef, what: str) -> refs.StateRef:
    """`ref` if it names a version of its workspace (head, N or LABEL), else an error."""
    if not ref.is_version:
        raise click.BadParameter(f"{what} takes WS, WS@N or WS@LABEL, not {ref}")
    return ref


def fork_point(client_: Client, workspace: str) -> ObjectId:
    """The root tree `workspace` was forked from; NotForked if it was not forked."""
    ws = client_.describe_workspace(workspace)
    if ws.fork is None:
        raise errors.NotForked(f"{workspace}@fork: workspace {workspace!r} was not forked, "
                               f"so it has no fork point")
    return ws.fork.tree


def forked_from(ws: WorkspaceInfo) -> str | None:
    """'SRC@V', the state a forked workspace started as; None if it was not forked."""
    return f"{ws.fork.source}@{ws.fork.source_version}" if ws.fork is not None else None


def default_from(ws: WorkspaceInfo) -> str:
    """What status and diff compare a workspace with when not told: its fork point
    while it still sits on the base revision it was forked over (so a fork shows its
    own changes, not its source's), else the base revision it sits on. After a sync
    the fork point is no longer a state on the same base, and a diff from it would
    show the base's changes too; WS@fork still names it."""
    if ws.fork is not None and ws.fork.base_rev == ws.base_rev:
        return "fork"
    return "base"


def diff_side(client_: Client, ref: refs.StateRef) -> tuple[DiffSide, str]:
    """`ref` as a side of the server's Diff, and how to print it."""
    if ref.is_version:
        shown = str(ref) if ref.kind != "head" else f"{ref.workspace}@head"
        return Client.workspace_ref(ref.workspace, **version_kwargs(ref)), shown
    if ref.kind == "base":
        ws = client_.describe_workspace(ref.workspace)
        rev = ws.base_rev if ref.base_rev is None else ref.base_rev
        return Client.base_ref(ws.base, rev), f"{ws.base}@{rev}"
    return Client.fork_ref(ref.workspace), str(ref)  # the server refuses a workspace not forked


def root_of(client_: Client, ref: refs.StateRef) -> tuple[ObjectId, str]:
    """The root tree id of the state `ref` names, and how to print it."""
    if ref.is_version:
        return client_.freeze(ref.workspace, **version_kwargs(ref)), str(ref)
    if ref.kind == "fork":
        return fork_point(client_, ref.workspace), f"{ref.workspace}@fork"
    ws = client_.describe_workspace(ref.workspace)
    rev = ws.base_rev if ref.base_rev is None else ref.base_rev
    for revision in client_.base_history(ws.base):
        if revision.rev == rev:
            return revision.root, f"{ws.base}@{rev}"
    raise errors.BaseNotFound(f"base {ws.base!r} has no revision {rev}")


def lookup(client_: Client, ref: refs.StateRef, path: str) -> Entry:
    """The entry at `path` in the state `ref` names."""
    if ref.is_version:
        return client_.lookup(ref.workspace, path, **version_kwargs(ref))
    root, shown = root_of(client_, ref)
    return trees.lookup_path(client_, root, path, shown)


def split_base_ref(text: str) -> tuple[str, int | None]:
    """'BASE' or 'BASE@REV' (a base and one of its revisions, for ws create)."""
    name, _, rev = text.partition("@")
    if rev and not rev.isdigit():
        raise click.BadParameter(f"{text!r}: a base revision is a number")
    return name, int(rev) if rev else None
