"""Permission rules on a real mount, as another user, against tmpfs.

The tests run as root, so every unprivileged step runs in a forked child that took
another uid, gid and groups (`as_user`) before the call. Each sequence runs in a
directory of the mount and in a native tmpfs directory, and both must answer alike:
results, errno, and mode, owner and group of what they touched. Then the server's
copy is checked, since what the mount shows must also be what it journaled.

The users: ALICE (uid 1000, groups 1000 and 2000) and BOB (uid 1001, group 1001);
group 3000 has neither.
"""

from __future__ import annotations

import os
import pickle
import stat
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fuse_support import Mounted, mounted, shared_env, shared_server  # noqa: F401
from test_fuse_native import both, native, outcome  # noqa: F401

ALICE = (1000, 1000, (1000, 2000))
BOB = (1001, 1001, (1001,))
CAPABILITY = "security.capability"
# A vfs_cap_data of revision 2 (linux/capability.h): effective, CAP_CHOWN permitted.
CAP_VALUE = struct.pack("<5I", 0x02000001, 1, 0, 0, 0)
TICK_S = 0.012  # tmpfs stamps times from a coarse clock (one tick: 4-10 ms)


def as_user(user: tuple[int, int, tuple[int, ...]], where: Path, fn: Callable[[], Any]) -> Any:
    """Run `fn` in a child process in directory `where`, as `user` (uid, gid, groups);
    return what it answered (its result, or ("errno", name))."""
    uid, gid, groups = user
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            os.chdir(where)  # as root, so the parents of `where` need not be searchable
            os.umask(0o022)
            os.setgroups(list(groups))
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            data = pickle.dumps(outcome(fn))
            while data:
                data = data[os.write(write_end, data):]
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "rb") as reader:
        chunks.append(reader.read())
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child process failed"
    return pickle.loads(b"".join(chunks))


def owner_of(path: Path) -> tuple[str, int, int]:
    """What must agree between the mount and tmpfs: permission bits, uid, gid."""
    st = os.lstat(path)
    return oct(stat.S_IMODE(st.st_mode)), st.st_uid, st.st_gid


def new_file(path: Path, mode: int, uid: int, gid: int, data: bytes = b"x") -> None:
    """A file made by root, then given away (chown first: it would clear setuid)."""
    path.write_bytes(data)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


def write_to(name: str) -> Callable[[], int]:
    def write() -> int:
        fd = os.open(name, os.O_WRONLY)
        try:
            return os.write(fd, b"more")
        finally:
            os.close(fd)
    return write


def ftruncate(name: str) -> Callable[[], None]:
    def call() -> None:
        fd = os.open(name, os.O_WRONLY)
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)
    return call


def open_trunc(name: str) -> Callable[[], None]:
    return lambda: os.close(os.open(name, os.O_WRONLY | os.O_TRUNC))


# --- writes, truncates and chown clear setuid, setgid and capabilities ------------------------


def kill_privileges(d: Path) -> list[Any]:
    os.chmod(d, 0o777)
    alice, root = ALICE[0], 0
    made = {
        # name: (mode, owner, group, who acts, what it does)
        "w_suid": (0o6775, alice, 1000, ALICE, write_to),
        "w_sgid_member": (0o2765, alice, 1000, ALICE, write_to),  # no group-exec: kept
        "w_sgid_other": (0o2766, alice, 3000, ALICE, write_to),  # not in group: cleared
        "w_root": (0o6775, alice, 1000, None, write_to),  # CAP_FSETID keeps both
        "t_path": (0o6777, alice, 1000, ALICE, lambda n: lambda: os.truncate(n, 1)),
        "t_fd": (0o6777, alice, 1000, ALICE, ftruncate),
        "t_open": (0o6777, alice, 1000, ALICE, open_trunc),
        "t_root": (0o4777, alice, 1000, None, lambda n: lambda: os.truncate(n, 1)),
        "c_root": (0o6775, alice, 1000, None, lambda n: lambda: os.chown(n, 1001, -1)),
        "c_root_nx": (0o2745, alice, 1000, None, lambda n: lambda: os.chown(n, -1, 2000)),
        "c_member": (0o6745, alice, 1000, ALICE, lambda n: lambda: os.chown(n, -1, 2000)),
        "c_other": (0o2745, alice, 3000, ALICE, lambda n: lambda: os.chown(n, -1, 2000)),
        "c_self": (0o4755, alice, 1000, ALICE, lambda n: lambda: os.chown(n, alice, -1)),
    }
    out: list[Any] = []
    for name, (mode, uid, gid, who, action) in made.items():
        new_file(d / name, mode, uid, gid)
        call = action(name)
        if who is None:
            out.append((name, outcome(lambda: call_in(d, call))))
        else:
            out.append((name, as_user(who, d, call)))
    os.mkdir(d / "c_dir")
    os.chmod(d / "c_dir", 0o6775)
    os.chown(d / "c_dir", 1001, 2000)  # a directory keeps both
    for name in [*made, "c_dir"]:
        out.append(("owner", name, owner_of(d / name)))
    # File capabilities go on a write, a truncate or a chown, also by root.
    for name, action in (("cap_write", write_to), ("cap_trunc", ftruncate),
                         ("cap_open", open_trunc),
                         ("cap_chown", lambda n: lambda: os.chown(n, root, root))):
        new_file(d / name, 0o755, root, root)
        os.setxattr(d / name, CAPABILITY, CAP_VALUE)
        os.setxattr(d / name, "user.kept", b"v")
        out.append((name, os.getxattr(d / name, CAPABILITY) == CAP_VALUE))
        call_in(d, action(name))
        out.append((name, outcome(lambda: os.getxattr(d / name, CAPABILITY)),
                    sorted(os.listxattr(d / name))))
    return out


