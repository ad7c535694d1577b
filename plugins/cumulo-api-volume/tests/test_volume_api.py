"""The Block Storage API v3 through the whole app: versions, microversions, volumes, snapshots, types,
quotas, limits, zones, services, and a 4xx JSON fault for every bad input."""

from __future__ import annotations

import re

import pytest

from cumulo.context import RequestContext
from cumulo.interfaces.volume import Connector

V = {"OpenStack-API-Version": "volume 3.60"}


def _create(api, **fields):
    resp = api.post(api.p("/volumes"), {"volume": {"size": 1, **fields}}, headers=V)
    assert resp.status_int == 202, resp.text
    return resp.json["volume"]


def _fault(resp, status, name):
    assert resp.status_int == status, resp.text
    assert resp.json[name]["code"] == status and resp.json[name]["message"]
    return resp.json[name]["message"]


def test_version_documents_need_no_token(api):
    root = api.get("/", token=None)
    assert root.status_int == 300
    v3 = api.get("/v3/", token=None)
    assert v3.status_int == 200
    doc = v3.json["versions"][0]
    assert doc["id"] == "v3.0" and doc["min_version"] == "3.0" and doc["version"] == "3.60"
    assert doc["links"][1]["href"] == "http://localhost/volume/v3/"
    assert api.get(api.p("/volumes"), token=None).status_int == 401


def test_microversions_are_negotiated(api):
    resp = api.get(api.p("/volumes"), headers={"OpenStack-API-Version": "volume 3.45"})
    assert resp.headers["OpenStack-API-Version"] == "volume 3.45"
    assert api.get(api.p("/volumes")).headers["OpenStack-API-Version"] == "volume 3.0"
    latest = api.get(api.p("/volumes"), headers={"OpenStack-API-Version": "volume latest"})
    assert latest.headers["OpenStack-API-Version"] == "volume 3.60"
    _fault(api.get(api.p("/volumes"), headers={"OpenStack-API-Version": "volume 3.61"}), 406, "notAcceptable")
    _fault(api.get(api.p("/volumes"), headers={"OpenStack-API-Version": "volume 2.0"}), 406, "notAcceptable")
    _fault(api.get(api.p("/volumes"), headers={"OpenStack-API-Version": "volume three"}), 400, "badRequest")


def test_volume_lifecycle(api):
    vol = _create(api, name="v1", metadata={"a": "b"})
    assert vol["status"] == "available" and vol["bootable"] == "false" and vol["size"] == 1
    assert not [k for k in vol if k.startswith("os-vol-")]  # a create answer carries the base view only
    assert vol["shared_targets"] is False and vol["group_id"] is None  # 3.48, 3.13
    shown = api.get(api.p(f"/volumes/{vol['id']}"), headers=V).json["volume"]
    assert shown["name"] == "v1" and shown["metadata"] == {"a": "b"}
    assert shown["os-vol-tenant-attr:tenant_id"] == "p1" and "os-vol-host-attr:host" not in shown
    assert "shared_targets" not in api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]  # 3.0
    updated = api.put(api.p(f"/volumes/{vol['id']}"), {"volume": {"name": "v2", "description": "d"}})
    assert updated.status_int == 200 and updated.json["volume"]["name"] == "v2"
    assert not [k for k in updated.json["volume"] if k.startswith("os-vol-")]
    listed = api.get(api.p("/volumes")).json["volumes"]
    assert listed == [{"id": vol["id"], "name": "v2", "links": listed[0]["links"]}]
    assert api.post(api.p(f"/volumes/{vol['id']}/action"), {"os-extend": {"new_size": 2}}).status_int == 202
    assert api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]["size"] == 2
    assert api.post(api.p(f"/volumes/{vol['id']}/action"), {"os-set_bootable": {"bootable": True}}).status_int == 200
    assert api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]["bootable"] == "true"
    assert api.post(api.p(f"/volumes/{vol['id']}/action"),
                    {"os-update_readonly_flag": {"readonly": True}}).status_int == 202
    assert api.post(api.p(f"/volumes/{vol['id']}/metadata"), {"metadata": {"c": "d"}}).json["metadata"] == {
        "a": "b", "c": "d"}
    assert api.put(api.p(f"/volumes/{vol['id']}/metadata/c"), {"meta": {"c": "e"}}).json == {"meta": {"c": "e"}}
    assert api.get(api.p(f"/volumes/{vol['id']}/metadata/c")).json == {"meta": {"c": "e"}}
    assert api.delete(api.p(f"/volumes/{vol['id']}/metadata/c")).status_int == 200
    _fault(api.get(api.p(f"/volumes/{vol['id']}/metadata/c")), 404, "itemNotFound")
    assert api.put(api.p(f"/volumes/{vol['id']}/metadata"), {"metadata": {"x": "y"}}).json["metadata"] == {"x": "y"}
    assert api.delete(api.p(f"/volumes/{vol['id']}")).status_int == 202
    _fault(api.get(api.p(f"/volumes/{vol['id']}")), 404, "itemNotFound")


