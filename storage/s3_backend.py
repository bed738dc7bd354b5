"""An ObjectStore in an S3 bucket, so that any number of servers share one object store.

Layout: one S3 object per citcfs object, at key ``<prefix><id in hex>``, holding the
kind byte followed by the content (the value format of the LMDB store). Hex ids sort
as the ids do, so a listing comes back in id order, and their random first characters
spread the keys over the bucket's partitions.

Reads: objects never change, so a verified object read once is kept in a bounded
in-memory LRU (`storage.object_lru`) and served from there; no server ever needs to
tell another anything about it. Every GET from S3 is verified against its id.

Failures: a call that cannot reach S3 (connection refused or reset, a timeout, a 5xx
answer such as SeaweedFS's "no writable volumes" while it starts) is retried with
backoff for up to `retry_seconds`, then fails with Unavailable. A missing key is
ObjectMissing at once.

Garbage collection with several servers uploading at once (see docs/architecture.md,
"Objects in S3"): GC may delete an object only if nothing referenced it when it marked
AND its S3 LastModified is older than the grace period, measured on S3's own clock (the
Date header), so no server's clock matters. An upload always PUTs, which sets
LastModified; `has` re-stamps (copies onto itself) an object older than half the grace
period before answering that it is there, because a client that hears "present" skips
the upload and commits a reference to it. So any object a commit can name was stamped
within half the grace period before the commit checked it; and `sweep` looks at each
candidate's LastModified once more just before deleting it.
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.exceptions
from botocore import UNSIGNED
from botocore.config import Config

from citcfs.errors import (CitcError, CorruptObject, FailedPrecondition, InvalidArgument,
                           ObjectMissing, PermissionDenied, Unavailable)
from citcfs.objects import (ID_SIZE, ObjectId, ObjectKind, StoredObject, object_id,
                            stored_content)

from .object_lru import DEFAULT_LRU_BYTES, ObjectLru

T = TypeVar("T")

DEFAULT_GRACE = 3600.0
"""Seconds an object stays safe from GC after it was uploaded or re-stamped. A client
must commit within half of it after asking which objects the server has."""
DEFAULT_RETRY_SECONDS = 60.0
"""How long one call keeps retrying an S3 server that does not answer."""
THREADS = 16
DELETE_BATCH = 1000  # S3's limit per DeleteObjects request

_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def _client(where: "S3Location") -> Any:
    """A boto3 S3 client for `where`. One session serves the process: a session loads
    botocore's service data (half a second), its clients then take a few ms."""
    global _session
    with _session_lock:  # sessions are not safe to share between threads unlocked
        if _session is None:
            _session = boto3.session.Session()
        signed = _session.get_credentials() is not None
        # One attempt per call: `S3ObjectStore._call` retries, with its own deadline.
        config = Config(max_pool_connections=THREADS * 2, connect_timeout=2, read_timeout=30,
                        retries={"max_attempts": 1, "mode": "standard"},
                        **({} if signed else {"signature_version": UNSIGNED}))
        return _session.client("s3", endpoint_url=where.endpoint,
                               region_name=where.region or "us-east-1", config=config)


