"""What Tempest's Block Storage schemas and tests check, through the whole app: each answer's exact keys,
the status codes of the less common calls, and the resources added for conformance."""

from __future__ import annotations

V = {"OpenStack-API-Version": "volume 3.60"}


def _create(api, **fields):
    resp = api.post(api.p("/volumes"), {"volume": {"size": 1, **fields}}, headers=V)
    assert resp.status_int == 202, resp.text
    return resp.json["volume"]


def test_volume_type_answers_have_each_calls_keys(admin_api):
    made = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "t1"}}).json["volume_type"]
    assert "qos_specs_id" not in made and made["os-volume-type-access:is_public"] is True
    shown = admin_api.get(admin_api.p(f"/types/{made['id']}")).json["volume_type"]
    assert shown["qos_specs_id"] is None and shown["os-volume-type-access:is_public"] is True
    updated = admin_api.put(admin_api.p(f"/types/{made['id']}"), {"volume_type": {"description": "d"}})
    assert updated.status_int == 200, updated.text
    body = updated.json["volume_type"]
    assert body["description"] == "d" and "qos_specs_id" not in body and "os-volume-type-access:is_public" not in body


def test_snapshot_extended_attributes_on_show_and_detail_only(admin_api):
    vol = _create(admin_api)
    made = admin_api.post(admin_api.p("/snapshots"), {"snapshot": {"volume_id": vol["id"]}}, headers=V)
    assert made.status_int == 202, made.text
    snap = made.json["snapshot"]
    assert not [k for k in snap if k.startswith("os-extended-snapshot-attributes")]
    shown = admin_api.get(admin_api.p(f"/snapshots/{snap['id']}"), headers=V).json["snapshot"]
    assert shown["os-extended-snapshot-attributes:project_id"] == "adminproject"
    listed = admin_api.get(admin_api.p("/snapshots"), headers=V).json["snapshots"]
    assert listed and not [k for k in listed[0] if k.startswith("os-extended-snapshot-attributes")]
    detailed = admin_api.get(admin_api.p("/snapshots/detail"), headers=V).json["snapshots"]
    assert "os-extended-snapshot-attributes:progress" in detailed[0]
    updated = admin_api.put(admin_api.p(f"/snapshots/{snap['id']}"), {"snapshot": {"name": "n"}}, headers=V)
    assert updated.json["snapshot"]["name"] == "n"
    assert not [k for k in updated.json["snapshot"] if k.startswith("os-extended-snapshot-attributes")]


def _act(client, vol_id, body, headers=None):
    return client.post(client.p(f"/volumes/{vol_id}/action"), body, headers=headers or {})


def _show(client, vol_id):
    return client.get(client.p(f"/volumes/{vol_id}"), headers=V).json["volume"]