def test_paging_and_count(api):
    ids = [_create(api, name=f"n{i}")["id"] for i in range(3)]
    page = api.get(api.p("/volumes/detail?limit=2&sort=name:asc"), headers=V).json
    assert [v["id"] for v in page["volumes"]] == ids[:2]
    assert "marker=" in page["volumes_links"][0]["href"]
    rest = api.get(api.p(f"/volumes/detail?limit=2&sort=name:asc&marker={ids[1]}"), headers=V).json
    assert [v["id"] for v in rest["volumes"]] == ids[2:] and "volumes_links" not in rest
    counted = api.get(api.p("/volumes?with_count=true&limit=1"), headers=V).json
    assert counted["count"] == 3 and len(counted["volumes"]) == 1
    assert [v["name"] for v in api.get(api.p("/volumes/detail?name~=n1"), headers=V).json["volumes"]] == ["n1"]
    later = api.get(api.p("/volumes/detail?created_at=gt:2999-01-01T00:00:00Z"), headers=V).json
    assert later["volumes"] == []
    summary = api.get(api.p("/volumes/summary"), headers=V).json["volume-summary"]
    assert summary == {"total_size": 3, "total_count": 3, "metadata": {}}


BAD_CREATES = [
    ({"size": -1}, 400, "badRequest"), ({"size": 0}, 400, "badRequest"), ({"size": "big"}, 400, "badRequest"),
    ({"size": 2**31}, 400, "badRequest"), ({"size": 5000}, 413, "overLimit"), ({}, 400, "badRequest"),
    ({"size": 1, "volume_type": "nope"}, 404, "itemNotFound"),
    ({"size": 1, "snapshot_id": "nope"}, 404, "itemNotFound"),
    ({"size": 1, "source_volid": "nope"}, 404, "itemNotFound"),
    ({"size": 1, "imageRef": "nope"}, 400, "badRequest"),
    ({"size": 1, "availability_zone": "mars"}, 400, "badRequest"),
    ({"size": 1, "metadata": "x"}, 400, "badRequest"), ({"size": 1, "name": 5}, 400, "badRequest"),
    ({"size": 1, "multiattach": "perhaps"}, 400, "badRequest"),
]


@pytest.mark.parametrize(("fields", "status", "name"), BAD_CREATES)
def test_bad_creates_are_4xx_faults_and_make_nothing(api, fields, status, name):
    _fault(api.post(api.p("/volumes"), {"volume": fields}), status, name)
    assert api.get(api.p("/volumes")).json["volumes"] == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"volume": 1}', b'{"volumes": {}}', b'{"volume": []}'])
def test_malformed_bodies_are_400(api, body):
    resp = api.post(api.p("/volumes"), body, content_type="application/json")
    _fault(resp, 400, "badRequest")


def test_refusals_change_nothing(api, hub):
    vol = _create(api)
    _fault(api.post(api.p(f"/volumes/{vol['id']}/action"), {"os-extend": {"new_size": 1}}), 400, "badRequest")
    _fault(api.post(api.p(f"/volumes/{vol['id']}/action"), {"os-extend": {"new_size": -3}}), 400, "badRequest")
    _fault(api.post(api.p(f"/volumes/{vol['id']}/action"), {"os-extend": {}}), 400, "badRequest")
    _fault(api.post(api.p(f"/volumes/{vol['id']}/action"), {"os-bogus": {}}), 400, "badRequest")
    snap = api.post(api.p("/snapshots"), {"snapshot": {"volume_id": vol["id"], "name": "s"}}, headers=V)
    assert snap.status_int == 202, snap.text
    assert snap.json["snapshot"]["status"] == "available" and snap.json["snapshot"]["user_id"] == "u1"
    message = _fault(api.delete(api.p(f"/volumes/{vol['id']}")), 400, "badRequest")
    assert "snapshot" in message
    child = _create(api, snapshot_id=snap.json["snapshot"]["id"])
    _fault(api.delete(api.p(f"/snapshots/{snap.json['snapshot']['id']}")), 400, "badRequest")
    assert api.get(api.p(f"/snapshots/{snap.json['snapshot']['id']}")).json["snapshot"]["status"] == "available"
    # in use: attached through the contract, as compute attaches
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    att = hub.volume.reserve(ctx, child["id"], "server-1")
    hub.volume.attach(ctx, att.id, Connector(host=hub.volume.backend.node, protocols=("file",)), "/dev/vdb")
    shown = api.get(api.p(f"/volumes/{child['id']}")).json["volume"]
    assert shown["status"] == "in-use" and shown["attachments"][0]["server_id"] == "server-1"
    assert "connection" not in str(shown["attachments"])
    message = _fault(api.delete(api.p(f"/volumes/{child['id']}")), 400, "badRequest")
    assert "attached" in message
    assert api.get(api.p(f"/volumes/{child['id']}")).json["volume"]["status"] == "in-use"
    hub.volume.detach(ctx, att.id)
    assert api.delete(api.p(f"/volumes/{child['id']}")).status_int == 202
    assert api.delete(api.p(f"/volumes/{vol['id']}?cascade=true")).status_int == 202
    assert api.get(api.p("/snapshots")).json["snapshots"] == []


