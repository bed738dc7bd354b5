"""citcfs: a log-structured, distributed workspace filesystem."""

__version__ = "0.1.0"