def test_legacy_attach_actions(api, admin_api):
    vol = _create(api)
    assert _act(api, vol["id"], {"os-reserve": {}}).status_int == 202
    assert _show(api, vol["id"])["status"] == "attaching"
    assert _act(api, vol["id"], {"os-reserve": {}}).status_int == 400  # not available any more
    assert _act(api, vol["id"], {"os-unreserve": {}}).status_int == 202
    assert _show(api, vol["id"])["status"] == "available"
    server = "11111111-2222-3333-4444-555555555555"
    resp = _act(api, vol["id"], {"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}})
    assert resp.status_int == 202, resp.text
    shown = _show(api, vol["id"])
    assert shown["status"] == "in-use"
    att = shown["attachments"][0]
    assert att["id"] == vol["id"] and att["server_id"] == server and att["device"] == "/dev/vdb"
    assert api.delete(api.p(f"/volumes/{vol['id']}")).status_int == 400  # attached
    assert _act(api, vol["id"], {"os-begin_detaching": {}}).status_int == 202
    assert _show(api, vol["id"])["status"] == "detaching"
    assert _act(api, vol["id"], {"os-roll_detaching": {}}).status_int == 202
    assert _show(api, vol["id"])["status"] == "in-use"
    assert _act(api, vol["id"], {"os-detach": {"attachment_id": att["attachment_id"]}}).status_int == 202
    shown = _show(api, vol["id"])
    assert shown["status"] == "available" and shown["attachments"] == []
    # a member may not force-detach; an administrator may, whatever the status
    _act(api, vol["id"], {"os-attach": {"instance_uuid": server, "mountpoint": "/dev/vdb"}})
    att_id = _show(api, vol["id"])["attachments"][0]["attachment_id"]
    assert _act(api, vol["id"], {"os-force_detach": {"attachment_id": att_id}}).status_int == 403
    p1 = admin_api.p(f"/volumes/{vol['id']}/action").replace("adminproject", "p1")
    assert admin_api.post(p1, {"os-reset_status": {"status": "error"}}).status_int == 202
    assert admin_api.post(p1, {"os-force_detach": {"attachment_id": att_id, "connector": None}}).status_int == 202
    assert _show(api, vol["id"])["status"] == "available"
    missing = "00000000-0000-0000-0000-000000000000"
    for action in ("os-reserve", "os-unreserve", "os-attach", "os-detach"):
        assert _act(api, missing, {action: {"instance_uuid": server}}).status_int == 404


def test_force_delete_of_an_attaching_volume(api, admin_api):
    vol = _create(api)
    p1 = admin_api.p(f"/volumes/{vol['id']}/action").replace("adminproject", "p1")
    assert admin_api.post(p1, {"os-reset_status": {"status": "attaching"}}).status_int == 202
    assert api.delete(api.p(f"/volumes/{vol['id']}")).status_int == 400
    assert admin_api.post(p1, {"os-force_delete": {}}).status_int == 202
    assert api.get(api.p(f"/volumes/{vol['id']}")).status_int == 404


def test_readonly_flag_shows_in_metadata(api):
    vol = _create(api, metadata={"a": "b"})
    for flag in (True, False):
        assert _act(api, vol["id"], {"os-update_readonly_flag": {"readonly": flag}}).status_int == 202
        assert _show(api, vol["id"])["metadata"] == {"a": "b", "readonly": str(flag)}


def test_image_metadata_actions(api):
    vol = _create(api)
    resp = _act(api, vol["id"], {"os-set_image_metadata": {"metadata": {"kernel_id": "k", "ramdisk_id": "r"}}})
    assert resp.status_int == 200 and resp.json["metadata"] == {"kernel_id": "k", "ramdisk_id": "r"}
    assert _show(api, vol["id"])["volume_image_metadata"] == {"kernel_id": "k", "ramdisk_id": "r"}
    assert _act(api, vol["id"], {"os-unset_image_metadata": {"key": "ramdisk_id"}}).status_int == 200
    assert _act(api, vol["id"], {"os-unset_image_metadata": {"key": "ramdisk_id"}}).status_int == 404
    shown = _act(api, vol["id"], {"os-show_image_metadata": {}})
    assert shown.status_int == 200 and shown.json == {"metadata": {"kernel_id": "k"}}
    assert _act(api, vol["id"], {"os-set_image_metadata": {"metadata": "x"}}).status_int == 400


def test_volume_transfer_create_show_list_accept(api, other):
    vol = _create(api)
    snap = api.post(api.p("/snapshots"), {"snapshot": {"volume_id": vol["id"]}}).json["snapshot"]
    made = api.post(api.p("/os-volume-transfer"), {"transfer": {"volume_id": vol["id"], "name": "t"}})
    assert made.status_int == 202, made.text
    transfer = made.json["transfer"]
    assert set(transfer) == {"id", "volume_id", "name", "links", "created_at", "auth_key"}
    assert _show(api, vol["id"])["status"] == "awaiting-transfer"
    shown = api.get(api.p(f"/os-volume-transfer/{transfer['id']}")).json["transfer"]
    assert "auth_key" not in shown and shown["volume_id"] == vol["id"]
    assert [t["id"] for t in api.get(api.p("/os-volume-transfer")).json["transfers"]] == [transfer["id"]]
    assert other.get(other.p("/os-volume-transfer")).json["transfers"] == []
    assert other.get(other.p(f"/os-volume-transfer/{transfer['id']}")).status_int == 404
    url = other.p(f"/os-volume-transfer/{transfer['id']}/accept")
    assert other.post(url, {"accept": {"auth_key": "wrong"}}).status_int == 400
    accepted = other.post(url, {"accept": {"auth_key": transfer["auth_key"]}})
    assert accepted.status_int == 202, accepted.text
    assert set(accepted.json["transfer"]) == {"id", "volume_id", "name", "links"}
    moved = other.get(other.p(f"/volumes/{vol['id']}"), headers=V).json["volume"]
    assert moved["status"] == "available" and moved["user_id"] == "u2"
    assert moved["os-vol-tenant-attr:tenant_id"] == "p2"
    assert api.get(api.p(f"/volumes/{vol['id']}")).status_int == 404
    assert other.get(other.p(f"/snapshots/{snap['id']}")).status_int == 200  # snapshots go with it
    usage = other.get(other.p("/os-quota-sets/p2?usage=true")).json["quota_set"]
    assert usage["volumes"]["in_use"] == 1 and usage["snapshots"]["in_use"] == 1


def test_volume_transfers_api_355_and_delete(api):
    vol = _create(api)
    assert api.get(api.p("/volume-transfers")).status_int == 404  # below 3.55
    h = {"OpenStack-API-Version": "volume 3.57"}
    made = api.post(api.p("/volume-transfers"), {"transfer": {"volume_id": vol["id"], "no_snapshots": True}},
                    headers=h)
    assert made.status_int == 202, made.text
    body = made.json["transfer"]
    assert body["no_snapshots"] is True and body["accepted"] is False and body["source_project_id"] == "p1"
    assert body["destination_project_id"] is None
    detail = api.get(api.p("/volume-transfers/detail"), headers=h).json["transfers"]
    assert [t["volume_id"] for t in detail] == [vol["id"]] and "no_snapshots" in detail[0]
    assert api.delete(api.p(f"/volume-transfers/{body['id']}"), headers=h).status_int == 202
    assert _show(api, vol["id"])["status"] == "available"
    assert api.get(api.p(f"/volume-transfers/{body['id']}"), headers=h).status_int == 404
    in_use = _create(api)
    _act(api, in_use["id"], {"os-reserve": {}})
    assert api.post(api.p("/os-volume-transfer"), {"transfer": {"volume_id": in_use["id"]}}).status_int == 400
    assert api.post(api.p("/os-volume-transfer"), {"transfer": {}}).status_int == 400


def test_services_actions_disable_stops_new_volumes(api, admin_api):
    services = admin_api.get(admin_api.p("/os-services")).json["services"]
    volume = next(s for s in services if s["binary"] == "cinder-volume")
    node = volume["host"].split("@")[0]
    on_node = admin_api.get(admin_api.p(f"/os-services?host={node}")).json["services"]
    assert sorted(s["binary"] for s in on_node) == ["cinder-scheduler", "cinder-volume"]
    assert api.put(api.p("/os-services/disable"), {"binary": "cinder-volume", "host": volume["host"]}).status_int \
        == 403
    bad = admin_api.put(admin_api.p("/os-services/disable"), {"binary": "nope", "host": volume["host"]})
    assert bad.status_int == 404
    no_reason = admin_api.put(admin_api.p("/os-services/disable-log-reason"),
                              {"binary": "cinder-volume", "host": volume["host"], "disabled_reason": None})
    assert no_reason.status_int == 400
    done = admin_api.put(admin_api.p("/os-services/disable-log-reason"),
                         {"binary": "cinder-volume", "host": volume["host"], "disabled_reason": "maintenance"})
    assert done.status_int == 200 and done.json["status"] == "disabled"
    assert done.json["disabled_reason"] == "maintenance"
    shown = admin_api.get(admin_api.p("/os-services?binary=cinder-volume")).json["services"][0]
    assert shown["status"] == "disabled" and shown["disabled_reason"] == "maintenance"
    assert _create(api)["status"] == "error"  # no valid backend, as Cinder's scheduler leaves it
    enabled = admin_api.put(admin_api.p("/os-services/enable"), {"binary": "cinder-volume", "host": volume["host"]})
    assert enabled.status_int == 200 and enabled.json["disabled"] is False
    assert _create(api)["status"] == "available"
    assert admin_api.put(admin_api.p("/os-services/freeze"), {"host": "invalid_host"}).status_int == 400
    assert admin_api.put(admin_api.p("/os-services/freeze"), {"host": volume["host"]}).status_int == 200
    assert admin_api.get(admin_api.p("/os-services?binary=cinder-volume")).json["services"][0]["frozen"] is True
    assert _create(api)["status"] == "error"
    assert admin_api.put(admin_api.p("/os-services/thaw"), {"host": volume["host"]}).status_int == 200
    assert admin_api.put(admin_api.p("/os-services/thaw"), {"host": "invalid_host"}).status_int == 400


def test_hosts_pools_capabilities_extensions(api, admin_api):
    _create(api)
    hosts = admin_api.get(admin_api.p("/os-hosts")).json["hosts"]
    assert {h["service"] for h in hosts} == {"cinder-scheduler", "cinder-volume"}
    volume_host = next(h["host_name"] for h in hosts if h["service"] == "cinder-volume")
    detail = admin_api.get(admin_api.p(f"/os-hosts/{volume_host}")).json["host"]
    assert detail[0]["resource"]["project"] == "(total)" and detail[0]["resource"]["volume_count"] == "1"
    assert {"resource": {"host": volume_host, "project": "p1", "volume_count": "1", "total_volume_gb": "1",
                         "snapshot_count": "0", "total_snapshot_gb": "0"}} in detail
    assert admin_api.get(admin_api.p("/os-hosts/nowhere")).status_int == 404
    assert api.get(api.p("/os-hosts")).status_int == 403
    pools = admin_api.get(admin_api.p("/scheduler-stats/get_pools")).json["pools"]
    assert pools == [{"name": pools[0]["name"]}] and pools[0]["name"].startswith(volume_host + "#")
    caps = admin_api.get(admin_api.p("/scheduler-stats/get_pools?detail=true")).json["pools"][0]["capabilities"]
    backend = admin_api.get(admin_api.p(f"/capabilities/{volume_host}")).json
    for key in ("vendor_name", "volume_backend_name", "storage_protocol", "driver_version"):
        assert caps[key] == backend[key]
    assert backend["namespace"].startswith("OS::Storage::Capabilities::")
    names = [e["name"] for e in api.get(api.p("/extensions")).json["extensions"]]
    assert "Hosts" in names and "VolumeTransfer" in names


def test_quota_classes_set_the_defaults(api, admin_api):
    shown = admin_api.get(admin_api.p("/os-quota-class-sets/default")).json["quota_class_set"]
    assert shown["id"] == "default" and shown["volumes"] == api.get(api.p("/os-quota-sets/p1/defaults")).json[
        "quota_set"]["volumes"]
    updated = admin_api.put(admin_api.p("/os-quota-class-sets/default"),
                            {"quota_class_set": {"volumes": shown["volumes"] + 1}})
    assert updated.status_int == 200 and updated.json["quota_class_set"]["volumes"] == shown["volumes"] + 1
    assert api.get(api.p("/os-quota-sets/p1")).json["quota_set"]["volumes"] == shown["volumes"] + 1
    assert admin_api.put(admin_api.p("/os-quota-class-sets/default"),
                         {"quota_class_set": {"volumes": "many"}}).status_int == 400
    assert api.get(api.p("/os-quota-class-sets/default")).status_int == 403
    assert admin_api.delete(admin_api.p("/os-quota-sets/p1")).status_int == 200


def test_small_conformance_details(api, admin_api):
    vol = _create(api, metadata={"k": "v"})
    assert api.delete(api.p(f"/volumes/{vol['id']}/metadata/k")).status_int == 200
    assert api.post(api.p("/snapshots"), {"snapshot": {"volume_id": None}}).status_int == 404
    assert api.get(api.p("/snapshots?marker=00000000-0000-0000-0000-000000000000")).status_int == 404
    snap = api.post(api.p("/snapshots"), {"snapshot": {"volume_id": vol["id"], "metadata": {"a": "b"}}}).json[
        "snapshot"]
    assert api.delete(api.p(f"/snapshots/{snap['id']}/metadata/a")).status_int == 200
    assert api.get(api.p("/snapshots?sort_key=display_name&sort_dir=asc")).status_int == 200
    url = admin_api.p(f"/snapshots/{snap['id']}/action").replace("adminproject", "p1")
    assert api.post(api.p(f"/snapshots/{snap['id']}/action"),
                    {"os-update_snapshot_status": {"status": "error"}}).status_int == 400  # available: no
    assert admin_api.post(url, {"os-reset_status": {"status": "creating"}}).status_int == 202
    assert api.post(api.p(f"/snapshots/{snap['id']}/action"),
                    {"os-update_snapshot_status": {"status": "error", "progress": "80%"}}).status_int == 202
    shown = api.get(api.p(f"/snapshots/{snap['id']}")).json["snapshot"]
    assert shown["status"] == "error" and shown["os-extended-snapshot-attributes:progress"] == "80%"


G = {"OpenStack-API-Version": "volume 3.20"}


def test_group_types_and_specs(api, admin_api):
    assert admin_api.get(admin_api.p("/group_types")).status_int == 404  # below 3.11
    made = admin_api.post(admin_api.p("/group_types"), {"group_type": {"name": "gt", "description": "d",
                                                                        "group_specs": {"k1": "v1"}}}, headers=G)
    assert made.status_int == 202, made.text
    gt = made.json["group_type"]
    assert gt["group_specs"] == {"k1": "v1"} and gt["is_public"] is True
    assert admin_api.post(admin_api.p("/group_types"), {"group_type": {"name": "gt"}}, headers=G).status_int == 409
    assert api.post(api.p("/group_types"), {"group_type": {"name": "x"}}, headers=G).status_int == 403
    private = admin_api.post(admin_api.p("/group_types"), {"group_type": {"name": "a-private", "is_public": False}},
                             headers=G).json["group_type"]
    names = [t["name"] for t in admin_api.get(admin_api.p("/group_types?is_public=None&sort=name:asc"),
                                              headers=G).json["group_types"]]
    assert names == ["a-private", "gt"]
    assert [t["name"] for t in admin_api.get(admin_api.p("/group_types?is_public=false"), headers=G).json[
        "group_types"]] == ["a-private"]
    assert [t["name"] for t in api.get(api.p("/group_types"), headers=G).json["group_types"]] == ["gt"]
    assert api.get(api.p(f"/group_types/{private['id']}"), headers=G).status_int == 404
    spec_url = admin_api.p(f"/group_types/{gt['id']}/group_specs")
    assert admin_api.post(spec_url, {"group_specs": {"k2": "v2"}}, headers=G).json == {"group_specs": {"k2": "v2"}}
    assert admin_api.put(spec_url + "/k2", {"k2": "v3"}, headers=G).json == {"k2": "v3"}
    assert admin_api.get(spec_url, headers=G).json["group_specs"] == {"k1": "v1", "k2": "v3"}
    assert admin_api.delete(spec_url + "/k1", headers=G).status_int == 202
    assert admin_api.get(spec_url + "/k1", headers=G).status_int == 404
    updated = admin_api.put(admin_api.p(f"/group_types/{gt['id']}"), {"group_type": {"name": "gt2"}}, headers=G)
    assert updated.status_int == 200 and updated.json["group_type"]["name"] == "gt2"
    assert admin_api.delete(admin_api.p(f"/group_types/{gt['id']}"), headers=G).status_int == 202
    assert admin_api.get(admin_api.p(f"/group_types/{gt['id']}"), headers=G).status_int == 404


def _group_setup(admin_api, api):
    vt = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "gvt"}}).json["volume_type"]
    gt = admin_api.post(admin_api.p("/group_types"), {"group_type": {"name": "ggt"}}, headers=G).json["group_type"]
    made = api.post(api.p("/groups"), {"group": {"name": "g1", "group_type": gt["id"], "volume_types": [vt["id"]]}},
                    headers=G)
    assert made.status_int == 202, made.text
    return vt, gt, made.json["group"]


