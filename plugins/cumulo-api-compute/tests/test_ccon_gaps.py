"""Compute API gaps Tempest found (issue 12), each as Nova answers it."""

from __future__ import annotations

import uuid

ADMIN = "admin:padmin:admin,member,reader"
OTHER = "u2:p2"


def test_flavor_created_with_an_integer_id(cloud):
    body = {"flavor": {"name": "f.int", "ram": 64, "vcpus": 1, "disk": 1, "id": 9876}}
    resp = cloud.post("/v2.1/flavors", body, token=ADMIN)
    assert resp.status_int == 200, resp.text
    assert resp.json["flavor"]["id"] == "9876"
    assert cloud.get("/v2.1/flavors/9876").json["flavor"]["name"] == "f.int"
    assert cloud.post("/v2.1/flavors", {"flavor": {**body["flavor"], "name": "f.int2"}},
                      token=ADMIN).status_int == 409
    bad = {"flavor": {"name": "f.bad", "ram": 64, "vcpus": 1, "disk": 1, "id": " x"}}
    assert cloud.post("/v2.1/flavors", bad, token=ADMIN).status_int == 400


def test_os_hosts(cloud):
    hosts = cloud.get("/v2.1/os-hosts", token=ADMIN, version="2.42").json["hosts"]
    compute = [h for h in hosts if h["service"] == "compute"]
    assert {h["host_name"] for h in compute} == {"fake-1", "fake-2", "fake-3"}
    assert all(set(h) == {"host_name", "service", "zone"} for h in hosts)
    assert {h["zone"] for h in compute} == {"nova"}
    assert cloud.get("/v2.1/os-hosts?zone=nova", token=ADMIN, version="2.42").json["hosts"] == compute
    assert cloud.get("/v2.1/os-hosts?zone=", token=ADMIN, version="2.42").json["hosts"] == hosts
    assert cloud.get("/v2.1/os-hosts?zone=xxx", token=ADMIN, version="2.42").json["hosts"] == []
    assert cloud.get("/v2.1/os-hosts", token=ADMIN, version="2.43").status_int == 404
    detail = cloud.get("/v2.1/os-hosts/fake-1", token=ADMIN, version="2.42").json["host"]
    assert [r["resource"]["project"] for r in detail] == ["(total)", "(used_now)", "(used_max)"]
    assert detail[0]["resource"]["host"] == "fake-1" and detail[0]["resource"]["cpu"] > 0
    assert cloud.get("/v2.1/os-hosts/nope", token=ADMIN, version="2.42").status_int == 404
    for method, path, body in (("get", "/os-hosts", None), ("get", "/os-hosts/fake-1", None),
                               ("put", "/os-hosts/fake-1", {"status": "enable"}),
                               ("get", "/os-hosts/fake-1/startup", None), ("get", "/os-hosts/fake-1/reboot", None),
                               ("get", "/os-hosts/fake-1/shutdown", None)):
        args = (body,) if body is not None else ()
        assert getattr(cloud, method)("/v2.1" + path, *args, version="2.42").status_int == 403, path

    put = "/v2.1/os-hosts/fake-2"
    resp = cloud.put(put, {"status": "disable"}, token=ADMIN, version="2.42")
    assert resp.status_int == 200 and resp.json == {"host": "fake-2", "status": "disabled"}
    services = cloud.get("/v2.1/os-services?host=fake-2&binary=nova-compute", token=ADMIN).json["services"]
    assert services[0]["status"] == "disabled"
    assert cloud.put(put, {"status": "Enable"}, token=ADMIN, version="2.42").json["status"] == "enabled"
    for bad in ({}, {"status": "invalid"}, {"status": "enable", "maintenance_mode": "invalid"}, {"other": 1}):
        assert cloud.put(put, bad, token=ADMIN, version="2.42").status_int == 400, bad
    assert cloud.put("/v2.1/os-hosts/nope", {"status": "enable"}, token=ADMIN, version="2.42").status_int == 404
    assert cloud.put(put, {"maintenance_mode": "enable"}, token=ADMIN, version="2.42").status_int == 501
    for action in ("startup", "shutdown", "reboot"):
        assert cloud.get(f"{put}/{action}", token=ADMIN, version="2.42").status_int == 501
        assert cloud.get(f"/v2.1/os-hosts/nope/{action}", token=ADMIN, version="2.42").status_int == 404


