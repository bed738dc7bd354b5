"""Helpers for the real-mount tests of the FUSE client (tests/test_fuse_*.py).

Everything here is real: a `citc server` subprocess (data on /dev/shm), bases imported
through the API, and mounts made with `mount_background` (a separate daemon process).
Every server and every mount daemon is stopped by its pid, and every mount is
unmounted (lazily with `fusermount3 -u -z` as a last resort), in finalizers that run
even when a test fails.

`CountingProxy` sits between a mount and the server when a test must count requests:
it forwards each call byte for byte (no decoding, nothing faked) and counts them per
method, which is how the laziness tests see what a mount asked for.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
from server_support import verify_server

from citcfs.client.importer import import_directory
from citcfs.entries import Entry
from citcfs.client.mount import DEFAULT_ATTR_TIMEOUT, MountOptions, mount_background, unmount
from citcfs.client.rpc import Client
from citcfs.cmd.barrier import fsync_root
from citcfs.protos import citc_pb2 as pb

SMALL_TREE: dict[str, bytes] = {
    "README": b"hello\n",
    "src/main.c": b"int main(void) { return 0; }\n",
    "src/lib/util.c": b"/* util */\n",
    "src/lib/deep/leaf.txt": b"leaf\n",
    "docs/guide.txt": b"read me\n",
    "docs/big.bin": bytes(range(256)) * 40,  # 10 KiB, above INLINE_MAX: one chunk
}


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
             what: str = "condition") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last result: {last!r}")
        time.sleep(interval)


# --- the server ------------------------------------------------------------------------


_SERVER_MAIN = """
import logging, sys
from citcfs.server.app import ServerConfig, serve
logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                    format="%(asctime)s %(levelname)s %(name)s: %(message)s")
def ready(server):
    print("citc server listening on", server.address, flush=True)