def test_groups_lifecycle(api, admin_api):
    vt, gt, group = _group_setup(admin_api, api)
    shown = api.get(api.p(f"/groups/{group['id']}"), headers=G).json["group"]
    assert shown["status"] == "available" and shown["volume_types"] == [vt["id"]] and shown["group_type"] == gt["id"]
    other_type = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "other"}}).json["volume_type"]
    bad = api.post(api.p("/volumes"), {"volume": {"size": 1, "group_id": group["id"],
                                                  "volume_type": other_type["id"]}}, headers=G)
    assert bad.status_int == 400
    vols = [_create(api, volume_type=vt["id"], group_id=group["id"]) for _ in range(2)]
    assert all(v["group_id"] == group["id"] for v in vols)
    assert api.put(api.p(f"/groups/{group['id']}"), {"group": {"name": "g2", "remove_volumes": vols[1]["id"]}},
                   headers=G).status_int == 202
    assert _show(api, vols[1]["id"])["group_id"] is None
    assert api.put(api.p(f"/groups/{group['id']}"), {"group": {"add_volumes": vols[1]["id"]}},
                   headers=G).status_int == 202
    assert _show(api, vols[1]["id"])["group_id"] == group["id"]
    detail = api.get(api.p("/groups/detail"), headers=G).json["groups"]
    assert [g["name"] for g in detail] == ["g2"]
    # a group snapshot, a group from it and a group from the group
    gs = api.post(api.p("/group_snapshots"), {"group_snapshot": {"group_id": group["id"], "name": "gs"}}, headers=G)
    assert gs.status_int == 202, gs.text
    gs_id = gs.json["group_snapshot"]["id"]
    assert api.get(api.p(f"/group_snapshots/{gs_id}"), headers=G).json["group_snapshot"]["status"] == "available"
    snaps = api.get(api.p("/snapshots/detail"), headers=G).json["snapshots"]
    assert sorted(s["volume_id"] for s in snaps if s["group_snapshot_id"] == gs_id) == sorted(v["id"] for v in vols)
    from_snap = api.post(api.p("/groups/action"), {"create-from-src": {"group_snapshot_id": gs_id, "name": "g3"}},
                         headers=G)
    assert from_snap.status_int == 202, from_snap.text
    g3 = api.get(api.p(f"/groups/{from_snap.json['group']['id']}"), headers=G).json["group"]
    assert g3["status"] == "available" and g3["group_snapshot_id"] == gs_id
    members = [v for v in api.get(api.p("/volumes/detail"), headers=G).json["volumes"] if v["group_id"] == g3["id"]]
    assert len(members) == 2 and all(v["status"] == "available" and v["snapshot_id"] for v in members)
    assert api.post(api.p(f"/groups/{group['id']}/action"), {"delete": {"delete-volumes": True}},
                    headers=G).status_int == 400  # it has a group snapshot
    assert api.post(api.p(f"/groups/{g3['id']}/action"), {"delete": {"delete-volumes": False}},
                    headers=G).status_int == 400  # it has volumes
    assert api.post(api.p(f"/groups/{g3['id']}/action"), {"delete": {"delete-volumes": True}},
                    headers=G).status_int == 202
    assert api.get(api.p(f"/groups/{g3['id']}"), headers=G).status_int == 404
    reset = admin_api.p(f"/group_snapshots/{gs_id}/action").replace("adminproject", "p1")
    assert admin_api.post(reset, {"reset_status": {"status": "error"}}, headers=G).status_int == 202
    assert admin_api.post(reset, {"reset_status": {"status": "available"}}, headers=G).status_int == 202
    assert api.delete(api.p(f"/group_snapshots/{gs_id}"), headers=G).status_int == 202
    assert [s for s in api.get(api.p("/snapshots/detail"), headers=G).json["snapshots"]
            if s["group_snapshot_id"] == gs_id] == []
    clone = api.post(api.p("/groups/action"), {"create-from-src": {"source_group_id": group["id"]}}, headers=G)
    assert clone.status_int == 202, clone.text
    assert api.get(api.p(f"/groups/{clone.json['group']['id']}"), headers=G).json["group"]["status"] == "available"
    group_reset = admin_api.p(f"/groups/{group['id']}/action").replace("adminproject", "p1")
    assert api.post(api.p(f"/groups/{group['id']}/action"), {"reset_status": {"status": "error"}},
                    headers=G).status_int == 403
    assert admin_api.post(group_reset, {"reset_status": {"status": "error"}}, headers=G).status_int == 202
    assert api.get(api.p(f"/groups/{group['id']}"), headers=G).json["group"]["status"] == "error"


