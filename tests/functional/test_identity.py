"""Identity with the real clients: python-openstackclient, keystoneauth1 and openstacksdk
against a running ``cumulo up``.

Every ``openstack`` command the issue names runs at least once; checks around
them go through plain HTTP (``Rest``) because each CLI run costs seconds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import yaml

from cumulo.testing.cloud import CommandFailed, CumuloCloud


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    """This module's own cloud: every installed frontend, cheap password hashing (tests only)."""
    from cumulo import registry

    wanted = ["identity", "compute", "image", "network", "object-store", "volumev3"]
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


class Rest:
    """Plain HTTP to the identity API, authenticated with one token."""

    def __init__(self, cloud: CumuloCloud, token: str) -> None:
        self.base, self.token = auth_url(cloud), token

    def __call__(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = {"X-Auth-Token": token or self.token, **kw.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=60, **kw)

    def password_token(self, user: str, password: str, project: str | None = None) -> requests.Response:
        auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {
            "user": {"name": user, "domain": {"id": "default"}, "password": password}}}}
        if project:
            auth["scope"] = {"project": {"name": project, "domain": {"id": "default"}}}
        return requests.post(self.base + "/auth/tokens", json={"auth": auth}, timeout=60)

    def find(self, kind: str, name: str) -> dict[str, Any]:
        return self("GET", f"/{kind}?name={name}").json()[kind][0]


@pytest.fixture(scope="module")
def rest(cloud: CumuloCloud) -> Rest:
    r = Rest(cloud, "")
    resp = r.password_token("admin", cloud.admin_password or "", "admin")
    assert resp.status_code == 201, resp.text
    r.token = resp.headers["X-Subject-Token"]
    return r


def add_cloud_entry(cloud: CumuloCloud, name: str, auth_type: str, auth: dict) -> None:
    with open(cloud.clouds_yaml) as f:
        data = yaml.safe_load(f)
    base = data["clouds"]["cumulo"]
    data["clouds"][name] = {"auth_type": auth_type, "auth": {"auth_url": base["auth"]["auth_url"], **auth},
                            "region_name": base["region_name"], "identity_api_version": 3, "interface": "public"}
    with open(cloud.clouds_yaml, "w") as f:
        yaml.safe_dump(data, f)


def make_user(rest: Rest, project: str | None = None, role: str = "member") -> dict[str, Any]:
    name, password = uniq("user"), uniq("pw")
    user = rest("POST", "/users", json={"user": {"name": name, "password": password}}).json()["user"]
    out = {"user": name, "user_id": user["id"], "password": password}
    if project:
        p = rest("POST", "/projects", json={"project": {"name": project}}).json()["project"]
        rid = rest.find("roles", role)["id"]
        assert rest("PUT", f"/projects/{p['id']}/users/{user['id']}/roles/{rid}").status_code == 204
        out.update(project=project, project_id=p["id"])
    return out


@pytest.fixture(scope="module")
def member(cloud: CumuloCloud, rest: Rest) -> dict[str, Any]:
    """A user with the member role on its own project, and a clouds.yaml entry for it."""
    m = make_user(rest, uniq("proj-a"))
    cloud.add_user_cloud(m["user"], m["user"], m["password"], m["project"])
    resp = rest.password_token(m["user"], m["password"], m["project"])
    return {**m, "cloud": m["user"], "token": resp.headers["X-Subject-Token"]}


def test_token_issue_and_revoke(cloud: CumuloCloud, rest: Rest) -> None:
    token = cloud.openstack("token", "issue")
    assert token["id"] and token["project_id"] and token["user_id"]
    subject = {"X-Subject-Token": token["id"]}
    assert rest("GET", "/auth/tokens", headers=subject).status_code == 200
    cloud.openstack("token", "revoke", token["id"], json_out=False)
    assert rest("GET", "/auth/tokens", headers=subject).status_code == 404
    r = rest("GET", "/auth/projects", token=token["id"])
    assert r.status_code == 401 and r.json()["error"]["code"] == 401


def test_catalog_and_endpoint_list(cloud: CumuloCloud) -> None:
    catalog = cloud.openstack("catalog", "list")
    identity = [c for c in catalog if c["Type"] == "identity"]
    assert identity and identity[0]["Name"] == "keystone"
    endpoints = [e for e in cloud.openstack("endpoint", "list") if e["Service Type"] == "identity"]
    assert {e["Interface"] for e in endpoints} == {"public", "internal", "admin"}
    assert all(e["URL"] == auth_url(cloud) for e in endpoints)


