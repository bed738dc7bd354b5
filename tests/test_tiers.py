"""The tiers (tests/tiers.py): each test gets its tier from its fixtures and markers,
and a test that starts what its tier forbids fails, even in a grandchild process.

Runs a small pytest session of its own over the files below, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

SESSION = {
    "pytest.ini": "[pytest]\naddopts = -p tiers -p no:cacheprovider\n"
                  "markers =\n    unit\n    server\n    mount\n    cluster\n    slow\n",
    "conftest.py": "from fuse_support import mounted, shared_env, shared_server  # noqa\n"
                   "from conftest_server import server  # noqa\n"
                   "def pytest_collection_finish(session):\n"
                   "    with open('tiers.txt', 'w') as out:\n"
                   "        for item in session.items:\n"
                   "            marks = {m.name for m in item.iter_markers()}\n"
                   "            print(item.name, *sorted(marks - {'parametrize'}), file=out)\n",
    "conftest_server.py": "import pytest\n"
                          "@pytest.fixture\n"
                          "def server():\n"
                          "    yield None  # the name alone makes a test `server`\n",
    "test_session.py": '''
import subprocess, sys
import pytest
from server_support import running_server

def test_pure():
    assert True

def test_uses_a_server(server):
    pass

def test_mounts(mounted):
    pass

@pytest.mark.slow
def test_slow_and_pure():
    pass

def test_starts_a_server_by_hand(tmp_path):
    with running_server(tmp_path / "data"):
        pass

def test_swallows_what_a_grandchild_did():
    grandchild = "import grpc; grpc.server(None)"  # as `citc` starting its own server
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
''',
}


def run_session(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    for name, text in SESSION.items():
        (tmp_path / name).write_text(text)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), str(tmp_path)]))
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rA", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.server  # its session starts servers, to be refused
def test_tiers_follow_fixtures_and_the_guard_fails_what_a_tier_forbids(tmp_path: Path) -> None:
    run_session(tmp_path, "--collect-only")
    tiers = {line.split()[0]: set(line.split()[1:])
             for line in (tmp_path / "tiers.txt").read_text().splitlines()}
    assert tiers == {"test_pure": {"unit"}, "test_uses_a_server": {"server"},
                     "test_mounts": {"mount"}, "test_slow_and_pure": {"slow"},
                     "test_starts_a_server_by_hand": {"unit"},
                     "test_swallows_what_a_grandchild_did": {"unit"}}

    run = run_session(tmp_path, "-m", "unit")
    assert run.returncode == 1, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("PASSED") and "test_pure" in line for line in lines)
    for name in ("test_starts_a_server_by_hand", "test_swallows_what_a_grandchild_did"):
        assert any(line.startswith(f"FAILED test_session.py::{name} - tier_guard.Tier")
                   for line in lines), run.stdout
    assert run.stdout.count("TierViolation: a test of the unit tier started a gRPC server") >= 2
