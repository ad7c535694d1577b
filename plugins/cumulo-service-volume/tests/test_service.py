"""The volume service on the real file driver: lifecycle, data through snapshots/clones/images, refusals,
attachments, quotas, types and the start sweep."""

from __future__ import annotations

import io
import json
import os
import subprocess
from typing import Any

import pytest
from cumulo_service_volume.common import VolumeQuotaExceeded
from cumulo_service_volume.housekeeping import sweep
from cumulo_service_volume.models import Snapshot, Volume

from cumulo import exception
from cumulo.contracts.volume import NoSuchVolume, VolumeNotAvailable
from cumulo.interfaces.volume import GIB, Connector, FileConnection

MiB = 1024 * 1024


def volume_file(hub: Any, volume_id: str) -> str:
    """The qcow2 file of a volume on the file driver (its active layer)."""
    path = os.path.join(hub.conf.state_path, "volumes", f"volume-{volume_id}.qcow2")
    assert os.path.exists(path), path
    return path


def qemu_io(path: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, path], capture_output=True, text=True,
                          check=False, timeout=60)


def write_pattern(path: str, pattern: int, offset: int = 0, length: int = 1024 * 1024) -> None:
    out = qemu_io(path, f"write -P {pattern:#x} {offset} {length}")
    assert out.returncode == 0, out.stderr + out.stdout


def has_pattern(path: str, pattern: int, offset: int = 0, length: int = 1024 * 1024) -> bool:
    out = qemu_io(path, f"read -P {pattern:#x} {offset} {length}")
    return out.returncode == 0 and "verification failed" not in out.stdout + out.stderr


def virtual_size(path: str) -> int:
    out = subprocess.run(["qemu-img", "info", "--output=json", "-U", path], capture_output=True, text=True,
                         check=True, timeout=60)
    return int(json.loads(out.stdout)["virtual-size"])


def test_create_empty_volume_has_a_file_of_its_size(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1, "name": "v1", "metadata": {"k": "v"}})
    assert vol["status"] == "available" and vol["size"] == 1 and vol["name"] == "v1"
    assert vol["volume_type"] == "__DEFAULT__" and vol["metadata"] == {"k": "v"}
    assert vol["host"].startswith(hub.conf.host + "@")
    assert virtual_size(volume_file(hub, vol["id"])) == GIB
    listed, count = volumes.list(ctx, {})
    assert [v["id"] for v in listed] == [vol["id"]] and count == 1


@pytest.mark.parametrize("size", [0, -1, "abc", 2**31, 1.5, True, None])
def test_bad_sizes_are_400_and_make_nothing(volumes, ctx, size):
    with pytest.raises(exception.Invalid) as err:
        volumes.create(ctx, {"size": size})
    assert err.value.code == 400
    assert volumes.list(ctx, {})[1] == 0


def test_oversized_volume_is_413_quota(volumes, ctx):
    with pytest.raises(VolumeQuotaExceeded) as err:
        volumes.create(ctx, {"size": 1001})
    assert err.value.code == 413 and "gigabytes" in err.value.message
    assert volumes.list(ctx, {})[1] == 0


def test_unknown_type_is_404_and_unknown_zone_400(volumes, ctx):
    with pytest.raises(exception.NotFound):
        volumes.create(ctx, {"size": 1, "volume_type": "no-such-type"})
    with pytest.raises(exception.Invalid):
        volumes.create(ctx, {"size": 1, "availability_zone": "elsewhere"})
    assert volumes.list(ctx, {})[1] == 0


def test_other_projects_do_not_see_a_volume(volumes, ctx, other, admin):
    vol = volumes.create(ctx, {"size": 1})
    with pytest.raises(NoSuchVolume):
        volumes.get(other, vol["id"])
    assert volumes.list(other, {})[1] == 0
    assert volumes.list(admin, {"all_tenants": "1"})[1] == 1