def call_in(d: Path, fn: Callable[[], Any]) -> Any:
    """Call `fn` (which names files relative to `d`) with `d` as working directory."""
    cwd = os.getcwd()
    os.chdir(d)
    try:
        return fn()
    finally:
        os.chdir(cwd)


def test_writes_truncates_and_chown_clear_setuid_setgid_and_capabilities(
        mounted: Mounted, native: Path) -> None:
    result = {item[1]: item[2] for item in both(mounted, native, kill_privileges)
              if item[0] == "owner"}
    # Spot checks of the rules (tmpfs agreeing is checked above).
    assert result["w_suid"] == ("0o775", 1000, 1000)
    assert result["w_sgid_member"] == ("0o2765", 1000, 1000)
    assert result["w_sgid_other"] == ("0o766", 1000, 3000)
    assert result["w_root"] == ("0o6775", 1000, 1000)
    assert result["c_dir"] == ("0o6775", 1001, 2000)
    for name in ("w_suid", "w_sgid_other", "t_path", "c_member", "c_other"):
        entry = mounted.server_entry(f"t/{name}")
        assert oct(entry.mode) == result[name][0], name
    assert mounted.server_entry("t/cap_write").xattr(CAPABILITY.encode()) is None
    assert mounted.server_entry("t/cap_write").xattr(b"user.kept") == b"v"


# --- chown and chmod by unprivileged callers ----------------------------------------------------


def chown_chmod(d: Path) -> list[Any]:
    os.chmod(d, 0o777)
    new_file(d / "f", 0o644, ALICE[0], 1000)
    new_file(d / "other", 0o644, ALICE[0], 3000)
    steps: list[tuple[Any, Callable[[], Any]]] = [
        (ALICE, lambda: os.chmod("f", 0o600)),  # the owner may chmod
        (BOB, lambda: os.chmod("f", 0o666)),  # EPERM: not the owner
        (ALICE, lambda: os.chown("f", BOB[0], -1)),  # EPERM: only root gives a file away
        (ALICE, lambda: os.chown("f", ALICE[0], -1)),  # to oneself: allowed
        (ALICE, lambda: os.chown("f", -1, 3000)),  # EPERM: not a member of 3000
        (ALICE, lambda: os.chown("f", -1, 2000)),  # a group of hers: allowed
        (BOB, lambda: os.chown("f", -1, 1001)),  # EPERM: not the owner
        (ALICE, lambda: os.chmod("f", 0o2750)),  # her group: setgid kept
        (ALICE, lambda: os.chmod("other", 0o2750)),  # not her group: setgid dropped
        (ALICE, lambda: os.chown("other", -1, 3000)),  # its group again: allowed
        (None, lambda: os.chown("f", BOB[0], BOB[1])),  # root may
        (ALICE, lambda: os.chmod("f", 0o644)),  # EPERM: no longer hers
        (BOB, lambda: os.chmod("f", 0o4640)),  # the new owner may
    ]
    out: list[Any] = []
    for who, step in steps:
        before = {name: os.lstat(d / name).st_ctime_ns for name in ("f", "other")}
        time.sleep(TICK_S)
        answer = outcome(lambda: call_in(d, step)) if who is None else as_user(who, d, step)
        moved = [name for name in ("f", "other") if os.lstat(d / name).st_ctime_ns != before[name]]
        out.append((answer, moved, owner_of(d / "f"), owner_of(d / "other")))
    return out


def test_chown_and_chmod_follow_posix_for_unprivileged_callers(
        mounted: Mounted, native: Path) -> None:
    result = both(mounted, native, chown_chmod)
    answers = [item[0] for item in result]
    eperm = ("errno", "EPERM")
    assert answers == [None, eperm, eperm, None, eperm, None, eperm, None, None, None,
                       None, eperm, None]
    assert result[1][1] == [] and result[0][1] == ["f"]  # ctime moves only on a change
    assert result[8][3] == ("0o750", 1000, 3000)
    entry = mounted.server_entry("t/f")
    assert (entry.mode, entry.uid, entry.gid) == (0o4640, BOB[0], BOB[1])
    assert mounted.server_entry("t/other").mode == 0o750


