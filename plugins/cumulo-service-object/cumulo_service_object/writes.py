"""Storing an object as Swift's proxy does: metadata kept, expiry, content type, quotas, size, If-None-Match.

:class:`Writer` is what every write that stores bytes ends in: a plain PUT, a
copy and a static large object's manifest.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote

from oslo_config import cfg

from cumulo import exception
from cumulo.contracts.object import OBJECT_HEADERS, Caller, SwiftError
from cumulo.interfaces.object import ObjectInfo, ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo_service_object.access import Access
from cumulo_service_object.common import limited, truthy
from cumulo_service_object.constraints import check_container_name, check_metadata
from cumulo_service_object.store import Store
from cumulo_service_object.versioning import Versioning


class Writer:
    """Checks and stores one object's bytes; archives the version it replaces."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, access: Access, versioning: Versioning) -> None:
        self.conf = conf
        self.store = store
        self.access = access
        self.versioning = versioning

    def object_meta(self, headers: Mapping[str, str]) -> dict[str, str]:
        """What a write's headers say to keep: ``X-Object-Meta-*``, the kept headers, the manifest, the expiry."""
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

    @staticmethod
    def _delete_at(headers: Mapping[str, str]) -> str | None:
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

    @staticmethod
    def content_type(headers: Mapping[str, str], obj: str) -> str:
        """The request's Content-Type without ``swift_bytes``, or guessed from the name."""
        ctype = (headers.get("Content-Type") or "").strip()
        ctype = ";".join(p for p in ctype.split(";") if not p.strip().lower().startswith("swift_bytes="))
        if not ctype or truthy(headers.get("X-Detect-Content-Type")):
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
        if not self.access.is_reseller(caller.ctx):  # as Swift's account_quotas: resellers are not held
            ainfo = self.store.backend.head_account(account)
            ameta = ainfo["metadata"]
            for name in ("X-Account-Meta-Quota-Bytes", "X-Account-Sysmeta-Quota-Bytes"):
                quota = ci_get(ameta, name)
                if quota:
                    remaining.append(int(quota) - int(ainfo["bytes_used"]))
            count = ci_get(ameta, "X-Account-Sysmeta-Quota-Count")
            if count and int(ainfo["object_count"]) + 1 > int(count) and new_object():
                raise SwiftError(413, "Upload exceeds quota.")
        if not remaining:
            return None
        left = min(remaining)
        if left < 0 or (length is not None and length > left):
            raise SwiftError(413, "Upload exceeds quota.")
        return left

    def store_object(self, caller: Caller, account: str, container: str, obj: str, cinfo: dict[str, Any],
                     body: Iterable[bytes], length: int | None, content_type: str, meta: dict[str, str],
                     etag: str | None, headers: Mapping[str, str]) -> ObjectInfo:
        """Store ``body`` as the object (access already checked; ``cinfo``: its container's info).

        :raises SwiftError: 413 (size or quota), 412 (``If-None-Match: *`` and it exists), 400, 499.
        """
        max_size = self.conf.object.max_file_size
        if length is not None and length > max_size:
            raise SwiftError(413, f"Your request is too large: objects are at most {max_size} bytes "
                                  "(use segments and a manifest for larger ones)")
        # Whether the object exists costs a backend round trip: ask only when it matters.
        if_none = headers.get("If-None-Match")
        if if_none is not None:
            if if_none.strip() != "*":
                raise SwiftError(400, "If-None-Match on PUT only accepts '*'")
            if self.store.exists(account, container, obj):
                raise SwiftError(412, "Precondition Failed: the object exists")
        left = self._quota_remaining(caller, account, cinfo, length,
                                     new_object=lambda: not self.store.exists(account, container, obj))
        self.versioning.archive(account, container, obj, cinfo["metadata"])
        chunks = limited(body, length, max_size, left)
        try:
            return self.store.backend.put_object(account, container, obj, chunks, content_type, meta,
                                                 etag.strip('"') if etag else None)
        except ObjectNotFound:
            raise exception.NotFound(f"Container {container} not found") from None