def test_another_project_sees_nothing_and_cannot_use_the_url(api, other):
    vol = _create(api)
    _fault(other.get(other.p(f"/volumes/{vol['id']}")), 404, "itemNotFound")
    _fault(other.get(api.p("/volumes")), 400, "badRequest")  # another project's URL


def test_types_and_extra_specs(api, admin_api):
    _fault(api.post(api.p("/types"), {"volume_type": {"name": "gold"}}), 403, "forbidden")
    made = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "gold", "extra_specs": {"k": "v"}}})
    assert made.status_int == 200 and made.json["volume_type"]["extra_specs"] == {"k": "v"}
    tid = made.json["volume_type"]["id"]
    _fault(admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "gold"}}), 409, "conflictingRequest")
    specs = admin_api.post(admin_api.p(f"/types/{tid}/extra_specs"), {"extra_specs": {"a": "1"}})
    assert specs.json == {"extra_specs": {"a": "1"}}
    assert admin_api.get(admin_api.p(f"/types/{tid}/extra_specs")).json["extra_specs"] == {"a": "1", "k": "v"}
    names = [t["name"] for t in api.get(api.p("/types")).json["volume_types"]]
    assert "gold" in names and "__DEFAULT__" in names
    assert "extra_specs" not in api.get(api.p(f"/types/{tid}")).json["volume_type"]
    vol = _create(api, volume_type="gold")
    assert vol["volume_type"] == "gold"
    _fault(admin_api.delete(admin_api.p(f"/types/{tid}")), 400, "badRequest")
    private = admin_api.post(admin_api.p("/types"), {"volume_type": {"name": "priv",
                                                                     "os-volume-type-access:is_public": False}})
    pid = private.json["volume_type"]["id"]
    _fault(api.post(api.p("/volumes"), {"volume": {"size": 1, "volume_type": "priv"}}), 404, "itemNotFound")
    assert admin_api.post(admin_api.p(f"/types/{pid}/action"),
                          {"addProjectAccess": {"project": "p1"}}).status_int == 202
    assert admin_api.get(admin_api.p(f"/types/{pid}/os-volume-type-access")).json["volume_type_access"] == [
        {"volume_type_id": pid, "project_id": "p1"}]
    assert _create(api, volume_type="priv")["volume_type"] == "priv"


def test_quotas_limits_zones_services(api, admin_api):
    _create(api, size=2)
    shown = api.get(api.p("/os-quota-sets/p1?usage=true")).json["quota_set"]
    assert shown["id"] == "p1" and shown["volumes"]["in_use"] == 1 and shown["gigabytes"]["in_use"] == 2
    assert api.get(api.p("/os-quota-sets/p1")).json["quota_set"]["volumes"] == 10
    assert api.get(api.p("/os-quota-sets/p1/defaults")).json["quota_set"]["gigabytes"] == 1000
    _fault(api.put(api.p("/os-quota-sets/p1"), {"quota_set": {"volumes": 20}}), 403, "forbidden")
    _fault(api.get(api.p("/os-quota-sets/p2")), 403, "forbidden")
    resp = admin_api.put(admin_api.p("/os-quota-sets/p1"), {"quota_set": {"volumes": 20}})
    assert resp.status_int == 200 and resp.json["quota_set"]["volumes"] == 20
    _fault(admin_api.put(admin_api.p("/os-quota-sets/p1"), {"quota_set": {"volumes": "x"}}), 400, "badRequest")
    _fault(admin_api.put(admin_api.p("/os-quota-sets/p1"), {"quota_set": {"bogus": 1}}), 400, "badRequest")
    absolute = api.get(api.p("/limits")).json["limits"]["absolute"]
    assert absolute["maxTotalVolumes"] == 20 and absolute["totalGigabytesUsed"] == 2
    zones = api.get(api.p("/os-availability-zone")).json["availabilityZoneInfo"]
    assert zones == [{"zoneName": "nova", "zoneState": {"available": True}}]
    _fault(api.get(api.p("/os-services")), 403, "forbidden")
    services = admin_api.get(admin_api.p("/os-services")).json["services"]
    assert {s["binary"] for s in services} == {"cinder-scheduler", "cinder-volume"}
    assert all(s["state"] == "up" for s in services)


