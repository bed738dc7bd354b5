"""Puts the tiers' guard into every Python process of a test session (see
tier_guard.py); does nothing unless CITCFS_TIER_GUARD is set."""

import os

if os.environ.get("CITCFS_TIER_GUARD"):
    import tier_guard

    tier_guard.install()
    tier_guard.follow(os.environ["CITCFS_TIER_GUARD"])
