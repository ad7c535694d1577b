"""The Identity v3 API in-process: webob requests through the frontend's app, a temp SQLite DB."""

from __future__ import annotations

import json
from typing import Any

import pytest
import webob

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.services import ServiceHub
from cumulo.wsgi.server import PathDispatcher

BASE = "http://cloud.test"


class Client:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.token: str | None = None

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = "default",
                 headers: dict[str, str] | None = None, raw: bytes | None = None) -> webob.Response:
        req = webob.Request.blank("/identity/v3" + path if not path.startswith("/identity") else path,
                                  base_url=BASE, method=method)
        if body is not None:
            req.body = json.dumps(body).encode()
            req.content_type = "application/json"
        if raw is not None:
            req.body = raw
            req.content_type = "application/json"
        # as from a real server: a body stream that cannot seek (the kernel wraps it to count bytes)
        req.environ.pop("webob.is_body_seekable", None)
        tok = self.token if token == "default" else token
        if tok:
            req.headers["X-Auth-Token"] = tok
        for k, v in (headers or {}).items():
            req.headers[k] = v
        return req.get_response(self.app)


def password_auth(name: str, password: str, project: str | None = None) -> dict[str, Any]:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {
        "user": {"name": name, "domain": {"id": "default"}, "password": password}}}}
    if project:
        auth["scope"] = {"project": {"name": project, "domain": {"name": "Default"}}}
    return {"auth": auth}


@pytest.fixture
def api(cumulo_db: Any) -> Client:
    hub = ServiceHub()
    assert hub.identity is not None  # registers [identity] and the plugins' options
    cumulo_db.set("password_hash_rounds", 4, group="identity")
    cumulo_db.set("password_hash_rounds", 4, group="auth_sql")
    frontend = registry.load_plugin("api", "identity", PluginContext(CONF))
    hub.identity.bootstrap("secret", BASE, [frontend])
    client = Client(PathDispatcher({frontend.path_prefix: frontend.build_app(hub)}))
    resp = client("POST", "/auth/tokens", password_auth("admin", "secret", "admin"), token=None)
    assert resp.status_int == 201
    client.token = resp.headers["X-Subject-Token"]
    return client


def member_token(api: Client, name: str = "bob", project: str = "pa", role: str = "member") -> dict[str, Any]:
    p = api("POST", "/projects", {"project": {"name": project}})
    pid = p.json["project"]["id"] if p.status_int == 201 else api("GET", f"/projects?name={project}").json["projects"][0]["id"]
    u = api("POST", "/users", {"user": {"name": name, "password": "pw", "domain_id": "default"}}).json["user"]
    rid = api("GET", f"/roles?name={role}").json["roles"][0]["id"]
    assert api("PUT", f"/projects/{pid}/users/{u['id']}/roles/{rid}").status_int == 204
    resp = api("POST", "/auth/tokens", password_auth(name, "pw", project), token=None)
    assert resp.status_int == 201, resp.text
    return {"token": resp.headers["X-Subject-Token"], "user_id": u["id"], "project_id": pid}


def test_version_discovery(api):
    root = api("GET", "/identity", token=None)
    assert root.status_int == 300
    v = root.json["versions"]["values"][0]
    assert v["id"].startswith("v3.") and v["status"] == "stable"
    assert v["links"][0]["href"] == f"{BASE}/identity/v3/"
    single = api("GET", "", token=None)
    assert single.status_int == 200 and single.json["version"]["id"] == v["id"]


def test_issue_token_shape(api):
    resp = api("POST", "/auth/tokens", password_auth("admin", "secret", "admin"), token=None)
    assert resp.status_int == 201 and resp.headers["X-Subject-Token"]
    tok = resp.json["token"]
    assert tok["methods"] == ["password"] and tok["user"]["name"] == "admin"
    assert tok["user"]["domain"] == {"id": "default", "name": "Default"}
    assert tok["project"]["name"] == "admin" and tok["expires_at"].endswith("Z")
    assert {r["name"] for r in tok["roles"]} == {"admin", "manager", "member", "reader"}
    assert tok["catalog"][0]["endpoints"][0]["url"] == f"{BASE}/identity/v3"
    nocat = api("POST", "/auth/tokens?nocatalog", password_auth("admin", "secret", "admin"), token=None)
    assert "catalog" not in nocat.json["token"]
    unscoped = api("POST", "/auth/tokens", password_auth("admin", "secret"), token=None).json["token"]
    assert "project" not in unscoped and "roles" not in unscoped and "catalog" not in unscoped


@pytest.mark.parametrize("body, field", [
    ({}, "auth"),
    ({"auth": {}}, "identity"),
    ({"auth": {"identity": {"methods": "password"}}}, "methods"),
    ({"auth": {"identity": {"methods": ["password"], "password": {}}}}, "password.user"),
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin"}}}}}, "password"),
    ({"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": "admin", "password": "secret"}}}}}, "domain"),
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": "x", "password": "y"}}},
               "scope": {"project": {"name": "admin"}}}}, "domain"),
])
def test_bad_auth_requests_are_400_naming_the_field(api, body, field):
    resp = api("POST", "/auth/tokens", body, token=None)
    assert resp.status_int in (400, 401), resp.text
    if resp.status_int == 400:
        assert field in resp.json["error"]["message"]


def test_401s(api):
    for body in (password_auth("admin", "wrong"), password_auth("ghost", "x"),
                 {"auth": {"identity": {"methods": ["kerberos"]}}},
                 {"auth": {"identity": {"methods": ["token"], "token": {"id": "garbage"}}}}):
        resp = api("POST", "/auth/tokens", body, token=None)
        assert resp.status_int == 401, body
        assert resp.json["error"] == {"code": 401, "title": "Unauthorized", "message": resp.json["error"]["message"]}
        assert resp.headers["WWW-Authenticate"]
    assert api("GET", "/projects", token=None).status_int == 401
    assert api("GET", "/projects", token="garbage").status_int == 401


def test_malformed_json_and_wrong_method(api):
    assert api("POST", "/projects", raw=b"{not json").status_int == 400
    resp = api("PUT", "/projects")
    assert resp.status_int == 405 and "GET" in resp.headers["Allow"]
    assert api("GET", "/nothing-here").status_int == 404


def test_validate_check_and_revoke(api):
    subject = api("POST", "/auth/tokens", password_auth("admin", "secret", "admin"), token=None)
    sub = subject.headers["X-Subject-Token"]
    got = api("GET", "/auth/tokens", headers={"X-Subject-Token": sub})
    assert got.status_int == 200 and got.headers["X-Subject-Token"] == sub
    assert got.json["token"]["audit_ids"] == subject.json["token"]["audit_ids"]
    assert api("HEAD", "/auth/tokens", headers={"X-Subject-Token": sub}).status_int == 200
    assert api("DELETE", "/auth/tokens", headers={"X-Subject-Token": sub}).status_int == 204
    assert api("GET", "/auth/tokens", headers={"X-Subject-Token": sub}).status_int == 404
    assert api("GET", "/projects", token=sub).status_int == 401
    assert api("GET", "/auth/tokens", headers={"X-Subject-Token": "junk"}).status_int == 404


def test_a_user_validates_only_its_own_tokens(api):
    bob = member_token(api)
    admin_sub = api("POST", "/auth/tokens", password_auth("admin", "secret"), token=None).headers["X-Subject-Token"]
    assert api("GET", "/auth/tokens", token=bob["token"], headers={"X-Subject-Token": admin_sub}).status_int == 403
    assert api("GET", "/auth/tokens", token=bob["token"], headers={"X-Subject-Token": bob["token"]}).status_int == 200


