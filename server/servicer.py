"""The citc.v1 servicer: each RPC authenticates, checks access, calls `Database`.

`CitcServicer` is the one object registered with grpcio. It is made of the RPC
groups, each a class over `rpc_base.RpcBase` in its own module, so the servicer has
every RPC of the proto under its own name while each group reads on its own:

    rpc_workspaces  ImportBase, ListBases, BaseHistory, CreateWorkspace, ForkWorkspace,
                    ListWorkspaces, DescribeWorkspace, DeleteWorkspace, redirections
    rpc_reads       Lookup, ListDir, ReadObjects
    rpc_writes      HasObjects, PutObjects, Commit, CommitStream, WriterProgress
    rpc_history     Versions, Changes, Watch, labels, Freeze, Diff, Sync, Submit,
                    Restore, Revert
    rpc_admin       ServerInfo, Grant, SetRetention, GC, Verify

Every method is wrapped by `rpc_base.unary` or `rpc_base.streaming`, which
authenticate the caller and turn any exception into a gRPC status through the one
table in `server.errors`, so the methods themselves raise citcfs errors and never
touch status codes.

Concurrency: grpcio runs each call on a pool thread. Reads take a short LMDB read
transaction inside `Database` and run in parallel; commits go through
`Database.commit`, whose group committer batches concurrent callers into one durable
transaction and answers each with its own result. Streams never hold a read
transaction: ListDir and Diff read first (or iterate storage that reads in short
transactions), then send; Watch holds only a `Watcher`.
"""

from __future__ import annotations

from .rpc_admin import AdminRpcs
from .rpc_history import HistoryRpcs
from .rpc_reads import ReadRpcs
from .rpc_workspaces import WorkspaceRpcs
from .rpc_writes import WriteRpcs


class CitcServicer(WorkspaceRpcs, ReadRpcs, WriteRpcs, HistoryRpcs, AdminRpcs):
    """Serves one `Database` to authenticated callers: every RPC of citc.v1."""
