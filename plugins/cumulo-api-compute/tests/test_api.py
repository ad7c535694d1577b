"""The Compute v2.1 API in process (noauth), against 3 fake hosts."""

from __future__ import annotations

ADMIN = "admin:padmin:admin,member,reader"
OTHER = "u2:p2"
SECRET = "metadata-proxy-secret"


def _boot(cloud, name="vm", flavor="42", token=None, **extra):
    body = {"server": {"name": name, "imageRef": "img-1", "flavorRef": flavor, "networks": "none", **extra}}
    resp = cloud.post("/v2.1/servers", body, **({"token": token} if token else {}))
    assert resp.status_int == 202, resp.text
    return resp.json["server"]


def test_versions_need_no_token(cloud):
    resp = cloud.get("/", token=None, version=None)
    assert resp.status_int == 200
    v21 = [v for v in resp.json["versions"] if v["id"] == "v2.1"][0]
    assert v21["min_version"] == "2.1" and v21["version"] == "2.79"
    assert cloud.get("/v2.1/", token=None).json["version"]["id"] == "v2.1"


def test_microversion_negotiation(cloud):
    resp = cloud.get("/v2.1/flavors", version="2.55")
    assert resp.headers["OpenStack-API-Version"] == "compute 2.55"
    assert "description" in resp.json["flavors"][0]
    resp = cloud.get("/v2.1/flavors", version=None)
    assert resp.headers["OpenStack-API-Version"] == "compute 2.1"
    assert "description" not in resp.json["flavors"][0]
    resp = cloud.get("/v2.1/flavors", version="latest")
    assert resp.headers["OpenStack-API-Version"] == "compute 2.79"
    resp = cloud.get("/v2.1/flavors", version="2.200")
    assert resp.status_int == 406 and "notAcceptable" in resp.json
    resp = cloud.get("/v2.1/flavors", version=None, headers={"X-OpenStack-Nova-API-Version": "2.61"})
    assert resp.headers["X-OpenStack-Nova-API-Version"] == "2.61"
    assert "extra_specs" in cloud.get("/v2.1/flavors/detail", version=None,
                                      headers={"X-OpenStack-Nova-API-Version": "2.61"}).json["flavors"][0]


def test_no_token_is_401_in_nova_shape(cloud):
    resp = cloud.get("/v2.1/servers", token=None)
    assert resp.status_int == 401 and resp.json["unauthorized"]["code"] == 401


def test_server_lifecycle(cloud):
    server = _boot(cloud, metadata={"k": "v"}, tags=["a", "b"])
    assert server["adminPass"] and server["links"][0]["rel"] == "self"
    detail = cloud.wait_status(server["id"], "ACTIVE")
    assert detail["flavor"]["original_name"] == "c1.nano" and detail["flavor"]["ram"] == 64
    assert detail["metadata"] == {"k": "v"} and detail["tags"] == ["a", "b"]
    assert detail["locked"] is False and detail["locked_reason"] is None
    assert "OS-EXT-SRV-ATTR:host" not in detail
    admin_view = cloud.get(f"/v2.1/servers/{server['id']}", token=ADMIN).json["server"]
    assert admin_view["OS-EXT-SRV-ATTR:host"].startswith("fake-")
    old = cloud.get(f"/v2.1/servers/{server['id']}", version="2.1").json["server"]
    assert old["flavor"]["id"] == "42" and "tags" not in old
    listing = cloud.get("/v2.1/servers").json["servers"]
    assert [s["id"] for s in listing] == [server["id"]]
    assert cloud.get("/v2.1/servers", token=OTHER).json["servers"] == []
    assert cloud.get(f"/v2.1/servers/{server['id']}", token=OTHER).status_int == 404
    resp = cloud.put(f"/v2.1/servers/{server['id']}", {"server": {"name": "renamed", "description": "d"}})
    assert resp.json["server"]["name"] == "renamed" and resp.json["server"]["description"] == "d"
    assert cloud.delete(f"/v2.1/servers/{server['id']}").status_int == 204
    cloud.wait_status(server["id"], "DELETED")


