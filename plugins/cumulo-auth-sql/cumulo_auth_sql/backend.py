"""The ``sql`` identity backend: users and groups in the Cumulo database.

Passwords are stored as bcrypt hashes (per-password salt, ``[auth_sql]
password_hash_rounds`` cost) of the SHA-256 digest of the password, so
passwords longer than bcrypt's 72-byte limit keep all their bits.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import uuid
from typing import Any

import bcrypt
import sqlalchemy as sa
from oslo_config import cfg

from cumulo import db
from cumulo.db.models.base import utcnow
from cumulo.interfaces import auth
from cumulo.interfaces.base import PluginContext
from cumulo_auth_sql.models import Group, Membership, User

OPTS: list[cfg.Opt] = [
    cfg.IntOpt("password_hash_rounds", default=12, min=4, max=31,
               help="bcrypt cost factor (log2 of the rounds) for new password hashes."),
    cfg.IntOpt("password_expires_days", default=0, min=0,
               help="Days after a password change at which it expires; 0: never."),
]

_USER_FIELDS = ("name", "domain_id", "enabled", "email", "description", "default_project_id")


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [("auth_sql", OPTS)]


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, hashed: str | None) -> bool:
    if not hashed:
        return False
    try:
        return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))
    except ValueError:
        return False


# Hashes to check against when the user does not exist, so timing does not tell.
_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash(rounds: int) -> str:
    if rounds not in _DUMMY_HASHES:
        _DUMMY_HASHES[rounds] = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds)).decode("ascii")
    return _DUMMY_HASHES[rounds]


class SQLIdentityBackend(auth.IdentityBackend):
    """Users, groups and memberships in SQL; bcrypt password hashes."""

    interface_version = "2.0"
    writable = True

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        try:
            ctx.conf.register_opts(OPTS, group="auth_sql")
        except cfg.DuplicateOptError:
            pass

    # -- helpers -----------------------------------------------------------
    @staticmethod
    def _user_dict(u: User) -> dict[str, Any]:
        return {
            "id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": bool(u.enabled),
            "email": u.email, "description": u.description, "default_project_id": u.default_project_id,
            "password_expires_at": u.password_expires_at, "extra": json.loads(u.extra) if u.extra else {},
            "created_at": u.created_at,
        }

    @staticmethod
    def _group_dict(g: Group) -> dict[str, Any]:
        return {"id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
                "extra": json.loads(g.extra) if g.extra else {}}

    def _set_password(self, row: User, password: str | None) -> None:
        if password is None:
            row.password_hash = None
            row.password_expires_at = None
            return
        row.password_hash = hash_password(password, self.conf.auth_sql.password_hash_rounds)
        days = self.conf.auth_sql.password_expires_days
        row.password_expires_at = utcnow() + datetime.timedelta(days=days) if days else None

    # -- users -------------------------------------------------------------
    def authenticate(self, user_id: str, password: str) -> dict[str, Any]:
        with db.reader() as s:
            row = s.get(User, user_id)
            hashed = row.password_hash if row is not None else None
            user = self._user_dict(row) if row is not None else None
        if user is None or hashed is None:
            check_password(password, _dummy_hash(self.conf.auth_sql.password_hash_rounds))
            raise auth.AuthFailed("Invalid username or password")
        if not check_password(password, hashed):
            raise auth.AuthFailed("Invalid username or password")
        return user

    def get_user(self, user_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = s.get(User, user_id)
            if row is None:
                raise auth.UserNotFound(user_id)
            return self._user_dict(row)

    def get_user_by_name(self, name: str, domain_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = s.scalar(sa.select(User).where(User.name == name, User.domain_id == domain_id))
            if row is None:
                raise auth.UserNotFound(name)
            return self._user_dict(row)

    def list_users(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = sa.select(User).order_by(User.name, User.id)
        if filters.get("name") is not None:
            q = q.where(User.name == filters["name"])
        if filters.get("domain_id") is not None:
            q = q.where(User.domain_id == filters["domain_id"])
        if filters.get("enabled") is not None:
            q = q.where(User.enabled == bool(filters["enabled"]))
        with db.transaction() as s:
            return [self._user_dict(u) for u in s.scalars(q)]

    def create_user(self, user: dict[str, Any]) -> dict[str, Any]:
        row = User(id=user.get("id") or uuid.uuid4().hex, name=user["name"], domain_id=user["domain_id"],
                   enabled=bool(user.get("enabled", True)), email=user.get("email"),
                   description=user.get("description"), default_project_id=user.get("default_project_id"),
                   extra=json.dumps(user.get("extra") or {}))
        self._set_password(row, user.get("password"))
        try:
            with db.transaction() as s:
                s.add(row)
                s.flush()
                return self._user_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise auth.Duplicate(f"A user named {user['name']} already exists in domain {user['domain_id']}")
            raise

    def update_user(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            with db.transaction() as s:
                row = s.get(User, user_id)
                if row is None:
                    raise auth.UserNotFound(user_id)
                for key in _USER_FIELDS:
                    if key in changes:
                        setattr(row, key, changes[key])
                if "extra" in changes:
                    row.extra = json.dumps(changes["extra"] or {})
                if "password" in changes:
                    self._set_password(row, changes["password"])
                row.updated_at = utcnow()
                s.flush()
                return self._user_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise auth.Duplicate(f"A user named {changes.get('name')} already exists in the domain")
            raise

    def delete_user(self, user_id: str) -> None:
        with db.transaction() as s:
            row = s.get(User, user_id)
            if row is None:
                raise auth.UserNotFound(user_id)
            s.execute(sa.delete(Membership).where(Membership.user_id == user_id))
            s.delete(row)

    # -- groups ------------------------------------------------------------
    def get_group(self, group_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(Group, group_id)
            if row is None:
                raise auth.GroupNotFound(group_id)
            return self._group_dict(row)

    def list_groups(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        q = sa.select(Group).order_by(Group.name, Group.id)
        if filters.get("name") is not None:
            q = q.where(Group.name == filters["name"])
        if filters.get("domain_id") is not None:
            q = q.where(Group.domain_id == filters["domain_id"])
        with db.transaction() as s:
            return [self._group_dict(g) for g in s.scalars(q)]

    def create_group(self, group: dict[str, Any]) -> dict[str, Any]:
        row = Group(id=group.get("id") or uuid.uuid4().hex, name=group["name"], domain_id=group["domain_id"],
                    description=group.get("description"), extra=json.dumps(group.get("extra") or {}))
        try:
            with db.transaction() as s:
                s.add(row)
                s.flush()
                return self._group_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise auth.Duplicate(f"A group named {group['name']} already exists in domain {group['domain_id']}")
            raise

    def update_group(self, group_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            with db.transaction() as s:
                row = s.get(Group, group_id)
                if row is None:
                    raise auth.GroupNotFound(group_id)
                for key in ("name", "description"):
                    if key in changes:
                        setattr(row, key, changes[key])
                if "extra" in changes:
                    row.extra = json.dumps(changes["extra"] or {})
                row.updated_at = utcnow()
                s.flush()
                return self._group_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise auth.Duplicate(f"A group named {changes.get('name')} already exists in the domain")
            raise

    def delete_group(self, group_id: str) -> None:
        with db.transaction() as s:
            row = s.get(Group, group_id)
            if row is None:
                raise auth.GroupNotFound(group_id)
            s.execute(sa.delete(Membership).where(Membership.group_id == group_id))
            s.delete(row)

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        with db.transaction() as s:
            if s.get(User, user_id) is None:
                raise auth.UserNotFound(user_id)
            if s.get(Group, group_id) is None:
                raise auth.GroupNotFound(group_id)
            if s.get(Membership, (user_id, group_id)) is None:
                s.add(Membership(user_id=user_id, group_id=group_id))
        # A concurrent identical insert is harmless: the row exists either way.

    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        with db.transaction() as s:
            row = s.get(Membership, (user_id, group_id))
            if row is None:
                raise auth.NotMember(f"User {user_id} is not a member of group {group_id}")
            s.delete(row)

    def list_groups_for_user(self, user_id: str) -> list[dict[str, Any]]:
        q = (sa.select(Group).join(Membership, Membership.group_id == Group.id)
             .where(Membership.user_id == user_id).order_by(Group.name))
        with db.transaction() as s:
            return [self._group_dict(g) for g in s.scalars(q)]

    def list_users_in_group(self, group_id: str) -> list[dict[str, Any]]:
        with db.transaction() as s:
            if s.get(Group, group_id) is None:
                raise auth.GroupNotFound(group_id)
            q = (sa.select(User).join(Membership, Membership.user_id == User.id)
                 .where(Membership.group_id == group_id).order_by(User.name))
            return [self._user_dict(u) for u in s.scalars(q)]

    def check_user_in_group(self, user_id: str, group_id: str) -> bool:
        with db.transaction() as s:
            return s.get(Membership, (user_id, group_id)) is not None
