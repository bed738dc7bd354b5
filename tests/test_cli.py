"""`citc` end to end: every command as a subprocess against a real `citc server` on a
Unix socket (exit codes, --json shapes, error lines). Mounts and the zero-config
local server are in test_cli_local.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from cli_support import (Citc, citc_mountpoints, cleanup_mounts, error_line, private_env,
                         run_on_terminal)
from server_support import ServerProcess, server_process, socket_dir
from tree_support import write_tree

from citcfs import wire
from citcfs.client.importer import import_directory
from citcfs.client.rpc import Client
from citcfs.cmd.main import main as citc_group
from citcfs.errors import InvalidArgument

BASE = {
    "README": b"hello\n",
    "src/main.c": b"int main(void) {\n    return 0;\n}\n",
    "src/util.c": b"/* util */\n",
    "docs/guide.txt": b"line 1\nline 2\nline 3\n",
    "bin/tool.sh": b"#!/bin/sh\necho tool\n",
    "link": ("symlink", "README"),
}


@pytest.fixture(scope="module")
def cli_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """`citc server` as a process, shared by the module's tests."""
    data = tmp_path_factory.mktemp("cli-server") / "data"
    with socket_dir() as sockets, server_process(data, f"unix:{sockets}/citc.sock") as proc:
        yield proc


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cli-home")


@pytest.fixture(scope="module")
def citc(cli_server: ServerProcess, home: Path) -> Citc:
    """citc pointed at the test server by CITC_SERVER, with a private HOME."""
    return Citc(private_env(home, home / "run", CITC_SERVER=cli_server.address), home)


@pytest.fixture(scope="module")
def tree(home: Path) -> Path:
    root = write_tree(home / "tree", BASE)  # type: ignore[arg-type]
    os.chmod(root / "bin/tool.sh", 0o755)
    return root


@pytest.fixture(scope="module")
def client(cli_server: ServerProcess) -> Iterator[Client]:
    with Client.connect(cli_server.address) as connected:
        yield connected


@pytest.fixture(scope="module")
def base(citc: Citc, tree: Path) -> str:
    """Base "main" imported through the CLI (revision 1)."""
    revision = citc.json("base", "import", str(tree), "--name", "main", "-m", "first")
    assert revision["base"] == "main" and revision["rev"] == 1
    return "main"


def commit(client: Client, ws: str, *ops: object) -> int:
    return client.commit(ws, list(ops)).version  # type: ignore[arg-type]


def write(client: Client, path: str, data: bytes, mode: int = 0o644) -> object:
    return wire.write_file_op(path, client.upload_file(data, mode=mode))


# --- help -------------------------------------------------------------------------------


def _commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _commands(command, f"{prefix}{name} ")


def test_every_command_has_help_with_an_example(citc: Citc) -> None:
    names = []
    for name, command in _commands(citc_group):
        if isinstance(command, click.Group) and name != "server":
            continue
        names.append(name)
        assert "citc " in (command.help or ""), f"citc {name} --help shows no example"
    assert {"base import", "base list", "base log", "ws create", "ws fork", "ws list",
            "ws show", "ws delete", "status", "diff", "snapshot", "snapshots", "log", "cat",
            "restore", "revert", "sync", "submit", "export", "gc", "fsck", "mount", "unmount",
            "server status", "server stop"} <= set(names)
    shown = citc.ok("ws", "fork", "--help")
    assert "Example" in shown and "citc ws fork" in shown


# --- bases ------------------------------------------------------------------------------


def test_base_import_list_log(citc: Citc, base: str, tree: Path) -> None:
    out = citc.ok("base", "import", str(tree), "--name", "other")
    assert "as other@1" in out
    listed = citc.json("base", "list")
    assert [b["name"] for b in listed] == ["main", "other"]
    assert set(listed[0]) == {"name", "latest"}
    assert set(listed[0]["latest"]) == {"base", "rev", "root", "time", "time_ns", "message"}
    assert listed[0]["latest"]["message"] == "first"
    table = citc.ok("base", "list").splitlines()
    assert table[0].split() == ["BASE", "REV", "TIME", "MESSAGE"]
    log = citc.json("base", "log", "main")
    assert [r["rev"] for r in log] == [1]
    # The same tree again makes no revision, and says so.
    again = citc("base", "import", str(tree), "--name", "other")
    assert again.returncode == 0 and "nothing changed" in again.stdout + again.stderr
    assert "other@1" in again.stdout
    doc = citc.json("base", "import", str(tree), "--name", "other")
    assert (doc["rev"], doc["unchanged"]) == (1, True)
    assert [r["rev"] for r in citc.json("base", "log", "other")] == [1]
    assert citc.fails(2, "base", "import", str(tree / "missing"), "--name", "x")
    assert "--name" in citc.fails(2, "base", "import", str(tree))


