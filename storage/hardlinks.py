"""Hard links in the planner: what link, unlink, rename and writes of a linked file
write into the overlay (see `citcfs.links` for where a linked file's state lives).

A linked file's one state is its *link record*; every name of it carries the link
id. So a write or attribute change through any name writes the record (and that
name, so a diff walks to it); link(2) writes the record with one more name, the
source name and the new one; unlinking a name writes the record with one name
fewer, or drops it with the last name. The planner calls these; they write through
its pending view only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from citcfs import paths
from citcfs.entries import Entry, EntryKind
from citcfs.errors import AlreadyExists, IsADirectory
from citcfs.links import LINKS_PARENT, record_path

from . import overlay
from .ops import Link

if TYPE_CHECKING:
    from .overlay import Node
    from .planner import Planner


def _name_copy(state: Entry, node_overlay: Entry | None) -> Entry:
    """A name's overlay entry for the file state `state`: it keeps the origin its own
    overlay entry records (a rename shown by diffs)."""
    origin = node_overlay.origin if node_overlay is not None else None
    return state if state.origin == origin else state.replace(origin=origin)


def has_record(planner: "Planner", link: bytes) -> bool:
    record = planner.view.entry(LINKS_PARENT, link.hex())
    return record is not None and record.kind != EntryKind.WHITEOUT


def adopt_base_names(planner: "Planner", link: bytes, state: Entry) -> None:
    """Before the first record of a linked file whose names came with the base (a
    submitted workspace had linked them): give each of its names in the base tree an
    overlay entry, so that diffs walk to them, frozen trees (submit, fork points,
    export) take the file's new state there, and removals count them.

    It reads the whole base tree, once per such file and workspace; base revisions
    made by `import` hold no link ids, so only files linked in a workspace and
    submitted pay it.
    """
    stack = [(paths.ROOT, planner.root)]
    while stack:
        directory, tree = stack.pop()
        for name, entry in planner.load(tree).entries:
            path = paths.join(directory, name)
            if entry.is_dir and entry.tree is not None:
                stack.append((path, entry.tree))
            elif entry.link == link:
                found = overlay.try_resolve(planner.view, planner.load, planner.root, path)
                if (found is not None and found.overlay is None
                        and found.entry.link == link):
                    planner.view.set(path, state)


def set_state(planner: "Planner", path: str, node: "Node", state: Entry,
              *, new_link: bool = False) -> None:
    """Give the linked file that `path` names the state `state` (its record and this
    name; the other names show the record). `new_link`: the file had no link id."""
    assert state.link is not None
    if not new_link and not has_record(planner, state.link):
        adopt_base_names(planner, state.link, state)
    record = state.replace(origin=None) if state.origin is not None else state
    planner.view.set(record_path(state.link), record)
    planner.view.set(path, _name_copy(state, node.overlay))


def written(existing: "Node | None", entry: Entry) -> Entry:
    """The entry a WriteFile puts at a path: a linked file keeps its id and count
    (a write through a name is a write to the file); anything else has no link."""
    if existing is not None and existing.entry.link is not None:
        return entry.replace(link=existing.entry.link, nlink=existing.entry.nlink)
    if entry.link is not None:
        return entry.replace(link=None, nlink=1)
    return entry


def link(planner: "Planner", op: Link) -> None:
    """Make `op.dst` another name of the file at `op.src`."""
    src = paths.normalize(op.src)
    dst = paths.normalize(op.dst)
    node = planner.resolve_path(src)
    if node.is_dir:
        raise IsADirectory(f"{src!r} is a directory: directories cannot be hard-linked")
    dst_parent = planner.parent_dir(dst)
    if planner.try_child(dst_parent, dst) is not None:
        raise AlreadyExists(f"{dst!r} already exists")
    current = node.entry
    link_id = current.link if current.link is not None else op.link
    state = current.replace(link=link_id, nlink=current.nlink + 1 if current.link else 2,
                            ctime_ns=planner.now, atime_ns=current.st_atime_ns,
                            origin=None).compact_times()
    state.check()
    set_state(planner, src, node, state, new_link=current.link is None)
    planner.place(dst, state, clear_below=False)  # nothing there (checked above)


def unlinked(planner: "Planner", node: "Node") -> None:
    """The name `node` of a file goes away (unlink, or replaced by a rename): a
    linked file counts one name fewer, and its record goes with its last name."""
    entry = node.entry
    if entry.link is None or entry.kind in (EntryKind.DIR, EntryKind.WHITEOUT):
        return
    if entry.nlink <= 1:
        planner.view.set(record_path(entry.link), None)
        return
    state = entry.replace(nlink=entry.nlink - 1, ctime_ns=planner.now, origin=None,
                          atime_ns=entry.st_atime_ns).compact_times()
    if not has_record(planner, entry.link):
        adopt_base_names(planner, entry.link, state)
    planner.view.set(record_path(entry.link), state)


def unlinked_below(planner: "Planner", path: str) -> None:
    """A directory's whole content goes away: each linked name in the overlay below
    it counts as unlinked."""
    for below, entry in list(planner.view.subtree(path)):
        if entry.link is not None and entry.kind != EntryKind.WHITEOUT:
            shown = overlay.shown(planner.view, entry)
            unlinked(planner, overlay.Node(below, shown, entry, None, None))


def moved_names(planner: "Planner", src: str) -> list[tuple[str, Entry]]:
    """(path relative to `src`, overlay entry) of each linked name in the overlay
    below directory `src`: a rename of the directory keeps them as overlay entries
    at their new place, so a later write through another name shows in diffs there."""
    prefix = src + "/"
    return [(below[len(prefix):], entry) for below, entry in planner.view.subtree(src)
            if entry.link is not None and entry.kind != EntryKind.WHITEOUT]


def reverted(planner: "Planner", target: "overlay.OverlayView", current: "Node | None",
             entry: Entry) -> Entry:
    """The entry a revert puts at a path that showed `current` and had `entry` (a
    non-directory) in the state reverted to.

    The head's file at the path loses that name unless it is the same linked file.
    A linked file the head still has gets its state back, through every name (they
    are one file), and counts this name again if it had lost it. A linked file the
    head no longer has comes back as a file of its own, unless its link came with
    the base (there is no record on either side then, and its other names are in
    the base).
    """
    same = (current is not None and current.entry.link is not None
            and current.entry.link == entry.link)
    if current is not None and not current.is_dir and not same:
        unlinked(planner, current)
    if entry.link is None:
        return entry
    name = record_path(entry.link).rsplit("/", 1)[1]
    record = planner.view.entry(LINKS_PARENT, name)
    if record is None or record.kind == EntryKind.WHITEOUT:
        if target.entry(LINKS_PARENT, name) is None:
            return entry  # linked in the base: its other names are there
        return entry.replace(link=None, nlink=1)
    state = entry.replace(nlink=record.nlink + (0 if same else 1), origin=None)
    planner.view.set(record_path(entry.link), state)
    return state
