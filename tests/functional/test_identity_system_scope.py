"""System scope and the identity details Tempest trips on, with the real clients (issue 12).

Tempest's admin classes grant roles on the system in set-up
(``PUT /v3/system/users/{u}/roles/{r}``) and work with system-scoped tokens;
here ``openstack role add --system all``, ``openstack role assignment list
--system all``, ``openstack --os-system-scope all token issue`` and
keystoneauth1 with ``system_scope="all"`` run against a real ``cumulo up``; and so does Tempest's
identity API suite itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from cumulo.testing.cloud import CommandFailed, CumuloCloud
from cumulo.testing.fixtures import unavailable


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    """This module's own cloud with only the identity API and cheap password hashing (tests only)."""
    c = CumuloCloud(tmp_path_factory.mktemp("system-scope-cloud"), config={
        "api": {"frontends": "identity"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def auth_url(cloud: CumuloCloud) -> str:
    return cloud.url + "/identity/v3"


def system_auth(cloud: CumuloCloud, username: str, password: str) -> v3.Password:
    return v3.Password(auth_url=auth_url(cloud), username=username, password=password,
                       user_domain_id="default", system_scope="all")


def access_of(plugin: v3.base.BaseAuth) -> Any:
    """keystoneauth1's AccessInfoV3 for ``plugin`` (it authenticates on first use)."""
    return plugin.get_access(ks_session.Session(auth=plugin))


def token_of(plugin: v3.base.BaseAuth) -> str:
    token = access_of(plugin).auth_token
    assert isinstance(token, str) and token
    return token


def call(cloud: CumuloCloud, method: str, path: str, token: str, **kw: Any) -> requests.Response:
    return requests.request(method, auth_url(cloud) + path, headers={"X-Auth-Token": token, **kw.pop("headers", {})},
                            timeout=60, **kw)


@pytest.fixture(scope="module")
def admin_token(cloud: CumuloCloud) -> str:
    return token_of(system_auth(cloud, "admin", cloud.admin_password or ""))


@pytest.fixture(scope="module")
def user(cloud: CumuloCloud) -> dict[str, str]:
    """A user with no role anywhere yet, and a clouds.yaml entry without a project."""
    name, password = uniq("sysuser"), uniq("pw")
    created = cloud.openstack("user", "create", "--password", password, name)
    cloud.add_user_cloud(name, name, password)
    return {"name": name, "id": created["id"], "password": password}


def test_system_role_assignments_for_users_and_groups(cloud: CumuloCloud, user: dict[str, str],
                                                      admin_token: str) -> None:
    group = cloud.openstack("group", "create", uniq("sysgroup"))
    cloud.openstack("role", "add", "--system", "all", "--user", user["name"], "reader", json_out=False)
    cloud.openstack("role", "add", "--system", "all", "--group", group["id"], "member", json_out=False)
    listed = cloud.openstack("role", "assignment", "list", "--system", "all", "--names")
    pairs = {(a["User"] or a["Group"], a["Role"], a["System"]) for a in listed}
    assert (f"{user['name']}@Default", "reader", "all") in pairs
    assert (f"{group['name']}@Default", "member", "all") in pairs
    # keystone-manage bootstrap's admin holds admin on the system; so does ours
    assert ("admin@Default", "admin", "all") in pairs
    assert all(a["Project"] == "" and a["Domain"] == "" for a in listed)
    # the API itself: HEAD and listing, and the assignment links Keystone gives
    reader = cloud.openstack("role", "show", "reader")["id"]
    one = f"/system/users/{user['id']}/roles/{reader}"
    assert call(cloud, "HEAD", one, admin_token).status_code == 204
    roles = call(cloud, "GET", f"/system/users/{user['id']}/roles", admin_token).json()["roles"]
    assert [r["name"] for r in roles] == ["reader"]
    raw = call(cloud, "GET", f"/role_assignments?scope.system=all&user.id={user['id']}", admin_token).json()
    assert [(a["scope"], a["links"]["assignment"]) for a in raw["role_assignments"]] == [
        ({"system": {"all": True}}, auth_url(cloud) + one)]
    # removal through the client
    cloud.openstack("role", "remove", "--system", "all", "--group", group["id"], "member", json_out=False)
    left = cloud.openstack("role", "assignment", "list", "--system", "all", "--group", group["id"])
    assert left == []
    cloud.openstack("group", "delete", group["id"], json_out=False)


def test_system_scoped_token_from_the_cli_and_keystoneauth(cloud: CumuloCloud) -> None:
    cloud.add_user_cloud("sysadmin", "admin", cloud.admin_password or "")
    issued = cloud.openstack("--os-system-scope", "all", "token", "issue", os_cloud="sysadmin")
    assert issued["id"] and "project_id" not in issued
    body = call(cloud, "GET", "/auth/tokens", issued["id"], headers={"X-Subject-Token": issued["id"]}).json()
    assert body["token"]["system"] == {"all": True}
    assert {r["name"] for r in body["token"]["roles"]} >= {"admin", "reader"}
    # keystoneauth1: the access info knows it is system-scoped
    access = access_of(system_auth(cloud, "admin", cloud.admin_password or ""))
    assert access.system_scoped and access.system == {"all": True} and not access.project_scoped
    assert "admin" in access.role_names
    assert call(cloud, "GET", "/auth/system", access.auth_token).json()["system"] == [{"all": True}]
    # the CLI with a system-scoped token manages users
    users = cloud.openstack("--os-system-scope", "all", "user", "list", os_cloud="sysadmin")
    assert "admin" in [u["Name"] for u in users]


def test_system_reader_reads_but_does_not_change(cloud: CumuloCloud, user: dict[str, str]) -> None:
    """Keystone's defaults: ``role:reader and system_scope:all`` reads the identity inventory."""
    cloud.openstack("role", "add", "--system", "all", "--user", user["name"], "reader", json_out=False)
    users = cloud.openstack("--os-system-scope", "all", "user", "list", os_cloud=user["name"])
    assert user["name"] in [u["Name"] for u in users]
    assert cloud.openstack("--os-system-scope", "all", "service", "list", os_cloud=user["name"])
    with pytest.raises(CommandFailed) as err:
        cloud.openstack("--os-system-scope", "all", "project", "create", uniq("nope"), os_cloud=user["name"])
    assert "403" in str(err.value) or "not allowed" in str(err.value) or "policy" in str(err.value)
    token = token_of(system_auth(cloud, user["name"], user["password"]))
    assert call(cloud, "GET", "/auth/system", token).json()["system"] == [{"all": True}]
    # the reader role on a project gives no such reading
    project = cloud.openstack("project", "create", uniq("rproj"))
    cloud.openstack("role", "add", "--project", project["id"], "--user", user["name"], "reader", json_out=False)
    project_token = token_of(v3.Password(auth_url=auth_url(cloud), username=user["name"], password=user["password"],
                                         user_domain_id="default", project_id=project["id"]))
    own = call(cloud, "GET", f"/users/{user['id']}", project_token).json()["user"]
    assert own["id"] == user["id"] and call(cloud, "GET", "/users", project_token).status_code == 403


def test_rescoping_accumulates_methods(cloud: CumuloCloud, admin_token: str) -> None:
    def methods(token: str) -> list[str]:
        body = call(cloud, "GET", "/auth/tokens", admin_token, headers={"X-Subject-Token": token}).json()
        return body["token"]["methods"]

    token = token_of(v3.Password(auth_url=auth_url(cloud), username="admin", password=cloud.admin_password or "",
                                 user_domain_id="default", unscoped=True))
    assert methods(token) == ["password"]
    access = access_of(v3.Token(auth_url=auth_url(cloud), token=token, system_scope="all"))
    assert access.system_scoped and methods(access.auth_token) == ["password", "token"]
    project_access = access_of(v3.Token(auth_url=auth_url(cloud), token=access.auth_token,
                                        project_name="admin", project_domain_id="default"))
    assert project_access.project_name == "admin" and methods(project_access.auth_token) == ["password", "token"]


def test_admin_changes_another_users_password(cloud: CumuloCloud, admin_token: str) -> None:
    name = uniq("pwuser")
    created = cloud.openstack("user", "create", "--password", "first-pw", name)
    # PATCH /v3/users/{id} (openstack user set --password)
    cloud.openstack("user", "set", "--password", "second-pw", name, json_out=False)
    # POST /v3/users/{id}/password with the admin's token and the original password (Tempest's admin test)
    change = {"user": {"original_password": "second-pw", "password": "third-pw"}}
    assert call(cloud, "POST", f"/users/{created['id']}/password", admin_token, json=change).status_code == 204
    assert token_of(v3.Password(auth_url=auth_url(cloud), username=name, password="third-pw",
                                user_domain_id="default", unscoped=True))
    cloud.openstack("user", "delete", name, json_out=False)


def test_endpoint_with_legacy_region_domain_name_length_and_ec2_blob(cloud: CumuloCloud, admin_token: str,
                                                                      user: dict[str, str]) -> None:
    service = cloud.openstack("service", "create", "--name", uniq("svc"), uniq("type"))
    region = uniq("LegacyRegion")
    legacy = {"endpoint": {"service_id": service["id"], "interface": "public", "url": "http://legacy.example",
                           "region": region}}
    resp = call(cloud, "POST", "/endpoints", admin_token, json=legacy)
    assert resp.status_code == 201, resp.text
    assert resp.json()["endpoint"]["region_id"] == region == resp.json()["endpoint"]["region"]
    assert cloud.openstack("region", "show", region)["region"] == region
    cloud.openstack("service", "delete", service["id"], json_out=False)
    # a domain name over 64 characters is a 400 naming the field
    with pytest.raises(CommandFailed) as err:
        cloud.openstack("domain", "create", "d" * 65)
    assert "400" in str(err.value) or "name" in str(err.value)
    assert cloud.openstack("domain", "create", "d" * 64)["name"] == "d" * 64
    # an ec2 credential's blob, access key included, may be replaced
    project = cloud.openstack("project", "create", uniq("ec2proj"))
    blob = json.dumps({"access": uniq("access"), "secret": uniq("secret")})
    cred = cloud.openstack("credential", "create", "--type", "ec2", "--project", project["id"], user["id"], blob)
    new_access = uniq("NewAccess")
    new_blob = json.dumps({"access": new_access, "secret": uniq("NewSecret")})
    cloud.openstack("credential", "set", "--user", user["id"], "--type", "ec2", "--data", new_blob,
                    "--project", project["id"], cred["id"], json_out=False)
    shown = cloud.openstack("credential", "show", cred["id"])
    assert json.loads(shown["blob"])["access"] == new_access
    ec2 = call(cloud, "GET", f"/users/{user['id']}/credentials/OS-EC2/{new_access}", admin_token)
    assert ec2.status_code == 200 and ec2.json()["credential"]["access"] == new_access
    cloud.openstack("credential", "delete", cred["id"], json_out=False)


def test_endpoint_filter_tags_policies_and_consumers_with_the_cli(cloud: CumuloCloud, tmp_path: Any,
                                                                   admin_token: str) -> None:
    """``openstack endpoint add project``, ``endpoint group``, ``project set --tag`` and ``policy``
    commands, and OAuth1 consumers; a filtered project's token carries only its endpoints."""
    service = cloud.openstack("service", "create", "--name", uniq("epf"), uniq("epftype"))
    endpoint = cloud.openstack("endpoint", "create", "--region", "RegionOne", service["id"], "public",
                               "http://epf.example")
    project = cloud.openstack("project", "create", "--tag", "alpha", uniq("epfproj"))
    name, password = uniq("epfuser"), uniq("pw")
    cloud.openstack("user", "create", "--password", password, name)
    cloud.openstack("role", "add", "--project", project["id"], "--user", name, "member", json_out=False)

    def catalog_types() -> set[str]:
        access = access_of(v3.Password(auth_url=auth_url(cloud), username=name, password=password,
                                       user_domain_id="default", project_id=project["id"]))
        return {entry["type"] for entry in access.service_catalog.catalog}

    assert {"identity", service["type"]} <= catalog_types()
    cloud.openstack("endpoint", "add", "project", endpoint["id"], project["id"], json_out=False)
    assert catalog_types() == {service["type"]}
    listed = cloud.openstack("endpoint", "list", "--project", project["id"])
    assert [e["ID"] for e in listed] == [endpoint["id"]]
    filters = tmp_path / "filters.json"
    filters.write_text(json.dumps({"interface": "public", "service_id": service["id"]}))
    group = cloud.openstack("endpoint", "group", "create", "--description", "d", uniq("epg"), str(filters))
    assert group["filters"] == {"interface": "public", "service_id": service["id"]}
    cloud.openstack("endpoint", "group", "add", "project", group["id"], project["id"], json_out=False)
    assert [g["ID"] for g in cloud.openstack("endpoint", "group", "list", "--project", project["id"])] == [group["id"]]
    cloud.openstack("endpoint", "group", "remove", "project", group["id"], project["id"], json_out=False)
    cloud.openstack("endpoint", "group", "delete", group["id"], json_out=False)
    cloud.openstack("endpoint", "remove", "project", endpoint["id"], project["id"], json_out=False)
    assert "identity" in catalog_types()
    # project tags
    cloud.openstack("project", "set", "--tag", "beta", project["id"], json_out=False)
    assert sorted(cloud.openstack("project", "show", project["id"])["tags"]) == ["alpha", "beta"]
    tags = call(cloud, "GET", f"/projects/{project['id']}/tags", admin_token).json()["tags"]
    assert sorted(tags) == ["alpha", "beta"]
    assert call(cloud, "GET", f"/projects/{project['id']}/tags/beta", admin_token).status_code == 204
    # policy documents and OAuth1 consumers
    blob = tmp_path / "policy.json"
    blob.write_text('{"rule": "role:admin"}')
    policy = cloud.openstack("policy", "create", "--type", "application/json", str(blob))
    assert policy["rules"] == '{"rule": "role:admin"}' and policy["type"] == "application/json"  # OSC: blob as rules
    assert policy["id"] in [p["ID"] for p in cloud.openstack("policy", "list")]
    cloud.openstack("policy", "delete", policy["id"], json_out=False)
    # (openstack consumer needs oauthlib, which this project does not install: plain HTTP)
    made = call(cloud, "POST", "/OS-OAUTH1/consumers", admin_token, json={"consumer": {"description": "an app"}})
    consumer = made.json()["consumer"]
    assert made.status_code == 201 and consumer["secret"] and consumer["description"] == "an app"
    assert "secret" not in call(cloud, "GET", f"/OS-OAUTH1/consumers/{consumer['id']}", admin_token).json()["consumer"]
    assert call(cloud, "DELETE", f"/OS-OAUTH1/consumers/{consumer['id']}", admin_token).status_code == 204
    cloud.openstack("service", "delete", service["id"], json_out=False)


def test_domain_configuration_with_keystoneclient(cloud: CumuloCloud) -> None:
    from keystoneclient.v3 import client as ks_client  # type: ignore[import-untyped]

    sess = ks_session.Session(auth=system_auth(cloud, "admin", cloud.admin_password or ""))
    ks = ks_client.Client(session=sess)
    domain = ks.domains.create(uniq("cfgdom"))
    config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://ldap.example:389/", "password": "x"}}
    created = ks.domain_configs.create(domain, config).to_dict()
    assert created == {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://ldap.example:389/"}}
    updated = ks.domain_configs.update(domain, {"ldap": {"user_tree_dn": "ou=Users,dc=example"}}).to_dict()
    assert updated["ldap"] == {"url": "ldap://ldap.example:389/", "user_tree_dn": "ou=Users,dc=example"}
    assert ks.domain_configs.get(domain).to_dict() == updated
    ks.domain_configs.delete(domain)
    with pytest.raises(Exception, match="404|Not Found|Could not find"):
        ks.domain_configs.get(domain)
    ks.domains.update(domain, enabled=False)
    ks.domains.delete(domain)


TEMPEST_CONF = """[DEFAULT]
log_file = tempest.log
[auth]
admin_username = admin
admin_password = {password}
admin_project_name = admin
admin_domain_name = Default
use_dynamic_credentials = True
[identity]
uri_v3 = {auth_url}
auth_version = v3
region = RegionOne
[identity-feature-enabled]
api_v2 = False
trust = True
security_compliance = False
project_tags = True
application_credentials = True
access_rules = False
[service_available]
nova = False
glance = False
neutron = False
cinder = False
swift = False
[enforce_scope]
keystone = {enforce_scope}
"""


def _tempest_venv() -> str:
    """``tempest`` of the venv ``cumulo verify --install`` keeps (made now if missing, as the CI stage does)."""
    from cumulo_verify import runner

    try:
        runner.install(runner.DEFAULT_VENV)
    except runner.VerifyError as err:
        unavailable(f"Tempest could not be installed into {runner.DEFAULT_VENV}: {err}")
    return os.path.join(runner.DEFAULT_VENV, "bin", "tempest")


@pytest.mark.slow
@pytest.mark.parametrize("enforce_scope", [False, True])
def test_tempest_identity_api(tmp_path: Any, enforce_scope: bool) -> None:
    """Tempest's own identity API tests (``tempest.api.identity``) against this cloud: with
    ``[enforce_scope] keystone`` its admin classes work with system-scoped credentials (system
    grants, system tokens). Tempest comes from ``$CUMULO_TEMPEST`` or ``tempest`` on PATH (its own
    virtualenv is best: its pins are not this project's)."""
    tempest = os.environ.get("CUMULO_TEMPEST") or shutil.which("tempest") or _tempest_venv()
    c = CumuloCloud(tmp_path / "cloud", config={
        "api": {"frontends": "identity"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    try:
        workspace = tmp_path / "tempest"
        # its own workspace registry: nothing under ~/.tempest, no clash with another run's name
        subprocess.run([tempest, "init", "--name", uniq("cumulo"), "--workspace-path",
                        str(tmp_path / "workspace.yaml"), str(workspace)], check=True, capture_output=True, timeout=120)
        (workspace / "etc" / "tempest.conf").write_text(TEMPEST_CONF.format(
            password=c.admin_password, auth_url=auth_url(c), enforce_scope=enforce_scope))
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        run = subprocess.run([tempest, "run", "--regex", r"^tempest\.api\.identity", "--concurrency", "2"],
                             cwd=workspace, capture_output=True, text=True, timeout=1200, env=env)
    finally:
        c.stop()
    failed = [line for line in run.stdout.splitlines() if line.rstrip().endswith("FAILED")]
    assert run.returncode == 0 and not failed, "\n".join(failed) or run.stdout[-4000:]
    passed = re.search(r"- Passed: (\d+)", run.stdout)
    assert passed and int(passed.group(1)) >= 126, run.stdout[-2000:]
