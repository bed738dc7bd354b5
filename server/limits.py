"""The limits a server enforces, in one place, so that ServerInfo can advertise them.

gRPC itself refuses a message over `max_message_bytes` with RESOURCE_EXHAUSTED before
the servicer sees it; the servicer checks the counts (operations per commit, ids per
request) and raises `ResourceExhausted` for those.
"""

from __future__ import annotations

from dataclasses import dataclass

from citcfs import objects, paths
from citcfs.errors import ResourceExhausted


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_bytes: int = 8 << 20
    """Largest message received or sent: a 1 MiB chunk plus generous headroom, and
    room for a directory tree object of some 100k entries."""
    max_ops_per_commit: int = 10_000
    max_ids_per_request: int = 10_000
    max_watch_streams: int = 256
    """Watch streams each hold a server thread (see `server.app`); more are refused."""
    max_commit_streams: int = 64
    """CommitStream calls each hold a server thread too; more are refused."""
    rpc_workers: int = 32
    """Threads for every call other than Watch."""
    watch_heartbeat_s: float = 30.0
    """An idle Watch stream sends a heartbeat this often."""
    watch_min_interval_s: float = 0.025
    """After a Watch stream sends, it waits this long before sending again, so a burst
    of commits coalesces into at most ~40 messages a second per stream. gRPC hands a
    message to the transport at once (flow-control windows hold thousands of small
    messages), so without a pause the server would never see a stream as busy, and
    every commit would become a message. The first event after a quiet spell goes
    out at once."""
    listdir_batch: int = 1000
    """Directory entries per ListDir message."""
    diff_batch: int = 1000

    @property
    def chunk_size(self) -> int:
        return objects.CHUNK_SIZE

    @property
    def inline_max(self) -> int:
        return objects.INLINE_MAX

    @property
    def name_max(self) -> int:
        return paths.NAME_MAX

    @property
    def path_max(self) -> int:
        return paths.PATH_MAX

    @property
    def thread_pool_size(self) -> int:
        return self.rpc_workers + self.max_watch_streams + self.max_commit_streams

    def check_count(self, what: str, count: int, limit: int) -> None:
        if count > limit:
            raise ResourceExhausted(f"{count} {what} in one request; the server accepts {limit}")
