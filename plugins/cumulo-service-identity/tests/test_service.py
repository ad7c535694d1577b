"""The identity service (``hub.identity``): bootstrap, authentication, scoping, roles, revocation, credentials."""

from __future__ import annotations

import time

import pytest
from cumulo_service_identity.tokens import RevocationList

from cumulo import exception


def pw_auth(name: str, password: str, scope: object = None, domain: str = "Default") -> dict:
    auth: dict = {"identity": {"methods": ["password"], "password": {
        "user": {"name": name, "domain": {"name": domain}, "password": password}}}}
    if scope is not None:
        auth["scope"] = scope
    return auth


def project_scope(name: str) -> dict:
    return {"project": {"name": name, "domain": {"id": "default"}}}


def make_member(svc, name="bob", password="bobpw", project="proj-a", role="member"):
    try:
        p = svc.get_project_by_name(project, "default")
    except exception.NotFound:
        p = svc.create_project({"name": project, "domain_id": "default"})
    u = svc.create_user({"name": name, "domain_id": "default", "password": password})
    svc.create_grant(svc.get_role_by_name(role)["id"], user_id=u["id"], project_id=p["id"])
    return u, p


def test_bootstrap_result(identity, frontends):
    creds = identity.creds
    assert creds["created"] is True and creds["password"] == "adminpw"
    assert creds["auth_url"] == "http://cloud.test/identity/v3"
    again = identity.bootstrap(None, "http://cloud.test", frontends)
    assert again["created"] is False and again["password"] is None
    # the password was kept
    identity.authenticate(pw_auth("admin", "adminpw", project_scope("admin")))
    # one service per frontend, three endpoints each
    assert sorted(s["type"] for s in identity.list_services()) == ["identity", "object-store"]
    assert len(identity.list_endpoints()) == 6
    roles = {r["name"] for r in identity.list_roles()}
    assert {"admin", "manager", "member", "reader", "service", "ResellerAdmin"} <= roles
    assert {p["name"] for p in identity.list_projects()} == {"admin", "service"}


def test_bootstrap_updates_endpoints_when_the_url_changes(identity, frontends):
    identity.bootstrap(None, "http://moved.test:9", frontends)
    assert {e["url"] for e in identity.list_endpoints()} == {
        "http://moved.test:9/identity/v3", "http://moved.test:9/object/v1/AUTH_$(project_id)s"}
    assert len(identity.list_endpoints()) == 6


def test_admin_token_has_implied_roles_and_catalog(identity):
    token, data = identity.authenticate(pw_auth("admin", "adminpw", project_scope("admin")))
    ctx = identity.validate_token(token)
    assert ctx.is_admin and ctx.project_name == "admin"
    assert set(ctx.roles) == {"admin", "manager", "member", "reader"}
    body = identity.token_body(data)["token"]
    urls = [e["url"] for s in body["catalog"] for e in s["endpoints"]]
    assert f"http://cloud.test/object/v1/AUTH_{ctx.project_id}" in urls


def test_bad_password_and_unknown_user(identity):
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate(pw_auth("admin", "wrong"))
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate(pw_auth("nobody", "x"))
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate(pw_auth("admin", "adminpw", domain="NoSuchDomain"))


def test_scope_without_a_role_is_refused(identity):
    make_member(identity)
    other = identity.create_project({"name": "proj-b", "domain_id": "default"})
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate(pw_auth("bob", "bobpw", {"project": {"id": other["id"]}}))


def test_member_context(identity):
    user, project = make_member(identity)
    token, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    ctx = identity.validate_token(token)
    assert ctx.user_id == user["id"] and ctx.project_id == project["id"]
    assert set(ctx.roles) == {"member", "reader"} and not ctx.is_admin


