"""Containers: create, update (metadata, ACLs, versioning, quotas), read, list and delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from oslo_config import cfg

import cumulo_service_object.acl as acl
from cumulo import exception
from cumulo.contracts.object import Caller, SwiftError
from cumulo.interfaces.object import ObjectNotFound
from cumulo.utils.metadata import ci_merge
from cumulo_service_object.access import Access
from cumulo_service_object.common import POLICY, check_quota_value, listing_limit, meta_update
from cumulo_service_object.constraints import check_container_name, check_metadata
from cumulo_service_object.store import Store


class Containers:
    """``container_put``, ``container_post``, ``container_head``, ``container_list``, ``container_delete``."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, access: Access) -> None:
        self.conf = conf
        self.store = store
        self.access = access

    def container_put(self, caller: Caller, account: str, container: str, headers: Mapping[str, str]) -> bool:
        """Create (True) or update (False) a container."""
        self.access.check_account(account)
        check_container_name(container, self.conf)
        self.access.authorize(caller, "container", account, container)
        policy = headers.get("X-Storage-Policy")
        if policy and policy not in (POLICY, "default"):
            raise SwiftError(400, f"Invalid X-Storage-Policy {policy!r}; the only policy is {POLICY}")
        current = self.store.container_meta_or_empty(account, container)
        update = self._update(headers)
        check_metadata(ci_merge(current, update), "container", self.conf)
        return self.store.backend.put_container(account, container, update)

    def container_post(self, caller: Caller, account: str, container: str, headers: Mapping[str, str]) -> None:
        """Update a container's metadata and settings; 404 when it does not exist."""
        self.access.check_account(account)
        check_container_name(container, self.conf)
        self.access.authorize(caller, "container", account, container)
        current = self.store.container_or_404(account, container)["metadata"]
        update = self._update(headers)
        check_metadata(ci_merge(current, update), "container", self.conf)
        if update:
            self.store.backend.post_container(account, container, update)

    def container_head(self, caller: Caller, account: str, container: str) -> dict[str, Any]:
        """The container's counters and metadata (secrets only for the account's owners)."""
        self.access.check_account(account)
        check_container_name(container, self.conf)
        info = self._checked(caller, account, container, "list")
        return self.access.shown(caller, account, info)

    def _checked(self, caller: Caller, account: str, container: str, op: str) -> dict[str, Any]:
        try:
            info = self.store.backend.head_container(account, container)
        except ObjectNotFound:
            # Whether it exists is itself for those with rights only.
            self.access.authorize(caller, op, account, container, container_meta={})
            raise exception.NotFound(f"Container {container} not found") from None
        self.access.authorize(caller, op, account, container, container_meta=info["metadata"])
        return info

    def container_list(self, caller: Caller, account: str, container: str,
                       **opts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The container's info and one page of its objects (``opts``: the backend's listing options)."""
        info = self.container_head(caller, account, container)
        limit = listing_limit(opts.pop("limit", None), self.conf.object.container_listing_limit)
        return info, self.store.backend.list_objects(account, container, limit=limit, **opts)

    def container_delete(self, caller: Caller, account: str, container: str) -> None:
        """Delete an empty container (the backend's 409 otherwise); 404 when it does not exist."""
        self.access.check_account(account)
        check_container_name(container, self.conf)
        self.access.authorize(caller, "container", account, container)
        try:
            self.store.backend.delete_container(account, container)
        except ObjectNotFound:
            raise exception.NotFound(f"Container {container} not found") from None

    def _update(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The metadata a PUT or POST sets: user metadata, ACLs (cleaned), versioning, quotas (checked)."""
        update = meta_update(headers, "container")
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
                    check_quota_value(value, name)
        return update