def test_base_log_unknown_is_a_user_error(citc: Citc, base: str) -> None:
    message = citc.fails(1, "base", "log", "nosuch")
    assert "nosuch" in message


# --- workspaces -------------------------------------------------------------------------


WS_KEYS = {"id", "name", "owner", "base", "base_rev", "root", "version", "created",
           "created_ns", "updated", "updated_ns", "access", "grants", "fork"}


def test_ws_create_fork_list_show_delete(citc: Citc, client: Client, base: str) -> None:
    created = citc.json("ws", "create", "alpha", "--base", "main@1")
    assert set(created) == WS_KEYS
    assert (created["name"], created["base"], created["base_rev"], created["version"]) == \
        ("alpha", "main", 1, 0)
    commit(client, "alpha", write(client, "README", b"changed\n"))
    citc.ok("snapshot", "alpha", "one")
    commit(client, "alpha", write(client, "README", b"changed again\n"))

    assert "forked alpha@one as beta" in citc.ok("ws", "fork", "alpha@one", "beta")
    assert citc.ok("cat", "beta", "README") == "changed\n"
    forked = citc.json("ws", "fork", "alpha@0", "gamma")
    assert forked["name"] == "gamma" and created["fork"] is None
    assert (forked["fork"]["source"], forked["fork"]["source_version"]) == ("alpha", 0)
    assert "from alpha@1 over main@1" in citc.ok("ws", "show", "beta")
    assert citc.ok("cat", "gamma", "README") == "hello\n"

    names = [w["name"] for w in citc.json("ws", "list")]
    assert {"alpha", "beta", "gamma"} <= set(names) and names == sorted(names)
    assert citc.ok("ws", "list").splitlines()[0].split()[:3] == ["WORKSPACE", "BASE", "VERSION"]
    shown = citc.json("ws", "show", "alpha")
    assert set(shown) == WS_KEYS | {"labels"}
    assert shown["version"] == 2 and shown["access"] == "owner"
    assert shown["labels"] == [{"label": "one", "version": 1, "time": shown["labels"][0]["time"],
                                "time_ns": shown["labels"][0]["time_ns"]}]
    assert "main@1" in citc.ok("ws", "show", "alpha")

    assert "already exists" in citc.fails(1, "ws", "create", "alpha", "--base", "main")
    assert "nosuch" in citc.fails(1, "ws", "create", "delta", "--base", "nosuch")
    assert citc.fails(2, "ws", "create", "delta", "--base", "main@x")
    assert "deleted workspace gamma" in citc.ok("ws", "delete", "gamma")
    assert "gamma" in citc.fails(1, "ws", "show", "gamma")
    assert "gamma" in citc.fails(1, "ws", "delete", "gamma")


# --- history ----------------------------------------------------------------------------


