"""The backend as every other component reads and writes it: name limits and expiry applied, 404s made.

:class:`Store` has the :class:`~cumulo.interfaces.object.ObjectBackend`
signatures the trusted kernel callers use (the image service's object
store): no access checks, but names are checked and an expired object is
gone whatever the backend still holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from oslo_config import cfg

from cumulo import exception
from cumulo.interfaces.object import ObjectBackend, ObjectInfo, ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo_service_object.common import close
from cumulo_service_object.constraints import check_container_name, check_object_name

#: Rows asked for per listing page when a component needs a whole listing.
_PAGE = 10000


class Store:
    """The ``[object] backend`` plugin behind name checks and expiry."""

    def __init__(self, conf: cfg.ConfigOpts, backend: ObjectBackend) -> None:
        self.conf = conf
        self.backend = backend

    # -- the backend's signatures (trusted callers)
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
        if self.expired(info):
            close(info.body)
            raise ObjectNotFound(f"Object {obj} not found")
        return info

    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        info = self.backend.head_object(account, container, obj)
        if self.expired(info):
            raise ObjectNotFound(f"Object {obj} not found")
        return info

    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        self.backend.post_object(account, container, obj, metadata)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        self.backend.delete_object(account, container, obj)

    # -- what the API-level components share
    @staticmethod
    def expired(info: ObjectInfo) -> bool:
        """Whether the object's ``X-Delete-At`` has passed (the backend may not have purged it yet)."""
        raw = ci_get(info.metadata, "X-Delete-At")
        if not raw:
            return False
        try:
            return int(float(raw)) <= time.time()
        except ValueError:
            return False

    def object_or_404(self, account: str, container: str, obj: str) -> ObjectInfo:
        """The object's info (HEAD); a missing one is the kernel's 404."""
        try:
            return self.head_object(account, container, obj)
        except ObjectNotFound:
            raise exception.NotFound(f"Object {obj} not found") from None

    def container_or_404(self, account: str, container: str) -> dict[str, Any]:
        """The container's info; a missing one is the kernel's 404."""
        try:
            return self.backend.head_container(account, container)
        except ObjectNotFound:
            raise exception.NotFound(f"Container {container} not found") from None

    def container_meta_or_empty(self, account: str, container: str) -> dict[str, str]:
        try:
            return self.backend.head_container(account, container)["metadata"]
        except ObjectNotFound:
            return {}

    def exists(self, account: str, container: str, obj: str) -> bool:
        try:
            self.head_object(account, container, obj)
            return True
        except ObjectNotFound:
            return False

    def list_all(self, account: str, container: str, prefix: str) -> list[dict[str, Any]]:
        """Every object row under ``prefix`` (page after page); none when the container is missing."""
        rows: list[dict[str, Any]] = []
        marker = ""
        while True:
            try:
                page = self.backend.list_objects(account, container, prefix=prefix, marker=marker, limit=_PAGE)
            except ObjectNotFound:
                return rows
            rows.extend(r for r in page if "name" in r)
            if len(page) < _PAGE:
                return rows
            following = page[-1].get("name") or page[-1].get("subdir")
            if not following:
                return rows
            marker = following