def test_project_crud(api):
    created = api("POST", "/projects", {"project": {"name": "p1", "description": "d", "tags": ["a", "b"]}})
    assert created.status_int == 201
    p = created.json["project"]
    assert p["domain_id"] == "default" and p["parent_id"] == "default" and p["is_domain"] is False
    assert p["links"]["self"] == f"{BASE}/identity/v3/projects/{p['id']}"
    assert api("POST", "/projects", {"project": {"name": "p1"}}).status_int == 409
    assert api("POST", "/projects", {"project": {"name": ""}}).status_int == 400
    assert api("POST", "/projects", {"project": {"name": "x", "domain_id": "nope"}}).status_int == 400
    assert api("POST", "/projects", {"project": {"name": "x", "is_domain": True, "parent_id": "default"}}
               ).status_int == 400
    assert [x["name"] for x in api("GET", "/projects?name=p1").json["projects"]] == ["p1"]
    assert [x["name"] for x in api("GET", "/projects?tags=a").json["projects"]] == ["p1"]
    upd = api("PATCH", f"/projects/{p['id']}", {"project": {"enabled": False, "description": "e"}})
    assert upd.json["project"]["enabled"] is False
    assert api("GET", "/projects?enabled=false").json["projects"][0]["id"] == p["id"]
    child = api("POST", "/projects", {"project": {"name": "c", "parent_id": p["id"]}}).json["project"]
    assert child["parent_id"] == p["id"]
    assert api("DELETE", f"/projects/{p['id']}").status_int == 403  # has a child
    assert api("DELETE", f"/projects/{child['id']}").status_int == 204
    assert api("DELETE", f"/projects/{p['id']}").status_int == 204
    assert api("GET", f"/projects/{p['id']}").status_int == 404


def test_domain_crud(api):
    d = api("POST", "/domains", {"domain": {"name": "corp"}}).json["domain"]
    assert api("DELETE", f"/domains/{d['id']}").status_int == 403  # enabled
    assert api("PATCH", "/domains/default", {"domain": {"enabled": False}}).status_int == 403
    api("PATCH", f"/domains/{d['id']}", {"domain": {"enabled": False}})
    assert api("DELETE", f"/domains/{d['id']}").status_int == 204
    assert api("GET", "/domains/default").json["domain"]["name"] == "Default"


def test_users_groups_and_own_password(api):
    u = api("POST", "/users", {"user": {"name": "u1", "password": "pw1", "email": "a@b", "team": "x"}})
    assert u.status_int == 201
    user = u.json["user"]
    assert "password" not in user and user["email"] == "a@b" and user["team"] == "x"
    assert api("POST", "/users", {"user": {"name": "u1"}}).status_int == 409
    g = api("POST", "/groups", {"group": {"name": "g1"}}).json["group"]
    assert api("PUT", f"/groups/{g['id']}/users/{user['id']}").status_int == 204
    assert api("HEAD", f"/groups/{g['id']}/users/{user['id']}").status_int == 204
    assert [x["id"] for x in api("GET", f"/groups/{g['id']}/users").json["users"]] == [user["id"]]
    assert [x["id"] for x in api("GET", f"/users/{user['id']}/groups").json["groups"]] == [g["id"]]
    assert api("DELETE", f"/groups/{g['id']}/users/{user['id']}").status_int == 204
    assert api("HEAD", f"/groups/{g['id']}/users/{user['id']}").status_int == 404
    tok = api("POST", "/auth/tokens", password_auth("u1", "pw1"), token=None).headers["X-Subject-Token"]
    bad = api("POST", f"/users/{user['id']}/password", {"user": {"password": "pw2", "original_password": "no"}},
              token=tok)
    assert bad.status_int == 401
    ok = api("POST", f"/users/{user['id']}/password", {"user": {"password": "pw2", "original_password": "pw1"}},
             token=tok)
    assert ok.status_int == 204
    assert api("GET", f"/users/{user['id']}", token=tok).status_int == 401  # revoked by the change
    assert api("POST", "/auth/tokens", password_auth("u1", "pw2"), token=None).status_int == 201
    assert api("DELETE", f"/users/{user['id']}").status_int == 204
    assert api("GET", f"/users/{user['id']}").status_int == 404


def test_roles_implied_and_assignments(api):
    bob = member_token(api)
    roles = {r["name"]: r["id"] for r in api("GET", "/roles").json["roles"]}
    inf = api("GET", "/role_inferences").json["role_inferences"]
    assert {(i["prior_role"]["name"], j["name"]) for i in inf for j in i["implies"]} == {
        ("admin", "manager"), ("manager", "member"), ("member", "reader")}
    assert {"service", "ResellerAdmin"} <= set(roles)
    assert api("PUT", f"/roles/{roles['reader']}/implies/{roles['member']}").status_int == 400  # a cycle
    direct = api("GET", f"/role_assignments?user.id={bob['user_id']}").json["role_assignments"]
    assert [(a["role"]["id"], a["scope"]["project"]["id"]) for a in direct] == [(roles["member"], bob["project_id"])]
    assert direct[0]["links"]["assignment"].endswith(
        f"/projects/{bob['project_id']}/users/{bob['user_id']}/roles/{roles['member']}")
    eff = api("GET", f"/role_assignments?user.id={bob['user_id']}&effective&include_names").json["role_assignments"]
    assert {a["role"]["name"] for a in eff} == {"member", "reader"}
    assert eff[0]["user"]["name"] == "bob" and eff[0]["scope"]["project"]["name"] == "pa"
    listed = api("GET", f"/projects/{bob['project_id']}/users/{bob['user_id']}/roles").json["roles"]
    assert [r["name"] for r in listed] == ["member"]
    base = f"/OS-INHERIT/domains/default/users/{bob['user_id']}/roles/{roles['reader']}/inherited_to_projects"
    assert api("PUT", base).status_int == 204
    assert api("HEAD", base).status_int == 204
    inh = api("GET", "/role_assignments?scope.OS-INHERIT:inherited_to=projects").json["role_assignments"]
    assert inh[0]["scope"]["OS-INHERIT:inherited_to"] == "projects"
    assert api("DELETE", base).status_int == 204
    assert api("PUT", f"/projects/{bob['project_id']}/users/{bob['user_id']}/roles/nope").status_int == 404
    assert api("GET", "/role_assignments?effective&group.id=x").status_int == 400


def test_member_is_confined(api):
    bob = member_token(api)
    other = api("POST", "/projects", {"project": {"name": "pb"}}).json["project"]
    t = bob["token"]
    assert api("GET", f"/projects/{other['id']}", token=t).status_int == 403
    assert api("GET", f"/projects/{bob['project_id']}", token=t).status_int == 200
    assert api("GET", "/projects", token=t).status_int == 403  # Keystone (and Tempest): not a filtered list
    # a lookup by name (openstack project show NAME) finds its own project only
    assert [p["id"] for p in api("GET", "/projects?name=pa", token=t).json["projects"]] == [bob["project_id"]]
    assert api("GET", "/projects?name=pb", token=t).json["projects"] == []
    assert [p["id"] for p in api("GET", f"/users/{bob['user_id']}/projects", token=t).json["projects"]] == [
        bob["project_id"]]
    listed = api("GET", "/users", token=t)  # Keystone's identity:list_users: admins and system readers
    assert listed.status_int == 403 and "identity:list_users" in listed.json["error"]["message"]
    assert api("GET", f"/users/{bob['user_id']}", token=t).json["user"]["id"] == bob["user_id"]  # itself: yes
    # a lookup by name (openstack user show NAME) finds itself only
    assert [u["id"] for u in api("GET", "/users?name=bob", token=t).json["users"]] == [bob["user_id"]]
    assert api("GET", "/users?name=admin", token=t).json["users"] == []
    assert api("POST", "/projects", {"project": {"name": "x"}}, token=t).status_int == 403
    assert api("POST", "/users", {"user": {"name": "x"}}, token=t).status_int == 403
    assert api("GET", "/role_assignments", token=t).status_int == 403
    own = api("GET", f"/role_assignments?user.id={bob['user_id']}&effective", token=t)
    assert own.status_int == 200 and own.json["role_assignments"]
    assert api("GET", "/auth/projects", token=t).json["projects"][0]["id"] == bob["project_id"]
    assert api("GET", "/auth/catalog", token=t).json["catalog"]
    admin_id = api("GET", "/users?name=admin").json["users"][0]["id"]
    assert api("GET", f"/users/{admin_id}", token=t).status_int == 403
    assert api("GET", f"/users/{admin_id}/credentials/OS-EC2", token=t).status_int == 403
    assert api("DELETE", "/services/x", token=t).status_int == 403