def test_snapshot_snapshots_log_restore_revert_cat(citc: Citc, client: Client,
                                                   base: str) -> None:
    client.create_workspace("hist", "main")
    commit(client, "hist", write(client, "README", b"v1\n"))                     # 1
    commit(client, "hist", write(client, "src/new.c", b"new\n"),
           write(client, "docs/guide.txt", b"guide 2\n"))                        # 2
    assert "version 2" in citc.ok("snapshot", "hist", "two")
    labelled = citc.json("snapshot", "hist", "first", "--version", "1")
    assert labelled == {"workspace": "hist", "label": "first", "version": 1,
                        "time": labelled["time"], "time_ns": labelled["time_ns"]}
    assert "already has a snapshot" in citc.fails(1, "snapshot", "hist", "two")
    assert "version 2" in citc.ok("snapshot", "hist", "two", "--version", "2", "--replace")

    labels, log, last, text, first, zero, link = citc.many(
        ("snapshots", "hist", "--json"), ("log", "hist", "--json"),
        ("log", "hist", "-n", "1", "--json"), ("log", "hist"), ("cat", "hist@first", "README"),
        ("cat", "hist@0", "README"), ("cat", "hist", "link"))
    assert [(x["label"], x["version"]) for x in json.loads(labels)] == [("first", 1), ("two", 2)]
    versions = json.loads(log)
    assert [v["version"] for v in versions] == [2, 1, 0]
    assert versions[0]["paths_changed"] == 2 and versions[0]["labels"] == ["two"]
    assert set(versions[0]) == {"version", "lsn", "time", "time_ns", "paths_changed", "labels"}
    assert [v["version"] for v in json.loads(last)] == [2]
    assert text.splitlines()[0].split() == ["VERSION", "TIME", "PATHS", "LABELS"]
    assert (first, zero, link) == ("v1\n", "hello\n", "v1\n")  # cat follows the symlink
    assert "directory" in citc.fails(1, "cat", "hist", "src")
    assert "nolabel" in citc.fails(1, "cat", "hist@nolabel", "README")

    assert "as version 3" in citc.ok("restore", "hist", "--to", "first")
    assert citc.ok("cat", "hist", "README") == "v1\n"
    assert "new.c" in citc.fails(1, "cat", "hist", "src/new.c")
    citc.ok("restore", "hist", "--to", "two")                                    # 4
    assert citc.ok("cat", "hist", "src/new.c") == "new\n"
    assert "as version 5" in citc.ok("revert", "hist", "README", "docs/guide.txt")
    assert citc.many(("cat", "hist", "README"), ("cat", "hist", "docs/guide.txt"),
                     ("cat", "hist", "src/new.c")) == \
        ["hello\n", BASE["docs/guide.txt"].decode(), "new\n"]
    citc.ok("revert", "hist", "README", "--to", "two")                           # 6
    assert citc.ok("cat", "hist", "README") == "v1\n"
    assert citc.fails(2, "restore", "hist")  # --to is required
    assert "not in a citcfs mount" in citc.fails(2, "log")


def test_one_ref_grammar_and_labels_that_refs_can_name(citc: Citc, client: Client,
                                                        base: str) -> None:
    client.create_workspace("refs", "main")
    commit(client, "refs", write(client, "README", b"mine\n"))
    citc.ok("snapshot", "refs", "v1")
    head, at_base, at_rev, at_label, at_version, at_head = citc.many(
        ("cat", "refs", "README"), ("cat", "refs@base", "README"),
        ("cat", "refs@base@1", "README"), ("cat", "refs@v1", "README"),
        ("cat", "refs@0", "README"), ("cat", "refs@head", "README"))
    assert (head, at_base, at_rev, at_label, at_version, at_head) == \
        ("mine\n", "hello\n", "hello\n", "mine\n", "hello\n", "mine\n")
    assert "does not exist" in citc.fails(1, "cat", "refs@base", "nothing")
    assert "fork" in citc.fails(1, "cat", "refs@fork", "README")  # not a fork
    assert "revision number" in citc.fails(2, "cat", "refs@base@x", "README")
    # labels a reference could not name are refused, by the CLI and by the server
    assert "all digits" in citc.fails(1, "snapshot", "refs", "123")
    for word in ("base", "head", "fork"):
        assert "reserved" in citc.fails(1, "snapshot", "refs", word)
    with pytest.raises(InvalidArgument, match="all digits"):
        client.label("refs", "42")
    assert [x["label"] for x in citc.json("snapshots", "refs")] == ["v1"]
    # the grammar is written down once, and the help texts point to it
    grammar = citc.ok("help", "refs")
    for form in ("WS@N", "WS@LABEL", "WS@base", "WS@base@REV", "WS@fork"):
        assert form in grammar
    for command in ("cat", "export", "diff", "revert", "restore"):
        assert "citc help refs" in " ".join(citc.ok(command, "--help").split()), command


