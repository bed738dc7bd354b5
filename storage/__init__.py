"""The log database: an append-only log of workspace changes, indexes derived from it,
and a content-addressed object store. `Database` is the entry point."""

from .database import BaseInfo, Changes, CommitResult, Database, VerifyReport
from .ops import MakeDir, Op, Remove, Rename, SetAttr, Symlink, WriteFile

__all__ = ["BaseInfo", "Changes", "CommitResult", "Database", "VerifyReport",
           "MakeDir", "Op", "Remove", "Rename", "SetAttr", "Symlink", "WriteFile"]