def test_catalog_crud(api):
    svc = api("POST", "/services", {"service": {"type": "compute", "name": "nova"}}).json["service"]
    assert api("POST", "/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "sideways",
                                                   "url": "http://x"}}).status_int == 400
    assert api("POST", "/endpoints", {"endpoint": {"service_id": "nope", "interface": "public",
                                                   "url": "http://x"}}).status_int == 400
    assert api("PUT", "/regions/R2", {"region": {"description": "two"}}).status_int == 201
    assert api("PUT", "/regions/R2", {"region": {}}).status_int == 409
    ep = api("POST", "/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public",
                                                 "url": "http://c/$(project_id)s", "region": "R2"}})
    assert ep.status_int == 201 and ep.json["endpoint"]["region_id"] == "R2"
    assert [e["id"] for e in api("GET", f"/endpoints?service_id={svc['id']}").json["endpoints"]] == [
        ep.json["endpoint"]["id"]]
    pid = api("GET", "/projects?name=admin").json["projects"][0]["id"]
    catalog = api("GET", "/auth/catalog").json["catalog"]
    compute = [c for c in catalog if c["type"] == "compute"][0]
    assert compute["endpoints"][0]["url"] == f"http://c/{pid}"
    assert api("DELETE", f"/services/{svc['id']}").status_int == 204
    assert api("GET", f"/endpoints/{ep.json['endpoint']['id']}").status_int == 404


def test_credentials_and_ec2(api):
    bob = member_token(api)
    t = bob["token"]
    ec2 = api("POST", f"/users/{bob['user_id']}/credentials/OS-EC2", {"tenant_id": bob["project_id"]}, token=t)
    assert ec2.status_int == 201
    access = ec2.json["credential"]["access"]
    assert [c["access"] for c in api("GET", f"/users/{bob['user_id']}/credentials/OS-EC2", token=t).json[
        "credentials"]] == [access]
    generic = api("GET", "/credentials", token=t).json["credentials"]
    assert generic[0]["type"] == "ec2" and json.loads(generic[0]["blob"])["access"] == access
    admin_view = api("GET", f"/credentials?user_id={bob['user_id']}").json["credentials"]
    assert len(admin_view) == 1
    assert api("DELETE", f"/users/{bob['user_id']}/credentials/OS-EC2/{access}", token=t).status_int == 204
    cert = api("POST", "/credentials", {"credential": {"type": "cert", "blob": "xyz", "user_id": bob["user_id"]}},
               token=t)
    assert cert.status_int == 201
    assert api("POST", "/credentials", {"credential": {"type": "ec2", "blob": "{}", "user_id": bob["user_id"]}},
               token=t).status_int == 400


def test_application_credentials(api):
    bob = member_token(api)
    t = bob["token"]
    url = f"/users/{bob['user_id']}/application_credentials"
    made = api("POST", url, {"application_credential": {"name": "ci", "roles": [{"name": "reader"}],
                                                        "expires_at": "2999-01-01T00:00:00"}}, token=t)
    assert made.status_int == 201, made.text
    cred = made.json["application_credential"]
    assert cred["secret"] and cred["project_id"] == bob["project_id"] and cred["roles"][0]["name"] == "reader"
    assert "secret" not in api("GET", f"{url}/{cred['id']}", token=t).json["application_credential"]
    assert api("POST", url, {"application_credential": {"name": "ci"}}, token=t).status_int == 409
    assert api("POST", url, {"application_credential": {"name": "old", "expires_at": "2000-01-01T00:00:00"}},
               token=t).status_int == 400
    auth = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": cred["id"], "secret": cred["secret"]}}}}
    issued = api("POST", "/auth/tokens", auth, token=None)
    assert issued.status_int == 201
    body = issued.json["token"]
    assert [r["name"] for r in body["roles"]] == ["reader"] and body["application_credential"]["id"] == cred["id"]
    # the admin may read another user's application credentials (Keystone: admin or system reader or owner),
    # another user may not
    assert [c["id"] for c in api("GET", url).json["application_credentials"]] == [cred["id"]]
    carol = member_token(api, "carol", "pa")
    assert api("GET", url, token=carol["token"]).status_int == 403
    assert api("DELETE", f"{url}/{cred['id']}", token=t).status_int == 204
    assert api("POST", "/auth/tokens", auth, token=None).status_int == 401


def test_lists_are_truncated_past_the_limit(api, cumulo_db):
    for i in range(3):
        api("POST", "/projects", {"project": {"name": f"t{i}"}})
    cumulo_db.set("list_limit", 2, group="identity")
    body = api("GET", "/projects").json
    assert len(body["projects"]) == 2 and body["truncated"] is True
    assert "truncated" not in api("GET", "/projects?name=t1").json


@pytest.mark.parametrize("expires_at, words", [
    ("", "expires_at"),                                  # was a 500 (an empty time reached the database)
    ("soon", "is not an ISO 8601 time"),
    ("0001-01-01T00:00:00+01:00", "is not an ISO 8601 time"),   # out of range once moved to UTC
])
def test_application_credential_bad_expires_at_is_a_400(api, expires_at, words):
    bob = member_token(api)
    url = f"/users/{bob['user_id']}/application_credentials"
    resp = api("POST", url, {"application_credential": {"name": "x", "expires_at": expires_at}}, token=bob["token"])
    assert resp.status_int == 400, resp.text
    assert words in resp.json["error"]["message"]
    ok = api("POST", url, {"application_credential": {"name": "y", "expires_at": None}}, token=bob["token"])
    assert ok.status_int == 201 and ok.json["application_credential"]["expires_at"] is None


def test_hostile_json_on_token_issue_is_a_400_without_a_token(api):
    for raw in (b'{"auth": {"identity": {"methods": ["password"], "password": {"user": '
                b'{"name": "\\ud800", "domain": {"id": "default"}, "password": "x"}}}}}',
                b"[" * 50000 + b"]" * 50000, b'{"auth": {"identity": {"methods": [1e999]}}}'):
        resp = api("POST", "/auth/tokens", raw=raw, token=None)
        assert resp.status_int == 400 and "Malformed JSON" in resp.json["error"]["message"]


def test_unknown_identity_paths_are_404_and_unscoped_tokens_work_here(api):
    resp = api("GET", "/no-such-thing", token=None)
    assert resp.status_int == 404 and resp.json["error"]["code"] == 404
    assert api("PUT", "/auth/catalog").status_int == 405
    unscoped = api("POST", "/auth/tokens", password_auth("admin", "secret"), token=None)
    assert unscoped.status_int == 201 and "project" not in unscoped.json["token"]
    projects = api("GET", "/auth/projects", token=unscoped.headers["X-Subject-Token"])
    assert projects.status_int == 200 and [p["name"] for p in projects.json["projects"]] == ["admin"]


