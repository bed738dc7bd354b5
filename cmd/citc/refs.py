"""The one grammar every `citc` command uses to name a state: pure parsing, no server.

    REF := WS[@AT]
    AT  := N          version N of WS (0 is WS as created)
         | LABEL      the version snapshot LABEL names
         | head       the newest version (the same as no @AT)
         | base       the base revision WS sits on now
         | base@REV   revision REV of WS's base
         | fork       the state WS was forked from

Options that name the other side of a comparison (`diff --from/--to`, `revert --to`)
take an AT of the workspace in hand, or a whole OTHER-WS@AT: text with an ``@`` names
another workspace unless it starts with ``base@``. Labels can never be all digits or
one of the words above, so every reference means one thing. `HELP` is the text of
`citc help refs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from citcfs import paths
from citcfs.errors import InvalidArgument

Kind = Literal["head", "version", "label", "base", "fork"]


@dataclass(frozen=True, slots=True)
class StateRef:
    """A parsed reference: a workspace and which of its states."""

    workspace: str
    kind: Kind = "head"
    version: int | None = None
    label: str | None = None
    base_rev: int | None = None  # for kind "base": None is the revision WS is on now

    def __str__(self) -> str:
        if self.kind == "head":
            return self.workspace
        if self.kind == "version":
            return f"{self.workspace}@{self.version}"
        if self.kind == "label":
            return f"{self.workspace}@{self.label}"
        if self.kind == "base" and self.base_rev is not None:
            return f"{self.workspace}@base@{self.base_rev}"
        return f"{self.workspace}@{self.kind}"

    @property
    def is_version(self) -> bool:
        """Whether it names a version of the workspace itself (head, number, label)."""
        return self.kind in ("head", "version", "label")


def parse_at(workspace: str, at: str) -> StateRef:
    """The state `at` (the part after ``@``) of `workspace`."""
    if at in ("", "head", "HEAD"):
        return StateRef(workspace)
    if at.isdigit():
        return StateRef(workspace, "version", version=int(at))
    if at == "fork":
        return StateRef(workspace, "fork")
    if at == "base":
        return StateRef(workspace, "base")
    if at.startswith("base@"):
        rev = at[len("base@"):]
        if not rev.isdigit():
            raise InvalidArgument(f"{workspace}@{at}: base@REV takes a revision number "
                                  f"(see 'citc help refs')")
        return StateRef(workspace, "base", base_rev=int(rev))
    if "@" in at:
        raise InvalidArgument(f"{workspace}@{at}: not a reference (see 'citc help refs')")
    return StateRef(workspace, "label", label=at)


def parse(text: str) -> StateRef:
    """A whole reference, ``WS[@AT]``."""
    name, _, at = text.partition("@")
    if not name:
        raise InvalidArgument(f"{text!r} names no workspace (see 'citc help refs')")
    return parse_at(name, at)


def parse_side(workspace: str, text: str | None) -> StateRef:
    """An option naming a state of `workspace` (AT) or of another one (OTHER@AT)."""
    if text is None:
        return StateRef(workspace)
    name, at_sign, rest = text.partition("@")
    if not at_sign or name == "base":
        return parse_at(workspace, text)
    return parse(text)


def check_label(label: str) -> None:
    """Refuse labels that a reference would read as something else (the server
    refuses them too; checking first gives the same message without a round trip)."""
    paths.check_snapshot_label(label)


HELP = """\
References name a state of a workspace. Every command takes the same grammar:

  WS              the newest version of workspace WS (its head)
  WS@N            version N (0 is WS as created; see 'citc log WS')
  WS@LABEL        the version snapshot LABEL names (see 'citc snapshots WS')
  WS@head         the head, as WS alone
  WS@base         the base revision WS sits on now (what 'citc status' compares to)
  WS@base@REV     revision REV of WS's base (see 'citc base log BASE')
  WS@fork         the state WS was forked from (for a workspace made by 'citc ws fork')

Options that name the other side of a comparison (diff --from/--to, revert --to)
take the part after @ for the workspace in hand, or a whole OTHER-WS@AT:

  citc diff demo --from 3 --to v2        versions of demo
  citc diff demo --from base@1           revision 1 of demo's base to demo's head
  citc diff demo --from other@v1         another workspace's snapshot

Snapshot labels are never all digits and never 'head', 'base' or 'fork', so a
reference always means one thing. Examples:

  citc cat demo@base src/main.c
  citc export demo@v1 /tmp/demo-v1
  citc ws fork demo@3 demo-retry
"""