def test_unknown_paths_and_methods_are_json_faults(api):
    _fault(api.get(api.p("/nothing-here")), 404, "itemNotFound")
    _fault(api.request("PATCH", api.p("/volumes")), 405, "badMethod")


def test_upload_to_image_action(api, hub):
    vol = _create(api)
    resp = api.post(api.p(f"/volumes/{vol['id']}/action"),
                    {"os-volume_upload_image": {"image_name": "img", "disk_format": "qcow2"}}, headers=V)
    assert resp.status_int == 202, resp.text
    answer = resp.json["os-volume_upload_image"]
    assert answer["image_name"] == "img" and answer["visibility"] == "private"
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    assert hub.image.get(ctx, answer["image_id"])["status"] == "active"
    _fault(api.post(api.p(f"/volumes/{vol['id']}/action"),
                    {"os-volume_upload_image": {"image_name": "img", "disk_format": "iso"}}), 400, "badRequest")
    _fault(api.post(api.p(f"/volumes/{vol['id']}/action"),
                    {"os-volume_upload_image": {"image_name": "img", "visibility": "public"}}, headers=V),
           403, "forbidden")


def test_backups_full_incremental_restore_and_refusals(api, admin_api):
    vol = _create(api)
    made = api.post(api.p("/backups"), {"backup": {"volume_id": vol["id"], "name": "b1",
                                                   "metadata": {"k": "v"}}}, headers=V)
    assert made.status_int == 202, made.text
    bid = made.json["backup"]["id"]
    shown = api.get(api.p(f"/backups/{bid}"), headers=V).json["backup"]
    assert shown["status"] == "available" and shown["is_incremental"] is False and shown["metadata"] == {"k": "v"}
    assert shown["user_id"] == "u1" and "os-backup-project-attr:project_id" not in shown
    inc = api.post(api.p("/backups"), {"backup": {"volume_id": vol["id"], "incremental": True}})
    assert inc.status_int == 202
    iid = inc.json["backup"]["id"]
    assert api.get(api.p(f"/backups/{bid}")).json["backup"]["has_dependent_backups"] is True
    assert {b["id"] for b in api.get(api.p("/backups/detail")).json["backups"]} == {bid, iid}
    assert admin_api.get(admin_api.p(f"/backups/{bid}"), headers=V).json["backup"][
        "os-backup-project-attr:project_id"] == "p1"
    message = _fault(api.delete(api.p(f"/backups/{bid}")), 400, "badRequest")
    assert "Incremental" in message
    restored = api.post(api.p(f"/backups/{iid}/restore"), {"restore": {"name": "restored"}})
    assert restored.status_int == 202, restored.text
    assert restored.json["restore"]["backup_id"] == iid and restored.json["restore"]["volume_name"] == "restored"
    _fault(api.post(api.p(f"/backups/{iid}/restore"), {"restore": {"volume_id": "nope"}}), 404, "itemNotFound")
    _fault(api.post(api.p(f"/backups/{iid}/restore"), {"nothing": {}}), 400, "badRequest")
    _fault(api.post(api.p("/backups"), {"backup": {}}), 400, "badRequest")
    _fault(api.post(api.p("/backups"), {"backup": {"volume_id": "nope"}}), 404, "itemNotFound")
    assert api.delete(api.p(f"/backups/{iid}")).status_int == 202
    assert api.delete(api.p(f"/backups/{bid}")).status_int == 202
    assert api.get(api.p("/backups")).json["backups"] == []


