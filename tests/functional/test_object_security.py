"""Object Storage security against a running ``cumulo up``: TempURLs and what read-only users see.

Regressions of the security issue, driven with python-swiftclient and plain HTTP:

* a PUT TempURL could store ``X-Object-Manifest`` (or an SLO) pointing into another
  container and read its private data back with a GET TempURL (Swift's CVE-2015-5223
  class); manifests read through a TempURL or a public ACL reach only segments that
  requester could read;
* a user with only the ``reader`` role saw the TempURL keys (and could then sign writes
  and deletes).

Plus the rest of TempURL end to end: methods, expiry, wrong signatures, prefixes, both
key slots, account and container keys. The backend is "dir": none of this is the
backend's business.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from swiftclient import client as swift
from swiftclient.exceptions import ClientException
from swiftclient.utils import generate_temp_url

from cumulo.testing.cloud import CumuloCloud

SECRET = b"top secret payroll"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("object-security"), config={
        "api": {"frontends": "identity,object-store"},
        "object": {"backend": "dir"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def admin(cloud: CumuloCloud) -> tuple[str, str]:
    """(token, storage URL) of the admin's own account."""
    issued = cloud.openstack("token", "issue")
    return issued["id"], f"{cloud.url}/object-store/v1/AUTH_{issued['project_id']}"


@pytest.fixture(scope="module")
def reader_token(cloud: CumuloCloud, admin: tuple[str, str]) -> str:
    """A token of a user with only the ``reader`` role on the admin's project."""
    conn = cloud.connect()
    project_id = admin[1].rsplit("AUTH_", 1)[1]
    project = conn.identity.get_project(project_id)
    name, password = f"reader-{uuid.uuid4().hex[:8]}", "pw-" + uuid.uuid4().hex
    user = conn.identity.create_user(name=name, password=password, default_project_id=project.id,
                                     domain_id="default")
    reader = next(r for r in conn.identity.roles() if r.name == "reader")
    conn.identity.assign_project_role_to_user(project, user, reader)
    cloud.add_user_cloud("reader", name, password, project_name=project.name)
    token: str = cloud.connect("reader").session.get_token()
    return token


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Signer:
    """TempURLs for objects of one account, as python-swiftclient signs them."""

    def __init__(self, cloud: CumuloCloud, base: str) -> None:
        self.root = cloud.url + "/object-store"
        self.account_path = "/v1/" + base.rsplit("/", 1)[1]

    def __call__(self, path: str, key: str, method: str, seconds: int = 300, **kw: Any) -> str:
        return self.root + generate_temp_url(f"{self.account_path}/{path}", seconds, key, method, **kw)


@pytest.fixture
def layout(cloud: CumuloCloud, admin: tuple[str, str]) -> dict[str, Any]:
    """A container to share and a private one holding a secret, with fresh keys on both."""
    token, base = admin
    shared, private = uniq("shared"), uniq("private")
    for c in (shared, private):
        swift.put_container(base, token, c)
    swift.put_object(base, token, private, "payroll", SECRET)
    swift.put_object(base, token, shared, "seg/0", b"public ")
    swift.put_object(base, token, shared, "seg/1", b"part")
    account_key, container_key = uuid.uuid4().hex, uuid.uuid4().hex
    swift.post_account(base, token, {"X-Account-Meta-Temp-URL-Key": account_key,
                                     "X-Account-Meta-Temp-URL-Key-2": account_key + "-2"})
    swift.post_container(base, token, shared, {"X-Container-Meta-Temp-URL-Key": container_key,
                                               "X-Container-Meta-Temp-URL-Key-2": container_key + "-2"})
    return {"token": token, "base": base, "shared": shared, "private": private, "sign": Signer(cloud, base),
            "keys": {"account": account_key, "account-2": account_key + "-2",
                     "container": container_key, "container-2": container_key + "-2"}}


# --------------------------------------------------------------------------- 1. manifest escape
@pytest.mark.parametrize("slot", ["account", "account-2", "container", "container-2"])
def test_put_tempurl_cannot_store_a_manifest_into_another_container(layout, slot):
    sign, key, shared, private = layout["sign"], layout["keys"][slot], layout["shared"], layout["private"]
    put_url, get_url = sign(f"{shared}/upload", key, "PUT"), sign(f"{shared}/upload", key, "GET")
    dlo = requests.put(put_url, data=b"", headers={"X-Object-Manifest": f"{private}/"})
    assert dlo.status_code == 400, dlo.text
    slo = requests.put(put_url + "&multipart-manifest=put",
                       data=json.dumps([{"path": f"/{private}/payroll"}]))
    assert slo.status_code == 400, slo.text
    post = requests.post(sign(f"{shared}/upload", key, "POST"), headers={"X-Object-Manifest": f"{private}/"})
    assert post.status_code == 400, post.text
    got = requests.get(get_url)
    assert got.status_code == 404 and SECRET not in got.content
    # The same TempURL still uploads plain data, readable back with the GET one.
    assert requests.put(put_url, data=b"plain upload").status_code == 201
    assert requests.get(get_url).content == b"plain upload"


