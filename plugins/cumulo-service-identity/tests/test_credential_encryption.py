"""Credential blobs (EC2 secrets) are encrypted at rest; views and signature checks still work, after a
restart too; the migration encrypts the rows stored before it (and its downgrade decrypts them)."""

from __future__ import annotations

import json
import os
import stat
import urllib.parse
from typing import Any

import sqlalchemy as sa
from alembic import command
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cumulo_service_identity.credential_keys import CredentialKeys, repository_path

from cumulo import db
from cumulo.conf import CONF
from cumulo.contracts.identity import AwsRequest
from cumulo.db import migrate
from cumulo.services import ServiceHub


def _member(svc: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    p = svc.create_project({"name": "enc-p", "domain_id": "default"})
    u = svc.create_user({"name": "enc-u", "domain_id": "default", "password": "pw"})
    svc.create_grant(svc.get_role_by_name("member")["id"], user_id=u["id"], project_id=p["id"])
    return u, p


def _raw_rows() -> list[tuple[str, str, str | None]]:
    with db.reader() as s:
        return [tuple(r) for r in s.execute(sa.text("SELECT id, blob, key_hash FROM identity_credentials"))]


def _signed(access: str, secret: str) -> AwsRequest:
    req = AWSRequest(method="GET", url="http://cloud.test/ec2/", params={"Action": "DescribeInstances"})
    SigV4Auth(Credentials(access, secret), "ec2", "RegionOne").add_auth(req)
    prepared = req.prepare()
    path, _, query = prepared.url.partition("cloud.test")[2].partition("?")
    headers = {k.lower(): v for k, v in prepared.headers.items()}
    headers["host"] = "cloud.test"
    return AwsRequest(service="ec2", method="GET", host="cloud.test", path=path,
                      query=tuple(urllib.parse.parse_qsl(query)), headers=headers, payload_sha256=headers.get("x-amz-content-sha256", ""))


def test_no_secret_in_the_clear_and_a_restart_still_verifies(identity):
    user, project = _member(identity)
    cred = identity.create_ec2_credential(user["id"], project["id"])
    other = identity.create_credential({"user_id": user["id"], "type": "totp", "blob": "TOTPSEED-IN-THE-CLEAR?"})
    rows = {r[0]: r for r in _raw_rows()}
    assert len(rows) == 2
    for _, blob, key_hash in rows.values():
        assert key_hash and len(key_hash) == 64
        assert cred["secret"] not in blob and cred["access"] not in blob and "TOTPSEED" not in blob
    # the views are unchanged: the owner sees the secret, the generic API the blob
    assert identity.get_ec2_credential(user["id"], cred["access"])["secret"] == cred["secret"]
    assert identity.get_credential(other["id"])["blob"] == "TOTPSEED-IN-THE-CLEAR?"
    generic = [c for c in identity.list_credentials({"type": "ec2"})]
    assert json.loads(generic[0]["blob"])["secret"] == cred["secret"]
    # an update is encrypted too
    identity.update_credential(other["id"], {"blob": "NEWSEED"})
    assert "NEWSEED" not in {r[0]: r for r in _raw_rows()}[other["id"]][1]
    assert identity.get_credential(other["id"])["blob"] == "NEWSEED"
    # the key repository: a 0700 directory of 0600 key files, made at bootstrap
    path = repository_path(CONF)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    keys = [n for n in os.listdir(path) if n.isdigit()]
    assert keys and all(stat.S_IMODE(os.stat(os.path.join(path, k)).st_mode) == 0o600 for k in keys)
    # a new process (a new service on the same database and keys) verifies the signature
    restarted = ServiceHub().identity
    auth = restarted.authenticate_aws(_signed(cred["access"], cred["secret"]))
    assert auth.context.user_id == user["id"] and auth.context.project_id == project["id"]


def test_migration_encrypts_existing_rows_and_downgrade_decrypts(cumulo_conf, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.sync(url, revision="identity_0004")
    engine = db.create_engine(url)
    blob = json.dumps({"access": "AK0", "secret": "OLD-SECRET-0", "trust_id": None})
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO identity_credentials (id, user_id, project_id, type, access, blob, extra, "
                             "created_at) VALUES ('c0', 'u0', 'p0', 'ec2', 'AK0', :blob, '{}', CURRENT_TIMESTAMP)"),
                     {"blob": blob})
    migrate.sync(url)
    with engine.connect() as conn:
        stored, key_hash = conn.execute(sa.text("SELECT blob, key_hash FROM identity_credentials")).one()
    assert "OLD-SECRET-0" not in stored and key_hash
    assert CredentialKeys(repository_path(CONF)).decrypt(stored) == blob
    cfg = migrate.alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "identity_0004")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT blob FROM identity_credentials")).scalar_one() == blob
