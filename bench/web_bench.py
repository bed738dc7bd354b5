"""The web view: how long a diff page takes to render, against a real `citc server`.

    web_diff   a `citc server --http` process with a generated base of 100k files
               (quick too; smoke: 2k), a workspace with 10 changed files (Python, 80
               lines each, of which 3 edited in the last version); GET
               /ws/NAME/diff?from=base&to=head over one keep-alive HTTP
               connection, timed at the client                 -> web_diff_ms_p50 (and p99)
               (the same page between the last two versions    -> web_diff_versions_ms_p50)
               (a page whose files were never shown before     -> web_diff_cold_ms_p50)

A page shown before finds its files' highlighted lines in the server's cache (keyed by
the content's hash, so never stale); the cold figure is what the first viewer waits.

The page is the whole answer: the diff walk over the overlay, reading 20 files,
highlighting 800 lines, difflib hunks, the template and HTTP. It runs alone as
`python bench/run.py web`, and `python bench/run.py server` includes it.
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from common import log, result, scratch_dir
from generated_base import import_generated_base

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from server_support import ServerProcess  # noqa: E402 - `citc server` as a process, as tests run it

from citcfs import wire
from citcfs.client.rpc import Client
from citcfs.entries import Entry

SIZES = {  # name -> (full, quick, smoke)
    "base_files": (100_000, 100_000, 2_000),
    "samples": (60, 30, 3),
    "cold_samples": (7, 5, 1),
}
CHANGED_FILES = 10
LINES = 80
SERVER_ONLY = (sys.executable, "-m", "citcfs.cmd.server_cmd")


def _size(name: str, quick: bool, smoke: bool) -> Any:
    full, fast, tiny = SIZES[name]
    return tiny if smoke else fast if quick else full


def _module(k: int, edited: bool, copy: int = 0) -> bytes:
    """An 80-line Python module; `edited` changes three of its lines; each `copy`
    differs from the others (so that none was highlighted before)."""
    lines = [f'"""Module {k} of the benchmark (copy {copy})."""', "", "import os", ""]
    for i in range((LINES - 4) // 4):
        value = i * 10 if edited and i in (3, 9, 15) else i
        lines += [f"def function_{i}(path: str) -> int:",
                  f'    """Return a number for {{path}} ({i})."""',
                  f"    return len(os.path.basename(path)) + {value}", ""]
    return ("\n".join(lines[:LINES]) + "\n").encode()


def _prepare(address: str, files: int, cold_copies: int) -> None:
    """Base "big"; workspace "review" with 10 files added in version 1 and edited in
    version 2; "cold-N" workspaces with 10 files of their own each."""
    with Client.connect(address) as client:
        import_generated_base(client, "big", files)
        paths = [f"d{k}/d{k}/d000/module_{k}.py" for k in range(CHANGED_FILES)]
        client.create_workspace("review", "big")
        for edited in (False, True):
            client.commit("review", [wire.write_file_op(path, Entry.file(_module(k, edited)))
                                     for k, path in enumerate(paths)])
        for copy in range(1, cold_copies + 1):
            client.create_workspace(f"cold-{copy}", "big")
            client.commit(f"cold-{copy}", [wire.write_file_op(
                path, Entry.file(_module(k, False, copy))) for k, path in enumerate(paths)])
        # Another workspace's page loads the lexer and compiles the templates first,
        # so the first review page measures its own content, not the process warming up.
        client.create_workspace("warm-up", "big")
        client.commit("warm-up", [wire.write_file_op("warm.py", Entry.file(_module(99, False)))])


def _timings(host: str, port: int, path: str, samples: int) -> list[float]:
    """The first request's time, then `samples` more after one warm-up."""
    connection = http.client.HTTPConnection(host, port, timeout=60)
    try:
        values = []
        for i in range(samples + 2 if samples else 1):
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - started) * 1000
            if response.status != 200 or b'<section class="file"' not in body:
                raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
            if i != 1:
                values.append(elapsed)
        return values
    finally:
        connection.close()


def bench_web_diff(quick: bool, smoke: bool) -> dict[str, dict[str, Any]]:
    files = _size("base_files", quick, smoke)
    samples = _size("samples", quick, smoke)
    with scratch_dir("citcfs-bench-web-") as scratch:
        server = ServerProcess(Path(scratch) / "data", f"unix:{os.path.join(scratch, 's.sock')}",
                               "--log-level", "warning", "--http", "127.0.0.1:0",
                               command=SERVER_ONLY)
        try:
            assert server.proc.stdout is not None
            url = server.proc.stdout.readline().decode().strip().rsplit(" ", 1)[-1]
            host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
            log(f"web: importing a generated base of {files} files")
            cold_samples = _size("cold_samples", quick, smoke)
            _prepare(server.address, files, cold_samples)
            _timings(host, int(port), "/ws/warm-up/diff?from=base&to=head", 0)
            cold = [_timings(host, int(port), f"/ws/cold-{copy}/diff?from=base&to=head", 0)[0]
                    for copy in range(1, cold_samples + 1)]
            _, *whole = _timings(host, int(port), "/ws/review/diff?from=base&to=head", samples)
            _, *last = _timings(host, int(port), "/ws/review/diff?from=1&to=2", samples)
        finally:
            server.stop()
    p50 = statistics.median(whole)
    log(f"web: diff page {p50:.1f} ms p50, {statistics.median(cold):.1f} ms the first time")
    ordered = sorted(whole)
    return {
        "web_diff_ms_p50": result(p50, "ms", target=50, better="lower",
                                  p99=round(ordered[min(len(ordered) - 1,
                                                        int(0.99 * (len(ordered) - 1)))], 2),
                                  samples=samples, base_files=files, changed_files=CHANGED_FILES,
                                  lines_per_file=LINES,
                                  note="GET /ws/NAME/diff?from=base&to=head, 10 added files; "
                                       "files highlighted before come from the cache"),
        "web_diff_cold_ms_p50": result(statistics.median(cold), "ms", better="lower",
                                       samples=cold_samples, runs=[round(v, 1) for v in cold],
                                       note="the same page, shown for the first time: "
                                            "every file highlighted by pygments (each "
                                            "sample a workspace of its own)"),
        "web_diff_versions_ms_p50": result(statistics.median(last), "ms", better="lower",
                                           samples=samples,
                                           note="the same page between the last two "
                                                "versions: 10 files, 3 lines edited in each"),
    }


def run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict[str, Any]]:
    log(f"web suite: {'smoke' if smoke else 'quick' if quick else 'full'} sizes")
    return bench_web_diff(quick, smoke)