def test_networks_required_from_237(cloud):
    resp = cloud.post("/v2.1/servers", {"server": {"name": "x", "imageRef": "i", "flavorRef": "42"}})
    assert resp.status_int == 400 and "networks" in resp.json["badRequest"]["message"]
    resp = cloud.post("/v2.1/servers", {"server": {"name": "x", "imageRef": "i", "flavorRef": "42"}}, version="2.36")
    assert resp.status_int == 202


def test_bad_input_is_400_not_500(cloud):
    for body in ({}, {"server": {}}, {"server": {"name": "x", "flavorRef": "42", "networks": "bogus"}},
                 {"server": {"name": "x", "imageRef": "i", "flavorRef": "nope", "networks": "none"}}):
        resp = cloud.post("/v2.1/servers", body)
        assert resp.status_int == 400, (body, resp.text)
        assert resp.json["badRequest"]["message"]
    resp = cloud.request("POST", "/v2.1/servers", headers={"Content-Type": "application/json"})
    assert resp.status_int == 400


def test_actions_and_state_conflicts(cloud):
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"os-stop": None}).status_int == 202
    cloud.wait_status(sid, "SHUTOFF")
    resp = cloud.post(f"/v2.1/servers/{sid}/action", {"pause": None})
    assert resp.status_int == 409 and "conflictingRequest" in resp.json
    cloud.post(f"/v2.1/servers/{sid}/action", {"os-start": None})
    cloud.wait_status(sid, "ACTIVE")
    for action, status, undo in (("pause", "PAUSED", "unpause"), ("suspend", "SUSPENDED", "resume")):
        assert cloud.post(f"/v2.1/servers/{sid}/action", {action: None}).status_int == 202
        cloud.wait_status(sid, status)
        cloud.post(f"/v2.1/servers/{sid}/action", {undo: None})
        cloud.wait_status(sid, "ACTIVE")
    resp = cloud.post(f"/v2.1/servers/{sid}/action", {"rescue": {}})
    assert resp.status_int == 200 and resp.json["adminPass"]
    cloud.wait_status(sid, "RESCUE")
    cloud.post(f"/v2.1/servers/{sid}/action", {"unrescue": None})
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"reboot": {"type": "HARD"}}).status_int == 202
    cloud.wait_status(sid, "ACTIVE")
    out = cloud.post(f"/v2.1/servers/{sid}/action", {"os-getConsoleOutput": {"length": 5}})
    assert out.status_int == 200 and 0 < len(out.json["output"].splitlines()) <= 5
    console = cloud.post(f"/v2.1/servers/{sid}/remote-consoles",
                         {"remote_console": {"protocol": "vnc", "type": "novnc"}})
    assert console.status_int == 200 and console.json["remote_console"]["url"].startswith("http")
    events = cloud.get(f"/v2.1/servers/{sid}/os-instance-actions").json["instanceActions"]
    assert [e["action"] for e in events][:2] == ["reboot", "unrescue"]
    detail = cloud.get(f"/v2.1/servers/{sid}/os-instance-actions/{events[0]['request_id']}").json
    assert detail["instanceAction"]["events"][0]["result"] == "Success"


def test_lock(cloud):
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    cloud.post(f"/v2.1/servers/{sid}/action", {"lock": {"locked_reason": "maintenance"}})
    server = cloud.get(f"/v2.1/servers/{sid}").json["server"]
    assert server["locked"] and server["locked_reason"] == "maintenance"
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"os-stop": None}).status_int == 409
    assert cloud.delete(f"/v2.1/servers/{sid}").status_int == 409
    cloud.post(f"/v2.1/servers/{sid}/action", {"unlock": None})
    assert cloud.delete(f"/v2.1/servers/{sid}").status_int == 204


def test_resize_confirm_and_revert(cloud):
    sid = _boot(cloud, flavor="1")["id"]
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"resize": {"flavorRef": "2"}}).status_int == 202
    server = cloud.wait_status(sid, "VERIFY_RESIZE")
    assert server["flavor"]["original_name"] == "m1.small"
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"confirmResize": None}).status_int == 204
    server = cloud.wait_status(sid, "ACTIVE")
    assert server["flavor"]["original_name"] == "m1.small"
    cloud.post(f"/v2.1/servers/{sid}/action", {"resize": {"flavorRef": "3"}})
    cloud.wait_status(sid, "VERIFY_RESIZE")
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"revertResize": None}).status_int == 202
    server = cloud.wait_status(sid, "ACTIVE")
    assert server["flavor"]["original_name"] == "m1.small"
    quota = cloud.get("/v2.1/os-quota-sets/p1/detail").json["quota_set"]
    assert quota["ram"]["in_use"] == 2048 and quota["cores"]["in_use"] == 1


