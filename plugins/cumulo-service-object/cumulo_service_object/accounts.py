"""Accounts: their metadata, quota and container listing (an account exists as soon as it is named)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

from cumulo import exception
from cumulo.contracts.object import Caller
from cumulo.utils.metadata import ci_get, ci_merge
from cumulo_service_object.access import Access
from cumulo_service_object.common import check_quota_value, listing_limit, meta_update
from cumulo_service_object.constraints import check_metadata
from cumulo_service_object.store import Store

#: Where Swift 2.34's account quotas (``X-Account-Quota-Bytes``, ``-Count``) are kept: system
#: metadata, never shown as user metadata.
QUOTA_SYSMETA = {"bytes": "X-Account-Sysmeta-Quota-Bytes", "count": "X-Account-Sysmeta-Quota-Count"}


def _quota_update(headers: Mapping[str, str]) -> dict[str, str]:
    """The system quotas a request sets (``X-Account-Quota-*``) or removes (``X-Remove-Account-Quota-*``)."""
    out: dict[str, str] = {}
    for kind, key in QUOTA_SYSMETA.items():
        given = ci_get(headers, f"X-Account-Quota-{kind.capitalize()}")
        if ci_get(headers, f"X-Remove-Account-Quota-{kind.capitalize()}") is not None:
            given = ""
        if given is not None:
            out[key] = given.strip()
    return out


class Accounts:
    """``account_head``, ``account_list``, ``account_post``."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store, access: Access) -> None:
        self.conf = conf
        self.store = store
        self.access = access

    def account_head(self, caller: Caller, account: str) -> dict[str, Any]:
        """The account's counters and metadata (secrets only for its owners)."""
        self.access.check_account(account)
        self.access.authorize(caller, "account_read", account)
        return self.access.shown(caller, account, self.store.backend.head_account(account))

    def account_list(self, caller: Caller, account: str, **opts: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The account's info and one page of its containers (``opts``: the backend's listing options)."""
        info = self.account_head(caller, account)
        limit = listing_limit(opts.pop("limit", None), self.conf.object.account_listing_limit)
        return info, self.store.backend.list_containers(account, limit=limit, **opts)

    def account_post(self, caller: Caller, account: str, headers: Mapping[str, str]) -> None:
        """Set or remove ``X-Account-Meta-*`` (the quota only for reseller admins)."""
        self.access.check_account(account)
        self.access.authorize(caller, "account_write", account)
        update = meta_update(headers, "account")
        quota_keys = [k for k in update if k.lower() == "x-account-meta-quota-bytes"]
        if quota_keys:
            if not self.access.is_reseller(caller.ctx):
                raise exception.Forbidden("Forbidden: only reseller admins may set X-Account-Meta-Quota-Bytes")
            check_quota_value(update[quota_keys[0]], "X-Account-Meta-Quota-Bytes")
        quotas = _quota_update(headers)
        if quotas:
            if not self.access.is_reseller(caller.ctx):
                raise exception.Forbidden("Forbidden: only reseller admins may set account quotas")
            for key, value in quotas.items():
                check_quota_value(value, key)
            update.update(quotas)
        current = self.store.backend.head_account(account)["metadata"]
        check_metadata(ci_merge(current, update), "account", self.conf)
        if update:
            self.store.backend.post_account(account, update)
