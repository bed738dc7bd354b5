"""The guard of the tiers: a unit test starts no server and no mount, a server test no mount.

While such a test runs, starting a gRPC server (`grpc.server`, `grpc.aio.server`),
mounting a FUSE filesystem (`mfusepy.FUSE`) or running a mount tool (`fusermount3`,
`mount`) where its tier forbids it raises `TierViolation`, in the test process and in
every Python process of the test session: those inherit `CITCFS_TIER_GUARD`, a
directory, and (through PYTHONPATH) this directory's `sitecustomize.py`, which installs
the guard. The test process writes the running test's tier to `<directory>/tier` (a
process started by an earlier test and reused by this one obeys this test's tier), and
every violation is appended to `<directory>/report`, so the test fails even when the
violation happened in a grandchild (a server that `citc` started by itself) or the
test swallowed the exception. Standard library only: it is imported before anything
else in those processes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

ENV = "CITCFS_TIER_GUARD"
"""The directory holding the running test's `tier` and the `report` of violations."""

MOUNT_TOOLS = frozenset({"fusermount", "fusermount3", "mount", "mount.fuse", "mount.fuse3",
                         "umount"})


class TierViolation(RuntimeError):
    """A test of the unit tier started a server or a mount."""


def forbidden(tier: str) -> frozenset[str]:
    """What a test of `tier` may not start."""
    return frozenset({"server", "mount"} if tier == "unit" else
                     {"mount"} if tier == "server" else ())


class _State:
    forbidden: frozenset[str] = frozenset()
    tier = ""
    report: str | None = None
    directory: str | None = None  # in a child: where to read the tier
    installed = False


def lead() -> None:
    """This process runs tests (a test session, perhaps inside another one's test):
    it sets the tier itself, with `activate`, rather than follow a directory."""
    _State.directory, _State.forbidden, _State.report = None, frozenset(), None


def activate(tier: str, report: str | None) -> None:
    """Guard this process for a test of `tier`, reporting to `report`."""
    _State.tier, _State.report, _State.forbidden = tier, report, forbidden(tier)


def deactivate() -> None:
    _State.forbidden, _State.report = frozenset(), None


def follow(directory: str) -> None:
    """Guard this process (a child) for whatever test runs, as `directory` says."""
    _State.directory = directory
    _State.report = os.path.join(directory, "report")
    _State.forbidden = frozenset({"server", "mount"})  # narrowed by `trip` to the tier


def trip(kind: str, what: str) -> None:
    """Record and raise a violation, if a test whose tier forbids `kind` is running."""
    if kind not in _State.forbidden:
        return
    if _State.directory is not None:
        try:
            with open(os.path.join(_State.directory, "tier")) as current:
                _State.tier = current.read().strip()
        except OSError:
            return  # the session is over
        if kind not in forbidden(_State.tier):
            return
    message = (f"a test of the {_State.tier} tier {what} (pid {os.getpid()}); mark it "
               f"`pytest.mark.{kind}`, or use the fixture that does")
    if _State.report:
        with open(_State.report, "a") as report:
            report.write(message + "\n")
    raise TierViolation(message)


def _program(argv: Sequence[Any] | Any) -> str:
    if isinstance(argv, (str, bytes, os.PathLike)):
        argv = [argv]
    if not argv:
        return ""
    first = os.fsdecode(argv[0]) if isinstance(argv[0], (str, bytes, os.PathLike)) else ""
    return os.path.basename(first.split()[0]) if first.strip() else ""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _State.forbidden:
        return
    if event in ("subprocess.Popen", "os.posix_spawn", "os.exec"):
        names = {_program(args[1]), _program(args[0])}
    elif event == "os.system":
        names = {_program(os.fsdecode(args[0]))}
    else:
        return
    for name in names & MOUNT_TOOLS:
        trip("mount", f"ran {name}")


def _wrap_grpc(module: ModuleType) -> None:
    def guarded(original: Callable[..., Any]) -> Callable[..., Any]:
        def server(*args: Any, **kwargs: Any) -> Any:
            trip("server", "started a gRPC server")
            return original(*args, **kwargs)
        return server
    if getattr(module, "server", None) is not None and not hasattr(module.server, "_guarded"):
        module.server = guarded(module.server)
        module.server._guarded = True


def _wrap_fuse(module: ModuleType) -> None:
    fuse = getattr(module, "FUSE", None)
    if fuse is None or hasattr(fuse.__init__, "_guarded"):
        return
    original = fuse.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        trip("mount", "mounted a FUSE filesystem")
        original(self, *args, **kwargs)
    __init__._guarded = True  # type: ignore[attr-defined]
    fuse.__init__ = __init__


_WRAPPERS: dict[str, Callable[[ModuleType], None]] = {
    "grpc": _wrap_grpc, "grpc.aio": _wrap_grpc, "mfusepy": _wrap_fuse}


class _WrapOnImport(importlib.abc.MetaPathFinder):
    """Wraps the entry points of `_WRAPPERS`' modules right after they are imported."""

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        wrap = _WRAPPERS.get(name)
        if wrap is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            wrap(module)
        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Install the audit hook and the import wrappers (inactive until `activate`)."""
    if _State.installed:
        return
    _State.installed = True
    sys.addaudithook(_audit)
    for name, wrap in _WRAPPERS.items():
        if name in sys.modules:
            wrap(sys.modules[name])
    sys.meta_path.insert(0, _WrapOnImport())
