"""The states a web page names in its query string: the grammar of `citc help refs`.

``?at=``, ``?from=`` and ``?to=`` take the part after ``@`` for the page's workspace
(``12``, ``v1``, ``head``, ``base``, ``base@3``, ``fork``), or a whole
``OTHER@AT`` for another workspace, as `citc diff --from/--to` do, so a URL reads
like the command that shows the same thing: ``/ws/demo/diff?from=base&to=12``.
Pure parsing here; the page checks access to the workspace a state belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from citcfs import paths
from citcfs.errors import InvalidArgument
from citcfs.storage.results import BaseRef, Ref, WorkspaceRef
from citcfs.storage.index_values import WorkspaceState

Kind = Literal["head", "version", "label", "base", "fork"]


@dataclass(frozen=True, slots=True)
class At:
    """A state of `workspace`: its head, a version, a label, its base, its fork point."""

    workspace: str
    kind: Kind = "head"
    version: int | None = None
    label: str | None = None
    base_rev: int | None = None
    """For kind "base": the revision, or None for the one the workspace sits on now."""

    def text(self, page_workspace: str) -> str:
        """How a URL of `page_workspace`'s pages spells this state."""
        at = {"head": "head", "version": str(self.version), "label": self.label or "",
              "fork": "fork"}.get(self.kind)
        if at is None:
            at = "base" if self.base_rev is None else f"base@{self.base_rev}"
        return at if self.workspace == page_workspace else f"{self.workspace}@{at}"

    def ref(self, state: WorkspaceState) -> Ref:
        """The storage ref of this state, given its workspace's state."""
        if state.name != self.workspace:
            raise InvalidArgument(f"{self.workspace!r} is not {state.name!r}")
        if self.kind == "base":
            return BaseRef(state.base, state.base_rev if self.base_rev is None else self.base_rev)
        if self.kind == "fork":
            return WorkspaceRef(state.name, fork=True)
        return WorkspaceRef(state.name, self.version, self.label)


def parse_at(workspace: str, at: str) -> At:
    """The state `at` (the text after ``@``) of `workspace`."""
    if at in ("", "head", "HEAD"):
        return At(workspace)
    if at.isdigit():
        return At(workspace, "version", version=int(at))
    if at == "fork":
        return At(workspace, "fork")
    if at == "base":
        return At(workspace, "base")
    if at.startswith("base@"):
        rev = at[len("base@"):]
        if not rev.isdigit():
            raise InvalidArgument(f"{workspace}@{at}: base@REV takes a revision number")
        return At(workspace, "base", base_rev=int(rev))
    if "@" in at:
        raise InvalidArgument(f"{workspace}@{at} is not a reference")
    paths.check_label(at, "snapshot label")
    return At(workspace, "label", label=at)


def parse(page_workspace: str, text: str | None, default: str = "head") -> At:
    """A query parameter naming a state of the page's workspace or of another one."""
    if text is None or text == "":
        text = default
    name, at_sign, rest = text.partition("@")
    if not at_sign or name == "base":
        return parse_at(page_workspace, text)
    paths.check_label(name, "workspace name")
    return parse_at(name, rest)