def test_project_lifecycle(cloud: CumuloCloud, rest: Rest) -> None:
    name = uniq("proj")
    created = cloud.openstack("project", "create", "--description", "first", name)
    assert created["name"] == name and created["domain_id"] == "default" and created["enabled"] is True
    assert name in [p["Name"] for p in cloud.openstack("project", "list")]
    cloud.openstack("project", "set", "--description", "second", "--disable", name, json_out=False)
    shown = cloud.openstack("project", "show", name)
    assert shown["description"] == "second" and shown["enabled"] is False
    assert rest("POST", "/projects", json={"project": {"name": name}}).status_code == 409
    cloud.openstack("project", "delete", name, json_out=False)
    assert rest("GET", f"/projects/{created['id']}").status_code == 404


def test_user_lifecycle_and_password(cloud: CumuloCloud, rest: Rest) -> None:
    name, project = uniq("user"), uniq("proj")
    p = rest("POST", "/projects", json={"project": {"name": project}}).json()["project"]
    user = cloud.openstack("user", "create", "--password", "first-pw", "--email", "u@example.org",
                           "--project", project, name)
    assert user["name"] == name and user["email"] == "u@example.org" and user["default_project_id"] == p["id"]
    assert "password" not in user
    assert name in [u["Name"] for u in cloud.openstack("user", "list")]
    rid = rest.find("roles", "member")["id"]
    rest("PUT", f"/projects/{p['id']}/users/{user['id']}/roles/{rid}")
    old_token = rest.password_token(name, "first-pw", project).headers["X-Subject-Token"]
    # the user changes its own password (it must give the original)
    cloud.add_user_cloud(name, name, "first-pw", project)
    cloud.openstack("user", "password", "set", "--original-password", "first-pw", "--password", "second-pw",
                    os_cloud=name, json_out=False)
    assert rest("GET", "/auth/projects", token=old_token).status_code == 401  # revoked by the change
    assert rest.password_token(name, "first-pw").status_code == 401
    assert rest.password_token(name, "second-pw", project).status_code == 201
    # the admin sets fields, the password, and disables the user
    cloud.openstack("user", "set", "--email", "new@example.org", "--password", "third-pw", "--disable", name,
                    json_out=False)
    shown = rest("GET", f"/users/{user['id']}").json()["user"]
    assert shown["email"] == "new@example.org" and shown["enabled"] is False
    assert rest.password_token(name, "third-pw").status_code == 401  # disabled
    cloud.openstack("user", "delete", name, json_out=False)
    assert rest("GET", f"/users/{user['id']}").status_code == 404


def test_groups_roles_and_effective_assignments(cloud: CumuloCloud, rest: Rest) -> None:
    group, role = uniq("group"), uniq("role")
    u = make_user(rest, uniq("proj"), role="reader")
    assert cloud.openstack("group", "create", group)["name"] == group
    cloud.openstack("group", "add", "user", group, u["user"], json_out=False)
    gid = rest.find("groups", group)["id"]
    assert rest("HEAD", f"/groups/{gid}/users/{u['user_id']}").status_code == 204
    assert cloud.openstack("role", "create", role)["name"] == role
    assert role in [r["Name"] for r in cloud.openstack("role", "list")]
    cloud.openstack("role", "add", "--project", u["project"], "--group", group, role, json_out=False)
    rows = cloud.openstack("role", "assignment", "list", "--effective", "--names", "--user", u["user"])
    got = {(r["Role"], r["User"], r["Project"]) for r in rows}
    assert got == {(role, f"{u['user']}@Default", f"{u['project']}@Default"),  # through the group
                   ("reader", f"{u['user']}@Default", f"{u['project']}@Default")}
    rid = rest.find("roles", role)["id"]
    assert rest("DELETE", f"/projects/{u['project_id']}/groups/{gid}/roles/{rid}").status_code == 204
    eff = rest("GET", f"/role_assignments?user.id={u['user_id']}&effective").json()["role_assignments"]
    assert rid not in {a["role"]["id"] for a in eff}


def test_ec2_credentials(cloud: CumuloCloud, rest: Rest) -> None:
    cred = cloud.openstack("ec2", "credentials", "create")
    assert len(cred["access"]) == 32 and len(cred["secret"]) == 32
    assert cred["access"] in [c["Access"] for c in cloud.openstack("ec2", "credentials", "list")]
    cloud.openstack("ec2", "credentials", "delete", cred["access"], json_out=False)
    user_id = rest("GET", "/auth/tokens", headers={"X-Subject-Token": rest.token}).json()["token"]["user"]["id"]
    listed = rest("GET", f"/users/{user_id}/credentials/OS-EC2").json()["credentials"]
    assert cred["access"] not in [c["access"] for c in listed]


