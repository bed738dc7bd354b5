"""Test tiers: each test is `unit`, `server` or `mount` (and maybe `cluster`, `slow`).

- `unit`: no server and no mount, and not slow; `pytest -m unit` is the quick loop.
- `server`: a real server (in process or a subprocess), no mount.
- `mount`: real FUSE mounts (and the server behind them).
- `cluster`: the distributed backends (by fixture or parameter, or marked).
- `slow`: long tests (marked explicitly); `-m "not slow"` leaves them out. A slow test
  with neither server nor mount is left out of `unit` (but guarded as one), so that
  the quick loop stays quick.

A test's tier comes from its markers and from the fixtures it uses, so that a new test
lands in the right tier by itself: a mount fixture makes it `mount`, a server fixture
`server`, and nothing of either `unit`. A test that starts a server or a mount by hand
says so with a marker (on the test, or as its module's `pytestmark`). The guard in
tier_guard/ fails a unit test that starts either and a server test that mounts, so a
missing marker shows.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest

GUARD_DIR = Path(__file__).resolve().parent / "tier_guard"
sys.path.insert(0, str(GUARD_DIR))
import tier_guard  # noqa: E402  (lives in GUARD_DIR, shared with sitecustomize.py)

MOUNT_FIXTURES = frozenset({"fuse_env", "shared_env"})
"""Fixtures that mount (tests/fuse_support.py) besides those named for it (below)."""
SERVER_MARKERS = frozenset({"server_config"})
"""Markers that configure the `server` fixture: their tests serve."""


CLUSTER_WORDS = ("etcd", "seaweed")
"""Words in the name of a fixture that starts a distributed backend (etcd, SeaweedFS)."""
CLUSTER_PARAMS = frozenset({"etcd", "s3"})
"""Parameter values (`kv_backend`, object store) that run a test on such a backend."""


def _fixture_tier(name: str) -> str | None:
    """A fixture's tier by its name: one named for a mount (`mount`, `mounted`) mounts,
    one named for a server (`server`, `shared_server`, `cli_server`) serves, and one
    named for etcd or SeaweedFS runs on the distributed backends."""
    if any(word in name for word in CLUSTER_WORDS):
        return "cluster"
    if name in MOUNT_FIXTURES or "mount" in name:
        return "mount"
    if "server" in name:
        return "server"
    return None


TIERS = ("unit", "server", "mount", "cluster")


def tier_of(item: pytest.Item) -> set[str]:
    """The tier markers `item` gets: explicit ones, raised by its fixtures."""
    explicit = {mark.name for mark in item.iter_markers() if mark.name in TIERS}
    derived = {_fixture_tier(name) for name in getattr(item, "fixturenames", ())}
    if any(item.get_closest_marker(name) for name in SERVER_MARKERS):
        derived.add("server")
    params = getattr(getattr(item, "callspec", None), "params", {})
    if any(isinstance(value, str) and value in CLUSTER_PARAMS for value in params.values()):
        derived.add("cluster")
    tiers = (explicit - {"unit"}) | (derived - {None})
    if "unit" in explicit and tiers:
        raise pytest.UsageError(f"{item.nodeid} is marked unit but is {', '.join(sorted(tiers))}")
    if "mount" in tiers:
        tiers.discard("server")
    if not tiers and item.get_closest_marker("slow") is None:
        tiers.add("unit")
    return tiers


def classify(items: list[pytest.Item]) -> None:
    for item in items:
        for name in sorted(tier_of(item)):
            if item.get_closest_marker(name) is None:
                item.add_marker(name)


class Guard:
    """The test session's side of tier_guard: its directory, the environment that puts
    the guard into every Python process of the session, and the check after a phase."""

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="citc-tiers-"))
        self.tier_file = self.directory / "tier"
        self.report = self.directory / "report"
        self.tier_file.write_text("")
        self.report.write_text("")
        os.environ[tier_guard.ENV] = str(self.directory)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(GUARD_DIR), os.environ.get("PYTHONPATH")) if p)
        tier_guard.install()
        tier_guard.lead()

    def phase(self, item: pytest.Item) -> Generator[None, object, object]:
        """Run one phase of a unit or server test (setup or call) with the guard on,
        here and in the session's processes; fail it when it started what its tier
        forbids."""
        if item.get_closest_marker("mount") or item.get_closest_marker("cluster"):
            return (yield)
        tier = "server" if item.get_closest_marker("server") else "unit"
        seen = self.report.stat().st_size
        self.tier_file.write_text(tier)
        tier_guard.activate(tier, str(self.report))
        try:
            result = yield
        except BaseException as exc:
            self._check(seen, exc)
            raise
        finally:
            tier_guard.deactivate()
            self.tier_file.write_text("")
        self._check(seen, None)
        return result

    def _check(self, seen: int, cause: BaseException | None) -> None:
        """Fail with what was reported since `seen`, which explains `cause` (what the
        test saw, if it failed)."""
        with open(self.report) as report:
            report.seek(seen)
            violations = report.read()
        if violations:
            raise tier_guard.TierViolation(violations.strip()) from cause

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


guard = Guard()


# --- the hooks (tests/conftest.py imports them; `-p tiers` loads them elsewhere) -------

def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    classify(items)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from guard.phase(item))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from guard.phase(item))


def pytest_unconfigure() -> None:
    guard.close()