def test_retype_and_detach_of_a_detached_volume(api, admin_api):
    src = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "src"}}).json["volume_type"]
    dst = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "dst"}}).json["volume_type"]
    elsewhere = admin_api.post(admin_api.p("/types"), {"volume_type": {
        "name": "elsewhere", "extra_specs": {"volume_backend_name": "not-this-one"}}}).json["volume_type"]
    vol = _create(api, volume_type=src["id"])
    assert _act(api, vol["id"], {"os-retype": {"new_type": dst["name"], "migration_policy": "never"}}).status_int \
        == 202
    assert _show(api, vol["id"])["volume_type"] == "dst"
    assert _act(api, vol["id"], {"os-retype": {"new_type": elsewhere["id"]}}).status_int == 400
    assert _act(api, vol["id"], {"os-retype": {"new_type": "nope"}}).status_int == 404
    assert _act(api, vol["id"], {"os-retype": {}}).status_int == 400
    assert _show(api, vol["id"])["volume_type"] == "dst"
    assert _act(api, vol["id"], {"os-detach": {}}).status_int == 202  # nothing attached: accepted, no change
    assert _show(api, vol["id"])["status"] == "available"


def test_backup_update_and_restore_brings_the_volume_metadata_back(api):
    vol = _create(api, metadata={"m1": "v1"})
    bid = api.post(api.p("/backups"), {"backup": {"volume_id": vol["id"]}}, headers=V).json["backup"]["id"]
    assert api.put(api.p(f"/backups/{bid}"), {"backup": {"name": "n"}}).status_int == 404  # below 3.9
    updated = api.put(api.p(f"/backups/{bid}"), {"backup": {"name": "n", "description": "d"}}, headers=V)
    assert updated.status_int == 200 and updated.json["backup"]["name"] == "n"
    shown = api.get(api.p(f"/backups/{bid}"), headers=V).json["backup"]
    assert shown["name"] == "n" and shown["description"] == "d"
    assert api.put(api.p(f"/backups/{bid}"), {"backup": {"size": 3}}, headers=V).status_int == 400
    restored = api.post(api.p(f"/backups/{bid}/restore"), {"restore": {}}).json["restore"]
    assert _show(api, restored["volume_id"])["metadata"] == {"m1": "v1"}