@pytest.mark.parametrize("blob, words", [
    ("[" * 30000 + "]" * 30000, "nests deeper"),
    ('{"access": "\\ud800", "secret": "s"}', "surrogate"),
    ('{"access": "a", "secret": "s", "n": 1e999}', "out of range"),
])
def test_ec2_credential_blob_that_cannot_be_used_is_a_400(api, blob, words):
    bob = member_token(api)
    body = {"credential": {"type": "ec2", "blob": blob, "user_id": bob["user_id"], "project_id": bob["project_id"]}}
    resp = api("POST", "/credentials", body, token=bob["token"])
    assert resp.status_int == 400, resp.text
    assert "credential.blob" in resp.json["error"]["message"] and words in resp.json["error"]["message"]


def system_auth(name: str, password: str) -> dict[str, Any]:
    body = password_auth(name, password)
    body["auth"]["scope"] = {"system": {"all": True}}
    return body


def test_system_grants_for_users_and_groups(api):
    bob = member_token(api)
    roles = {r["name"]: r["id"] for r in api("GET", "/roles").json["roles"]}
    one = f"/system/users/{bob['user_id']}/roles/{roles['reader']}"
    assert api("HEAD", one).status_int == 404
    assert api("PUT", one).status_int == 204
    assert api("PUT", one).status_int == 204  # idempotent
    assert api("HEAD", one).status_int == 204 and api("GET", one).status_int == 204
    listed = api("GET", f"/system/users/{bob['user_id']}/roles").json
    assert [r["name"] for r in listed["roles"]] == ["reader"]
    g = api("POST", "/groups", {"group": {"name": "sysg"}}).json["group"]
    gone = f"/system/groups/{g['id']}/roles/{roles['member']}"
    assert api("PUT", gone).status_int == 204 and api("HEAD", gone).status_int == 204
    assert [r["name"] for r in api("GET", f"/system/groups/{g['id']}/roles").json["roles"]] == ["member"]
    sysa = api("GET", "/role_assignments?scope.system=all").json["role_assignments"]
    found = {(a.get("user", a.get("group"))["id"], a["role"]["id"]) for a in sysa}
    assert (bob["user_id"], roles["reader"]) in found and (g["id"], roles["member"]) in found
    assert all(a["scope"] == {"system": {"all": True}} for a in sysa)
    link = [a for a in sysa if a.get("user", {}).get("id") == bob["user_id"]][0]["links"]["assignment"]
    assert link == f"{BASE}/identity/v3{one}"
    # the bootstrap admin holds admin on the system, as keystone-manage bootstrap gives it
    assert any(a["role"]["id"] == roles["admin"] and "user" in a for a in sysa)
    # a project-scoped member may neither grant nor list system roles
    assert api("PUT", one, token=bob["token"]).status_int == 403
    assert api("GET", f"/system/users/{bob['user_id']}/roles", token=bob["token"]).status_int == 403
    assert api("PUT", f"/system/users/{bob['user_id']}/roles/nope").status_int == 404
    assert api("PUT", f"/system/users/nobody/roles/{roles['reader']}").status_int == 404
    assert api("DELETE", one).status_int == 204 and api("HEAD", one).status_int == 404
    assert api("DELETE", one).status_int == 404
    assert api("DELETE", gone).status_int == 204


def test_system_scoped_tokens(api):
    resp = api("POST", "/auth/tokens", system_auth("admin", "secret"), token=None)
    assert resp.status_int == 201, resp.text
    tok = resp.json["token"]
    assert tok["system"] == {"all": True} and "project" not in tok and "domain" not in tok
    assert {r["name"] for r in tok["roles"]} == {"admin", "manager", "member", "reader"}
    assert tok["catalog"]
    sys_token = resp.headers["X-Subject-Token"]
    got = api("GET", "/auth/tokens", headers={"X-Subject-Token": sys_token}).json["token"]
    assert got["system"] == {"all": True} and got["roles"] == tok["roles"]
    assert api("GET", "/auth/system", token=sys_token).json["system"] == [{"all": True}]
    # the system token works on the admin APIs
    assert api("GET", "/users", token=sys_token).status_int == 200
    # a user without a system role cannot get a system token and sees no system to scope to
    bob = member_token(api)
    assert api("POST", "/auth/tokens", system_auth("bob", "pw"), token=None).status_int == 401
    assert api("GET", "/auth/system", token=bob["token"]).json["system"] == []
    reader = api("GET", "/roles?name=reader").json["roles"][0]["id"]
    assert api("PUT", f"/system/users/{bob['user_id']}/roles/{reader}").status_int == 204
    bob_sys = api("POST", "/auth/tokens", system_auth("bob", "pw"), token=None)
    assert bob_sys.status_int == 201 and [r["name"] for r in bob_sys.json["token"]["roles"]] == ["reader"]
    bt = bob_sys.headers["X-Subject-Token"]
    # a system reader reads the cloud's inventory (Keystone: role:reader and system_scope:all) ...
    assert api("GET", "/users", token=bt).status_int == 200
    assert api("GET", "/services", token=bt).status_int == 200
    assert api("GET", "/role_assignments", token=bt).status_int == 200
    # ... and changes none of it
    assert api("POST", "/projects", {"project": {"name": "nope"}}, token=bt).status_int == 403
    assert api("PUT", f"/system/users/{bob['user_id']}/roles/{reader}", token=bt).status_int == 403


