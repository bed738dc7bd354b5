"""Crash safety: a committing process killed with SIGKILL loses nothing it acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from citcfs.storage import Database, MakeDir

ACKS_PER_ROUND = 200

CHILD = textwrap.dedent('''
    import sys, threading
    from citcfs.entries import Entry
    from citcfs.storage import Database, WriteFile

    directory, round_no = sys.argv[1], sys.argv[2]
    db = Database.open(directory)  # sync=True: what a server runs with
    lock = threading.Lock()

    def loop(ws):
        i = 0
        while True:
            path = f"r{round_no}/{ws}-{i}"
            data = f"{ws} {round_no} {i}".encode() * (1 + i % 7)
            result = db.commit(ws, [WriteFile(path, Entry.file(data))])
            with lock:
                sys.stdout.write(f"{ws} {result.version} {path} {data.hex()}\\n")
                sys.stdout.flush()
            i += 1

    threads = [threading.Thread(target=loop, args=(ws,), daemon=True) for ws in ("w1", "w2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
''')


def run_and_kill(script: Path, directory: Path, round_no: int) -> list[tuple[str, int, str, bytes]]:
    """Start the committing child, read ACKS_PER_ROUND acknowledgements, SIGKILL it."""
    proc = subprocess.Popen([sys.executable, str(script), str(directory), str(round_no)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    acked = []
    try:
        assert proc.stdout is not None
        while len(acked) < ACKS_PER_ROUND:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"the child died early: {proc.stderr.read()}")  # type: ignore[union-attr]
            ws, version, path, data = line.split()
            acked.append((ws, int(version), path, bytes.fromhex(data)))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    return acked


def check(db: Database, acked: list[tuple[str, int, str, bytes]]) -> None:
    for ws, version, path, data in acked:
        assert db.read_file(db.lookup(ws, path, version)) == data
        assert db.read_file(db.lookup(ws, path)) == data
    for ws in ("w1", "w2"):
        head = db.workspace(ws).version
        mine = sorted(v for name, v, _, _ in acked if name == ws)
        assert len(mine) == len(set(mine))
        assert mine[-1] <= head
        assert [info.version for info in db.versions(ws)] == list(range(head + 1))


@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_commit(
        tmp_path: Path, make_tree: Callable[..., Path]) -> None:
    directory = tmp_path / "db"
    with Database.open(str(directory)) as db:
        db.import_directory("main", str(make_tree({"README": b"base"})))
        db.create_workspace("w1", "main")
        db.create_workspace("w2", "main")
        for ws in ("w1", "w2"):
            db.commit(ws, [MakeDir("r1"), MakeDir("r2")])
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    all_acked = []
    for round_no in (1, 2):  # the second round appends to a log that was cut short
        all_acked += run_and_kill(script, directory, round_no)
        with Database.open(str(directory)) as db:
            report = db.verify_log()
            assert report.first_lsn == 1 and report.records == report.last_lsn
            check(db, all_acked)
    with Database.open(str(directory)) as db:
        db.rebuild()
        check(db, all_acked)
        db.verify_log()
