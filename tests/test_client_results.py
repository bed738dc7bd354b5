"""What `Client` returns: messages become `citcfs.client.results` values in one place
(`result_wire`). The round trips through a real server are in test_server_api.py;
these are the cases a server in this version never sends (enum values the client
does not know, unset fields) and the shape of a diff side."""

from __future__ import annotations

import dataclasses

import pytest

from citcfs import wire
from citcfs.client import result_wire
from citcfs.client.results import UNKNOWN, DiffSide, WorkspaceInfo
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.protos import citc_pb2 as pb


def test_a_workspace_becomes_plain_and_frozen() -> None:
    msg = pb.Workspace(id=7, name="w", owner="alice", base="main", base_rev=2,
                       root=b"\x01" * 32, version=3, created_ns=5, updated_ns=6,
                       access=pb.ACCESS_OWNER,
                       grants=[pb.Grantee(user="bob", access=pb.ACCESS_READ),
                               pb.Grantee(user="eve", access=pb.ACCESS_UNSPECIFIED)])
    ws = result_wire.workspace_info(msg)
    assert isinstance(ws, WorkspaceInfo) and ws.fork is None
    assert (ws.name, ws.base_rev, ws.root, ws.version) == ("w", 2, b"\x01" * 32, 3)
    assert ws.access == "owner"
    assert [(g.user, g.access) for g in ws.grants] == [("bob", "read"), ("eve", UNKNOWN)]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ws.version = 4  # type: ignore[misc]
    msg.fork.CopyFrom(pb.ForkPoint(source="src", source_version=1, tree=b"\x02" * 32,
                                   base_rev=2, version=1))
    forked = result_wire.workspace_info(msg)
    assert forked.fork is not None and (forked.fork.source, forked.fork.tree) == (
        "src", b"\x02" * 32)


def test_a_diff_entry_names_its_change_and_drops_whiteouts() -> None:
    msg = pb.DiffEntry(path="d/f\udcff".encode("utf-8", "surrogateescape"),
                       change=pb.CHANGE_RENAMED, old_path=b"old")
    wire.entry_to_wire(Entry.file(b"new"), msg.new)
    wire.entry_to_wire(Entry.whiteout(), msg.old)
    found = result_wire.diff_entry(msg)
    assert (found.path, found.change, found.old, found.old_path) == (
        "d/f\udcff", "renamed", None, "old")
    assert found.new is not None and found.new.inline == b"new"
    plain = result_wire.diff_entry(pb.DiffEntry(path=b"p", change=pb.CHANGE_UNSPECIFIED))
    assert (plain.change, plain.old, plain.new, plain.old_path) == (UNKNOWN, None, None, None)


def test_diff_sides_become_refs() -> None:
    assert result_wire.diff_side(Client.workspace_ref("w", label="v1")) == pb.Ref(
        workspace=pb.WorkspaceRef(workspace="w", label="v1"))
    assert result_wire.diff_side(Client.workspace_ref("w", version=0)) == pb.Ref(
        workspace=pb.WorkspaceRef(workspace="w", version=0))
    assert result_wire.diff_side(Client.fork_ref("w")) == pb.Ref(
        workspace=pb.WorkspaceRef(workspace="w", fork=True))
    assert result_wire.diff_side(Client.base_ref("main", 3)) == pb.Ref(
        base=pb.BaseRef(base="main", rev=3))
    assert result_wire.diff_side(DiffSide(base="")).WhichOneof("ref") == "base"
