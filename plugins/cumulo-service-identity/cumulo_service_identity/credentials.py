"""Credentials (EC2 and others) and application credentials of users."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from oslo_config import cfg

from cumulo import db, exception
from cumulo.db.models.base import utcnow
from cumulo_service_identity.access_rules import link_rules, rules_of, unlink_rules
from cumulo_service_identity.aws_signatures import Ec2Secret
from cumulo_service_identity.credential_keys import CredentialKeys, repository_path
from cumulo_service_identity.models import ApplicationCredential, Credential
from cumulo_service_identity.tokens import hash_secret
from cumulo_service_identity.util import loads, new_id, not_found


def app_cred_dict(row: ApplicationCredential, role_names: dict[str, str],
                  access_rules: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    roles = [{"id": r, "name": role_names.get(r), "domain_id": None} for r in loads(row.roles, [])]
    return {"id": row.id, "name": row.name, "user_id": row.user_id, "project_id": row.project_id,
            # Keystone writes this time as Python's isoformat (no "Z"); Tempest compares it so.
            "description": row.description, "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "unrestricted": bool(row.unrestricted), "roles": roles, "access_rules": access_rules or [], "system": None}



class CredentialMixin:
    """Credentials and application credentials of the Service; users, projects, roles and tokens are its
    other mixins'."""

    conf: cfg.ConfigOpts

    if TYPE_CHECKING:  # from the Service's other mixins; mypy checks these agree with them
        def get_user(self, user_id: str) -> dict[str, Any]: ...
        def get_project(self, project_id: str) -> dict[str, Any]: ...
        def effective_role_ids(self, user_id: str, *, project_id: str | None = None, domain_id: str | None = None,
                               system: str | None = None, expand: bool = True) -> set[str]: ...
        def _role_names(self) -> dict[str, str]: ...
        def revoke_app_cred_tokens(self, app_cred_id: str) -> None: ...

    # -- credentials -------------------------------------------------------
    @property
    def credential_keys(self) -> CredentialKeys:
        """The keys that encrypt the blobs at rest (one per Service)."""
        keys = self.__dict__.get("_credential_keys")
        if keys is None:
            keys = self.__dict__.setdefault("_credential_keys", CredentialKeys(repository_path(self.conf)))
        return keys

    def _store_blob(self, row: Credential, text: str) -> None:
        row.blob, row.key_hash = self.credential_keys.encrypt(text)

    def _blob_text(self, row: Credential) -> str:
        return self.credential_keys.decrypt(row.blob) if row.key_hash else row.blob

    def _credential_dict(self, row: Credential) -> dict[str, Any]:
        return {"id": row.id, "user_id": row.user_id, "project_id": row.project_id, "type": row.type,
                "blob": self._blob_text(row)}

    def _ec2_dict(self, row: Credential) -> dict[str, Any]:
        blob = loads(self._blob_text(row), {})
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
            if len(access) > 64:
                raise exception.ValidationError(field="blob", reason="an ec2 access key is at most 64 characters")
            cred_id = hashlib.sha256(access.encode()).hexdigest()
        if data.get("project_id"):
            self.get_project(data["project_id"])
        row = Credential(id=cred_id, user_id=data["user_id"], project_id=data.get("project_id"),
                         type=data["type"], access=access, extra="{}")
        self._store_blob(row, data["blob"])
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
                raise not_found("credential", credential_id)
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
        """Change the blob or project; an ec2 blob may carry a new access key (Tempest rotates both
        keys this way), unique among ec2 credentials, and the credential keeps its id.

        :raises NotFound: no such credential.
        :raises ValidationError: an ec2 blob without ``access`` and ``secret``.
        :raises Conflict: another ec2 credential has the new access key.
        """
        try:
            with db.transaction() as s:
                row = s.get(Credential, credential_id)
                if row is None:
                    raise not_found("credential", credential_id)
                if "blob" in changes and row.type == "ec2":
                    blob = loads(changes["blob"], None)
                    if not isinstance(blob, dict) or not blob.get("access") or not blob.get("secret"):
                        raise exception.ValidationError(field="blob",
                                                        reason="an ec2 blob is JSON with 'access' and 'secret'")
                    if len(str(blob["access"])) > 64:
                        raise exception.ValidationError(field="blob", reason="an ec2 access key is at most 64 characters")
                    row.access = str(blob["access"])
                if "blob" in changes:
                    self._store_blob(row, changes["blob"])
                if "project_id" in changes:
                    row.project_id = changes["project_id"]
                row.updated_at = utcnow()
                s.flush()
                return self._credential_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise exception.Conflict(reason="Another credential has that access key.") from None
            raise

    def delete_credential(self, credential_id: str) -> None:
        with db.transaction() as s:
            row = s.get(Credential, credential_id)
            if row is None:
                raise not_found("credential", credential_id)
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
            raise not_found("credential", access)
        return row

    def get_ec2_credential(self, user_id: str, access: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = self._ec2_row(s, access)
            if row.user_id != user_id:
                raise not_found("credential", access)
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
                raise not_found("credential", access)
            s.delete(row)

    def _ec2_secret(self, access: str) -> Ec2Secret:
        """The secret of an access key, for this area's signature checks only (NotFound)."""
        with db.reader() as s:
            row = self._ec2_row(s, access)
            blob = loads(self._blob_text(row), {})
            if not isinstance(blob, dict) or not isinstance(blob.get("secret"), str) or not row.project_id:
                raise not_found("credential", access)
            return Ec2Secret(access=access, secret=blob["secret"], user_id=row.user_id, project_id=row.project_id,
                             trust_id=blob.get("trust_id") or None)

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
                out = app_cred_dict(row, names, link_rules(s, user_id, row.id, data.get("access_rules")))
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
                raise not_found("application credential", cred_id)
            return {**app_cred_dict(row, names, rules_of(s, [row.id])[row.id]), "secret_hash": row.secret_hash,
                    "expires_at": row.expires_at, "roles": loads(row.roles, [])}

    def get_application_credential_row_by_name(self, user_id: str, name: str) -> dict[str, Any]:
        with db.transaction() as s:
            cid = s.scalar(sa.select(ApplicationCredential.id).where(ApplicationCredential.user_id == user_id,
                                                                     ApplicationCredential.name == name))
        if cid is None:
            raise not_found("application credential", name)
        return self.get_application_credential_row(cid)

    def get_application_credential(self, user_id: str, cred_id: str) -> dict[str, Any]:
        names = self._role_names()
        with db.transaction() as s:
            row = s.get(ApplicationCredential, cred_id)
            if row is None or row.user_id != user_id:
                raise not_found("application credential", cred_id)
            return app_cred_dict(row, names, rules_of(s, [row.id])[row.id])

    def list_application_credentials(self, user_id: str, name: str | None = None) -> list[dict[str, Any]]:
        q = sa.select(ApplicationCredential).where(ApplicationCredential.user_id == user_id)
        if name:
            q = q.where(ApplicationCredential.name == name)
        names = self._role_names()
        with db.transaction() as s:
            rows = list(s.scalars(q.order_by(ApplicationCredential.name)))
            rules = rules_of(s, [r.id for r in rows])
            return [app_cred_dict(r, names, rules[r.id]) for r in rows]

    def delete_application_credential(self, user_id: str, cred_id: str) -> None:
        with db.transaction() as s:
            row = s.get(ApplicationCredential, cred_id)
            if row is None or row.user_id != user_id:
                raise not_found("application credential", cred_id)
            unlink_rules(s, row.id)
            s.delete(row)
        self.revoke_app_cred_tokens(cred_id)
