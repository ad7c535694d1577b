"""Identity with the real clients: python-openstackclient, keystoneauth1 and openstacksdk
against a running ``cumulo up``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import requests
import yaml

from cumulo.testing.cloud import CommandFailed, CumuloCloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    """This module's own cloud: every installed frontend, cheap password hashing (tests only)."""
    from cumulo import registry

    wanted = ["identity", "compute", "image", "network", "object-store", "volume"]
    frontends = [n for n in wanted if n in registry.names("api")]
    c = CumuloCloud(tmp_path_factory.mktemp("identity-cloud"), config={
        "api": {"frontends": ",".join(frontends)},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def auth_url(cloud: CumuloCloud) -> str:
    return cloud.url + "/identity/v3"


def admin_token(cloud: CumuloCloud) -> str:
    return cloud.openstack("token", "issue")["id"]


def add_cloud_entry(cloud: CumuloCloud, name: str, auth_type: str, auth: dict) -> None:
    with open(cloud.clouds_yaml) as f:
        data = yaml.safe_load(f)
    base = data["clouds"]["cumulo"]
    data["clouds"][name] = {"auth_type": auth_type, "auth": {"auth_url": base["auth"]["auth_url"], **auth},
                            "region_name": base["region_name"], "identity_api_version": 3, "interface": "public"}
    with open(cloud.clouds_yaml, "w") as f:
        yaml.safe_dump(data, f)


@pytest.fixture(scope="module")
def member(cloud: CumuloCloud) -> dict:
    """A user with the member role on its own project, and a clouds.yaml entry for it."""
    project, user, password = uniq("proj-a"), uniq("alice"), uniq("pw")
    cloud.openstack("project", "create", "--domain", "default", project)
    cloud.openstack("user", "create", "--domain", "default", "--password", password, user)
    cloud.openstack("role", "add", "--project", project, "--user", user, "member", json_out=False)
    cloud.add_user_cloud(user, user, password, project)
    return {"project": project, "user": user, "password": password, "cloud": user}


def test_token_issue_and_revoke(cloud: CumuloCloud) -> None:
    token = cloud.openstack("token", "issue")
    assert token["id"] and token["project_id"] and token["user_id"]
    headers = {"X-Auth-Token": admin_token(cloud), "X-Subject-Token": token["id"]}
    assert requests.get(auth_url(cloud) + "/auth/tokens", headers=headers, timeout=30).status_code == 200
    cloud.openstack("token", "revoke", token["id"], json_out=False)
    assert requests.get(auth_url(cloud) + "/auth/tokens", headers=headers, timeout=30).status_code == 404
    r = requests.get(auth_url(cloud) + "/auth/projects", headers={"X-Auth-Token": token["id"]}, timeout=30)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == 401


def test_catalog_and_endpoint_list(cloud: CumuloCloud) -> None:
    catalog = cloud.openstack("catalog", "list")
    identity = [c for c in catalog if c["Type"] == "identity"]
    assert identity and identity[0]["Name"] == "keystone"
    endpoints = cloud.openstack("endpoint", "list", "--service", "identity")
    assert {e["Interface"] for e in endpoints} == {"public", "internal", "admin"}
    assert all(e["URL"] == auth_url(cloud) for e in endpoints)


def test_project_lifecycle(cloud: CumuloCloud) -> None:
    name = uniq("proj")
    created = cloud.openstack("project", "create", "--description", "first", name)
    assert created["name"] == name and created["domain_id"] == "default" and created["enabled"] is True
    assert name in [p["Name"] for p in cloud.openstack("project", "list")]
    cloud.openstack("project", "set", "--description", "second", "--disable", name, json_out=False)
    shown = cloud.openstack("project", "show", name)
    assert shown["description"] == "second" and shown["enabled"] is False
    with pytest.raises(CommandFailed, match="409|Conflict|exists"):
        cloud.openstack("project", "create", name)
    cloud.openstack("project", "delete", name, json_out=False)
    assert name not in [p["Name"] for p in cloud.openstack("project", "list")]


def test_user_lifecycle_and_password(cloud: CumuloCloud) -> None:
    name, project = uniq("user"), uniq("proj")
    cloud.openstack("project", "create", project)
    user = cloud.openstack("user", "create", "--password", "first-pw", "--email", "u@example.org",
                           "--project", project, name)
    assert user["name"] == name and user["email"] == "u@example.org" and user["default_project_id"]
    assert "password" not in user
    assert name in [u["Name"] for u in cloud.openstack("user", "list")]
    cloud.openstack("role", "add", "--project", project, "--user", name, "member", json_out=False)
    cloud.add_user_cloud(name, name, "first-pw", project)
    old_token = cloud.openstack("token", "issue", os_cloud=name)["id"]
    # the user changes its own password (it must give the original)
    cloud.openstack("user", "password", "set", "--original-password", "first-pw", "--password", "second-pw",
                    os_cloud=name, json_out=False)
    r = requests.get(auth_url(cloud) + "/auth/projects", headers={"X-Auth-Token": old_token}, timeout=30)
    assert r.status_code == 401  # the password change revoked its tokens
    with pytest.raises(CommandFailed, match="401|authenticat"):
        cloud.openstack("token", "issue", os_cloud=name)
    cloud.add_user_cloud(name, name, "second-pw", project)
    assert cloud.openstack("token", "issue", os_cloud=name)["project_id"]
    # admin sets fields and the password
    cloud.openstack("user", "set", "--email", "new@example.org", "--password", "third-pw", name, json_out=False)
    assert cloud.openstack("user", "show", name)["email"] == "new@example.org"
    cloud.openstack("user", "set", "--disable", name, json_out=False)
    cloud.add_user_cloud(name, name, "third-pw", project)
    with pytest.raises(CommandFailed, match="401|authenticat|disabled"):
        cloud.openstack("token", "issue", os_cloud=name)
    cloud.openstack("user", "delete", name, json_out=False)
    assert name not in [u["Name"] for u in cloud.openstack("user", "list")]


def test_groups_roles_and_effective_assignments(cloud: CumuloCloud) -> None:
    group, user, project, role = uniq("group"), uniq("user"), uniq("proj"), uniq("role")
    cloud.openstack("project", "create", project)
    cloud.openstack("user", "create", "--password", "pw", user)
    assert cloud.openstack("group", "create", group)["name"] == group
    cloud.openstack("group", "add", "user", group, user, json_out=False)
    out = cloud.openstack("group", "contains", "user", group, user, json_out=False)
    assert "in group" in out and "not in" not in out
    assert cloud.openstack("role", "create", role)["name"] == role
    assert role in [r["Name"] for r in cloud.openstack("role", "list")]
    cloud.openstack("role", "add", "--project", project, "--group", group, role, json_out=False)
    cloud.openstack("role", "add", "--project", project, "--user", user, "reader", json_out=False)
    rows = cloud.openstack("role", "assignment", "list", "--effective", "--names", "--user", user)
    got = {(r["Role"], r["User"], r["Project"]) for r in rows}
    assert (role, f"{user}@Default", f"{project}@Default") in got  # through the group
    assert ("reader", f"{user}@Default", f"{project}@Default") in got
    direct = cloud.openstack("role", "assignment", "list", "--names", "--project", project)
    assert {r["Group"] for r in direct if r["Group"]} == {f"{group}@Default"}
    cloud.openstack("role", "remove", "--project", project, "--group", group, role, json_out=False)
    rows = cloud.openstack("role", "assignment", "list", "--effective", "--names", "--user", user)
    assert role not in {r["Role"] for r in rows}


def test_ec2_credentials(cloud: CumuloCloud) -> None:
    cred = cloud.openstack("ec2", "credentials", "create")
    assert len(cred["access"]) == 32 and len(cred["secret"]) == 32
    listed = cloud.openstack("ec2", "credentials", "list")
    assert cred["access"] in [c["Access"] for c in listed]
    cloud.openstack("ec2", "credentials", "delete", cred["access"], json_out=False)
    assert cred["access"] not in [c["Access"] for c in cloud.openstack("ec2", "credentials", "list")]


def test_application_credential(cloud: CumuloCloud, member: dict) -> None:
    name = uniq("appcred")
    cred = cloud.openstack("application", "credential", "create", "--role", "reader", name,
                           os_cloud=member["cloud"])
    assert cred["Secret"] and cred["Name"] == name and cred["Project ID"]
    entry = uniq("ac")
    add_cloud_entry(cloud, entry, "v3applicationcredential",
                    {"application_credential_id": cred["ID"], "application_credential_secret": cred["Secret"]})
    token = cloud.openstack("token", "issue", os_cloud=entry)
    assert token["project_id"] and token["user_id"]
    names = [c["Name"] for c in cloud.openstack("application", "credential", "list", os_cloud=member["cloud"])]
    assert name in names
    cloud.openstack("application", "credential", "delete", name, os_cloud=member["cloud"], json_out=False)
    with pytest.raises(CommandFailed):
        cloud.openstack("token", "issue", os_cloud=entry)


def test_keystoneauth_password_and_token_plugins(cloud: CumuloCloud) -> None:
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    pw = v3.Password(auth_url=cloud.url + "/identity", username="admin", password=cloud.admin_password,
                     user_domain_name="Default", project_name="admin", project_domain_name="Default")
    sess = session.Session(auth=pw)
    token = sess.get_token()
    assert token and sess.get_project_id()
    assert sess.get_endpoint(service_type="identity", interface="public") == auth_url(cloud)
    tok = v3.Token(auth_url=auth_url(cloud), token=token, project_name="admin", project_domain_id="default")
    sess2 = session.Session(auth=tok)
    assert sess2.get_token() != token and sess2.get_project_id() == sess.get_project_id()
    r = sess2.get("/projects", endpoint_filter={"service_type": "identity", "interface": "public"})
    assert r.status_code == 200 and r.json()["projects"]


def test_openstacksdk_identity(cloud: CumuloCloud) -> None:
    conn = cloud.connect()
    assert conn.session.get_endpoint(service_type="identity", interface="public") == auth_url(cloud)
    name = uniq("sdk")
    project = conn.identity.create_project(name=name, domain_id="default", description="via sdk")
    assert conn.identity.find_project(name).id == project.id
    user = conn.identity.create_user(name=name, password="pw", default_project_id=project.id)
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, role)
    assert conn.identity.validate_user_has_project_role(project, user, role)
    assigned = conn.identity.role_assignments(user_id=user.id, scope_project_id=project.id)
    assert role.id in [a.role["id"] for a in assigned]
    assert {d.id for d in conn.identity.domains()} >= {"default"}
    assert [s.type for s in conn.identity.services() if s.type == "identity"]
    conn.identity.delete_user(user)
    conn.identity.delete_project(project)
    assert conn.identity.find_project(name) is None


def test_401s(cloud: CumuloCloud) -> None:
    with pytest.raises(CommandFailed, match="401|authenticat"):
        bad = uniq("bad")
        cloud.add_user_cloud(bad, "admin", "not-the-password", "admin")
        cloud.openstack("token", "issue", os_cloud=bad)
    for token in ("malformed", "gAAAAAB" + "x" * 100, ""):
        r = requests.get(auth_url(cloud) + "/auth/projects", headers={"X-Auth-Token": token}, timeout=30)
        assert r.status_code == 401, token
        assert r.json()["error"]["title"] == "Unauthorized"
        assert "WWW-Authenticate" in r.headers
    # an expired token, minted with the cloud's own keys
    from cumulo_token_fernet.provider import FernetTokenProvider

    valid = admin_token(cloud)
    headers = {"X-Auth-Token": valid, "X-Subject-Token": valid}
    body = requests.get(auth_url(cloud) + "/auth/tokens", headers=headers, timeout=30).json()["token"]
    provider = FernetTokenProvider(key_repository=f"{cloud.state_path}/fernet-keys")
    now = time.time()
    expired = provider.issue({"user_id": body["user"]["id"], "methods": ["password"],
                              "project_id": body["project"]["id"], "expires_at": now - 10,
                              "issued_at": now - 3610, "audit_ids": ["YWJjZGVmZ2hpamtsbW5vcA"]})
    r = requests.get(auth_url(cloud) + "/auth/projects", headers={"X-Auth-Token": expired}, timeout=30)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_member_cannot_administer(cloud: CumuloCloud, member: dict) -> None:
    with pytest.raises(CommandFailed, match="403|Forbidden|not allow"):
        cloud.openstack("project", "create", uniq("nope"), os_cloud=member["cloud"])
    assert [u["Name"] for u in cloud.openstack("user", "list", os_cloud=member["cloud"])] == [member["user"]]
    with pytest.raises(CommandFailed, match="403|Forbidden|not allow|No User found"):
        cloud.openstack("user", "show", "admin", os_cloud=member["cloud"])  # 403, or 404 after the list
    # osc's "role add" prints nothing and exits 0 on a 403; what counts is that nothing changed
    cloud.openstack("role", "add", "--project", member["project"], "--user", member["user"], "admin",
                    os_cloud=member["cloud"], check=False)
    roles = cloud.openstack("role", "assignment", "list", "--names", "--user", member["user"])
    assert {r["Role"] for r in roles} == {"member"}
    token = cloud.openstack("token", "issue", os_cloud=member["cloud"])
    admin_role = cloud.openstack("role", "show", "admin")["id"]
    r = requests.put(f"{auth_url(cloud)}/projects/{token['project_id']}/users/{token['user_id']}/roles/{admin_role}",
                     headers={"X-Auth-Token": token["id"]}, timeout=30)
    assert r.status_code == 403 and r.json()["error"]["code"] == 403
    # what is its own stays visible
    assert cloud.openstack("project", "show", member["project"], os_cloud=member["cloud"])["name"] == member["project"]
    assert cloud.openstack("user", "show", member["user"], os_cloud=member["cloud"])["name"] == member["user"]
    assert cloud.openstack("catalog", "list", os_cloud=member["cloud"])


def test_member_cannot_see_another_project(cloud: CumuloCloud, member: dict) -> None:
    other = cloud.openstack("project", "create", uniq("proj-b"))
    issued = cloud.openstack("token", "issue", os_cloud=member["cloud"])
    token, mine_user = issued["id"], issued["user_id"]
    listed = requests.get(auth_url(cloud) + "/projects", headers={"X-Auth-Token": token}, timeout=30).json()
    assert [p["name"] for p in listed["projects"]] == [member["project"]]
    for path in (f"/projects/{other['id']}", "/role_assignments", "/credentials?user_id=x",
                 f"/projects/{other['id']}/users/{mine_user}/roles"):
        r = requests.get(auth_url(cloud) + path, headers={"X-Auth-Token": token}, timeout=30)
        assert r.status_code in (403, 404), path
    r = requests.post(auth_url(cloud) + "/auth/tokens", timeout=30, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": token}}, "scope": {"project": {"id": other["id"]}}}})
    assert r.status_code == 401
    mine = requests.get(auth_url(cloud) + "/auth/projects", headers={"X-Auth-Token": token}, timeout=30).json()
    assert [p["name"] for p in mine["projects"]] == [member["project"]]


def test_restart_keeps_admin_credentials_and_tokens(make_cloud) -> None:
    c = make_cloud(config={"api": {"frontends": "identity"}, "auth_sql": {"password_hash_rounds": 4}},
                   name="restart")
    c.start()
    before = c.openstack("token", "issue")
    c.restart()  # a new port; the stored password hash and the fernet keys are kept
    after = c.openstack("token", "issue")
    assert after["user_id"] == before["user_id"]
    r = requests.get(auth_url(c) + "/auth/tokens", timeout=30,
                     headers={"X-Auth-Token": after["id"], "X-Subject-Token": before["id"]})
    assert r.status_code == 200  # issued before the restart, still valid
    endpoints = {e["URL"] for e in c.openstack("endpoint", "list")}
    assert endpoints == {auth_url(c)}