def test_rebuild(cloud):
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    resp = cloud.post(f"/v2.1/servers/{sid}/action", {"rebuild": {"imageRef": "img-2", "name": "rebuilt"}})
    assert resp.status_int == 202 and resp.json["server"]["adminPass"]
    server = cloud.wait_status(sid, "ACTIVE")
    assert server["image"]["id"] == "img-2" and server["name"] == "rebuilt"


def test_metadata_and_tags(cloud):
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.post(f"/v2.1/servers/{sid}/metadata", {"metadata": {"a": "1"}}).json["metadata"] == {"a": "1"}
    cloud.put(f"/v2.1/servers/{sid}/metadata/b", {"meta": {"b": "2"}})
    assert cloud.get(f"/v2.1/servers/{sid}/metadata").json["metadata"] == {"a": "1", "b": "2"}
    assert cloud.delete(f"/v2.1/servers/{sid}/metadata/a").status_int == 204
    assert cloud.get(f"/v2.1/servers/{sid}/metadata/a").status_int == 404
    assert cloud.put(f"/v2.1/servers/{sid}/tags/t1").status_int == 201
    assert cloud.put(f"/v2.1/servers/{sid}/tags/t1").status_int == 204
    assert cloud.get(f"/v2.1/servers/{sid}/tags").json["tags"] == ["t1"]
    assert cloud.get(f"/v2.1/servers/{sid}/tags", version="2.25").status_int == 404
    assert [s["id"] for s in cloud.get("/v2.1/servers?tags=t1").json["servers"]] == [sid]
    assert cloud.get("/v2.1/servers?tags=nope").json["servers"] == []


def test_list_paging_and_sorting(cloud):
    ids = [_boot(cloud, name=f"s{i}")["id"] for i in range(5)]
    page = cloud.get("/v2.1/servers?limit=2&sort_key=display_name&sort_dir=asc").json
    assert [s["name"] for s in page["servers"]] == ["s0", "s1"]
    assert "marker=" in page["servers_links"][0]["href"]
    marker = page["servers"][-1]["id"]
    page2 = cloud.get(f"/v2.1/servers?limit=2&sort_key=display_name&sort_dir=asc&marker={marker}").json
    assert [s["name"] for s in page2["servers"]] == ["s2", "s3"]
    assert len(cloud.get("/v2.1/servers/detail?name=s[34]").json["servers"]) == 2
    for sid in ids:
        cloud.wait_status(sid, "ACTIVE")
    assert len(cloud.get("/v2.1/servers?status=ACTIVE").json["servers"]) == 5
    assert cloud.get("/v2.1/servers?sort_key=bogus").status_int == 400


def test_flavors_admin_only_and_access(cloud):
    body = {"flavor": {"name": "f.test", "ram": 128, "vcpus": 1, "disk": 1, "id": "ft",
                       "os-flavor-access:is_public": False}}
    assert cloud.post("/v2.1/flavors", body).status_int == 403
    resp = cloud.post("/v2.1/flavors", body, token=ADMIN)
    assert resp.status_int == 200 and resp.json["flavor"]["os-flavor-access:is_public"] is False
    assert cloud.post("/v2.1/flavors", body, token=ADMIN).status_int == 409
    assert cloud.get("/v2.1/flavors/ft").status_int == 404
    cloud.post("/v2.1/flavors/ft/action", {"addTenantAccess": {"tenant": "p1"}}, token=ADMIN)
    assert cloud.get("/v2.1/flavors/ft").status_int == 200
    cloud.post("/v2.1/flavors/ft/os-extra_specs", {"extra_specs": {"hw:cpu": "2"}}, token=ADMIN)
    assert cloud.get("/v2.1/flavors/ft/os-extra_specs").json["extra_specs"] == {"hw:cpu": "2"}
    assert cloud.delete("/v2.1/flavors/ft", token=ADMIN).status_int == 202
    names = [f["name"] for f in cloud.get("/v2.1/flavors").json["flavors"]]
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge", "c1.nano"} <= set(names)


