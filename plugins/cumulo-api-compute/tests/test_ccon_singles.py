"""Compute API details Tempest still tripped on (issue 12, the second pass), each as Nova answers it."""

from __future__ import annotations

ADMIN = "admin:padmin:admin,member,reader"
OTHER = "u2:p2"


def _boot(cloud) -> str:
    resp = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": "img-1", "flavorRef": "1",
                                                   "networks": "none"}})
    assert resp.status_int == 202, resp.text
    sid: str = resp.json["server"]["id"]
    cloud.wait_status(sid, "ACTIVE")
    return sid


def test_server_password_show_and_clear(cloud):
    sid = _boot(cloud)
    path = f"/v2.1/servers/{sid}/os-server-password"
    assert cloud.get(path).json == {"password": ""}
    resp = cloud.delete(path)
    assert resp.status_int == 204 and not resp.body
    assert cloud.get(path).json == {"password": ""}
    assert cloud.delete(path, token=OTHER).status_int == 404  # another project's server
    assert cloud.delete("/v2.1/servers/00000000-0000-4000-8000-000000000000/os-server-password").status_int == 404


def test_is_public_filter_reads_novas_boolean_strings(cloud):
    private = {"flavor": {"name": "f.private", "ram": 64, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": False}}
    assert cloud.post("/v2.1/flavors", private, token=ADMIN).status_int == 200
    for word in ("f", "false", "no", "0", "N", "off"):
        names = [f["name"] for f in cloud.get(f"/v2.1/flavors/detail?is_public={word}", token=ADMIN).json["flavors"]]
        assert "f.private" in names and "m1.tiny" not in names, (word, names)
    for word in ("t", "true", "yes", "1", "Y", "on"):
        names = [f["name"] for f in cloud.get(f"/v2.1/flavors/detail?is_public={word}", token=ADMIN).json["flavors"]]
        assert "f.private" not in names and names, (word, names)
    every = [f["name"] for f in cloud.get("/v2.1/flavors?is_public=none", token=ADMIN).json["flavors"]]
    assert "f.private" in every and len(every) > 1
    resp = cloud.get("/v2.1/flavors?is_public=maybe", token=ADMIN)
    assert resp.status_int == 400 and "is_public" in resp.text


def test_extra_spec_delete_is_200(cloud):
    flavor = {"flavor": {"name": "f.specs", "ram": 64, "vcpus": 1, "disk": 1}}
    fid = cloud.post("/v2.1/flavors", flavor, token=ADMIN).json["flavor"]["id"]
    path = f"/v2.1/flavors/{fid}/os-extra_specs"
    assert cloud.post(path, {"extra_specs": {"k1": "v1", "k2": "v2"}}, token=ADMIN).status_int == 200
    resp = cloud.delete(f"{path}/k1", token=ADMIN)
    assert resp.status_int == 200 and not resp.body
    assert cloud.get(path, token=ADMIN).json["extra_specs"] == {"k2": "v2"}
    assert cloud.delete(f"{path}/k1", token=ADMIN).status_int == 404


def test_server_external_events(cloud):
    sid = _boot(cloud)
    missing = "00000000-0000-4000-8000-000000000000"
    path = "/v2.1/os-server-external-events"
    one = {"events": [{"name": "network-vif-plugged", "server_uuid": sid, "tag": "port-1"}]}
    assert cloud.post(path, one).status_int == 403  # a member is neither a service nor an administrator
    resp = cloud.post(path, one, token=ADMIN)
    assert resp.status_int == 200, resp.text
    assert resp.json == {"events": [{"name": "network-vif-plugged", "server_uuid": sid, "tag": "port-1",
                                     "status": "completed", "code": 200}]}
    assert cloud.post(path, {"events": [{"name": "network-changed", "server_uuid": sid}]},
                      token="svc:pservice:service").status_int == 200
    mixed = {"events": [{"name": "network-changed", "server_uuid": sid},
                        {"name": "network-vif-deleted", "server_uuid": missing, "status": "completed"}]}
    resp = cloud.post(path, mixed, token=ADMIN)
    assert resp.status_int == 207, resp.text
    assert [(e["code"], e["status"]) for e in resp.json["events"]] == [(200, "completed"), (404, "failed")]
    none = {"events": [{"name": "network-changed", "server_uuid": missing}]}
    assert cloud.post(path, none, token=ADMIN).status_int == 404
    for bad in ({"events": []}, {"events": [{"name": "bogus", "server_uuid": sid}]},
                {"events": [{"name": "network-changed", "server_uuid": sid, "extra": 1}]},
                {"events": [{"name": "power-update", "server_uuid": sid}]}):  # power-update needs 2.76
        assert cloud.post(path, bad, token=ADMIN, version="2.75").status_int == 400, bad


def _disk_config(cloud, sid: str) -> str:
    value: str = cloud.get(f"/v2.1/servers/{sid}").json["server"]["OS-DCF:diskConfig"]
    return value


def test_disk_config_kept_through_create_update_rebuild_and_resize(cloud):
    resp = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": "img-1", "flavorRef": "1",
                                                   "networks": "none", "OS-DCF:diskConfig": "AUTO"}})
    assert resp.status_int == 202 and resp.json["server"]["OS-DCF:diskConfig"] == "AUTO"
    sid = resp.json["server"]["id"]
    cloud.wait_status(sid, "ACTIVE")
    assert _disk_config(cloud, sid) == "AUTO"
    resp = cloud.put(f"/v2.1/servers/{sid}", {"server": {"OS-DCF:diskConfig": "MANUAL"}})
    assert resp.status_int == 200 and resp.json["server"]["OS-DCF:diskConfig"] == "MANUAL"
    assert _disk_config(cloud, sid) == "MANUAL"
    action = f"/v2.1/servers/{sid}/action"
    resp = cloud.post(action, {"rebuild": {"imageRef": "img-1", "OS-DCF:diskConfig": "AUTO"}})
    assert resp.status_int == 202 and resp.json["server"]["OS-DCF:diskConfig"] == "AUTO"
    cloud.wait_status(sid, "ACTIVE")
    assert _disk_config(cloud, sid) == "AUTO"
    assert cloud.post(action, {"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "MANUAL"}}).status_int == 202
    cloud.wait_status(sid, "VERIFY_RESIZE")
    assert _disk_config(cloud, sid) == "MANUAL"
    assert cloud.post(action, {"confirmResize": None}).status_int == 204
    cloud.wait_status(sid, "ACTIVE")
    assert _disk_config(cloud, sid) == "MANUAL"
    # a rebuild without it keeps it; a bad value is 400 and changes nothing
    assert cloud.post(action, {"rebuild": {"imageRef": "img-1"}}).status_int == 202
    cloud.wait_status(sid, "ACTIVE")
    assert _disk_config(cloud, sid) == "MANUAL"
    for body in ({"rebuild": {"imageRef": "img-1", "OS-DCF:diskConfig": "auto"}},
                 {"resize": {"flavorRef": "3", "OS-DCF:diskConfig": "SOMETIMES"}}):
        assert cloud.post(action, body).status_int == 400
    assert cloud.put(f"/v2.1/servers/{sid}", {"server": {"OS-DCF:diskConfig": ""}}).status_int == 400
    assert _disk_config(cloud, sid) == "MANUAL"
    # a server never told is MANUAL
    assert _disk_config(cloud, _boot(cloud)) == "MANUAL"


def test_progress_only_in_novas_progress_statuses(cloud):
    sid = _boot(cloud)
    assert cloud.get(f"/v2.1/servers/{sid}").json["server"]["progress"] in (0, 100)
    assert cloud.post(f"/v2.1/servers/{sid}/action", {"os-stop": None}).status_int == 202
    cloud.wait_status(sid, "SHUTOFF")
    assert "progress" not in cloud.get(f"/v2.1/servers/{sid}").json["server"]
    resp = cloud.put(f"/v2.1/servers/{sid}", {"server": {"name": "renamed"}})
    assert resp.status_int == 200 and "progress" not in resp.json["server"]
    listed = cloud.get("/v2.1/servers/detail").json["servers"]
    assert [("progress" in s) for s in listed] == [False]


def test_no_security_groups_key_for_a_server_in_none(cloud):
    from cumulo_api_compute import views

    from cumulo.wsgi.microversion import APIVersion

    sid = _boot(cloud)
    server = cloud.get(f"/v2.1/servers/{sid}").json["server"]
    inst = {"uuid": sid, "display_name": "vm", "status": "ACTIVE", "project_id": "p1", "user_id": "u1",
            "image_ref": "", "flavor": {}, "created_at": None, "vm_state": "active"}
    for groups, want in (([], None), (["default", "web"], [{"name": "default"}, {"name": "web"}])):
        shown = views.server_detail("http://x/v2.1", {**inst, "security_groups": groups},  # type: ignore[typeddict-item]
                                    APIVersion.parse("2.1"), False)
        assert shown.get("security_groups") == want and (("security_groups" in shown) == bool(groups))
    assert ("security_groups" in server) == bool(server.get("security_groups"))