def test_unscoped_token_then_rescope(identity):
    make_member(identity)
    unscoped, data = identity.authenticate(pw_auth("bob", "bobpw", "unscoped"))
    ctx = identity.validate_token(unscoped)
    assert ctx.project_id is None and ctx.roles == []
    scoped, data2 = identity.authenticate({"identity": {"methods": ["token"], "token": {"id": unscoped}},
                                           "scope": project_scope("proj-a")})
    assert identity.validate_token(scoped).project_name == "proj-a"
    # a rescoped token keeps the original expiry and chains the audit id
    assert data2["payload"]["expires_at"] == data["payload"]["expires_at"]
    assert data2["payload"]["audit_ids"][1] == data["payload"]["audit_ids"][0]


def test_domain_and_system_scope(identity):
    token, _ = identity.authenticate(pw_auth("admin", "adminpw", {"system": {"all": True}}))
    assert identity.validate_token(token).system_scope == "all"
    user, _ = make_member(identity)
    identity.create_grant(identity.get_role_by_name("reader")["id"], user_id=user["id"], domain_id="default")
    token, _ = identity.authenticate(pw_auth("bob", "bobpw", {"domain": {"name": "Default"}}))
    ctx = identity.validate_token(token)
    assert ctx.domain_id == "default" and ctx.roles == ["reader"]


def test_group_roles_and_inherited_domain_roles(identity):
    project = identity.create_project({"name": "team", "domain_id": "default"})
    user = identity.create_user({"name": "carol", "domain_id": "default", "password": "pw"})
    group = identity.create_group({"name": "devs", "domain_id": "default"})
    member = identity.get_role_by_name("member")["id"]
    identity.create_grant(member, group_id=group["id"], project_id=project["id"])
    assert identity.effective_role_ids(user["id"], project_id=project["id"]) == set()
    identity.add_user_to_group(user["id"], group["id"])
    names = {r["name"] for r in identity.role_names(identity.effective_role_ids(user["id"], project_id=project["id"]))}
    assert names == {"member", "reader"}
    # inherited from the domain to every project in it
    other = identity.create_project({"name": "other", "domain_id": "default"})
    observer = identity.create_role({"name": "observer"})
    identity.create_grant(observer["id"], user_id=user["id"], domain_id="default", inherited=True)
    assert observer["id"] in identity.effective_role_ids(user["id"], project_id=other["id"])
    # ... but not to the domain itself
    assert observer["id"] not in identity.effective_role_ids(user["id"], domain_id="default")
    listed = identity.list_role_assignments({"user_id": user["id"], "effective": True})
    pairs = {(a["role"]["id"], a["scope"].get("project", {}).get("id")) for a in listed}
    assert (member, project["id"]) in pairs and (observer["id"], other["id"]) in pairs
    # removing the membership removes the role at once
    identity.remove_user_from_group(user["id"], group["id"])
    assert member not in identity.effective_role_ids(user["id"], project_id=project["id"])


def test_inherited_project_roles_reach_the_subtree(identity):
    parent = identity.create_project({"name": "parent", "domain_id": "default"})
    child = identity.create_project({"name": "child", "parent_id": parent["id"]})
    assert child["domain_id"] == "default" and child["parent_id"] == parent["id"]
    user = identity.create_user({"name": "dave", "domain_id": "default", "password": "pw"})
    reader = identity.get_role_by_name("reader")["id"]
    identity.create_grant(reader, user_id=user["id"], project_id=parent["id"], inherited=True)
    assert identity.effective_role_ids(user["id"], project_id=child["id"]) == {reader}
    assert identity.effective_role_ids(user["id"], project_id=parent["id"]) == set()
    with pytest.raises(exception.Forbidden):
        identity.delete_project(parent["id"])


def test_implied_role_cycles_are_refused(identity):
    member, reader = identity.get_role_by_name("member"), identity.get_role_by_name("reader")
    with pytest.raises(exception.Invalid):
        identity.create_implied_role(reader["id"], member["id"])  # member implies reader already
    # Keystone's prohibited_implied_role: nothing implies admin
    with pytest.raises(exception.Forbidden):
        identity.create_implied_role(reader["id"], identity.get_role_by_name("admin")["id"])


