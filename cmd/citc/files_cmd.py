"""Reading files out of workspaces: `citc cat` and `citc export`."""

from __future__ import annotations

import os
import posixpath
import sys

import click

from citcfs import errors
from citcfs.client.rpc import Client
from citcfs.entries import Entry, EntryKind
from citcfs.objects import ObjectId

from . import context, output, refs, trees

MAX_SYMLINKS = 40


def _lookup_following(client: Client, at: refs.StateRef, path: str) -> Entry:
    """The entry at `path`, following symlinks that stay inside the workspace."""
    for _ in range(MAX_SYMLINKS):
        entry = context.lookup(client, at, path)
        if entry.kind != EntryKind.SYMLINK:
            return entry
        target = entry.target
        if target.startswith("/"):
            raise errors.InvalidArgument(f"{path} is a symlink out of the workspace ({target})")
        path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        if path.startswith("..") or path == ".":
            raise errors.InvalidArgument(f"{path} is a symlink out of the workspace ({target})")
    raise errors.InvalidArgument(f"too many levels of symbolic links at {path}")


@click.command()
@click.argument("source", metavar="WS[@REF]")
@click.argument("path")
def cat(source: str, path: str) -> None:
    """Print file PATH of WS as it is at REF (default: the head).

    REF is any reference: a version, a label, base, base@REV or fork (see
    'citc help refs').

    \b
    Example:
      citc cat demo src/main.c
      citc cat demo@3 README | less
      citc cat demo@base src/main.c
    """
    at = context.parse_ref(source)
    client = context.client()
    entry = _lookup_following(client, at, path.strip("/"))
    if entry.is_dir:
        raise errors.IsADirectory(f"{path} is a directory in {at}")
    sys.stdout.buffer.write(client.read_file(entry))
    sys.stdout.flush()


def export_tree(client: Client, root: ObjectId, directory: str, label: str) -> tuple[int, int]:
    """Write the tree `root` under `directory`; (files, bytes) written."""
    items = list(trees.walk(client, root))
    total = sum(e.size for _, e in items if e.is_file)
    os.makedirs(directory, exist_ok=True)
    directories: list[tuple[str, Entry]] = []
    files = written = 0
    with output.progress_bar(f"exporting {label}", total) as bar:
        for path, entry in items:
            local = os.path.join(directory, path)
            if entry.is_dir:
                os.makedirs(local, mode=0o700, exist_ok=True)
                directories.append((local, entry))
            elif entry.kind == EntryKind.SYMLINK:
                os.symlink(entry.target, local)
                os.utime(local, ns=(entry.mtime_ns, entry.mtime_ns), follow_symlinks=False)
            elif entry.is_file:
                data = client.read_file(entry)
                fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.chmod(local, entry.mode & 0o7777)
                os.utime(local, ns=(entry.mtime_ns, entry.mtime_ns))
                files += 1
                written += len(data)
                bar.advance(len(data))
    # Directories last, deepest first: writing into one moves its mtime, and a
    # read-only one must still be writable while it is filled.
    for local, entry in sorted(directories, key=lambda item: -item[0].count(os.sep)):
        os.chmod(local, entry.mode & 0o7777)
        os.utime(local, ns=(entry.mtime_ns, entry.mtime_ns))
    return files, written


@click.command()
@click.argument("source", metavar="WS[@REF]")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@output.json_option
def export(source: str, directory: str, as_json: bool) -> None:
    """Copy WS as it is at REF into DIR, a plain directory (new or empty).

    REF is any reference (see 'citc help refs'): the head when omitted, a version, a
    label, base, base@REV or fork. Files keep their mode bits and mtimes; symlinks stay symlinks.

    \b
    Example:
      citc export demo@v1 /tmp/demo-v1
      citc export demo@base ./pristine
    """
    if os.path.exists(directory) and os.listdir(directory):
        raise click.BadParameter(f"{directory!r} is not empty", param_hint="DIR")
    client = context.client()
    root, label = context.root_of(client, context.parse_ref(source))
    files, nbytes = export_tree(client, root, directory, label)
    if as_json:
        output.emit_json({"source": label, "root": root.hex(), "directory":
                          os.path.abspath(directory), "files": files, "bytes": nbytes})
    else:
        click.echo(f"exported {label} to {directory}: {files} files, "
                   f"{output.human_bytes(nbytes)}")
