"""Real tools in a mounted workspace: tar, git, python -m compileall, grep -r."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from fuse_support import Mounted, mounted, shared_env, shared_server  # noqa: F401
from tree_support import snapshot_tree

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "GIT_CONFIG_GLOBAL": "/dev/null"}


def make_source_tree(root: Path, packages: int = 12) -> Path:
    """A small Python/C project: `packages` x 25 modules, plus a few odd files."""
    tree = root / "project"
    for p in range(packages):
        package = tree / f"pkg{p}" / "sub"
        package.mkdir(parents=True)
        (tree / f"pkg{p}" / "__init__.py").write_text(f"NAME = 'pkg{p}'\n")
        (package / "__init__.py").write_text("")
        for m in range(25):
            body = "".join(f"def f{i}(x):\n    return x * {i} + {m}  # MARKER-{p}-{m}\n\n"
                           for i in range(8))
            (package / f"mod{m}.py").write_text(f'"""module {p}.{m}"""\n\n{body}')
        (tree / f"pkg{p}" / "native.c").write_text(f"int f{p}(void) {{ return {p}; }}\n" * 40)
    (tree / "README.md").write_text("# project\n" + "text line\n" * 500)
    (tree / "data.bin").write_bytes(os.urandom(300_000))
    os.symlink("README.md", tree / "README")
    (tree / "bin").mkdir()
    (tree / "bin/run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(tree / "bin/run.sh", 0o755)
    return tree


@pytest.fixture(params=[12])
def tarball(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, Path]:
    """(a .tar.gz of a generated source tree, that tree extracted natively)."""
    source = make_source_tree(tmp_path / "gen", request.param)
    archive = tmp_path / "project.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source, arcname="project")
    native = tmp_path / "native"
    native.mkdir()
    subprocess.run(["tar", "xzf", str(archive), "-C", str(native)], check=True)
    return archive, native / "project"


def run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, cwd=cwd, env=GIT_ENV, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed ({result.returncode}):\n{result.stderr}"
    return result.stdout


def test_tar_extract_grep_and_compileall(mounted: Mounted, tarball: tuple[Path, Path]) -> None:
    archive, native = tarball
    run("tar", "xzf", str(archive), cwd=mounted.root)
    extracted = mounted.root / "project"
    expected = snapshot_tree(native)
    assert len(expected) > 300
    assert snapshot_tree(extracted) == expected
    # what tar wrote and closed is on the server
    assert mounted.server_file("project/pkg3/sub/mod7.py") == (native / "pkg3/sub/mod7.py").read_bytes()
    assert mounted.server_file("project/data.bin") == (native / "data.bin").read_bytes()

    grep_mount = run("grep", "-r", "-c", "MARKER-7-", ".", cwd=extracted)
    grep_native = run("grep", "-r", "-c", "MARKER-7-", ".", cwd=native)
    assert sorted(grep_mount.splitlines()) == sorted(grep_native.splitlines())
    hits = run("grep", "-rl", "MARKER-11-24", ".", cwd=extracted).split()
    assert hits == ["./pkg11/sub/mod24.py"]

    run(sys.executable, "-m", "compileall", "-q", ".", cwd=extracted)
    pycs = list(extracted.rglob("*.pyc"))
    assert len(pycs) == 12 * 27
    result = subprocess.run([sys.executable, "-c", "import pkg5.sub.mod3 as m; print(m.f2(10))"],
                            cwd=extracted, capture_output=True, text=True,
                            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert result.stdout.strip() == str(10 * 2 + 3), result.stderr
    assert ".citc" not in os.listdir(mounted.root)


@pytest.mark.parametrize("tarball", [4], indirect=True)
def test_git_workflow(mounted: Mounted, tarball: tuple[Path, Path]) -> None:
    archive, native = tarball
    run("tar", "xzf", str(archive), cwd=mounted.root)
    repo = mounted.root / "project"
    run("git", "init", "-q", "-b", "main", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-q", "-m", "initial", cwd=repo)
    assert run("git", "status", "--porcelain", cwd=repo) == ""
    assert len(run("git", "ls-files", cwd=repo).split()) == len(
        [p for p, (kind, _, _) in snapshot_tree(native).items() if kind != "dir"])

    run("git", "checkout", "-q", "-b", "feature", cwd=repo)
    (repo / "pkg0/sub/mod0.py").write_text("changed = True\n")
    os.unlink(repo / "pkg1/native.c")
    (repo / "feature.txt").write_text("only on feature\n")
    status = run("git", "status", "--porcelain", cwd=repo)
    assert sorted(status.splitlines()) == [" D pkg1/native.c", " M pkg0/sub/mod0.py",
                                           "?? feature.txt"]
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-q", "-m", "feature work", cwd=repo)
    assert run("git", "status", "--porcelain", cwd=repo) == ""

    run("git", "checkout", "-q", "main", cwd=repo)
    assert (repo / "pkg0/sub/mod0.py").read_bytes() == (native / "pkg0/sub/mod0.py").read_bytes()
    assert (repo / "pkg1/native.c").exists()
    assert not (repo / "feature.txt").exists()
    assert run("git", "status", "--porcelain", cwd=repo) == ""
    digest = snapshot_tree(repo)
    digest = {p: v for p, v in digest.items() if not p.startswith(".git")}
    assert digest == snapshot_tree(native)
    # the branch switch went through to the server
    assert mounted.server_file("project/pkg0/sub/mod0.py") == (native / "pkg0/sub/mod0.py").read_bytes()

    run("git", "checkout", "-q", "feature", cwd=repo)
    assert (repo / "feature.txt").read_text() == "only on feature\n"
    assert run("git", "log", "--format=%s", cwd=repo).split("\n")[:2] == ["feature work", "initial"]
    run("git", "fsck", "--no-progress", cwd=repo)