def test_rescoping_keeps_the_methods(api):
    unscoped = api("POST", "/auth/tokens", password_auth("admin", "secret"), token=None)
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped.headers["X-Subject-Token"]}},
                     "scope": {"system": {"all": True}}}}
    resp = api("POST", "/auth/tokens", body, token=None)
    assert resp.status_int == 201, resp.text
    assert resp.json["token"]["methods"] == ["password", "token"]
    assert resp.json["token"]["system"] == {"all": True}
    body["auth"]["identity"]["token"]["id"] = resp.headers["X-Subject-Token"]
    body["auth"]["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    again = api("POST", "/auth/tokens", body, token=None)
    assert again.status_int == 201, again.text
    assert again.json["token"]["methods"] == ["password", "token"] and again.json["token"]["project"]["name"] == "admin"


def test_admin_sets_another_users_password(api):
    bob = member_token(api)
    assert api("PATCH", f"/users/{bob['user_id']}", {"user": {"password": "newpw"}}).status_int == 200
    assert api("POST", "/auth/tokens", password_auth("bob", "newpw"), token=None).status_int == 201
    assert api("POST", "/auth/tokens", password_auth("bob", "pw"), token=None).status_int == 401
    # a user may not set another's password this way
    carol = member_token(api, "carol", "pc")
    assert api("PATCH", f"/users/{bob['user_id']}", {"user": {"password": "x"}},
               token=carol["token"]).status_int == 403
    # the change-password call needs the original password, not the user's own token (Keystone, Tempest)
    change = f"/users/{bob['user_id']}/password"
    assert api("POST", change, {"user": {"password": "third", "original_password": "wrong"}}).status_int == 401
    assert api("POST", change, {"user": {"password": "third", "original_password": "newpw"}}).status_int == 204
    assert api("POST", "/auth/tokens", password_auth("bob", "third"), token=None).status_int == 201


def test_identity_details(api):
    svc = api("POST", "/services", {"service": {"type": "thing", "name": "t"}}).json["service"]
    ep = api("POST", "/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "public",
                                                  "url": "http://t", "region": "RegionOne"}})
    assert ep.status_int == 201, ep.text
    assert ep.json["endpoint"]["region_id"] == "RegionOne" and ep.json["endpoint"]["region"] == "RegionOne"
    # a region named only through the legacy field is created, as Keystone does
    ep = api("POST", "/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "admin",
                                                  "url": "http://t", "region": "LegacyRegion"}})
    assert ep.status_int == 201, ep.text
    assert ep.json["endpoint"]["region_id"] == "LegacyRegion"
    assert api("GET", "/regions/LegacyRegion").status_int == 200
    with_id = api("POST", "/endpoints", {"endpoint": {"service_id": svc["id"], "interface": "internal",
                                                       "url": "http://t", "region_id": "NoSuchRegion"}})
    assert with_id.status_int == 400 and "region" in with_id.json["error"]["message"]
    long_name = api("POST", "/domains", {"domain": {"name": "d" * 65}})
    assert long_name.status_int == 400 and "name" in long_name.json["error"]["message"]
    assert api("POST", "/domains", {"domain": {"name": "d" * 64}}).status_int == 201
    bob = member_token(api)
    blob = json.dumps({"access": "a1", "secret": "s1"})
    cred = api("POST", "/credentials", {"credential": {"type": "ec2", "blob": blob, "user_id": bob["user_id"],
                                                       "project_id": bob["project_id"]}}).json["credential"]
    new_blob = json.dumps({"access": "a2", "secret": "s2"})
    upd = api("PATCH", f"/credentials/{cred['id']}", {"credential": {"blob": new_blob}})
    assert upd.status_int == 200, upd.text
    assert json.loads(upd.json["credential"]["blob"]) == {"access": "a2", "secret": "s2"}
    assert api("GET", f"/users/{bob['user_id']}/credentials/OS-EC2/a2").status_int == 200
    assert api("GET", f"/users/{bob['user_id']}/credentials/OS-EC2/a1").status_int == 404
    other = api("POST", "/credentials", {"credential": {"type": "ec2", "blob": json.dumps(
        {"access": "a3", "secret": "s3"}), "user_id": bob["user_id"], "project_id": bob["project_id"]}})
    clash = api("PATCH", f"/credentials/{other.json['credential']['id']}", {"credential": {"blob": new_blob}})
    assert clash.status_int == 409
    no_secret = api("PATCH", f"/credentials/{cred['id']}", {"credential": {"blob": json.dumps({"access": "a4"})}})
    assert no_secret.status_int == 400
    assert api("POST", "/projects", {"project": {"name": "p" * 65}}).status_int == 400


def test_project_tags(api):
    pid = api("POST", "/projects", {"project": {"name": "tagged", "tags": ["a"]}}).json["project"]["id"]
    assert api("PUT", f"/projects/{pid}/tags/b", {}).status_int == 201
    assert api("GET", f"/projects/{pid}/tags/b").status_int == 204
    assert api("GET", f"/projects/{pid}/tags/zz").status_int == 404
    assert sorted(api("GET", f"/projects/{pid}/tags").json["tags"]) == ["a", "b"]
    replaced = api("PUT", f"/projects/{pid}/tags", {"tags": ["x", "y", "x"]})
    assert replaced.status_int == 200 and replaced.json["tags"] == ["x", "y"]
    assert api("GET", f"/projects/{pid}").json["project"]["tags"] == ["x", "y"]
    assert api("PUT", f"/projects/{pid}/tags", {"tags": ["bad,tag"]}).status_int == 400
    assert api("PUT", f"/projects/{pid}/tags", {"tags": [f"t{i}" for i in range(81)]}).status_int == 400
    assert api("DELETE", f"/projects/{pid}/tags/x").status_int == 204
    assert api("DELETE", f"/projects/{pid}/tags/x").status_int == 404
    assert api("DELETE", f"/projects/{pid}/tags").status_int == 204
    assert api("GET", f"/projects/{pid}/tags").json["tags"] == []
    bob = member_token(api)
    assert api("PUT", f"/projects/{bob['project_id']}/tags/mine", {}, token=bob["token"]).status_int == 403
    assert api("GET", f"/projects/{bob['project_id']}/tags", token=bob["token"]).status_int == 200
    assert api("GET", f"/projects/{pid}/tags", token=bob["token"]).status_int == 403


def test_projects_acting_as_domains(api):
    made = api("POST", "/projects", {"project": {"name": "dom-as-proj", "domain_id": None, "is_domain": True}})
    assert made.status_int == 201, made.text
    p = made.json["project"]
    assert p["is_domain"] is True and p["domain_id"] is None
    assert api("GET", f"/domains/{p['id']}").json["domain"]["name"] == "dom-as-proj"
    assert p["id"] in [x["id"] for x in api("GET", "/projects?is_domain=true").json["projects"]]
    assert p["id"] not in [x["id"] for x in api("GET", "/projects").json["projects"]]
    assert api("GET", f"/projects/{p['id']}").json["project"]["is_domain"] is True
    assert api("PATCH", f"/projects/{p['id']}", {"project": {"enabled": False}}).json["project"]["enabled"] is False
    assert api("DELETE", f"/projects/{p['id']}").status_int == 204
    assert api("GET", f"/domains/{p['id']}").status_int == 404
    assert api("GET", f"/projects/{p['id']}").status_int == 404
    assert api("POST", "/projects", {"project": {"name": "x", "domain_id": "default", "is_domain": True}}
               ).status_int == 400


def test_domain_roles(api):
    did = api("POST", "/domains", {"domain": {"name": "rd"}}).json["domain"]["id"]
    droles = [api("POST", "/roles", {"role": {"name": f"dr{i}", "domain_id": did}}).json["role"] for i in range(2)]
    reader = api("GET", "/roles?name=reader").json["roles"][0]
    admin = api("GET", "/roles?name=admin").json["roles"][0]
    assert api("PUT", f"/roles/{droles[0]['id']}/implies/{droles[1]['id']}").status_int == 201
    assert api("PUT", f"/roles/{droles[0]['id']}/implies/{reader['id']}").status_int == 201
    # a global role cannot imply a domain role, and no role implies admin (Keystone)
    assert api("PUT", f"/roles/{reader['id']}/implies/{droles[0]['id']}").status_int == 403
    assert api("PUT", f"/roles/{droles[1]['id']}/implies/{admin['id']}").status_int == 403
    assert api("PUT", f"/roles/{droles[1]['id']}/implies/{droles[0]['id']}").status_int == 400  # a cycle
    # a domain role stands for the global roles it implies: never in tokens or effective listings
    bob = member_token(api)
    gpid = api("POST", "/projects", {"project": {"name": "gp"}}).json["project"]["id"]
    assert api("PUT", f"/projects/{gpid}/users/{bob['user_id']}/roles/{droles[1]['id']}").status_int == 204
    eff = api("GET", f"/role_assignments?effective&user.id={bob['user_id']}&scope.project.id={gpid}")
    assert eff.json["role_assignments"] == []
    assert api("POST", "/auth/tokens", password_auth("bob", "pw", "gp"), token=None).status_int == 401
    assert api("PUT", f"/projects/{gpid}/users/{bob['user_id']}/roles/{droles[0]['id']}").status_int == 204
    tok = api("POST", "/auth/tokens", password_auth("bob", "pw", "gp"), token=None)
    assert tok.status_int == 201 and [r["name"] for r in tok.json["token"]["roles"]] == ["reader"]


