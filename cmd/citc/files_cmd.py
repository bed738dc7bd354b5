"""Reading files out of workspaces: `citc cat` and `citc export`."""

from __future__ import annotations

import os
import posixpath
import sys
from dataclasses import dataclass, field

import click

from citcfs import errors
from citcfs.client.rpc import Client
from citcfs.entries import Entry, EntryKind
from citcfs.objects import ObjectId

from . import context, output, refs, trees
from .patch import KIND_WORDS

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


@dataclass
class Exported:
    """What an export wrote, and what it could not recreate (and why)."""

    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    links: int = 0


def _times(entry: Entry) -> tuple[int, int]:
    return entry.st_atime_ns, entry.mtime_ns


def _make_node(local: str, entry: Entry) -> bool:
    """Recreate a FIFO, socket or device node; False if the caller may not (only
    root may make devices)."""
    try:
        os.mknod(local, entry.st_mode, entry.rdev)
    except PermissionError:
        return False
    os.chmod(local, entry.mode & 0o7777)
    return True


def _set_xattrs(local: str, entry: Entry, skipped: list[str], path: str) -> None:
    """Copy the entry's extended attributes; those the caller may not set (trusted.
    and security. need privileges) are named in `skipped`."""
    for name, value in entry.xattrs:
        try:
            os.setxattr(local, name, value, follow_symlinks=False)
        except OSError as exc:
            skipped.append(f"{path}: extended attribute {name.decode(errors='replace')} "
                           f"({exc.strerror})")


def export_tree(client: Client, root: ObjectId, directory: str, label: str) -> Exported:
    """Write the tree `root` under `directory`."""
    items = list(trees.walk(client, root))
    total = sum(e.size for _, e in items if e.is_file)
    os.makedirs(directory, exist_ok=True)
    directories: list[tuple[str, Entry]] = []
    first_names: dict[bytes, str] = {}  # link id -> where its first name was written
    done = Exported()
    with output.progress_bar(f"exporting {label}", total) as bar:
        for path, entry in items:
            local = os.path.join(directory, path)
            if entry.is_dir:
                os.makedirs(local, mode=0o700, exist_ok=True)
                directories.append((local, entry))
                continue
            if entry.link is not None and entry.link in first_names:
                os.link(first_names[entry.link], local)  # another name of a file written
                done.links += 1
                continue
            if entry.kind == EntryKind.SYMLINK:
                os.symlink(entry.target, local)
            elif entry.is_file:
                data = client.read_file(entry)
                fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                done.files += 1
                done.bytes += len(data)
                bar.advance(len(data))
            elif entry.is_special:
                if not _make_node(local, entry):
                    done.skipped.append(f"{path}: {KIND_WORDS[entry.kind]} (only root may make it)")
                    continue
            _set_xattrs(local, entry, done.skipped, path)  # while a file is still writable
            if entry.is_file:
                os.chmod(local, entry.mode & 0o7777)
            os.utime(local, ns=_times(entry), follow_symlinks=False)
            if entry.link is not None:
                first_names[entry.link] = local
    # Directories last, deepest first: writing into one moves its mtime, and a
    # read-only one must still be writable while it is filled.
    for local, entry in sorted(directories, key=lambda item: -item[0].count(os.sep)):
        _set_xattrs(local, entry, done.skipped, os.path.relpath(local, directory))
        os.chmod(local, entry.mode & 0o7777)
        os.utime(local, ns=_times(entry))
    return done


@click.command()
@click.argument("source", metavar="WS[@REF]")
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@output.json_option
def export(source: str, directory: str, as_json: bool) -> None:
    """Copy WS as it is at REF into DIR, a plain directory (new or empty).

    REF is any reference (see 'citc help refs'): the head when omitted, a version, a
    label, base, base@REV or fork. Files keep their mode bits, times and extended
    attributes; symlinks stay symlinks; the names of a hard-linked file become hard
    links again; FIFOs and sockets are made again, and device nodes too when run as
    root (otherwise they are skipped, and named on stderr).

    \b
    Example:
      citc export demo@v1 /tmp/demo-v1
      citc export demo@base ./pristine
    """
    if os.path.exists(directory) and os.listdir(directory):
        raise click.BadParameter(f"{directory!r} is not empty", param_hint="DIR")
    client = context.client()
    root, label = context.root_of(client, context.parse_ref(source))
    done = export_tree(client, root, directory, label)
    if as_json:
        output.emit_json({"source": label, "root": root.hex(), "directory":
                          os.path.abspath(directory), "files": done.files, "bytes": done.bytes,
                          "hard_links": done.links, "skipped": done.skipped})
        return
    links = f", {done.links} more names of hard-linked files" if done.links else ""
    click.echo(f"exported {label} to {directory}: {done.files} files, "
               f"{output.human_bytes(done.bytes)}{links}")
    for line in done.skipped:
        click.echo(f"citc: skipped {line}", err=True)
