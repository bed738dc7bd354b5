"""keep_large_buffers: 1 MiB buffers stop costing page faults once it has run."""

from __future__ import annotations

import subprocess
import sys

# Chunks flowing through a process as a mount's do: a 1 MiB buffer arrives, is cut
# into the 128 KiB pieces the kernel asks for, and the last few are kept in memory.
CHURN = """
import collections, resource, sys
from citcfs.memory import keep_large_buffers
if sys.argv[1] == "tuned":
    assert keep_large_buffers()
kept = collections.deque(maxlen=8)
def churn():
    for _ in range(300):
        data = bytes(1 << 20)
        pieces = [data[i:i + (128 << 10)] for i in range(0, 1 << 20, 128 << 10)]
        kept.append(b"".join(pieces))
        del data, pieces
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(mode: str) -> int:
    # In a child process: the setting is process-wide and must not leak into pytest.
    out = subprocess.run([sys.executable, "-c", CHURN, mode], check=True,
                         capture_output=True, text=True).stdout
    return int(out)


def test_large_buffers_stop_faulting_in_pages() -> None:
    plain, tuned = _page_faults("plain"), _page_faults("tuned")
    # 300 chunks of 256 pages each: untuned, the freed heap is trimmed and its pages
    # fault in again; tuned, they stay.
    assert plain > 1000
    assert tuned < plain // 10
