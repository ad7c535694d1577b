"""Object writes for API requests: PUT (plain, static large object manifest, copy), POST, COPY, DELETE.

Reads are :mod:`~cumulo_service_object.reads`; storing the bytes is
:class:`~cumulo_service_object.writes.Writer`; deleting a static large object
with its segments is the service's (it is a bulk delete of the segments).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from oslo_config import cfg

import cumulo_service_object.tempurl as tempurl
from cumulo import exception
from cumulo.contracts.object import Caller, SwiftError, split_copy_path, strip_swift_bytes
from cumulo.interfaces.object import ObjectInfo, ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo_service_object.access import Access
from cumulo_service_object.common import SLO_ETAG, SLO_SIZE, truthy
from cumulo_service_object.constraints import check_container_name, check_object_name
from cumulo_service_object.reads import Reader
from cumulo_service_object.slo import StaticLargeObjects, manifest_etag, manifest_size
from cumulo_service_object.store import Store
from cumulo_service_object.versioning import Versioning
from cumulo_service_object.writes import Writer


def ci_override(current: Mapping[str, str], update: Mapping[str, str]) -> dict[str, str]:
    """``current`` with ``update``'s keys set case-insensitively, empty values included."""
    merged = {k: v for k, v in current.items() if k.lower() not in {u.lower() for u in update}}
    merged.update(update)
    return merged


class Objects:
    """``object_put``, ``object_post``, ``object_copy``, ``object_delete`` (one object each)."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, access: Access, writer: Writer, reader: Reader,
                 slo: StaticLargeObjects, versioning: Versioning) -> None:
        self.conf = conf
        self.store = store
        self.access = access
        self.writer = writer
        self.reader = reader
        self.slo = slo
        self.versioning = versioning

    def _checked(self, caller: Caller, account: str, container: str, obj: str) -> None:
        """Valid names and write access to the object."""
        self.access.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        self.access.authorize(caller, "write", account, container, obj)

    def object_put(self, caller: Caller, account: str, container: str, obj: str, body: Iterable[bytes],
                   length: int | None, headers: Mapping[str, str],
                   params: Mapping[str, str] | None = None) -> tuple[ObjectInfo, ObjectInfo | None]:
        """PUT an object (or an SLO manifest, or a copy with X-Copy-From).

        Returns the stored object and, for copies, the source. A quoted ``etag`` on the
        result is a manifest's.
        """
        params = params or {}
        self._checked(caller, account, container, obj)
        if caller.tempurl is not None:
            tempurl.refuse_manifest_writes(headers, params)
        copy_from = headers.get("X-Copy-From")
        if copy_from:
            src_container, src_obj = split_copy_path(copy_from, "X-Copy-From")
            src_account = unquote(headers.get("X-Copy-From-Account") or account)
            return self.object_copy(caller, src_account, src_container, src_obj, account, container, obj,
                                    headers, params)
        cinfo = self.store.container_or_404(account, container)
        if params.get("multipart-manifest") == "put":
            return self.slo.put(caller, account, container, obj, cinfo, body, headers), None
        meta = self.writer.object_meta(headers)
        info = self.writer.store_object(caller, account, container, obj, cinfo, body, length,
                                        self.writer.content_type(headers, obj), meta, headers.get("ETag"), headers)
        return info, None

    def object_post(self, caller: Caller, account: str, container: str, obj: str,
                    headers: Mapping[str, str]) -> None:
        """Replace user metadata (and X-Delete-At); large-object markers are kept."""
        self._checked(caller, account, container, obj)
        if caller.tempurl is not None:
            tempurl.refuse_manifest_writes(headers, {})
        info = self.store.object_or_404(account, container, obj)
        new = self.writer.object_meta(headers)
        for key, value in info.metadata.items():
            low = key.lower()
            keep = low.startswith("x-object-sysmeta-") or low == "x-static-large-object" or (
                low == "x-object-manifest" and "X-Object-Manifest" not in new)
            if keep:
                new[key] = value
        self.store.backend.post_object(account, container, obj, new)

    def object_copy(self, caller: Caller, src_account: str, src_container: str, src_obj: str,
                    account: str, container: str, obj: str, headers: Mapping[str, str],
                    params: Mapping[str, str] | None = None) -> tuple[ObjectInfo, ObjectInfo]:
        """Copy an object (a manifest's whole content, or the manifest with multipart-manifest=get).

        Returns the stored copy and the source.
        """
        params = params or {}
        self.access.check_account(account)
        check_container_name(container, self.conf)
        check_object_name(obj, self.conf)
        manifest_get = params.get("multipart-manifest") == "get"
        if caller.tempurl is not None:
            tempurl.refuse_manifest_writes(headers, params)
        src = self.reader.object_read(caller, src_account, src_container, src_obj, manifest_get=manifest_get)
        self.access.authorize(caller, "write", account, container, obj)
        cinfo = self.store.container_or_404(account, container)
        if src.size > self.conf.object.max_copy_size:
            raise SwiftError(413, f"Max copy size exceeded: the source has {src.size} bytes, "
                                  f"the limit is {self.conf.object.max_copy_size}")
        meta: dict[str, str] = {}
        if not truthy(headers.get("X-Fresh-Metadata")):
            for key, value in src.headers.items():
                if key.lower() not in ("x-delete-at", "x-object-manifest", "x-static-large-object"):
                    meta[key] = value
        if manifest_get and src.manifest is not None:
            meta.update({"X-Static-Large-Object": "True", SLO_ETAG: manifest_etag(src.manifest),
                         SLO_SIZE: str(manifest_size(src.manifest))})
        elif manifest_get and ci_get(src.info.metadata, "X-Object-Manifest"):
            meta["X-Object-Manifest"] = ci_get(src.info.metadata, "X-Object-Manifest") or ""
        # The request's headers override the source's; an empty X-Object-Meta-* value is kept as
        # empty (Swift's copy puts the source's metadata under the request's), not a removal.
        meta = ci_override(meta, self.writer.object_meta(headers))
        if headers.get("Content-Type"):
            ctype = self.writer.content_type(headers, obj)
        else:
            ctype = src.info.content_type if manifest_get else strip_swift_bytes(src.info.content_type)[0]
        body = src.reader(0, src.size)
        info = self.writer.store_object(caller, account, container, obj, cinfo, body, src.size, ctype, meta, None,
                                        {})
        return info, src.info

    def delete_checked(self, caller: Caller, account: str, container: str, obj: str) -> dict[str, Any]:
        """Names and write access checked for a DELETE; the container's info (404 when it does not exist)."""
        self._checked(caller, account, container, obj)
        return self.store.container_or_404(account, container)

    def object_delete(self, caller: Caller, account: str, container: str, obj: str) -> None:
        """DELETE one object; in a versioned container the previous version comes back (stack mode)."""
        cmeta = self.delete_checked(caller, account, container, obj)["metadata"]
        stack = ci_get(cmeta, "X-Versions-Location")
        history = ci_get(cmeta, "X-History-Location")
        if stack and self.versioning.restore_previous(account, container, obj, stack):
            return
        if history:
            self.versioning.archive(account, container, obj, cmeta)
        try:
            self.store.backend.delete_object(account, container, obj)
        except ObjectNotFound:
            raise exception.NotFound(f"Object {obj} not found") from None
