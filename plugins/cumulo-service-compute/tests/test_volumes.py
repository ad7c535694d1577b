"""Volumes of servers: the real volume service (``file`` driver) and image service, the fake
hypervisor's hosts in process, ``hub.compute``'s volume methods and the block-device mapping of
``create_servers``.

The fake driver records the volumes it holds (``volumes`` of its instance record, by device):
what it holds, what compute's mapping says and what the volume area says must agree.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from cumulo_service_compute import block_devices as bdms

from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.contracts.compute import BlockDeviceRequest
from cumulo.testing.fixtures import running_compute, stop_volume_exports, unavailable, use_fake_hypervisor, wait_for
from cumulo.testing.image_service import ImageHub, image_hub


@pytest.fixture
def hub(cumulo_db: Any) -> Iterator[Any]:
    missing = [t for t in ("qemu-img", "qemu-nbd") if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    use_fake_hypervisor(cumulo_db, host_count=1)
    h: ImageHub = image_hub(cumulo_db)
    h.without = {"network"}
    try:
        with running_compute(h) as started:
            started.conf_fixture = cumulo_db  # type: ignore[attr-defined]
            yield started
    finally:
        stop_volume_exports(str(CONF.state_path))


@pytest.fixture
def image(hub: Any, ctx: RequestContext) -> str:
    made = hub.image.create(ctx, {"name": "img", "disk_format": "raw", "container_format": "bare"})
    data = b"\0" * 65536
    hub.image.upload(ctx, made["id"], io.BytesIO(data), size=len(data))
    return str(made["id"])


def _settled(hub: Any, ctx: RequestContext, uuid: str) -> dict[str, Any]:
    def done() -> dict[str, Any]:
        server: dict[str, Any] = hub.compute.get_server(ctx, uuid)
        return server if server["status"] in ("ACTIVE", "ERROR") else {}
    return wait_for(done)


def _boot(hub: Any, ctx: RequestContext, image: str | None, **kw: Any) -> dict[str, Any]:
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref=image, flavor_id="42", networks="none", **kw)
    return _settled(hub, ctx, inst["uuid"])


def _held(hub: Any, server: dict[str, Any]) -> dict[str, Any]:
    """What the fake hypervisor holds of the server's volumes: device -> record."""
    manager = next(m for m in hub.compute_hosts.managers if m.host == server["host"])
    record = manager.driver.get_instance(server["uuid"])
    assert record is not None
    return dict(record["volumes"])


def _status(hub: Any, ctx: RequestContext, volume_id: str, wanted: str) -> Any:
    return wait_for(lambda: (v := hub.volume.get_volume(ctx, volume_id)).status == wanted and v)


def test_attach_and_detach_a_volume(hub: Any, ctx: RequestContext, image: str) -> None:
    server = _boot(hub, ctx, image)
    assert server["status"] == "ACTIVE"
    vol = hub.volume.create(ctx, {"size": 1, "name": "v1"})
    answer = hub.compute.attach_volume(ctx, server["uuid"], vol["id"])
    assert answer["device"] == "/dev/vdb" and answer["volume_id"] == vol["id"]
    in_use = _status(hub, ctx, vol["id"], "in-use")
    assert [a.server_id for a in in_use.attachments] == [server["uuid"]]
    wait_for(lambda: [a["status"] for a in hub.compute.list_volume_attachments(ctx, server["uuid"])] == ["attached"])
    held = _held(hub, server)
    assert held["/dev/vdb"]["volume_id"] == vol["id"]
    shown = hub.compute.get_server(ctx, server["uuid"])
    assert [v["volume_id"] for v in shown["volumes_attached"]] == [vol["id"]]

    # an in-use volume cannot go to another server; nor twice to this one
    other = _boot(hub, ctx, image)
    with pytest.raises(exception.Invalid):
        hub.compute.attach_volume(ctx, other["uuid"], vol["id"])
    with pytest.raises(exception.Invalid):
        hub.compute.attach_volume(ctx, server["uuid"], vol["id"])

    hub.compute.detach_volume(ctx, server["uuid"], vol["id"])
    _status(hub, ctx, vol["id"], "available")
    assert wait_for(lambda: not hub.compute.list_volume_attachments(ctx, server["uuid"]))
    assert _held(hub, server) == {}
    with pytest.raises(exception.NotFound):
        hub.compute.detach_volume(ctx, server["uuid"], vol["id"])


