"""Regenerate the Python modules of the citc API from the .proto files.

Run ``python -m citcfs.protos.generate`` after editing ``protos/citc/v1/citc.proto``
and commit the results. protoc writes modules named after the proto's directory
(``citc/v1/citc_pb2.py`` importing ``from citc.v1 import citc_pb2``); we put them flat
into this package (``citcfs.protos.citc_pb2``) and rewrite that import, because no
top-level ``citc`` package is ever installed. The descriptors keep the proto path
``citc/v1/citc.proto``, which is what server reflection shows.

`tests/test_protos_current.py` calls `generate(tmpdir)` and compares the result with
the committed files, so a stale module fails the test suite.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent
PROTOS = ("citc/v1/citc.proto",
          # etcd's own API (v3.4), for the etcd backend (storage/etcd_backend.py):
          "etcd/etcd_kv.proto", "etcd/etcd_auth.proto", "etcd/etcd_rpc.proto")
OUTPUTS = tuple(f"{Path(proto).stem}{suffix}" for proto in PROTOS
                for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"))

_IMPORT = re.compile(r"^from (?:citc\.v1|etcd) import (\w+_pb2) as (\w+)$", re.MULTILINE)


def _rewrite(text: str) -> str:
    """Make protoc's absolute imports relative to this package."""
    return _IMPORT.sub(r"from . import \1 as \2", text)


def generate(out_dir: str | os.PathLike[str]) -> list[Path]:
    """Run protoc on every proto into `out_dir`; return the files written."""
    from grpc_tools import protoc  # a dev dependency: only regenerating needs it

    import grpc_tools
    well_known = Path(grpc_tools.__file__).resolve().parent / "_proto"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as raw_dir:
        args = ["grpc_tools.protoc", f"-I{PROTO_ROOT}", f"-I{well_known}",
                f"--python_out={raw_dir}", f"--pyi_out={raw_dir}",
                f"--grpc_python_out={raw_dir}", *PROTOS]
        status = protoc.main(args)
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status}")
        written = []
        for folder in dict.fromkeys(Path(proto).parent for proto in PROTOS):
            subdir = Path(raw_dir) / folder
            for produced in sorted(subdir.iterdir()):
                target = out / produced.name
                target.write_text(_rewrite(produced.read_text()))
                written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(PROTO_ROOT),
                        help="where to write the modules (default: this package)")
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
