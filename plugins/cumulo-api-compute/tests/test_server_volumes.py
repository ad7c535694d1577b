"""``/servers/{id}/os-volume_attachments``, ``block_device_mapping_v2`` in server create and
``os-extended-volumes:volumes_attached``, in Nova's shape at each microversion.

The compute service, the volume service (``file`` driver), the image service and the fake
hypervisor are the real ones, in process; requests go through the whole WSGI app (noauth tokens).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_api_compute import views
from cumulo_api_compute.controllers.servers import _block_device

from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.contracts.compute import BlockDeviceRequest, VolumeAttachmentView
from cumulo.testing.fixtures import FakeHub, running_compute, stop_volume_exports, unavailable, use_fake_hypervisor
from cumulo.testing.image_service import image_hub
from cumulo.wsgi.microversion import APIVersion

USER_CTX = RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])
ADMIN = "admin:padmin:admin,member,reader"


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


def _image(hub: Any) -> str:
    import io

    made = hub.image.create(USER_CTX, {"name": "img", "disk_format": "raw", "container_format": "bare"})
    hub.image.upload(USER_CTX, made["id"], io.BytesIO(b"\0" * 4096), size=4096)
    return str(made["id"])


def _boot(cloud: Any, image: str) -> str:
    resp = cloud.post("/v2.1/servers", {"server": {"name": "vm", "imageRef": image, "flavorRef": "42",
                                                   "networks": "none"}})
    assert resp.status_int == 202, resp.text
    server_id: str = resp.json["server"]["id"]
    cloud.wait_status(server_id, "ACTIVE")
    return server_id


def _volume(hub: Any, wanted: str | None = None, volume_id: str | None = None) -> Any:
    if volume_id is None:
        return hub.volume.create(USER_CTX, {"size": 1, "name": "v"})
    deadline = time.monotonic() + 20
    while True:
        vol = hub.volume.get_volume(USER_CTX, volume_id)
        if vol.status == wanted:
            return vol
        assert time.monotonic() < deadline, f"volume stayed {vol.status}"
        time.sleep(0.05)


def _attached(cloud: Any, sid: str) -> None:
    deadline = time.monotonic() + 20
    while True:
        [a] = cloud.get(f"/v2.1/servers/{sid}/os-volume_attachments").json["volumeAttachments"]
        server = cloud.get(f"/v2.1/servers/{sid}").json["server"]
        hub_state = [v["id"] for v in server["os-extended-volumes:volumes_attached"]]
        if hub_state == [a["volumeId"]]:
            return
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_attach_list_show_detach_in_novas_shape(cloud, cumulo_compute_hub):
    hub = cumulo_compute_hub
    sid = _boot(cloud, _image(hub))
    vol = _volume(hub)
    path = f"/v2.1/servers/{sid}/os-volume_attachments"
    resp = cloud.post(path, {"volumeAttachment": {"volumeId": vol["id"], "tag": "data",
                                                  "delete_on_termination": True}})
    assert resp.status_int == 200, resp.text
    assert resp.json["volumeAttachment"] == {"device": "/dev/vdb", "id": vol["id"], "serverId": sid,
                                             "volumeId": vol["id"], "tag": "data", "delete_on_termination": True}
    _volume(hub, "in-use", vol["id"])
    _attached(cloud, sid)
    # 2.1: neither tag nor delete_on_termination, in the list or the show
    old = cloud.get(path, version="2.1").json["volumeAttachments"]
    assert old == [{"device": "/dev/vdb", "id": vol["id"], "serverId": sid, "volumeId": vol["id"]}]
    shown = cloud.get(f"{path}/{vol['id']}").json["volumeAttachment"]
    assert shown["tag"] == "data" and shown["delete_on_termination"] is True
    server = cloud.get(f"/v2.1/servers/{sid}", version="2.1").json["server"]
    assert server["os-extended-volumes:volumes_attached"] == [{"id": vol["id"]}]
    server = cloud.get(f"/v2.1/servers/{sid}").json["server"]
    assert server["os-extended-volumes:volumes_attached"] == [{"id": vol["id"], "delete_on_termination": True}]
    # tag needs 2.49, delete_on_termination 2.79 (Nova's schema refuses them earlier)
    assert cloud.post(path, {"volumeAttachment": {"volumeId": vol["id"], "tag": "x"}}, version="2.48").status_int == 400

    assert cloud.delete(f"{path}/{vol['id']}").status_int == 202
    _volume(hub, "available", vol["id"])
    assert cloud.get(f"{path}/{vol['id']}").status_int == 404


def test_policies_swap_and_unknown_volumes(cloud, cumulo_compute_hub):
    hub = cumulo_compute_hub
    sid = _boot(cloud, _image(hub))
    vol = _volume(hub)
    path = f"/v2.1/servers/{sid}/os-volume_attachments"
    reader = "r1:p1:reader"
    assert cloud.get(path, token=reader).status_int == 200
    assert cloud.post(path, {"volumeAttachment": {"volumeId": vol["id"]}}, token=reader).status_int == 403
    assert cloud.post(path, {"volumeAttachment": {"volumeId": "nope"}}).status_int == 404
    assert cloud.post(path, {"volumeAttachment": {"volumeId": vol["id"]}}).status_int == 200
    _volume(hub, "in-use", vol["id"])
    # swapping: the swap policy (administrators), then 409 (not supported)
    body = {"volumeAttachment": {"volumeId": "another"}}
    assert cloud.put(f"{path}/{vol['id']}", body).status_int == 403
    resp = cloud.put(f"{path}/{vol['id']}", body, token=ADMIN)
    assert resp.status_int == 409 and "not supported" in resp.text
    _attached(cloud, sid)
    assert cloud.delete(f"{path}/{vol['id']}").status_int == 202
    _volume(hub, "available", vol["id"])


def test_server_create_with_block_devices(cloud, cumulo_compute_hub):
    hub = cumulo_compute_hub
    image = _image(hub)
    made_up = "9b4c3a6e-0000-4000-8000-000000000000"
    server = {"name": "bfv", "flavorRef": "42", "networks": "none", "block_device_mapping_v2": [
        {"source_type": "volume", "uuid": made_up, "destination_type": "volume", "boot_index": "0"}]}
    resp = cloud.post("/v2.1/servers", {"server": server})
    assert resp.status_int == 400 and "Block Device Mapping is Invalid" in resp.text and made_up in resp.text
    assert cloud.get("/v2.1/servers").json["servers"] == []
    bad = {**server, "block_device_mapping_v2": [{"source_type": "floppy", "uuid": image}]}
    assert cloud.post("/v2.1/servers", {"server": bad}).status_int == 400
    # --boot-from-volume as the CLI sends it: no imageRef, the image in the mapping
    bfv = {**server, "block_device_mapping_v2": [
        {"uuid": image, "boot_index": 0, "source_type": "image", "destination_type": "volume", "volume_size": 1,
         "delete_on_termination": True}]}
    resp = cloud.post("/v2.1/servers", {"server": bfv})
    assert resp.status_int == 202, resp.text
    shown = cloud.wait_status(resp.json["server"]["id"], "ACTIVE")
    assert shown["image"] == ""
    [root] = shown["os-extended-volumes:volumes_attached"]
    assert root["delete_on_termination"] is True
    resp = cloud.delete(f"/v2.1/servers/{shown['id']}/os-volume_attachments/{root['id']}")
    assert resp.status_int == 400 and "root device" in resp.text
    assert cloud.delete(f"/v2.1/servers/{shown['id']}").status_int == 204
    cloud.wait_status(shown["id"], "DELETED")


def test_block_device_items_and_attachment_views_by_microversion() -> None:
    assert _block_device({"source_type": "volume", "uuid": "v1", "boot_index": "0"}) == BlockDeviceRequest(
        source_type="volume", destination_type="volume", uuid="v1", boot_index=0)
    item = _block_device({"source_type": "image", "image_id": "i1", "destination_type": "volume",
                          "volume_size": "2", "delete_on_termination": "true"})
    assert item is not None and (item.uuid, item.volume_size, item.delete_on_termination) == ("i1", 2, True)
    assert _block_device({"source_type": "blank", "no_device": True}) is None
    a: VolumeAttachmentView = {"id": "bdm-1", "server_id": "s1", "volume_id": "v1", "device": "/dev/vdb", "tag": "t",
         "delete_on_termination": False, "attachment_id": "att-1", "boot_index": None, "status": "attached"}
    at = APIVersion.parse
    assert views.volume_attachment(a, at("2.89")) == {
        "device": "/dev/vdb", "serverId": "s1", "volumeId": "v1", "tag": "t", "delete_on_termination": False,
        "attachment_id": "att-1", "bdm_uuid": "bdm-1"}
    assert "id" in views.volume_attachment(a, at("2.89"), created=True)
    assert set(views.volume_attachment(a, at("2.70"))) == {"device", "id", "serverId", "volumeId", "tag"}
