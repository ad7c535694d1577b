"""OS-TRUST: a trustor delegates some of its roles on a project to a trustee.

The trustee gets trust-scoped tokens (``"scope": {"OS-TRUST:trust": {"id": ...}}``) on the trust's
project with the delegated roles the trustor still holds there; with ``impersonation`` the token
names the trustor as its user. A trust ends at ``expires_at``, after ``remaining_uses`` token
issues, or when deleted; its tokens end with it (every validation re-reads the trust).
Redelegation is not supported.
"""

from __future__ import annotations

import datetime
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.utils.timeutils import isotime
from cumulo_service_identity.models import Trust
from cumulo_service_identity.util import loads, new_id, not_found


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class TrustMixin:
    """Needs from the Service: users, projects, roles and their effective assignments."""

    if TYPE_CHECKING:  # from the Service's other mixins; mypy checks these agree with them
        def get_user(self, user_id: str) -> dict[str, Any]: ...
        def get_project(self, project_id: str) -> dict[str, Any]: ...
        def get_role(self, role_id: str) -> dict[str, Any]: ...
        def get_role_by_name(self, name: str, domain_id: str | None = None) -> dict[str, Any]: ...
        def effective_role_ids(self, user_id: str, *, project_id: str | None = None, domain_id: str | None = None,
                               system: str | None = None, expand: bool = True) -> set[str]: ...
        def expand_implied(self, role_ids: set[str] | list[str]) -> set[str]: ...

    def _trust_dict(self, row: Trust) -> dict[str, Any]:
        roles = []
        for role_id in loads(row.roles, []):
            try:
                roles.append(self.get_role(role_id))
            except exception.NotFound:
                continue  # a deleted role delegates nothing
        return {"id": row.id, "trustor_user_id": row.trustor_user_id, "trustee_user_id": row.trustee_user_id,
                "project_id": row.project_id, "impersonation": bool(row.impersonation),
                "expires_at": isotime(row.expires_at), "remaining_uses": row.remaining_uses,
                "allow_redelegation": False, "redelegation_count": 0, "redelegated_trust_id": None,
                "deleted_at": None, "roles": roles}

    def create_trust(self, caller_id: str, data: dict[str, Any]) -> dict[str, Any]:
        """A trust from ``caller_id`` (who must be the trustor).

        ``data``: ``trustor_user_id``, ``trustee_user_id``, ``impersonation`` (bool),
        ``project_id``, ``roles`` (``[{"id"} or {"name"}]``), ``expires_at`` (naive UTC datetime or
        None), ``remaining_uses`` (positive int or None).

        :raises Forbidden: the caller is not the trustor, or the trustor lacks a delegated role.
        :raises NotFound: no such trustee, project or role.
        :raises ValidationError: expired already, roles without a project, redelegation asked.
        """
        if data["trustor_user_id"] != caller_id:
            raise exception.Forbidden("The authenticated user should match the trustor.")
        if data.get("allow_redelegation"):
            raise exception.ValidationError(field="trust.allow_redelegation", reason="redelegation is not supported")
        self.get_user(data["trustee_user_id"])
        project_id = data.get("project_id")
        role_refs = data.get("roles") or []
        if project_id:
            self.get_project(project_id)
        elif role_refs:
            raise exception.ValidationError(field="trust.roles", reason="roles need a project_id")
        role_ids = []
        for ref in role_refs:
            role = self.get_role(ref["id"]) if ref.get("id") else self.get_role_by_name(ref["name"])
            role_ids.append(role["id"])
        if project_id:
            held = self.effective_role_ids(caller_id, project_id=project_id)
            missing = [r for r in role_ids if r not in held]
            if missing:
                raise exception.Forbidden(f"The trustor does not hold role {missing[0]} on project {project_id}.")
        expires = data.get("expires_at")
        if expires is not None and expires <= _now():
            raise exception.ValidationError(field="trust.expires_at", reason="is in the past")
        row = Trust(id=new_id(), trustor_user_id=caller_id, trustee_user_id=data["trustee_user_id"],
                    project_id=project_id, impersonation=bool(data["impersonation"]), expires_at=expires,
                    remaining_uses=data.get("remaining_uses"), roles=json.dumps(list(dict.fromkeys(role_ids))),
                    extra="{}")
        with db.transaction() as s:
            s.add(row)
            s.flush()
            return self._trust_dict(row)

    def get_trust(self, trust_id: str) -> dict[str, Any]:
        """A live trust; :raises NotFound: none, or expired."""
        with db.reader() as s:
            row = s.get(Trust, trust_id)
            if row is None or (row.expires_at is not None and row.expires_at <= _now()):
                raise not_found("trust", trust_id)
            return self._trust_dict(row)

    def list_trusts(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Live trusts, by ``trustor_user_id`` and/or ``trustee_user_id``."""
        filters = filters or {}
        q = sa.select(Trust).order_by(Trust.created_at)
        for key in ("trustor_user_id", "trustee_user_id"):
            if filters.get(key):
                q = q.where(getattr(Trust, key) == filters[key])
        now = _now()
        with db.reader() as s:
            return [self._trust_dict(t) for t in s.scalars(q) if t.expires_at is None or t.expires_at > now]

    def delete_trust(self, trust_id: str) -> None:
        """Delete the trust (its tokens stop validating); :raises NotFound: no such trust."""
        with db.transaction() as s:
            row = s.get(Trust, trust_id)
            if row is None:
                raise not_found("trust", trust_id)
            s.delete(row)

    def consume_trust(self, trust_id: str, trustee_id: str) -> dict[str, Any]:
        """The trust for a new trust-scoped token of ``trustee_id``, one use spent.

        :raises NotAuthenticated: no such live trust, another trustee, or no use left.
        """
        with db.transaction() as s:
            row = s.get(Trust, trust_id)
            if row is None or (row.expires_at is not None and row.expires_at <= _now()):
                raise exception.NotAuthenticated("The trust does not exist or has expired.")
            if row.trustee_user_id != trustee_id:
                raise exception.Forbidden("Only the trustee may use a trust.")
            if row.remaining_uses is not None:
                if row.remaining_uses <= 0:
                    raise exception.NotAuthenticated("The trust has no uses left.")
                row.remaining_uses -= 1
            s.flush()
            return self._trust_dict(row)

    def trust_role_ids(self, trust: dict[str, Any]) -> set[str]:
        """What a token of ``trust`` carries: the delegated roles (and what they imply) that the
        trustor still holds on the project."""
        if not trust["project_id"]:
            return set()
        delegated = self.expand_implied({r["id"] for r in trust["roles"]})
        return delegated & self.effective_role_ids(trust["trustor_user_id"], project_id=trust["project_id"])
