"""Run a benchmark suite and print its results as JSON.

    python bench/run.py SUITE [--quick] [--json OUT] [--runs N]

SUITE names a module bench/<SUITE>_bench.py with
`run(quick: bool, runs: int = 3, smoke: bool = False) -> dict[str, dict]`.
The output is {"suite": SUITE, "machine": {...}, "options": {...}, "results": {NAME:
{"value": V, "unit": U, ...}}}, printed to stdout and, with --json, written to OUT.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from common import compile_bytecode, machine_info  # noqa: E402

SUITES = {
    "storage": "storage_bench",
    "server": "server_bench",
    # "client": "client_bench",
}

SMOKE_ENV = "CITCFS_BENCH_SMOKE"


def available_suites() -> list[str]:
    found = set(SUITES)
    for name in os.listdir(HERE):
        if name.endswith("_bench.py"):
            found.add(name[:-len("_bench.py")])
    return sorted(found)


def load_suite(name: str):  # type: ignore[no-untyped-def]
    module_name = SUITES.get(name, f"{name}_bench")
    if not os.path.exists(os.path.join(HERE, module_name + ".py")):
        raise SystemExit(f"unknown suite {name!r}; available: {', '.join(available_suites())}")
    return importlib.import_module(module_name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", help="which suite: " + ", ".join(available_suites()))
    parser.add_argument("--quick", action="store_true", help="smaller sizes (minutes, not tens of minutes)")
    parser.add_argument("--smoke", action="store_true",
                        help=f"tiny sizes, for tests of the runner itself (also ${SMOKE_ENV}=1)")
    parser.add_argument("--json", metavar="OUT", help="also write the JSON to this file")
    parser.add_argument("--runs", type=int, default=3, help="runs of each fast figure; the median is reported")
    args = parser.parse_args(argv)
    smoke = args.smoke or os.environ.get(SMOKE_ENV, "") not in ("", "0")
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    suite = load_suite(args.suite)
    bytecode = compile_bytecode()
    started = time.time()
    load_start = os.getloadavg()
    results = suite.run(args.quick, runs=args.runs, smoke=smoke)
    machine = machine_info()
    # Other work on the machine skews every figure: say how busy it was.
    machine["loadavg_start"] = [round(x, 2) for x in load_start]
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    report = {
        "suite": args.suite,
        "machine": machine,
        "options": {"quick": args.quick, "smoke": smoke, "runs": args.runs,
                    "bytecode_compiled": bytecode},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "results": results,
    }
    text = json.dumps(report, indent=2, sort_keys=False)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