def test_expired_token(identity):
    make_member(identity)
    identity.conf.set_override("token_expiration", 60, group="identity")
    try:
        token, data = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    finally:
        identity.conf.clear_override("token_expiration", group="identity")
    payload = dict(data["payload"], expires_at=time.time() - 1)
    with pytest.raises(exception.NotAuthenticated, match="expired"):
        identity.validate_token(identity.provider.issue(payload))
    assert identity.validate_token(token)


@pytest.mark.parametrize("bad", ["", "garbage", "gAAAAABnot-really", "x" * 5000])
def test_malformed_tokens(identity, bad):
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(bad)


def test_explicit_revocation(identity):
    make_member(identity)
    t1, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    t2, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    identity.revoke_token(t1)
    with pytest.raises(exception.NotAuthenticated, match="revoked"):
        identity.validate_token(t1)
    assert identity.validate_token(t2)  # only that token


def test_revocation_seen_by_another_process(identity):
    make_member(identity)
    t1, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    other = RevocationList(ttl=0)  # what another API process holds
    payload = identity.provider.validate(t1)
    assert not other.is_revoked(payload)
    identity.revoke_token(t1)
    assert other.is_revoked(payload)


def test_password_change_and_disable_revoke_tokens(identity):
    user, _ = make_member(identity)
    t1, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    identity.change_password(user["id"], "bobpw", "newpw")
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(t1)
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate(pw_auth("bob", "bobpw"))
    t2, _ = identity.authenticate(pw_auth("bob", "newpw", project_scope("proj-a")))
    assert identity.validate_token(t2)  # issued after the change
    with pytest.raises(exception.NotAuthenticated):
        identity.change_password(user["id"], "wrong", "x")
    identity.update_user(user["id"], {"enabled": False})
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(t2)
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate(pw_auth("bob", "newpw"))


def test_role_removal_and_project_disable_end_tokens(identity):
    user, project = make_member(identity)
    token, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    identity.update_project(project["id"], {"enabled": False})
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(token)
    identity.update_project(project["id"], {"enabled": True})
    assert identity.validate_token(token)
    identity.delete_grant(identity.get_role_by_name("member")["id"], user_id=user["id"], project_id=project["id"])
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(token)


def test_ec2_credentials(identity):
    user, project = make_member(identity)
    cred = identity.create_ec2_credential(user["id"], project["id"])
    assert len(cred["access"]) == 32 and len(cred["secret"]) == 32
    assert identity.list_ec2_credentials(user["id"])[0]["access"] == cred["access"]
    assert identity.get_ec2_credential(user["id"], cred["access"])["secret"] == cred["secret"]
    assert not hasattr(identity, "ec2_credential_by_access")  # the secret is not handed to other areas
    identity.delete_ec2_credential(user["id"], cred["access"])
    with pytest.raises(exception.NotFound):
        identity.get_ec2_credential(user["id"], cred["access"])


def test_application_credentials(identity):
    user, project = make_member(identity)
    reader = identity.get_role_by_name("reader")
    cred = identity.create_application_credential(user["id"], project["id"],
                                                  {"name": "ci", "roles": [{"name": "reader"}]})
    assert cred["secret"] and cred["roles"][0]["id"] == reader["id"]
    token, _ = identity.authenticate({"identity": {"methods": ["application_credential"],
                                                   "application_credential": {"id": cred["id"],
                                                                              "secret": cred["secret"]}}})
    ctx = identity.validate_token(token)
    assert ctx.project_id == project["id"] and ctx.roles == ["reader"]
    by_name = {"identity": {"methods": ["application_credential"], "application_credential": {
        "name": "ci", "user": {"name": "bob", "domain": {"id": "default"}}, "secret": cred["secret"]}}}
    identity.authenticate(by_name)
    with pytest.raises(exception.NotAuthenticated):
        identity.authenticate({"identity": {"methods": ["application_credential"],
                                            "application_credential": {"id": cred["id"], "secret": "nope"}}})
    with pytest.raises(exception.Forbidden):  # cannot delegate a role it does not hold
        identity.create_application_credential(user["id"], project["id"], {"name": "x", "roles": [{"name": "admin"}]})
    with pytest.raises(exception.Forbidden):  # app-cred tokens cannot be rescoped
        identity.authenticate({"identity": {"methods": ["token"], "token": {"id": token}}})
    identity.delete_application_credential(user["id"], cred["id"])
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(token)


