"""The legacy volume proxies ``/os-volumes`` and ``/os-snapshots`` (below 2.36), in Nova's camel-case view.

The compute service, the volume service (``file`` driver), the image service and the fake hypervisor are
the real ones, in process; requests go through the whole WSGI app (noauth tokens).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.testing.fixtures import FakeHub, running_compute, stop_volume_exports, unavailable, use_fake_hypervisor
from cumulo.testing.image_service import image_hub

USER_CTX = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
VOLUME_KEYS = {"id", "status", "size", "availabilityZone", "createdAt", "attachments", "displayName",
               "displayDescription", "volumeType", "snapshotId", "metadata"}
SNAPSHOT_KEYS = {"id", "volumeId", "status", "size", "createdAt", "displayName", "displayDescription"}


@pytest.fixture
def cumulo_compute_hub(cumulo_db: Any) -> Iterator[FakeHub]:
    """The conftest's hub with the real volume and image services (no network service)."""
    missing = [t for t in ("qemu-img", "qemu-nbd") if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    use_fake_hypervisor(cumulo_db, host_count=1)
    hub = image_hub(cumulo_db)
    hub.without = {"network"}
    try:
        with running_compute(hub) as started:
            yield started
    finally:
        stop_volume_exports(str(CONF.state_path))


def _create(cloud: Any, **fields: Any) -> dict[str, Any]:
    resp = cloud.post("/v2.1/os-volumes", {"volume": {"size": 1, **fields}}, version="2.35")
    assert resp.status_int == 200, resp.text
    vol: dict[str, Any] = resp.json["volume"]
    return vol


def test_create_show_list_delete_in_novas_view(cloud, cumulo_compute_hub):
    made = _create(cloud, display_name="v1", display_description="d1", metadata={"Type": "work"})
    assert set(made) == VOLUME_KEYS
    assert (made["displayName"], made["displayDescription"], made["size"], made["status"]) == ("v1", "d1", 1,
                                                                                               "available")
    assert made["metadata"] == {"Type": "work"} and made["attachments"] == [{}] and made["snapshotId"] is None
    assert made["volumeType"] == "__DEFAULT__" and made["createdAt"]
    shown = cloud.get(f"/v2.1/os-volumes/{made['id']}", version="2.35").json["volume"]
    assert shown == made
    for path in ("/v2.1/os-volumes", "/v2.1/os-volumes/detail"):
        assert cloud.get(path, version="2.35").json["volumes"] == [made]
    # the Block Storage side sees the same volume
    assert cumulo_compute_hub.volume.get_volume(USER_CTX, made["id"]).name == "v1"
    assert cloud.delete(f"/v2.1/os-volumes/{made['id']}", version="2.35").status_int == 202
    assert cloud.get(f"/v2.1/os-volumes/{made['id']}", version="2.35").status_int == 404
    assert cloud.delete(f"/v2.1/os-volumes/{made['id']}", version="2.35").status_int == 404


def test_limit_and_offset_page_the_list(cloud, cumulo_compute_hub):
    ids = [_create(cloud, display_name=f"v{i}")["id"] for i in range(3)]
    listed = [v["id"] for v in cloud.get("/v2.1/os-volumes", version="2.35").json["volumes"]]
    assert sorted(listed) == sorted(ids)
    assert [v["id"] for v in cloud.get("/v2.1/os-volumes?limit=2", version="2.35").json["volumes"]] == listed[:2]
    page = cloud.get("/v2.1/os-volumes/detail?offset=1&limit=1", version="2.35").json["volumes"]
    assert [v["id"] for v in page] == listed[1:2]
    assert cloud.get("/v2.1/os-volumes?limit=x", version="2.35").status_int == 400


@pytest.mark.parametrize("size", ["#$%", "", "0", 0, -2])
def test_a_bad_size_is_400(cloud, cumulo_compute_hub, size):
    resp = cloud.post("/v2.1/os-volumes", {"volume": {"size": size, "display_name": "x"}}, version="2.35")
    assert resp.status_int == 400, resp.text
    assert "size" in resp.text
    assert cloud.get("/v2.1/os-volumes", version="2.35").json["volumes"] == []


def test_unknown_fields_and_volumes_are_refused(cloud, cumulo_compute_hub):
    assert cloud.post("/v2.1/os-volumes", {"volume": {"size": 1, "bogus": 1}}, version="2.35").status_int == 400
    missing = "3c1f63a4-2d0c-4e37-9b9a-000000000000"
    assert cloud.get(f"/v2.1/os-volumes/{missing}", version="2.35").status_int == 404
    assert cloud.delete("/v2.1/os-volumes/not-a-uuid", version="2.35").status_int == 404
    assert cloud.get(f"/v2.1/os-snapshots/{missing}", version="2.35").status_int == 404


def test_gone_from_2_36(cloud, cumulo_compute_hub):
    assert cloud.get("/v2.1/os-volumes", version="2.36").status_int == 404
    assert cloud.post("/v2.1/os-volumes", {"volume": {"size": 1}}, version="2.36").status_int == 404
    assert cloud.get("/v2.1/os-snapshots", version="2.36").status_int == 404
    assert cloud.get("/v2.1/os-volumes", version="2.35").status_int == 200


def test_policy_readers_read_members_write(cloud, cumulo_compute_hub):
    reader = "r1:p1:reader"
    assert cloud.get("/v2.1/os-volumes", version="2.35", token=reader).status_int == 200
    resp = cloud.post("/v2.1/os-volumes", {"volume": {"size": 1}}, version="2.35", token=reader)
    assert resp.status_int == 403


def test_snapshots_create_show_list_delete(cloud, cumulo_compute_hub):
    vol = _create(cloud)
    resp = cloud.post("/v2.1/os-snapshots", {"snapshot": {"volume_id": vol["id"], "display_name": "s1",
                                                          "display_description": "sd"}}, version="2.35")
    assert resp.status_int == 200, resp.text
    snap = resp.json["snapshot"]
    assert set(snap) == SNAPSHOT_KEYS
    assert (snap["volumeId"], snap["displayName"], snap["displayDescription"], snap["size"]) == (vol["id"], "s1",
                                                                                                 "sd", 1)
    assert cloud.get(f"/v2.1/os-snapshots/{snap['id']}", version="2.35").json["snapshot"] == snap
    for path in ("/v2.1/os-snapshots", "/v2.1/os-snapshots/detail"):
        assert [s["id"] for s in cloud.get(path, version="2.35").json["snapshots"]] == [snap["id"]]
    # a volume with a snapshot cannot be deleted: 400, as Nova passes Cinder's refusal on
    assert cloud.delete(f"/v2.1/os-volumes/{vol['id']}", version="2.35").status_int == 400
    bad = cloud.post("/v2.1/os-snapshots", {"snapshot": {"volume_id": vol["id"], "force": "maybe"}}, version="2.35")
    assert bad.status_int == 400 and "force" in bad.text
    assert cloud.delete(f"/v2.1/os-snapshots/{snap['id']}", version="2.35").status_int == 202
    assert cloud.get(f"/v2.1/os-snapshots/{snap['id']}", version="2.35").status_int == 404
    assert cloud.delete(f"/v2.1/os-volumes/{vol['id']}", version="2.35").status_int == 202


def test_an_attached_volume_shows_its_server(cloud, cumulo_compute_hub):
    import io

    hub = cumulo_compute_hub
    image = hub.image.create(USER_CTX, {"name": "img", "disk_format": "raw", "container_format": "bare"})
    hub.image.upload(USER_CTX, image["id"], io.BytesIO(b"\0" * 4096), size=4096)
    resp = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": image["id"], "flavorRef": "42",
                                                   "networks": "none"}})
    assert resp.status_int == 202, resp.text
    sid = resp.json["server"]["id"]
    cloud.wait_status(sid, "ACTIVE")
    vol = _create(cloud)
    resp = cloud.post(f"/v2.1/servers/{sid}/os-volume_attachments", {"volumeAttachment": {"volumeId": vol["id"]}})
    assert resp.status_int == 200, resp.text
    deadline = time.monotonic() + 20
    while True:
        shown = cloud.get(f"/v2.1/os-volumes/{vol['id']}", version="2.35").json["volume"]
        if shown["status"] == "in-use":
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.05)
    assert shown["attachments"] == [{"id": vol["id"], "volumeId": vol["id"], "serverId": sid, "device": "/dev/vdb"}]
    assert cloud.delete(f"/v2.1/os-volumes/{vol['id']}", version="2.35").status_int == 400
    assert cloud.delete(f"/v2.1/servers/{sid}/os-volume_attachments/{vol['id']}").status_int == 202
    deadline = time.monotonic() + 20
    while cloud.get(f"/v2.1/os-volumes/{vol['id']}", version="2.35").json["volume"]["status"] != "available":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_non_bootable_volume_is_refused_as_boot_device(cloud, cumulo_compute_hub):
    vol = _create(cloud)
    assert cumulo_compute_hub.volume.get_volume(USER_CTX, vol["id"]).bootable is False
    bdm = [{"boot_index": "0", "uuid": vol["id"], "source_type": "volume", "destination_type": "volume",
            "delete_on_termination": False}]
    resp = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": "", "flavorRef": "42",
                                                   "networks": "none", "block_device_mapping_v2": bdm}})
    assert resp.status_int == 400, resp.text
    assert "not bootable" in resp.text and vol["id"] in resp.text
    assert cloud.get("/v2.1/servers").json["servers"] == []