def test_qos_specs(api, admin_api):
    made = admin_api.post(admin_api.p("/qos-specs"), {"qos_specs": {"name": "q", "consumer": "front-end",
                                                                    "read_iops_sec": "2000"}})
    assert made.status_int == 200, made.text
    qos = made.json["qos_specs"]
    assert qos["specs"] == {"read_iops_sec": "2000"} and made.json["links"]
    assert admin_api.get(admin_api.p("/qos-specs")).json["qos_specs"] == [qos]
    assert admin_api.post(admin_api.p("/qos-specs"), {"qos_specs": {"name": "q2", "consumer": "x"}}).status_int \
        == 400
    assert api.get(api.p("/qos-specs")).status_int == 403
    url = admin_api.p(f"/qos-specs/{qos['id']}")
    assert admin_api.put(url, {"qos_specs": {"iops_bytes": "500"}}).json == {"qos_specs": {"iops_bytes": "500"}}
    assert admin_api.put(url + "/delete_keys", {"keys": ["iops_bytes"]}).status_int == 202
    assert admin_api.get(url).json["qos_specs"]["specs"] == {"read_iops_sec": "2000"}
    vt = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "qt"}}).json["volume_type"]
    assert admin_api.get(url + f"/associate?vol_type_id={vt['id']}").status_int == 202
    assert admin_api.get(url + "/associations").json["qos_associations"] == [
        {"association_type": "volume_type", "id": vt["id"], "name": "qt"}]
    assert admin_api.get(admin_api.p(f"/types/{vt['id']}")).json["volume_type"]["qos_specs_id"] == qos["id"]
    assert admin_api.delete(url).status_int == 400  # still associated
    assert admin_api.get(url + f"/disassociate?vol_type_id={vt['id']}").status_int == 202
    assert admin_api.get(url + "/associations").json["qos_associations"] == []
    admin_api.get(url + f"/associate?vol_type_id={vt['id']}")
    assert admin_api.get(url + "/disassociate_all").status_int == 202
    assert admin_api.delete(url + "?force=True").status_int == 202
    assert admin_api.get(url).status_int == 404