# --- sticky directories -------------------------------------------------------------------------


def sticky(d: Path) -> list[Any]:
    os.chmod(d, 0o777)
    for name, owner, mode in (("s", 0, 0o1777), ("s_bob", BOB[0], 0o1777), ("plain", 0, 0o777)):
        os.mkdir(d / name)
        os.chown(d / name, owner, owner)
        os.chmod(d / name, mode)
    steps: list[tuple[Any, Callable[[], Any]]] = [
        (ALICE, lambda: open("s/a", "w").close()),
        (ALICE, lambda: os.mkdir("s/ad")),
        (BOB, lambda: open("s/b", "w").close()),
        (BOB, lambda: os.unlink("s/a")),  # EPERM: neither his file nor his directory
        (BOB, lambda: os.rename("s/a", "s/x")),  # EPERM
        (BOB, lambda: os.rename("s/b", "s/a")),  # EPERM: would replace hers
        (BOB, lambda: os.rmdir("s/ad")),  # EPERM
        (ALICE, lambda: os.unlink("s/b")),  # EPERM
        (ALICE, lambda: os.rename("s/a", "s/a2")),  # her own: allowed
        (BOB, lambda: os.rename("s/b", "s/b2")),
        (None, lambda: os.unlink("s/b2")),  # root may
        (ALICE, lambda: open("s_bob/c", "w").close()),
        (BOB, lambda: os.unlink("s_bob/c")),  # the directory is his: allowed
        (ALICE, lambda: open("plain/p", "w").close()),
        (BOB, lambda: os.unlink("plain/p")),  # no sticky bit: allowed
    ]
    out: list[Any] = []
    for who, step in steps:
        out.append(outcome(lambda: call_in(d, step)) if who is None else as_user(who, d, step))
    for name in ("s", "s_bob", "plain"):
        out.append((name, sorted(os.listdir(d / name)), owner_of(d / name)))
    return out


def test_sticky_directories_restrict_unlink_and_rename(mounted: Mounted, native: Path) -> None:
    result = both(mounted, native, sticky)
    eperm = ("errno", "EPERM")
    assert result[3:8] == [eperm] * 5
    assert result[-3][1] == ["a2", "ad"]
    assert mounted.server_entry("t/s").mode == 0o1777
    assert mounted.server_entry("t/s/a2").uid == ALICE[0]


# --- setgid directories -------------------------------------------------------------------------


def setgid_dir(d: Path) -> list[Any]:
    os.chmod(d, 0o777)
    os.mkdir(d / "g")
    os.chown(d / "g", 0, 2000)
    os.chmod(d / "g", 0o2777)
    steps: list[tuple[Any, Callable[[], Any]]] = [
        (ALICE, lambda: open("g/f", "w").close()),
        (ALICE, lambda: os.mkdir("g/sub")),
        (ALICE, lambda: os.mkdir("g/sub/deeper", 0o700)),
        (ALICE, lambda: open("g/sub/f2", "w").close()),
        (ALICE, lambda: os.symlink("f", "g/l")),
        (ALICE, lambda: os.mkfifo("g/p")),
        (ALICE, lambda: os.mknod("g/r", 0o644 | stat.S_IFREG)),
        (ALICE, lambda: os.close(os.open("g/y", os.O_CREAT | os.O_WRONLY, 0o2755))),
        (BOB, lambda: os.close(os.open("g/x", os.O_CREAT | os.O_WRONLY, 0o2755))),
        (ALICE, lambda: os.mkdir("n")),  # no setgid here: her own group
        (ALICE, lambda: open("n/f", "w").close()),
    ]
    out: list[Any] = [as_user(who, d, step) for who, step in steps]
    for name in ("g/f", "g/sub", "g/sub/deeper", "g/sub/f2", "g/l", "g/p", "g/r", "g/y", "g/x",
                 "n", "n/f"):
        out.append((name, owner_of(d / name)))
    return out


def test_setgid_directories_pass_on_their_group(mounted: Mounted, native: Path) -> None:
    result = dict(item for item in both(mounted, native, setgid_dir) if isinstance(item, tuple)
                  and len(item) == 2 and isinstance(item[0], str))
    assert result["g/sub"] == ("0o2755", ALICE[0], 2000)
    assert result["g/sub/deeper"] == ("0o2700", ALICE[0], 2000)
    assert result["g/f"] == ("0o644", ALICE[0], 2000)
    assert result["g/x"] == ("0o755", BOB[0], 2000)  # not in the group: setgid stripped
    assert result["n/f"] == ("0o644", ALICE[0], ALICE[1])
    for name in ("g/sub", "g/sub/deeper", "g/p", "g/y"):
        entry = mounted.server_entry(f"t/{name}")
        assert (oct(entry.mode), entry.gid) == (result[name][0], 2000), name
    assert mounted.server_entry("t/g/l").gid == 2000