def test_assisted_volume_snapshots_need_an_attached_volume(cloud, cumulo_compute_hub):
    import io
    import json
    import urllib.parse

    admin = "admin:padmin:admin,member,reader"
    hub = cumulo_compute_hub
    vol = _create(cloud)
    body = {"snapshot": {"volume_id": vol["id"], "create_info": {"snapshot_id": "s-1", "type": "qcow2",
                                                                "new_file": "new_file"}}}
    path = "/v2.1/os-assisted-volume-snapshots"
    assert cloud.post(path, body).status_int == 403  # a member
    resp = cloud.post(path, body, token=admin)
    assert resp.status_int == 400 and "not attached" in resp.text
    delete = f"{path}/s-1?" + urllib.parse.urlencode({"delete_info": json.dumps({"volume_id": vol["id"]})})
    assert cloud.delete(delete, token=admin).status_int == 404
    image = hub.image.create(USER_CTX, {"name": "img", "disk_format": "raw", "container_format": "bare"})
    hub.image.upload(USER_CTX, image["id"], io.BytesIO(b"\0" * 4096), size=4096)
    sid = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": image["id"], "flavorRef": "42",
                                                  "networks": "none"}}).json["server"]["id"]
    cloud.wait_status(sid, "ACTIVE")
    assert cloud.post(f"/v2.1/servers/{sid}/os-volume_attachments",
                      {"volumeAttachment": {"volumeId": vol["id"]}}).status_int == 200
    deadline = time.monotonic() + 20
    while cloud.get(f"/v2.1/os-volumes/{vol['id']}", version="2.35").json["volume"]["status"] != "in-use":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    resp = cloud.post(path, body, token=admin)
    assert resp.status_int == 200, resp.text
    assert resp.json == {"snapshot": {"id": "s-1", "volumeId": vol["id"]}}
    bad = {"snapshot": {"volume_id": vol["id"], "create_info": {"snapshot_id": "s-1", "type": "raw",
                                                               "new_file": "f"}}}
    assert cloud.post(path, bad, token=admin).status_int == 400
    assert cloud.delete(delete, token=admin).status_int == 204
    assert cloud.delete(f"{path}/s-1", token=admin).status_int == 400  # no delete_info
    assert cloud.delete(f"{path}/s-1?delete_info=%7Bnope", token=admin).status_int == 400
    assert cloud.delete(f"/v2.1/servers/{sid}/os-volume_attachments/{vol['id']}").status_int == 202
