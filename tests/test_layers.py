"""The import map: `cmd -> client, server -> storage -> citcfs`, with `wire` (messages
and the error contract) and `protos` below the edges, and nothing back up.

Reads every module's imports (those that run: not under `if TYPE_CHECKING:`) with
`ast` and checks each against what its layer may import."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ALLOWED: dict[str, frozenset[str]] = {
    "citcfs": frozenset({"citcfs"}),
    "citcfs.protos": frozenset({"citcfs.protos"}),
    "citcfs.wire": frozenset({"citcfs", "citcfs.protos", "citcfs.wire"}),
    "citcfs.storage": frozenset({"citcfs", "citcfs.storage"}),
    "citcfs.server": frozenset({"citcfs", "citcfs.protos", "citcfs.wire", "citcfs.storage",
                                "citcfs.server"}),
    "citcfs.client": frozenset({"citcfs", "citcfs.protos", "citcfs.wire", "citcfs.client"}),
    "citcfs.cmd": frozenset({"citcfs", "citcfs.wire", "citcfs.client", "citcfs.server",
                             "citcfs.cmd"}),
}
"""Each layer (an installed package) and the layers its modules may import."""
TRANSPORT_FREE = frozenset({"citcfs", "citcfs.storage"})
"""Layers that do not speak our API: they import neither grpc nor its messages."""
ETCD_CLIENT = ("etcd_backend.py", "etcd_cache.py", "etcd_client.py")
"""Storage modules that reach etcd, whose own API is gRPC (stubs in protos/etcd)."""


def layer_of(module: str) -> str | None:
    if module != "citcfs" and not module.startswith("citcfs."):
        return None
    found = [layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")]
    return max(found, key=len)


def runtime_imports(tree: ast.Module, package: str) -> list[str]:
    """Modules (or module.name) imported by `tree`, a module of `package`."""
    found: list[str] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.extend(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                found.extend(f"{base}.{alias.name}" for alias in node.names)
            for field in ("body", "orelse", "handlers", "finalbody"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)
                elif isinstance(inner, list):
                    for handler in inner:
                        if isinstance(handler, ast.excepthandler):
                            visit(handler.body)
    visit(tree.body)
    return found


def modules() -> list[tuple[str, Path]]:
    """(package, file) of every installed module, from the pyproject's package-dir."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    mapping = config["tool"]["setuptools"]["package-dir"]
    return [(package, path) for package, folder in mapping.items()
            for path in sorted((ROOT / folder).glob("*.py"))]


def test_every_layer_imports_only_what_is_below_it() -> None:
    wrong = []
    checked = 0
    for package, path in modules():
        tree = ast.parse(path.read_text(), str(path))
        for imported in runtime_imports(tree, package):
            checked += 1
            target = layer_of(imported)
            top = imported.split(".")[0]
            etcd = path.name in ETCD_CLIENT and (
                top == "grpc" or imported.startswith("citcfs.protos.etcd_"))
            if target is not None and target not in ALLOWED[package] and not etcd:
                wrong.append(f"{path.relative_to(ROOT)} ({package}) imports {imported}")
            if package in TRANSPORT_FREE and (top == "grpc" or target == "citcfs.protos") \
                    and not etcd:
                wrong.append(f"{path.relative_to(ROOT)} ({package}) speaks gRPC: {imported}")
    assert checked > 100
    assert not wrong, "\n".join(wrong)


def test_the_checker_sees_relative_and_guarded_imports() -> None:
    source = ("from typing import TYPE_CHECKING\nfrom . import wire\nfrom .x import y\n"
              "if TYPE_CHECKING:\n    import grpc\nelse:\n    import os\n"
              "def f():\n    from citcfs.server import app\n")
    found = runtime_imports(ast.parse(source), "citcfs.client")
    assert found == ["typing.TYPE_CHECKING", "citcfs.client.wire", "citcfs.client.x.y", "os",
                     "citcfs.server.app"]
    assert layer_of("citcfs.wire.status") == "citcfs.wire" and layer_of("grpc") is None


def test_the_cli_reads_plain_values_not_messages() -> None:
    """`citc` reads what `Client` returns as `citcfs.client.results` values: no module of
    the CLI imports the generated messages, not even for its type hints."""
    wrong = []
    cli = [path for package, path in modules() if package == "citcfs.cmd"]
    for path in cli:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            wrong += [f"{path.relative_to(ROOT)} imports {name}" for name in names
                      if layer_of(name) == "citcfs.protos"]
    assert len(cli) > 10
    assert not wrong, "\n".join(wrong)