def test_aggregate_create_and_update_answers(cloud):
    for version in ("2.1", "2.41"):
        resp = cloud.post("/v2.1/os-aggregates", {"aggregate": {"name": f"agg-{version}"}}, token=ADMIN,
                          version=version)
        assert resp.status_int == 200, resp.text
        created = resp.json["aggregate"]
        base = {"availability_zone", "created_at", "deleted", "deleted_at", "id", "name", "updated_at"}
        assert set(created) == (base | {"uuid"} if version == "2.41" else base)
        upd = cloud.put(f"/v2.1/os-aggregates/{created['id']}", {"aggregate": {"availability_zone": "z9"}},
                        token=ADMIN, version=version).json["aggregate"]
        assert upd["updated_at"] and upd["availability_zone"] == "z9" and {"hosts", "metadata"} <= set(upd)
    assert cloud.post("/v2.1/os-aggregates", {"aggregate": {"name": "agg-2.1"}}, token=ADMIN).status_int == 409
    assert cloud.post("/v2.1/os-aggregates", {"aggregate": {"name": "x"}}).status_int == 403


def _boot(cloud, name="vm"):
    resp = cloud.post("/v2.1/servers", {"server": {"name": name, "imageRef": "img-1", "flavorRef": "42",
                                                   "networks": "none"}})
    assert resp.status_int == 202, resp.text
    sid = resp.json["server"]["id"]
    cloud.wait_status(sid, "ACTIVE")
    return sid


def test_a_rescued_server_refuses_reboot_and_rebuild(cloud):
    sid = _boot(cloud)
    action = f"/v2.1/servers/{sid}/action"
    assert cloud.post(action, {"rescue": {}}).status_int == 200
    cloud.wait_status(sid, "RESCUE")
    for body in ({"reboot": {"type": "HARD"}}, {"reboot": {"type": "SOFT"}}, {"rebuild": {"imageRef": "img-2"}}):
        resp = cloud.post(action, body)
        assert resp.status_int == 409, (body, resp.text)
    assert cloud.post(action, {"unrescue": None}).status_int == 202
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.post(action, {"reboot": {"type": "SOFT"}}).status_int == 202


def test_console_output_length_as_nova_tails_it(cloud):
    sid = _boot(cloud)
    action = f"/v2.1/servers/{sid}/action"
    full = cloud.post(action, {"os-getConsoleOutput": {}}).json["output"]
    assert full.endswith("\n") and len(full.split("\n")) > 3
    out = cloud.post(action, {"os-getConsoleOutput": {"length": 3}}).json["output"]
    assert len(out.split("\n")) == 3 and full.endswith(out)
    assert cloud.post(action, {"os-getConsoleOutput": {"length": 0}}).json["output"] == ""


def test_rebuilding_a_stopped_server_leaves_it_shutoff(cloud):
    sid = _boot(cloud)
    action = f"/v2.1/servers/{sid}/action"
    assert cloud.post(action, {"os-stop": None}).status_int == 202
    cloud.wait_status(sid, "SHUTOFF")
    resp = cloud.post(action, {"rebuild": {"imageRef": "img-2"}})
    assert resp.status_int == 202, resp.text
    server = cloud.wait_status(sid, "SHUTOFF")
    assert server["image"]["id"] == "img-2" and server["OS-EXT-STS:power_state"] == 4  # SHUTDOWN
    assert cloud.post(action, {"rebuild": {"imageRef": "img-1"}}, version="2.1").status_int == 202
    cloud.wait_status(sid, "SHUTOFF")
    assert cloud.post(action, {"os-start": None}).status_int == 202
    cloud.wait_status(sid, "ACTIVE")


def test_quota_class_update_sets_the_defaults(cloud):
    for version in ("2.1", "2.57"):
        shown = cloud.get("/v2.1/os-quota-class-sets/default", token=ADMIN, version=version).json["quota_class_set"]
        assert shown.pop("id") == "default"
        raised = {k: val + 100 for k, val in shown.items()}
        resp = cloud.put("/v2.1/os-quota-class-sets/default", {"quota_class_set": raised}, token=ADMIN,
                         version=version)
        assert resp.status_int == 200, resp.text
        assert resp.json["quota_class_set"].items() >= raised.items() and "id" not in resp.json["quota_class_set"]
        again = cloud.get("/v2.1/os-quota-class-sets/default", token=ADMIN, version=version).json["quota_class_set"]
        assert again.items() >= raised.items()
    # the default class is what a project without limits of its own gets
    assert cloud.get("/v2.1/os-quota-sets/p1").json["quota_set"]["instances"] == again["instances"]
    assert cloud.put("/v2.1/os-quota-class-sets/default", {"quota_class_set": {"instances": 5}}).status_int == 403
    assert cloud.put("/v2.1/os-quota-class-sets/default", {"quota_class_set": {"bogus": 5}},
                     token=ADMIN).status_int == 400