def test_revert_goes_to_the_current_base(citc: Citc, client: Client, home: Path) -> None:
    old = write_tree(home / "rv1", {"README": b"one\n", "keep": b"k\n"})
    new = write_tree(home / "rv2", {"README": b"two\n", "keep": b"k\n"})
    import_directory(client, "rv", str(old))
    client.create_workspace("rvw", "rv")
    commit(client, "rvw", wire.remove_op("README"))                                # 1
    import_directory(client, "rv", str(new))
    citc.ok("sync", "rvw")                                                         # 2
    citc.ok("gc", "--keep", "1", "-w", "rvw")  # version 0 (over revision 1) is pruned
    assert "rv@2" in citc.ok("revert", "rvw", "README")                            # 3
    assert citc.ok("cat", "rvw", "README") == "two\n"
    assert "no such path" in citc.fails(1, "revert", "rvw", "no-such-file")
    assert client.describe_workspace("rvw").version == 3  # nothing made
    assert citc.ok("cat", "rvw@base", "README") == "two\n"


# --- status and diff --------------------------------------------------------------------


@pytest.fixture(scope="module")
def changed(citc: Citc, client: Client, base: str) -> str:
    """Workspace "dif": a modify, an add, a delete, a rename, a mode change, a binary."""
    client.create_workspace("dif", "main")
    commit(client, "dif", write(client, "docs/guide.txt", b"line 1\nline two\nline 3\n"))
    citc.ok("snapshot", "dif", "s1")
    commit(client, "dif", write(client, "src/added.c", b"added\n"),
           wire.remove_op("src/util.c"), wire.rename_op("README", "README.md"),
           wire.set_attr_op("docs/guide.txt", mode=0o755),
           write(client, "blob.bin", b"\x00\x01\x02binary"))
    return "dif"


def test_status(citc: Citc, changed: str) -> None:
    doc = citc.json("status", changed)
    assert set(doc) == {"workspace", "base", "base_rev", "version", "from", "changes",
                         "mounts"}
    assert doc["mounts"] == []  # no mount of it on this machine
    assert (doc["workspace"], doc["base"], doc["version"]) == ("dif", "main", 2)
    assert doc["from"] == "main@1"
    found = {c["path"]: c for c in doc["changes"]}
    assert set(found) == {"README.md", "blob.bin", "docs/guide.txt", "src/added.c",
                          "src/util.c"}
    assert found["README.md"]["change"] == "renamed"
    assert found["README.md"]["old_path"] == "README"
    assert found["src/util.c"]["change"] == "deleted"
    assert found["docs/guide.txt"]["new_mode"] == 0o755
    assert set(found["blob.bin"]) == {"path", "change", "old_path", "kind", "old_size",
                                      "new_size", "old_mode", "new_mode"}
    text = citc.ok("status", changed)
    assert "\x1b[" not in text  # no colour into a pipe
    lines = text.splitlines()
    assert "A src/added.c" in lines and "D src/util.c" in lines
    assert "M docs/guide.txt" in lines and "R README -> README.md" in lines


def test_odd_names_are_quoted_and_json_keeps_their_bytes(citc: Citc, client: Client,
                                                          base: str) -> None:
    client.create_workspace("odd", "main")
    commit(client, "odd", write(client, "new\nline", b"x\n"),
           write(client, "caf\udce9", b"y\n"), write(client, "trail ", b"z\n"))
    status = citc.ok("status", "odd").splitlines()
    assert {'A "new\\nline"', 'A "caf\\351"', 'A "trail "'} <= set(status)
    assert len(status) == 3  # one line per path
    assert 'A\t"new\\nline"' in citc.ok("diff", "odd", "--name-status").splitlines()
    assert 'diff --git "a/caf\\351" "b/caf\\351"' in citc.ok("diff", "odd")
    raw = subprocess.run([sys.executable, "-m", "citcfs.cmd.main", "status", "odd", "--json"],
                         env=citc.env, capture_output=True).stdout
    doc = json.loads(raw)
    found = {c["path"]: c for c in doc["changes"]}
    assert found["caf\ufffd"]["path_b64"] == "Y2Fm6Q=="  # the byte 0xe9, exactly
    assert "path_b64" not in found["new\nline"]