def test_user_message_for_a_volume_no_backend_takes(api, admin_api, other):
    bogus = admin_api.post(admin_api.p("/types"), {"volume_type": {
        "name": "bogus", "extra_specs": {"storage_protocol": "carrier-pigeon"}}}).json["volume_type"]
    vol = _create(api, volume_type=bogus["id"])
    assert vol["status"] == "error"
    M = {"OpenStack-API-Version": "volume 3.3"}
    assert api.get(api.p("/messages")).status_int == 404  # below 3.3
    found = [m for m in api.get(api.p("/messages"), headers=M).json["messages"] if m["resource_uuid"] == vol["id"]]
    assert len(found) == 1 and found[0]["message_level"] == "ERROR" and found[0]["resource_type"] == "VOLUME"
    assert other.get(other.p("/messages"), headers=M).json["messages"] == []
    assert other.get(other.p(f"/messages/{found[0]['id']}"), headers=M).status_int == 404
    assert api.get(api.p(f"/messages/{found[0]['id']}"), headers=M).json["message"]["id"] == found[0]["id"]
    assert api.delete(api.p(f"/messages/{found[0]['id']}"), headers=M).status_int == 204
    assert api.get(api.p(f"/messages/{found[0]['id']}"), headers=M).status_int == 404


def test_unmanage_then_manage_the_same_data(api, admin_api):
    vol = _create(admin_api, name="orig")
    host = admin_api.get(admin_api.p(f"/volumes/{vol['id']}"), headers=V).json["volume"]["os-vol-host-attr:host"]
    M8 = {"OpenStack-API-Version": "volume 3.8"}
    listed = admin_api.get(admin_api.p("/manageable_volumes/detail"), headers=M8).json["manageable-volumes"]
    mine = next(m for m in listed if m["reference"] == {"source-name": f"volume-{vol['id']}"})
    assert mine["safe_to_manage"] is False and mine["cinder_id"] == vol["id"]
    ref = {"source-name": f"volume-{vol['id']}"}
    body = {"volume": {"host": host, "ref": ref, "name": "again"}}
    assert admin_api.post(admin_api.p("/os-volume-manage"), body).status_int == 400  # still managed
    assert _act(api, vol["id"], {"os-unmanage": {}}).status_int == 404  # another project's, and admins only
    assert _act(admin_api, vol["id"], {"os-unmanage": {}}).status_int == 202
    assert admin_api.get(admin_api.p(f"/volumes/{vol['id']}")).status_int == 404
    listed = admin_api.get(admin_api.p("/manageable_volumes"), headers=M8).json["manageable-volumes"]
    assert {"reference": ref, "size": 1, "safe_to_manage": True} in listed
    assert admin_api.post(admin_api.p("/os-volume-manage"), {"volume": {"host": host, "ref": {
        "source-name": "volume-nothing-here"}}}).status_int == 400
    assert admin_api.post(admin_api.p("/os-volume-manage"), {"volume": {"host": "elsewhere@x", "ref": ref}}
                          ).status_int == 400
    assert api.post(api.p("/os-volume-manage"), body).status_int == 403
    assert admin_api.post(admin_api.p("/manageable_volumes"), body).status_int == 404  # below 3.8
    made = admin_api.post(admin_api.p("/manageable_volumes"), body, headers=M8)
    assert made.status_int == 202, made.text
    again = made.json["volume"]
    assert again["id"] != vol["id"] and again["status"] == "available" and again["size"] == 1
    assert again["os-vol-host-attr:host"] == host
    assert admin_api.delete(admin_api.p(f"/volumes/{again['id']}")).status_int == 202
