"""Keystone's ``POST /v3/ec2tokens`` and ``/v3/s3tokens`` against a running ``cumulo up``: keys from
``openstack ec2 credentials create``, requests signed by python-keystoneclient's ``Ec2Signer`` (what
Keystone itself verifies with) and by botocore; the token answered works for the identity API."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from cumulo.testing.cloud import CumuloCloud

try:
    from keystoneclient.contrib.ec2.utils import Ec2Signer
except ImportError:  # pragma: no cover - python-openstackclient depends on it
    Ec2Signer = None


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    """This module's own cloud: identity only, cheap password hashing (tests only)."""
    c = CumuloCloud(tmp_path_factory.mktemp("ec2tokens-cloud"), config={
        "api": {"frontends": "identity"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def member(cloud: CumuloCloud) -> dict[str, Any]:
    """A member of its own project with an EC2 credential made by the real CLI, as that user."""
    name, project = f"ec2t-{uuid.uuid4().hex[:6]}", f"ec2t-p-{uuid.uuid4().hex[:6]}"
    cloud.openstack("project", "create", project)
    user = cloud.openstack("user", "create", "--password", "pw-" + name, name)
    cloud.openstack("role", "add", "--user", name, "--project", project, "member", json_out=False)
    cloud.add_user_cloud(name, name, "pw-" + name, project)
    cred = cloud.openstack("ec2", "credentials", "create", os_cloud=name)
    return {"user_id": user["id"], "project": project, "access": cred["access"], "secret": cred["secret"],
            "cloud": name}


def _post(cloud: CumuloCloud, what: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(f"{cloud.url}/identity/v3/{what}", json=body, timeout=60)


def _v2(member: dict[str, Any], host: str, **params: str) -> dict[str, Any]:
    signed = {"Action": "DescribeInstances", "AWSAccessKeyId": member["access"], "SignatureVersion": "2",
              "SignatureMethod": "HmacSHA256", "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              **params}
    creds = {"access": member["access"], "host": host, "verb": "GET", "path": "/", "params": signed}
    creds["signature"] = Ec2Signer(member["secret"]).generate({**creds, "params": dict(signed)})
    return {"credentials": creds}


def _v4(member: dict[str, Any], host: str, body: bytes) -> dict[str, Any]:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"Host": host, "X-Amz-Date": stamp,
               "Authorization": f"AWS4-HMAC-SHA256 Credential={member['access']}/{stamp[:8]}/RegionOne/ec2/"
                                "aws4_request, SignedHeaders=host;x-amz-date, "}
    creds = {"access": member["access"], "host": host, "verb": "POST", "path": "/", "params": {},
             "headers": headers, "body_hash": hashlib.sha256(body).hexdigest()}
    creds["signature"] = Ec2Signer(member["secret"]).generate(creds)
    headers["Authorization"] += f"Signature={creds['signature']}"
    return {"credentials": creds}


def _check_token(cloud: CumuloCloud, resp: requests.Response, member: dict[str, Any]) -> None:
    assert resp.status_code == 200, resp.text
    token = resp.json()["token"]
    assert token["user"]["id"] == member["user_id"] and token["project"]["name"] == member["project"]
    assert token["methods"] == ["ec2credential"] and "member" in {r["name"] for r in token["roles"]}
    subject = resp.headers["X-Subject-Token"]
    # the token works: it reads its own project
    got = requests.get(f"{cloud.url}/identity/v3/auth/projects", headers={"X-Auth-Token": subject}, timeout=60)
    assert got.status_code == 200 and [p["name"] for p in got.json()["projects"]] == [member["project"]]


def test_ec2tokens_with_keystoneclient_signer(cloud, member):
    if Ec2Signer is None:
        from cumulo.testing.fixtures import unavailable

        unavailable("python-keystoneclient (Ec2Signer)")
    _check_token(cloud, _post(cloud, "ec2tokens", _v2(member, "ec2.example:8788", MaxResults="5")), member)
    _check_token(cloud, _post(cloud, "ec2tokens", _v4(member, "ec2.example:8788", b"Action=DescribeImages")), member)
    # the same V4 header signature again: at once it is a client's repeat ([identity] aws_replay_grace, 5 s),
    # after the grace but within the skew window a replay
    replayed = _v4(member, "ec2.example:8788", b"Action=RunInstances")
    assert _post(cloud, "ec2tokens", replayed).status_code == 200
    assert _post(cloud, "ec2tokens", replayed).status_code == 200
    time.sleep(5.5)
    again = _post(cloud, "ec2tokens", replayed)
    assert again.status_code == 401 and "ReplayedRequest" in again.json()["error"]["message"]
    # a signature made with another secret, and an unknown key
    wrong = _v2({**member, "secret": "not-it"}, "ec2.example")
    resp = _post(cloud, "ec2tokens", wrong)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == 401
    resp = _post(cloud, "ec2tokens", _v2({**member, "access": "AKIDUNKNOWN"}, "ec2.example"))
    assert resp.status_code == 404 and resp.json()["error"]["message"] == "EC2 access key not found."
    assert _post(cloud, "ec2tokens", {"credentials": {"host": "x"}}).status_code == 401


def test_s3tokens_with_botocore_string_to_sign(cloud, member):
    from botocore.auth import HmacV1Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method="GET", url="http://s3.example/bucket/key?acl")
    signer = HmacV1Auth(Credentials(member["access"], member["secret"]))
    signed: list[str] = []
    real = signer.canonical_string
    signer.canonical_string = lambda *a, **kw: signed.append(real(*a, **kw)) or signed[-1]  # what it signs
    signer.add_auth(req)
    sts = signed[0]
    signature = req.headers["Authorization"].rpartition(":")[2]
    body = {"credentials": {"access": member["access"], "signature": signature,
                            "token": base64.urlsafe_b64encode(sts.encode()).decode()}}
    resp = _post(cloud, "s3tokens", body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["token"]["project"]["name"] == member["project"]
    body["credentials"]["token"] = base64.urlsafe_b64encode((sts + "x").encode()).decode()
    assert _post(cloud, "s3tokens", body).status_code == 401


def test_secret_encrypted_at_rest_and_verified_after_restart(cloud, member):
    import os
    import sqlite3

    if Ec2Signer is None:
        from cumulo.testing.fixtures import unavailable

        unavailable("python-keystoneclient (Ec2Signer)")
    with sqlite3.connect(os.path.join(cloud.state_path, "cumulo.sqlite")) as conn:
        rows = conn.execute("SELECT blob, key_hash FROM identity_credentials WHERE access = ?",
                            (member["access"],)).fetchall()
    assert len(rows) == 1 and rows[0][1] and member["secret"] not in rows[0][0]
    keys = os.path.join(cloud.state_path, "credential-keys")
    assert os.stat(keys).st_mode & 0o777 == 0o700
    cloud.restart()
    cloud.add_user_cloud(member["cloud"], member["cloud"], "pw-" + member["cloud"], member["project"])  # new port
    _check_token(cloud, _post(cloud, "ec2tokens", _v2(member, "ec2.example:8788")), member)
    # the owner still reads the secret through the API, as in Keystone
    shown = cloud.openstack("ec2", "credentials", "show", member["access"], os_cloud=member["cloud"])
    assert shown["secret"] == member["secret"]