@pytest.mark.parametrize("slot", ["container", "container-2"])
def test_manifest_read_through_a_container_key_is_refused_outside_its_container(layout, slot):
    token, base, shared, private = layout["token"], layout["base"], layout["shared"], layout["private"]
    sign, key = layout["sign"], layout["keys"][slot]
    # Manifests as an owner (or an older release) may have stored them.
    swift.put_object(base, token, shared, "dlo-escape", b"", headers={"X-Object-Manifest": f"{private}/"})
    swift.put_object(base, token, shared, "slo-escape",
                     json.dumps([{"path": f"/{shared}/seg/0"}, {"path": f"/{private}/payroll"}]),
                     query_string="multipart-manifest=put")
    swift.put_object(base, token, private, "inner", json.dumps([{"path": f"/{private}/payroll"}]),
                     query_string="multipart-manifest=put")
    swift.put_object(base, token, shared, "slo-nested",
                     json.dumps([{"path": f"/{shared}/seg/0"}, {"path": f"/{private}/inner"}]),
                     query_string="multipart-manifest=put")
    swift.put_object(base, token, shared, "dlo-inside", b"", headers={"X-Object-Manifest": f"{shared}/seg/"})
    for name in ("dlo-escape", "slo-escape", "slo-nested"):
        for method in ("GET", "HEAD"):
            r = requests.request(method, sign(f"{shared}/{name}", key, "GET"))
            assert r.status_code in (401, 403), (name, method, r.status_code)
            assert SECRET not in r.content
        prefixed = sign(f"{shared}/", key, "GET", prefix=True).replace(f"/{shared}/?", f"/{shared}/{name}?")
        assert requests.get(prefixed).status_code in (401, 403)
    inside = requests.get(sign(f"{shared}/dlo-inside", key, "GET"))
    assert inside.status_code == 200 and inside.content == b"public part"
    # The account's owner reads them all with a token.
    assert swift.get_object(base, token, shared, "slo-nested")[1] == b"public " + SECRET


def test_public_manifest_cannot_serve_private_segments(layout):
    token, base, shared, private = layout["token"], layout["base"], layout["shared"], layout["private"]
    swift.post_container(base, token, shared, {"X-Container-Read": ".r:*,.rlistings"})
    swift.put_object(base, token, shared, "slo", json.dumps([{"path": f"/{private}/payroll"}]),
                     query_string="multipart-manifest=put")
    swift.put_object(base, token, shared, "dlo", b"", headers={"X-Object-Manifest": f"{private}/"})
    for name in ("slo", "dlo"):
        r = requests.get(f"{base}/{shared}/{name}")
        assert r.status_code == 401 and SECRET not in r.content
    assert requests.get(f"{base}/{shared}/seg/0").content == b"public "


# --------------------------------------------------------------------------- 2. readers and keys
def test_reader_sees_no_tempurl_keys_and_cannot_set_them(layout, reader_token):
    token, base, shared = layout["token"], layout["base"], layout["shared"]
    keys = layout["keys"]
    owner_account, owner_container = swift.head_account(base, token), swift.head_container(base, token, shared)
    assert owner_account["x-account-meta-temp-url-key"] == keys["account"]
    assert owner_account["x-account-meta-temp-url-key-2"] == keys["account-2"]
    assert owner_container["x-container-meta-temp-url-key"] == keys["container"]
    assert owner_container["x-container-meta-temp-url-key-2"] == keys["container-2"]
    # The reader reads the account and the container (HEAD and GET)...
    shown = [swift.head_account(base, reader_token), swift.head_container(base, reader_token, shared),
             swift.get_account(base, reader_token)[0], swift.get_container(base, reader_token, shared)[0]]
    assert any(o["name"] == "seg/0" for o in swift.get_container(base, reader_token, shared)[1])
    # ...without the keys.
    for headers in shown:
        assert not [h for h in headers if "temp-url-key" in h.lower()], headers
    # Nor may the reader set or remove one (so no TempURL of the reader's making works).
    mine = uuid.uuid4().hex
    posts = {"Account": lambda h: swift.post_account(base, reader_token, h),
             "Container": lambda h: swift.post_container(base, reader_token, shared, h)}
    for kind, call in posts.items():
        for header in ("Temp-URL-Key", "Temp-URL-Key-2"):
            with pytest.raises(ClientException) as err:
                call({f"X-{kind}-Meta-{header}": mine})
            assert err.value.http_status == 403
            with pytest.raises(ClientException) as err:
                call({f"X-Remove-{kind}-Meta-{header}": "x"})
            assert err.value.http_status == 403
    with pytest.raises(ClientException) as err:
        swift.put_container(base, reader_token, shared, headers={"X-Container-Meta-Temp-URL-Key": mine})
    assert err.value.http_status == 403
    assert swift.head_account(base, token)["x-account-meta-temp-url-key"] == keys["account"]
    assert swift.head_container(base, token, shared)["x-container-meta-temp-url-key"] == keys["container"]
    sign = layout["sign"]
    assert requests.put(sign(f"{shared}/by-reader", mine, "PUT"), data=b"x").status_code == 401
    assert requests.delete(sign(f"{shared}/seg/0", mine, "DELETE")).status_code == 401
    assert swift.get_object(base, token, shared, "seg/0")[1] == b"public "