def test_user_in_a_missing_domain_is_a_404(api):
    resp = api("POST", "/users", {"user": {"name": "lost", "domain_id": "nowhere"}})
    assert resp.status_int == 404 and "nowhere" in resp.json["error"]["message"]


def test_application_credential_expiry_is_written_as_keystone_does(api):
    bob = member_token(api)
    url = f"/users/{bob['user_id']}/application_credentials"
    made = api("POST", url, {"application_credential": {"name": "e", "expires_at": "2999-01-02T03:04:05.123456"}},
               token=bob["token"])
    assert made.json["application_credential"]["expires_at"] == "2999-01-02T03:04:05.123456"


def test_endpoint_filter_limits_the_catalog(api):
    svc = {t: api("POST", "/services", {"service": {"type": t, "name": t}}).json["service"] for t in ("aa", "bb")}
    eps = {t: api("POST", "/endpoints", {"endpoint": {"service_id": svc[t]["id"], "interface": "public",
                                                      "url": f"http://{t}", "region_id": "RegionOne"}}
                  ).json["endpoint"] for t in ("aa", "bb")}
    bob = member_token(api)
    pid = bob["project_id"]

    def catalog_types() -> set[str]:
        tok = api("POST", "/auth/tokens", password_auth("bob", "pw", "pa"), token=None).json["token"]
        return {c["type"] for c in tok["catalog"]}

    assert {"aa", "bb", "identity"} <= catalog_types()  # no association: everything
    one = f"/OS-EP-FILTER/projects/{pid}/endpoints/{eps['aa']['id']}"
    assert api("HEAD", one).status_int == 404
    assert api("PUT", one).status_int == 204 and api("HEAD", one).status_int == 204
    assert catalog_types() == {"aa"}
    listed = api("GET", f"/OS-EP-FILTER/projects/{pid}/endpoints").json["endpoints"]
    assert [e["id"] for e in listed] == [eps["aa"]["id"]]
    assert [p["id"] for p in api("GET", f"/OS-EP-FILTER/endpoints/{eps['aa']['id']}/projects").json["projects"]
            ] == [pid]
    # an endpoint group by service adds the other endpoint
    bad = api("POST", "/OS-EP-FILTER/endpoint_groups", {"endpoint_group": {"name": "g", "filters": {"colour": "x"}}})
    assert bad.status_int == 400 and "colour" in bad.json["error"]["message"]
    group = api("POST", "/OS-EP-FILTER/endpoint_groups", {"endpoint_group": {
        "name": "g", "description": "d", "filters": {"service_id": svc["bb"]["id"]}}})
    assert group.status_int == 201, group.text
    gid = group.json["endpoint_group"]["id"]
    assert group.json["endpoint_group"]["links"]["self"].endswith(f"/OS-EP-FILTER/endpoint_groups/{gid}")
    assert api("HEAD", f"/OS-EP-FILTER/endpoint_groups/{gid}").status_int == 200
    assert [e["id"] for e in api("GET", f"/OS-EP-FILTER/endpoint_groups/{gid}/endpoints").json["endpoints"]] == [
        eps["bb"]["id"]]
    gp = f"/OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}"
    assert api("GET", gp).status_int == 404
    assert api("PUT", gp).status_int == 204
    assert api("GET", gp).json["project"]["id"] == pid
    assert catalog_types() == {"aa", "bb"}
    assert [g["id"] for g in api("GET", f"/OS-EP-FILTER/projects/{pid}/endpoint_groups").json["endpoint_groups"]
            ] == [gid]
    assert [p["id"] for p in api("GET", f"/OS-EP-FILTER/endpoint_groups/{gid}/projects").json["projects"]] == [pid]
    upd = api("PATCH", f"/OS-EP-FILTER/endpoint_groups/{gid}", {"endpoint_group": {"name": "g2"}})
    assert upd.json["endpoint_group"]["name"] == "g2"
    # a member may not change the associations
    assert api("DELETE", gp, token=bob["token"]).status_int == 403
    assert api("DELETE", gp).status_int == 204 and api("DELETE", gp).status_int == 404
    assert api("DELETE", f"/OS-EP-FILTER/endpoint_groups/{gid}").status_int == 204
    assert api("GET", f"/OS-EP-FILTER/endpoint_groups/{gid}").status_int == 404
    # deleting the endpoint drops its association: the project sees everything again
    assert api("DELETE", f"/endpoints/{eps['aa']['id']}").status_int == 204
    assert "bb" in catalog_types()
    assert api("PUT", f"/OS-EP-FILTER/projects/{pid}/endpoints/nope").status_int == 404


def test_domain_configuration(api):
    did = api("POST", "/domains", {"domain": {"name": "cfg"}}).json["domain"]["id"]
    url = f"/domains/{did}/config"
    assert api("GET", url).status_int == 404
    config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x", "password": "s3cret"}}
    made = api("PUT", url, {"config": config})
    assert made.status_int == 201 and made.json["config"] == {"identity": {"driver": "ldap"},
                                                               "ldap": {"url": "ldap://x"}}
    assert api("PUT", url, {"config": config}).status_int == 200  # replaced
    assert api("GET", f"{url}/ldap").json["config"] == {"ldap": {"url": "ldap://x"}}
    assert api("GET", f"{url}/ldap/url").json["config"] == {"url": "ldap://x"}
    assert api("GET", f"{url}/ldap/password").status_int == 404  # sensitive: never shown
    assert api("PUT", url, {"config": {"nova": {"x": 1}}}).status_int == 403
    assert api("PUT", url, {"config": {"ldap": {"shoe_size": 1}}}).status_int == 403
    upd = api("PATCH", f"{url}/ldap", {"config": {"ldap": {"user_tree_dn": "ou=u"}}})
    assert upd.status_int == 200 and upd.json["config"]["ldap"] == {"url": "ldap://x", "user_tree_dn": "ou=u"}
    assert api("PATCH", f"{url}/ldap/url", {"config": {"url": "ldap://y"}}).json["config"]["ldap"]["url"] == "ldap://y"
    assert api("PATCH", f"{url}/ldap/url", {"config": {"user": "z"}}).status_int == 400
    assert api("PATCH", f"{url}/ldap/suffix", {"config": {"suffix": "z"}}).status_int == 404
    assert api("DELETE", f"{url}/ldap/url").status_int == 204
    assert api("GET", f"{url}/ldap/url").status_int == 404
    assert api("DELETE", f"{url}/identity").status_int == 204
    assert api("DELETE", url).status_int == 204 and api("DELETE", url).status_int == 404
    default = api("GET", "/domains/config/default").json["config"]
    assert default["identity"]["driver"] == "sql" and "url" in default["ldap"] and "password" not in default["ldap"]
    assert api("GET", "/domains/config/identity/default").json["config"] == {"identity": default["identity"]}
    assert api("GET", "/domains/config/identity/driver/default").json["config"] == {"driver": "sql"}
    assert api("GET", "/domains/config/nova/default").status_int == 403
    assert api("PUT", "/domains/nope/config", {"config": config}).status_int == 404
    bob = member_token(api)
    assert api("GET", "/domains/config/default", token=bob["token"]).status_int == 403


