"""Where the time of a directory walk goes: FUSE requests and daemon time per operation.

    python bench/fuse_profile.py [--walk git_status_s] [--runs N] [--json OUT]
        [--attr-timeout S]

Builds the walk tree of bench/walk_tree.py, serves it from a citcfs mount (default
options, or `--attr-timeout`) and from the Python passthrough floor with the same
timeouts, and for each runs the walk twice to warm the caches, then `--runs` more
times, measured. Two figures per FUSE operation and place, per walk:

- `requests`: what the kernel sent, counted from libfuse's debug output (`-d`) in
  a second mount of each place, as the calls libfuse answers itself (opendir,
  releasedir, readdir served from its buffer, forget) run no Python code;
- `calls` and `us_per_call`: the Python callbacks mfusepy made and the time spent in
  each (decoding the arguments, our code, encoding the answer), from a mount without
  debug output.

With `--passthrough-ll BINARY`, libfuse's C low-level example (example/passthrough_ll.c
of the installed libfuse's release, built against it) is walked too, as a third place.

Prints a Markdown table (stderr carries progress) and, with --json, writes the numbers.

    python bench/fuse_profile.py serve CONTROL -- citcfs|floor ARGS...

is how the mounts run: the daemon of that place, with every mfusepy callback timed;
a thread reads lines from the FIFO CONTROL: `reset`, or `dump PATH` (JSON counters).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

os.environ.setdefault("FUSE_LIBRARY_NAME", "fuse3")


# --- the daemon side -------------------------------------------------------------------

def _serve(control: str, place: str, args: list[str]) -> int:
    import mfusepy

    counts: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0.0])
    lock = threading.Lock()
    original = mfusepy.FUSE._wrapper

    def timed(self: Any, func: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(self, func, *args, **kwargs)
        finally:
            elapsed = time.perf_counter() - start
            name = getattr(func, "__name__", str(func))
            with lock:
                slot = counts[name]
                slot[0] += 1
                slot[1] += elapsed

    mfusepy.FUSE._wrapper = timed

    def listen() -> None:
        while True:
            with open(control) as fifo:
                for line in fifo:
                    words = line.split()
                    with lock:
                        if words == ["reset"]:
                            counts.clear()
                        elif words and words[0] == "dump":
                            snapshot = {name: {"calls": int(c), "seconds": s}
                                        for name, (c, s) in counts.items()}
                            with open(words[1] + ".tmp", "w") as handle:
                                json.dump(snapshot, handle)
                            os.rename(words[1] + ".tmp", words[1])

    threading.Thread(target=listen, daemon=True).start()
    if place == "citcfs":
        from citcfs.client.mount import main
        return main(args)
    import passthrough
    return passthrough.main(args)


# --- the measuring side ----------------------------------------------------------------

OPCODE = re.compile(r"opcode: (\w+)")


@contextlib.contextmanager
def _daemon(work: str, place: str, mountpoint: str, args: list[str],
            debug: bool) -> Iterator[tuple[str, str]]:
    """A daemon of `place` on `mountpoint`; yields (control FIFO, log file)."""
    os.makedirs(mountpoint, exist_ok=True)
    tag = f"{place}-{'debug' if debug else 'timed'}"
    control = os.path.join(work, f"{tag}.ctl")
    if not os.path.exists(control):
        os.mkfifo(control)
    log_name = os.path.join(work, f"{tag}.log")
    if place == "passthrough_ll":  # libfuse's C example: no Python, nothing to time
        command = [*args, "-d"] if debug else [*args, "-f"]
    else:
        command = [sys.executable, os.path.abspath(__file__), "serve", control, "--", place,
                   *args, *(["--debug"] if debug else [])]
    with open(log_name, "wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=log_file,
                                   stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not os.path.ismount(mountpoint):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the {place} mount did not start; see {log_name}")
            time.sleep(0.05)
        os.listdir(mountpoint)
        yield control, log_name
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mountpoint], capture_output=True, check=False)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tell(control: str, line: str) -> None:
    with open(control, "w") as fifo:
        fifo.write(line + "\n")


def _dump(control: str, work: str) -> dict[str, dict[str, float]]:
    path = os.path.join(work, f"dump-{time.monotonic_ns()}.json")
    _tell(control, f"dump {path}")
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("the daemon did not dump its counters")
        time.sleep(0.01)
    with open(path) as handle:
        return json.load(handle)  # type: ignore[no-any-return]


def profile_place(work: str, place: str, mountpoint: str, args: list[str], command: str,
                  runs: int) -> dict[str, Any]:
    """Requests, callbacks and time per operation of `runs` walks (after two warm ones)."""
    from walks_bench import walk_once

    with _daemon(work, place, mountpoint, args, debug=False) as (control, _):
        for _ in range(2):
            walk_once(mountpoint, command)
        if place != "passthrough_ll":
            _tell(control, "reset")
        seconds = [walk_once(mountpoint, command) for _ in range(runs)]
        calls = _dump(control, work) if place != "passthrough_ll" else {}
    with _daemon(work, place, mountpoint, args, debug=True) as (control, log_name):
        for _ in range(2):
            walk_once(mountpoint, command)
        start = os.path.getsize(log_name)
        for _ in range(runs):
            walk_once(mountpoint, command)
        time.sleep(0.2)
        with open(log_name, "rb") as handle:
            handle.seek(start)
            text = handle.read().decode(errors="replace")
    requests = collections.Counter(OPCODE.findall(text))
    return {"walk_s": sorted(seconds)[len(seconds) // 2],
            "requests": {op: n / runs for op, n in requests.items()},
            "calls": {op: {"calls": v["calls"] / runs,
                           "us_per_call": v["seconds"] / v["calls"] * 1e6 if v["calls"] else 0}
                      for op, v in calls.items()}}


def _callback(name: str) -> str:
    """mfusepy's wrapper name of a callback, without its libfuse-version suffix."""
    return re.sub(r"_fuse_[23]$", "", name)


