"""The object storage service (``hub.object``): Swift semantics on top of an :class:`ObjectBackend`.

The backend stores accounts, containers and objects; this service adds what a
Swift proxy adds: who may do what (project accounts, reseller admins, container
ACLs, TempURL grants), names and metadata limits, quotas, expiry, large objects
(DLO ``X-Object-Manifest`` and SLO ``multipart-manifest``), copies, versioned
writes and bulk delete. The API frontend only translates HTTP to these calls.

Two layers of methods:

* the backend's own signatures (``put_container``, ``put_object``, ``get_object``,
  ``head_object``, ``delete_object``...) -- trusted kernel callers such as the
  image service's object store; no access checks, names and expiry still apply;
* ``account_*``, ``container_*``, ``object_*``, ``slo_*``, ``bulk_delete`` -- for API
  requests, each taking a :class:`Caller` and enforcing access.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import mimetypes
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, unquote

import cumulo.services.object.acl as acl
import cumulo.services.object.tempurl as tempurl
from cumulo import exception, registry
from cumulo.context import RequestContext
from cumulo.interfaces.object import ObjectBackend, ObjectError, ObjectInfo, ObjectNotFound
from cumulo.services.object.constraints import (
    SwiftError,
    check_container_name,
    check_metadata,
    check_object_name,
    ci_get,
    ci_merge,
    limits,
)
from cumulo.wsgi.request import parse_json

LOG = logging.getLogger(__name__)

#: Object headers kept with the object besides X-Object-Meta-* (returned on GET/HEAD).
OBJECT_HEADERS = ("Content-Disposition", "Content-Encoding", "Content-Language", "Cache-Control", "Expires",
                  "X-Robots-Tag", "X-Delete-At", "X-Object-Manifest", "X-Static-Large-Object")
SLO_ETAG = "X-Object-Sysmeta-Slo-Etag"
SLO_SIZE = "X-Object-Sysmeta-Slo-Size"
MAX_MANIFEST_DEPTH = 10
POLICY = "Policy-0"
#: Metadata shown only to those who may write the account (Swift's ``swift_owner_headers``): the
#: TempURL keys sign writes and deletes, the ACLs say who else gets in. Readers never see them.
OWNER_ONLY_METADATA = frozenset({
    "x-account-meta-temp-url-key", "x-account-meta-temp-url-key-2",
    "x-container-meta-temp-url-key", "x-container-meta-temp-url-key-2",
    "x-container-read", "x-container-write", "x-container-sync-key", "x-container-sync-to",
    "x-account-access-control",
})


@dataclasses.dataclass
class Caller:
    """Who is asking: a token's context (or none), the Referer, and a TempURL grant if any."""

    ctx: RequestContext | None = None
    referrer: str | None = None
    remote_addr: str | None = None
    tempurl: tempurl.Grant | None = None


@dataclasses.dataclass
class Segment:
    container: str
    obj: str
    offset: int  # where the used bytes start inside the segment's content
    length: int
    sub_slo: bool = False


@dataclasses.dataclass
class Resolved:
    """An object ready to be served: the stored object plus its content (segments for manifests)."""

    account: str
    container: str
    obj: str
    info: ObjectInfo
    size: int
    etag: str  # as sent in the Etag header (quoted for manifests)
    kind: str  # "plain", "dlo" or "slo"
    reader: Callable[[int, int], Iterator[bytes]]
    manifest: list[dict[str, Any]] | None = None  # the stored SLO manifest (multipart-manifest=get)

    def close(self) -> None:
        """Release an opened body that will not be read (304, 412, 416, HEAD)."""

    @property
    def headers(self) -> dict[str, str]:
        """Stored headers to return: user metadata and the kept object headers."""
        out = {}
        for key, value in self.info.metadata.items():
            low = key.lower()
            if low.startswith("x-object-meta-") or low in _OBJECT_HEADERS_LOWER:
                out[key] = value
        return out


_OBJECT_HEADERS_LOWER = {h.lower() for h in OBJECT_HEADERS}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on", "t", "y")


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def timestamp(ts: float) -> str:
    return f"{ts:016.5f}"


