"""The SQL identity backend: the conformance suite plus its own promises."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cumulo_auth_sql.backend import SQLIdentityBackend, check_password, hash_password
from cumulo_auth_sql.models import User

from cumulo import db, registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.auth import IdentityBackendConformance


class TestSQLBackendConformance(IdentityBackendConformance):
    @pytest.fixture
    def backend(self, cumulo_db):
        b = registry.load_plugin("auth", "sql", PluginContext(CONF))
        cumulo_db.set("password_hash_rounds", 4, group="auth_sql")
        return b


def test_password_is_stored_salted_and_hashed(cumulo_db):
    backend = SQLIdentityBackend(PluginContext(CONF))
    cumulo_db.set("password_hash_rounds", 4, group="auth_sql")
    a = backend.create_user({"name": "a", "domain_id": "default", "password": "same"})
    b = backend.create_user({"name": "b", "domain_id": "default", "password": "same"})
    with db.transaction() as s:
        hashes = [s.get(User, a["id"]).password_hash, s.get(User, b["id"]).password_hash]
    assert all(h.startswith("$2b$04$") for h in hashes)
    assert hashes[0] != hashes[1]  # salted
    assert "same" not in hashes[0]


def test_hash_rounds_option_is_used(cumulo_db):
    backend = SQLIdentityBackend(PluginContext(CONF))
    cumulo_db.set("password_hash_rounds", 5, group="auth_sql")
    user = backend.create_user({"name": "r", "domain_id": "default", "password": "pw"})
    with db.transaction() as s:
        assert s.get(User, user["id"]).password_hash.startswith("$2b$05$")


def test_check_password_rejects_garbage_hash():
    assert not check_password("pw", None)
    assert not check_password("pw", "not-a-hash")
    assert check_password("pw", hash_password("pw", 4))


def test_password_expiry_option(cumulo_db):
    backend = SQLIdentityBackend(PluginContext(CONF))
    cumulo_db.set("password_hash_rounds", 4, group="auth_sql")
    cumulo_db.set("password_expires_days", 10, group="auth_sql")
    user = backend.create_user({"name": "e", "domain_id": "default", "password": "pw"})
    assert user["password_expires_at"] is not None


def test_tables_come_from_the_plugin_migration(cumulo_db):
    names = set(sa.inspect(db.get_engine()).get_table_names())
    assert {"auth_sql_users", "auth_sql_groups", "auth_sql_memberships"} <= names
