"""The server suite: citc.v1 over a Unix socket, against a real `citc server` process.

The server runs as its own process (as in production: its threads do not share a GIL
with the clients) with its data directory on /dev/shm, durable settings unchanged
(fsync on /dev/shm is cheap, so this measures the server, not a disk). Clients that
must run in parallel are separate processes (multiprocessing, spawn).

    commit     one client, one small inline file per commit       -> commit_rpc_p50/p99_ms
               (the same over one CommitStream                     -> commit_stream_p50/p99_ms)
    commit16   16 client processes, each its own workspace          -> commits_per_s_16_clients
               (each client over one CommitStream           -> commits_per_s_16_clients_stream)
    echo16     the same 16 clients calling a no-op bytes->bytes method
               of a server built like `citc server` (same process model,
               thread pool, options, Unix socket), in rounds that
               alternate with commit16's: what gRPC alone allows    -> commits_per_s_echo_ceiling
                                                     (and commits_per_s_16_clients_vs_ceiling;
               alone: `python bench/run.py commit_ceiling`)
    batched16  16 client processes, each a writer sending batches of 64
               small-file writes over pipelined commits (up to 8 batches
               in flight), as a mount's journal flusher does        -> ops_per_s_batched_16_clients
    read       ReadObjects streaming 1 MiB chunks (verified by the
               client against their ids)                          -> read_mb_per_s
    watch      100 Watch streams in 4 processes; one commit at a
               time; time from sending the commit to each stream's
               event (one monotonic clock)                         -> watch_latency_p50/p99_ms
    web_diff   the web view's diff page, 10 changed files in a
               100k-file base (bench/web_bench.py; alone:
               `python bench/run.py web`)                          -> web_diff_ms_p50
    metrics    the commit step against two more servers, one with
               metrics and one started with --no-metrics, in
               alternating rounds      -> commit_rpc_p50_ms_metrics_on/_off, ..._on_vs_off
               (alone: python bench/run.py metrics_cost)

Watch streams pace themselves (`Limits.watch_min_interval_s`, 25 ms) so that bursts
coalesce; the watch step spaces its commits 40 ms apart so that it measures the
latency of a notification, not the pacing of a burst.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Callable, Iterator
from typing import Any

from common import log, median_of, result, scratch_dir
from web_bench import bench_web_diff

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from server_support import ServerProcess  # noqa: E402 - `citc server` as a process, as tests run it

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry
from citcfs.objects import CHUNK_SIZE, ObjectKind, object_id

SIZES = {  # name -> (full, quick, smoke)
    "commits": (3000, 1000, 50),
    "commit16_seconds": (5.0, 3.0, 0.5),
    "batched16_seconds": (5.0, 3.0, 0.5),
    "read_chunks": (256, 128, 4),
    "watchers": (100, 100, 8),
    "watch_rounds": (200, 100, 5),
    "metrics_commits": (3000, 1000, 40),
}
METRICS_ROUNDS = 8
"""The metrics step alternates servers this many times (each gets commits / 8 a round),
so that a change in the machine's load hits both alike."""


def _size(name: str, quick: bool, smoke: bool) -> Any:
    full, fast, tiny = SIZES[name]
    return tiny if smoke else fast if quick else full


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


SERVER_ONLY = (sys.executable, "-m", "citcfs.cmd.server_cmd")
"""`citc server` without importing the rest of the CLI."""

ECHO_METHOD = "/citcbench.Echo/Call"


def serve_echo(socket: str) -> None:
    """A no-op gRPC service served as `citc server` serves citc.v1 (the same pool
    size, options, listener and malloc tuning); runs until SIGTERM."""
    import threading
    from concurrent import futures

    import grpc

    from citcfs.memory import keep_large_buffers
    from citcfs.server.app import CitcServer, ServerConfig
    from citcfs.server.limits import Limits

    keep_large_buffers()
    limits = Limits()
    config = ServerConfig(data_dir="", listen=f"unix:{socket}")
    executor = futures.ThreadPoolExecutor(max_workers=limits.thread_pool_size,
                                          thread_name_prefix="citc-rpc")
    server = grpc.server(executor, options=CitcServer._options(config))
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: b"")
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("citcbench.Echo", {"Call": handler}),))
    server.add_insecure_port(f"unix:{socket}")
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"echo listening on unix:{socket}", flush=True)
    stop.wait()
    server.stop(1).wait()


