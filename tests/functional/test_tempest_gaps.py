"""The gaps Tempest found (doc/source/tempest.rst), closed and checked with the unmodified clients:
the ``openstack`` CLI, openstacksdk, keystoneauth and python-swiftclient against ``cumulo up``.

Roles of the bootstrap, application credential access rules (enforced on another API), image
metadata definitions, network agents and security group rule faults, and the Object Storage
pieces (TempURLs signed as Tempest signs them, bulk upload and delete, copies with metadata,
``/healthcheck``, reseller admins' account quotas).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import tarfile
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
import yaml
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud
from cumulo.testing.fixtures import unavailable


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    wanted = ("identity", "object-store", "image", "network")
    missing = [f for f in wanted if f not in registry.names("api")]
    if missing:
        unavailable(f"frontends not installed: {', '.join(missing)}")
    c = CumuloCloud(tmp_path_factory.mktemp("icon-cloud"), config={
        "api": {"frontends": ",".join(wanted)}, "object": {"backend": "dir"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


def uniq(prefix: str) -> str:
    return f"icon-{prefix}-{uuid.uuid4().hex[:8]}"


def fails(cloud: CumuloCloud, *args: str) -> str:
    with pytest.raises(CommandFailed) as err:
        cloud.openstack(*args)
    return err.value.stderr + err.value.stdout


def member(cloud: CumuloCloud, role: str = "member") -> dict[str, str]:
    """A new user with ``role`` on a new project, as a clouds.yaml entry of the same name."""
    name = uniq("user")
    project = cloud.openstack("project", "create", name)
    user = cloud.openstack("user", "create", "--password", "pw-" + name, name)
    cloud.openstack("role", "add", "--user", name, "--project", name, role)
    cloud.add_user_cloud(name, name, "pw-" + name, project_name=name)
    return {"name": name, "user_id": user["id"], "project_id": project["id"]}


def test_bootstrap_roles(cloud: CumuloCloud) -> None:
    names = {r["Name"] for r in cloud.openstack("role", "list")}
    assert {"admin", "manager", "member", "reader", "service", "ResellerAdmin"} <= names
    implied = cloud.openstack("implied", "role", "list")
    pairs = {(r["Prior Role Name"], r["Implied Role Name"]) for r in implied}
    assert {("admin", "manager"), ("manager", "member"), ("member", "reader")} <= pairs


def test_access_rules_with_the_cli_and_enforced_on_another_api(cloud: CumuloCloud) -> None:
    bob = member(cloud)
    rules = json.dumps([{"service": "network", "method": "GET", "path": "/v2.0/networks"}])
    made = cloud.openstack("application", "credential", "create", "--access-rules", rules, "ar",
                           os_cloud=bob["name"])
    cred = {k.lower(): v for k, v in made.items()}
    listed = cloud.openstack("access", "rule", "list", os_cloud=bob["name"])
    assert [(r["Service"], r["Method"], r["Path"]) for r in listed] == [("network", "GET", "/v2.0/networks")]
    rule_id = listed[0]["ID"]
    shown = cloud.openstack("access", "rule", "show", rule_id, os_cloud=bob["name"])
    assert {k.lower(): v for k, v in shown.items()}["path"] == "/v2.0/networks", shown
    fails(cloud, "--os-cloud", bob["name"], "access", "rule", "delete", rule_id)  # in use: 403
    assert len(cloud.openstack("access", "rule", "list", os_cloud=bob["name"])) == 1
    # The credential's token reaches what its rule allows, nothing else (keystonemiddleware's 401).
    with open(cloud.clouds_yaml) as f:
        auth_url = yaml.safe_load(f)["clouds"]["cumulo"]["auth"]["auth_url"]
    sess = ks_session.Session(auth=v3.ApplicationCredential(
        auth_url=auth_url, application_credential_id=cred["id"], application_credential_secret=cred["secret"]))
    network = {"service_type": "network"}
    ok = sess.get("/v2.0/networks", endpoint_filter=network, raise_exc=False)
    assert ok.status_code == 200 and "networks" in ok.json()
    assert sess.get("/v2.0/ports", endpoint_filter=network, raise_exc=False).status_code == 401
    assert sess.get("/v2/images", endpoint_filter={"service_type": "image"}, raise_exc=False).status_code == 401
    cloud.openstack("application", "credential", "delete", "ar", os_cloud=bob["name"])
    cloud.openstack("access", "rule", "delete", rule_id, os_cloud=bob["name"])
    assert cloud.openstack("access", "rule", "list", os_cloud=bob["name"]) == []


def test_image_metadefs_with_the_cli_and_openstacksdk(cloud: CumuloCloud) -> None:
    name = uniq("ns")
    made = cloud.openstack("image", "metadef", "namespace", "create", "--public", "--protected",
                           "--description", "Tempest", name, json_out=True)
    assert made["namespace"] == name and made["visibility"] == "public"
    assert name in [n["namespace"] for n in cloud.openstack("image", "metadef", "namespace", "list", json_out=True)]
    conn = cloud.connect()
    types = [t.name for t in conn.image.metadef_resource_types()]
    assert "OS::Glance::Image" in types
    conn.image.create_metadef_resource_type_association(name, name="OS::Glance::Image", prefix="hw_")
    conn.image.create_metadef_property(name, name="cpu", title="CPU", type="string", enum=["a", "b"])
    conn.image.create_metadef_object(name, name="obj")
    shown = conn.image.get_metadef_namespace(name)
    assert shown.resource_type_associations[0]["name"] == "OS::Glance::Image"
    assert conn.image.get_metadef_property("cpu", name).title == "CPU"
    assert [o.name for o in conn.image.metadef_objects(name)] == ["obj"]
    fails(cloud, "image", "metadef", "namespace", "delete", name)  # protected: 403
    assert cloud.openstack("image", "metadef", "namespace", "show", name, json_out=True)["namespace"] == name
    cloud.openstack("image", "metadef", "namespace", "set", "--unprotected", name)
    cloud.openstack("image", "metadef", "namespace", "delete", name)
    assert name not in [n["namespace"] for n in cloud.openstack("image", "metadef", "namespace", "list", json_out=True)]
    for kind in ("namespace", "namespaces", "object", "property", "resource_type", "tag", "tags"):
        assert conn.image.get(f"/schemas/metadefs/{kind}").json()["name"]


def test_network_agents_and_security_group_rule_faults(cloud: CumuloCloud) -> None:
    assert cloud.openstack("network", "agent", "list") == []  # the noop driver plays no agent's part
    group = cloud.openstack("security", "group", "create", uniq("sg"))
    import openstack

    conn = cloud.connect()
    for pmin, pmax, words in ((80, 79, "port_range_min must be <= port_range_max"),
                              (80, 65536, "Invalid value for port 65536"), (-16, 80, "Invalid value for port -16")):
        with pytest.raises(openstack.exceptions.BadRequestException) as err:
            conn.network.create_security_group_rule(security_group_id=group["id"], direction="ingress",
                                                    protocol="tcp", port_range_min=pmin, port_range_max=pmax)
        assert words in str(err.value), err.value
    rule = cloud.openstack("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
                           group["id"], json_out=True)
    assert rule["port_range_min"] == 22 and rule["port_range_max"] == 22
    ext = cloud.openstack("network", "create", "--external", uniq("ext"))
    cloud.openstack("subnet", "create", "--network", ext["id"], "--subnet-range", "198.51.100.0/24", uniq("s"))
    fip = cloud.openstack("floating", "ip", "create", ext["id"])
    cloud.openstack("network", "delete", ext["id"])
    assert fip["id"] not in [f["ID"] for f in cloud.openstack("floating", "ip", "list")]


@pytest.fixture(scope="module")
def swift(cloud: CumuloCloud) -> Any:
    import swiftclient

    conn = cloud.connect()
    token, url = conn.session.get_token(), conn.object_store.get_endpoint()
    return swiftclient.client.Connection(preauthurl=url, preauthtoken=token, retries=0)


def test_tempurl_signed_as_tempest_signs_it(cloud: CumuloCloud, swift: Any) -> None:
    container = uniq("c")
    swift.put_container(container)
    swift.put_object(container, "o", b"temp data")
    swift.post_account({"X-Account-Meta-Temp-URL-Key": "k1", "X-Account-Meta-Temp-URL-Key-2": "k2"})
    url = swift.url
    expires = int(time.time()) + 300
    for key, method in (("k1", "GET"), ("k2", "GET"), ("k1", "HEAD")):
        path = f"{urlparse(url).path}/{container}/o"  # the whole path of the catalog's URL
        sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(), hashlib.sha256).hexdigest()
        resp = requests.request(method, f"{url}/{container}/o?temp_url_sig={sig}&temp_url_expires={expires}&inline",
                                timeout=30)
        assert resp.status_code == 200, resp.text
        if method == "GET":
            assert resp.content == b"temp data" and resp.headers["Content-Disposition"] == "inline"


def test_bulk_upload_and_delete_copy_metadata_healthcheck(cloud: CumuloCloud, swift: Any) -> None:
    container = uniq("bulk")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        member_info = tarfile.TarInfo(f"{container}/a/obj")
        member_info.size = 4
        tar.addfile(member_info, io.BytesIO(b"data"))
    headers = {"X-Auth-Token": swift.token, "Accept": "application/json"}
    resp = requests.put(f"{swift.url}?extract-archive=tar.gz", data=buf.getvalue(), headers=headers, timeout=30)
    assert resp.status_code == 200 and resp.json()["Number Files Created"] == 1
    assert swift.get_object(container, "a/obj")[1] == b"data"
    # COPY answers with the merged metadata.
    swift.put_object(container, "src", b"x", headers={"X-Object-Meta-Src": "s"})
    result: dict[str, Any] = {}
    swift.copy_object(container, "src", f"/{container}/dst", headers={"X-Object-Meta-Test": "v"},
                      response_dict=result)
    assert result["headers"]["x-object-meta-src"] == "s" and result["headers"]["x-object-meta-test"] == "v"
    assert swift.head_object(container, "dst")["x-object-meta-src"] == "s"
    body = "\n".join([f"{container}/a/obj", f"{container}/src", f"{container}/dst", container])
    resp = requests.delete(f"{swift.url}?bulk-delete", data=body, headers={**headers, "Content-Type": "text/plain"},
                           timeout=30)
    assert resp.status_code == 200 and resp.json()["Number Deleted"] == 4
    root = swift.url.split("/v1/")[0]
    health = requests.get(f"{root}/healthcheck", timeout=30)
    assert health.status_code == 200 and health.text == "OK"


def test_a_reseller_admin_sets_account_quotas(cloud: CumuloCloud, swift: Any) -> None:
    import swiftclient

    bob = member(cloud)
    reseller = member(cloud, role="ResellerAdmin")
    bob_conn = cloud.connect(bob["name"])
    url, token = bob_conn.object_store.get_endpoint(), bob_conn.session.get_token()
    reseller_token = cloud.connect(reseller["name"]).session.get_token()
    bob_swift = swiftclient.client.Connection(preauthurl=url, preauthtoken=token, retries=0)
    with pytest.raises(swiftclient.ClientException) as err:
        bob_swift.post_account({"X-Account-Meta-Quota-Bytes": "20"})
    assert err.value.http_status == 403
    as_reseller = swiftclient.client.Connection(preauthurl=url, preauthtoken=reseller_token, retries=0)
    as_reseller.post_account({"X-Account-Meta-Quota-Bytes": "20"})
    bob_swift.put_container("q")
    bob_swift.put_object("q", "ok", b"x" * 20)
    with pytest.raises(swiftclient.ClientException) as err:
        bob_swift.put_object("q", "over", b"x" * 21)
    assert err.value.http_status == 413
