"""Conformance suites for identity backends (``cumulo.auth``) and token providers
(``cumulo.auth.token``).

A backend's tests subclass :class:`IdentityBackendConformance` and provide a
``backend`` fixture returning a fresh, empty instance. Read-only backends
(LDAP) set ``writable = False`` on the test class and override
:meth:`~IdentityBackendConformance.make_user` and ``make_group`` to seed
entries where the backend reads them (with the given password); the tests
that need writes through the backend are then skipped. A provider's tests
subclass :class:`TokenProviderConformance` and provide ``provider``::

    class TestSQL(IdentityBackendConformance):
        @pytest.fixture
        def backend(self, cumulo_db):
            return SQLIdentityBackend(PluginContext(CONF))
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from cumulo.interfaces import auth as iface

DOMAIN = "default"


class IdentityBackendConformance:
    """What every identity backend must do."""

    writable = True

    @pytest.fixture
    def backend(self) -> iface.IdentityBackend:
        raise NotImplementedError("subclass IdentityBackendConformance and provide a 'backend' fixture")

    def need_writes(self) -> None:
        if not self.writable:
            pytest.skip("the backend is read-only")

    def make_user(self, backend: iface.IdentityBackend, name: str | None = None, password: str | None = "s3cret",
                  **kw: Any) -> dict[str, Any]:
        return backend.create_user({"name": name or f"u-{uuid.uuid4().hex[:8]}", "domain_id": DOMAIN,
                                    "password": password, "enabled": True, **kw})

    def make_group(self, backend: iface.IdentityBackend, name: str | None = None) -> dict[str, Any]:
        return backend.create_group({"name": name or f"g-{uuid.uuid4().hex[:8]}", "domain_id": DOMAIN})

    def test_declares_interface_version(self, backend: iface.IdentityBackend) -> None:
        assert type(backend).__dict__.get("interface_version")
        assert isinstance(backend, iface.IdentityBackend)

    def test_user_round_trip(self, backend: iface.IdentityBackend) -> None:
        user = self.make_user(backend, "alice", email="alice@example.org", description="A")
        assert user["name"] == "alice" and user["domain_id"] == DOMAIN and user["enabled"] is True
        assert "password" not in user and not any("hash" in k for k in user)
        assert backend.get_user(user["id"])["email"] == "alice@example.org"
        assert backend.get_user_by_name("alice", DOMAIN)["id"] == user["id"]
        assert [u["id"] for u in backend.list_users({"name": "alice"})] == [user["id"]]

    def test_missing_user(self, backend: iface.IdentityBackend) -> None:
        with pytest.raises(iface.UserNotFound):
            backend.get_user(uuid.uuid4().hex)
        with pytest.raises(iface.UserNotFound):
            backend.get_user_by_name("nobody", DOMAIN)

    def test_authenticate(self, backend: iface.IdentityBackend) -> None:
        user = self.make_user(backend, password="correct horse")
        assert backend.authenticate(user["id"], "correct horse")["id"] == user["id"]
        for wrong in ("wrong", "", "correct horse ", "Correct horse"):
            with pytest.raises(iface.AuthFailed):
                backend.authenticate(user["id"], wrong)
        with pytest.raises(iface.AuthFailed):
            backend.authenticate(uuid.uuid4().hex, "correct horse")

    def test_long_and_unicode_passwords(self, backend: iface.IdentityBackend) -> None:
        long_pw = "x" * 100 + "tail"
        user = self.make_user(backend, password=long_pw)
        backend.authenticate(user["id"], long_pw)
        with pytest.raises(iface.AuthFailed):
            backend.authenticate(user["id"], "x" * 100 + "tai1")  # differs after byte 72
        uni = self.make_user(backend, password="pässwörd-日本")
        backend.authenticate(uni["id"], "pässwörd-日本")

    def test_user_without_password_cannot_authenticate(self, backend: iface.IdentityBackend) -> None:
        user = self.make_user(backend, password=None)
        with pytest.raises(iface.AuthFailed):
            backend.authenticate(user["id"], "")

    def test_update_user_and_password(self, backend: iface.IdentityBackend) -> None:
        self.need_writes()
        user = self.make_user(backend, password="old")
        updated = backend.update_user(user["id"], {"enabled": False, "password": "new", "email": "e@x"})
        assert updated["enabled"] is False and updated["email"] == "e@x"
        backend.authenticate(user["id"], "new")
        with pytest.raises(iface.AuthFailed):
            backend.authenticate(user["id"], "old")

    def test_duplicate_user_name(self, backend: iface.IdentityBackend) -> None:
        self.need_writes()
        self.make_user(backend, "dup")
        with pytest.raises(iface.Duplicate):
            self.make_user(backend, "dup")
        # the same name in another domain is another user
        other = backend.create_user({"name": "dup", "domain_id": "other", "password": "p"})
        assert other["domain_id"] == "other"

    def test_delete_user(self, backend: iface.IdentityBackend) -> None:
        self.need_writes()
        user = self.make_user(backend)
        group = self.make_group(backend)
        backend.add_user_to_group(user["id"], group["id"])
        backend.delete_user(user["id"])
        with pytest.raises(iface.UserNotFound):
            backend.get_user(user["id"])
        assert backend.list_users_in_group(group["id"]) == []
        with pytest.raises(iface.UserNotFound):
            backend.delete_user(user["id"])

    def test_groups_and_membership(self, backend: iface.IdentityBackend) -> None:
        self.need_writes()
        user, other = self.make_user(backend), self.make_user(backend)
        group = self.make_group(backend, "devs")
        assert backend.get_group(group["id"])["name"] == "devs"
        assert [g["id"] for g in backend.list_groups({"name": "devs"})] == [group["id"]]
        backend.add_user_to_group(user["id"], group["id"])
        backend.add_user_to_group(user["id"], group["id"])  # idempotent
        assert [g["id"] for g in backend.list_groups_for_user(user["id"])] == [group["id"]]
        assert [u["id"] for u in backend.list_users_in_group(group["id"])] == [user["id"]]
        assert backend.check_user_in_group(user["id"], group["id"])
        assert not backend.check_user_in_group(other["id"], group["id"])
        with pytest.raises(iface.NotMember):
            backend.remove_user_from_group(other["id"], group["id"])
        backend.remove_user_from_group(user["id"], group["id"])
        assert backend.list_groups_for_user(user["id"]) == []

    def test_membership_of_missing_entities(self, backend: iface.IdentityBackend) -> None:
        self.need_writes()
        user, group = self.make_user(backend), self.make_group(backend)
        with pytest.raises(iface.GroupNotFound):
            backend.add_user_to_group(user["id"], uuid.uuid4().hex)
        with pytest.raises(iface.UserNotFound):
            backend.add_user_to_group(uuid.uuid4().hex, group["id"])

    def test_update_and_delete_group(self, backend: iface.IdentityBackend) -> None:
        self.need_writes()
        group = self.make_group(backend)
        assert backend.update_group(group["id"], {"description": "d"})["description"] == "d"
        with pytest.raises(iface.Duplicate):
            self.make_group(backend, group["name"])
        backend.delete_group(group["id"])
        with pytest.raises(iface.GroupNotFound):
            backend.get_group(group["id"])


class TokenProviderConformance:
    """What every token provider must do."""

    @pytest.fixture
    def provider(self) -> iface.TokenProvider:
        raise NotImplementedError("subclass TokenProviderConformance and provide a 'provider' fixture")

    @staticmethod
    def payload(**kw: Any) -> dict[str, Any]:
        now = time.time()
        base = {"user_id": uuid.uuid4().hex, "methods": ["password"], "project_id": uuid.uuid4().hex,
                "expires_at": now + 3600, "issued_at": now, "audit_ids": ["YWJjZGVmZ2hpamtsbW5vcA"]}
        base.update(kw)
        return base

    def test_round_trip(self, provider: iface.TokenProvider) -> None:
        provider.initialize()
        for p in (self.payload(), self.payload(project_id=None, domain_id="default"),
                  self.payload(project_id=None, system="all", methods=["password", "token"]),
                  self.payload(user_id="not-a-uuid", app_cred_id=uuid.uuid4().hex,
                               audit_ids=["a", "YWJjZGVmZ2hpamtsbW5vcA"])):
            expected = {k: v for k, v in p.items() if v is not None}
            token = provider.issue(p)
            assert isinstance(token, str) and token.isascii() and " " not in token
            assert provider.validate(token) == expected

    def test_tokens_are_unique_and_opaque(self, provider: iface.TokenProvider) -> None:
        provider.initialize()
        p = self.payload()
        a, b = provider.issue(p), provider.issue(p)
        assert a != b
        assert p["user_id"] not in a

    @pytest.mark.parametrize("bad", ["", "x", "gAAAAA", "not a token at all", "a" * 2000, "é"])
    def test_garbage_is_invalid(self, provider: iface.TokenProvider, bad: str) -> None:
        provider.initialize()
        with pytest.raises(iface.InvalidToken):
            provider.validate(bad)

    def test_tampered_token_is_invalid(self, provider: iface.TokenProvider) -> None:
        provider.initialize()
        token = provider.issue(self.payload())
        i = len(token) // 2
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        with pytest.raises(iface.InvalidToken):
            provider.validate(flipped)

    def test_rotation_keeps_recent_tokens_valid(self, provider: iface.TokenProvider) -> None:
        provider.initialize()
        p = self.payload()
        token = provider.issue(p)
        provider.rotate_keys()
        assert provider.validate(token)["user_id"] == p["user_id"]
        fresh = provider.issue(p)
        assert provider.validate(fresh)["user_id"] == p["user_id"]