class EchoServer:
    """`serve_echo` in its own process, like the real server; stopped by pid."""

    def __init__(self, scratch: str) -> None:
        self.socket = os.path.join(scratch, "echo.sock")
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "echo", self.socket],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().decode()
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"echo server did not start: {line!r}")
        self.address = f"unix:{self.socket}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _echo_commit(client: Client) -> Any:
    """A callable shaped like `Client.commit` that calls the echo method instead: the
    same request built and serialized, the same metadata and timeout."""
    from citcfs.client.commit_streams import commit_request
    from citcfs.protos import citc_pb2 as pb

    call = client.channel.unary_unary(ECHO_METHOD,
                                      request_serializer=pb.CommitRequest.SerializeToString,
                                      response_deserializer=pb.CommitResponse.FromString)

    def commit(workspace: str, ops: Any, expected_version: int | None = None,
               timeout: float | None = 60) -> Any:
        return call(commit_request(workspace, ops, expected_version), **client._kw(timeout))
    return commit


# --- steps -----------------------------------------------------------------------------


def _commit_samples(commit: Any, commits: int) -> list[float]:
    """Milliseconds of each of `commits` one-entry commits made with `commit`."""
    for n in range(50):  # warm up the channel and the server's threads
        commit("latency", [wire.write_file_op(f"warm{n}", Entry.file(b"w"))])
    samples = []
    for n in range(commits):
        op = wire.write_file_op(f"f{n % 500}", Entry.file(b"x%d" % n))
        start = time.perf_counter()
        commit("latency", [op])
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bench_commit_latency(address: str, commits: int) -> dict[str, dict[str, Any]]:
    with Client.connect(address) as client:
        client.create_workspace("latency", "main")
        unary = _commit_samples(client.commit, commits)
        stream = client.commit_stream()
        try:
            streamed = _commit_samples(stream.commit, commits)
        finally:
            stream.close()
    return {
        "commit_rpc_p50_ms": result(statistics.median(unary), "ms", target=1.5, better="lower",
                                    samples=len(unary)),
        "commit_rpc_p99_ms": result(_percentile(unary, 0.99), "ms", better="lower",
                                    samples=len(unary)),
        "commit_stream_p50_ms": result(statistics.median(streamed), "ms", better="lower",
                                       samples=len(streamed), note="CommitStream, as mounts commit"),
        "commit_stream_p99_ms": result(_percentile(streamed, 0.99), "ms", better="lower",
                                       samples=len(streamed)),
    }


def _committer(address: str, workspace: str, seconds: float, stream: bool, ready: Any, go: Any,
               out: "multiprocessing.Queue[int]", echo: bool = False) -> None:
    with Client.connect(address) as client:
        commit = (_echo_commit(client) if echo else
                  client.commit_stream().commit if stream else client.commit)
        commit(workspace, [wire.write_file_op("warm", Entry.file(b"w"))])
        ready.release()
        go.wait(120)
        count = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            commit(workspace, [wire.write_file_op(f"f{count % 500}", Entry.file(b"%d" % count))])
            count += 1
    out.put(count)


def bench_commit16(address: str, seconds: float, run: int, stream: bool = False,
                   echo: bool = False) -> float:
    """Commits per second of 16 client processes started together (each with a
    CommitStream when `stream`, else with unary Commit calls; with `echo`, calls of
    the echo server's no-op method instead, made the same way)."""
    ctx = multiprocessing.get_context("spawn")
    if not echo:
        with Client.connect(address) as client:
            for i in range(16):
                client.create_workspace(f"c16-{stream:d}-{run}-{i}", "main")
    total = _run_together(ctx, lambda i, ready, go, queue: ctx.Process(
        target=_committer, args=(address, f"c16-{stream:d}-{run}-{i}", seconds, stream, ready,
                                 go, queue, echo)), "committer")
    return total / seconds