def test_diff_modes_and_refs(citc: Citc, changed: str) -> None:
    name_status, patch, explicit, stat, between, first, same, backwards = citc.many(
        ("diff", changed, "--name-status"), ("diff", changed), ("diff", changed, "--patch"),
        ("diff", changed, "--stat"), ("diff", changed, "--from", "s1", "--to", "2", "--json"),
        ("diff", changed, "--from", "base@1", "--to", "1", "--json"),
        ("diff", changed, "--from", "2", "--to", "head", "--json"),
        ("diff", changed, "--from", "1", "--to", "0"))
    assert "R\tREADME\tREADME.md" in name_status.splitlines()
    assert "D\tsrc/util.c" in name_status.splitlines()
    assert "diff --git a/docs/guide.txt b/docs/guide.txt\nold mode 100644\nnew mode 100755\n" \
        in patch
    assert "-line 2\n+line two\n" in patch
    assert "rename from README\nrename to README.md" in patch
    assert "Binary files /dev/null and b/blob.bin differ" in patch
    assert "deleted file mode 100644\n--- a/src/util.c\n+++ /dev/null\n" in patch
    assert explicit == patch
    carried = citc.ok("diff", changed, "--binary")
    assert "diff --git a/blob.bin b/blob.bin\nnew file mode 100644\nindex 0000000000000000" \
        in carried and "GIT binary patch\nliteral 9\n" in carried
    stat_lines = stat.splitlines()
    assert any(line.startswith(" blob.bin") and line.endswith("Bin") for line in stat_lines)
    assert stat_lines[-1] == " 5 files changed, 2 insertions(+), 2 deletions(-)"

    # --from/--to: versions, labels, base, base@REV, head.
    doc = json.loads(between)
    assert set(doc) == {"from", "to", "changes"}
    assert doc["from"] == "dif@s1" and doc["to"] == "dif@2"
    assert {c["path"]: c["change"] for c in doc["changes"]}["docs/guide.txt"] == "modified"
    doc = json.loads(first)
    assert [c["path"] for c in doc["changes"]] == ["docs/guide.txt"]
    assert doc["from"] == "main@1"
    assert json.loads(same)["changes"] == []
    assert "+line 2\n" in backwards
    assert "nolabel" in citc.fails(1, "diff", changed, "--from", "nolabel")
    assert citc.fails(2, "diff", changed, "--from", "base@x")


def test_a_fork_shows_its_own_changes(citc: Citc, client: Client, home: Path) -> None:
    """status, diff and log of a fork start at its fork point, not at the base, while
    it sits on the base revision it was forked over; after a sync the base is the
    reference again, and WS@fork still names the fork point."""
    import_directory(client, "fb", str(write_tree(home / "fb1", {"README": b"one\n",
                                                               "keep": b"k\n"})))
    client.create_workspace("orig", "fb")
    commit(client, "orig", write(client, "README", b"orig\n"), write(client, "orig.c", b"o\n"))
    citc.ok("ws", "fork", "orig", "mine")
    commit(client, "mine", write(client, "mine.c", b"m\n"), wire.remove_op("keep"))
    commit(client, "orig", write(client, "later.c", b"l\n"))  # not the fork's business
    status, status_text, name_status, explicit, other, log, log_text, at_fork = citc.many(
        ("status", "mine", "--json"), ("status", "mine"), ("diff", "mine", "--name-status"),
        ("diff", "mine", "--from", "fork", "--json"),
        ("diff", "mine", "--from", "mine@fork", "--to", "mine@head", "--name-status"),
        ("log", "mine", "--json"), ("log", "mine"), ("cat", "mine@fork", "README"))
    doc = json.loads(status)
    assert {c["path"]: c["change"] for c in doc["changes"]} == {"mine.c": "added",
                                                                 "keep": "deleted"}
    assert doc["from"] == "mine@fork"
    assert (doc["fork"]["source"], doc["fork"]["source_version"], doc["fork"]["version"]) == \
        ("orig", 1, 1)
    assert status_text.splitlines() == ["D keep", "A mine.c"]
    assert name_status.splitlines() == other.splitlines() == ["D\tkeep", "A\tmine.c"]
    assert json.loads(explicit)["from"] == "mine@fork"
    assert [c["path"] for c in json.loads(explicit)["changes"]] == ["keep", "mine.c"]
    versions = json.loads(log)
    assert [v["version"] for v in versions] == [2, 1]  # from the fork point on
    assert versions[1]["forked_from"] == "orig@1" and "forked_from" not in versions[0]
    assert "forked from orig@1" in log_text.splitlines()[-1]
    assert at_fork == "orig\n"
    # the base is still one --from away
    assert "M\tREADME" in citc.ok("diff", "mine", "--from", "base", "--name-status").splitlines()
    # a workspace that was not forked has no fork point, and compares with its base
    assert "not forked" in citc.fails(1, "diff", "orig", "--from", "fork")
    assert "not forked" in citc.fails(1, "cat", "orig@fork", "README")
    assert json.loads(citc.ok("status", "orig", "--json"))["from"] == "fb@1"
    assert "fork" not in json.loads(citc.ok("status", "orig", "--json"))
    # after a sync to a newer base, the changes are counted from that base again
    import_directory(client, "fb", str(write_tree(home / "fb2", {"README": b"one\n",
                                                               "keep": b"k\n", "new": b"n\n"})))
    citc.ok("sync", "mine")
    doc = citc.json("status", "mine")
    assert doc["from"] == "fb@2"
    assert {c["path"] for c in doc["changes"]} == {"README", "orig.c", "mine.c", "keep"}
    assert "A\tnew" in citc.ok("diff", "mine", "--from", "fork", "--name-status").splitlines()