def test_reset_state_restore_and_diagnostics(cloud):
    sid = _boot(cloud)
    action = f"/v2.1/servers/{sid}/action"
    assert cloud.post(action, {"os-resetState": {"state": "error"}}).status_int == 403
    assert cloud.post(action, {"os-resetState": {"state": "error"}}, token=ADMIN).status_int == 202
    assert cloud.get(f"/v2.1/servers/{sid}").json["server"]["status"] == "ERROR"
    assert cloud.post(action, {"os-resetState": {"state": "bogus"}}, token=ADMIN).status_int == 400
    assert cloud.post(f"/v2.1/servers/{uuid.uuid4()}/action", {"os-resetState": {"state": "active"}},
                      token=ADMIN).status_int == 404
    assert cloud.post(action, {"os-resetState": {"state": "active"}}, token=ADMIN).status_int == 202
    assert cloud.get(f"/v2.1/servers/{sid}").json["server"]["status"] == "ACTIVE"

    assert cloud.post(action, {"restore": None}).status_int == 409  # deletes are immediate: nothing to restore
    assert cloud.post(f"/v2.1/servers/{uuid.uuid4()}/action", {"restore": None}).status_int == 404

    diag = f"/v2.1/servers/{sid}/diagnostics"
    assert cloud.get(diag).status_int == 403
    resp = cloud.get(diag, token=ADMIN)
    assert resp.status_int == 501 and resp.json["notImplemented"]["code"] == 501
    assert cloud.post(action, {"os-stop": None}).status_int == 202
    cloud.wait_status(sid, "SHUTOFF")
    assert cloud.get(diag, token=ADMIN).status_int == 409
    assert cloud.get(f"/v2.1/servers/{uuid.uuid4()}/diagnostics", token=ADMIN).status_int == 404


def test_instance_usage_audit_log(cloud):
    listed = cloud.get("/v2.1/os-instance_usage_audit_log", token=ADMIN)
    assert listed.status_int == 200, listed.text
    log = listed.json["instance_usage_audit_logs"]
    assert (log["num_hosts"], log["num_hosts_not_run"], log["num_hosts_done"]) == (3, 3, 0)
    assert sorted(log["hosts_not_run"]) == ["fake-1", "fake-2", "fake-3"] and log["log"] == {}
    assert log["overall_status"] == "0 of 3 hosts done. 0 errors."
    shown = cloud.get("/v2.1/os-instance_usage_audit_log/2026-03-15%2010:00:00", token=ADMIN).json
    period = shown["instance_usage_audit_log"]
    assert (period["period_beginning"], period["period_ending"]) == ("2026-02-01 00:00:00", "2026-03-01 00:00:00")
    january = cloud.get("/v2.1/os-instance_usage_audit_log/2026-01-02%2000:00:00.5", token=ADMIN).json
    assert january["instance_usage_audit_log"]["period_beginning"] == "2025-12-01 00:00:00"
    assert cloud.get("/v2.1/os-instance_usage_audit_log/invalid-time", token=ADMIN).status_int == 400
    assert cloud.get("/v2.1/os-instance_usage_audit_log").status_int == 403
    assert cloud.get("/v2.1/os-instance_usage_audit_log/2026-03-15%2010:00:00").status_int == 403


def test_legacy_absolute_limits(cloud):
    old = cloud.get("/v2.1/limits", version="2.1").json["limits"]["absolute"]
    assert old["maxImageMeta"] == old["maxServerMeta"] == 128
    assert {"maxPersonality", "maxPersonalitySize", "maxSecurityGroups", "maxTotalFloatingIps"} <= set(old)
    assert "maxImageMeta" not in cloud.get("/v2.1/limits", version="2.39").json["limits"]["absolute"]


def test_legacy_extensions(cloud):
    listed = cloud.get("/v2.1/extensions").json["extensions"]
    assert {"Hosts", "Consoles", "FloatingIps"} <= {e["name"] for e in listed}
    assert all(set(e) == {"alias", "name", "description", "links", "namespace", "updated"} for e in listed)
    assert cloud.get("/v2.1/extensions/os-consoles").json["extension"]["alias"] == "os-consoles"
    assert cloud.get("/v2.1/extensions/os-nothing").status_int == 404


def test_x509_keypair_generated(cloud):
    from cryptography import x509

    resp = cloud.post("/v2.1/os-keypairs", {"keypair": {"name": "win", "type": "x509"}}, version="2.2")
    assert resp.status_int == 201, resp.text  # 201 from 2.2, as Nova
    kp = resp.json["keypair"]
    assert kp["type"] == "x509" and "PRIVATE KEY" in kp["private_key"]
    cert = x509.load_pem_x509_certificate(kp["public_key"].encode())
    assert cert.subject.rfc4514_string() == "CN=u1"
    digest = cert.fingerprint(__import__("cryptography.hazmat.primitives.hashes", fromlist=["SHA1"]).SHA1()).hex()
    assert kp["fingerprint"] == ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
    shown = cloud.get("/v2.1/os-keypairs/win", version="2.2").json["keypair"]
    assert shown["type"] == "x509" and shown["public_key"].strip() == kp["public_key"].strip()
