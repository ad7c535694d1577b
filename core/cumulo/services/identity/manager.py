"""The identity service (``hub.identity``): users and groups through the backend plugin,
credentials and application credentials, and the mixins for resources, catalog and tokens."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg

import cumulo.services.identity.policies as policies
from cumulo import db, exception, registry
from cumulo.conf import CONF
from cumulo.db.models.base import utcnow
from cumulo.db.models.identity import ApplicationCredential, Assignment, Credential
from cumulo.interfaces import auth as iauth
from cumulo.services.identity.catalog import CatalogMixin
from cumulo.services.identity.resources import GROUP_DOMAIN, GROUP_PROJECT, GROUP_SYSTEM, ResourceMixin
from cumulo.services.identity.tokens import RevocationList, TokenMixin, hash_secret
from cumulo.services.identity.util import TTLCache, loads, new_id

LOG = logging.getLogger(__name__)


def _not_found(resource: str, ident: str) -> exception.NotFound:
    return exception.NotFound(f"Could not find {resource}: {ident}.", resource=resource, id=ident)


def _read_only() -> exception.Forbidden:
    return exception.Forbidden("The identity backend is read-only: users and groups cannot be changed here.")


def user_api_dict(u: dict[str, Any]) -> dict[str, Any]:
    from cumulo.services.identity.util import iso

    out = {"id": u["id"], "name": u["name"], "domain_id": u["domain_id"], "enabled": bool(u.get("enabled", True)),
           "password_expires_at": iso(u.get("password_expires_at")), "options": {}}
    for key in ("email", "description", "default_project_id"):
        if u.get(key) is not None:
            out[key] = u[key]
    out.update({k: v for k, v in (u.get("extra") or {}).items() if k not in out})
    return out


def group_api_dict(g: dict[str, Any]) -> dict[str, Any]:
    return {"id": g["id"], "name": g["name"], "domain_id": g["domain_id"], "description": g.get("description") or ""}


def app_cred_dict(row: ApplicationCredential, role_names: dict[str, str]) -> dict[str, Any]:
    from cumulo.services.identity.util import iso

    roles = [{"id": r, "name": role_names.get(r), "domain_id": None} for r in loads(row.roles, [])]
    return {"id": row.id, "name": row.name, "user_id": row.user_id, "project_id": row.project_id,
            "description": row.description, "expires_at": iso(row.expires_at) if row.expires_at else None,
            "unrestricted": bool(row.unrestricted), "roles": roles, "access_rules": [], "system": None}


class Service(ResourceMixin, CatalogMixin, TokenMixin):
    """The identity manager. Every method raises :class:`cumulo.exception.CumuloError` subclasses
    (NotFound, Conflict, Invalid, Forbidden, NotAuthenticated) for the API to render."""

    def __init__(self, hub: Any = None, conf: cfg.ConfigOpts = CONF) -> None:
        self.hub = hub
        self.conf = conf
        policies.register()
        self.backend: iauth.IdentityBackend = registry.load_driver("auth", conf.identity.backend, conf=conf)
        self.provider: iauth.TokenProvider = registry.load_driver("token", conf.identity.token_provider, conf=conf)
        self._provider_ready = False
        self._ready_lock = threading.Lock()
        self._cache = TTLCache(conf.identity.cache_time)
        self.revocations = RevocationList(conf.identity.cache_time)

    def _invalidate(self) -> None:
        self._cache.clear()

    def ensure_keys(self) -> None:
        """Create the token provider's keys if there are none yet."""
        with self._ready_lock:
            if not self._provider_ready:
                self.provider.initialize()
                self._provider_ready = True

    def authenticate(self, auth: Any) -> tuple[str, dict[str, Any]]:
        self.ensure_keys()
        return super().authenticate(auth)

    def rotate_keys(self) -> None:
        self.provider.rotate_keys()

    # -- users -------------------------------------------------------------
    def _writable(self) -> None:
        if not self.backend.writable:
            raise _read_only()

    def get_user(self, user_id: str) -> dict[str, Any]:
        try:
            return self.backend.get_user(user_id)
        except iauth.UserNotFound:
            raise _not_found("user", user_id) from None

    def get_user_by_name(self, name: str, domain_id: str) -> dict[str, Any]:
        try:
            return self.backend.get_user_by_name(name, domain_id)
        except iauth.UserNotFound:
            raise _not_found("user", name) from None

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
            raise exception.ValidationError(field="domain_id", reason=f"domain {domain_id} does not exist") from None
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
            raise _not_found("user", user_id) from None
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
            raise _not_found("user", user_id) from None
        with db.transaction() as s:
            s.execute(sa.delete(Assignment).where(Assignment.actor_id == user_id,
                                                  Assignment.type.notin_((GROUP_PROJECT, GROUP_DOMAIN, GROUP_SYSTEM))))
            s.execute(sa.delete(Credential).where(Credential.user_id == user_id))
            s.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.user_id == user_id))
        self.revoke_user_tokens(user_id)

    def delete_domain(self, domain_id: str) -> None:
        """Delete a disabled domain with its projects, roles, assignments, and (when the
        backend is writable) its users and groups."""
        if self.get_domain(domain_id)["enabled"]:
            raise exception.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
        if self.backend.writable:
            for user in self.list_users({"domain_id": domain_id}):
                self.delete_user(user["id"])
            for group in self.list_groups({"domain_id": domain_id}):
                self.delete_group(group["id"])
        super().delete_domain(domain_id)

    # -- groups ------------------------------------------------------------
    def get_group(self, group_id: str) -> dict[str, Any]:
        try:
            return self.backend.get_group(group_id)
        except iauth.GroupNotFound:
            raise _not_found("group", group_id) from None

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
            raise _not_found("group", group_id) from None
        except iauth.Duplicate as err:
            raise exception.Conflict(reason=str(err)) from None

    def delete_group(self, group_id: str) -> None:
        self._writable()
        try:
            self.backend.delete_group(group_id)
        except iauth.GroupNotFound:
            raise _not_found("group", group_id) from None
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
            raise _not_found("membership", f"user {user_id} in group {group_id}") from None
        self._invalidate()

    def check_user_in_group(self, user_id: str, group_id: str) -> None:
        self.get_user(user_id)
        self.get_group(group_id)
        if not self.backend.check_user_in_group(user_id, group_id):
            raise _not_found("membership", f"user {user_id} in group {group_id}")

    def list_users_in_group(self, group_id: str) -> list[dict[str, Any]]:
        try:
            return self.backend.list_users_in_group(group_id)
        except iauth.GroupNotFound:
            raise _not_found("group", group_id) from None

    def list_groups_for_user(self, user_id: str) -> list[dict[str, Any]]:
        self.get_user(user_id)
        return self.backend.list_groups_for_user(user_id)

    # -- credentials -------------------------------------------------------
    @staticmethod
    def _credential_dict(row: Credential) -> dict[str, Any]:
        return {"id": row.id, "user_id": row.user_id, "project_id": row.project_id, "type": row.type,
                "blob": row.blob}

    @staticmethod
    def _ec2_dict(row: Credential) -> dict[str, Any]:
        blob = loads(row.blob, {})
        return {"user_id": row.user_id, "tenant_id": row.project_id, "project_id": row.project_id,
                "access": blob.get("access"), "secret": blob.get("secret"), "trust_id": blob.get("trust_id")}

    def create_credential(self, data: dict[str, Any]) -> dict[str, Any]:
        self.get_user(data["user_id"])
        access = None
        cred_id = data.get("id") or new_id()
        if data["type"] == "ec2":
            blob = loads(data["blob"], None)
            if not isinstance(blob, dict) or not blob.get("access") or not blob.get("secret"):
                raise exception.ValidationError(field="blob", reason="an ec2 blob is JSON with 'access' and 'secret'")
            if not data.get("project_id"):
                raise exception.ValidationError(field="project_id", reason="is required for ec2 credentials")
            access = str(blob["access"])
            cred_id = hashlib.sha256(access.encode()).hexdigest()
        if data.get("project_id"):
            self.get_project(data["project_id"])
        row = Credential(id=cred_id, user_id=data["user_id"], project_id=data.get("project_id"),
                         type=data["type"], access=access, blob=data["blob"], extra="{}")
        try:
            with db.transaction() as s:
                s.add(row)
                s.flush()
                return self._credential_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise exception.Conflict(reason="A credential with that id or access key already exists.") from None
            raise

    def get_credential(self, credential_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(Credential, credential_id)
            if row is None:
                raise _not_found("credential", credential_id)
            return self._credential_dict(row)

    def list_credentials(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(Credential).order_by(Credential.created_at)
        for key in ("user_id", "type", "project_id"):
            if filters.get(key):
                q = q.where(getattr(Credential, key) == filters[key])
        with db.transaction() as s:
            return [self._credential_dict(r) for r in s.scalars(q)]

    def update_credential(self, credential_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(Credential, credential_id)
            if row is None:
                raise _not_found("credential", credential_id)
            if "blob" in changes and row.type == "ec2":
                blob = loads(changes["blob"], None)
                if not isinstance(blob, dict) or blob.get("access") != row.access or not blob.get("secret"):
                    raise exception.ValidationError(field="blob", reason="an ec2 blob keeps its access key")
            for key in ("blob", "project_id"):
                if key in changes:
                    setattr(row, key, changes[key])
            row.updated_at = utcnow()
            s.flush()
            return self._credential_dict(row)

    def delete_credential(self, credential_id: str) -> None:
        with db.transaction() as s:
            row = s.get(Credential, credential_id)
            if row is None:
                raise _not_found("credential", credential_id)
            s.delete(row)

    def create_ec2_credential(self, user_id: str, project_id: str) -> dict[str, Any]:
        self.get_user(user_id)
        self.get_project(project_id)
        if not self.effective_role_ids(user_id, project_id=project_id):
            raise exception.Forbidden(f"User {user_id} has no role on project {project_id}.")
        access = secrets.token_hex(16)
        blob = {"access": access, "secret": secrets.token_hex(16), "trust_id": None}
        self.create_credential({"user_id": user_id, "project_id": project_id, "type": "ec2", "blob": json.dumps(blob)})
        return self.get_ec2_credential(user_id, access)

    def _ec2_row(self, s: Any, access: str) -> Credential:
        row = s.scalar(sa.select(Credential).where(Credential.access == access, Credential.type == "ec2"))
        if row is None:
            raise _not_found("credential", access)
        return row

    def get_ec2_credential(self, user_id: str, access: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = self._ec2_row(s, access)
            if row.user_id != user_id:
                raise _not_found("credential", access)
            return self._ec2_dict(row)

    def list_ec2_credentials(self, user_id: str) -> list[dict[str, Any]]:
        self.get_user(user_id)
        with db.transaction() as s:
            rows = s.scalars(sa.select(Credential).where(Credential.user_id == user_id, Credential.type == "ec2")
                             .order_by(Credential.created_at))
            return [self._ec2_dict(r) for r in rows]

    def delete_ec2_credential(self, user_id: str, access: str) -> None:
        with db.transaction() as s:
            row = self._ec2_row(s, access)
            if row.user_id != user_id:
                raise _not_found("credential", access)
            s.delete(row)

    def ec2_credential_by_access(self, access: str) -> dict[str, Any]:
        """For the EC2 frontend: ``{access, secret, user_id, project_id}`` of an access key (NotFound)."""
        with db.transaction() as s:
            return self._ec2_dict(self._ec2_row(s, access))

    def context_for_ec2(self, access: str) -> Any:
        """The RequestContext of an EC2 access key whose signature the caller has verified."""
        cred = self.ec2_credential_by_access(access)
        payload = {"user_id": cred["user_id"], "project_id": cred["project_id"], "methods": ["ec2credential"],
                   "expires_at": 2**40, "issued_at": 0, "audit_ids": []}
        return self.context_from_token_data(self._resolve_payload(payload))

    # -- application credentials ------------------------------------------
    def create_application_credential(self, user_id: str, project_id: str | None, data: dict[str, Any],
                                      caller_roles: list[str] | None = None) -> dict[str, Any]:
        """Create one for ``user_id`` on ``project_id`` (the caller's token project); roles default
        to all the caller's roles there and may only be a subset of them. Returns it with its
        ``secret`` (the only time it is shown)."""
        if not project_id:
            raise exception.Invalid(reason="An application credential needs a project-scoped token.")
        held = self.effective_role_ids(user_id, project_id=project_id, expand=True)
        names = self._role_names()
        by_name = {n: i for i, n in names.items()}
        wanted: set[str] = set()
        for ref in data.get("roles") or []:
            rid = ref.get("id") or by_name.get(ref.get("name", ""))
            if not rid or rid not in held:
                raise exception.Forbidden(f"Cannot delegate role {ref.get('id') or ref.get('name')}: "
                                          "the user does not hold it on the project.")
            wanted.add(rid)
        if not data.get("roles"):
            direct = self.effective_role_ids(user_id, project_id=project_id, expand=False)
            wanted = set(direct) or set(held)
        secret = data.get("secret") or secrets.token_urlsafe(48)
        expires_at = data.get("expires_at")
        row = ApplicationCredential(
            id=new_id(), name=data["name"], user_id=user_id, project_id=project_id,
            secret_hash=hash_secret(secret, self.conf.identity.password_hash_rounds),
            description=data.get("description"), expires_at=expires_at,
            unrestricted=bool(data.get("unrestricted", False)), roles=json.dumps(sorted(wanted)))
        try:
            with db.transaction() as s:
                s.add(row)
                s.flush()
                out = app_cred_dict(row, names)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise exception.Conflict(reason=f"An application credential named {data['name']} already exists.") from None
            raise
        out["secret"] = secret
        return out

    def get_application_credential_row(self, cred_id: str) -> dict[str, Any]:
        names = self._role_names()  # before the transaction: never nest them (SQLite locks)
        with db.transaction() as s:
            row = s.get(ApplicationCredential, cred_id)
            if row is None:
                raise _not_found("application credential", cred_id)
            return {**app_cred_dict(row, names), "secret_hash": row.secret_hash,
                    "expires_at": row.expires_at, "roles": loads(row.roles, [])}

    def get_application_credential_row_by_name(self, user_id: str, name: str) -> dict[str, Any]:
        with db.transaction() as s:
            cid = s.scalar(sa.select(ApplicationCredential.id).where(ApplicationCredential.user_id == user_id,
                                                                     ApplicationCredential.name == name))
        if cid is None:
            raise _not_found("application credential", name)
        return self.get_application_credential_row(cid)

    def get_application_credential(self, user_id: str, cred_id: str) -> dict[str, Any]:
        names = self._role_names()
        with db.transaction() as s:
            row = s.get(ApplicationCredential, cred_id)
            if row is None or row.user_id != user_id:
                raise _not_found("application credential", cred_id)
            return app_cred_dict(row, names)

    def list_application_credentials(self, user_id: str, name: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if name:
            q = q.where(ApplicationCredential.name == name)
        names = self._role_names()
        with db.transaction() as s:
            return [app_cred_dict(r, names) for r in s.scalars(q.order_by(ApplicationCredential.name))]

    def delete_application_credential(self, user_id: str, cred_id: str) -> None:
        with db.transaction() as s:
            row = s.get(ApplicationCredential, cred_id)
            if row is None or row.user_id != user_id:
                raise _not_found("application credential", cred_id)
            s.delete(row)
        self.revoke_app_cred_tokens(cred_id)

    # -- bootstrap -----------------------------------------------------------
    def bootstrap(self, admin_password: str | None, public_url: str, frontends: list[Any]) -> dict[str, Any]:
        from cumulo.services.identity.bootstrap import bootstrap

        return bootstrap(self, admin_password, public_url, frontends)
