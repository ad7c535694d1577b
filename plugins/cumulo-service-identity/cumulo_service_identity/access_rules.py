"""Access rules of application credentials (Keystone's ``/v3/users/{user_id}/access_rules``).

An application credential created with ``access_rules`` may make only the API calls one of
them allows: a ``service`` (catalog type), an HTTP ``method`` and a ``path`` glob. A user's
rules are shared between the credentials that name the same one (or its ``id``); a rule in use
cannot be deleted. Tokens of such a credential carry the rules (``token_info["access_rules"]``)
and the kernel's auth middleware enforces them on every API
(:func:`cumulo.wsgi.middleware.access_rules_allow`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.db.models.base import utcnow
from cumulo_service_identity.models import AccessRule, AppCredAccessRule
from cumulo_service_identity.util import new_id, not_found

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def rule_dict(row: AccessRule) -> dict[str, Any]:
    return {"id": row.id, "service": row.service, "path": row.path, "method": row.method}


def rules_of(s: Any, app_cred_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Each credential's rules, in ``s``."""
    out: dict[str, list[dict[str, Any]]] = {cid: [] for cid in app_cred_ids}
    if not app_cred_ids:
        return out
    rows = s.execute(sa.select(AppCredAccessRule.app_cred_id, AccessRule)
                     .join(AccessRule, AccessRule.id == AppCredAccessRule.access_rule_id)
                     .where(AppCredAccessRule.app_cred_id.in_(app_cred_ids))
                     .order_by(AccessRule.service, AccessRule.path, AccessRule.method)).all()
    for cid, rule in rows:
        out[cid].append(rule_dict(rule))
    return out


def link_rules(s: Any, user_id: str, app_cred_id: str, given: Any) -> list[dict[str, Any]]:
    """Give the new credential ``app_cred_id`` the rules ``given`` (new ones, or ids of the user's own).

    :raises exception.ValidationError: (400) a rule without a service, a path or a known method.
    :raises exception.NotFound: (404) an ``id`` that is not one of the user's rules.
    """
    if given is None:
        return []
    if not isinstance(given, list):
        raise exception.ValidationError(field="application_credential.access_rules", reason="must be a list")
    out: list[dict[str, Any]] = []
    for item in given:
        if not isinstance(item, dict):
            raise exception.ValidationError(field="application_credential.access_rules", reason="items are objects")
        if item.get("id") and not {"service", "path", "method"} & set(item):
            row = s.get(AccessRule, str(item["id"]))
            if row is None or row.user_id != user_id:
                raise not_found("access rule", str(item["id"]))
        else:
            service, path, method = item.get("service"), item.get("path"), item.get("method")
            if not isinstance(service, str) or not service or len(service) > 64:
                raise exception.ValidationError(field="access_rules.service", reason="is a catalog service type")
            if not isinstance(path, str) or not path.startswith("/") or len(path) > 128:
                raise exception.ValidationError(field="access_rules.path", reason="is a path starting with /")
            if not isinstance(method, str) or method.upper() not in METHODS:
                raise exception.ValidationError(field="access_rules.method", reason=f"is one of {', '.join(METHODS)}")
            method = method.upper()
            row = s.execute(sa.select(AccessRule).where(AccessRule.user_id == user_id, AccessRule.service == service,
                                                        AccessRule.path == path, AccessRule.method == method)).scalar()
            if row is None:
                row = AccessRule(id=new_id(), user_id=user_id, service=service, path=path, method=method,
                                 created_at=utcnow())
                s.add(row)
                s.flush()
        if s.get(AppCredAccessRule, (app_cred_id, row.id)) is None:
            s.add(AppCredAccessRule(app_cred_id=app_cred_id, access_rule_id=row.id))
            out.append(rule_dict(row))
    s.flush()
    return out


def unlink_rules(s: Any, app_cred_id: str) -> None:
    """The credential is gone: its rules stay the user's (Keystone keeps them until deleted)."""
    s.execute(sa.delete(AppCredAccessRule).where(AppCredAccessRule.app_cred_id == app_cred_id))


class AccessRuleMixin:
    """``list_access_rules``, ``get_access_rule``, ``delete_access_rule`` of ``hub.identity``."""

    def list_access_rules(self, user_id: str, filters: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """The user's rules (``filters``: ``service``, ``path``, ``method``)."""
        q = sa.select(AccessRule).where(AccessRule.user_id == user_id)
        for key in ("service", "path", "method"):
            if filters and filters.get(key):
                q = q.where(getattr(AccessRule, key) == filters[key])
        with db.reader() as s:
            return [rule_dict(r) for r in s.scalars(q.order_by(AccessRule.service, AccessRule.path,
                                                               AccessRule.method))]

    def get_access_rule(self, user_id: str, rule_id: str) -> dict[str, Any]:
        """:raises exception.NotFound: not one of the user's rules."""
        with db.reader() as s:
            row = s.get(AccessRule, rule_id)
            if row is None or row.user_id != user_id:
                raise not_found("access rule", rule_id)
            return rule_dict(row)

    def delete_access_rule(self, user_id: str, rule_id: str) -> None:
        """:raises exception.Forbidden: (403) an application credential still uses it. :raises exception.NotFound:"""
        with db.transaction() as s:
            row = s.get(AccessRule, rule_id)
            if row is None or row.user_id != user_id:
                raise not_found("access rule", rule_id)
            if s.execute(sa.select(AppCredAccessRule.app_cred_id)
                         .where(AppCredAccessRule.access_rule_id == rule_id)).first():
                raise exception.Forbidden(f"Access rule {rule_id} is in use by an application credential and "
                                          "cannot be deleted.")
            s.delete(row)