def test_policy_blobs_and_oauth_consumers(api):
    made = api("POST", "/policies", {"policy": {"blob": '{"a": "b"}', "type": "application/json", "k": "v"}})
    assert made.status_int == 201
    pol = made.json["policy"]
    assert pol["blob"] == '{"a": "b"}' and pol["k"] == "v" and pol["links"]["self"].endswith(f"/policies/{pol['id']}")
    assert [p["id"] for p in api("GET", "/policies").json["policies"]] == [pol["id"]]
    assert api("PATCH", f"/policies/{pol['id']}", {"policy": {"type": "text/plain"}}).json["policy"]["type"] == (
        "text/plain")
    assert api("POST", "/policies", {"policy": {"type": "x"}}).status_int == 400
    assert api("DELETE", f"/policies/{pol['id']}").status_int == 204
    assert api("GET", f"/policies/{pol['id']}").status_int == 404
    c = api("POST", "/OS-OAUTH1/consumers", {"consumer": {"description": "app"}})
    assert c.status_int == 201 and c.json["consumer"]["secret"]
    cid = c.json["consumer"]["id"]
    shown = api("GET", f"/OS-OAUTH1/consumers/{cid}").json["consumer"]
    assert shown["description"] == "app" and "secret" not in shown
    assert api("PATCH", f"/OS-OAUTH1/consumers/{cid}", {"consumer": {"description": "new"}}).json["consumer"][
        "description"] == "new"
    assert api("PATCH", f"/OS-OAUTH1/consumers/{cid}", {"consumer": {"secret": "mine"}}).status_int == 400
    assert [x["id"] for x in api("GET", "/OS-OAUTH1/consumers").json["consumers"]] == [cid]
    bob = member_token(api)
    assert api("GET", "/OS-OAUTH1/consumers", token=bob["token"]).status_int == 403
    assert api("GET", "/policies", token=bob["token"]).status_int == 403
    assert api("DELETE", f"/OS-OAUTH1/consumers/{cid}").status_int == 204
    assert api("DELETE", f"/OS-OAUTH1/consumers/{cid}").status_int == 404


def test_trusts_and_trust_scoped_tokens(api):
    alice = member_token(api, "alice", "pt")
    bob = member_token(api, "bob2", "pother")
    roles = {r["name"]: r["id"] for r in api("GET", "/roles").json["roles"]}
    body = {"trust": {"trustor_user_id": alice["user_id"], "trustee_user_id": bob["user_id"],
                      "project_id": alice["project_id"], "impersonation": True, "roles": [{"name": "member"}]}}
    assert api("POST", "/OS-TRUST/trusts", body, token=bob["token"]).status_int == 403  # not the trustor
    bad = {"trust": {**body["trust"], "expires_at": "bad.123Z"}}
    assert api("POST", "/OS-TRUST/trusts", bad, token=alice["token"]).status_int == 400
    made = api("POST", "/OS-TRUST/trusts", body, token=alice["token"])
    assert made.status_int == 201, made.text
    trust = made.json["trust"]
    assert trust["impersonation"] is True and [r["name"] for r in trust["roles"]] == ["member"]
    assert trust["links"]["self"].endswith(f"/OS-TRUST/trusts/{trust['id']}") and trust["expires_at"] is None
    assert api("GET", f"/OS-TRUST/trusts/{trust['id']}", token=bob["token"]).status_int == 200
    carol = member_token(api, "carol", "pc")
    assert api("GET", f"/OS-TRUST/trusts/{trust['id']}", token=carol["token"]).status_int == 404
    listed = api("GET", f"/OS-TRUST/trusts/?trustor_user_id={alice['user_id']}", token=alice["token"])
    assert [t["id"] for t in listed.json["trusts"]] == [trust["id"]]
    assert api("GET", f"/OS-TRUST/trusts?trustor_user_id={alice['user_id']}", token=carol["token"]).status_int == 403
    assert trust["id"] in [t["id"] for t in api("GET", "/OS-TRUST/trusts").json["trusts"]]  # the admin
    assert api("HEAD", f"/OS-TRUST/trusts/{trust['id']}/roles/{roles['member']}", token=alice["token"]).status_int == 200
    assert api("GET", f"/OS-TRUST/trusts/{trust['id']}/roles/{roles['admin']}", token=alice["token"]).status_int == 404
    # the trustee's trust-scoped token: the trustor as user (impersonation), the delegated roles
    auth = {"auth": {"identity": {"methods": ["token"], "token": {"id": bob["token"]}},
                     "scope": {"OS-TRUST:trust": {"id": trust["id"]}}}}
    issued = api("POST", "/auth/tokens", auth, token=None)
    assert issued.status_int == 201, issued.text
    tok = issued.json["token"]
    assert tok["user"]["id"] == alice["user_id"] and tok["project"]["id"] == alice["project_id"]
    assert {r["name"] for r in tok["roles"]} == {"member", "reader"}
    assert tok["OS-TRUST:trust"] == {"id": trust["id"], "impersonation": True,
                                     "trustee_user": {"id": bob["user_id"]}, "trustor_user": {"id": alice["user_id"]}}
    trust_token = issued.headers["X-Subject-Token"]
    assert api("GET", f"/projects/{alice['project_id']}", token=trust_token).status_int == 200
    # a trust token cannot be rescoped; only the trustee may use the trust
    again = {"auth": {"identity": {"methods": ["token"], "token": {"id": trust_token}},
                      "scope": {"project": {"id": alice["project_id"]}}}}
    assert api("POST", "/auth/tokens", again, token=None).status_int == 403
    other = {"auth": {**auth["auth"], "identity": {"methods": ["token"], "token": {"id": carol["token"]}}}}
    assert api("POST", "/auth/tokens", other, token=None).status_int == 403
    # deleting the trust ends its tokens
    assert api("DELETE", f"/OS-TRUST/trusts/{trust['id']}", token=bob["token"]).status_int == 403
    assert api("DELETE", f"/OS-TRUST/trusts/{trust['id']}", token=alice["token"]).status_int == 204
    assert api("GET", f"/projects/{alice['project_id']}", token=trust_token).status_int == 401
    assert api("GET", f"/OS-TRUST/trusts/{trust['id']}", token=alice["token"]).status_int == 404
    # remaining_uses, and a role the trustor does not hold
    limited = api("POST", "/OS-TRUST/trusts", {"trust": {**body["trust"], "impersonation": False,
                                                         "remaining_uses": 1}}, token=alice["token"]).json["trust"]
    auth["auth"]["scope"] = {"OS-TRUST:trust": {"id": limited["id"]}}
    first = api("POST", "/auth/tokens", auth, token=None)
    assert first.status_int == 201 and first.json["token"]["user"]["id"] == bob["user_id"]  # no impersonation
    assert api("POST", "/auth/tokens", auth, token=None).status_int == 401
    admin_trust = {"trust": {**body["trust"], "roles": [{"name": "admin"}]}}
    assert api("POST", "/OS-TRUST/trusts", admin_trust, token=alice["token"]).status_int == 403


