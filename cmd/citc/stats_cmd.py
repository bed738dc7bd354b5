"""`citc stats`: a mount's own metrics (caches, fetches, FUSE operations, journal,
invalidations), read from the mount's generated `.citc/stats` file.

The mount daemon writes that file's content when it is opened (JSON made by
`client.metrics.MountMetrics.snapshot`); this command only reads and formats it,
so it needs no server and works while the server is unreachable.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from citcfs import errors

from . import context, output


def read_stats(mountpoint: str) -> dict[str, Any]:
    """The metrics document of the mount at `mountpoint`."""
    path = os.path.join(mountpoint, ".citc", "stats")
    try:
        with open(path, "rb") as f:
            found = json.loads(f.read())
    except FileNotFoundError:
        raise errors.FailedPrecondition(f"the mount at {mountpoint} has no .citc/stats (its "
                                        f"mount daemon predates metrics; remount it)") from None
    except ValueError as exc:
        raise errors.CorruptData(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(found, dict) or not isinstance(found.get("metrics"), list):
        raise errors.CorruptData(f"{path} does not hold a metrics document")
    return found


def _labels(labels: dict[str, str], skip: str = "") -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != skip)


def _number(name: str, value: float) -> str:
    if value == int(value):
        text = str(int(value))
        return f"{text} ({output.human_bytes(value)})" if name.endswith("_bytes") \
            and value >= 1024 else text
    return f"{value:.6g}"


def _histogram(name: str, count: float, total: float) -> str:
    if not count:
        return "0"
    mean = total / count
    if name.endswith("_seconds"):
        return f"{int(count)} (mean {mean * 1000:.3g} ms, total {total:.3g} s)"
    return f"{int(count)} (mean {mean:.3g})"


def rows(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, labels, value) rows of a metrics document: one per counter or gauge
    sample, and one per histogram label set with its count and mean."""
    found: list[tuple[str, str, str]] = []
    for family in doc["metrics"]:
        name, kind, samples = family["name"], family["type"], family["samples"]
        if kind == "histogram":
            groups: dict[str, dict[str, float]] = {}
            for sample in samples:
                suffix = sample["name"][len(name):]
                key = _labels(sample["labels"], skip="le")
                groups.setdefault(key, {})[suffix] = sample["value"]
            for key, values in groups.items():
                found.append((name, key, _histogram(name, values.get("_count", 0.0),
                                                    values.get("_sum", 0.0))))
            continue
        for sample in samples:
            found.append((sample["name"], _labels(sample["labels"]),
                          _number(sample["name"], sample["value"])))
    return sorted(found)


def _mount_for(directory: str | None) -> context.Mount:
    mount = context.current_mount() if directory is None else context.mount_of(directory)
    if mount is None:
        if directory is None:
            raise click.UsageError("the current directory is not in a citcfs mount; name "
                                   "one: citc stats DIR")
        raise errors.InvalidArgument(f"{directory!r} is not in a citcfs mount")
    return mount


@click.command()
@click.argument("directory", metavar="[DIR]", required=False,
                type=click.Path(exists=True, file_okay=False))
@output.json_option
def stats(directory: str | None, as_json: bool) -> None:
    """A mount's metrics: cache hits and misses by layer, bytes fetched, FUSE
    operations and their latency, journal depth, flushes and invalidations.

    DIR is any directory in the mount (default: the current one). Histograms show
    their count and mean; --json gives every sample, buckets included. For
    Prometheus, mount with 'citc mount --metrics HOST:PORT' instead.

    \b
    Example:
      cd ~/demo && citc stats
      citc stats ~/demo --json
    """
    mount = _mount_for(directory)
    doc = read_stats(mount.mountpoint)
    if as_json:
        output.emit_json({"mountpoint": mount.mountpoint} | doc)
        return
    where = f", scraped at http://{doc['address']}/metrics" if doc.get("address") else ""
    click.echo(output.style(f"mount {mount.mountpoint} of {doc.get('workspace', '?')}{where}",
                            dim=True), err=True)
    output.table(("metric", "labels", "value"), rows(doc))