# --- sync and submit --------------------------------------------------------------------


def test_sync_and_submit_with_conflicts(citc: Citc, client: Client, tree: Path,
                                        home: Path) -> None:
    import_directory(client, "proj", str(tree))
    client.create_workspace("left", "proj")
    client.create_workspace("right", "proj")
    commit(client, "left", write(client, "README", b"left\n"))
    commit(client, "right", write(client, "README", b"right\n"),
           write(client, "src/right.c", b"r\n"))
    submitted = citc.json("submit", "left", "-m", "left change")
    assert submitted["revision"]["base"] == "proj" and submitted["revision"]["rev"] == 2
    assert submitted["revision"]["message"] == "left change"

    # right changed README too: submit refuses with the path, exit 4.
    result = citc("submit", "right")
    assert result.returncode == 4, result
    assert "conflict: README" in result.stdout
    assert error_line(result.stderr)

    result = citc("sync", "right", "--refuse-conflicts")
    assert result.returncode == 4, result
    assert "conflict: README" in result.stdout
    assert citc.json("ws", "show", "right")["base_rev"] == 1  # nothing changed

    synced = citc.json("sync", "right")
    assert synced == {"workspace": "right", "version": synced["version"], "base_rev": 2,
                      "conflicts": ["README"]}
    assert citc.ok("cat", "right", "README") == "right\n"
    assert "proj@3" in citc.ok("submit", "right")
    assert "over base revision 3" in citc.ok("sync", "left")
    assert citc.ok("cat", "left", "src/right.c") == "r\n"
    assert "proj" in citc.fails(1, "sync", "left", "--to", "9")


# --- export -----------------------------------------------------------------------------


def test_export_keeps_modes_symlinks_and_mtimes(citc: Citc, client: Client, base: str,
                                                tree: Path, home: Path) -> None:
    client.create_workspace("exp", "main")
    commit(client, "exp", write(client, "big.dat", os.urandom(3 << 20)),
           write(client, "bin/run", b"#!/bin/sh\n", mode=0o750),
           wire.link_op("big.dat", "bin/big-too.dat", os.urandom(16)))
    out = home / "exported"
    doc = citc.json("export", "exp", str(out))
    assert set(doc) == {"source", "root", "directory", "files", "bytes", "hard_links",
                        "skipped"}
    assert doc["skipped"] == [] and doc["hard_links"] == 1
    assert (out / "big.dat").stat().st_ino == (out / "bin/big-too.dat").stat().st_ino
    assert (out / "big.dat").stat().st_nlink == 2
    assert doc["files"] == 7 and doc["bytes"] == sum(
        len(v) for v in BASE.values() if isinstance(v, bytes)) + (3 << 20) + 10
    assert (out / "big.dat").stat().st_size == 3 << 20
    assert stat.S_IMODE((out / "bin/run").stat().st_mode) == 0o750
    assert stat.S_IMODE((out / "bin/tool.sh").stat().st_mode) == 0o755
    assert os.readlink(out / "link") == "README"
    for rel in ("README", "src/main.c", "docs"):
        assert (out / rel).stat().st_mtime_ns == (tree / rel).stat().st_mtime_ns, rel

    base_copy = home / "exported-base"
    assert "main@1" in citc.ok("export", "exp@base", str(base_copy))
    assert not (base_copy / "big.dat").exists() and (base_copy / "README").exists()
    citc.ok("export", "exp@0", str(home / "exported-0"))
    assert "not empty" in citc.fails(2, "export", "exp", str(out))


