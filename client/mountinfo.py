"""The mounts this process sees, read from /proc/self/mountinfo.

Kept apart from `client.mount` (which loads the FUSE side) so that every `citc`
command can look for mounts without importing it.
"""

from __future__ import annotations

import re

MOUNTINFO = "/proc/self/mountinfo"


def unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (\\040 for a space and so on)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mountinfo_fields(mountinfo: str = MOUNTINFO) -> list[tuple[str, str, str]]:
    """(mount point, filesystem type, source) of every mount this process sees; none
    when `mountinfo` cannot be read."""
    found = []
    try:
        with open(mountinfo) as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    for line in lines:
        head, sep, tail = line.partition(" - ")
        fields, rest = head.split(), tail.split()
        if sep and len(fields) >= 5 and len(rest) >= 2:
            found.append((unescape(fields[4]), rest[0], unescape(rest[1])))
    return found