serve(ServerConfig(data_dir=sys.argv[1], listen=sys.argv[2], grace_s=2.0), on_ready=ready)
"""


class FuseServer:
    """A citcfs server in a subprocess of its own, on a Unix socket, data on /dev/shm.

    It runs `citcfs.server.app.serve` (what `citc server` runs) directly, so these
    tests depend on the server and not on the command-line layer. `stop()` sends
    SIGTERM to its pid, `kill()` SIGKILL; `start()` again serves the same data on
    the same socket.
    """

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="citc-fuse-data-", dir="/dev/shm"))
        self.socket_dir = tempfile.mkdtemp(prefix="citc", dir="/tmp")
        self.address = f"unix:{self.socket_dir}/citc.sock"
        self.log_path = self.data_dir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER_MAIN, str(self.data_dir / "db"), self.address],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.kill()
            raise AssertionError(f"server did not start: {line!r}\n{self.log()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM and wait; SIGKILL if it does not stop in time."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        try:
            self.kill()
        finally:
            if self.proc is not None and self.proc.stdout is not None:
                self.proc.stdout.close()
            shutil.rmtree(self.data_dir, ignore_errors=True)
            shutil.rmtree(self.socket_dir, ignore_errors=True)


class CountingProxy:
    """A gRPC proxy that forwards every call of the Citc service and counts them.

    Requests and responses pass through as raw bytes, so the proxy neither changes
    nor interprets them; `counts["Lookup"]` is how many Lookup calls came in.
    """

    def __init__(self, upstream: str) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.socket_dir = tempfile.mkdtemp(prefix="citcp", dir="/tmp")
        self.address = f"unix:{self.socket_dir}/proxy.sock"
        self._channel = grpc.insecure_channel(upstream, options=[
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20)])
        service = pb.DESCRIPTOR.services_by_name["Citc"]
        handlers = {}
        for method in service.methods:
            handlers[method.name] = self._handler(service.full_name, method)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=[
            ("grpc.max_receive_message_length", 64 << 20),
            ("grpc.max_send_message_length", 64 << 20)])
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(service.full_name, handlers),))
        self._server.add_insecure_port(self.address)
        self._server.start()

    def _count(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.counts)

    def _handler(self, service: str, method: Any) -> grpc.RpcMethodHandler:
        path = f"/{service}/{method.name}"
        name = method.name
        ident = dict(request_serializer=None, response_deserializer=None)
        client_stream, server_stream = method.client_streaming, method.server_streaming

        def meta(context: grpc.ServicerContext) -> list[tuple[str, Any]]:
            return [(k, v) for k, v in context.invocation_metadata()
                    if not k.startswith(":") and k not in ("user-agent", "content-type", "te")]

        def fail(context: grpc.ServicerContext, exc: grpc.RpcError) -> None:
            trailers = exc.trailing_metadata() if hasattr(exc, "trailing_metadata") else None
            if trailers:
                context.set_trailing_metadata(tuple(trailers))
            context.abort(exc.code(), exc.details() or "")

        if not client_stream and not server_stream:
            call = self._channel.unary_unary(path, **ident)

            def unary_unary(request: bytes, context: grpc.ServicerContext) -> bytes:
                self._count(name)
                try:
                    return call(request, metadata=meta(context))
                except grpc.RpcError as exc:
                    fail(context, exc)
                    raise
            return grpc.unary_unary_rpc_method_handler(unary_unary)
        if not client_stream:
            stream = self._channel.unary_stream(path, **ident)

            def unary_stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
                self._count(name)
                responses = stream(request, metadata=meta(context))
                context.add_callback(responses.cancel)
                try:
                    yield from responses
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.CANCELLED:
                        fail(context, exc)
            return grpc.unary_stream_rpc_method_handler(unary_stream)
        if not server_stream:
            upload = self._channel.stream_unary(path, **ident)

            def stream_unary(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
                self._count(name)
                try:
                    return upload(requests, metadata=meta(context))
                except grpc.RpcError as exc:
                    fail(context, exc)
                    raise
            return grpc.stream_unary_rpc_method_handler(stream_unary)
        both = self._channel.stream_stream(path, **ident)

        def stream_stream(requests: Iterator[bytes],
                          context: grpc.ServicerContext) -> Iterator[bytes]:
            self._count(name)
            responses = both(requests, metadata=meta(context))
            context.add_callback(responses.cancel)
            yield from responses
        return grpc.stream_stream_rpc_method_handler(stream_stream)

    def close(self) -> None:
        self._server.stop(0).wait()
        self._channel.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)


# --- mounts ----------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # reap it if it is our child and already a zombie
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


class Mount:
    """One mounted workspace (a mount daemon process) and how to take it down."""

    def __init__(self, opts: MountOptions, log_file: Path) -> None:
        self.opts = opts
        self.path = Path(opts.mountpoint)
        self.cache_dir = Path(opts.cache_dir)
        self.log_file = log_file
        self.pid = mount_background(opts, str(log_file))

    def sync(self) -> None:
        """The barrier `citc` commands use: fsync of the mount's root returns once the
        server has everything the mount journaled before it."""
        fsync_root(str(self.path))

    def log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return _pid_alive(self.pid)

    def kill9(self) -> None:
        """Kill the daemon (SIGKILL) and lazily detach the now dead mount."""
        if _pid_alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)
        wait_for(lambda: not _pid_alive(self.pid), 10, what="mount daemon to die")
        subprocess.run(["fusermount3", "-u", "-z", str(self.path)], capture_output=True)

    def unmount(self) -> None:
        """Unmount cleanly if possible, then make sure the mount and daemon are gone."""
        try:
            if os.path.ismount(self.path):
                try:
                    unmount(str(self.path))
                except Exception:
                    pass
            if os.path.ismount(self.path):
                subprocess.run(["fusermount3", "-u", "-z", str(self.path)], capture_output=True)
            deadline = time.monotonic() + 10
            while _pid_alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            if _pid_alive(self.pid):
                os.kill(self.pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
                while _pid_alive(self.pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
            if os.path.ismount(self.path):
                subprocess.run(["fusermount3", "-u", "-z", str(self.path)], capture_output=True)


def cache_files_bytes(cache_dir: Path) -> int:
    """Bytes of objects in an ObjectCache directory (0 if it was never opened)."""
    from citcfs.client.cache import ObjectCache

    if not (cache_dir / "data.mdb").exists() and not any(cache_dir.rglob("*.mdb")):
        return 0
    cache = ObjectCache(str(cache_dir), 1 << 30)
    try:
        return cache.total_bytes()
    finally:
        cache.close()


class FuseEnv:
    """A server, an API client, a base "main" and workspaces, plus mounts to take down."""

    def __init__(self, tmp_path: Path, server: FuseServer | None = None) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self._own_server = server is None
        self.proxies: list[CountingProxy] = []
        self.mounts: list[Mount] = []
        self.clients: list[Client] = []
        self._count = 0

    def start_server(self) -> FuseServer:
        self.server = FuseServer()
        return self.server

    def client(self, address: str | None = None) -> Client:
        assert self.server is not None
        client = Client.connect(address or self.server.address)
        self.clients.append(client)
        return client

    def proxy(self) -> CountingProxy:
        assert self.server is not None
        proxy = CountingProxy(self.server.address)
        self.proxies.append(proxy)
        return proxy

    def import_tree(self, files: dict[str, bytes], base: str = "main") -> None:
        self._count += 1
        tree = write_files(self.tmp_path / f"tree{self._count}", files)
        import_directory(self.client(), base, str(tree), message="test base")

    def new_workspace(self, base: str = "main") -> str:
        """A fresh workspace over `base`, with a name no other test used."""
        name = f"ws-{next(_WORKSPACE_NUMBERS)}"
        self.client().create_workspace(name, base)
        return name

    def mount(self, workspace: str, *, name: str | None = None, cache_dir: Path | None = None,
              server: str | None = None, attr_timeout: float = DEFAULT_ATTR_TIMEOUT,
              **options: Any) -> Mount:
        assert self.server is not None
        self._count += 1
        mountpoint = self.tmp_path / (name or f"mnt{self._count}")
        mountpoint.mkdir(exist_ok=True)
        if cache_dir is None:
            cache_dir = self.tmp_path / f"cache{self._count}"
        cache_dir.mkdir(exist_ok=True)
        opts = MountOptions(server=server or self.server.address, workspace=workspace,
                            mountpoint=str(mountpoint), cache_dir=str(cache_dir),
                            attr_timeout=attr_timeout, **options)
        try:
            mount = Mount(opts, self.tmp_path / f"mount{self._count}.log")
        except BaseException:
            if os.path.ismount(mountpoint):
                subprocess.run(["fusermount3", "-u", "-z", str(mountpoint)], capture_output=True)
            raise
        self.mounts.append(mount)
        return mount

    def close(self) -> None:
        """Take every mount down, then check the server's data with `verify_server` (the
        oracle of every test that mounts, as fsck is s3ql's), then stop the rest."""
        errors: list[BaseException] = []
        for mount in reversed(self.mounts):
            if mount.pid > 0:
                try:
                    mount.unmount()
                except BaseException as exc:  # keep taking the rest down
                    errors.append(exc)
        if self.mounts and self.server is not None:
            try:
                if self.server.proc is None or self.server.proc.poll() is not None:
                    self.server.start()  # the test stopped it: verify what it left
                verify_server(self.server.address)
            except BaseException as exc:
                errors.append(exc)
        for client in self.clients:
            client.close()
        for proxy in self.proxies:
            try:
                proxy.close()
            except BaseException as exc:
                errors.append(exc)
        if self.server is not None and self._own_server:
            self.server.close()
        if errors:
            raise errors[0]