def table(profiles: dict[str, dict[str, Any]]) -> str:
    """Two Markdown tables: the kernel's requests per operation, and the Python
    callbacks (libfuse's high-level API answers LOOKUP and GETATTR both with getattr)."""
    places = list(profiles)
    ops = sorted({op for p in profiles.values() for op in p["requests"]})
    lines = ["| request | " + " | ".join(places) + " |", "|" + " --- |" * (1 + len(places))]
    for op in ops:
        lines.append(f"| {op} | " + " | ".join(
            f"{profiles[p]['requests'].get(op, 0):.0f}" for p in places) + " |")
    lines += ["", "| Python callback | " + " | ".join(
        f"{p} calls | {p} µs/call" for p in places) + " |",
        "|" + " --- |" * (1 + 2 * len(places))]
    names = sorted({_callback(op) for p in profiles.values() for op in p["calls"]})
    for name in names:
        cells = []
        for p in places:
            found = [v for op, v in profiles[p]["calls"].items() if _callback(op) == name]
            call = found[0] if found else {"calls": 0, "us_per_call": 0}
            cells.append(f"{call['calls']:.0f} | {call['us_per_call']:.0f}"
                         if call["calls"] else "0 | -")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **walk, s** | " + " | ".join(
        f"{profiles[p]['walk_s']:.3f} | " for p in places) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "serve":
        split = argv.index("--")
        return _serve(argv[1], argv[split + 1], argv[split + 2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walk", default="git_status_s",
                        help="which walk of bench/walks_bench.py")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--attr-timeout", type=float,
                        help="kernel timeouts of both mounts (default: citcfs's default)")
    parser.add_argument("--passthrough-ll", metavar="BINARY",
                        help="also libfuse's example/passthrough_ll.c, built, run with "
                             "-o cache=always (listings cached, no keep_cache)")
    parser.add_argument("--json", metavar="OUT")
    args = parser.parse_args(argv)

    from citcfs.client.importer import import_directory
    from citcfs.client.mount import MountOptions
    from citcfs.client.rpc import Client
    from client_bench import citc_server
    from common import scratch_dir
    from walk_tree import make_repository
    from walks_bench import WALKS

    timeout = args.attr_timeout or MountOptions("", "", "").attr_timeout
    command = WALKS[args.walk]
    with scratch_dir("citcfs-fuse-profile-") as work, citc_server(work) as address:
        source = os.path.join(work, "source")
        make_repository(source)
        client = Client.connect(address)
        try:
            import_directory(client, "walk", source)
            client.create_workspace("walk", "walk")
        finally:
            client.close()
        os.rename(source, os.path.join(work, "backing"))
        mnt = os.path.join(work, "mnt")
        citc_args = ["--server", address, "--workspace", "walk", "--mountpoint", mnt,
                     "--cache-dir", os.path.join(work, "cache"), "--attr-timeout", str(timeout)]
        floor_args = [os.path.join(work, "backing"), mnt, "--attr-timeout", str(timeout)]
        profiles = {"citcfs": profile_place(work, "citcfs", mnt, citc_args, command, args.runs),
                    "floor": profile_place(work, "floor", mnt, floor_args, command, args.runs)}
        if args.passthrough_ll:
            ll_args = [os.path.abspath(args.passthrough_ll), mnt, "-o",
                       f"source={os.path.join(work, 'backing')}", "-o", "cache=always",
                       "-o", f"timeout={timeout}"]
            profiles["passthrough_ll"] = profile_place(work, "passthrough_ll", mnt, ll_args,
                                                       command, args.runs)
    text = table(profiles)
    print(f"{args.walk}, attr/entry timeout {timeout:g} s, per walk:\n\n{text}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"walk": args.walk, "attr_timeout": timeout, "profiles": profiles},
                      handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