def test_the_device_the_driver_used_is_the_one_reported(hub: Any, ctx: RequestContext, image: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A driver that could not honour /dev/vdb (libvirt: the config drive holds it) says where the
    volume went; the attachment then names that device."""
    from cumulo_hypervisor_fake.driver import FakeDriver

    real = FakeDriver.attach_volume

    def elsewhere(self: Any, instance: Any, block_device: Any) -> str:
        real(self, instance, block_device)
        return "/dev/vdc"

    monkeypatch.setattr(FakeDriver, "attach_volume", elsewhere)
    server = _boot(hub, ctx, image)
    vol = hub.volume.create(ctx, {"size": 1, "name": "v1"})
    assert hub.compute.attach_volume(ctx, server["uuid"], vol["id"])["device"] == "/dev/vdb"  # asked for
    wait_for(lambda: [(a["status"], a["device"]) for a in hub.compute.list_volume_attachments(ctx, server["uuid"])]
             == [("attached", "/dev/vdc")])


def test_a_failing_driver_gives_the_volume_back(hub: Any, ctx: RequestContext, image: str) -> None:
    server = _boot(hub, ctx, image)
    vol = hub.volume.create(ctx, {"size": 1, "name": "v1"})
    hub.conf_fixture.set("fail_operations", ["attach_volume"], group="hypervisor_fake")
    hub.compute.attach_volume(ctx, server["uuid"], vol["id"])
    _status(hub, ctx, vol["id"], "available")
    assert wait_for(lambda: not hub.compute.list_volume_attachments(ctx, server["uuid"]))
    assert _held(hub, server) == {}


def test_unknown_or_unavailable_volumes_are_refused_before_anything_is_made(hub: Any, ctx: RequestContext,
                                                                           image: str) -> None:
    before = hub.compute.list_servers(ctx)
    boot = BlockDeviceRequest(source_type="volume", destination_type="volume",
                              uuid="9b4c3a6e-0000-4000-8000-000000000000", boot_index=0)
    with pytest.raises(exception.Invalid, match="Block Device Mapping is Invalid"):
        hub.compute.create_servers(ctx, name="vm", image_ref=None, flavor_id="42", networks="none",
                                   block_devices=[boot])
    with pytest.raises(exception.Invalid, match="non-zero size"):
        hub.compute.create_servers(ctx, name="vm", image_ref=None, flavor_id="42", networks="none",
                                   block_devices=[BlockDeviceRequest(source_type="image", destination_type="volume",
                                                                     uuid=image, boot_index=0)])
    assert hub.compute.list_servers(ctx) == before


def test_boot_from_a_new_volume_and_delete_on_termination(hub: Any, ctx: RequestContext, image: str) -> None:
    root = BlockDeviceRequest(source_type="image", destination_type="volume", uuid=image, boot_index=0,
                              volume_size=1, delete_on_termination=True)
    server = _boot(hub, ctx, None, block_devices=[root])
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["image_ref"] == ""
    [mapping] = server["volumes_attached"]
    assert mapping["boot_index"] == 0 and mapping["device"] == "/dev/vda"
    volume = hub.volume.get_volume(ctx, mapping["volume_id"])
    assert volume.status == "in-use" and volume.bootable
    assert _held(hub, server)["/dev/vda"]["volume_id"] == volume.id
    with pytest.raises(exception.Invalid, match="root device"):
        hub.compute.detach_volume(ctx, server["uuid"], volume.id)
    hub.compute.delete_server(ctx, server["uuid"])
    wait_for(lambda: not [s for s in hub.compute.list_servers(ctx) if s["uuid"] == server["uuid"]])
    from cumulo.contracts.volume import NoSuchVolume

    def gone() -> bool:
        try:
            hub.volume.get_volume(ctx, volume.id)
        except NoSuchVolume:
            return True
        return False
    assert wait_for(gone)
    assert bdms.mappings(server["uuid"]) == []


def test_boot_from_an_existing_volume_keeps_it(hub: Any, ctx: RequestContext, image: str) -> None:
    vol = hub.volume.create(ctx, {"size": 1, "name": "boot", "imageRef": image})
    root = BlockDeviceRequest(source_type="volume", destination_type="volume", uuid=vol["id"], boot_index=0)
    [inst] = hub.compute.create_servers(ctx, name="vm", image_ref=None, flavor_id="42", networks="none",
                                        block_devices=[root])
    # reserved before the 202: nobody else can take it while the server builds
    assert hub.volume.get_volume(ctx, vol["id"]).status in ("attaching", "in-use")
    server = _settled(hub, ctx, inst["uuid"])
    assert server["status"] == "ACTIVE", server.get("fault")
    assert _held(hub, server)["/dev/vda"]["volume_id"] == vol["id"]
    hub.compute.delete_server(ctx, server["uuid"])
    _status(hub, ctx, vol["id"], "available")


def test_a_restart_leaves_nothing_attaching(hub: Any, ctx: RequestContext, image: str) -> None:
    server = _boot(hub, ctx, image)
    vol = hub.volume.create(ctx, {"size": 1, "name": "v1"})
    attachment = hub.volume.reserve(ctx, vol["id"], server["uuid"])
    # what an attach cut short by a crash leaves: a mapping attaching, the volume reserved
    bdms.add(server["uuid"], source_type="volume", status=bdms.ATTACHING, volume_id=vol["id"],
             device_name="/dev/vdb", attachment_id=attachment.id)
    manager = next(m for m in hub.compute_hosts.managers if m.host == server["host"])
    assert manager.init_host() >= 1
    assert hub.compute.list_volume_attachments(ctx, server["uuid"]) == []
    assert hub.volume.get_volume(ctx, vol["id"]).status == "available"


def test_swap_is_refused_and_delete_on_termination_can_be_set(hub: Any, ctx: RequestContext, image: str) -> None:
    server = _boot(hub, ctx, image)
    vol = hub.volume.create(ctx, {"size": 1, "name": "v1"})
    hub.compute.attach_volume(ctx, server["uuid"], vol["id"], tag="data")
    wait_for(lambda: [a["status"] for a in hub.compute.list_volume_attachments(ctx, server["uuid"])] == ["attached"])
    with pytest.raises(exception.Conflict, match="not supported"):
        hub.compute.update_volume_attachment(ctx, server["uuid"], vol["id"], "another")
    hub.compute.update_volume_attachment(ctx, server["uuid"], vol["id"], vol["id"], delete_on_termination=True)
    got = hub.compute.get_volume_attachment(ctx, server["uuid"], vol["id"])
    assert got["delete_on_termination"] is True and got["tag"] == "data"
    hub.compute.detach_volume(ctx, server["uuid"], vol["id"])
    _status(hub, ctx, vol["id"], "available")


def test_wrong_state_and_a_driver_without_volumes_are_409(hub: Any, ctx: RequestContext, image: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    server = _boot(hub, ctx, image)
    vol = hub.volume.create(ctx, {"size": 1, "name": "v1"})
    monkeypatch.setattr(hub.compute.hosts, "capabilities", lambda host: {"pause"})
    with pytest.raises(exception.Conflict, match="attach_volume"):
        hub.compute.attach_volume(ctx, server["uuid"], vol["id"])
    monkeypatch.undo()
    hub.compute.lock(ctx, server["uuid"])
    with pytest.raises(exception.Conflict, match="locked"):
        hub.compute.attach_volume(ctx, server["uuid"], vol["id"])
    hub.compute.unlock(ctx, server["uuid"])
    hub.compute.suspend(ctx, server["uuid"])
    wait_for(lambda: hub.compute.get_server(ctx, server["uuid"])["status"] == "SUSPENDED")
    with pytest.raises(exception.Conflict, match="vm_state suspended"):
        hub.compute.attach_volume(ctx, server["uuid"], vol["id"])
    # nothing was reserved by the refused attaches
    assert hub.volume.get_volume(ctx, vol["id"]).status == "available"


def test_actions_that_would_lose_volumes_are_refused(hub: Any, ctx: RequestContext, image: str) -> None:
    root = BlockDeviceRequest(source_type="image", destination_type="volume", uuid=image, boot_index=0,
                              volume_size=1, delete_on_termination=True)
    server = _boot(hub, ctx, None, block_devices=[root])
    with pytest.raises(exception.Invalid, match="volume-backed"):
        hub.compute.rebuild(ctx, server["uuid"], image)
    with pytest.raises(exception.Invalid, match="volume-backed"):
        hub.compute.rescue(ctx, server["uuid"])
    with pytest.raises(exception.Conflict, match="volumes attached"):
        hub.compute.resize(ctx, server["uuid"], "1")
    assert hub.compute.get_server(ctx, server["uuid"])["status"] == "ACTIVE"
    hub.compute.delete_server(ctx, server["uuid"])
    wait_for(lambda: not bdms.mappings(server["uuid"]))


def test_deleting_a_server_gives_its_data_volume_back(hub: Any, ctx: RequestContext, image: str) -> None:
    server = _boot(hub, ctx, image)
    keep = hub.volume.create(ctx, {"size": 1, "name": "keep"})
    hub.compute.attach_volume(ctx, server["uuid"], keep["id"])
    wait_for(lambda: [a["status"] for a in hub.compute.list_volume_attachments(ctx, server["uuid"])] == ["attached"])
    hub.compute.delete_server(ctx, server["uuid"])
    vol = _status(hub, ctx, keep["id"], "available")
    assert vol.attachments == ()
    assert bdms.mappings(server["uuid"]) == []