def test_keypairs(cloud):
    resp = cloud.post("/v2.1/os-keypairs", {"keypair": {"name": "k1"}})
    assert resp.status_int == 201
    kp = resp.json["keypair"]
    assert kp["private_key"].startswith("-----BEGIN RSA PRIVATE KEY") and kp["public_key"].startswith("ssh-rsa ")
    imported = cloud.post("/v2.1/os-keypairs", {"keypair": {"name": "k2", "public_key": kp["public_key"]}})
    assert imported.json["keypair"]["fingerprint"] == kp["fingerprint"] and "private_key" not in imported.json["keypair"]
    assert cloud.post("/v2.1/os-keypairs", {"keypair": {"name": "k1"}}).status_int == 409
    assert cloud.post("/v2.1/os-keypairs", {"keypair": {"name": "k3", "public_key": "garbage"}}).status_int == 400
    names = [k["keypair"]["name"] for k in cloud.get("/v2.1/os-keypairs").json["keypairs"]]
    assert names == ["k1", "k2"]
    assert cloud.get("/v2.1/os-keypairs", token=OTHER).json["keypairs"] == []
    sid = _boot(cloud, key_name="k1")["id"]
    assert cloud.wait_status(sid, "ACTIVE")["key_name"] == "k1"
    assert cloud.delete("/v2.1/os-keypairs/k2").status_int == 204
    assert cloud.get("/v2.1/os-keypairs/k2").status_int == 404
    resp = cloud.post("/v2.1/servers", {"server": {"name": "x", "imageRef": "i", "flavorRef": "42",
                                                    "networks": "none", "key_name": "missing"}})
    assert resp.status_int in (400, 404)


def test_server_group_anti_affinity(cloud):
    resp = cloud.post("/v2.1/os-server-groups", {"server_group": {"name": "g", "policy": "anti-affinity"}})
    assert resp.status_int == 200
    gid = resp.json["server_group"]["id"]
    old = cloud.get(f"/v2.1/os-server-groups/{gid}", version="2.1").json["server_group"]
    assert old["policies"] == ["anti-affinity"]
    ids = []
    for i in range(3):
        body = {"server": {"name": f"g{i}", "imageRef": "i", "flavorRef": "42", "networks": "none"},
                "os:scheduler_hints": {"group": gid}}
        ids.append(cloud.post("/v2.1/servers", body).json["server"]["id"])
    hosts = {cloud.wait_status(s, "ACTIVE", token=ADMIN)["OS-EXT-SRV-ATTR:host"] for s in ids}
    assert len(hosts) == 3
    body = {"server": {"name": "g4", "imageRef": "i", "flavorRef": "42", "networks": "none"},
            "os:scheduler_hints": {"group": gid}}
    fourth = cloud.post("/v2.1/servers", body).json["server"]["id"]
    server = cloud.wait_status(fourth, "ERROR")
    assert "No valid host" in server["fault"]["message"]
    assert sorted(cloud.get(f"/v2.1/os-server-groups/{gid}").json["server_group"]["members"]) == sorted(ids + [fourth])


def test_quota_enforced_and_named(cloud):
    resp = cloud.put("/v2.1/os-quota-sets/p1", {"quota_set": {"instances": 2}}, token=ADMIN)
    assert resp.status_int == 200 and resp.json["quota_set"]["instances"] == 2
    assert cloud.put("/v2.1/os-quota-sets/p1", {"quota_set": {"instances": 5}}).status_int == 403
    _boot(cloud, name="a")
    _boot(cloud, name="b")
    resp = cloud.post("/v2.1/servers", {"server": {"name": "c", "imageRef": "i", "flavorRef": "42",
                                                    "networks": "none"}})
    assert resp.status_int == 403 and "instances" in resp.json["forbidden"]["message"]
    limits = cloud.get("/v2.1/limits").json["limits"]["absolute"]
    assert limits["maxTotalInstances"] == 2 and limits["totalInstancesUsed"] == 2
    detail = cloud.get("/v2.1/os-quota-sets/p1/detail").json["quota_set"]
    assert detail["instances"] == {"limit": 2, "in_use": 2, "reserved": 0}


