"""The servicer is made of RPC groups (`server/rpc_*.py`): every RPC of the proto must
come from exactly one group, wrapped by `unary` or `streaming`, or grpcio would fall
back to the generated stub and answer UNIMPLEMENTED."""

from __future__ import annotations

from citcfs.protos import citc_pb2 as pb
from citcfs.protos import citc_pb2_grpc as pb_grpc
from citcfs.server.rpc_base import RpcBase
from citcfs.server.servicer import CitcServicer


def test_every_rpc_is_served_by_one_group_and_wrapped() -> None:
    groups = [cls for cls in CitcServicer.__mro__
              if issubclass(cls, RpcBase) and cls not in (CitcServicer, RpcBase)]
    assert len(groups) == 5
    service = pb.DESCRIPTOR.services_by_name["Citc"]
    problems = []
    for method in service.methods:
        owners = [cls.__name__ for cls in groups if method.name in vars(cls)]
        if len(owners) != 1:
            problems.append(f"{method.name}: defined by {owners or 'no group'}")
            continue
        served = getattr(CitcServicer, method.name)
        if served is getattr(pb_grpc.CitcServicer, method.name):
            problems.append(f"{method.name}: the generated stub")
        elif not hasattr(served, "__wrapped__"):
            problems.append(f"{method.name}: not wrapped by unary or streaming")
    assert len(service.methods) >= 30
    assert not problems, "\n".join(problems)


def test_the_generated_base_comes_after_every_group() -> None:
    mro = CitcServicer.__mro__
    assert mro.index(pb_grpc.CitcServicer) == mro.index(RpcBase) + 1
