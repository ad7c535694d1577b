"""Who may do what (Swift's keystoneauth, container ACLs and tempurl middleware in one component).

Rights come from the account itself (reseller admins everywhere, a project's
operators and readers on its own ``AUTH_<project>``), then from a TempURL
grant for the object it names, then from the container's ACLs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from oslo_config import cfg

import cumulo_service_object.acl as acl
import cumulo_service_object.tempurl as tempurl
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.object import ACCOUNT_SCOPE, Caller, SwiftError, TempURLGrant
from cumulo.interfaces.object import ObjectNotFound
from cumulo.utils.metadata import ci_get
from cumulo_service_object.common import OWNER_ONLY_METADATA
from cumulo_service_object.store import Store


class Access:
    """Access decisions for the API-level components; reads container ACLs and TempURL keys from ``store``."""

    def __init__(self, conf: cfg.ConfigOpts, store: Store) -> None:
        self.conf = conf
        self.store = store

    @staticmethod
    def _roles(ctx: RequestContext) -> set[str]:
        return {r.lower() for r in ctx.roles}

    def is_reseller(self, ctx: RequestContext | None) -> bool:
        """Whether ``ctx`` may act on every account (admin, or a reseller admin role)."""
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
        ``container_meta``: the container's metadata when the caller has it (else read here).
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
                    meta = self.store.head_container(account, container)["metadata"]
                except ObjectNotFound:
                    meta = None
            if meta is not None and self._acl_allows(caller, op, meta):
                return
        if caller.ctx is None:
            raise exception.NotAuthenticated("Unauthorized: this resource needs a valid token or a matching ACL")
        raise exception.Forbidden(f"Forbidden: no access to {op} {'/'.join(p for p in (account, container, obj) if p)}")

    @staticmethod
    def _acl_allows(caller: Caller, op: str, meta: Mapping[str, str]) -> bool:
        if op == "write":
            return acl.user_allowed(caller.ctx, acl.parse(ci_get(meta, "X-Container-Write")))
        entries = acl.parse(ci_get(meta, "X-Container-Read"))
        if acl.user_allowed(caller.ctx, entries):
            return True
        return acl.referrer_allowed(caller.referrer, entries) and (op == "read" or acl.listings_allowed(entries))

    def is_owner(self, caller: Caller, account: str) -> bool:
        """Whether ``caller`` may write ``account``'s settings, and so see its secrets (keys, ACLs)."""
        return self.account_role(caller, account) in ("admin", "owner")

    def shown(self, caller: Caller, account: str, info: dict[str, Any]) -> dict[str, Any]:
        """``info`` as ``caller`` may see it: without :data:`OWNER_ONLY_METADATA` unless an owner."""
        if self.is_owner(caller, account):
            return info
        meta = {k: v for k, v in (info.get("metadata") or {}).items() if k.lower() not in OWNER_ONLY_METADATA}
        return {**info, "metadata": meta}

    def check_account(self, account: str) -> None:
        """400 unless ``account`` is ``<reseller prefix><project id>`` within the name limit."""
        prefix = self.conf.object.reseller_prefix
        if not account.startswith(prefix) or len(account) == len(prefix):
            raise SwiftError(400, f"Account names look like {prefix}<project id>; got {account!r}")
        if len(account.encode("utf-8")) > self.conf.object.max_account_name_length:
            raise SwiftError(400, f"Account name longer than {self.conf.object.max_account_name_length}")

    def tempurl_grant(self, method: str, path: str, params: dict[str, str], remote_addr: str | None,
                      account: str, container: str, obj: str) -> TempURLGrant:
        """Validate TempURL query parameters for ``path`` (``/v1/<account>/<container>/<object>``).

        :raises cumulo_service_object.tempurl.TempURLInvalid: (401) no key signed it as it is.
        """
        account_meta = self.store.backend.head_account(account)["metadata"]
        container_meta = self.store.container_meta_or_empty(account, container)
        keys: dict[str, list[str]] = {}
        for meta, kind in ((account_meta, "Account"), (container_meta, "Container")):
            values = [ci_get(meta, f"X-{kind}-Meta-{name}") for name in ("Temp-Url-Key", "Temp-Url-Key-2")]
            keys[kind] = [v for v in values if v]
        return tempurl.validate(method, path, params, keys["Account"], remote_addr,
                                self.conf.object.tempurl_methods, self.conf.object.tempurl_digests,
                                account, container, obj, container_keys=keys["Container"])

    # -- reading through manifests
    def reads_whole_account(self, caller: Caller, account: str) -> bool:
        """Whether every container of ``account`` is readable by ``caller`` (no per-segment checks needed)."""
        if self.account_role(caller, account) is not None:
            return True
        grant = caller.tempurl
        return grant is not None and grant.account == account and grant.scope == ACCOUNT_SCOPE

    def authorize_segments(self, caller: Caller, account: str, container: str, op: str) -> None:
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