def test_hosts_services_zones(cloud):
    hvs = cloud.get("/v2.1/os-hypervisors/detail", token=ADMIN).json["hypervisors"]
    assert sorted(h["hypervisor_hostname"] for h in hvs) == ["fake-1", "fake-2", "fake-3"]
    assert cloud.get("/v2.1/os-hypervisors", token="u1:p1").status_int == 403
    services = cloud.get("/v2.1/os-services", token=ADMIN).json["services"]
    compute = [s for s in services if s["binary"] == "nova-compute"]  # Nova's names for the area's binaries
    assert len(compute) == 3 and all(s["state"] == "up" for s in compute)
    assert not [s for s in services if s["binary"].startswith("cumulo-")]
    for name in ("nova-compute", "cumulo-compute"):  # either name selects them
        listed = cloud.get(f"/v2.1/os-services?binary={name}&host=fake-1", token=ADMIN).json["services"]
        assert [(s["host"], s["binary"]) for s in listed] == [("fake-1", "nova-compute")]
    legacy = cloud.put("/v2.1/os-services/disable", {"host": "fake-3", "binary": "nova-compute"}, token=ADMIN,
                       version="2.1")
    assert legacy.json["service"] == {"host": "fake-3", "binary": "nova-compute", "status": "disabled"}
    cloud.put("/v2.1/os-services/enable", {"host": "fake-3", "binary": "nova-compute"}, token=ADMIN, version="2.1")
    resp = cloud.put(f"/v2.1/os-services/{compute[0]['id']}",
                     {"status": "disabled", "disabled_reason": "maint"}, token=ADMIN)
    assert resp.json["service"]["status"] == "disabled"
    zones = cloud.get("/v2.1/os-availability-zone").json["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]
    agg = cloud.post("/v2.1/os-aggregates", {"aggregate": {"name": "a1", "availability_zone": "az1"}},
                     token=ADMIN).json["aggregate"]
    cloud.post(f"/v2.1/os-aggregates/{agg['id']}/action", {"add_host": {"host": "fake-2"}}, token=ADMIN)
    zones = {z["zoneName"] for z in cloud.get("/v2.1/os-availability-zone").json["availabilityZoneInfo"]}
    assert zones == {"nova", "az1"}
    sid = _boot(cloud, availability_zone="az1")["id"]
    assert cloud.wait_status(sid, "ACTIVE", token=ADMIN)["OS-EXT-SRV-ATTR:host"] == "fake-2"


def _signed(instance_id, secret=SECRET):
    import hashlib
    import hmac

    return {"X-Instance-ID": instance_id,
            "X-Instance-ID-Signature": hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()}


def test_metadata_service(cloud, cumulo_db):
    import base64

    cumulo_db.set("proxy_shared_secret", SECRET, group="metadata")
    cloud.post("/v2.1/os-keypairs", {"keypair": {"name": "k"}})
    sid = _boot(cloud, key_name="k", user_data=base64.b64encode(b"#!/bin/sh\necho hi\n").decode(),
                metadata={"role": "web"})["id"]
    cloud.wait_status(sid, "ACTIVE")
    hdr = _signed(sid)  # what a metadata proxy sends
    md = cloud.get("/metadata/openstack/latest/meta_data.json", token=None, headers=hdr)
    assert md.status_int == 200 and md.json["uuid"] == sid and md.json["meta"] == {"role": "web"}
    assert md.json["public_keys"]["k"].startswith("ssh-rsa")
    ud = cloud.get("/metadata/openstack/latest/user_data", token=None, headers=hdr)
    assert ud.body == b"#!/bin/sh\necho hi\n"
    assert cloud.get("/metadata/latest/meta-data/instance-id", token=None, headers=hdr).text == sid
    assert "openssh-key" in cloud.get("/metadata/latest/meta-data/public-keys/0/", token=None, headers=hdr).text
    assert cloud.get("/metadata/latest/user-data", token=None, headers=hdr).body.startswith(b"#!")
    assert cloud.get("/metadata/openstack/latest/meta_data.json", token=None).status_int == 404


def test_metadata_refuses_unsigned_or_badly_signed_instance_ids(cloud, cumulo_db):
    cumulo_db.set("proxy_shared_secret", SECRET, group="metadata")
    sid = _boot(cloud, metadata={"secret": "yes"})["id"]
    cloud.wait_status(sid, "ACTIVE")
    path = "/metadata/openstack/latest/meta_data.json"
    for headers in ({"X-Instance-ID": sid},  # anyone could write that
                    {"X-Instance-ID": sid, "X-Instance-ID-Signature": "0" * 64},
                    _signed(sid, secret="not-the-secret"),
                    {"X-Instance-ID": sid, "X-Instance-ID-Signature": _signed(sid)["X-Instance-ID-Signature"][:-1]},
                    {"X-Instance-ID-Signature": _signed(sid)["X-Instance-ID-Signature"]},
                    {**_signed(sid), "X-Instance-ID": sid.upper()}):
        for p in (path, "/metadata/latest/meta-data/instance-id", "/metadata/openstack/latest/user_data"):
            resp = cloud.get(p, token=None, headers=headers)
            assert resp.status_int == 403, (headers, p, resp.text)
            assert sid not in resp.text and "secret" not in resp.text.replace("signature", "")
    assert cloud.get(path, token=None, headers=_signed(sid)).json["meta"] == {"secret": "yes"}
    # From an address no port owns (loopback, here no network service at all), with no header: 404.
    assert cloud.get(path, token=None).status_int == 404
    # The version lists name no instance: they need no identification.
    assert cloud.get("/metadata/openstack", token=None).status_int == 200


def test_metadata_without_a_secret_trusts_no_proxy(cloud):
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    resp = cloud.get("/metadata/openstack/latest/meta_data.json", token=None, headers=_signed(sid, secret="guess"))
    assert resp.status_int == 403


def test_metadata_tenant_header_must_match(cloud, cumulo_db):
    cumulo_db.set("proxy_shared_secret", SECRET, group="metadata")
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    path = "/metadata/openstack/latest/meta_data.json"
    assert cloud.get(path, token=None, headers={**_signed(sid), "X-Tenant-ID": "p1"}).json["uuid"] == sid
    assert cloud.get(path, token=None, headers={**_signed(sid), "X-Tenant-ID": "p2"}).status_int == 404
    unknown = "00000000-0000-4000-8000-000000000000"
    assert cloud.get(path, token=None, headers=_signed(unknown)).status_int == 404


class _Compute:
    """Answers for one address only, and records how it was asked."""

    def __init__(self, address):
        self.address, self.calls = address, []

    def instance_for_metadata(self, instance_uuid=None, remote_address=None, network_id=None):
        from cumulo import exception

        self.calls.append((instance_uuid, remote_address))
        if instance_uuid == "vm-a" or (instance_uuid is None and remote_address == self.address):
            return {"uuid": "vm-a", "display_name": "a", "project_id": "p1"}
        raise exception.NotFound("The metadata service cannot tell which instance is asking.")


def test_metadata_believes_x_forwarded_for_only_with_a_signature(cumulo_db):
    import types

    import webob
    from cumulo_api_compute import metadata

    cumulo_db.set("proxy_shared_secret", SECRET, group="metadata")
    compute = _Compute("10.0.0.5")
    app = metadata.build(types.SimpleNamespace(compute=compute))

    def get(remote, headers):
        req = webob.Request.blank("/latest/meta-data/instance-id", headers=headers)
        req.remote_addr = remote
        return req.get_response(app)

    # A client on the host claims to be forwarding for the instance's address: not believed.
    assert get("127.0.0.1", {"X-Forwarded-For": "10.0.0.5"}).status_int == 404
    assert compute.calls[-1] == (None, "127.0.0.1")
    # The instance itself, by its source address.
    assert get("10.0.0.5", {}).text == "vm-a"
    # A proxy: signed instance id (its X-Forwarded-For is only informational).
    assert get("127.0.0.1", {**_signed("vm-a"), "X-Forwarded-For": "10.0.0.5"}).text == "vm-a"
    assert compute.calls[-1] == ("vm-a", None)
    assert get("127.0.0.1", {"X-Instance-ID": "vm-a", "X-Forwarded-For": "10.0.0.5"}).status_int == 403


def test_forced_host_is_admin_only_and_names_no_host(cloud):
    body = {"server": {"name": "f", "imageRef": "img-1", "flavorRef": "42", "networks": "none",
                       "availability_zone": "nova:fake-2"}}
    for az in ("nova:fake-2", "nova:no-such-host", "nova::fake-2", ":fake-2"):
        body["server"]["availability_zone"] = az
        resp = cloud.post("/v2.1/servers", body)
        assert resp.status_int == 403, resp.text
        message = resp.json["forbidden"]["message"]
        assert "os_compute_api:servers:create:forced_host" in message and "fake" not in message
    resp = cloud.post("/v2.1/servers", {"server": {**body["server"], "availability_zone": "nova", "host": "fake-2"}},
                      version="2.74")
    assert resp.status_int == 403 and "fake" not in resp.json["forbidden"]["message"]
    assert cloud.get("/v2.1/servers").json["servers"] == []
    # An administrator may; an unknown host is a 400 naming only the host asked for.
    body["server"]["availability_zone"] = "nova:fake-2"
    resp = cloud.post("/v2.1/servers", body, token=ADMIN)
    assert resp.status_int == 202
    assert cloud.wait_status(resp.json["server"]["id"], "ACTIVE", token=ADMIN)["OS-EXT-SRV-ATTR:host"] == "fake-2"
    for az in ("nova:fake-9", "nova::fake-9", "nova:fake-1:fake-2"):
        body["server"]["availability_zone"] = az
        resp = cloud.post("/v2.1/servers", body, token=ADMIN)
        assert resp.status_int == 400, resp.text
        message = resp.json["badRequest"]["message"]
        assert "could not be found" in message and not any(h in message for h in ("fake-1 ", "fake-3"))
    resp = cloud.post("/v2.1/servers", {"server": {**body["server"], "availability_zone": "nova",
                                                   "host": "fake-9"}}, token=ADMIN, version="2.74")
    assert resp.status_int == 400 and "fake-9" in resp.json["badRequest"]["message"]


def test_usage_is_the_projects_own_or_an_admins(cloud):
    sid = _boot(cloud)["id"]
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.get("/v2.1/os-simple-tenant-usage").status_int == 403
    own = cloud.get("/v2.1/os-simple-tenant-usage/p1?start=2000-01-01").json["tenant_usage"]
    assert [u["instance_id"] for u in own["server_usages"]] == [sid] and own["tenant_id"] == "p1"
    assert cloud.get("/v2.1/os-simple-tenant-usage/p2", token=OTHER).json == {"tenant_usage": {}}
    assert cloud.get("/v2.1/os-simple-tenant-usage/p1", token=OTHER).status_int == 403
    every = cloud.get("/v2.1/os-simple-tenant-usage?start=2000-01-01", token=ADMIN).json["tenant_usages"]
    assert [u["tenant_id"] for u in every] == ["p1"] and "server_usages" not in every[0]


def test_deleted_filter_is_an_admins(cloud):
    live, gone = _boot(cloud, name="live")["id"], _boot(cloud, name="gone")["id"]
    cloud.wait_status(gone, "ACTIVE")
    assert cloud.delete(f"/v2.1/servers/{gone}").status_int == 204
    cloud.wait_status(gone, "DELETED")
    listed = cloud.get("/v2.1/servers?deleted=true&all_tenants=1", token=ADMIN).json["servers"]
    assert [s["id"] for s in listed] == [gone]  # only the deleted ones, as Nova
    assert [s["id"] for s in cloud.get("/v2.1/servers?deleted=true").json["servers"]] == [live]  # ignored


def test_access_ips_are_checked_and_canonical(cloud):
    bad = cloud.post("/v2.1/servers", {"server": {"name": "x", "imageRef": "img-1", "flavorRef": "42",
                                                  "networks": "none", "accessIPv6": "10.0.0.1"}})
    assert bad.status_int == 400 and "accessIPv6" in bad.json["badRequest"]["message"]
    sid = _boot(cloud, accessIPv6="2001:DB8::0:1")["id"]
    assert cloud.get(f"/v2.1/servers/{sid}").json["server"]["accessIPv6"] == "2001:db8::1"
    updated = cloud.put(f"/v2.1/servers/{sid}", {"server": {"accessIPv4": "", "accessIPv6": ""}}).json["server"]
    assert updated["accessIPv4"] == "" and updated["accessIPv6"] == ""
