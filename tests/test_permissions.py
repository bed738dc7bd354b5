"""The pure permission rules of client/permissions.py, without a mount.

The real-mount tests (tests/test_fuse_permissions.py) compare the same rules with
tmpfs; these pin each branch, including the ones a mount reaches rarely.
"""

from __future__ import annotations

import os

from citcfs.client.permissions import (Caller, caller_from_proc, mode_after_chown,
                                       mode_after_write, needs_caller, new_owner,
                                       parse_proc_status)

ALICE = Caller(1000, 1000, frozenset({1000, 2000}))
ROOT = Caller(0, 0, frozenset(), fsetid=True)


def test_a_write_drops_setuid_and_setgid_with_group_exec() -> None:
    assert mode_after_write(0o6775, 1000, ALICE) == 0o775
    assert mode_after_write(0o4755, 1000, ALICE) == 0o755
    assert mode_after_write(0o0755, 1000, ALICE) == 0o755


def test_setgid_without_group_exec_stays_for_a_member_only() -> None:
    assert mode_after_write(0o2765, 2000, ALICE) == 0o2765  # a supplementary group
    assert mode_after_write(0o2765, 1000, ALICE) == 0o2765  # the primary group
    assert mode_after_write(0o2765, 3000, ALICE) == 0o765


def test_cap_fsetid_keeps_both_through_writes() -> None:
    assert mode_after_write(0o6777, 3000, ROOT) == 0o6777


def test_chown_drops_setuid_always_and_setgid_by_the_same_rule() -> None:
    assert mode_after_chown(0o6775, 1000, ROOT, is_dir=False) == 0o775
    assert mode_after_chown(0o6745, 3000, ROOT, is_dir=False) == 0o2745
    assert mode_after_chown(0o6745, 1000, ALICE, is_dir=False) == 0o2745
    assert mode_after_chown(0o2745, 3000, ALICE, is_dir=False) == 0o745
    assert mode_after_chown(0o6775, 3000, ALICE, is_dir=True) == 0o6775


def test_needs_caller_only_for_setuid_or_setgid() -> None:
    assert needs_caller(0o4000) and needs_caller(0o2000)
    assert not needs_caller(0o1777) and not needs_caller(0o755)


def test_a_setgid_directory_passes_its_group_and_setgid_to_directories() -> None:
    assert new_owner(0o2775, 2000, 1000, 1000, 0o644, is_dir=False) == (1000, 2000, 0o644)
    assert new_owner(0o2775, 2000, 1000, 1000, 0o755, is_dir=True) == (1000, 2000, 0o2755)
    assert new_owner(0o0777, 2000, 1000, 1000, 0o755, is_dir=True) == (1000, 1000, 0o755)


def test_proc_status_gives_groups_and_cap_fsetid() -> None:
    text = "Name:\tx\nGroups:\t1000 2000 \nCapEff:\t0000000000000010\n"
    assert parse_proc_status(text, 1000, 1000) == Caller(1000, 1000, frozenset({1000, 2000}),
                                                         fsetid=True)
    text = "Groups:\t\nCapEff:\t0000000000000000\n"
    assert parse_proc_status(text, 0, 0) == Caller(0, 0, frozenset(), fsetid=False)


def test_caller_from_proc_of_this_process_and_of_a_gone_one() -> None:
    me = caller_from_proc(os.getuid(), os.getgid(), os.getpid())
    assert me.groups == frozenset(os.getgroups())
    assert me.fsetid == (os.geteuid() == 0)  # tests run as root, with every capability
    assert caller_from_proc(1000, 1000, 0) == Caller(1000, 1000, frozenset(), False)
    assert caller_from_proc(0, 0, 0).fsetid