def test_application_credential(cloud: CumuloCloud, rest: Rest, member: dict) -> None:
    name = uniq("appcred")
    cred = cloud.openstack("application", "credential", "create", "--role", "reader", name,
                           os_cloud=member["cloud"])
    assert cred["Secret"] and cred["Name"] == name and cred["Project ID"] == member["project_id"]
    entry = uniq("ac")
    add_cloud_entry(cloud, entry, "v3applicationcredential",
                    {"application_credential_id": cred["ID"], "application_credential_secret": cred["Secret"]})
    token = cloud.openstack("token", "issue", os_cloud=entry)
    assert token["project_id"] == member["project_id"] and token["user_id"] == member["user_id"]
    cloud.openstack("application", "credential", "delete", name, os_cloud=member["cloud"], json_out=False)
    assert rest("GET", "/auth/projects", token=token["id"]).status_code == 401
    again = requests.post(auth_url(cloud) + "/auth/tokens", timeout=60, json={"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": cred["ID"], "secret": cred["Secret"]}}}})
    assert again.status_code == 401


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


def test_401s(cloud: CumuloCloud, rest: Rest) -> None:
    bad = uniq("bad")
    cloud.add_user_cloud(bad, "admin", "not-the-password", "admin")
    with pytest.raises(CommandFailed, match="401|authenticat"):
        cloud.openstack("token", "issue", os_cloud=bad)
    for token in ("malformed", "gAAAAAB" + "x" * 100):
        r = rest("GET", "/auth/projects", token=token)
        assert r.status_code == 401, token
        assert r.json()["error"]["title"] == "Unauthorized" and "WWW-Authenticate" in r.headers
    assert requests.get(auth_url(cloud) + "/auth/projects", timeout=60).status_code == 401  # no token
    # an expired token, minted with the cloud's own keys
    from cumulo_token_fernet.provider import FernetTokenProvider
    from oslo_config import cfg

    from cumulo.interfaces.base import PluginContext

    body = rest("GET", "/auth/tokens", headers={"X-Subject-Token": rest.token}).json()["token"]
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[])
    provider = FernetTokenProvider(PluginContext(conf), key_repository=f"{cloud.state_path}/fernet-keys")
    now = time.time()
    expired = provider.issue({"user_id": body["user"]["id"], "methods": ["password"],
                              "project_id": body["project"]["id"], "expires_at": now - 10,
                              "issued_at": now - 3610, "audit_ids": ["YWJjZGVmZ2hpamtsbW5vcA"]})
    r = rest("GET", "/auth/projects", token=expired)
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_member_cannot_administer(cloud: CumuloCloud, rest: Rest, member: dict) -> None:
    with pytest.raises(CommandFailed, match="403|Forbidden|not allow"):
        cloud.openstack("project", "create", uniq("nope"), os_cloud=member["cloud"])
    # listing users is for administrators and system readers (Keystone's identity:list_users)
    with pytest.raises(CommandFailed, match="403|identity:list_users"):
        cloud.openstack("user", "list", os_cloud=member["cloud"])
    assert cloud.openstack("user", "show", member["user"], os_cloud=member["cloud"])["id"] == member["user_id"]
    admin_role = rest.find("roles", "admin")["id"]
    grant = f"/projects/{member['project_id']}/users/{member['user_id']}/roles/{admin_role}"
    r = rest("PUT", grant, token=member["token"])
    assert r.status_code == 403 and r.json()["error"]["code"] == 403
    assert rest("HEAD", grant).status_code == 404  # nothing was granted
    admin_id = rest.find("users", "admin")["id"]
    assert rest("GET", f"/users/{admin_id}", token=member["token"]).status_code == 403
    assert rest("POST", "/users", token=member["token"], json={"user": {"name": "x"}}).status_code == 403
    # what is its own stays visible
    assert cloud.openstack("project", "show", member["project"], os_cloud=member["cloud"])["name"] == member["project"]
    assert cloud.openstack("catalog", "list", os_cloud=member["cloud"])


def test_member_cannot_see_another_project(cloud: CumuloCloud, rest: Rest, member: dict) -> None:
    other = rest("POST", "/projects", json={"project": {"name": uniq("proj-b")}}).json()["project"]
    token = member["token"]
    assert rest("GET", "/projects", token=token).status_code == 403  # Keystone's: listing projects is admin's
    for path in (f"/projects/{other['id']}", "/role_assignments", "/credentials?user_id=x",
                 f"/projects/{other['id']}/users/{member['user_id']}/roles"):
        assert rest("GET", path, token=token).status_code in (403, 404), path
    r = requests.post(auth_url(cloud) + "/auth/tokens", timeout=60, json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": token}}, "scope": {"project": {"id": other["id"]}}}})
    assert r.status_code == 401
    mine = rest("GET", "/auth/projects", token=token).json()["projects"]
    assert [p["name"] for p in mine] == [member["project"]]


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
    endpoints = r.json()["token"]["catalog"][0]["endpoints"]
    assert {e["url"] for e in endpoints} == {auth_url(c)}  # the catalog follows the new port
