"""Access rules of application credentials, enforced on an API as keystonemiddleware enforces them."""

from __future__ import annotations

import json

import pytest
import webob

from cumulo import exception
from cumulo.wsgi.middleware import ServiceType, access_rules_allow, pipeline
from cumulo.wsgi.request import CONTEXT_KEY


def _member(svc):
    p = svc.create_project({"name": "proj-a", "domain_id": "default"})
    u = svc.create_user({"name": "bob", "domain_id": "default", "password": "bobpw"})
    svc.create_grant(svc.get_role_by_name("member")["id"], user_id=u["id"], project_id=p["id"])
    return u, p


def _app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"user": environ[CONTEXT_KEY].user_id}).encode()]


@pytest.mark.parametrize("service, method, path, allowed", [
    ("compute", "GET", "/v2.1/servers/abc/ips", True),
    ("compute", "get", "/v2.1/servers/abc/ips", True),
    ("compute", "GET", "/v2.1/servers/abc/def/ips", False),   # * is one segment
    ("compute", "POST", "/v2.1/servers/abc/ips", False),
    ("image", "GET", "/v2.1/servers/abc/ips", False),
    (None, "GET", "/v2.1/servers/abc/ips", False),             # no service type: nothing
    ("compute", "GET", "/v2.1/flavors/a/b/c", True),           # ** is any number
    ("compute", "GET", "/v2.1/flavorsX", False),
])
def test_matching(service, method, path, allowed):
    rules = [{"service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"},
             {"service": "compute", "method": "GET", "path": "/v2.1/flavors/**"}]
    assert access_rules_allow(rules, service, method, path) is allowed


def test_a_restricted_credential_reaches_only_what_its_rules_allow(identity):
    user, project = _member(identity)
    rule = {"service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"}
    cred = identity.create_application_credential(user["id"], project["id"], {"name": "ar", "access_rules": [rule]})
    plain = identity.create_application_credential(user["id"], project["id"], {"name": "plain"})
    tokens = {}
    for c in (cred, plain):
        tokens[c["name"]], _ = identity.authenticate({"identity": {
            "methods": ["application_credential"], "application_credential": {"id": c["id"], "secret": c["secret"]}}})
    password_token, _ = identity.authenticate({
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "bob", "domain": {"name": "Default"}, "password": "bobpw"}}},
        "scope": {"project": {"name": "proj-a", "domain": {"id": "default"}}}})

    def call(service_type, method, path, token):
        app = ServiceType(pipeline(_app, validate=identity.validate_token), service_type)
        req = webob.Request.blank(path, method=method, headers={"X-Auth-Token": token})
        return req.get_response(app).status_int

    assert call("compute", "GET", "/v2.1/servers/s1/ips", tokens["ar"]) == 200
    assert call("compute", "GET", "/v2.1/servers", tokens["ar"]) == 401
    assert call("compute", "DELETE", "/v2.1/servers/s1/ips", tokens["ar"]) == 401
    assert call("image", "GET", "/v2.1/servers/s1/ips", tokens["ar"]) == 401
    # Credentials without rules, and other tokens, are not limited.
    assert call("image", "GET", "/v2/images", tokens["plain"]) == 200
    assert call("image", "GET", "/v2/images", password_token) == 200
    # The rule stays the user's when the credential goes; then it can be deleted.
    rule_id = cred["access_rules"][0]["id"]
    with pytest.raises(exception.Forbidden):
        identity.delete_access_rule(user["id"], rule_id)
    identity.delete_application_credential(user["id"], cred["id"])
    assert [r["id"] for r in identity.list_access_rules(user["id"])] == [rule_id]
    identity.delete_access_rule(user["id"], rule_id)
    assert identity.list_access_rules(user["id"]) == []
