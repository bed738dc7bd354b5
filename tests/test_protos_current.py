"""The committed generated modules match what `python -m citcfs.protos.generate` makes."""

from __future__ import annotations

from pathlib import Path

from citcfs.protos import generate


def test_generated_modules_are_current(tmp_path: Path) -> None:
    written = generate.generate(tmp_path)
    assert sorted(p.name for p in written) == sorted(generate.OUTPUTS)
    stale = [p.name for p in written
             if p.read_bytes() != (generate.PROTO_ROOT / p.name).read_bytes()]
    assert not stale, (f"{stale} are stale: run `python -m citcfs.protos.generate` "
                       "and commit the result")


def test_generated_imports_stay_inside_the_package() -> None:
    grpc_module = (generate.PROTO_ROOT / "citc_pb2_grpc.py").read_text()
    assert "from citc.v1" not in grpc_module
    assert "from . import citc_pb2" in grpc_module
    from citcfs.protos import citc_pb2, citc_pb2_grpc
    assert citc_pb2.DESCRIPTOR.package == "citc.v1"
    assert hasattr(citc_pb2_grpc, "CitcStub")


def test_every_rpc_is_documented() -> None:
    """The .proto is the API reference: each rpc has a comment above it."""
    from citcfs.protos import citc_pb2
    text = (generate.PROTO_ROOT / "citc" / "v1" / "citc.proto").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(text):
        if line.strip().startswith("rpc "):
            if not text[i - 1].strip().startswith("//"):
                undocumented.append(line.strip())
    assert not undocumented, undocumented
    service = citc_pb2.DESCRIPTOR.services_by_name["Citc"]
    assert len(service.methods) >= 30