# --- gc and fsck ------------------------------------------------------------------------


def test_gc_and_fsck(citc: Citc, client: Client, base: str) -> None:
    client.create_workspace("garbage", "main")
    for i in range(4):
        commit(client, "garbage", write(client, "big", bytes([i]) * 20000))
    dry = citc.json("gc", "--dry-run")
    assert set(dry) == {"dry_run", "versions_pruned", "objects_freed", "bytes_freed",
                        "objects_live"}
    assert dry["dry_run"] is True
    kept = citc.json("gc", "--keep", "1", "-w", "garbage")
    assert kept["dry_run"] is False and kept["versions_pruned"] >= 3
    assert kept["objects_freed"] >= 3
    assert "would free 0 objects" in citc.ok("gc", "--dry-run")
    assert citc.fails(2, "gc", "--keep", "1", "--dry-run")

    report = citc.json("fsck")
    assert report["ok"] is True and report["problems"] == []
    assert report["log"]["records"] >= 1 and report["log"]["first_lsn"] == 1
    assert report["objects"] >= 1 and report["objects_verified"] is True
    assert report["corrupt"] == [] and report["missing"] == [] and report["rebuilt"] is False
    assert "ok" in citc.ok("fsck", "--quick").splitlines()[-1]
    rebuilt = citc.json("fsck", "--rebuild")
    assert rebuilt["ok"] is True and rebuilt["rebuilt"] is True
    assert "garbage" in citc.ok("ws", "show", "garbage")  # the rebuilt indexes answer


# --- errors -----------------------------------------------------------------------------


def test_error_lines_and_exit_codes(citc: Citc, home: Path) -> None:
    env = dict(citc.env, CITC_SERVER=f"unix:{home}/nothing-here.sock")
    down = Citc(env, home)
    message = down.fails(3, "ws", "list")
    assert "cannot reach the server" in message and "nothing-here.sock" in message
    result = down("server", "status", "--json")
    assert result.returncode == 3 and '"running": false' in result.stdout
    assert "Commands:" in citc.ok() and "Commands:" in citc.ok("ws")  # help, exit 0
    assert "No such command" in citc.fails(2, "frobnicate")
    assert citc.fails(2, "ws", "create")
    assert "workspace" in citc.fails(1, "ws", "show", "no-such-ws")
    # the argument that is wrong is named: the workspace, not the base named after it
    bad = citc.fails(2, "mount", "has space", str(home / "never"), "--base", str(home))
    assert "WS" in bad and "invalid workspace name 'has space'" in bad and "base" not in bad
    assert "--base-name" in citc.fails(2, "mount", "ok", str(home / "never"),
                                       "--base-name", "bad name")
    assert not (home / "never").exists()
    debug = down("--debug", "ws", "list")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.server
