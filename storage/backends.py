"""Which engines hold a database: the `--kv` and `--objects` URLs, opened.

- key-value store (the log and its indexes):
  ``lmdb`` (the default: ``<data dir>/log``), ``lmdb:///path``, or
  ``etcd://host:port[,host:port...][/prefix][?max_txn_ops=N&max_request_bytes=N]``;
- object store: ``local`` (the default: ``<data dir>/objects``), ``file:///path``, or
  ``s3://bucket[/prefix]?endpoint=http://host:port`` (`storage.s3_backend`).

Parsing is separate from opening, so a bad URL is refused before anything starts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from citcfs.errors import InvalidArgument

from . import keys
from .backend import KVStore, ObjectStore
from .etcd_backend import (DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS, EtcdKVStore,
                           EtcdSettings)
from .etcd_client import parse_endpoints
from .lmdb_backend import LmdbKVStore, LmdbObjectStore


@dataclass(frozen=True, slots=True)
class KVLocation:
    """A parsed `--kv` URL: LMDB at `path` (None: the data directory's), or etcd."""

    scheme: str
    path: str | None = None
    etcd: EtcdSettings | None = None

    @property
    def shared(self) -> bool:
        """Whether several servers may serve this store at once."""
        return self.scheme == "etcd"


def parse_kv(url: str | None) -> KVLocation:
    if url is None or url in ("", "lmdb"):
        return KVLocation("lmdb")
    parts = urlsplit(url)
    if parts.scheme == "lmdb":
        if not parts.path or parts.netloc:
            raise InvalidArgument(f"an LMDB store is lmdb:///path, not {url!r}")
        return KVLocation("lmdb", unquote(parts.path))
    if parts.scheme == "etcd":
        endpoints = parse_endpoints(parts.netloc)
        prefix = unquote(parts.path).strip("/")
        query = parse_qs(parts.query, strict_parsing=False)
        unknown = set(query) - {"max_txn_ops", "max_request_bytes"}
        if unknown:
            raise InvalidArgument(f"unknown etcd setting(s) {sorted(unknown)} in {url!r}")
        try:
            ops = int(query.get("max_txn_ops", [DEFAULT_MAX_TXN_OPS])[-1])
            size = int(query.get("max_request_bytes", [DEFAULT_MAX_REQUEST_BYTES])[-1])
        except ValueError:
            raise InvalidArgument(f"etcd limits are whole numbers: {url!r}") from None
        settings = EtcdSettings(tuple(endpoints), (prefix or "citc").encode() + b"/", ops, size)
        settings.check()
        return KVLocation("etcd", etcd=settings)
    raise InvalidArgument(f"unknown key-value store {url!r}: use lmdb or etcd://host:port,...")


@dataclass(frozen=True, slots=True)
class ObjectsLocation:
    """Where objects live: an LMDB store (`path`, or in the data directory when None)
    or S3 (`s3_url`, ``s3://bucket[/prefix]?endpoint=...``)."""

    path: str | None = None
    s3_url: str | None = None


def parse_objects(url: str | None) -> ObjectsLocation:
    """The object store an `--objects` URL names; InvalidArgument if malformed."""
    if url is None or url in ("", "local"):
        return ObjectsLocation()
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.path and not parts.netloc:
        return ObjectsLocation(path=unquote(parts.path))
    if parts.scheme == "s3":
        _s3_backend().S3Location.parse(url)
        return ObjectsLocation(s3_url=url)
    raise InvalidArgument(f"unknown object store {url!r}: use local, file:///path or "
                          "s3://bucket[/prefix]?endpoint=http://host:port")


def _s3_backend() -> Any:
    """storage.s3_backend, imported on first use: boto3 is needed only for S3."""
    try:
        from . import s3_backend
    except ImportError as exc:
        raise InvalidArgument(f"s3:// object stores need boto3 ({exc}): "
                              "pip install 'citcfs[s3]'") from None
    return s3_backend


def open_kv(url: str | None, data_dir: str, *, sync: bool = True,
            map_size: int | None = None) -> KVStore:
    """The key-value store `url` names (LMDB under `data_dir` by default)."""
    location = parse_kv(url)
    if location.etcd is not None:
        return EtcdKVStore(location.etcd, keys.ALL_TABLES)
    extra = {} if map_size is None else {"map_size": map_size}
    return LmdbKVStore(location.path or os.path.join(data_dir, "log"), keys.ALL_TABLES,
                       sync=sync, **extra)


def open_objects(url: str | None, data_dir: str, *, sync: bool = True,
                 map_size: int | None = None) -> ObjectStore:
    """The object store `url` names (LMDB under `data_dir` by default)."""
    location = parse_objects(url)
    if location.s3_url is not None:
        store: ObjectStore = _s3_backend().S3ObjectStore.from_url(location.s3_url)
        return store
    extra = {} if map_size is None else {"map_size": map_size}
    return LmdbObjectStore(location.path or os.path.join(data_dir, "objects"), sync=sync,
                           **extra)
