"""Puts the unit tier's guard into every Python process a unit test starts (see
tier_guard.py); does nothing unless CITCFS_UNIT_GUARD is set."""

import os

if os.environ.get("CITCFS_UNIT_GUARD"):
    import tier_guard

    tier_guard.install()
    tier, _, report = os.environ["CITCFS_UNIT_GUARD"].partition(":")
    tier_guard.activate(tier, report)