def test_extending_an_attached_volume(api, hub):
    vol = _create(api)
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
    att = hub.volume.reserve(ctx, vol["id"], "server-1")
    hub.volume.attach(ctx, att.id, Connector(host=hub.volume.backend.node, protocols=("file",)))
    body = {"os-extend": {"new_size": 2}}
    old = api.post(api.p(f"/volumes/{vol['id']}/action"), body, headers={"OpenStack-API-Version": "volume 3.41"})
    assert "must be available" in _fault(old, 400, "badRequest")
    # 3.42 allows it where the driver can; the file driver cannot grow an exported file: refused, unchanged
    new = api.post(api.p(f"/volumes/{vol['id']}/action"), body, headers={"OpenStack-API-Version": "volume 3.42"})
    assert "detach" in _fault(new, 400, "badRequest")
    shown = api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]
    assert shown["status"] == "in-use" and shown["size"] == 1


def test_attachments_api(api, admin_api, hub):
    V27 = {"OpenStack-API-Version": "volume 3.44"}
    vol = _create(api)
    _fault(api.get(api.p("/attachments")), 404, "itemNotFound")  # before 3.27
    made = api.post(api.p("/attachments"), {"attachment": {"volume_uuid": vol["id"], "instance_uuid": "srv-1"}},
                    headers=V27)
    assert made.status_int == 200, made.text
    att = made.json["attachment"]
    assert att["status"] == "reserved" and att["instance"] == "srv-1"
    assert api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]["status"] == "attaching"
    _fault(api.post(api.p(f"/attachments/{att['id']}/action"), {"os-complete": {}}, headers=V27), 400, "badRequest")
    _fault(api.put(api.p(f"/attachments/{att['id']}"), {"attachment": {"connector": {}}}, headers=V27),
           400, "badRequest")
    connector = {"host": hub.volume.backend.node, "protocols": ["file"]}
    updated = api.put(api.p(f"/attachments/{att['id']}"), {"attachment": {"connector": connector}}, headers=V27)
    assert updated.status_int == 200 and updated.json["attachment"]["status"] == "attached"
    assert "connection_info" not in updated.json["attachment"]  # secrets for admins (the compute service) only
    shown = admin_api.get(admin_api.p(f"/attachments/{att['id']}"), headers=V27).json["attachment"]
    assert shown["connection_info"]["driver_volume_type"] == "file"
    assert shown["connection_info"]["data"]["device_path"].endswith(f"volume-{vol['id']}.qcow2")
    assert api.post(api.p(f"/attachments/{att['id']}/action"), {"os-complete": {}}, headers=V27).status_int == 204
    in_use = api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]
    assert in_use["status"] == "in-use"
    # exactly the keys of Cinder's volume view (Tempest's schema refuses others)
    assert set(in_use["attachments"][0]) == {"id", "attachment_id", "volume_id", "server_id", "host_name", "device",
                                             "attached_at"}
    assert [a["id"] for a in api.get(api.p("/attachments"), headers=V27).json["attachments"]] == [att["id"]]
    _fault(api.post(api.p("/attachments"), {"attachment": {"volume_uuid": vol["id"], "instance_uuid": "srv-2"}},
                    headers=V27), 409, "conflictingRequest")
    gone = api.delete(api.p(f"/attachments/{att['id']}"), headers=V27)
    assert gone.status_int == 200 and gone.json == {"attachments": []}
    assert api.get(api.p(f"/volumes/{vol['id']}")).json["volume"]["status"] == "available"
    _fault(api.get(api.p(f"/attachments/{att['id']}"), headers=V27), 404, "itemNotFound")
    _fault(api.post(api.p("/attachments"), {"attachment": {"volume_uuid": "nope"}}, headers=V27), 404,
           "itemNotFound")


def test_extended_attributes_only_on_show_and_detail_and_admin_ones_for_admins(api, admin_api):
    """Cinder's extensions extend show and detail; host and migration status need the admin policy."""
    vol = _create(api, name="ext")
    created = admin_api.post(admin_api.p("/volumes"), {"volume": {"size": 1}}, headers=V).json["volume"]
    assert not [k for k in created if k.startswith("os-vol-") or k == "volume_image_metadata"]
    member = api.get(api.p("/volumes/detail"), headers=V).json["volumes"][0]
    assert member["os-vol-tenant-attr:tenant_id"] == "p1"
    assert not [k for k in member if k.startswith(("os-vol-host-attr", "os-vol-mig-status-attr"))]
    assert "provider_id" not in member
    admin = admin_api.get(admin_api.p(f"/volumes/{vol['id']}"), headers=V).json["volume"]
    assert admin["os-vol-tenant-attr:tenant_id"] == "p1"
    assert re.fullmatch(r".+@.+#.+", admin["os-vol-host-attr:host"])  # host@backend#pool, as Cinder
    assert admin["os-vol-mig-status-attr:migstat"] is None and admin["os-vol-mig-status-attr:name_id"] is None
