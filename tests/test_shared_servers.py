"""Stateless servers on a shared etcd: `citc server --kv etcd://... --objects ...`,
the config file, the Watch fed from etcd, the read cache and shared grants."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kv_support import follow, kv_url
from server_support import BASE_FILES, SERVER_COMMAND, ServerProcess, import_small_base

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.server.grants import Access
from citcfs.server.shared_grants import SharedGrantStore
from citcfs.storage import Database, WriteFile, keys
from citcfs.storage.backends import parse_kv
from citcfs.storage.etcd_backend import EtcdKVStore
from citcfs.storage.etcd_cache import wait_until


@pytest.fixture
def two_servers(etcd_endpoints: list[str], tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Two `citc server` processes on one etcd prefix and one object directory, each
    with an empty data directory of its own."""
    url = kv_url("etcd", tmp_path, etcd_endpoints)
    assert url is not None
    objects = f"file://{tmp_path / 'objects'}"
    servers: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            servers.append(ServerProcess(tmp_path / name, "127.0.0.1:0", "--kv", url,
                                         "--objects", objects))
        yield servers
    finally:
        for server in servers:
            server.kill()


def test_two_servers_serve_one_set_of_workspaces_and_watch_each_other(
        two_servers: list[ServerProcess]) -> None:
    with Client.connect(two_servers[0].address) as a, \
            Client.connect(two_servers[1].address) as b:
        import_small_base(a)
        a.create_workspace("ws", "main")
        assert [w.name for w in b.list_workspaces()] == ["ws"]
        assert b.read_file(b.lookup("ws", "README")) == BASE_FILES["README"]
        stream = a.watch({"ws": 0})
        try:
            started = time.monotonic()
            b.commit("ws", [wire.write_file_op("via-b", Entry.file(b"b"))])
            event = next(stream)  # committed through B, announced by A
            assert (event.workspace, event.version) == ("ws", 1)
            assert time.monotonic() - started < 5
            assert a.changed_paths(a.changes("ws", 0)) == ["via-b"]
            assert a.lookup("ws", "via-b").inline == b"b"
            b.delete_workspace("ws")
            assert next(stream).deleted
        finally:
            stream.cancel()
        assert a.list_workspaces() == []


def test_a_lookup_costs_no_etcd_round_trip_when_nothing_changed(
        etcd_endpoints: list[str], tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    url = kv_url("etcd", tmp_path, etcd_endpoints)
    with Database.open(str(tmp_path / "db"), sync=False, kv=url) as db:
        location = parse_kv(url)
        assert location.etcd is not None
        other = Database(EtcdKVStore(location.etcd, keys.ALL_TABLES), db.objects)
        try:
            follow(db.kv)
            db.import_directory("main", str(make_tree({"d/base": b"0"})))
            db.create_workspace("ws", "main")
            db.commit("ws", [WriteFile("d/f", Entry.file(b"1"))])
            kv = db.kv
            assert isinstance(kv, EtcdKVStore)
            assert wait_until(lambda: kv.cache.usable_revision(kv.min_read_revision) > 0, 5)
            db.lookup("ws", "d/f")  # warms the cache
            db.listdir("ws", "d")
            before = kv.client.reads
            for _ in range(20):
                assert db.lookup("ws", "d/f").inline == b"1"
                assert [name for name, _ in db.listdir("ws", "d")] == ["base", "f"]
            assert kv.client.reads == before
            # A commit through another store reaches this one's cache by the watch.
            other.commit("ws", [WriteFile("d/f", Entry.file(b"2"))])
            assert wait_until(lambda: db.lookup("ws", "d/f").inline == b"2", 5)
            # And this store's own commit is visible to its very next read.
            db.commit("ws", [WriteFile("d/f", Entry.file(b"3"))])
            assert db.lookup("ws", "d/f").inline == b"3"
        finally:
            other.kv.close()


def test_grants_are_shared_by_every_server(etcd_endpoints: list[str], tmp_path: Path) -> None:
    url = kv_url("etcd", tmp_path, etcd_endpoints)
    with Database.open(str(tmp_path / "a"), sync=False, kv=url) as a, \
            Database.open(str(tmp_path / "b"), sync=False, kv=url) as b:
        follow(a.kv)
        follow(b.kv)
        first, second = SharedGrantStore(a.kv), SharedGrantStore(b.kv)
        first.grant(7, "bob", Access.WRITE)
        first.grant(7, "carol", Access.READ)
        first.grant(8, "bob", Access.READ)
        assert wait_until(lambda: second.grantees(8) == {"bob": Access.READ}, 5)  # the last
        assert second.access(7, "bob") == Access.WRITE
        assert second.grantees(7) == {"bob": Access.WRITE, "carol": Access.READ}
        second.grant(7, "bob", Access.NONE)
        assert wait_until(lambda: first.access(7, "bob") == Access.NONE, 5)
        second.drop(7)
        assert wait_until(lambda: first.grantees(7) == {}, 5)
        assert first.grantees(8) == {"bob": Access.READ}
        a.rebuild()  # grants are policy, not derived from the log
        assert first.grantees(8) == {"bob": Access.READ}
        with pytest.raises(Exception, match="user name is empty"):
            first.grant(8, "", Access.READ)


def test_server_options_from_a_config_file(etcd_endpoints: list[str], tmp_path: Path) -> None:
    url = kv_url("etcd", tmp_path, etcd_endpoints)
    config = tmp_path / "citc.toml"
    config.write_text(f'[server]\ndata = "{tmp_path / "data"}"\nlisten = "127.0.0.1:0"\n'
                      f'kv = "{url}"\nobjects = "file://{tmp_path / "objects"}"\ngrace = 5\n')
    server = ServerProcess(tmp_path / "unused", "127.0.0.1:0", "--config", str(config))
    try:
        with Client.connect(server.address) as client:
            import_small_base(client)
            client.create_workspace("ws", "main")
    finally:
        server.stop()
    # The log is in etcd, not in either data directory, and the objects where told.
    with Database.open(str(tmp_path / "check"), sync=False, kv=url,
                       objects=f"file://{tmp_path / 'objects'}") as db:
        assert [w.name for w in db.list_workspaces()] == ["ws"]
    assert not (tmp_path / "data" / "log").exists()
    assert (tmp_path / "objects").is_dir()


@pytest.mark.parametrize("content, message", [
    ('[server]\nkv = "zk://x:1"\n', "unknown key-value store"),
    ('[server]\nkv = "etcd://nohost"\n', "host:port"),
    ('[server]\nbogus = 1\n', "unknown option 'bogus'"),
    ('[server]\ngrace = "soon"\n', "grace must be a number"),
    ('[server]\nno-metrics = "yes"\n', "no-metrics must be true or false"),
    ('[server]\nhttp = 8080\n', "http must be a string"),
    ('[other]\n', "unknown table"),
    ('not toml [', "not valid TOML"),
])
def test_bad_server_settings_get_one_clear_line(tmp_path: Path, content: str,
                                                message: str) -> None:
    config = tmp_path / "citc.toml"
    config.write_text(content)
    done = subprocess.run([*SERVER_COMMAND, "--data", str(tmp_path / "d"), "--listen",
                           "127.0.0.1:0", "--config", str(config)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert not (tmp_path / "d").exists()  # refused before anything starts
