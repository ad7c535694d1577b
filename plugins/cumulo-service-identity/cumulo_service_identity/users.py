"""Users and groups, kept by the identity backend plugin (``[identity] backend``, kind ``auth``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg

from cumulo import db, exception
from cumulo.interfaces import auth as iauth
from cumulo_service_identity.models import ApplicationCredential, Assignment, Credential, Trust
from cumulo_service_identity.roles import GROUP_DOMAIN, GROUP_PROJECT, GROUP_SYSTEM
from cumulo_service_identity.rows import RowStore
from cumulo_service_identity.util import not_found


def _read_only() -> exception.Forbidden:
    return exception.Forbidden("The identity backend is read-only: users and groups cannot be changed here.")



class UserMixin(RowStore):
    """Users and groups of the Service: the backend's records, checked against domains and projects."""

    backend: iauth.IdentityBackend
    conf: cfg.ConfigOpts

    if TYPE_CHECKING:  # from the Service's other mixins; mypy checks these agree with them
        def get_domain(self, domain_id: str) -> dict[str, Any]: ...
        def get_project(self, project_id: str) -> dict[str, Any]: ...
        def revoke_user_tokens(self, user_id: str) -> None: ...

    def _writable(self) -> None:
        if not self.backend.writable:
            raise _read_only()

    def get_user(self, user_id: str) -> dict[str, Any]:
        try:
            return self.backend.get_user(user_id)
        except iauth.UserNotFound:
            raise not_found("user", user_id) from None

    def get_user_by_name(self, name: str, domain_id: str) -> dict[str, Any]:
        try:
            return self.backend.get_user_by_name(name, domain_id)
        except iauth.UserNotFound:
            raise not_found("user", name) from None

    def list_users(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = dict(filters or {})
        users = self.backend.list_users(filters)
        for key in ("name", "domain_id", "enabled"):
            if filters.get(key) is not None:
                users = [u for u in users if u.get(key) == filters[key]]
        return users

    def create_user(self, data: dict[str, Any]) -> dict[str, Any]:
        self._writable()
        domain_id = data.get("domain_id") or self.conf.identity.default_domain_id
        try:
            self.get_domain(domain_id)
        except exception.NotFound:
            raise not_found("domain", domain_id) from None  # Keystone and Tempest: a 404
        if data.get("default_project_id"):
            try:
                self.get_project(data["default_project_id"])
            except exception.NotFound:
                raise exception.ValidationError(field="default_project_id",
                                                reason=f"project {data['default_project_id']} does not exist") from None
        try:
            return self.backend.create_user({**data, "domain_id": domain_id})
        except iauth.Duplicate as err:
            raise exception.Conflict(reason=str(err)) from None

    def update_user(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        self._writable()
        if "domain_id" in changes and changes["domain_id"] != self.get_user(user_id)["domain_id"]:
            raise exception.Invalid(reason="Cannot change the domain_id of a user.")
        try:
            user = self.backend.update_user(user_id, changes)
        except iauth.UserNotFound:
            raise not_found("user", user_id) from None
        except iauth.Duplicate as err:
            raise exception.Conflict(reason=str(err)) from None
        if "password" in changes or changes.get("enabled") is False:
            self.revoke_user_tokens(user_id)
        self._invalidate()
        return user

    def change_password(self, user_id: str, original: str, new: str) -> None:
        """A user changing its own password: the original must be right (401 otherwise)."""
        self.get_user(user_id)
        try:
            self.backend.authenticate(user_id, original)
        except iauth.AuthFailed:
            raise exception.NotAuthenticated("The original password is not correct.") from None
        self.update_user(user_id, {"password": new})

    def delete_user(self, user_id: str) -> None:
        self._writable()
        try:
            self.backend.delete_user(user_id)
        except iauth.UserNotFound:
            raise not_found("user", user_id) from None
        with db.transaction() as s:
            s.execute(sa.delete(Assignment).where(Assignment.actor_id == user_id,
                                                  Assignment.type.notin_((GROUP_PROJECT, GROUP_DOMAIN, GROUP_SYSTEM))))
            s.execute(sa.delete(Credential).where(Credential.user_id == user_id))
            s.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.user_id == user_id))
            s.execute(sa.delete(Trust).where(sa.or_(Trust.trustor_user_id == user_id, Trust.trustee_user_id == user_id)))
        self.revoke_user_tokens(user_id)

    # -- groups ------------------------------------------------------------
    def get_group(self, group_id: str) -> dict[str, Any]:
        try:
            return self.backend.get_group(group_id)
        except iauth.GroupNotFound:
            raise not_found("group", group_id) from None

    def list_groups(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = dict(filters or {})
        groups = self.backend.list_groups(filters)
        for key in ("name", "domain_id"):
            if filters.get(key) is not None:
                groups = [g for g in groups if g.get(key) == filters[key]]
        return groups

    def create_group(self, data: dict[str, Any]) -> dict[str, Any]:
        self._writable()
        domain_id = data.get("domain_id") or self.conf.identity.default_domain_id
        try:
            self.get_domain(domain_id)
        except exception.NotFound:
            raise exception.ValidationError(field="domain_id", reason=f"domain {domain_id} does not exist") from None
        try:
            return self.backend.create_group({**data, "domain_id": domain_id})
        except iauth.Duplicate as err:
            raise exception.Conflict(reason=str(err)) from None

    def update_group(self, group_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        self._writable()
        try:
            return self.backend.update_group(group_id, changes)
        except iauth.GroupNotFound:
            raise not_found("group", group_id) from None
        except iauth.Duplicate as err:
            raise exception.Conflict(reason=str(err)) from None

    def delete_group(self, group_id: str) -> None:
        self._writable()
        try:
            self.backend.delete_group(group_id)
        except iauth.GroupNotFound:
            raise not_found("group", group_id) from None
        with db.transaction() as s:
            s.execute(sa.delete(Assignment).where(Assignment.actor_id == group_id,
                                                  Assignment.type.in_((GROUP_PROJECT, GROUP_DOMAIN, GROUP_SYSTEM))))
        self._invalidate()

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        self._writable()
        self.get_user(user_id)
        self.get_group(group_id)
        self.backend.add_user_to_group(user_id, group_id)
        self._invalidate()

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        self._writable()
        self.get_user(user_id)
        self.get_group(group_id)
        try:
            self.backend.remove_user_from_group(user_id, group_id)
        except iauth.NotMember:
            raise not_found("membership", f"user {user_id} in group {group_id}") from None
        self._invalidate()

    def check_user_in_group(self, user_id: str, group_id: str) -> None:
        self.get_user(user_id)
        self.get_group(group_id)
        if not self.backend.check_user_in_group(user_id, group_id):
            raise not_found("membership", f"user {user_id} in group {group_id}")

    def list_users_in_group(self, group_id: str) -> list[dict[str, Any]]:
        try:
            return self.backend.list_users_in_group(group_id)
        except iauth.GroupNotFound:
            raise not_found("group", group_id) from None

    def list_groups_for_user(self, user_id: str) -> list[dict[str, Any]]:
        self.get_user(user_id)
        return self.backend.list_groups_for_user(user_id)