def test_duplicates_and_missing(identity):
    with pytest.raises(exception.Conflict):
        identity.create_project({"name": "admin", "domain_id": "default"})
    with pytest.raises(exception.Conflict):
        identity.create_user({"name": "admin", "domain_id": "default"})
    with pytest.raises(exception.NotFound):
        identity.get_project("nope")
    with pytest.raises(exception.NotFound):
        identity.create_user({"name": "x", "domain_id": "no-such-domain"})


def test_delete_user_cleans_up(identity):
    user, project = make_member(identity)
    cred = identity.create_ec2_credential(user["id"], project["id"])
    token, _ = identity.authenticate(pw_auth("bob", "bobpw", project_scope("proj-a")))
    identity.delete_user(user["id"])
    with pytest.raises(exception.NotAuthenticated):
        identity.validate_token(token)
    assert identity.list_role_assignments({"user_id": user["id"]}) == []
    with pytest.raises(exception.NotFound):
        identity._ec2_secret(cred["access"])


def test_key_rotation_keeps_tokens(identity):
    token, _ = identity.authenticate(pw_auth("admin", "adminpw", project_scope("admin")))
    identity.rotate_keys()
    assert identity.validate_token(token).is_admin


def test_delete_domain_cascades(identity):
    domain = identity.create_domain({"name": "corp"})
    project = identity.create_project({"name": "p", "domain_id": domain["id"]})
    user = identity.create_user({"name": "u", "domain_id": domain["id"], "password": "pw"})
    group = identity.create_group({"name": "g", "domain_id": domain["id"]})
    identity.create_grant(identity.get_role_by_name("member")["id"], user_id=user["id"], project_id=project["id"])
    with pytest.raises(exception.Forbidden):
        identity.delete_domain(domain["id"])
    identity.update_domain(domain["id"], {"enabled": False})
    identity.delete_domain(domain["id"])
    for getter, ident in ((identity.get_project, project["id"]), (identity.get_user, user["id"]),
                          (identity.get_group, group["id"]), (identity.get_domain, domain["id"])):
        with pytest.raises(exception.NotFound):
            getter(ident)
    assert identity.list_role_assignments({"user_id": user["id"]}) == []


def test_default_project_scopes_a_token_without_scope(identity):
    user, project = make_member(identity)
    identity.update_user(user["id"], {"default_project_id": project["id"]})
    token, _ = identity.authenticate(pw_auth("bob", "bobpw"))
    assert identity.validate_token(token).project_id == project["id"]
    token, _ = identity.authenticate(pw_auth("bob", "bobpw", "unscoped"))
    assert identity.validate_token(token).project_id is None


def test_read_only_backend_refuses_writes(identity):
    identity.backend.writable = False
    try:
        for call in (lambda: identity.create_user({"name": "x"}), lambda: identity.create_group({"name": "g"}),
                     lambda: identity.update_user("x", {"enabled": False})):
            with pytest.raises(exception.Forbidden, match="read-only"):
                call()
        # reads and authentication still work
        token, _ = identity.authenticate(pw_auth("admin", "adminpw", project_scope("admin")))
        assert identity.validate_token(token).is_admin
    finally:
        identity.backend.writable = True
