"""Shared pytest fixtures. Each part of citcfs keeps its fixtures under its own header."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from etcd_support import etcd_cluster
from kv_support import KV_BACKENDS, follow, kv_url
from object_store_support import OBJECT_BACKENDS, open_object_store
from seaweed_support import SeaweedFS, running_seaweedfs
from server_support import running_server, tls_server_config
from tree_support import SMALL_BASE, TreeSpec, write_tree

from citcfs.server.app import CitcServer, ServerConfig
from citcfs.storage import Database
from citcfs.storage.backend import ObjectStore

# --- tiers (tests/tiers.py): unit, server, mount, cluster, slow -------------------------

from tiers import (pytest_collection_modifyitems, pytest_runtest_call,  # noqa: E402,F401
                   pytest_runtest_setup, pytest_unconfigure)


# --- storage (citcfs.storage): databases in tmp_path and small directory trees ---------

@pytest.fixture
def db_dir(tmp_path: Path) -> Path:
    return tmp_path / "db"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `every_object_backend` run their `db` once per object backend."""
    if (metafunc.definition.get_closest_marker("every_object_backend") is not None
            and "db_objects" in metafunc.fixturenames):
        metafunc.parametrize("db_objects", OBJECT_BACKENDS, indirect=True)


@pytest.fixture
def db_objects(request: pytest.FixtureRequest) -> str:
    """The object backend of `db`: LMDB, unless the test is marked every_object_backend."""
    return str(getattr(request, "param", "lmdb"))


@pytest.fixture(scope="session")
def etcd_endpoints() -> Iterator[list[str]]:
    """One etcd member for the whole session; each store takes a key prefix of it."""
    with etcd_cluster(1) as cluster:
        yield cluster.endpoints


@pytest.fixture(params=KV_BACKENDS)
def kv_backend(request: pytest.FixtureRequest) -> str:
    """Each key-value backend in turn: "lmdb", "etcd"."""
    return str(request.param)


@pytest.fixture
def open_db(request: pytest.FixtureRequest, kv_backend: str,
            db_objects: str) -> Callable[..., Database]:
    """open_db(directory, sync=False): the database of `directory` on this test's
    key-value and object backends; opening one directory again reopens the same data
    (on S3: the same key prefix of the session's SeaweedFS)."""
    endpoints = request.getfixturevalue("etcd_endpoints") if kv_backend == "etcd" else None
    objects = None
    if db_objects == "s3":  # grace 0: GC may take any unreferenced object, as on LMDB
        objects = request.getfixturevalue("seaweedfs").new_store_url() + "&grace=0"

    def open_(directory: Path | str, sync: bool = False) -> Database:
        database = Database.open(str(directory), sync=sync,
                                 kv=kv_url(kv_backend, Path(directory), endpoints),
                                 objects=objects)
        follow(database.kv)  # reads through the server's cache, as a server does
        return database
    return open_


@pytest.fixture
def db(db_dir: Path, open_db: Callable[..., Database]) -> Iterator[Database]:
    """An empty database without fsync (durability is not under test), on each
    key-value backend (and each object backend where the test asks)."""
    database = open_db(db_dir)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """A real S3 server (SeaweedFS) on loopback for the whole session, started on
    first use; tests take a key prefix of their own (`SeaweedFS.new_store_url`)."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs") / "data") as server:
        yield server


@pytest.fixture(params=OBJECT_BACKENDS)
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    """An empty object store, once per backend (tests/object_store_support.py)."""
    with open_object_store(request.param, request, tmp_path) as store:
        yield store


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[..., Path]:
    """make_tree(spec, name="src", mtime_ns=None): a directory built from a TreeSpec."""
    def make(spec: TreeSpec, name: str = "src", mtime_ns: int | None = None) -> Path:
        return write_tree(tmp_path / name, spec, mtime_ns)
    return make


@pytest.fixture
def ws_db(db: Database, make_tree: Callable[..., Path]) -> Database:
    """`db` with base "main" (revision 1, SMALL_BASE) and workspace "ws" over it."""
    db.import_directory("main", str(make_tree(SMALL_BASE, "base")))
    db.create_workspace("ws", "main")
    return db


# --- server (citcfs.server): one in-process server per test ------------------------

@pytest.fixture
def tls_config(tmp_path: Path) -> ServerConfig:
    """TLS with a certificate made here and the tokens of `server_support.TOKENS`."""
    return tls_server_config(tmp_path)


@pytest.fixture
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CitcServer]:
    """An in-process server over tmp_path/"data", stopped after the test.

    Its settings are `ServerConfig` keyword arguments from the closest
    `server_config` marker (a module's `pytestmark`, or a test's own):
    `server_config(sync=False, limits=...)` for a Unix socket server, or
    `server_config(tls=True)` for `tls_config` (TLS and tokens on TCP). Without
    one, `ServerConfig`'s defaults on a Unix socket.
    """
    marker = request.node.get_closest_marker("server_config")
    options = dict(marker.kwargs) if marker is not None else {}
    if options.pop("tls", False):
        assert not options, "a TLS server takes its settings from tls_config"
        running = CitcServer.start(request.getfixturevalue("tls_config"))
        try:
            yield running
        finally:
            running.stop(grace=5)
        return
    with running_server(tmp_path / "data", **options) as running:
        yield running