def test_extend_grows_the_file_and_refuses_smaller(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    with pytest.raises(exception.Invalid, match="greater than current size"):
        volumes.extend(ctx, vol["id"], 1)
    volumes.extend(ctx, vol["id"], 2)
    assert volumes.get(ctx, vol["id"])["size"] == 2
    assert virtual_size(volume_file(hub, vol["id"])) == 2 * GIB
    with pytest.raises(VolumeQuotaExceeded):
        volumes.extend(ctx, vol["id"], 5000)
    assert volumes.get(ctx, vol["id"])["status"] == "available"


def test_snapshot_and_volume_from_it_keep_the_data(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    path = volume_file(hub, vol["id"])
    write_pattern(path, 0xAB)
    snap = volumes.create_snapshot(ctx, vol["id"], name="s1")
    assert snap["status"] == "available" and snap["size"] == 1
    write_pattern(path, 0xCD)  # later writes never change the snapshot
    child = volumes.create(ctx, {"snapshot_id": snap["id"], "size": 2})
    assert child["status"] == "available" and child["size"] == 2 and child["snapshot_id"] == snap["id"]
    child_path = volume_file(hub, child["id"])
    assert has_pattern(child_path, 0xAB) and not has_pattern(child_path, 0xCD)
    assert has_pattern(path, 0xCD)
    assert has_pattern(child_path, 0x00, GIB, MiB)  # the grown part reads as zeros

    with pytest.raises(exception.Invalid, match="snapshot"):
        volumes.delete(ctx, vol["id"])
    with pytest.raises(exception.Invalid, match="refused"):  # the child still uses the snapshot's data
        volumes.delete_snapshot(ctx, snap["id"])
    assert volumes.get_snapshot(ctx, snap["id"])["status"] == "available"
    assert volumes.get(ctx, vol["id"])["status"] == "available"

    volumes.delete(ctx, child["id"])
    volumes.delete_snapshot(ctx, snap["id"])
    volumes.delete(ctx, vol["id"])
    assert volumes.list(ctx, {})[1] == 0
    assert not [f for f in os.listdir(os.path.join(hub.conf.state_path, "volumes")) if f.endswith(".qcow2")]


def test_volume_from_a_smaller_size_than_its_snapshot_is_400(volumes, ctx):
    vol = volumes.create(ctx, {"size": 2})
    snap = volumes.create_snapshot(ctx, vol["id"])
    with pytest.raises(exception.Invalid, match="smaller"):
        volumes.create(ctx, {"snapshot_id": snap["id"], "size": 1})
    assert volumes.list(ctx, {})[1] == 1


def test_clone_of_a_volume_has_its_data(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    write_pattern(volume_file(hub, vol["id"]), 0x5A)
    clone = volumes.create(ctx, {"source_volid": vol["id"]})
    assert clone["status"] == "available" and clone["size"] == 1 and clone["source_volid"] == vol["id"]
    assert has_pattern(volume_file(hub, clone["id"]), 0x5A)


def _raw_image(hub: Any, ctx: Any, data: bytes) -> dict[str, Any]:
    image = hub.image.create(ctx, {"name": "img", "disk_format": "raw", "container_format": "bare"})
    hub.image.upload(ctx, image["id"], io.BytesIO(data), size=len(data))
    return hub.image.get(ctx, image["id"])


def test_volume_from_image_streams_the_image_and_is_bootable(hub, volumes, ctx):
    data = bytes([0x3C]) * (2 * MiB)
    image = _raw_image(hub, ctx, data)
    vol = volumes.create(ctx, {"size": 1, "imageRef": image["id"]})
    assert vol["status"] == "available" and vol["bootable"] is True
    assert vol["volume_image_metadata"]["image_id"] == image["id"]
    path = volume_file(hub, vol["id"])
    assert has_pattern(path, 0x3C, 0, 2 * MiB) and has_pattern(path, 0x00, 2 * MiB, MiB)
    assert virtual_size(path) == GIB


def test_volume_from_a_missing_or_too_large_image_is_400(hub, volumes, ctx):
    with pytest.raises(exception.Invalid, match="image"):
        volumes.create(ctx, {"size": 1, "imageRef": "9b4c3a6e-0000-4000-8000-000000000000"})
    image = _raw_image(hub, ctx, b"\0" * (GIB + 512))
    with pytest.raises(exception.Invalid, match="smaller than the image"):
        volumes.create(ctx, {"size": 1, "imageRef": image["id"]})
    assert volumes.list(ctx, {})[1] == 0


def test_attach_detach_through_the_contract(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    att = volumes.reserve(ctx, vol["id"], "server-1")
    assert volumes.get_volume(ctx, vol["id"]).status == "attaching"
    with pytest.raises(VolumeNotAvailable):
        volumes.reserve(ctx, vol["id"], "server-2")
    info = volumes.attach(ctx, att.id, Connector(host=volumes.backend.node, protocols=("file",)), "/dev/vdb")
    assert isinstance(info.data, FileConnection) and info.data.path == volume_file(hub, vol["id"])
    record = volumes.get_volume(ctx, vol["id"])
    assert record.status == "in-use" and record.attachments[0].server_id == "server-1"
    assert volumes.get(ctx, vol["id"])["attachments"][0]["device"] == "/dev/vdb"
    with pytest.raises(exception.Invalid, match="attached"):
        volumes.delete(ctx, vol["id"])
    with pytest.raises(VolumeNotAvailable):
        volumes.delete_volume(ctx, vol["id"])
    volumes.detach(ctx, att.id)
    assert volumes.get(ctx, vol["id"])["status"] == "available"
    volumes.detach(ctx, att.id)  # again: nothing
    volumes.delete_volume(ctx, vol["id"])
    volumes.delete_volume(ctx, vol["id"])  # already gone: nothing


def test_unreserve_returns_the_volume(volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    att = volumes.reserve(ctx, vol["id"], "server-1")
    volumes.unreserve(ctx, att.id)
    assert volumes.get(ctx, vol["id"])["status"] == "available"


def test_create_from_image_for_boot_from_volume(hub, volumes, ctx):
    image = _raw_image(hub, ctx, bytes([0x11]) * MiB)
    record = volumes.create_from_image(ctx, image["id"], 1, name="boot")
    assert record.status == "available" and record.bootable and record.image_id == image["id"]


def test_types_extra_specs_access_and_in_use_refusals(volumes, ctx, admin, other):
    with pytest.raises(exception.Forbidden):
        volumes.create_type(ctx, "gold")
    gold = volumes.create_type(admin, "gold", extra_specs={"volume_backend_name": "file"})
    assert gold["extra_specs"] == {"volume_backend_name": "file"}
    with pytest.raises(exception.Conflict):
        volumes.create_type(admin, "gold")
    vol = volumes.create(ctx, {"size": 1, "volume_type": "gold"})
    assert vol["volume_type"] == "gold"
    with pytest.raises(exception.Invalid, match="in use"):
        volumes.delete_type(admin, gold["id"])
    private = volumes.create_type(admin, "private", is_public=False)
    assert "private" not in [t["name"] for t in volumes.list_types(ctx)]
    with pytest.raises(exception.NotFound):
        volumes.create(ctx, {"size": 1, "volume_type": "private"})
    volumes.add_type_access(admin, private["id"], "p1")
    assert "private" in [t["name"] for t in volumes.list_types(ctx)]
    assert "private" not in [t["name"] for t in volumes.list_types(other)]
    volumes.delete(ctx, vol["id"])
    volumes.delete_type(admin, gold["id"])


def test_quotas_show_update_and_enforce(volumes, ctx, admin):
    volumes.create(ctx, {"size": 3})
    shown = volumes.show_quotas(ctx, "p1", usage=True)
    assert shown["volumes"] == {"limit": 10, "in_use": 1, "reserved": 0, "allocated": 0}
    assert shown["gigabytes"]["in_use"] == 3
    with pytest.raises(exception.Forbidden):
        volumes.update_quotas(ctx, "p1", {"volumes": 100})
    with pytest.raises(exception.Invalid):
        volumes.update_quotas(admin, "p1", {"volumes": 0})  # below what is used
    volumes.update_quotas(admin, "p1", {"volumes": 1})
    with pytest.raises(VolumeQuotaExceeded):
        volumes.create(ctx, {"size": 1})
    volumes.delete_quotas(admin, "p1")
    assert volumes.show_quotas(ctx, "p1")["volumes"] == 10


def test_start_sweep_leaves_nothing_transitional(hub, volumes, ctx):
    from cumulo import db

    made = {status: volumes.create(ctx, {"size": 1})["id"]
            for status in ("creating", "deleting", "extending", "attaching", "detaching")}
    base = volumes.create(ctx, {"size": 1})
    snap = volumes.create_snapshot(ctx, base["id"])
    attached = volumes.reserve(ctx, made["detaching"], "server-1")
    volumes.attach(ctx, attached.id, Connector(host=volumes.backend.node, protocols=("file",)))
    volumes.reserve(ctx, made["attaching"], "server-2")
    with db.transaction() as s:
        for status, vid in made.items():
            row = s.get(Volume, vid)
            assert row is not None
            row.status = status
        srow = s.get(Snapshot, snap["id"])
        assert srow is not None
        srow.status = "creating"
    sweep(volumes.backend.host)
    after = {status: volumes.get(ctx, vid)["status"] for status, vid in made.items()}
    assert after == {"creating": "error", "deleting": "error_deleting", "extending": "error_extending",
                     "attaching": "available", "detaching": "in-use"}
    assert volumes.get_snapshot(ctx, snap["id"])["status"] == "error"
    volumes.delete(ctx, made["creating"])  # an errored volume can be deleted
    volumes.delete(ctx, made["deleting"])


def test_list_filters_sort_and_paging(volumes, ctx):
    ids = [volumes.create(ctx, {"size": n, "name": f"vol-{n}", "metadata": {"n": str(n)}})["id"]
           for n in (1, 2, 3)]
    assert [v["size"] for v in volumes.list(ctx, {}, {"sort": "size:asc"})[0]] == [1, 2, 3]
    assert [v["id"] for v in volumes.list(ctx, {"name": "vol-2"})[0]] == [ids[1]]
    assert [v["id"] for v in volumes.list(ctx, {"metadata": '{"n": "3"}'})[0]] == [ids[2]]
    assert len(volumes.list(ctx, {"name~": "vol"})[0]) == 3
    first, count = volumes.list(ctx, {}, {"sort": "size:asc"}, limit=2)
    assert [v["size"] for v in first] == [1, 2] and count == 3
    rest, _ = volumes.list(ctx, {}, {"sort": "size:asc"}, limit=2, marker=first[-1]["id"])
    assert [v["size"] for v in rest] == [3]
    with pytest.raises(exception.NotFound):  # Cinder: an unknown marker is a 404
        volumes.list(ctx, {}, marker="no-such-volume")
    with pytest.raises(exception.Invalid):
        volumes.list(ctx, {}, {"sort": "bogus:asc"})


def test_upload_to_image_copies_the_data_and_restores_the_status(hub, volumes, ctx, tmp_path):
    vol = volumes.create(ctx, {"size": 1})
    write_pattern(volume_file(hub, vol["id"]), 0x6E)
    answer = volumes.upload_to_image(ctx, vol["id"], {"image_name": "from-volume", "disk_format": "qcow2"})
    assert answer["image_name"] == "from-volume" and answer["volume_type"]["name"] == "__DEFAULT__"
    image = hub.image.get(ctx, answer["image_id"])
    assert image["status"] == "active" and image["disk_format"] == "qcow2" and image["min_disk"] == 1
    assert volumes.get(ctx, vol["id"])["status"] == "available"
    saved = tmp_path / "image.qcow2"
    with open(saved, "wb") as f:
        for chunk in hub.image.download(ctx, image["id"]):
            f.write(chunk)
    assert has_pattern(str(saved), 0x6E) and virtual_size(str(saved)) == GIB


def test_upload_refusals_leave_no_image(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    for fields in ({"image_name": "x", "disk_format": "vmdk"}, {"image_name": None},
                   {"image_name": "x", "container_format": "ova"}):
        with pytest.raises(exception.Invalid):
            volumes.upload_to_image(ctx, vol["id"], fields)
    with pytest.raises(exception.Forbidden):
        volumes.upload_to_image(ctx, vol["id"], {"image_name": "x", "visibility": "public"})
    att = volumes.reserve(ctx, vol["id"], "server-1")
    volumes.attach(ctx, att.id, Connector(host=volumes.backend.node, protocols=("file",)))
    with pytest.raises(exception.Invalid, match="in-use"):
        volumes.upload_to_image(ctx, vol["id"], {"image_name": "x"})
    assert hub.image.list(ctx, {}) == []
    assert volumes.get(ctx, vol["id"])["status"] == "in-use"


def _objects(hub: Any, project: str = "p1") -> list[str]:
    return sorted(name for account, _, name in hub.objects.data if account == f"AUTH_{project}")


def test_full_and_incremental_backups_store_only_changed_chunks_and_restore_identically(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    path = volume_file(hub, vol["id"])
    write_pattern(path, 0xAB, 0)
    full = volumes.create_backup(ctx, vol["id"], name="full")
    assert full["status"] == "available" and not full["is_incremental"] and full["object_count"] == 2
    assert len(_objects(hub)) == 2  # one chunk with data (the rest are zeros), the map
    assert volumes.get(ctx, vol["id"])["status"] == "available"

    write_pattern(path, 0xCD, 512 * MiB)
    inc = volumes.create_backup(ctx, vol["id"], name="inc", incremental=True)
    assert inc["is_incremental"] and inc["parent_id"] == full["id"] and inc["object_count"] == 2
    assert len(_objects(hub)) == 4  # only the changed chunk, and its map
    assert volumes.get_backup(ctx, full["id"])["has_dependent_backups"] is True

    write_pattern(path, 0xEE, 0)  # after both backups
    restored_full = volumes.restore_backup(ctx, full["id"], name="r-full")
    rf = volume_file(hub, restored_full["volume_id"])
    assert has_pattern(rf, 0xAB, 0) and has_pattern(rf, 0x00, 512 * MiB)
    restored_inc = volumes.restore_backup(ctx, inc["id"])
    ri = volume_file(hub, restored_inc["volume_id"])
    assert has_pattern(ri, 0xAB, 0) and has_pattern(ri, 0xCD, 512 * MiB) and virtual_size(ri) == GIB
    # onto an existing volume, replacing what it holds
    volumes.restore_backup(ctx, full["id"], volume_id=restored_inc["volume_id"])
    assert has_pattern(ri, 0xAB, 0) and has_pattern(ri, 0x00, 512 * MiB)
    assert volumes.get(ctx, restored_inc["volume_id"])["status"] == "available"

    with pytest.raises(exception.Invalid, match="Incremental"):
        volumes.delete_backup(ctx, full["id"])
    volumes.delete_backup(ctx, inc["id"])
    assert len(_objects(hub)) == 2
    volumes.delete_backup(ctx, full["id"])
    assert _objects(hub) == []
    assert volumes.list_backups(ctx, {})[1] == 0


def test_backup_refusals(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    with pytest.raises(exception.Invalid, match="incremental"):
        volumes.create_backup(ctx, vol["id"], incremental=True)
    backup = volumes.create_backup(ctx, vol["id"])
    small_source = volumes.create(ctx, {"size": 2})
    big = volumes.create_backup(ctx, small_source["id"])
    with pytest.raises(exception.Invalid, match="smaller"):
        volumes.restore_backup(ctx, big["id"], volume_id=vol["id"])
    att = volumes.reserve(ctx, vol["id"], "server-1")
    volumes.attach(ctx, att.id, Connector(host=volumes.backend.node, protocols=("file",)))
    with pytest.raises(exception.Invalid, match="available"):
        volumes.restore_backup(ctx, backup["id"], volume_id=vol["id"])
    with pytest.raises(exception.Invalid, match="in-use"):
        volumes.create_backup(ctx, vol["id"])
    assert volumes.get(ctx, vol["id"])["status"] == "in-use"
    assert volumes.get_backup(ctx, backup["id"])["status"] == "available"


def test_a_corrupted_chunk_fails_the_restore(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    write_pattern(volume_file(hub, vol["id"]), 0x99)
    backup = volumes.create_backup(ctx, vol["id"])
    key = next(k for k in hub.objects.data if "chunk-" in k[2])
    import zlib

    hub.objects.data[key] = zlib.compress(b"\x01" * (32 * MiB))
    target = volumes.create(ctx, {"size": 1})
    with pytest.raises(exception.ServiceUnavailable, match="SHA-256"):
        volumes.restore_backup(ctx, backup["id"], volume_id=target["id"])
    assert volumes.get(ctx, target["id"])["status"] == "error_restoring"
    assert volumes.get_backup(ctx, backup["id"])["status"] == "available"


def test_the_service_offers_the_contract_as_declared(volumes):
    import inspect

    from cumulo.contracts.volume import VolumeContract

    for name, declared in inspect.getmembers(VolumeContract, inspect.isfunction):
        if name.startswith("_"):
            continue
        offered = getattr(volumes, name)
        want = [p for p in inspect.signature(declared).parameters if p != "self"]
        assert list(inspect.signature(offered).parameters) == want, name


def test_config_check_loads_the_driver_the_option_names(cumulo_db):
    from cumulo.cmd.config import check_plugins
    from cumulo.conf import CONF

    problems: list[str] = []
    cumulo_db.set("driver", "no-such-driver", group="volume")
    check_plugins(CONF, problems)
    assert any(p.startswith("[volume] driver: ") and "no-such-driver" in p for p in problems), problems
    problems.clear()
    cumulo_db.set("driver", "file", group="volume")
    check_plugins(CONF, problems)
    assert not [p for p in problems if p.startswith("[volume] driver")], problems


def test_a_wrong_driver_name_stops_the_start(cumulo_db):
    from cumulo import registry
    from cumulo.testing.image_service import ImageHub

    cumulo_db.set("driver", "no-such-driver", group="volume")
    hub = ImageHub()
    with pytest.raises(registry.PluginError, match="no-such-driver"):
        hub.plugins()["volume"].start(hub)


def test_a_type_no_backend_matches_leaves_the_volume_in_error(hub, volumes, ctx, admin):
    volumes.create_type(admin, "elsewhere", extra_specs={"volume_backend_name": "ceph"})
    volumes.create_type(admin, "no-multiattach", extra_specs={"multiattach": "<is> False"})
    volumes.create_type(admin, "fits", extra_specs={"volume_backend_name": "file", "multiattach": "<is> True",
                                                     "RESKEY:availability_zones": "nova"})
    for name in ("elsewhere", "no-multiattach"):
        vol = volumes.create(ctx, {"size": 1, "volume_type": name})
        assert vol["status"] == "error"
        assert not os.path.exists(os.path.join(hub.conf.state_path, "volumes", f"volume-{vol['id']}.qcow2"))
        volumes.delete(ctx, vol["id"])
    assert volumes.create(ctx, {"size": 1, "volume_type": "fits"})["status"] == "available"
