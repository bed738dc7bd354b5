"""Run `mypy --strict` over the citcfs package as it installs.

mypy cannot follow the package-dir mapping in pyproject.toml (`citcfs.storage` is
the folder `storage/`, `citcfs.cmd` is `cmd/citc/`), and an editable install
reaches it through an import hook mypy does not run. So this builds the installed
layout as a tree of symlinks under `build/typecheck/` (from the mapping itself, so
it never goes stale), runs mypy on the package `citcfs` there, and prints paths as
they are in the repository.

    pip install -e '.[dev]'                      # mypy and the stubs, pinned
    python .ci/typecheck.py [MYPY ARGS...]       # exit status is mypy's; .ci/run runs it
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def package_dirs() -> dict[str, str]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return dict(tomllib.load(f)["tool"]["setuptools"]["package-dir"])


def link_tree(mapping: dict[str, str]) -> dict[str, str]:
    """Make TREE mirror the installed package; return {tree prefix: source prefix}."""
    top = TREE / "citcfs"
    top.mkdir(parents=True, exist_ok=True)
    for old in top.iterdir():
        if old.is_symlink():
            old.unlink()
    core = ROOT / mapping["citcfs"]
    for item in core.iterdir():
        if item.suffix in (".py", ".pyi") or item.name == "py.typed":
            (top / item.name).symlink_to(item)
    prefixes = {str(top.relative_to(ROOT)) + "/": mapping["citcfs"].rstrip("/") + "/"}
    for package, folder in mapping.items():
        if package == "citcfs":
            continue
        parts = package.split(".")
        assert parts[0] == "citcfs" and len(parts) == 2, package
        (top / parts[1]).symlink_to(ROOT / folder, target_is_directory=True)
        prefixes[f"{top.relative_to(ROOT)}/{parts[1]}/"] = folder.rstrip("/") + "/"
    return prefixes


def main() -> int:
    prefixes = link_tree(package_dirs())
    env = {**os.environ, "MYPYPATH": str(TREE)}
    proc = subprocess.run([sys.executable, "-m", "mypy", "--strict", *sys.argv[1:], "-p", "citcfs"],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    # Longest prefix first, so citcfs/storage/ wins over citcfs/.
    ordered = sorted(prefixes.items(), key=lambda item: -len(item[0]))
    for line in proc.stdout.splitlines():
        for tree_prefix, source_prefix in ordered:
            if line.startswith(tree_prefix):
                line = source_prefix + line[len(tree_prefix):]
                break
        print(line)
    sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