def test_server_group_still_serves(tmp_path: Path) -> None:
    """`citc server --data --listen` runs the server; `citc server` alone is a usage error."""
    with socket_dir() as sockets:
        proc = subprocess.Popen([sys.executable, "-m", "citcfs.cmd.main", "server", "--data",
                                 str(tmp_path / "d"), "--listen", f"unix:{sockets}/s.sock"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            assert proc.stdout is not None
            assert "listening on" in proc.stdout.readline().decode()
            env = private_env(tmp_path, tmp_path / "run", CITC_SERVER=f"unix:{sockets}/s.sock")
            assert Citc(env, tmp_path).json("server", "status")["running"] is True
        finally:
            proc.kill()
            proc.wait()
    usage = subprocess.run([sys.executable, "-m", "citcfs.cmd.main", "server"],
                           capture_output=True, text=True)
    assert usage.returncode == 2 and "--data" in error_line(usage.stderr)


def test_a_terminal_gets_colour_and_a_progress_bar(citc: Citc, changed: str,
                                                   home: Path) -> None:
    code, shown = run_on_terminal(citc, "status", changed)
    assert code == 0 and "\x1b[32mA\x1b[0m src/added.c" in shown
    big = write_tree(home / "big-tree", {"data": os.urandom(6 << 20)})
    code, shown = run_on_terminal(citc, "base", "import", str(big), "--name", "big")
    assert code == 0, shown
    assert "importing big" in shown and "100%" in shown and "iB/s" in shown
    code, shown = run_on_terminal(citc, "export", "dif", str(home / "dif-export"))
    assert code == 0 and "exporting dif" in shown and "100%" in shown, shown
    no_colour = dict(citc.env, NO_COLOR="1")
    code, shown = run_on_terminal(Citc(no_colour, citc.cwd), "status", changed)
    assert code == 0 and "A src/added.c" in shown and "\x1b[32m" not in shown


@pytest.mark.mount
def test_mounts_talk_to_their_own_server_and_foreground_mounts(
        citc: Citc, client: Client, base: str, home: Path) -> None:
    client.create_workspace("mounted", "main")
    bg, fg = home / "bg-mount", home / "fg-mount"
    with cleanup_mounts(bg, fg, fsck=citc):
        out = citc.ok("mount", "mounted", str(bg), "--cache-size", "64M", "--attr-timeout", "0")
        assert f"mounted mounted on {bg}" in out
        (bg / "README").write_text("from the mount\n")
        # Inside the mount, citc needs no CITC_SERVER: it uses the mount's server.
        plain = Citc({k: v for k, v in citc.env.items() if k != "CITC_SERVER"}, home)
        doc = plain.json("status", cwd=bg / "src")
        assert doc["workspace"] == "mounted"
        assert [c["path"] for c in doc["changes"]] == ["README"]
        assert not (home / ".local/share/citcfs/server.pid").exists()  # no local server
        assert "already mounted" in citc.fails(1, "mount", "mounted", str(bg))
        assert "unmounted mounted" in citc.ok("unmount", str(bg))

        proc = subprocess.Popen([sys.executable, "-m", "citcfs.cmd.main", "mount", "mounted",
                                 str(fg), "--foreground"], env=citc.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while str(fg) not in citc_mountpoints() and proc.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.05)
            assert str(fg) in citc_mountpoints()
            assert (fg / "README").read_text() == "from the mount\n"
            citc.ok("unmount", str(fg))
            assert proc.wait(timeout=30) == 0
            assert proc.stderr is not None
            assert "Ignoring invalid max threads" not in proc.stderr.read().decode()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "not mounted" in citc.fails(1, "unmount", str(bg))
    assert "lots" in citc.fails(2, "mount", "mounted", str(bg), "--cache-size", "lots")


@pytest.mark.mount
def test_commands_flush_the_mounts_of_their_workspace(citc: Citc, client: Client, base: str,
                                                      home: Path) -> None:
    client.create_workspace("flushed", "main")
    mnt, synced = home / "flush-mount", home / "sync-mount"
    with cleanup_mounts(mnt, synced, fsck=citc):
        citc.ok("mount", "flushed", str(mnt), "--cache-size", "64M")
        for i in range(30):
            (mnt / f"new{i}.txt").write_text(f"{i}\n")
        # Each command sees everything written before it, though the mount returned
        # from close() before the server had it.
        doc = citc.json("status", "flushed")
        assert sorted(c["path"] for c in doc["changes"]) == sorted(f"new{i}.txt" for i in range(30))
        [mount] = doc["mounts"]
        assert mount["mountpoint"] == str(mnt) and mount["sync_writes"] is False
        (mnt / "labelled.txt").write_text("in the snapshot\n")
        citc.ok("snapshot", "flushed", "with-label")
        names = citc.ok("diff", "flushed", "--from", "base", "--to", "with-label",
                        "--name-status")
        assert "labelled.txt" in names
        (mnt / "last.txt").write_text("before unmount\n")
        citc.ok("unmount", str(mnt))
        assert client.read_file(client.lookup("flushed", "last.txt")) == b"before unmount\n"

        citc.ok("mount", "flushed", str(synced), "--cache-size", "64M", "--sync-writes",
                "--journal-size", "64M")
        (synced / "at-once.txt").write_text("on the server at close\n")
        assert client.read_file(client.lookup("flushed", "at-once.txt")) == \
            b"on the server at close\n"
        assert citc.json("status", "flushed")["mounts"][0]["sync_writes"] is True
        citc.ok("unmount", str(synced))
    assert "lots" in citc.fails(2, "mount", "flushed", str(mnt), "--journal-size", "lots")
