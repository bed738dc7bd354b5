"""A generated tree with the file/directory shape of a real source tree, as a git repository.

Directory walks (`git status`, `find`, `grep -r`) pay per directory, so a bench tree
of a few thousand files in a few directories hides their cost. Django 5.1.4's source
tree holds 6,809 files in 3,232 directories, up to 10 levels deep (its locales: one
`LC_MESSAGES` directory of two files for each language of each app). `make_walk_tree`
builds a tree of that shape from a seed, so every run and every machine walks the same
one: directories hang under a random earlier directory no deeper than MAX_DEPTH - 1,
every leaf gets at least one file, the other files go to random directories, and
sizes are log-uniform from 100 B to 16 KiB. Times are fixed (2024-01-01), so git's
index is not "racily clean" and each `git status` is a plain stat walk.

`make_repository` commits it with git and packs the repository, as a clone is.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass

MAX_DEPTH = 10
FIXED_TIME_NS = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
NEEDLE = "citcfs-walk-needle-that-never-matches"
"""What `grep -r` looks for; no generated file holds it."""

_WORDS = ("def", "return", "self", "import", "class", "value", "model", "field", "query",
          "request", "response", "template", "context", "translation", "None", "True")


@dataclass(frozen=True, slots=True)
class WalkTreeShape:
    files: int
    directories: int


DJANGO_SHAPE = WalkTreeShape(files=6_800, directories=3_200)


def _text(rng: random.Random, size: int) -> bytes:
    words = []
    total = 0
    while total < size:
        word = rng.choice(_WORDS)
        words.append(word)
        total += len(word) + 1
    lines = [" ".join(words[i:i + 10]) for i in range(0, len(words), 10)]
    return ("\n".join(lines) + "\n").encode()[:size]


def make_walk_tree(root: str, shape: WalkTreeShape = DJANGO_SHAPE, seed: int = 5) -> None:
    """Write a tree of `shape` under `root` (which must not exist)."""
    rng = random.Random(seed)
    dirs: list[tuple[str, int]] = [("", 0)]  # (relative path, depth)
    children: dict[str, int] = {"": 0}
    while len(dirs) < shape.directories:
        # Half the time under a shallow directory, so the top is bushy and the
        # bottom deep, as in a source tree.
        pool_depth = 4 if rng.random() < 0.5 else MAX_DEPTH - 1
        while True:
            parent, depth = dirs[rng.randrange(len(dirs))]
            if depth <= pool_depth:
                break
        name = f"{rng.choice(_WORDS).lower()}_{children[parent]}"
        children[parent] += 1
        path = f"{parent}/{name}" if parent else name
        dirs.append((path, depth + 1))
        children[path] = 0
    homes = [path for path, _ in dirs if children[path] == 0]
    while len(homes) < shape.files:
        homes.append(dirs[rng.randrange(len(dirs))][0])
    os.makedirs(root)
    for path, _ in dirs[1:]:
        os.makedirs(os.path.join(root, path))
    counts: dict[str, int] = {}
    for home in homes:
        index = counts.get(home, 0)
        counts[home] = index + 1
        size = int(100 * (16384 / 100) ** rng.random())
        name = os.path.join(root, home, f"module_{index}.py")
        with open(name, "wb") as handle:
            handle.write(_text(rng, size))
    for directory, _, names in os.walk(root):
        for name in names:
            os.utime(os.path.join(directory, name), ns=(FIXED_TIME_NS, FIXED_TIME_NS))


def git_env(home: str, untracked_cache_off: bool = True) -> dict[str, str]:
    """No user or system configuration, a fixed identity, no gc, no fsmonitor; the
    untracked cache off (a walk measures the filesystem), or left to git's default."""
    config = {"gc.auto": "0", "maintenance.auto": "false", "core.fsmonitor": "false",
              "init.defaultBranch": "main"}
    if untracked_cache_off:
        config["core.untrackedCache"] = "false"
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, HOME=home,
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid",
               GIT_CONFIG_COUNT=str(len(config)))
    for i, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def make_repository(root: str, shape: WalkTreeShape = DJANGO_SHAPE) -> None:
    """A walk tree at `root`, committed by git and packed (few files under .git)."""
    make_walk_tree(root, shape)
    subprocess.run(["sh", "-c", "git init -q && git add -A && git commit -q -m tree && "
                    "git gc -q --prune=now"], cwd=root, env=git_env(root), check=True,
                   capture_output=True)


def tree_stats(root: str) -> dict[str, int]:
    """Files, directories and the deepest level under `root` (.git left out)."""
    files = directories = deepest = 0
    for directory, subdirs, names in os.walk(root):
        if directory == root and ".git" in subdirs:
            subdirs.remove(".git")
        rel = os.path.relpath(directory, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        deepest = max(deepest, depth)
        directories += len(subdirs)
        files += len(names)
    return {"files": files, "directories": directories, "max_depth": deepest}