def _run_together(ctx: Any, make: Callable[[int, Any, Any, Any], Any], what: str) -> int:
    """Start 16 processes made by `make(i, ready, go, queue)`, let them go at once
    when every one is ready (connected and warmed up), and sum what they report."""
    queue: multiprocessing.Queue[int] = ctx.Queue()
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    procs = [make(i, ready, go, queue) for i in range(16)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            if not ready.acquire(timeout=120):
                raise RuntimeError(f"a {what} process did not start")
        go.set()
        return sum(queue.get(timeout=120) for _ in procs)
    finally:
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()


BATCH_OPS = 64
BATCH_WINDOW = 8


def _batcher(address: str, workspace: str, seconds: float, ready: Any, go: Any,
             out: "multiprocessing.Queue[int]") -> None:
    """One writer: batches of BATCH_OPS small-file writes, up to BATCH_WINDOW in flight."""
    with Client.connect(address) as client:
        pipe = client.pipelined_commits()
        writer = os.urandom(16)
        seq = 0

        def send(n: int) -> Any:
            nonlocal seq
            ops = [wire.write_file_op(f"d/f{(n * BATCH_OPS + i) % 2048}", Entry.file(b"%d" % n))
                   for i in range(BATCH_OPS)]
            seq += BATCH_OPS
            return pipe.submit(workspace, ops, writer_id=writer, first_seq=seq - BATCH_OPS + 1,
                               last_seq=seq)

        send(0).result(60)
        ready.release()
        go.wait(120)
        window: collections.deque[Any] = collections.deque()
        batches = 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if len(window) >= BATCH_WINDOW:
                window.popleft().result(60)
                batches += 1
            window.append(send(batches + len(window) + 1))
        pipe.close()  # batches still unanswered at the end are not counted
    out.put(batches * BATCH_OPS)


def bench_batched16(address: str, seconds: float, run: int) -> float:
    """File operations per second of 16 writer processes started together."""
    ctx = multiprocessing.get_context("spawn")
    with Client.connect(address) as client:
        for i in range(16):
            client.create_workspace(f"b16-{run}-{i}", "main")
            client.commit(f"b16-{run}-{i}", [wire.make_dir_op("d")])
    total = _run_together(ctx, lambda i, ready, go, queue: ctx.Process(
        target=_batcher, args=(address, f"b16-{run}-{i}", seconds, ready, go, queue)), "writer")
    return total / seconds


def bench_read(address: str, chunks: int) -> float:
    with Client.connect(address) as client:
        data = [os.urandom(CHUNK_SIZE) for _ in range(min(chunks, 32))]
        client.put_objects((ObjectKind.CHUNK, c) for c in data)
        ids = [object_id(ObjectKind.CHUNK, c) for c in data]
        wanted = [ids[i % len(ids)] for i in range(chunks)]
        list(client.read_objects(wanted[:4]))  # warm up
        start = time.perf_counter()
        got = sum(len(content) for _, _, content in client.read_objects(wanted))
        elapsed = time.perf_counter() - start
    assert got == chunks * CHUNK_SIZE
    return got / elapsed / 1e6


def _watchers(address: str, count: int, expected: int, ready: Any,
              out: "multiprocessing.Queue[list[tuple[int, float]]]") -> None:
    import threading
    client = Client.connect(address)
    received: list[tuple[int, float]] = []
    lock = threading.Lock()

    def consume(stream: Any) -> None:
        try:
            for event in stream:
                if event.heartbeat:
                    continue
                now = time.perf_counter()
                with lock:
                    received.append((event.version, now))
                if event.version >= expected:
                    return
        except Exception:  # noqa: BLE001 - cancelled at the end
            return

    streams = [client.watch({"watched": 0}) for _ in range(count)]
    threads = [threading.Thread(target=consume, args=(s,), daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    ready.set()
    for thread in threads:
        thread.join(300)
    out.put(received)
    client.close()


def bench_watch(address: str, watchers: int, rounds: int) -> dict[str, dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    procs_n = 4 if watchers >= 4 else 1
    with Client.connect(address) as client:
        client.create_workspace("watched", "main")
        queue: multiprocessing.Queue[list[tuple[int, float]]] = ctx.Queue()
        readies = [ctx.Event() for _ in range(procs_n)]
        procs = [ctx.Process(target=_watchers, args=(address, watchers // procs_n, rounds,
                                                     readies[i], queue))
                 for i in range(procs_n)]
        for proc in procs:
            proc.start()
        try:
            for ready in readies:
                ready.wait(60)
            time.sleep(1.0)  # let every stream register
            sent: dict[int, float] = {}
            for n in range(rounds):
                start = time.perf_counter()
                version = client.commit("watched", [wire.write_file_op("f", Entry.file(b"%d" % n))]).version
                sent[version] = start
                time.sleep(0.04)
            received = [item for _ in procs for item in queue.get(timeout=120)]
        finally:
            for proc in procs:
                proc.join(30)
                if proc.is_alive():
                    proc.kill()
    latencies = [(at - sent[version]) * 1000 for version, at in received if version in sent]
    return {
        "watch_latency_p50_ms": result(statistics.median(latencies), "ms", better="lower",
                                       samples=len(latencies), watchers=watchers),
        "watch_latency_p99_ms": result(_percentile(latencies, 0.99), "ms", target=50,
                                       better="lower", samples=len(latencies), watchers=watchers),
    }


def bench_commit16_vs_echo(address: str, scratch: str, seconds: float,
                           runs: int) -> dict[str, dict[str, Any]]:
    """commits_per_s_16_clients and the echo ceiling, measured in alternating rounds
    (16 committers against `address`, then the same 16 clients against the echo
    server), so that a change in the machine's load hits both alike; the ratio is
    of the two medians."""
    echo = EchoServer(scratch)
    ours: list[float] = []
    ceiling: list[float] = []
    try:
        for i in range(max(1, runs)):
            ours.append(bench_commit16(address, seconds, i))
            ceiling.append(bench_commit16(echo.address, seconds, i, echo=True))
            log(f"commit16 round {i}: {ours[-1]:.0f} commits/s, echo {ceiling[-1]:.0f} calls/s")
    finally:
        echo.stop()
    rate, echo_rate = statistics.median(ours), statistics.median(ceiling)
    log(f"commit16: {rate:.0f} commits/s; echo ceiling: {echo_rate:.0f} calls/s")
    return {
        "commits_per_s_16_clients": result(rate, "commits/s", target=3000,
                                           runs=[round(v) for v in ours]),
        "commits_per_s_echo_ceiling": result(
            echo_rate, "calls/s", runs=[round(v) for v in ceiling],
            note="a no-op bytes->bytes method served like citc server, called like Commit"),
        "commits_per_s_16_clients_vs_ceiling": result(
            rate / echo_rate if echo_rate else 0.0, "x", target=0.7,
            runs=[round(a / b, 3) if b else 0.0 for a, b in zip(ours, ceiling)],
            note="median of Commit over median of echo; runs: each round's ratio"),
    }


@contextlib.contextmanager
def _server(scratch: str) -> Iterator[ServerProcess]:
    """A `citc server` process on a Unix socket in `scratch`, with a one-file base
    "main"; stopped by pid afterwards."""
    server = ServerProcess(Path(scratch) / "data", f"unix:{os.path.join(scratch, 's.sock')}",
                           "--log-level", "warning", command=SERVER_ONLY)
    try:
        with Client.connect(server.address) as client:
            client.import_base("main", entries=[("README", Entry.file(b"hello"))])
        yield server
    finally:
        server.stop()


def run_commit_ceiling(quick: bool, runs: int, smoke: bool) -> dict[str, dict[str, Any]]:
    """The commit16 and echo16 steps alone (`python bench/run.py commit_ceiling`)."""
    with scratch_dir("citcfs-bench-ceiling-") as scratch, _server(scratch) as server:
        return bench_commit16_vs_echo(server.address, scratch,
                                      _size("commit16_seconds", quick, smoke), runs)


def bench_metrics_cost(scratch: str, commits: int) -> dict[str, dict[str, Any]]:
    """commit_rpc_p50_ms with metrics on and off: two `citc server` processes, the same
    commits sent to each in alternating rounds by one client process."""
    servers = {}
    try:
        for mode, extra in (("on", ()), ("off", ("--no-metrics",))):
            servers[mode] = ServerProcess(
                Path(scratch) / f"metrics-{mode}", f"unix:{os.path.join(scratch, mode + '.sock')}",
                "--log-level", "warning", *extra, command=SERVER_ONLY)
        samples: dict[str, list[float]] = {"on": [], "off": []}
        clients = {mode: Client.connect(server.address) for mode, server in servers.items()}
        try:
            for client in clients.values():
                client.import_base("main", entries=[("README", Entry.file(b"hello"))])
                client.create_workspace("latency", "main")
            per_round = max(1, commits // METRICS_ROUNDS)
            for round_ in range(METRICS_ROUNDS):
                order = ("on", "off") if round_ % 2 == 0 else ("off", "on")
                for mode in order:
                    samples[mode] += _commit_samples(clients[mode].commit, per_round)
        finally:
            for client in clients.values():
                client.close()
    finally:
        for server in servers.values():
            server.stop()
    on, off = statistics.median(samples["on"]), statistics.median(samples["off"])
    return {
        "commit_rpc_p50_ms_metrics_on": result(on, "ms", better="lower",
                                               samples=len(samples["on"])),
        "commit_rpc_p50_ms_metrics_off": result(off, "ms", better="lower",
                                                samples=len(samples["off"]),
                                                note="citc server --no-metrics"),
        "commit_rpc_p50_ms_metrics_on_vs_off": result(
            on / off, "x", target=1.05, better="lower",
            cost_pct=round((on / off - 1) * 100, 2), rounds=METRICS_ROUNDS,
            note="the cost of metrics on commit_rpc_p50_ms (target: at most 5 %)"),
    }


def run_metrics_cost(quick: bool, smoke: bool) -> dict[str, dict[str, Any]]:
    """The metrics step alone (`python bench/run.py metrics_cost`)."""
    with scratch_dir("citcfs-bench-metrics-") as scratch:
        found = bench_metrics_cost(scratch, _size("metrics_commits", quick, smoke))
    log(f"metrics: commit p50 {found['commit_rpc_p50_ms_metrics_on']['value']} ms on, "
        f"{found['commit_rpc_p50_ms_metrics_off']['value']} ms off "
        f"({found['commit_rpc_p50_ms_metrics_on_vs_off']['cost_pct']:+} %)")
    return found


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    log(f"server suite: {'smoke' if smoke else 'quick' if quick else 'full'} sizes")
    results: dict[str, dict[str, Any]] = {}
    with scratch_dir("citcfs-bench-server-") as scratch, _server(scratch) as server:
        results.update(bench_commit_latency(server.address, _size("commits", quick, smoke)))
        log(f"commit: {results['commit_rpc_p50_ms']['value']} ms p50")
        seconds = _size("commit16_seconds", quick, smoke)
        results.update(bench_commit16_vs_echo(server.address, scratch, seconds, runs))
        rate, values = median_of(runs, lambda i: bench_commit16(server.address, seconds, i,
                                                                stream=True))
        results["commits_per_s_16_clients_stream"] = result(
            rate, "commits/s", runs=[round(v) for v in values],
            note="each client commits over one CommitStream")
        log(f"commit16 over CommitStream: {rate:.0f} commits/s")
        batch_seconds = _size("batched16_seconds", quick, smoke)
        rate, values = median_of(runs, lambda i: bench_batched16(server.address,
                                                                 batch_seconds, i))
        results["ops_per_s_batched_16_clients"] = result(
            rate, "ops/s", target=20000, runs=[round(v) for v in values],
            ops_per_batch=BATCH_OPS, batches_in_flight=BATCH_WINDOW,
            note="16 writers, pipelined writer batches of small-file writes")
        log(f"batched16: {rate:.0f} ops/s")
        chunks = _size("read_chunks", quick, smoke)
        mbps, values = median_of(runs, lambda i: bench_read(server.address, chunks))
        results["read_mb_per_s"] = result(mbps, "MB/s", target=300,
                                          runs=[round(v) for v in values], chunk_bytes=CHUNK_SIZE)
        log(f"read: {mbps:.0f} MB/s")
        results.update(bench_watch(server.address, _size("watchers", quick, smoke),
                                   _size("watch_rounds", quick, smoke)))
        log(f"watch: {results['watch_latency_p99_ms']['value']} ms p99")
    results.update(bench_web_diff(quick, smoke))  # a server of its own, with --http
    results.update(run_metrics_cost(quick, smoke))
    return results


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "echo":
        serve_echo(sys.argv[2])
    else:
        sys.exit("usage: server_bench.py echo SOCKET (run the suites with bench/run.py)")
