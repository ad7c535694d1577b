"""The object storage service (``hub.object``): Swift semantics on top of an :class:`ObjectBackend`.

The backend stores accounts, containers and objects; this service adds what a
Swift proxy and its middleware add: who may do what (project accounts,
reseller admins, container ACLs, TempURL grants), names and metadata limits,
quotas, expiry, large objects (DLO ``X-Object-Manifest`` and SLO
``multipart-manifest``), copies, versioned writes and bulk delete. The API
frontend only translates HTTP to these calls; the types they share are the
kernel contract :mod:`cumulo.contracts.object`.

Two layers of methods:

* the backend's own signatures (``put_container``, ``put_object``, ``get_object``,
  ``head_object``, ``delete_object``...) -- trusted kernel callers such as the
  image service's object store; no access checks, names and expiry still apply;
* ``account_*``, ``container_*``, ``object_*``, ``bulk_delete`` -- for API
  requests, each taking a :class:`~cumulo.contracts.object.Caller` and enforcing access.

:class:`Service` is composed of components, each given what it needs here;
dependencies run one way (a component imports only those below it):

* :class:`~.store.Store`: the backend with name limits, expiry and 404s;
* :class:`~.access.Access`: accounts' roles, ACLs, TempURL grants (store);
* :class:`~.accounts.Accounts`, :class:`~.containers.Containers` (store, access);
* :class:`~.versioning.Versioning` (store);
* :class:`~.writes.Writer`: metadata, expiry, quotas, storing bytes (store, access, versioning);
* :class:`~.slo.StaticLargeObjects` (store, access, writer); :class:`~.dlo.DynamicLargeObjects` (store, access);
* :class:`~.reads.Reader`: ``object_read``, manifests resolved (store, access, slo, dlo);
* :class:`~.objects.Objects`: PUT, POST, COPY, DELETE (store, access, writer, reader, slo, versioning);
* :class:`~.bulk.Bulk`: bulk delete (access, objects, containers).

Errors: :class:`~cumulo.contracts.object.SwiftError` (any status), kernel
errors (401, 403, 404...), the backend's ``ObjectError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cumulo import registry
from cumulo.contracts.object import Caller, Resolved, TempURLGrant
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.object import ObjectBackend, ObjectInfo
from cumulo.interfaces.service import Stoppable
from cumulo_service_object.access import Access
from cumulo_service_object.accounts import Accounts
from cumulo_service_object.bulk import Bulk
from cumulo_service_object.common import POLICY
from cumulo_service_object.constraints import limits
from cumulo_service_object.containers import Containers
from cumulo_service_object.dlo import DynamicLargeObjects
from cumulo_service_object.objects import Objects
from cumulo_service_object.reads import Reader
from cumulo_service_object.slo import StaticLargeObjects
from cumulo_service_object.store import Store
from cumulo_service_object.versioning import Versioning, version_prefix
from cumulo_service_object.writes import Writer

__all__ = ["Service", "start"]


class Service:
    """The object service: the components above, and one method per call of ``hub.object``."""

    version_prefix = staticmethod(version_prefix)

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        backend: ObjectBackend = registry.load_plugin(
            "object", self.conf.object.backend, PluginContext(self.conf, host=self.conf.host, hub=hub))
        self.store = Store(self.conf, backend)
        self.access = Access(self.conf, self.store)
        self.accounts = Accounts(self.conf, self.store, self.access)
        self.containers = Containers(self.conf, self.store, self.access)
        self.versioning = Versioning(self.store)
        self.writer = Writer(self.conf, self.store, self.access, self.versioning)
        self.slo = StaticLargeObjects(self.conf, self.store, self.access, self.writer)
        self.dlo = DynamicLargeObjects(self.store, self.access)
        self.reader = Reader(self.conf, self.store, self.access, self.slo, self.dlo)
        self.objects = Objects(self.conf, self.store, self.access, self.writer, self.reader, self.slo,
                               self.versioning)
        self.bulk = Bulk(self.conf, self.access, self.objects, self.containers)

    @property
    def backend(self) -> ObjectBackend:
        """The ``[object] backend`` plugin."""
        return self.store.backend

    # ================================================================ backend-signature layer (trusted callers)
    def put_container(self, account: str, container: str, metadata: dict[str, str]) -> bool:
        return self.store.put_container(account, container, metadata)

    def head_container(self, account: str, container: str) -> dict[str, Any]:
        return self.store.head_container(account, container)

    def delete_container(self, account: str, container: str) -> None:
        self.store.delete_container(account, container)

    def list_objects(self, account: str, container: str, **kwargs: Any) -> list[dict[str, Any]]:
        return self.store.list_objects(account, container, **kwargs)

    def put_object(self, account: str, container: str, obj: str, chunks: Iterable[bytes], content_type: str,
                   metadata: dict[str, str], etag: str | None = None) -> ObjectInfo:
        return self.store.put_object(account, container, obj, chunks, content_type, metadata, etag)

    def get_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self.store.get_object(account, container, obj)

    def head_object(self, account: str, container: str, obj: str) -> ObjectInfo:
        return self.store.head_object(account, container, obj)

    def post_object(self, account: str, container: str, obj: str, metadata: dict[str, str]) -> None:
        self.store.post_object(account, container, obj, metadata)

    def delete_object(self, account: str, container: str, obj: str) -> None:
        self.store.delete_object(account, container, obj)

    # ================================================================ access
    def check_account(self, account: str) -> None:
        """400 unless ``account`` is a valid account name (``AUTH_<project id>``)."""
        self.access.check_account(account)

    def tempurl_grant(self, method: str, path: str, params: dict[str, str], remote_addr: str | None,
                      account: str, container: str, obj: str) -> TempURLGrant:
        """Validate TempURL query parameters for ``path`` (``/v1/<account>/<container>/<object>``); 401 if not."""
        return self.access.tempurl_grant(method, path, params, remote_addr, account, container, obj)

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

    # ================================================================ accounts and containers
    def account_head(self, caller: Caller, account: str) -> dict[str, Any]:
        return self.accounts.account_head(caller, account)

    def account_list(self, caller: Caller, account: str, **opts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self.accounts.account_list(caller, account, **opts)

    def account_post(self, caller: Caller, account: str, headers: Mapping[str, str]) -> None:
        self.accounts.account_post(caller, account, headers)

    def container_put(self, caller: Caller, account: str, container: str, headers: Mapping[str, str]) -> bool:
        """Create (True) or update (False) a container."""
        return self.containers.container_put(caller, account, container, headers)

    def container_post(self, caller: Caller, account: str, container: str, headers: Mapping[str, str]) -> None:
        self.containers.container_post(caller, account, container, headers)

    def container_head(self, caller: Caller, account: str, container: str) -> dict[str, Any]:
        return self.containers.container_head(caller, account, container)

    def container_list(self, caller: Caller, account: str, container: str,
                       **opts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self.containers.container_list(caller, account, container, **opts)

    def container_delete(self, caller: Caller, account: str, container: str) -> None:
        self.containers.container_delete(caller, account, container)

    # ================================================================ objects
    def object_read(self, caller: Caller, account: str, container: str, obj: str,
                    manifest_get: bool = False, head: bool = False) -> Resolved:
        """An object ready to serve (see :meth:`.reads.Reader.object_read`)."""
        return self.reader.object_read(caller, account, container, obj, manifest_get=manifest_get, head=head)

    def object_put(self, caller: Caller, account: str, container: str, obj: str, body: Iterable[bytes],
                   length: int | None, headers: Mapping[str, str],
                   params: Mapping[str, str] | None = None) -> tuple[ObjectInfo, ObjectInfo | None]:
        """PUT an object, an SLO manifest or a copy: the stored object and, for copies, the source."""
        return self.objects.object_put(caller, account, container, obj, body, length, headers, params)

    def object_post(self, caller: Caller, account: str, container: str, obj: str,
                    headers: Mapping[str, str]) -> None:
        self.objects.object_post(caller, account, container, obj, headers)

    def object_copy(self, caller: Caller, src_account: str, src_container: str, src_obj: str,
                    account: str, container: str, obj: str, headers: Mapping[str, str],
                    params: Mapping[str, str] | None = None) -> tuple[ObjectInfo, ObjectInfo]:
        return self.objects.object_copy(caller, src_account, src_container, src_obj, account, container, obj,
                                        headers, params)

    def object_delete(self, caller: Caller, account: str, container: str, obj: str,
                      params: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """DELETE an object; with ``multipart-manifest=delete`` also its segments (returns the report)."""
        if (params or {}).get("multipart-manifest") == "delete":
            self.objects.delete_checked(caller, account, container, obj)
            targets = self.slo.delete_targets(caller, account, container, obj)
            return self.bulk.delete_objects(caller, account, targets)
        self.objects.object_delete(caller, account, container, obj)
        return None

    def bulk_delete(self, caller: Caller, account: str, paths: list[str]) -> dict[str, Any]:
        """Delete ``/container/object`` and ``/container`` paths (URL-quoted); Swift's report shape."""
        return self.bulk.bulk_delete(caller, account, paths)


def start(hub: Any) -> list[Stoppable]:
    """All-in-one: build the service (loading the backend) and start the backend's local servers."""
    service = hub.object
    if hub.conf.object.start_local_nodes:
        return list(service.backend.start_local() or [])
    return []