class Service:
    """The object service. Errors: :class:`SwiftError` (any status), kernel errors, backend ``ObjectError``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.backend: ObjectBackend = registry.load_driver("object", self.conf.object.backend, conf=self.conf)

    # ================================================================ backend-signature layer
    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        check_container_name(container, self.conf)
        return self.backend.put_container(account, container, metadata)

    def head_container(self, account: str, container: str) -> dict[str, Any]:
        return self.backend.head_container(account, container)

    def delete_container(self, account: str, container: str) -> None:
        self.backend.delete_container(account, container)

    def list_objects(self, account: str, container: str, **kwargs: Any) -> list[dict[str, Any]]:
        return self.backend.list_objects(account, container, **kwargs)

    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes], content_type: str,
                   metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        check_object_name(obj, self.conf)
        return self.backend.put_object(account, container, obj, chunks, content_type, metadata, etag)

    def get_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        info = self.backend.get_object(account, container, obj)
        if self._expired(info):
            _close(info.body)
            raise ObjectNotFound(f"Object {obj} not found")
        return info

    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        info = self.backend.head_object(account, container, obj)
        if self._expired(info):
            raise ObjectNotFound(f"Object {obj} not found")
        return info

    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        self.backend.post_object(account, container, obj, metadata)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        self.backend.delete_object(account, container, obj)

    # ================================================================ access
    def _roles(self, ctx: RequestContext) -> set[str]:
        return {r.lower() for r in ctx.roles}

    def is_reseller(self, ctx: RequestContext | None) -> bool:
        if ctx is None:
            return False
        return ctx.is_admin or bool(self._roles(ctx) & {r.lower() for r in self.conf.object.reseller_admin_roles})

    def account_role(self, caller: Caller, account: str) -> str | None:
        """"admin", "owner", "reader" or None (no rights from the account itself)."""
        ctx = caller.ctx
        if ctx is None:
            return None
        if self.is_reseller(ctx):
            return "admin"
        if ctx.project_id and account == self.conf.object.reseller_prefix + ctx.project_id:
            roles = self._roles(ctx)
            if roles & {r.lower() for r in self.conf.object.operator_roles}:
                return "owner"
            if roles & {r.lower() for r in self.conf.object.read_only_roles}:
                return "reader"
        return None

    def authorize(self, caller: Caller, op: str, account: str, container: str | None = None,
                  obj: str | None = None, container_meta: Mapping[str, str] | None = None) -> None:
        """Raise 401 (anonymous) or 403 unless ``caller`` may do ``op``.

        ``op``: ``account_read``, ``account_write``, ``container`` (create/modify/delete a
        container), ``list`` (read a container), ``read`` / ``write`` (an object).
        """
        role = self.account_role(caller, account)
        if role in ("admin", "owner"):
            return
        if role == "reader" and op in ("read", "list", "account_read"):
            return
        grant = caller.tempurl
        if grant is not None and container is not None and obj is not None and op in ("read", "write") \
                and grant.covers(account, container, obj):
            return
        if container is not None and op in ("read", "list", "write"):
            meta = container_meta
            if meta is None:
                try:
                    meta = self.backend.head_container(account, container)["metadata"]
                except ObjectNotFound:
                    meta = None
            if meta is not None:
                if op == "write":
                    if acl.user_allowed(caller.ctx, acl.parse(ci_get(meta, "X-Container-Write"))):
                        return
                else:
                    entries = acl.parse(ci_get(meta, "X-Container-Read"))
                    if acl.user_allowed(caller.ctx, entries):
                        return
                    if acl.referrer_allowed(caller.referrer, entries) and (op == "read" or
                                                                            acl.listings_allowed(entries)):
                        return
        if caller.ctx is None:
            raise exception.NotAuthenticated("Unauthorized: this resource needs a valid token or a matching ACL")
        raise exception.Forbidden(f"Forbidden: no access to {op} {'/'.join(p for p in (account, container, obj) if p)}")

    def is_owner(self, caller: Caller, account: str) -> bool:
        """Whether ``caller`` may write ``account``'s settings, and so see its secrets (keys, ACLs)."""
        return self.account_role(caller, account) in ("admin", "owner")

    def _shown(self, caller: Caller, account: str, info: dict[str, Any]) -> dict[str, Any]:
        """``info`` as ``caller`` may see it: without :data:`OWNER_ONLY_METADATA` unless an owner."""
        if self.is_owner(caller, account):
            return info
        meta = {k: v for k, v in (info.get("metadata") or {}).items() if k.lower() not in OWNER_ONLY_METADATA}
        return {**info, "metadata": meta}

    def check_account(self, account: str) -> None:
        prefix = self.conf.object.reseller_prefix
        if not account.startswith(prefix) or len(account) == len(prefix):
            raise SwiftError(400, f"Account names look like {prefix}<project id>; got {account!r}")
        if len(account.encode("utf-8")) > self.conf.object.max_account_name_length:
            raise SwiftError(400, f"Account name longer than {self.conf.object.max_account_name_length}")

    def tempurl_grant(self, method: str, path: str, params: dict[str, str], remote_addr: str | None,
                      account: str, container: str, obj: str) -> tempurl.Grant:
        """Validate TempURL query parameters for ``path`` (``/v1/<account>/<container>/<object>``)."""
        account_meta = self.backend.head_account(account)["metadata"]
        container_meta = self._container_meta_or_empty(account, container)
        keys: dict[str, list[str]] = {}
        for meta, kind in ((account_meta, "Account"), (container_meta, "Container")):
            values = [ci_get(meta, f"X-{kind}-Meta-{name}") for name in ("Temp-Url-Key", "Temp-Url-Key-2")]
            keys[kind] = [v for v in values if v]
        return tempurl.validate(method, path, params, keys["Account"], remote_addr,
                                self.conf.object.tempurl_methods, self.conf.object.tempurl_digests,
                                account, container, obj, container_keys=keys["Container"])

    def _container_meta_or_empty(self, account: str, container: str) -> dict[str, str]:
        try:
            return self.backend.head_container(account, container)["metadata"]
        except ObjectNotFound:
            return {}

    # ================================================================ info
    def info(self) -> dict[str, Any]:
        """The ``/info`` document (no secrets): limits and enabled middleware-like features."""
        o = self.conf.object
        return {
            "swift": {**limits(self.conf), "version": "2.34.0-cumulo", "extra_header_count": 0,
                      "strict_cors_mode": True, "valid_api_versions": ["v1", "v1.0"],
                      "policies": [{"name": POLICY, "aliases": POLICY, "default": True}],
                      "allow_account_management": False, "account_autocreate": True,
                      "backend": o.backend},
            "tempurl": {"methods": list(o.tempurl_methods), "allowed_digests": list(o.tempurl_digests),
                        "incoming_remove_headers": ["x-timestamp"], "incoming_allow_headers": [],
                        "outgoing_remove_headers": ["x-object-meta-*"],
                        "outgoing_allow_headers": ["x-object-meta-public-*"]},
            "slo": {"max_manifest_segments": o.max_manifest_segments, "max_manifest_size": o.max_manifest_size,
                    "min_segment_size": o.min_segment_size, "yield_frequency": 10},
            "dlo": {"max_segments": 10000},
            "bulk_delete": {"max_deletes_per_request": o.max_deletes_per_request, "max_failed_deletes": 1000},
            "versioned_writes": {"allowed_flags": ["x-versions-location", "x-history-location"]},
            "account_quotas": {},
            "container_quotas": {},
        }

    # ================================================================ accounts
    def account_head(self, caller: Caller, account: str) -> dict[str, Any]:
        self.check_account(account)
        self.authorize(caller, "account_read", account)
        return self._shown(caller, account, self.backend.head_account(account))

    def account_list(self, caller: Caller, account: str, **opts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        info = self.account_head(caller, account)
        limit = self._limit(opts.pop("limit", None), self.conf.object.account_listing_limit)
        return info, self.backend.list_containers(account, limit=limit, **opts)

    def account_post(self, caller: Caller, account: str, headers: Mapping[str, str]) -> None:
        self.check_account(account)
        self.authorize(caller, "account_write", account)
        update = _meta_update(headers, "account")
        quota_keys = [k for k in update if k.lower() == "x-account-meta-quota-bytes"]
        if quota_keys:
            if not self.is_reseller(caller.ctx):
                raise exception.Forbidden("Forbidden: only reseller admins may set X-Account-Meta-Quota-Bytes")
            _check_quota_value(update[quota_keys[0]], "X-Account-Meta-Quota-Bytes")
        current = self.backend.head_account(account)["metadata"]
        check_metadata(ci_merge(current, update), "account", self.conf)
        if update:
            self.backend.post_account(account, update)

    # ================================================================ containers
    def _container(self, account: str, container: str) -> dict[str, Any]:
        try:
            return self.backend.head_container(account, container)
        except ObjectNotFound:
            raise exception.NotFound(f"Container {container} not found") from None

    def container_put(self, caller: Caller, account: str, container: str, headers: Mapping[str, str]) -> bool:
        """Create (True) or update (False) a container."""
        self.check_account(account)
        check_container_name(container, self.conf)
        self.authorize(caller, "container", account, container)
        policy = headers.get("X-Storage-Policy")
        if policy and policy not in (POLICY, "default"):
            raise SwiftError(400, f"Invalid X-Storage-Policy {policy!r}; the only policy is {POLICY}")
        try:
            current = self.backend.head_container(account, container)["metadata"]
        except ObjectNotFound:
            current = {}
        update = self._container_update(headers, current)
        check_metadata(ci_merge(current, update), "container", self.conf)
        return self.backend.put_container(account, container, update)

    def container_post(self, caller: Caller, account: str, container: str, headers: Mapping[str, str]) -> None:
        self.check_account(account)
        check_container_name(container, self.conf)
        self.authorize(caller, "container", account, container)
        current = self._container(account, container)["metadata"]
        update = self._container_update(headers, current)
        check_metadata(ci_merge(current, update), "container", self.conf)
        if update:
            self.backend.post_container(account, container, update)

    def container_head(self, caller: Caller, account: str, container: str) -> dict[str, Any]:
        self.check_account(account)
        check_container_name(container, self.conf)
        info = self._container_checked(caller, account, container, "list")
        return self._shown(caller, account, info)

    def _container_checked(self, caller: Caller, account: str, container: str, op: str) -> dict[str, Any]:
        try:
            info = self.backend.head_container(account, container)
        except ObjectNotFound:
            self.authorize(caller, op, account, container, container_meta={})
            raise exception.NotFound(f"Container {container} not found") from None
        self.authorize(caller, op, account, container, container_meta=info["metadata"])
        return info

    def container_list(self, caller: Caller, account: str, container: str,
                       **opts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        info = self.container_head(caller, account, container)
        limit = self._limit(opts.pop("limit", None), self.conf.object.container_listing_limit)
        return info, self.backend.list_objects(account, container, limit=limit, **opts)

    def container_delete(self, caller: Caller, account: str, container: str) -> None:
        self.check_account(account)
        check_container_name(container, self.conf)
        self.authorize(caller, "container", account, container)
        try:
            self.backend.delete_container(account, container)
        except ObjectNotFound:
            raise exception.NotFound(f"Container {container} not found") from None

    def _container_update(self, headers: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
        update = _meta_update(headers, "container")
        for name, write in (("X-Container-Read", False), ("X-Container-Write", True)):
            if headers.get(name) is not None:
                update[name] = acl.clean(headers[name], write)
            if headers.get("X-Remove-" + name[2:]) is not None:
                update[name] = ""
        for name in ("X-Versions-Location", "X-History-Location"):
            value = headers.get(name)
            if value is not None and value != "":
                location = unquote(value)
                check_container_name(location, self.conf)
                update[name] = location
                other = "X-History-Location" if name == "X-Versions-Location" else "X-Versions-Location"
                if headers.get(other):
                    raise SwiftError(400, "Only one of X-Versions-Location or X-History-Location may be set")
                update[other] = ""
            elif value == "" or headers.get("X-Remove-" + name[2:]) is not None:
                update[name] = ""
        for name in ("X-Container-Meta-Quota-Bytes", "X-Container-Meta-Quota-Count"):
            for key, value in list(update.items()):
                if key.lower() == name.lower() and value != "":
                    _check_quota_value(value, name)
        return update

    # ================================================================ objects: reading
    def _expired(self, info: ObjectInfo) -> bool:
        raw = ci_get(info.metadata, "X-Delete-At")
        if not raw:
            return False
        try:
            return int(float(raw)) <= time.time()
        except ValueError:
            return False

    def _head(self, account: str, container: str, obj: str) -> ObjectInfo:
        try:
            return self.head_object(account, container, obj)
        except ObjectNotFound:
            raise exception.NotFound(f"Object {obj} not found") from None

    def object_read(self, caller: Caller, account: str, container: str, obj: str,
                    manifest_get: bool = False, head: bool = False) -> Resolved:
        """Look up an object for GET/HEAD/COPY; manifests resolve to their segments' content.

        Without ``head`` the object is opened at once (one backend call serves a whole
        plain object); call :meth:`Resolved.close` when its content will not be read.
        """
        self.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        self.authorize(caller, "read", account, container, obj)
        if head:
            info = self._head(account, container, obj)
        else:
            try:
                info = self.get_object(account, container, obj)
            except ObjectNotFound:
                raise exception.NotFound(f"Object {obj} not found") from None
        return self._resolve(caller, account, container, obj, info, manifest_get, 0)

    def _resolve(self, caller: Caller, account: str, container: str, obj: str, info: ObjectInfo,
                 manifest_get: bool, depth: int) -> Resolved:
        dlo = ci_get(info.metadata, "X-Object-Manifest")
        slo = _truthy(ci_get(info.metadata, "X-Static-Large-Object"))
        opened, info.body = info.body, None  # an already open body serves a whole plain read
        if slo:
            manifest = self._load_manifest(account, container, obj, opened)
            opened = None
            if not manifest_get:
                segments = [_slo_segment(item) for item in manifest]
                self._authorize_slo(caller, account, segments, depth, set())
                size = sum(s.length for s in segments)
                etag = '"%s"' % (ci_get(info.metadata, SLO_ETAG) or _slo_etag(manifest))
                return Resolved(account, container, obj, info, size, etag, "slo",
                                self._segment_reader(caller, account, segments, depth), manifest)
        elif dlo and not manifest_get:
            _close(opened)
            seg_container, _, seg_prefix = unquote(dlo).partition("/")
            self._authorize_segments(caller, account, seg_container, "list")
            rows = [r for r in self._list_all(account, seg_container, seg_prefix)
                    if (seg_container, r["name"]) != (container, obj)]
            segments = [Segment(seg_container, r["name"], 0, int(r["bytes"])) for r in rows]
            etag = '"{}"'.format(hashlib.md5("".join(r["hash"] for r in rows).encode(), usedforsecurity=False).hexdigest())
            return Resolved(account, container, obj, info, sum(s.length for s in segments), etag, "dlo",
                            self._segment_reader(caller, account, segments, depth))
        expected = info.etag
        pending = [opened] if opened is not None else []

        def read_plain(start: int, end: int) -> Iterator[bytes]:
            if pending:
                body = pending.pop()
                if (start, end) == (0, info.size):
                    return body
                _close(body)
            got = self.backend.get_object_range(account, container, obj, start, end)
            if got.etag != expected:
                _close(got.body)
                raise SwiftError(503, "The object changed while being read; retry")
            return got.body or iter(())

        resolved = Resolved(account, container, obj, info, info.size, info.etag, "plain", read_plain)

        def close() -> None:
            while pending:
                _close(pending.pop())

        resolved.close = close  # type: ignore[method-assign]
        if slo:
            resolved.manifest = manifest
        return resolved

    def _reads_whole_account(self, caller: Caller, account: str) -> bool:
        """Whether every container of ``account`` is readable by ``caller`` (no per-segment checks needed)."""
        if self.account_role(caller, account) is not None:
            return True
        grant = caller.tempurl
        return grant is not None and grant.account == account and grant.scope == tempurl.ACCOUNT_SCOPE

    def _authorize_segments(self, caller: Caller, account: str, container: str, op: str) -> None:
        """401/403 unless ``caller`` may read the segments a manifest keeps in ``container``.

        Reading a manifest must not reach further than its reader could by itself: a
        TempURL reaches what its key's owner reads (an account key the account, a
        container key its container); others need the segment container's own rights
        (``list`` for a DLO's listing, ``read`` for SLO segments), as Swift authorises
        each segment request as the original requester.
        """
        grant = caller.tempurl
        if grant is not None and grant.reaches(account, container):
            return
        self.authorize(caller, op, account, container)

    def _authorize_slo(self, caller: Caller, account: str, segments: list[Segment], depth: int,
                       seen: set[tuple[str, str]]) -> None:
        """Check every segment container of an SLO (nested manifests too) before any byte is sent."""
        if self._reads_whole_account(caller, account):
            return
        for container in dict.fromkeys(seg.container for seg in segments):
            self._authorize_segments(caller, account, container, "read")
        if depth >= MAX_MANIFEST_DEPTH:
            return  # reading deeper fails with 409 anyway
        for seg in segments:
            if not seg.sub_slo or (seg.container, seg.obj) in seen:
                continue
            seen.add((seg.container, seg.obj))
            try:
                info = self.head_object(account, seg.container, seg.obj)
            except ObjectNotFound:
                continue  # the read reports the missing segment
            if _truthy(ci_get(info.metadata, "X-Static-Large-Object")):
                sub = [_slo_segment(item) for item in self._load_manifest(account, seg.container, seg.obj)]
                self._authorize_slo(caller, account, sub, depth + 1, seen)

    def _load_manifest(self, account: str, container: str, obj: str,
                       body: Iterable[bytes] | None = None) -> list[dict[str, Any]]:
        if body is None:
            body = self.get_object(account, container, obj).body or ()
        raw = b"".join(body)
        try:
            manifest = json.loads(raw)
            if not isinstance(manifest, list):
                raise ValueError("not a list")
        except (ValueError, RecursionError):
            raise SwiftError(500, f"The manifest of {obj} is corrupt") from None
        return manifest

    def _list_all(self, account: str, container: str, prefix: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        marker = ""
        while True:
            try:
                page = self.backend.list_objects(account, container, prefix=prefix, marker=marker, limit=10000)
            except ObjectNotFound:
                return rows
            rows.extend(r for r in page if "name" in r)
            if len(page) < 10000:
                return rows
            following = page[-1].get("name") or page[-1].get("subdir")
            if not following:
                return rows
            marker = following

    def _segment_reader(self, caller: Caller, account: str, segments: list[Segment],
                        depth: int) -> Callable[[int, int], Iterator[bytes]]:
        def read(start: int, end: int) -> Iterator[bytes]:
            pos = 0
            for seg in segments:
                lo, hi = max(start - pos, 0), min(end - pos, seg.length)
                pos += seg.length
                if hi > lo:
                    yield from self._read_segment(caller, account, seg, seg.offset + lo, seg.offset + hi, depth)
                if pos >= end:
                    return

        return read

    def _read_segment(self, caller: Caller, account: str, seg: Segment, start: int, end: int,
                      depth: int) -> Iterator[bytes]:
        if seg.sub_slo:
            if depth >= MAX_MANIFEST_DEPTH:
                raise SwiftError(409, "Manifests nest too deep")
            self._authorize_segments(caller, account, seg.container, "read")
            info = self.head_object(account, seg.container, seg.obj)
            sub = self._resolve(caller, account, seg.container, seg.obj, info, False, depth + 1)
            yield from sub.reader(start, end)
            return
        try:
            got = self.backend.get_object_range(account, seg.container, seg.obj, start, end)
        except ObjectNotFound:
            LOG.error("Segment %s/%s of a large object is missing", seg.container, seg.obj)
            raise
        sent = 0
        for chunk in got.body or ():
            sent += len(chunk)
            yield chunk
        if sent != end - start:
            raise SwiftError(409, f"Segment {seg.container}/{seg.obj} is shorter than its manifest says")

    # ================================================================ objects: writing
    def _object_meta(self, headers: Mapping[str, str]) -> dict[str, str]:
        meta: dict[str, str] = {}
        for key, value in headers.items():
            if key.lower().startswith("x-object-meta-"):
                meta[key] = value
        for name in OBJECT_HEADERS:
            if name in ("X-Delete-At", "X-Static-Large-Object"):
                continue
            given = headers.get(name)
            if given is not None and given != "":
                meta[name] = given
        manifest = meta.get("X-Object-Manifest")
        if manifest is not None:
            seg_container, slash, _ = unquote(manifest).partition("/")
            if not slash or not seg_container:
                raise SwiftError(400, "X-Object-Manifest must be in the format container/prefix")
            check_container_name(seg_container, self.conf)
        delete_at = self._delete_at(headers)
        if delete_at is not None:
            meta["X-Delete-At"] = delete_at
        check_metadata(meta, "object", self.conf)
        return meta

    def _delete_at(self, headers: Mapping[str, str]) -> str | None:
        now = time.time()
        after = headers.get("X-Delete-After")
        if after is not None:
            try:
                seconds = int(after)
            except ValueError:
                raise SwiftError(400, "Non-integer X-Delete-After") from None
            if seconds < 0:
                raise SwiftError(400, "X-Delete-After in past")
            return str(int(now + seconds))
        at = headers.get("X-Delete-At")
        if at is not None and at != "":
            try:
                when = int(float(at))
            except ValueError:
                raise SwiftError(400, "Non-integer X-Delete-At") from None
            if when <= now:
                raise SwiftError(400, "X-Delete-At in past")
            return str(when)
        return None

    def _content_type(self, headers: Mapping[str, str], obj: str) -> str:
        ctype = (headers.get("Content-Type") or "").strip()
        ctype = ";".join(p for p in ctype.split(";") if not p.strip().lower().startswith("swift_bytes="))
        if not ctype or _truthy(headers.get("X-Detect-Content-Type")):
            ctype = mimetypes.guess_type(obj)[0] or "application/octet-stream"
        return ctype

    def _quota_remaining(self, caller: Caller, account: str, cinfo: dict[str, Any], length: int | None,
                         new_object: Callable[[], bool]) -> int | None:
        """Bytes still allowed by account and container quotas (None: unlimited); 413 when exceeded."""
        remaining: list[int] = []
        cmeta = cinfo["metadata"]
        quota = ci_get(cmeta, "X-Container-Meta-Quota-Bytes")
        if quota:
            remaining.append(int(quota) - int(cinfo["bytes_used"]))
        count = ci_get(cmeta, "X-Container-Meta-Quota-Count")
        if count and int(cinfo["object_count"]) + 1 > int(count) and new_object():
            raise SwiftError(413, "Upload exceeds quota.")
        if not self.is_reseller(caller.ctx):
            ainfo = self.backend.head_account(account)
            quota = ci_get(ainfo["metadata"], "X-Account-Meta-Quota-Bytes")
            if quota:
                remaining.append(int(quota) - int(ainfo["bytes_used"]))
        if not remaining:
            return None
        left = min(remaining)
        if left < 0 or (length is not None and length > left):
            raise SwiftError(413, "Upload exceeds quota.")
        return left

    def object_put(self, caller: Caller, account: str, container: str, obj: str, body: Iterable[bytes],
                   length: int | None, headers: Mapping[str, str],
                   params: Mapping[str, str] | None = None) -> tuple[ObjectInfo, ObjectInfo | None]:
        """PUT an object (or an SLO manifest, or a copy with X-Copy-From).

        Returns the stored object and, for copies, the source. A quoted ``etag`` on the
        result is a manifest's.
        """
        params = params or {}
        self.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        self.authorize(caller, "write", account, container, obj)
        if caller.tempurl is not None:
            tempurl.refuse_manifest_writes(headers, params)
        copy_from = headers.get("X-Copy-From")
        if copy_from:
            src_container, src_obj = split_copy_path(copy_from, "X-Copy-From")
            src_account = unquote(headers.get("X-Copy-From-Account") or account)
            return self.object_copy(caller, src_account, src_container, src_obj, account, container, obj,
                                    headers, params)
        cinfo = self._container(account, container)
        if params.get("multipart-manifest") == "put":
            return self.slo_put(caller, account, container, obj, cinfo, body, headers), None
        meta = self._object_meta(headers)
        info = self._store(caller, account, container, obj, cinfo, body, length,
                           self._content_type(headers, obj), meta, headers.get("ETag"), headers)
        return info, None

    def _store(self, caller: Caller, account: str, container: str, obj: str, cinfo: dict[str, Any],
               body: Iterable[bytes], length: int | None, content_type: str, meta: dict[str, str],
               etag: str | None, headers: Mapping[str, str]) -> ObjectInfo:
        max_size = self.conf.object.max_file_size
        if length is not None and length > max_size:
            raise SwiftError(413, f"Your request is too large: objects are at most {max_size} bytes "
                                  "(use segments and a manifest for larger ones)")
        # Whether the object exists costs a backend round trip: ask only when it matters.
        if_none = headers.get("If-None-Match")
        if if_none is not None:
            if if_none.strip() != "*":
                raise SwiftError(400, "If-None-Match on PUT only accepts '*'")
            if self._exists(account, container, obj):
                raise SwiftError(412, "Precondition Failed: the object exists")
        left = self._quota_remaining(caller, account, cinfo, length,
                                     new_object=lambda: not self._exists(account, container, obj))
        self._archive(account, container, obj, cinfo["metadata"])
        chunks = _limited(body, length, max_size, left)
        try:
            return self.backend.put_object(account, container, obj, chunks, content_type, meta,
                                           etag.strip('"') if etag else None)
        except ObjectNotFound:
            raise exception.NotFound(f"Container {container} not found") from None

    def _exists(self, account: str, container: str, obj: str) -> bool:
        try:
            self.head_object(account, container, obj)
            return True
        except ObjectNotFound:
            return False

    def object_post(self, caller: Caller, account: str, container: str, obj: str,
                    headers: Mapping[str, str]) -> None:
        """Replace user metadata (and X-Delete-At); large-object markers are kept."""
        self.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        self.authorize(caller, "write", account, container, obj)
        if caller.tempurl is not None:
            tempurl.refuse_manifest_writes(headers, {})
        info = self._head(account, container, obj)
        new = self._object_meta(headers)
        for key, value in info.metadata.items():
            low = key.lower()
            keep = low.startswith("x-object-sysmeta-") or low == "x-static-large-object" or (
                low == "x-object-manifest" and "X-Object-Manifest" not in new)
            if keep:
                new[key] = value
        self.backend.post_object(account, container, obj, new)

    def object_copy(self, caller: Caller, src_account: str, src_container: str, src_obj: str,
                    account: str, container: str, obj: str, headers: Mapping[str, str],
                    params: Mapping[str, str] | None = None) -> tuple[ObjectInfo, ObjectInfo]:
        """Copy an object (a manifest's whole content, or the manifest with multipart-manifest=get)."""
        params = params or {}
        self.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        manifest_get = params.get("multipart-manifest") == "get"
        if caller.tempurl is not None:
            tempurl.refuse_manifest_writes(headers, params)
        src = self.object_read(caller, src_account, src_container, src_obj, manifest_get=manifest_get)
        self.authorize(caller, "write", account, container, obj)
        cinfo = self._container(account, container)
        if src.size > self.conf.object.max_copy_size:
            raise SwiftError(413, f"Max copy size exceeded: the source has {src.size} bytes, "
                                  f"the limit is {self.conf.object.max_copy_size}")
        meta: dict[str, str] = {}
        if not _truthy(headers.get("X-Fresh-Metadata")):
            for key, value in src.headers.items():
                if key.lower() not in ("x-delete-at", "x-object-manifest", "x-static-large-object"):
                    meta[key] = value
        if manifest_get and src.manifest is not None:
            meta.update({"X-Static-Large-Object": "True", SLO_ETAG: _slo_etag(src.manifest),
                         SLO_SIZE: str(sum(_slo_segment(i).length for i in src.manifest))})
        elif manifest_get and ci_get(src.info.metadata, "X-Object-Manifest"):
            meta["X-Object-Manifest"] = ci_get(src.info.metadata, "X-Object-Manifest") or ""
        meta = ci_merge(meta, self._object_meta(headers))
        if headers.get("Content-Type"):
            ctype = self._content_type(headers, obj)
        else:
            ctype = src.info.content_type if manifest_get else strip_swift_bytes(src.info.content_type)[0]
        body = src.reader(0, src.size)
        info = self._store(caller, account, container, obj, cinfo, body, src.size, ctype, meta, None, {})
        return info, src.info

    def object_delete(self, caller: Caller, account: str, container: str, obj: str,
                      params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """DELETE an object; with ``multipart-manifest=delete`` also its segments (returns the report)."""
        params = params or {}
        self.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        self.authorize(caller, "write", account, container, obj)
        cinfo = self._container(account, container)
        if params.get("multipart-manifest") == "delete":
            return self.slo_delete(caller, account, container, obj)
        cmeta = cinfo["metadata"]
        stack = ci_get(cmeta, "X-Versions-Location")
        history = ci_get(cmeta, "X-History-Location")
        if stack and self._restore_previous(account, container, obj, stack):
            return None
        if history:
            self._archive(account, container, obj, cmeta)
        try:
            self.backend.delete_object(account, container, obj)
        except ObjectNotFound:
            raise exception.NotFound(f"Object {obj} not found") from None
        return None

    # ================================================================ versioned writes
    @staticmethod
    def version_prefix(obj: str) -> str:
        return "{:03x}{}/".format(len(obj.encode("utf-8")), obj)

    def _archive(self, account: str, container: str, obj: str, cmeta: Mapping[str, str]) -> None:
        """Copy the current object into the versions/history container before it is replaced."""
        location = ci_get(cmeta, "X-Versions-Location") or ci_get(cmeta, "X-History-Location")
        if not location:
            return
        try:
            current = self.get_object(account, container, obj)
        except ObjectNotFound:
            return
        if ci_get(current.metadata, "X-Object-Manifest"):
            _close(current.body)
            return  # Swift does not version DLO manifests
        name = self.version_prefix(obj) + timestamp(current.last_modified)
        try:
            self.backend.put_object(account, location, name, current.body or iter(()), current.content_type,
                                    dict(current.metadata), current.etag)
        except ObjectNotFound:
            raise SwiftError(412, f"The versions container {location} does not exist") from None

    def _restore_previous(self, account: str, container: str, obj: str, location: str) -> bool:
        """Stack mode DELETE: the newest archived version replaces the object. False if none."""
        try:
            rows = self.backend.list_objects(account, location, prefix=self.version_prefix(obj), reverse=True,
                                             limit=1)
        except ObjectNotFound:
            return False
        if not rows:
            return False
        name = rows[0]["name"]
        version = self.get_object(account, location, name)
        self.backend.put_object(account, container, obj, version.body or iter(()), version.content_type,
                                dict(version.metadata), version.etag)
        try:
            self.backend.delete_object(account, location, name)
        except ObjectNotFound:
            pass
        return True

    # ================================================================ static large objects
    def slo_put(self, caller: Caller, account: str, container: str, obj: str, cinfo: dict[str, Any],
                body: Iterable[bytes], headers: Mapping[str, str]) -> ObjectInfo:
        """Store an SLO manifest after checking every segment; returns the info with the quoted SLO etag."""
        o = self.conf.object
        raw = bytearray()
        for chunk in body:
            raw.extend(chunk)
            if len(raw) > o.max_manifest_size:
                raise SwiftError(413, f"Manifest File > {o.max_manifest_size} bytes")
        try:
            items = parse_json(bytes(raw))
        except exception.Invalid as err:
            raise SwiftError(400, f"Manifest must be valid JSON: {err.message}") from None
        if not isinstance(items, list) or not items:
            raise SwiftError(400, "Manifest must be a non-empty JSON list of segments.")
        if len(items) > o.max_manifest_segments:
            raise SwiftError(400, f"Too many segments: at most {o.max_manifest_segments}")
        manifest, errors = [], []
        for index, item in enumerate(items):
            try:
                manifest.append(self._slo_item(caller, account, item, index == len(items) - 1))
            except SwiftError as err:
                errors.append(f"{item.get('path') if isinstance(item, dict) else item!r}, {err.message}")
        if errors:
            raise SwiftError(400, "Errors:\n" + "\n".join(errors))
        slo_etag = _slo_etag(manifest)
        wanted = (headers.get("ETag") or "").strip('"')
        if wanted and wanted != slo_etag:
            raise SwiftError(422, f"Unprocessable Entity: ETag {wanted} does not match the manifest's {slo_etag}")
        meta = self._object_meta(headers)
        meta.update({"X-Static-Large-Object": "True", SLO_ETAG: slo_etag,
                     SLO_SIZE: str(sum(_slo_segment(i).length for i in manifest))})
        data = json.dumps(manifest).encode()
        # swift_bytes makes listings show the content's size, as Swift does.
        ctype = f"{self._content_type(headers, obj)};swift_bytes={meta[SLO_SIZE]}"
        info = self._store(caller, account, container, obj, cinfo, [data], len(data), ctype, meta, None, headers)
        info.etag = f'"{slo_etag}"'
        return info

    def _slo_item(self, caller: Caller, account: str, item: Any, last: bool) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise SwiftError(400, "each segment must be an object with 'path'")
        if "data" in item:
            raise SwiftError(400, "inline data segments are not supported")
        unknown = set(item) - {"path", "etag", "size_bytes", "range"}
        if unknown:
            raise SwiftError(400, f"unknown keys {sorted(unknown)}")
        path = item.get("path")
        if not isinstance(path, str):
            raise SwiftError(400, "'path' must be a string /container/object")
        seg_container, seg_obj = split_copy_path(path, "path")
        try:
            self.authorize(caller, "read", account, seg_container, seg_obj)
            info = self.head_object(account, seg_container, seg_obj)
        except ObjectNotFound:
            raise SwiftError(404, "404 Not Found") from None
        except exception.CumuloError as err:
            raise SwiftError(err.code, f"{err.code} {err.title}") from None
        sub_slo = _truthy(ci_get(info.metadata, "X-Static-Large-Object"))
        if sub_slo:
            size = int(ci_get(info.metadata, SLO_SIZE) or 0)
            etag = ci_get(info.metadata, SLO_ETAG) or ""
        else:
            size, etag = info.size, info.etag
        want_etag, want_size = item.get("etag"), item.get("size_bytes")
        if want_etag not in (None, "") and str(want_etag).strip('"') != etag:
            raise SwiftError(400, "Etag Mismatch")
        if want_size not in (None, ""):
            try:
                if int(want_size) != size:
                    raise SwiftError(400, "Size Mismatch")
            except (TypeError, ValueError):
                raise SwiftError(400, "Invalid size_bytes") from None
        entry: dict[str, Any] = {"name": "/" + seg_container + "/" + seg_obj, "hash": etag, "bytes": size,
                                 "content_type": info.content_type, "last_modified": iso(info.last_modified)}
        length = size
        if item.get("range") not in (None, ""):
            from cumulo.services.object.http import Unsatisfiable, parse_ranges

            try:
                ranges = parse_ranges("bytes=" + str(item["range"]), size)
            except Unsatisfiable:
                ranges = None
            if not ranges or len(ranges) != 1:
                raise SwiftError(400, "Unsatisfiable Range")
            s, e = ranges[0]
            entry["range"] = f"{s}-{e - 1}"
            length = e - s
        if sub_slo:
            entry["sub_slo"] = True
        if length < self.conf.object.min_segment_size and not last:
            raise SwiftError(400, f"Too small; each segment must be at least {self.conf.object.min_segment_size} "
                                  "byte(s).")
        return entry

    def slo_delete(self, caller: Caller, account: str, container: str, obj: str) -> dict[str, Any]:
        """Delete an SLO manifest and its segments (sub-manifests too); a bulk-delete style report."""
        report = _bulk_report()
        targets: list[tuple[str, str]] = []

        def collect(c: str, o: str, depth: int) -> None:
            try:
                info = self.head_object(account, c, o)
            except ObjectNotFound:
                targets.append((c, o))
                return
            if _truthy(ci_get(info.metadata, "X-Static-Large-Object")) and depth < MAX_MANIFEST_DEPTH:
                for item in self._load_manifest(account, c, o):
                    seg = _slo_segment(item)
                    collect(seg.container, seg.obj, depth + 1)
            targets.append((c, o))

        self.authorize(caller, "write", account, container, obj)
        self._head(account, container, obj)
        collect(container, obj, 0)
        seen = set()
        for c, o in targets:
            if (c, o) in seen:
                continue
            seen.add((c, o))
            self._bulk_one(caller, account, c, o, report)
        return _finish_report(report)

    # ================================================================ bulk delete
    def bulk_delete(self, caller: Caller, account: str, paths: list[str]) -> dict[str, Any]:
        """Delete ``/container/object`` and ``/container`` paths (URL-quoted); Swift's report shape."""
        self.check_account(account)
        paths = [p.strip() for p in paths if p.strip()]
        if len(paths) > self.conf.object.max_deletes_per_request:
            raise SwiftError(413, f"Maximum Bulk Deletes: {self.conf.object.max_deletes_per_request} per request")
        report = _bulk_report()
        for raw in paths:
            path = unquote(raw).lstrip("/")
            c, _, o = path.partition("/")
            if not c:
                report["Errors"].append([quote(raw), "400 Bad Request"])
                continue
            self._bulk_one(caller, account, c, o or None, report)
        return _finish_report(report)

    def _bulk_one(self, caller: Caller, account: str, c: str, o: str | None, report: dict[str, Any]) -> None:
        name = "/" + c + ("/" + o if o else "")
        try:
            if o:
                self.object_delete(caller, account, c, o)
            else:
                self.container_delete(caller, account, c)
            report["Number Deleted"] += 1
        except (exception.NotFound, ObjectNotFound):
            report["Number Not Found"] += 1
        except (exception.CumuloError, ObjectError) as err:
            code = getattr(err, "code", 500)
            title = getattr(err, "title", None) or _STATUS.get(code, "Error")
            if isinstance(err, exception.Conflict) or code == 409:
                title = "Conflict"
            report["Errors"].append([quote(name), f"{code} {title}"])

    @staticmethod
    def _limit(value: int | None, maximum: int) -> int:
        if value is None:
            return maximum
        if value > maximum:
            raise SwiftError(412, f"Maximum limit is {maximum}")
        return value


_STATUS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           412: "Precondition Failed", 413: "Request Entity Too Large", 500: "Internal Server Error",
           503: "Service Unavailable"}


def _bulk_report() -> dict[str, Any]:
    return {"Number Deleted": 0, "Number Not Found": 0, "Errors": [], "Response Status": "200 OK",
            "Response Body": ""}


def _finish_report(report: dict[str, Any]) -> dict[str, Any]:
    if report["Errors"]:
        codes = sorted({int(e[1].split()[0]) for e in report["Errors"]})
        worst = codes[-1] if codes[-1] >= 500 else 400
        report["Response Status"] = f"{worst} {_STATUS.get(worst, 'Error')}"
    return report


def _meta_update(headers: Mapping[str, str], kind: str) -> dict[str, str]:
    """``X-<Kind>-Meta-*`` to set and ``X-Remove-<Kind>-Meta-*`` to remove (as empty values)."""
    prefix, remove = f"x-{kind}-meta-", f"x-remove-{kind}-meta-"
    update: dict[str, str] = {}
    for key, value in headers.items():
        low = key.lower()
        if low.startswith(prefix):
            update[key] = value
        elif low.startswith(remove):
            update[f"X-{kind.capitalize()}-Meta-" + key[len(remove):]] = ""
    return update


def _check_quota_value(value: str, name: str) -> None:
    if value == "":
        return
    try:
        if int(value) < 0:
            raise ValueError
    except ValueError:
        raise SwiftError(400, f"Invalid {name}: {value!r} is not a non-negative integer") from None


def strip_swift_bytes(content_type: str) -> tuple[str, int | None]:
    """``"type;swift_bytes=N"`` -> ``("type", N)``; other types -> ``(type, None)``."""
    parts = [p for p in (content_type or "").split(";")]
    size = None
    kept = []
    for part in parts:
        key, eq, value = part.strip().partition("=")
        if eq and key.lower() == "swift_bytes":
            try:
                size = int(value)
            except ValueError:
                pass
        else:
            kept.append(part)
    return ";".join(kept), size


def split_copy_path(value: str, header: str) -> tuple[str, str]:
    """``container/object`` (optionally with a leading slash, URL-quoted) -> (container, object)."""
    path = unquote(value).lstrip("/")
    container, slash, obj = path.partition("/")
    if not slash or not container or not obj:
        raise SwiftError(412, f"{header} header must be of the form <container name>/<object name>")
    return container, obj


def _slo_segment(item: dict[str, Any]) -> Segment:
    container, _, obj = str(item.get("name", "")).lstrip("/").partition("/")
    size = int(item.get("bytes", 0))
    offset, length = 0, size
    rng = item.get("range")
    if rng:
        first, _, last = str(rng).partition("-")
        offset, length = int(first), int(last) - int(first) + 1
    return Segment(container, obj, offset, length, bool(item.get("sub_slo")))


def _slo_etag(manifest: list[dict[str, Any]]) -> str:
    parts = []
    for item in manifest:
        parts.append(item.get("hash", "") + (f":{item['range']};" if item.get("range") else ""))
    return hashlib.md5("".join(parts).encode(), usedforsecurity=False).hexdigest()


def _limited(chunks: Iterable[bytes], length: int | None, max_size: int, quota_left: int | None) -> Iterator[bytes]:
    """Pass chunks through, stopping a body that breaks its Content-Length, the size limit or a quota."""
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if length is not None and total > length:
            raise SwiftError(400, "The body is longer than its Content-Length")
        if total > max_size:
            raise SwiftError(413, f"Your request is too large: objects are at most {max_size} bytes")
        if quota_left is not None and total > quota_left:
            raise SwiftError(413, "Upload exceeds quota.")
        yield chunk
    if length is not None and total < length:
        raise SwiftError(499, "Client disconnected: the body ended before its Content-Length")


def _close(body: Any) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()
