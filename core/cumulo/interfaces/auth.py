"""Identity backends (``cumulo.auth``) and token providers (``cumulo.auth.token``).

The identity area (cumulo-service-identity) owns domains,
projects, roles, assignments, the catalog and credentials; an *identity
backend* owns users and groups and checks passwords, so a directory (LDAP)
can stand in for SQL, read-only. A *token provider* turns a token payload
into an opaque string and back, with no token table; expiry and revocation
are the identity service's business.
"""

from __future__ import annotations

import abc
from typing import Any

from cumulo.interfaces.base import Plugin


class IdentityBackend(Plugin):
    """Users and groups. Read-only backends set ``writable = False`` and raise
    :class:`ReadOnlyBackend` on writes.

    Users are dicts with ``id``, ``name``, ``domain_id``, ``enabled``,
    ``email``, ``description``, ``default_project_id``,
    ``password_expires_at`` (naive UTC datetime or None) and ``extra`` (a dict
    of other attributes); the password hash never leaves the backend. Groups
    are dicts with ``id``, ``name``, ``domain_id``, ``description``.

    Ids are opaque strings of at most 64 characters chosen by the backend.
    List ``filters`` may hold ``name``, ``domain_id``, ``enabled`` (users) and
    ``name``, ``domain_id`` (groups); a backend ignores filters it cannot
    apply (the service filters again).
    """

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)
    #: False for read-only directories: the API then answers 403 to user/group writes.
    writable: bool = True

    @abc.abstractmethod
    def authenticate(self, user_id: str, password: str) -> dict[str, Any]:
        """Return the user when the password is right; raise :class:`AuthFailed` otherwise.

        A disabled user is returned too: the service decides what disabled means.
        """

    @abc.abstractmethod
    def get_user(self, user_id: str) -> dict[str, Any]:
        """Raise :class:`UserNotFound`."""

    @abc.abstractmethod
    def get_user_by_name(self, name: str, domain_id: str) -> dict[str, Any]:
        """Raise :class:`UserNotFound`."""

    @abc.abstractmethod
    def list_users(self, filters: dict[str, Any]) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def create_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """``user`` may hold a plain ``password``; it is stored only as a salted hash.

        ``id`` may be given; raise :class:`Duplicate` when the name is taken in the domain.
        """

    @abc.abstractmethod
    def update_user(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply ``changes`` (``password`` is hashed); raise UserNotFound / Duplicate."""

    @abc.abstractmethod
    def delete_user(self, user_id: str) -> None:
        """Delete the user and its group memberships; raise UserNotFound."""

    @abc.abstractmethod
    def get_group(self, group_id: str) -> dict[str, Any]:
        """Raise :class:`GroupNotFound`."""

    @abc.abstractmethod
    def list_groups(self, filters: dict[str, Any]) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def create_group(self, group: dict[str, Any]) -> dict[str, Any]:
        """Raise :class:`Duplicate` when the name is taken in the domain."""

    @abc.abstractmethod
    def update_group(self, group_id: str, changes: dict[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def delete_group(self, group_id: str) -> None: ...

    @abc.abstractmethod
    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        """Idempotent; raise UserNotFound / GroupNotFound."""

    @abc.abstractmethod
    def remove_user_from_group(self, user_id: str, group_id: str) -> None:
        """Raise :class:`NotMember` when the user is not in the group."""

    @abc.abstractmethod
    def list_groups_for_user(self, user_id: str) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def list_users_in_group(self, group_id: str) -> list[dict[str, Any]]: ...

    def check_user_in_group(self, user_id: str, group_id: str) -> bool:
        """True when the user is a member (default: through list_groups_for_user)."""
        return any(g["id"] == group_id for g in self.list_groups_for_user(user_id))


class TokenProvider(Plugin):
    """Issues and validates tokens without storing them.

    The payload is a dict of JSON-able values: ``user_id``, ``methods``
    (list of str), ``project_id`` / ``domain_id`` / ``system`` (scope),
    ``expires_at`` and ``issued_at`` (float seconds since the epoch),
    ``audit_ids`` (list of str) and optionally ``app_cred_id``. A provider
    must give back exactly what it was given for those keys.
    """

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

    @abc.abstractmethod
    def issue(self, payload: dict[str, Any]) -> str:
        """Encode ``payload`` as a URL-safe token string."""

    @abc.abstractmethod
    def validate(self, token: str) -> dict[str, Any]:
        """Decode and authenticate a token; raise :class:`InvalidToken` when it is not genuine.

        Expiry and revocation are checked by the identity service, not here.
        """

    def rotate_keys(self) -> None:
        """Rotate signing/encryption keys (tokens from the previous keys stay valid)."""

    def initialize(self) -> None:
        """Create keys or whatever the provider needs before the first issue (idempotent)."""


class IdentityError(Exception):
    pass


class AuthFailed(IdentityError):
    pass


class UserNotFound(IdentityError):
    pass


class GroupNotFound(IdentityError):
    pass


class NotMember(IdentityError):
    pass


class Duplicate(IdentityError):
    pass


class ReadOnlyBackend(IdentityError):
    pass


class InvalidToken(IdentityError):
    pass
