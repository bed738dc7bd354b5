"""What `citc` prints: tables, JSON, colour, progress bars and error lines.

Every command prints through these helpers so the output looks the same everywhere:
tables with a header for lists, `--json` documents with stable keys for tools, colour
only when stdout is a terminal (click strips styles otherwise; NO_COLOR turns it off),
and progress bars on stderr only when stderr is a terminal.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

from citcfs.client.results import UNKNOWN, BaseRevision, ForkPoint, LabelInfo, WorkspaceInfo

JSON_OPTION_HELP = ("Print JSON (a stable shape, for tools) instead of text. A path that "
                    "is not UTF-8 also comes as <key>_b64, its exact bytes in base64.")


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The `--json` flag every listing and status command takes."""
    return click.option("--json", "as_json", is_flag=True, help=JSON_OPTION_HELP)(func)


def style(text: str, **kwargs: Any) -> str:
    """`text` styled for a terminal; click.echo drops the styling elsewhere."""
    if os.environ.get("NO_COLOR"):
        return text
    return click.style(text, **kwargs)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], empty: str = "") -> None:
    """Columns aligned to their widest cell, the header in bold."""
    if not rows:
        if empty:
            click.echo(empty, err=True)
        return
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    header = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()
    click.echo(style(header, bold=True))
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


def when(time_ns: int) -> str:
    """A local time to the second, for tables."""
    if not time_ns:
        return "-"
    return datetime.datetime.fromtimestamp(time_ns / 1e9).strftime("%Y-%m-%d %H:%M:%S")


def iso(time_ns: int) -> str | None:
    """A UTC ISO-8601 time, for JSON."""
    if not time_ns:
        return None
    stamp = datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.timezone.utc)
    return stamp.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def parse_size(text: str) -> int:
    """'512M', '2G', '1048576' -> bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = value[-1:] if value[-1:] in units and value[-1:] else ""
    try:
        return int(float(value[:len(value) - len(suffix)]) * units[suffix])
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a size (like 512M or 2G)") from None


# --- JSON shapes ------------------------------------------------------------------------
# One function per kind of value, so every command shows a thing the same way.


def base_revision_json(rev: BaseRevision) -> dict[str, Any]:
    return {"base": rev.base, "rev": rev.rev, "root": rev.root.hex(),
            "time": iso(rev.time_ns), "time_ns": rev.time_ns, "message": rev.message}


def workspace_json(ws: WorkspaceInfo) -> dict[str, Any]:
    return {"id": ws.id, "name": ws.name, "owner": ws.owner, "base": ws.base,
            "base_rev": ws.base_rev, "root": ws.root.hex(), "version": ws.version,
            "created": iso(ws.created_ns), "created_ns": ws.created_ns,
            "updated": iso(ws.updated_ns), "updated_ns": ws.updated_ns,
            "access": ws.access,
            "grants": [{"user": g.user, "access": g.access} for g in ws.grants],
            "fork": fork_json(ws.fork) if ws.fork is not None else None}


def fork_json(fork: ForkPoint) -> dict[str, Any]:
    """Where a forked workspace started (see `citc help refs`, WS@fork)."""
    return {"source": fork.source, "source_version": fork.source_version,
            "tree": fork.tree.hex(), "base_rev": fork.base_rev, "version": fork.version}


def label_json(label: LabelInfo) -> dict[str, Any]:
    return {"label": label.label, "version": label.version, "time": iso(label.time_ns),
            "time_ns": label.time_ns}


def access_text(access: str) -> str:
    """An access name for `ws show`: '?' for one this client does not know."""
    return "?" if access == UNKNOWN else access


# --- progress ---------------------------------------------------------------------------


class Progress:
    """A byte-counting progress bar with rate and ETA, drawn only on a terminal."""

    def __init__(self, bar: Any) -> None:
        self._bar = bar
        self._start = time.monotonic()
        self.done = 0

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self._bar is not None:
            self._bar.update(nbytes)

    def rate(self) -> str:
        elapsed = max(time.monotonic() - self._start, 1e-6)
        return f"{human_bytes(self.done / elapsed)}/s"


@contextmanager
def progress_bar(label: str, total_bytes: int) -> Iterator[Progress]:
    """A bar counting to `total_bytes` on stderr; a silent counter when stderr is not a
    terminal or `total_bytes` is negative."""
    if total_bytes < 0 or not sys.stderr.isatty():
        yield Progress(None)
        return
    holder: list[Progress] = []
    bar: Any
    with click.progressbar(length=max(total_bytes, 1), label=label, file=sys.stderr,
                           show_eta=True, show_percent=True,
                           item_show_func=lambda _: holder[0].rate() if holder else None) as bar:
        progress = Progress(bar)
        holder.append(progress)
        yield progress