# --------------------------------------------------------------------------- 3. the rest of TempURL
@pytest.mark.parametrize("slot", ["account", "account-2", "container", "container-2"])
def test_tempurl_methods_expiry_signatures_and_prefixes(layout, slot):
    sign, key, shared, private = layout["sign"], layout["keys"][slot], layout["shared"], layout["private"]
    name = f"{shared}/dir/file.txt"
    put = requests.put(sign(name, key, "PUT"), data=b"via tempurl")
    assert put.status_code == 201
    get = requests.get(sign(name, key, "GET"))
    assert get.status_code == 200 and get.content == b"via tempurl"
    assert 'filename="file.txt"' in get.headers["Content-Disposition"]
    assert requests.head(sign(name, key, "GET")).headers["Content-Length"] == str(len(b"via tempurl"))
    assert requests.head(sign(name, key, "HEAD")).status_code == 200
    # sha1, sha512 and ISO 8601 expiries are as good.
    assert requests.get(sign(name, key, "GET", digest="sha1")).status_code == 200
    assert requests.get(sign(name, key, "GET", digest="sha512", iso8601=True)).status_code == 200
    # Wrong: method, key, object, signature, or expired.
    assert requests.put(sign(name, key, "GET"), data=b"x").status_code == 401
    assert requests.delete(sign(name, key, "GET")).status_code == 401
    assert requests.get(sign(name, key + "x", "GET")).status_code == 401
    assert requests.get(sign(name, key, "GET").replace("/file.txt?", "/other.txt?")).status_code == 401
    tampered = sign(name, key, "GET")
    sig = tampered.split("temp_url_sig=")[1].split("&")[0]
    assert requests.get(tampered.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:])).status_code == 401
    expired = sign(name, key, "GET", seconds=int(time.time()) - 5, absolute=True)
    r = requests.get(expired)
    assert r.status_code == 401 and "expired" in r.text.lower()
    # Prefix-based: anything under the prefix, nothing beside it.
    prefixed = sign(f"{shared}/dir/", key, "GET", prefix=True)
    assert requests.get(prefixed.replace("/dir/?", "/dir/file.txt?")).content == b"via tempurl"
    assert requests.get(prefixed.replace("/dir/?", "/seg/0?")).status_code == 401
    put_prefix = sign(f"{shared}/dir/", key, "PUT", prefix=True)
    assert requests.put(put_prefix.replace("/dir/?", "/dir/second?"), data=b"2").status_code == 201
    # Another container: only an account key reaches it.
    other = requests.get(sign(f"{private}/payroll", key, "GET"))
    if slot.startswith("account"):
        assert other.status_code == 200 and other.content == SECRET
    else:
        assert other.status_code == 401 and SECRET not in other.content
    # DELETE, then the object is gone.
    assert requests.delete(sign(name, key, "DELETE")).status_code == 204
    assert requests.get(sign(name, key, "GET")).status_code == 404
    # No token and no signature: nothing.
    assert requests.get(f"{layout['base']}/{name}").status_code == 401


def test_removed_key_revokes_its_urls(layout):
    token, base, shared, sign = layout["token"], layout["base"], layout["shared"], layout["sign"]
    first, second = sign(f"{shared}/seg/0", layout["keys"]["account"], "GET"), \
        sign(f"{shared}/seg/0", layout["keys"]["account-2"], "GET")
    assert requests.get(first).status_code == 200 and requests.get(second).status_code == 200
    swift.post_account(base, token, {"X-Remove-Account-Meta-Temp-URL-Key-2": "x"})
    assert requests.get(second).status_code == 401
    assert requests.get(first).status_code == 200  # key rotation: the other slot still works