def test_application_credentials_with_access_rules_and_the_access_rules_api(api):
    """As Tempest's access rules tests: created with a credential, listed, shown, deleted once unused."""
    bob = member_token(api)
    t, uid = bob["token"], bob["user_id"]
    creds = f"/users/{uid}/application_credentials"
    rule = {"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"}
    made = api("POST", creds, {"application_credential": {"name": "ar", "access_rules": [rule]}}, token=t)
    assert made.status_int == 201, made.text
    cred = made.json["application_credential"]
    got = dict(cred["access_rules"][0])
    rule_id = got.pop("id")
    assert got == rule
    # The same rule again is the same rule; by id too.
    again = api("POST", creds, {"application_credential": {"name": "ar2", "access_rules": [rule]}}, token=t).json
    assert again["application_credential"]["access_rules"][0]["id"] == rule_id
    by_id = api("POST", creds, {"application_credential": {"name": "ar3", "access_rules": [{"id": rule_id}]}},
                token=t).json
    assert by_id["application_credential"]["access_rules"] == cred["access_rules"]
    rules = f"/users/{uid}/access_rules"
    listed = api("GET", rules, token=t).json["access_rules"]
    assert [r["id"] for r in listed] == [rule_id]
    assert api("GET", f"{rules}/{rule_id}", token=t).json["access_rule"]["path"] == "/v2.1/servers/*/ips"
    assert api("GET", f"{creds}/{cred['id']}", token=t).json["application_credential"]["access_rules"][0]["id"] \
        == rule_id
    # Its token says what it may call.
    auth = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": cred["id"], "secret": cred["secret"]}}}}
    token = api("POST", "/auth/tokens", auth, token=None).json["token"]
    assert token["application_credential"]["access_rules"] == cred["access_rules"]
    # In use: 403; another user: 403; once no credential names it, it goes.
    assert api("DELETE", f"{rules}/{rule_id}", token=t).status_int == 403
    carol = member_token(api, "carol", "pa")
    assert api("GET", rules, token=carol["token"]).status_int == 403
    for c in (cred, again["application_credential"], by_id["application_credential"]):
        assert api("DELETE", f"{creds}/{c['id']}", token=t).status_int == 204
    assert [r["id"] for r in api("GET", rules, token=t).json["access_rules"]] == [rule_id]
    assert api("DELETE", f"{rules}/{rule_id}", token=t).status_int == 204
    assert api("GET", rules, token=t).json["access_rules"] == []
    assert api("GET", f"{rules}/{rule_id}", token=t).status_int == 404
    for bad in ({"path": "v2.1", "method": "GET", "service": "compute"},
                {"path": "/x", "method": "FETCH", "service": "compute"}, {"path": "/x", "method": "GET"}):
        assert api("POST", creds, {"application_credential": {"name": "bad", "access_rules": [bad]}},
                   token=t).status_int == 400
    assert api("POST", creds, {"application_credential": {"name": "bad", "access_rules": [{"id": "nope"}]}},
               token=t).status_int == 404


# -- /v3/ec2tokens and /v3/s3tokens ------------------------------------------------------------
def _ec2_cred(api: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    bob = member_token(api)
    ec2 = api("POST", f"/users/{bob['user_id']}/credentials/OS-EC2", {"tenant_id": bob["project_id"]},
              token=bob["token"])
    assert ec2.status_int == 201, ec2.text
    return bob, ec2.json["credential"]


def _v2_credentials(access: str, secret: str, **overrides: Any) -> dict[str, Any]:
    import time

    from keystoneclient.contrib.ec2.utils import Ec2Signer

    params = {"Action": "DescribeInstances", "AWSAccessKeyId": access, "SignatureVersion": "2",
              "SignatureMethod": "HmacSHA256", "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    creds = {"access": access, "host": "ec2.cloud.test:8788", "verb": "GET", "path": "/", "params": params,
             "headers": {}, "body_hash": ""}
    creds["signature"] = Ec2Signer(secret).generate({**creds, "params": dict(params)})
    creds.update(overrides)
    return creds


def test_ec2tokens(api):
    bob, cred = _ec2_cred(api)
    creds = _v2_credentials(cred["access"], cred["secret"])
    for key in ("credentials", "ec2Credentials"):
        resp = api("POST", "/ec2tokens", {key: creds}, token=None)
        assert resp.status_int == 200, resp.text
        tok = resp.json["token"]
        assert tok["methods"] == ["ec2credential"] and tok["user"]["id"] == bob["user_id"]
        assert tok["project"]["id"] == bob["project_id"] and {r["name"] for r in tok["roles"]} >= {"member"}
        subject = resp.headers["X-Subject-Token"]
        check = api("GET", "/auth/tokens", headers={"X-Subject-Token": subject})
        assert check.status_int == 200 and check.json["token"]["user"]["id"] == bob["user_id"]
    # signed without the port: accepted too, as Keystone does
    unported = _v2_credentials(cred["access"], cred["secret"], host="ec2.cloud.test")
    assert api("POST", "/ec2tokens", {"credentials": {**unported, "host": "ec2.cloud.test:8788"}},
               token=None).status_int == 200


def test_ec2tokens_refusals(api):
    _, cred = _ec2_cred(api)
    good = _v2_credentials(cred["access"], cred["secret"])
    bad_sig = api("POST", "/ec2tokens", {"credentials": {**good, "signature": "AAAA"}}, token=None)
    assert bad_sig.status_int == 401 and bad_sig.json["error"]["code"] == 401
    assert "SignatureDoesNotMatch" in bad_sig.json["error"]["message"]
    tampered = {**good, "params": {**good["params"], "Action": "TerminateInstances"}}
    assert api("POST", "/ec2tokens", {"credentials": tampered}, token=None).status_int == 401
    unknown = api("POST", "/ec2tokens", {"credentials": _v2_credentials("nokey", "x")}, token=None)
    assert unknown.status_int == 404 and unknown.json["error"]["message"] == "EC2 access key not found."
    assert api("POST", "/ec2tokens", {"credentials": {"host": "h"}}, token=None).status_int == 401
    assert api("POST", "/ec2tokens", {"credentials": {**good, "signature": ""}}, token=None).status_int == 401
    assert api("POST", "/ec2tokens", {"credentials": {**good, "params": "x"}}, token=None).status_int == 400
    assert api("POST", "/ec2tokens", raw=b"[1", token=None).status_int == 400
    stale = _v2_credentials(cred["access"], cred["secret"])
    stale["params"]["Timestamp"] = "2020-01-01T00:00:00Z"
    from keystoneclient.contrib.ec2.utils import Ec2Signer
    stale["signature"] = Ec2Signer(cred["secret"]).generate({**stale, "params": dict(stale["params"])})
    resp = api("POST", "/ec2tokens", {"credentials": stale}, token=None)
    assert resp.status_int == 401 and "RequestExpired" in resp.json["error"]["message"]


def test_s3tokens(api):
    import base64
    import hashlib
    import hmac

    bob, cred = _ec2_cred(api)
    sts = "GET\n\n\nThu, 03 Dec 2026 10:00:00 GMT\n/bucket/obj"
    sig = base64.b64encode(hmac.new(cred["secret"].encode(), sts.encode(), hashlib.sha1).digest()).decode()
    body = {"credentials": {"access": cred["access"], "token": base64.urlsafe_b64encode(sts.encode()).decode(),
                            "signature": sig}}
    resp = api("POST", "/s3tokens", body, token=None)
    assert resp.status_int == 200, resp.text
    assert resp.json["token"]["project"]["id"] == bob["project_id"]
    # SigV4: the scope (third line) gives the date, region and service of the signing key
    sts4 = "AWS4-HMAC-SHA256\n20261203T100000Z\n20261203/RegionOne/s3/aws4_request\n" + "ab" * 32
    key = f"AWS4{cred['secret']}".encode()
    for part in ("20261203", "RegionOne", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig4 = hmac.new(key, sts4.encode(), hashlib.sha256).hexdigest()
    body4 = {"credentials": {"access": cred["access"], "token": base64.urlsafe_b64encode(sts4.encode()).decode(),
                             "signature": sig4}}
    assert api("POST", "/s3tokens", body4, token=None).status_int == 200
    wrong = {"credentials": {**body4["credentials"], "signature": sig4[::-1]}}
    assert api("POST", "/s3tokens", wrong, token=None).status_int == 401
    notb64 = {"credentials": {**body["credentials"], "token": "%%%"}}
    assert api("POST", "/s3tokens", notb64, token=None).status_int == 401
    unknown = {"credentials": {**body["credentials"], "access": "nope"}}
    assert api("POST", "/s3tokens", unknown, token=None).status_int == 404
