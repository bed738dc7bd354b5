"""Object ids: content addresses of immutable chunks and trees.

An object's id is BLAKE3-256 over a one-byte kind tag followed by its content, so a
chunk and a tree with the same bytes have different ids, and nobody can plant content
under an id they did not compute. Ids are checked whenever bytes cross a trust
boundary: on upload, on every read from a store, and on insert into a client cache.
"""

from __future__ import annotations

import enum
from typing import NewType

import blake3

from .errors import CorruptObject, InvalidArgument

ObjectId = NewType("ObjectId", bytes)

ID_SIZE = 32
CHUNK_SIZE = 1 << 20
"""File content is cut into chunks of this many bytes (the last one may be shorter)."""
INLINE_MAX = 4096
"""Files of at most this many bytes live inside their entry instead of in chunks."""


class ObjectKind(enum.IntEnum):
    """What an object holds; the value is the tag byte hashed before the content."""

    CHUNK = 1
    TREE = 2


StoredObject = tuple[ObjectKind, bytes, ObjectId | None]
"""An object as every `put_many` takes it, in one order everywhere (the stores, the
client's cache, uploads): kind, content, id (checked if given, computed if None)."""

KnownObject = tuple[ObjectKind, bytes, ObjectId]
"""A `StoredObject` whose id its maker already computed (hashing happens once)."""


def object_id(kind: ObjectKind, content: bytes | memoryview) -> ObjectId:
    """The id of `content` stored as an object of `kind`."""
    hasher = blake3.blake3(bytes((kind,)))
    hasher.update(content)
    return ObjectId(hasher.digest())


def verify(kind: ObjectKind, oid: bytes, content: bytes | memoryview) -> None:
    """Raise CorruptObject unless `content` hashes to `oid`."""
    if object_id(kind, content) != oid:
        raise CorruptObject(f"object {oid.hex()} does not match its content")


def check_id(oid: bytes) -> ObjectId:
    """Return `oid` as an ObjectId, or raise InvalidArgument if it is malformed."""
    if not isinstance(oid, (bytes, bytearray)) or len(oid) != ID_SIZE:
        raise InvalidArgument("an object id is 32 bytes")
    return ObjectId(bytes(oid))


def split_chunks(data: bytes | memoryview) -> list[bytes]:
    """Cut file content into CHUNK_SIZE pieces (an empty file has no chunks)."""
    view = memoryview(data)
    return [bytes(view[i:i + CHUNK_SIZE]) for i in range(0, len(view), CHUNK_SIZE)]


def stored_content(oid: ObjectId, value: bytes,
                   kind: ObjectKind | None = None) -> tuple[ObjectKind, bytes]:
    """(kind, content) of an object as stores keep it (a kind byte, then the
    content), checked against its id and, when given, the kind asked for: every
    store's reads end here, so a damaged or misfiled object is CorruptObject."""
    stored_kind = value[0] if value else 0
    content = value[1:]
    if stored_kind not in ObjectKind.__members__.values():
        raise CorruptObject(f"object {bytes(oid).hex()} has an unknown kind tag")
    if kind is not None and stored_kind != kind:
        raise CorruptObject(f"object {bytes(oid).hex()} is not a {kind.name.lower()}")
    if object_id(ObjectKind(stored_kind), content) != oid:
        raise CorruptObject(f"object {bytes(oid).hex()} does not match its content")
    return ObjectKind(stored_kind), content
