from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ObjectKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OBJECT_KIND_UNSPECIFIED: _ClassVar[ObjectKind]
    OBJECT_KIND_CHUNK: _ClassVar[ObjectKind]
    OBJECT_KIND_TREE: _ClassVar[ObjectKind]

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_KIND_UNSPECIFIED: _ClassVar[EntryKind]
    ENTRY_KIND_FILE: _ClassVar[EntryKind]
    ENTRY_KIND_DIR: _ClassVar[EntryKind]
    ENTRY_KIND_SYMLINK: _ClassVar[EntryKind]
    ENTRY_KIND_WHITEOUT: _ClassVar[EntryKind]
    ENTRY_KIND_FIFO: _ClassVar[EntryKind]
    ENTRY_KIND_SOCKET: _ClassVar[EntryKind]
    ENTRY_KIND_CHARDEV: _ClassVar[EntryKind]
    ENTRY_KIND_BLOCKDEV: _ClassVar[EntryKind]

class Access(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCESS_UNSPECIFIED: _ClassVar[Access]
    ACCESS_NONE: _ClassVar[Access]
    ACCESS_READ: _ClassVar[Access]
    ACCESS_WRITE: _ClassVar[Access]
    ACCESS_OWNER: _ClassVar[Access]

class Change(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_UNSPECIFIED: _ClassVar[Change]
    CHANGE_ADDED: _ClassVar[Change]
    CHANGE_MODIFIED: _ClassVar[Change]
    CHANGE_DELETED: _ClassVar[Change]
    CHANGE_TYPE_CHANGED: _ClassVar[Change]
    CHANGE_RENAMED: _ClassVar[Change]
OBJECT_KIND_UNSPECIFIED: ObjectKind
OBJECT_KIND_CHUNK: ObjectKind
OBJECT_KIND_TREE: ObjectKind
ENTRY_KIND_UNSPECIFIED: EntryKind
ENTRY_KIND_FILE: EntryKind
ENTRY_KIND_DIR: EntryKind
ENTRY_KIND_SYMLINK: EntryKind
ENTRY_KIND_WHITEOUT: EntryKind
ENTRY_KIND_FIFO: EntryKind
ENTRY_KIND_SOCKET: EntryKind
ENTRY_KIND_CHARDEV: EntryKind
ENTRY_KIND_BLOCKDEV: EntryKind
ACCESS_UNSPECIFIED: Access
ACCESS_NONE: Access
ACCESS_READ: Access
ACCESS_WRITE: Access
ACCESS_OWNER: Access
CHANGE_UNSPECIFIED: Change
CHANGE_ADDED: Change
CHANGE_MODIFIED: Change
CHANGE_DELETED: Change
CHANGE_TYPE_CHANGED: Change
CHANGE_RENAMED: Change

class Xattr(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: bytes
    value: bytes
    def __init__(self, name: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

class XattrList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Xattr]
    def __init__(self, items: _Optional[_Iterable[_Union[Xattr, _Mapping]]] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("kind", "mode", "uid", "gid", "size", "mtime_ns", "chunks", "inline", "target", "tree", "opaque", "origin", "atime_ns", "ctime_ns", "rdev", "xattrs", "link", "nlink")
    KIND_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    INLINE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    OPAQUE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ATIME_NS_FIELD_NUMBER: _ClassVar[int]
    CTIME_NS_FIELD_NUMBER: _ClassVar[int]
    RDEV_FIELD_NUMBER: _ClassVar[int]
    XATTRS_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    NLINK_FIELD_NUMBER: _ClassVar[int]
    kind: EntryKind
    mode: int
    uid: int
    gid: int
    size: int
    mtime_ns: int
    chunks: _containers.RepeatedScalarFieldContainer[bytes]
    inline: bytes
    target: bytes
    tree: bytes
    opaque: bool
    origin: bytes
    atime_ns: int
    ctime_ns: int
    rdev: int
    xattrs: _containers.RepeatedCompositeFieldContainer[Xattr]
    link: bytes
    nlink: int
    def __init__(self, kind: _Optional[_Union[EntryKind, str]] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., size: _Optional[int] = ..., mtime_ns: _Optional[int] = ..., chunks: _Optional[_Iterable[bytes]] = ..., inline: _Optional[bytes] = ..., target: _Optional[bytes] = ..., tree: _Optional[bytes] = ..., opaque: _Optional[bool] = ..., origin: _Optional[bytes] = ..., atime_ns: _Optional[int] = ..., ctime_ns: _Optional[int] = ..., rdev: _Optional[int] = ..., xattrs: _Optional[_Iterable[_Union[Xattr, _Mapping]]] = ..., link: _Optional[bytes] = ..., nlink: _Optional[int] = ...) -> None: ...

class DirEntry(_message.Message):
    __slots__ = ("name", "entry")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    name: bytes
    entry: Entry
    def __init__(self, name: _Optional[bytes] = ..., entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class BaseRevision(_message.Message):
    __slots__ = ("base", "rev", "root", "time_ns", "message")
    BASE_FIELD_NUMBER: _ClassVar[int]
    REV_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    base: str
    rev: int
    root: bytes
    time_ns: int
    message: str
    def __init__(self, base: _Optional[str] = ..., rev: _Optional[int] = ..., root: _Optional[bytes] = ..., time_ns: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Base(_message.Message):
    __slots__ = ("name", "latest")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    name: str
    latest: BaseRevision
    def __init__(self, name: _Optional[str] = ..., latest: _Optional[_Union[BaseRevision, _Mapping]] = ...) -> None: ...

class Grantee(_message.Message):
    __slots__ = ("user", "access")
    USER_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    user: str
    access: Access
    def __init__(self, user: _Optional[str] = ..., access: _Optional[_Union[Access, str]] = ...) -> None: ...

class Workspace(_message.Message):
    __slots__ = ("id", "name", "owner", "base", "base_rev", "root", "version", "created_ns", "updated_ns", "grants", "access", "fork")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    BASE_REV_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_NS_FIELD_NUMBER: _ClassVar[int]
    GRANTS_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    FORK_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    owner: str
    base: str
    base_rev: int
    root: bytes
    version: int
    created_ns: int
    updated_ns: int
    grants: _containers.RepeatedCompositeFieldContainer[Grantee]
    access: Access
    fork: ForkPoint
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., owner: _Optional[str] = ..., base: _Optional[str] = ..., base_rev: _Optional[int] = ..., root: _Optional[bytes] = ..., version: _Optional[int] = ..., created_ns: _Optional[int] = ..., updated_ns: _Optional[int] = ..., grants: _Optional[_Iterable[_Union[Grantee, _Mapping]]] = ..., access: _Optional[_Union[Access, str]] = ..., fork: _Optional[_Union[ForkPoint, _Mapping]] = ...) -> None: ...

class ForkPoint(_message.Message):
    __slots__ = ("source", "source_version", "tree", "base_rev", "version")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_VERSION_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    BASE_REV_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    source: str
    source_version: int
    tree: bytes
    base_rev: int
    version: int
    def __init__(self, source: _Optional[str] = ..., source_version: _Optional[int] = ..., tree: _Optional[bytes] = ..., base_rev: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class VersionInfo(_message.Message):
    __slots__ = ("version", "lsn", "time_ns", "path_count")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    PATH_COUNT_FIELD_NUMBER: _ClassVar[int]
    version: int
    lsn: int
    time_ns: int
    path_count: int
    def __init__(self, version: _Optional[int] = ..., lsn: _Optional[int] = ..., time_ns: _Optional[int] = ..., path_count: _Optional[int] = ...) -> None: ...

class LabelInfo(_message.Message):
    __slots__ = ("label", "version", "time_ns")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    label: str
    version: int
    time_ns: int
    def __init__(self, label: _Optional[str] = ..., version: _Optional[int] = ..., time_ns: _Optional[int] = ...) -> None: ...

class Ref(_message.Message):
    __slots__ = ("workspace", "base")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    workspace: WorkspaceRef
    base: BaseRef
    def __init__(self, workspace: _Optional[_Union[WorkspaceRef, _Mapping]] = ..., base: _Optional[_Union[BaseRef, _Mapping]] = ...) -> None: ...

class WorkspaceRef(_message.Message):
    __slots__ = ("workspace", "version", "label", "fork")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    FORK_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    version: int
    label: str
    fork: bool
    def __init__(self, workspace: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ..., fork: _Optional[bool] = ...) -> None: ...

class BaseRef(_message.Message):
    __slots__ = ("base", "rev")
    BASE_FIELD_NUMBER: _ClassVar[int]
    REV_FIELD_NUMBER: _ClassVar[int]
    base: str
    rev: int
    def __init__(self, base: _Optional[str] = ..., rev: _Optional[int] = ...) -> None: ...

class ServerInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Limits(_message.Message):
    __slots__ = ("max_message_bytes", "max_ops_per_commit", "max_ids_per_request", "chunk_size", "inline_max", "max_watch_streams", "name_max", "path_max", "max_commit_streams")
    MAX_MESSAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    MAX_OPS_PER_COMMIT_FIELD_NUMBER: _ClassVar[int]
    MAX_IDS_PER_REQUEST_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    INLINE_MAX_FIELD_NUMBER: _ClassVar[int]
    MAX_WATCH_STREAMS_FIELD_NUMBER: _ClassVar[int]
    NAME_MAX_FIELD_NUMBER: _ClassVar[int]
    PATH_MAX_FIELD_NUMBER: _ClassVar[int]
    MAX_COMMIT_STREAMS_FIELD_NUMBER: _ClassVar[int]
    max_message_bytes: int
    max_ops_per_commit: int
    max_ids_per_request: int
    chunk_size: int
    inline_max: int
    max_watch_streams: int
    name_max: int
    path_max: int
    max_commit_streams: int
    def __init__(self, max_message_bytes: _Optional[int] = ..., max_ops_per_commit: _Optional[int] = ..., max_ids_per_request: _Optional[int] = ..., chunk_size: _Optional[int] = ..., inline_max: _Optional[int] = ..., max_watch_streams: _Optional[int] = ..., name_max: _Optional[int] = ..., path_max: _Optional[int] = ..., max_commit_streams: _Optional[int] = ...) -> None: ...

class ServerInfoResponse(_message.Message):
    __slots__ = ("server_version", "api_version", "limits", "user", "unimplemented")
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    API_VERSION_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    UNIMPLEMENTED_FIELD_NUMBER: _ClassVar[int]
    server_version: str
    api_version: str
    limits: Limits
    user: str
    unimplemented: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, server_version: _Optional[str] = ..., api_version: _Optional[str] = ..., limits: _Optional[_Union[Limits, _Mapping]] = ..., user: _Optional[str] = ..., unimplemented: _Optional[_Iterable[str]] = ...) -> None: ...

class ImportBaseHeader(_message.Message):
    __slots__ = ("base", "message")
    BASE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    base: str
    message: str
    def __init__(self, base: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class Object(_message.Message):
    __slots__ = ("id", "kind", "data")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    id: bytes
    kind: ObjectKind
    data: bytes
    def __init__(self, id: _Optional[bytes] = ..., kind: _Optional[_Union[ObjectKind, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class ImportEntry(_message.Message):
    __slots__ = ("path", "entry")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    entry: Entry
    def __init__(self, path: _Optional[bytes] = ..., entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class ImportBaseRequest(_message.Message):
    __slots__ = ("header", "object", "entry", "root")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    header: ImportBaseHeader
    object: Object
    entry: ImportEntry
    root: bytes
    def __init__(self, header: _Optional[_Union[ImportBaseHeader, _Mapping]] = ..., object: _Optional[_Union[Object, _Mapping]] = ..., entry: _Optional[_Union[ImportEntry, _Mapping]] = ..., root: _Optional[bytes] = ...) -> None: ...

class ImportBaseResponse(_message.Message):
    __slots__ = ("revision", "objects", "entries", "unchanged")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    UNCHANGED_FIELD_NUMBER: _ClassVar[int]
    revision: BaseRevision
    objects: int
    entries: int
    unchanged: bool
    def __init__(self, revision: _Optional[_Union[BaseRevision, _Mapping]] = ..., objects: _Optional[int] = ..., entries: _Optional[int] = ..., unchanged: _Optional[bool] = ...) -> None: ...

class ListBasesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListBasesResponse(_message.Message):
    __slots__ = ("bases",)
    BASES_FIELD_NUMBER: _ClassVar[int]
    bases: _containers.RepeatedCompositeFieldContainer[Base]
    def __init__(self, bases: _Optional[_Iterable[_Union[Base, _Mapping]]] = ...) -> None: ...

class BaseHistoryRequest(_message.Message):
    __slots__ = ("base",)
    BASE_FIELD_NUMBER: _ClassVar[int]
    base: str
    def __init__(self, base: _Optional[str] = ...) -> None: ...

class BaseHistoryResponse(_message.Message):
    __slots__ = ("revisions",)
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[BaseRevision]
    def __init__(self, revisions: _Optional[_Iterable[_Union[BaseRevision, _Mapping]]] = ...) -> None: ...

class CreateWorkspaceRequest(_message.Message):
    __slots__ = ("name", "base", "base_rev")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    BASE_REV_FIELD_NUMBER: _ClassVar[int]
    name: str
    base: str
    base_rev: int
    def __init__(self, name: _Optional[str] = ..., base: _Optional[str] = ..., base_rev: _Optional[int] = ...) -> None: ...

class ForkWorkspaceRequest(_message.Message):
    __slots__ = ("source", "name", "version", "label")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    source: str
    name: str
    version: int
    label: str
    def __init__(self, source: _Optional[str] = ..., name: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class ListWorkspacesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListWorkspacesResponse(_message.Message):
    __slots__ = ("workspaces",)
    WORKSPACES_FIELD_NUMBER: _ClassVar[int]
    workspaces: _containers.RepeatedCompositeFieldContainer[Workspace]
    def __init__(self, workspaces: _Optional[_Iterable[_Union[Workspace, _Mapping]]] = ...) -> None: ...

class DescribeWorkspaceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteWorkspaceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteWorkspaceResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GrantRequest(_message.Message):
    __slots__ = ("workspace", "user", "access")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    user: str
    access: Access
    def __init__(self, workspace: _Optional[str] = ..., user: _Optional[str] = ..., access: _Optional[_Union[Access, str]] = ...) -> None: ...

class GrantResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("workspace", "path", "version", "label")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    path: bytes
    version: int
    label: str
    def __init__(self, workspace: _Optional[str] = ..., path: _Optional[bytes] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("entry", "version")
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    entry: Entry
    version: int
    def __init__(self, entry: _Optional[_Union[Entry, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class ListDirRequest(_message.Message):
    __slots__ = ("workspace", "path", "version", "label")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    path: bytes
    version: int
    label: str
    def __init__(self, workspace: _Optional[str] = ..., path: _Optional[bytes] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class ListDirResponse(_message.Message):
    __slots__ = ("entries", "version")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DirEntry]
    version: int
    def __init__(self, entries: _Optional[_Iterable[_Union[DirEntry, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class ReadObjectsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, ids: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ReadObjectsResponse(_message.Message):
    __slots__ = ("object",)
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    object: Object
    def __init__(self, object: _Optional[_Union[Object, _Mapping]] = ...) -> None: ...

class HasObjectsRequest(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, ids: _Optional[_Iterable[bytes]] = ...) -> None: ...

class HasObjectsResponse(_message.Message):
    __slots__ = ("missing",)
    MISSING_FIELD_NUMBER: _ClassVar[int]
    missing: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, missing: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PutObjectsRequest(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[Object]
    def __init__(self, objects: _Optional[_Iterable[_Union[Object, _Mapping]]] = ...) -> None: ...

class PutObjectsResponse(_message.Message):
    __slots__ = ("objects", "bytes")
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    objects: int
    bytes: int
    def __init__(self, objects: _Optional[int] = ..., bytes: _Optional[int] = ...) -> None: ...

class WriteFileOp(_message.Message):
    __slots__ = ("path", "entry")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    entry: Entry
    def __init__(self, path: _Optional[bytes] = ..., entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class MakeDirOp(_message.Message):
    __slots__ = ("path", "mode", "uid", "gid", "mtime_ns")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    def __init__(self, path: _Optional[bytes] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., mtime_ns: _Optional[int] = ...) -> None: ...

class SymlinkOp(_message.Message):
    __slots__ = ("path", "target", "uid", "gid", "mtime_ns")
    PATH_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    target: bytes
    uid: int
    gid: int
    mtime_ns: int
    def __init__(self, path: _Optional[bytes] = ..., target: _Optional[bytes] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., mtime_ns: _Optional[int] = ...) -> None: ...

class RemoveOp(_message.Message):
    __slots__ = ("path", "recursive", "must_be_dir")
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    MUST_BE_DIR_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    recursive: bool
    must_be_dir: bool
    def __init__(self, path: _Optional[bytes] = ..., recursive: _Optional[bool] = ..., must_be_dir: _Optional[bool] = ...) -> None: ...

class RenameOp(_message.Message):
    __slots__ = ("src", "dst", "no_replace")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    NO_REPLACE_FIELD_NUMBER: _ClassVar[int]
    src: bytes
    dst: bytes
    no_replace: bool
    def __init__(self, src: _Optional[bytes] = ..., dst: _Optional[bytes] = ..., no_replace: _Optional[bool] = ...) -> None: ...

class SetAttrOp(_message.Message):
    __slots__ = ("path", "mode", "uid", "gid", "mtime_ns", "atime_ns", "ctime_ns", "xattrs")
    PATH_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    GID_FIELD_NUMBER: _ClassVar[int]
    MTIME_NS_FIELD_NUMBER: _ClassVar[int]
    ATIME_NS_FIELD_NUMBER: _ClassVar[int]
    CTIME_NS_FIELD_NUMBER: _ClassVar[int]
    XATTRS_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    mode: int
    uid: int
    gid: int
    mtime_ns: int
    atime_ns: int
    ctime_ns: int
    xattrs: XattrList
    def __init__(self, path: _Optional[bytes] = ..., mode: _Optional[int] = ..., uid: _Optional[int] = ..., gid: _Optional[int] = ..., mtime_ns: _Optional[int] = ..., atime_ns: _Optional[int] = ..., ctime_ns: _Optional[int] = ..., xattrs: _Optional[_Union[XattrList, _Mapping]] = ...) -> None: ...

class MakeNodeOp(_message.Message):
    __slots__ = ("path", "entry")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ENTRY_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    entry: Entry
    def __init__(self, path: _Optional[bytes] = ..., entry: _Optional[_Union[Entry, _Mapping]] = ...) -> None: ...

class LinkOp(_message.Message):
    __slots__ = ("src", "dst", "link")
    SRC_FIELD_NUMBER: _ClassVar[int]
    DST_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    src: bytes
    dst: bytes
    link: bytes
    def __init__(self, src: _Optional[bytes] = ..., dst: _Optional[bytes] = ..., link: _Optional[bytes] = ...) -> None: ...

class Op(_message.Message):
    __slots__ = ("write_file", "make_dir", "symlink", "remove", "rename", "set_attr", "make_node", "link")
    WRITE_FILE_FIELD_NUMBER: _ClassVar[int]
    MAKE_DIR_FIELD_NUMBER: _ClassVar[int]
    SYMLINK_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    RENAME_FIELD_NUMBER: _ClassVar[int]
    SET_ATTR_FIELD_NUMBER: _ClassVar[int]
    MAKE_NODE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    write_file: WriteFileOp
    make_dir: MakeDirOp
    symlink: SymlinkOp
    remove: RemoveOp
    rename: RenameOp
    set_attr: SetAttrOp
    make_node: MakeNodeOp
    link: LinkOp
    def __init__(self, write_file: _Optional[_Union[WriteFileOp, _Mapping]] = ..., make_dir: _Optional[_Union[MakeDirOp, _Mapping]] = ..., symlink: _Optional[_Union[SymlinkOp, _Mapping]] = ..., remove: _Optional[_Union[RemoveOp, _Mapping]] = ..., rename: _Optional[_Union[RenameOp, _Mapping]] = ..., set_attr: _Optional[_Union[SetAttrOp, _Mapping]] = ..., make_node: _Optional[_Union[MakeNodeOp, _Mapping]] = ..., link: _Optional[_Union[LinkOp, _Mapping]] = ...) -> None: ...

class CommitRequest(_message.Message):
    __slots__ = ("workspace", "ops", "expected_version", "writer_id", "first_seq", "last_seq", "skip_failing_ops", "workspace_id", "objects")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    OPS_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    SKIP_FAILING_OPS_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    ops: _containers.RepeatedCompositeFieldContainer[Op]
    expected_version: int
    writer_id: bytes
    first_seq: int
    last_seq: int
    skip_failing_ops: bool
    workspace_id: int
    objects: _containers.RepeatedCompositeFieldContainer[Object]
    def __init__(self, workspace: _Optional[str] = ..., ops: _Optional[_Iterable[_Union[Op, _Mapping]]] = ..., expected_version: _Optional[int] = ..., writer_id: _Optional[bytes] = ..., first_seq: _Optional[int] = ..., last_seq: _Optional[int] = ..., skip_failing_ops: _Optional[bool] = ..., workspace_id: _Optional[int] = ..., objects: _Optional[_Iterable[_Union[Object, _Mapping]]] = ...) -> None: ...

class CommitResponse(_message.Message):
    __slots__ = ("workspace", "version", "lsn", "time_ns", "paths", "duplicate", "skipped")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LSN_FIELD_NUMBER: _ClassVar[int]
    TIME_NS_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    version: int
    lsn: int
    time_ns: int
    paths: _containers.RepeatedScalarFieldContainer[bytes]
    duplicate: bool
    skipped: _containers.RepeatedCompositeFieldContainer[SkippedOp]
    def __init__(self, workspace: _Optional[str] = ..., version: _Optional[int] = ..., lsn: _Optional[int] = ..., time_ns: _Optional[int] = ..., paths: _Optional[_Iterable[bytes]] = ..., duplicate: _Optional[bool] = ..., skipped: _Optional[_Iterable[_Union[SkippedOp, _Mapping]]] = ...) -> None: ...

class SkippedOp(_message.Message):
    __slots__ = ("index", "error")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    index: int
    error: CommitError
    def __init__(self, index: _Optional[int] = ..., error: _Optional[_Union[CommitError, _Mapping]] = ...) -> None: ...

class WriterProgressRequest(_message.Message):
    __slots__ = ("workspace", "writer_id")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    writer_id: bytes
    def __init__(self, workspace: _Optional[str] = ..., writer_id: _Optional[bytes] = ...) -> None: ...

class WriterProgressResponse(_message.Message):
    __slots__ = ("last_seq", "version")
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    last_seq: int
    version: int
    def __init__(self, last_seq: _Optional[int] = ..., version: _Optional[int] = ...) -> None: ...

class CommitError(_message.Message):
    __slots__ = ("code", "message", "error", "conflict_paths")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    CONFLICT_PATHS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    error: str
    conflict_paths: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., error: _Optional[str] = ..., conflict_paths: _Optional[_Iterable[bytes]] = ...) -> None: ...

class CommitStreamResponse(_message.Message):
    __slots__ = ("committed", "error")
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    committed: CommitResponse
    error: CommitError
    def __init__(self, committed: _Optional[_Union[CommitResponse, _Mapping]] = ..., error: _Optional[_Union[CommitError, _Mapping]] = ...) -> None: ...

class VersionsRequest(_message.Message):
    __slots__ = ("workspace", "start")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    start: int
    def __init__(self, workspace: _Optional[str] = ..., start: _Optional[int] = ...) -> None: ...

class VersionsResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[VersionInfo]
    def __init__(self, versions: _Optional[_Iterable[_Union[VersionInfo, _Mapping]]] = ...) -> None: ...

class ChangesRequest(_message.Message):
    __slots__ = ("workspace", "since")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    since: int
    def __init__(self, workspace: _Optional[str] = ..., since: _Optional[int] = ...) -> None: ...

class ChangesResponse(_message.Message):
    __slots__ = ("workspace", "since", "version", "paths", "truncated")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    since: int
    version: int
    paths: _containers.RepeatedScalarFieldContainer[bytes]
    truncated: bool
    def __init__(self, workspace: _Optional[str] = ..., since: _Optional[int] = ..., version: _Optional[int] = ..., paths: _Optional[_Iterable[bytes]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class WatchTarget(_message.Message):
    __slots__ = ("workspace", "known_version")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    KNOWN_VERSION_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    known_version: int
    def __init__(self, workspace: _Optional[str] = ..., known_version: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ("targets",)
    TARGETS_FIELD_NUMBER: _ClassVar[int]
    targets: _containers.RepeatedCompositeFieldContainer[WatchTarget]
    def __init__(self, targets: _Optional[_Iterable[_Union[WatchTarget, _Mapping]]] = ...) -> None: ...

class WatchEvent(_message.Message):
    __slots__ = ("workspace", "version", "deleted", "heartbeat")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    version: int
    deleted: bool
    heartbeat: bool
    def __init__(self, workspace: _Optional[str] = ..., version: _Optional[int] = ..., deleted: _Optional[bool] = ..., heartbeat: _Optional[bool] = ...) -> None: ...

class LabelRequest(_message.Message):
    __slots__ = ("workspace", "label", "version", "replace")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    REPLACE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    label: str
    version: int
    replace: bool
    def __init__(self, workspace: _Optional[str] = ..., label: _Optional[str] = ..., version: _Optional[int] = ..., replace: _Optional[bool] = ...) -> None: ...

class UnlabelRequest(_message.Message):
    __slots__ = ("workspace", "label")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    label: str
    def __init__(self, workspace: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class UnlabelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLabelsRequest(_message.Message):
    __slots__ = ("workspace",)
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    def __init__(self, workspace: _Optional[str] = ...) -> None: ...

class ListLabelsResponse(_message.Message):
    __slots__ = ("labels",)
    LABELS_FIELD_NUMBER: _ClassVar[int]
    labels: _containers.RepeatedCompositeFieldContainer[LabelInfo]
    def __init__(self, labels: _Optional[_Iterable[_Union[LabelInfo, _Mapping]]] = ...) -> None: ...

class FreezeRequest(_message.Message):
    __slots__ = ("workspace", "version", "label")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    version: int
    label: str
    def __init__(self, workspace: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class FreezeResponse(_message.Message):
    __slots__ = ("tree",)
    TREE_FIELD_NUMBER: _ClassVar[int]
    tree: bytes
    def __init__(self, tree: _Optional[bytes] = ...) -> None: ...

class DiffRequest(_message.Message):
    __slots__ = ("a", "b")
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    a: Ref
    b: Ref
    def __init__(self, a: _Optional[_Union[Ref, _Mapping]] = ..., b: _Optional[_Union[Ref, _Mapping]] = ...) -> None: ...

class DiffEntry(_message.Message):
    __slots__ = ("path", "change", "old", "new", "old_path")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    OLD_FIELD_NUMBER: _ClassVar[int]
    NEW_FIELD_NUMBER: _ClassVar[int]
    OLD_PATH_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    change: Change
    old: Entry
    new: Entry
    old_path: bytes
    def __init__(self, path: _Optional[bytes] = ..., change: _Optional[_Union[Change, str]] = ..., old: _Optional[_Union[Entry, _Mapping]] = ..., new: _Optional[_Union[Entry, _Mapping]] = ..., old_path: _Optional[bytes] = ...) -> None: ...

class DiffResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[DiffEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[DiffEntry, _Mapping]]] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("workspace", "to_rev", "refuse_conflicts")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    TO_REV_FIELD_NUMBER: _ClassVar[int]
    REFUSE_CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    to_rev: int
    refuse_conflicts: bool
    def __init__(self, workspace: _Optional[str] = ..., to_rev: _Optional[int] = ..., refuse_conflicts: _Optional[bool] = ...) -> None: ...

class SyncResponse(_message.Message):
    __slots__ = ("version", "base_rev", "conflicts")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BASE_REV_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    version: int
    base_rev: int
    conflicts: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, version: _Optional[int] = ..., base_rev: _Optional[int] = ..., conflicts: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubmitRequest(_message.Message):
    __slots__ = ("workspace", "message")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    message: str
    def __init__(self, workspace: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class SubmitResponse(_message.Message):
    __slots__ = ("revision", "version")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    revision: BaseRevision
    version: int
    def __init__(self, revision: _Optional[_Union[BaseRevision, _Mapping]] = ..., version: _Optional[int] = ...) -> None: ...

class RestoreRequest(_message.Message):
    __slots__ = ("workspace", "version", "label")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    version: int
    label: str
    def __init__(self, workspace: _Optional[str] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class RevertRequest(_message.Message):
    __slots__ = ("workspace", "paths", "version", "label")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    PATHS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    paths: _containers.RepeatedScalarFieldContainer[bytes]
    version: int
    label: str
    def __init__(self, workspace: _Optional[str] = ..., paths: _Optional[_Iterable[bytes]] = ..., version: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class SetRetentionRequest(_message.Message):
    __slots__ = ("workspace", "keep")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    KEEP_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    keep: int
    def __init__(self, workspace: _Optional[str] = ..., keep: _Optional[int] = ...) -> None: ...

class SetRetentionResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GCRequest(_message.Message):
    __slots__ = ("dry_run",)
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    def __init__(self, dry_run: _Optional[bool] = ...) -> None: ...

class VerifyRequest(_message.Message):
    __slots__ = ("rebuild", "skip_objects")
    REBUILD_FIELD_NUMBER: _ClassVar[int]
    SKIP_OBJECTS_FIELD_NUMBER: _ClassVar[int]
    rebuild: bool
    skip_objects: bool
    def __init__(self, rebuild: _Optional[bool] = ..., skip_objects: _Optional[bool] = ...) -> None: ...

class VerifyResponse(_message.Message):
    __slots__ = ("records", "first_lsn", "last_lsn", "objects", "corrupt", "missing", "rebuilt")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    FIRST_LSN_FIELD_NUMBER: _ClassVar[int]
    LAST_LSN_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    CORRUPT_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    REBUILT_FIELD_NUMBER: _ClassVar[int]
    records: int
    first_lsn: int
    last_lsn: int
    objects: int
    corrupt: _containers.RepeatedScalarFieldContainer[bytes]
    missing: _containers.RepeatedScalarFieldContainer[bytes]
    rebuilt: bool
    def __init__(self, records: _Optional[int] = ..., first_lsn: _Optional[int] = ..., last_lsn: _Optional[int] = ..., objects: _Optional[int] = ..., corrupt: _Optional[_Iterable[bytes]] = ..., missing: _Optional[_Iterable[bytes]] = ..., rebuilt: _Optional[bool] = ...) -> None: ...

class GCResponse(_message.Message):
    __slots__ = ("dry_run", "versions_pruned", "objects_freed", "bytes_freed", "objects_live")
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_PRUNED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FREED_FIELD_NUMBER: _ClassVar[int]
    BYTES_FREED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_LIVE_FIELD_NUMBER: _ClassVar[int]
    dry_run: bool
    versions_pruned: int
    objects_freed: int
    bytes_freed: int
    objects_live: int
    def __init__(self, dry_run: _Optional[bool] = ..., versions_pruned: _Optional[int] = ..., objects_freed: _Optional[int] = ..., bytes_freed: _Optional[int] = ..., objects_live: _Optional[int] = ...) -> None: ...

class SetRedirectionsRequest(_message.Message):
    __slots__ = ("workspace", "add", "remove")
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    add: _containers.RepeatedScalarFieldContainer[bytes]
    remove: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, workspace: _Optional[str] = ..., add: _Optional[_Iterable[bytes]] = ..., remove: _Optional[_Iterable[bytes]] = ...) -> None: ...

class ListRedirectionsRequest(_message.Message):
    __slots__ = ("workspace",)
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    workspace: str
    def __init__(self, workspace: _Optional[str] = ...) -> None: ...

class RedirectionsResponse(_message.Message):
    __slots__ = ("paths", "version")
    PATHS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    paths: _containers.RepeatedScalarFieldContainer[bytes]
    version: int
    def __init__(self, paths: _Optional[_Iterable[bytes]] = ..., version: _Optional[int] = ...) -> None: ...
