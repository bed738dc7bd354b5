"""The log database: an append-only log of workspace changes, indexes derived from it,
and a content-addressed object store. `Database` is the entry point."""

from .database import Database
from .diff import Change, DiffEntry
from .ops import Link, MakeDir, MakeNode, Op, Remove, Rename, SetAttr, Symlink, WriteFile
from .results import (BaseInfo, BaseRef, Changes, CommitResult, FsckReport, GcReport,
                      SubmitResult, SyncResult, VerifyReport, WorkspaceRef, WriterSeq)

__all__ = ["BaseInfo", "BaseRef", "Change", "Changes", "CommitResult", "Database", "DiffEntry", "FsckReport",
           "GcReport", "SubmitResult", "SyncResult", "VerifyReport", "WorkspaceRef", "WriterSeq",
           "Link", "MakeDir", "MakeNode", "Op", "Remove", "Rename", "SetAttr", "Symlink",
           "WriteFile"]
