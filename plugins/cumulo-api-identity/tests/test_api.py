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
    assert {r["name"] for r in tok["roles"]} == {"admin", "member", "reader"}
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
    assert api("POST", "/projects", {"project": {"name": "x", "is_domain": True}}).status_int == 400
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
        ("admin", "member"), ("member", "reader")}
    assert api("PUT", f"/roles/{roles['reader']}/implies/{roles['admin']}").status_int == 400  # a cycle
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
    assert [p["id"] for p in api("GET", "/projects", token=t).json["projects"]] == [bob["project_id"]]
    assert [u["id"] for u in api("GET", "/users", token=t).json["users"]] == [bob["user_id"]]
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
    # the admin cannot read another user's application credentials (owner only)
    assert api("GET", url).status_int == 403
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