_WORKSPACE_NUMBERS = itertools.count(1)


@pytest.fixture
def fuse_env(tmp_path: Path) -> Iterator[FuseEnv]:
    """A server of the test's own (it may stop or restart it); mounts taken down after."""
    env = FuseEnv(tmp_path)
    try:
        env.start_server()
        yield env
    finally:
        env.close()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuseServer]:
    """One server per test module, with base "main" = SMALL_TREE (never stopped by tests)."""
    server = FuseServer()
    try:
        with Client.connect(server.address) as client:
            tree = write_files(tmp_path_factory.mktemp("small-tree"), SMALL_TREE)
            import_directory(client, "main", str(tree), message="small tree")
        yield server
    finally:
        server.close()


@pytest.fixture
def shared_env(tmp_path: Path, shared_server: FuseServer) -> Iterator[FuseEnv]:
    """Mounts and clients on the module's server, all taken down after the test."""
    env = FuseEnv(tmp_path, shared_server)
    try:
        yield env
    finally:
        env.close()


class Mounted:
    """The common setup: a new workspace over SMALL_TREE, mounted at `.root`."""

    def __init__(self, env: FuseEnv, mount: Mount, client: Client) -> None:
        self.env = env
        self.mount = mount
        self.root = mount.path
        self.client = client
        self.workspace = mount.opts.workspace

    def server_file(self, path: str) -> bytes:
        """A file's content as the server has it, read through the API (not the mount),
        once the server has what the mount journaled."""
        self.mount.sync()
        return self.client.read_file(self.client.lookup(self.workspace, path))

    def server_entry(self, path: str) -> Entry:
        """A path's entry as the server has it, once it has what the mount journaled."""
        self.mount.sync()
        return self.client.lookup(self.workspace, path)

    def version(self) -> int:
        self.mount.sync()
        return int(self.client.describe_workspace(self.workspace).version)


@pytest.fixture
def mounted(shared_env: FuseEnv) -> Mounted:
    """A fresh workspace on the module's server, mounted with a fresh cache directory."""
    workspace = shared_env.new_workspace()
    mount = shared_env.mount(workspace)
    return Mounted(shared_env, mount, shared_env.client())