_TRANSIENT_CODES = {"InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout",
                    "503", "500", "502", "504"}


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where objects live, parsed from ``s3://bucket[/prefix][?options]``.

    Options: ``endpoint`` (the S3 server's URL; AWS when absent), ``region``,
    ``grace`` (seconds, `DEFAULT_GRACE`), ``cache_mb`` (the in-memory LRU).
    Credentials come from the environment as for every AWS tool (AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY, profiles); with none, requests go unsigned.
    """

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    grace: float = DEFAULT_GRACE
    cache_bytes: int = DEFAULT_LRU_BYTES

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidArgument(f"an object store URL is s3://bucket[/prefix][?endpoint=...], "
                                  f"not {url!r}")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"endpoint", "region", "grace", "cache_mb"}
        if unknown:
            raise InvalidArgument(f"unknown option(s) {', '.join(sorted(unknown))} in {url!r}")
        one = {name: values[-1] for name, values in query.items()}
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        try:
            grace = float(one.get("grace", DEFAULT_GRACE))
            cache_bytes = int(float(one.get("cache_mb", DEFAULT_LRU_BYTES >> 20)) * (1 << 20))
        except ValueError:
            raise InvalidArgument(f"grace and cache_mb are numbers in {url!r}") from None
        if grace < 0 or cache_bytes < 0:
            raise InvalidArgument(f"grace and cache_mb are not negative in {url!r}")
        endpoint = one.get("endpoint") or None
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise InvalidArgument(f"the endpoint is an http(s) URL in {url!r}")
        return cls(parts.netloc, prefix, endpoint, one.get("region") or None, grace,
                   cache_bytes)


def _key_id(key: str, prefix: str) -> ObjectId | None:
    """The id a listed key names, or None for a key that is not an object's."""
    name = key[len(prefix):]
    if len(name) != 2 * ID_SIZE:
        return None
    try:
        return ObjectId(bytes.fromhex(name))
    except ValueError:
        return None


def _server_time(response: dict[str, Any]) -> datetime:
    """The S3 server's clock, from the Date header of one of its answers."""
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    return email.utils.parsedate_to_datetime(headers["date"])


def _is_missing(exc: botocore.exceptions.ClientError) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound")


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, botocore.exceptions.ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in _TRANSIENT_CODES or int(status or 0) >= 500
    return isinstance(exc, (botocore.exceptions.HTTPClientError,
                            botocore.exceptions.ConnectionError,
                            botocore.exceptions.IncompleteReadError, OSError))


def _refused(bucket: str, what: str, exc: botocore.exceptions.ClientError) -> CitcError:
    """Our error for an answer that retrying will not change."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    if code == "NoSuchBucket":
        return FailedPrecondition(f"the object store's bucket {bucket} does not exist")
    if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return PermissionDenied(f"the object store refused {what} in {bucket}: {code}")
    return Unavailable(f"the object store refused {what} in {bucket}: {code or exc}")


class S3ObjectStore:
    """Content-addressed objects in an S3 bucket (see the module doc)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", *,
                 grace: float = DEFAULT_GRACE, cache_bytes: int = DEFAULT_LRU_BYTES,
                 retry_seconds: float = DEFAULT_RETRY_SECONDS) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.grace = grace
        self.retry_seconds = retry_seconds
        self.cache = ObjectLru(cache_bytes)
        self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="citc-s3")
        self._closed = threading.Event()
        self.retries = 0
        self.url = f"s3://{bucket}/{prefix}"
        """Where the store is; `from_url` keeps the URL it was given, options and all."""

    @classmethod
    def from_url(cls, url: str, *, retry_seconds: float = DEFAULT_RETRY_SECONDS
                 ) -> "S3ObjectStore":
        """A store for ``s3://bucket[/prefix]?endpoint=http://host:port`` (see
        `S3Location` for the options). The bucket must exist."""
        where = S3Location.parse(url)
        store = cls(_client(where), where.bucket, where.prefix, grace=where.grace,
                    cache_bytes=where.cache_bytes, retry_seconds=retry_seconds)
        store.url = url
        return store

    def _key(self, oid: ObjectId) -> str:
        return self.prefix + bytes(oid).hex()

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """`fn()`, retried while S3 is unreachable, up to `retry_seconds`."""
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        while True:
            try:
                return fn()
            except botocore.exceptions.ClientError as exc:
                if not _is_transient(exc) or self._closed.is_set():
                    raise _refused(self.bucket, what, exc) from exc
                failure: Exception = exc
            except Exception as exc:
                if not _is_transient(exc) or self._closed.is_set():
                    raise
                failure = exc
            if time.monotonic() + delay > deadline:
                raise Unavailable(f"the object store at {self.bucket} did not answer "
                                  f"{what}: {failure}") from failure
            self.retries += 1
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    # --- put and get ------------------------------------------------------------------

    def put(self, kind: ObjectKind, content: bytes, oid: ObjectId | None = None) -> ObjectId:
        return self.put_many([(kind, content, oid)])[0]

    def put_many(self, items: Iterable[StoredObject]) -> list[ObjectId]:
        """Verify every item, then upload them in parallel (each PUT also stamps the
        object's LastModified, which keeps it from GC for the grace period)."""
        prepared: list[tuple[ObjectId, bytes]] = []
        for kind, content, given in items:
            actual = object_id(kind, content)
            if given is not None and given != actual:
                raise CorruptObject(f"object {bytes(given).hex()} does not match its content")
            prepared.append((actual, bytes((kind,)) + bytes(content)))
        unique = dict(prepared)

        def upload(oid: ObjectId, value: bytes) -> None:
            self._call("a put", lambda: self.client.put_object(
                Bucket=self.bucket, Key=self._key(oid), Body=value))
        list(self._pool.map(lambda item: upload(*item), unique.items()))
        return [oid for oid, _ in prepared]

    def get(self, oid: ObjectId, kind: ObjectKind | None = None) -> bytes:
        cached = self.cache.get(oid)
        if cached is not None:
            if kind is not None and cached[0] != kind:
                raise CorruptObject(f"object {bytes(oid).hex()} is not a {kind.name.lower()}")
            return cached[1]
        stored_kind, content = stored_content(oid, self._read(oid), kind)
        self.cache.put(oid, stored_kind, content)
        return content

    def _read(self, oid: ObjectId) -> bytes:
        """The stored bytes of `oid`: the body is read inside the retry, so a server that
        goes away mid-body is asked again."""
        def fetch() -> bytes:
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self._key(oid))
            except botocore.exceptions.ClientError as exc:
                if _is_missing(exc):
                    raise ObjectMissing(f"object {bytes(oid).hex()} is not in the store") from None
                raise
            return bytes(answer["Body"].read())
        return self._call("a read", fetch)

    # --- presence, stamps and deletion ------------------------------------------------

    def _head(self, oid: ObjectId) -> tuple[datetime, datetime] | None:
        """(LastModified, S3's clock now) of `oid`, or None if it is absent."""
        def head() -> tuple[datetime, datetime] | None:
            try:
                answer = self.client.head_object(Bucket=self.bucket, Key=self._key(oid))
            except botocore.exceptions.ClientError as exc:
                if _is_missing(exc):
                    return None
                raise
            return answer["LastModified"], _server_time(answer)
        return self._call("a presence check", head)

    def _stamp(self, oid: ObjectId) -> None:
        """Set `oid`'s LastModified to now by copying it onto itself."""
        key = self._key(oid)
        self._call("a re-stamp", lambda: self.client.copy_object(
            Bucket=self.bucket, Key=key, CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE", Metadata={"stamped": str(time.time_ns())}))

    def has(self, oids: Iterable[ObjectId]) -> list[bool]:
        """Whether each object is stored. One found but older than half the grace
        period is re-stamped first: the caller may be about to commit a reference to
        it instead of uploading it (see the module doc)."""
        wanted = [ObjectId(bytes(oid)) for oid in oids]

        def check(oid: ObjectId) -> bool:
            if len(oid) != ID_SIZE:
                return False
            found = self._head(oid)
            if found is None:
                return False
            modified, now = found
            if modified < now - timedelta(seconds=self.grace / 2):
                self._stamp(oid)
            return True
        return list(self._pool.map(check, wanted))

    def delete(self, oids: Iterable[ObjectId]) -> int:
        """Remove objects whatever their age; how many were stored."""
        wanted = list(dict.fromkeys(ObjectId(bytes(oid)) for oid in oids
                                    if len(oid) == ID_SIZE))
        present = [oid for oid, head in zip(wanted, self._pool.map(self._head, wanted))
                   if head is not None]
        self._remove(present)
        return len(present)

    def _remove(self, oids: list[ObjectId]) -> None:
        self.cache.drop(oids)
        for start in range(0, len(oids), DELETE_BATCH):
            batch = [{"Key": self._key(oid)} for oid in oids[start:start + DELETE_BATCH]]
            self._delete_keys(batch)

    def _delete_keys(self, batch: list[dict[str, str]]) -> None:
        self._call("a delete", lambda: self.client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}))

    def sweepable(self) -> Iterator[tuple[ObjectId, int, bool]]:
        """(id, size, GC may take it) of every object: only objects whose LastModified
        is older than the grace period on S3's clock may be taken."""
        listed, now = self._list()
        cutoff = now - timedelta(seconds=self.grace)
        return iter([(oid, size, modified <= cutoff) for oid, size, modified in listed])

    def sweep(self, oids: Iterable[ObjectId]) -> list[ObjectId]:
        """Delete garbage that GC found, except objects uploaded or re-stamped within
        the grace period (looked at again now, one by one); the ids deleted."""
        wanted = list(dict.fromkeys(oids))

        def old(oid: ObjectId) -> bool:
            found = self._head(oid)
            return found is not None and found[0] <= found[1] - timedelta(seconds=self.grace)
        doomed = [oid for oid, gone in zip(wanted, self._pool.map(old, wanted)) if gone]
        self._remove(doomed)
        return doomed

    # --- listings ---------------------------------------------------------------------

    def _list(self) -> tuple[list[tuple[ObjectId, int, datetime]], datetime]:
        """Every object as (id, content size, LastModified), and S3's clock when the
        listing began."""
        def listing() -> tuple[list[tuple[ObjectId, int, datetime]], datetime]:
            found: list[tuple[ObjectId, int, datetime]] = []
            now: datetime | None = None
            token: str | None = None
            while True:
                extra = {"ContinuationToken": token} if token else {}
                page = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix,
                                                   **extra)
                now = now or _server_time(page)
                for item in page.get("Contents", ()):
                    oid = _key_id(item["Key"], self.prefix)
                    if oid is not None:
                        found.append((oid, max(0, int(item["Size"]) - 1), item["LastModified"]))
                if not page.get("IsTruncated"):
                    break
                token = page["NextContinuationToken"]
            found.sort()
            return found, now
        return self._call("a listing", listing)

    def ids(self) -> Iterator[ObjectId]:
        return iter([oid for oid, _, _ in self._list()[0]])

    def sizes(self) -> Iterator[tuple[ObjectId, int]]:
        return iter([(oid, size) for oid, size, _ in self._list()[0]])

    def stats(self) -> tuple[int, int]:
        listed = self._list()[0]
        return len(listed), sum(size for _, size, _ in listed)

    # --- closing ---------------------------------------------------------------------

    def close(self) -> None:
        self._closed.set()
        self._pool.shutdown(wait=True)
        self.client.close()
