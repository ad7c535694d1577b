"""Block Storage functional tests: the unmodified ``openstack`` CLI and openstacksdk against ``cumulo up``.

The data is checked on the ``file`` driver's qcow2 files with qemu-io: a
pattern written into a volume while it is available is in its snapshot, in a
volume made from that snapshot and in a clone, and an image's bytes are in a
volume made from it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud
from cumulo.testing.fixtures import unavailable

GIB = 1024**3
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    missing = [t for t in ("qemu-img", "qemu-io", "qemu-storage-daemon") if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    if "volumev3" not in registry.names("api") or "volume" not in registry.names("service"):
        unavailable("cumulo-service-volume and cumulo-api-volume are not installed")
    frontends = [f for f in ("identity", "image", "object-store", "volumev3") if f in registry.names("api")]
    c = CumuloCloud(tmp_path_factory.mktemp("volume-cloud"),
                    config={"api": {"frontends": ",".join(frontends)}, "volume": {"driver": "file"}})
    c.start()
    yield c
    c.stop()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def volume_file(cloud: CumuloCloud, volume_id: str) -> str:
    path = os.path.join(cloud.state_path, "volumes", f"volume-{volume_id}.qcow2")
    assert os.path.exists(path), path
    return path


def qemu_io(path: str, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, path], capture_output=True, text=True,
                          check=False, timeout=60)


def write_pattern(path: str, pattern: int, offset: int = 0, length: int = MiB) -> None:
    out = qemu_io(path, f"write -P {pattern:#x} {offset} {length}")
    assert out.returncode == 0, out.stdout + out.stderr


def has_pattern(path: str, pattern: int, offset: int = 0, length: int = MiB) -> bool:
    out = qemu_io(path, f"read -P {pattern:#x} {offset} {length}")
    return out.returncode == 0 and "verification failed" not in out.stdout + out.stderr


def virtual_size(path: str) -> int:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True, text=True,
                         check=True, timeout=60)
    return int(json.loads(out.stdout)["virtual-size"])


def fails(cloud: CumuloCloud, *args: str) -> str:
    """Run a CLI command that must fail; its output (the server's fault message)."""
    with pytest.raises(CommandFailed) as err:
        cloud.openstack(*args)
    return err.value.stderr + err.value.stdout


def test_volume_in_the_catalog_and_versions(cloud):
    services = {s["Type"] for s in cloud.openstack("catalog", "list")}
    assert "block-storage" in services
    import requests

    doc = requests.get(cloud.url + "/volume/v3/", timeout=10).json()["versions"][0]
    assert doc["min_version"] == "3.0" and doc["version"] == "3.60"


def test_create_list_show_set_extend_delete(cloud):
    name = uniq("vol")
    vol = cloud.openstack("volume", "create", "--size", "1", "--property", "a=b", name)
    assert vol["status"] == "available" and vol["size"] == 1
    assert name in [v["Name"] for v in cloud.openstack("volume", "list")]
    shown = cloud.openstack("volume", "show", name)
    assert shown["id"] == vol["id"] and shown["properties"] == {"a": "b"}
    renamed = uniq("renamed")
    cloud.openstack("volume", "set", "--name", renamed, "--description", "d", "--property", "c=d", name)
    cloud.openstack("volume", "set", "--size", "2", renamed)
    shown = cloud.openstack("volume", "show", renamed)
    assert shown["size"] == 2 and shown["description"] == "d" and shown["properties"] == {"a": "b", "c": "d"}
    assert virtual_size(volume_file(cloud, vol["id"])) == 2 * GIB
    out = fails(cloud, "volume", "set", "--size", "1", renamed)
    assert "size" in out.lower()
    assert cloud.openstack("volume", "show", renamed)["size"] == 2
    cloud.openstack("volume", "set", "--bootable", renamed)
    assert cloud.openstack("volume", "show", renamed)["bootable"] in ("true", True)
    cloud.openstack("volume", "delete", renamed)
    assert renamed not in [v["Name"] for v in cloud.openstack("volume", "list")]
    assert not os.path.exists(os.path.join(cloud.state_path, "volumes", f"volume-{vol['id']}.qcow2"))


def test_pattern_survives_snapshot_clone_and_volume_from_snapshot(cloud):
    base = cloud.openstack("volume", "create", "--size", "1", uniq("base"))
    path = volume_file(cloud, base["id"])
    write_pattern(path, 0xAB)
    snap_name = uniq("snap")
    snap = cloud.openstack("volume", "snapshot", "create", "--volume", base["id"], snap_name)
    assert snap["status"] == "available"
    assert snap_name in [s["Name"] for s in cloud.openstack("volume", "snapshot", "list")]
    write_pattern(path, 0xCD)  # after the snapshot: not in it

    from_snap = cloud.openstack("volume", "create", "--snapshot", snap_name, "--size", "2", uniq("fromsnap"))
    assert from_snap["status"] == "available" and from_snap["size"] == 2
    child = volume_file(cloud, from_snap["id"])
    assert has_pattern(child, 0xAB) and not has_pattern(child, 0xCD)
    assert has_pattern(child, 0x00, GIB, MiB)

    clone = cloud.openstack("volume", "create", "--source", base["id"], uniq("clone"))
    assert clone["size"] == 1
    assert has_pattern(volume_file(cloud, clone["id"]), 0xCD)

    # refusals: nothing changes
    out = fails(cloud, "volume", "delete", base["id"])
    assert "snapshot" in out.lower()
    out = fails(cloud, "volume", "snapshot", "delete", snap_name)
    assert "refused" in out.lower() or "snapshot" in out.lower()
    assert cloud.openstack("volume", "snapshot", "show", snap_name)["status"] == "available"
    assert has_pattern(child, 0xAB)

    cloud.openstack("volume", "delete", from_snap["id"], clone["id"])
    cloud.openstack("volume", "snapshot", "delete", snap_name)
    assert snap_name not in [s["Name"] for s in cloud.openstack("volume", "snapshot", "list")]
    cloud.openstack("volume", "delete", base["id"])


def test_volume_from_image_has_the_image_bytes(cloud, tmp_path):
    data = bytes([0x3C]) * (3 * MiB)
    image_file = tmp_path / "pattern.raw"
    image_file.write_bytes(data)
    image = uniq("img")
    cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file",
                    str(image_file), image)
    vol = cloud.openstack("volume", "create", "--image", image, "--size", "1", uniq("fromimage"))
    assert vol["status"] == "available"
    shown = cloud.openstack("volume", "show", vol["id"])
    assert shown["bootable"] in ("true", True)
    assert shown["volume_image_metadata"]["image_name"] == image
    path = volume_file(cloud, vol["id"])
    assert has_pattern(path, 0x3C, 0, 3 * MiB) and has_pattern(path, 0x00, 3 * MiB, MiB)
    cloud.openstack("volume", "delete", vol["id"])


def test_types_with_properties_and_quota_show(cloud):
    type_name = uniq("gold")
    made = cloud.openstack("volume", "type", "create", "--property", "volume_backend_name=file", type_name)
    assert made["name"] == type_name
    shown = cloud.openstack("volume", "type", "show", type_name)
    assert shown["properties"] == {"volume_backend_name": "file"}
    vol = cloud.openstack("volume", "create", "--type", type_name, "--size", "1", uniq("typed"))
    assert cloud.openstack("volume", "show", vol["id"])["type"] == type_name
    out = fails(cloud, "volume", "type", "delete", type_name)
    assert "in use" in out.lower()

    quota = cloud.openstack("quota", "show", "--volume")
    values = {q["Resource"]: q["Limit"] for q in quota} if isinstance(quota, list) else quota
    assert values["volumes"] == 10 and values["gigabytes"] == 1000 and values["snapshots"] == 10
    cloud.openstack("volume", "delete", vol["id"])
    cloud.openstack("volume", "type", "delete", type_name)


@pytest.mark.parametrize("args", [
    ("--size", "-1"), ("--size", "0"), ("--size", "5000"), ("--size", "1", "--type", "no-such-type"),
    ("--size", "1", "--availability-zone", "mars"),
])
def test_bad_creates_fail_with_a_message_and_make_nothing(cloud, args):
    before = len(cloud.openstack("volume", "list"))
    out = fails(cloud, "volume", "create", *args, uniq("bad"))
    assert "HTTP 500" not in out and "Internal Server Error" not in out
    assert len(cloud.openstack("volume", "list")) == before


def test_openstacksdk_volume_and_snapshot(cloud):
    conn = cloud.connect()
    vol = conn.create_volume(size=1, name=uniq("sdk"), wait=True, timeout=60)
    assert vol.status == "available" and vol.size == 1
    snap = conn.create_volume_snapshot(vol.id, name=uniq("sdksnap"), wait=True, timeout=60)
    assert snap.status == "available" and snap.volume_id == vol.id
    assert conn.get_volume_snapshot(snap.id).id == snap.id
    conn.delete_volume_snapshot(snap.id, wait=True, timeout=60)
    assert conn.delete_volume(vol.id, wait=True, timeout=60)
    assert conn.get_volume(vol.id) is None


def test_restart_keeps_volumes_and_leaves_nothing_transitional(cloud: Any):
    vol = cloud.openstack("volume", "create", "--size", "1", uniq("persist"))
    write_pattern(volume_file(cloud, vol["id"]), 0x77)
    cloud.restart()
    shown = cloud.openstack("volume", "show", vol["id"])
    assert shown["status"] == "available"
    assert has_pattern(volume_file(cloud, vol["id"]), 0x77)
    cloud.openstack("volume", "delete", vol["id"])


def test_image_create_from_volume_holds_its_data(cloud, tmp_path):
    vol = cloud.openstack("volume", "create", "--size", "1", uniq("toimage"))
    write_pattern(volume_file(cloud, vol["id"]), 0x42)
    image = uniq("fromvol")
    made = cloud.openstack("image", "create", "--volume", vol["id"], "--disk-format", "qcow2", image)
    assert made["image_name"] == image
    shown = cloud.openstack("image", "show", image)
    assert shown["status"] == "active" and shown["disk_format"] == "qcow2"
    saved = tmp_path / "saved.qcow2"
    cloud.openstack("image", "save", "--file", str(saved), image)
    assert has_pattern(str(saved), 0x42) and virtual_size(str(saved)) == GIB
    assert cloud.openstack("volume", "show", vol["id"])["status"] == "available"
    cloud.openstack("image", "delete", image)
    cloud.openstack("volume", "delete", vol["id"])


def _backup_objects(cloud: CumuloCloud) -> list[str]:
    proc = cloud.openstack("object", "list", "volumebackups", "-f", "json", check=False)
    if proc.returncode != 0:  # no container before the first backup
        return []
    return [o["Name"] for o in json.loads(proc.stdout)]


def test_backup_full_then_incremental_stores_changed_chunks_and_restores(cloud):
    if "object-store" not in registry.names("api"):
        unavailable("the object-store frontend (cumulo-api-object) is not installed")
    before = len(_backup_objects(cloud))
    vol = cloud.openstack("volume", "create", "--size", "1", uniq("backed"))
    path = volume_file(cloud, vol["id"])
    write_pattern(path, 0xAB, 0)
    full = cloud.openstack("volume", "backup", "create", "--name", uniq("full"), vol["id"])
    assert cloud.openstack("volume", "backup", "show", full["id"])["status"] == "available"
    assert len(_backup_objects(cloud)) == before + 2  # one chunk holding data, and the chunk map

    write_pattern(path, 0xCD, 512 * MiB)
    inc = cloud.openstack("volume", "backup", "create", "--incremental", "--name", uniq("inc"), vol["id"])
    shown = cloud.openstack("volume", "backup", "show", inc["id"])
    assert shown["status"] == "available" and shown["is_incremental"] is True
    assert len(_backup_objects(cloud)) == before + 4  # only the changed chunk (and its map)

    restored = uniq("restored")
    cloud.openstack("volume", "backup", "restore", full["id"], restored)
    target = cloud.openstack("volume", "show", restored)
    rf = volume_file(cloud, target["id"])
    assert has_pattern(rf, 0xAB, 0) and has_pattern(rf, 0x00, 512 * MiB)
    restored_inc = uniq("restored-inc")
    cloud.openstack("volume", "backup", "restore", inc["id"], restored_inc)
    ri = volume_file(cloud, cloud.openstack("volume", "show", restored_inc)["id"])
    assert has_pattern(ri, 0xAB, 0) and has_pattern(ri, 0xCD, 512 * MiB)

    out = fails(cloud, "volume", "backup", "delete", full["id"])
    assert "incremental" in out.lower()
    cloud.openstack("volume", "backup", "delete", inc["id"])
    cloud.openstack("volume", "backup", "delete", full["id"])
    assert len(_backup_objects(cloud)) == before
    cloud.openstack("volume", "delete", vol["id"], restored, restored_inc)


def test_openstacksdk_volume_backup(cloud):
    if "object-store" not in registry.names("api"):
        unavailable("the object-store frontend (cumulo-api-object) is not installed")
    conn = cloud.connect()
    vol = conn.create_volume(size=1, name=uniq("sdkb"), wait=True, timeout=60)
    backup = conn.create_volume_backup(vol.id, name=uniq("sdkbackup"), wait=True, timeout=120)
    assert backup.status == "available" and backup.volume_id == vol.id
    conn.delete_volume_backup(backup.id, wait=True, timeout=60)
    assert conn.delete_volume(vol.id, wait=True, timeout=60)


def test_service_list_zones_and_limits(cloud):
    services = {s["Binary"]: s for s in cloud.openstack("volume", "service", "list")}
    assert services["cinder-volume"]["State"] == "up" and services["cinder-volume"]["Status"] == "enabled"
    assert "cinder-scheduler" in services
    zones = cloud.openstack("availability", "zone", "list", "--volume")
    assert [z["Zone Name"] for z in zones] == ["nova"]
    limits = {row["Name"]: row["Value"] for row in cloud.openstack("limits", "show", "--absolute")}
    # the SDK's names for the API's (maxTotalVolumes...)
    assert limits.get("max_total_volumes", limits.get("maxTotalVolumes")) == 10, limits


def test_a_crash_leaves_nothing_transitional(cloud):
    import sqlite3

    made = {status: cloud.openstack("volume", "create", "--size", "1", uniq(status))["id"]
            for status in ("creating", "deleting", "extending", "attaching")}
    cloud.kill()
    db = sqlite3.connect(os.path.join(cloud.state_path, "cumulo.sqlite"))
    with db:
        for status, vid in made.items():
            db.execute("UPDATE volumes SET status = ? WHERE id = ?", (status, vid))
    db.close()
    cloud.start()
    after = {status: cloud.openstack("volume", "show", vid)["status"] for status, vid in made.items()}
    assert after == {"creating": "error", "deleting": "error_deleting", "extending": "error_extending",
                     "attaching": "available"}
    cloud.openstack("volume", "delete", *made.values())


# -- per-volume-type quotas and backups of snapshots ---------------------------------------------
# Per-volume-type quotas and backups of snapshots: the unmodified ``openstack`` CLI against ``cumulo up``.
#
# The quotas are set with ``openstack quota set --volume-type`` (``volumes_<type>``...), a create
# over them is refused with Cinder's 413 naming the quota, and ``quota show --usage`` counts what
# the type holds. A backup of a snapshot holds the snapshot's data, not what the volume was
# written with afterwards: checked with qemu-io on the ``file`` driver's qcow2 files, as in
# test_volume.py.


def _project(cloud: CumuloCloud) -> str:
    return str(cloud.openstack("token", "issue")["project_id"])


def _quotas(cloud: CumuloCloud, *extra: str) -> dict[str, dict[str, object]]:
    rows = cloud.openstack("quota", "show", "--volume", *extra, _project(cloud))
    return {row["Resource"]: row for row in rows}


def test_per_type_quota_set_enforced_shown_with_usage_and_released(cloud):
    vtype = uniq("vq-gold")
    cloud.openstack("volume", "type", "create", vtype)
    assert _quotas(cloud)[f"volumes_{vtype}"]["Limit"] == -1  # unlimited until set
    project = _project(cloud)
    cloud.openstack("quota", "set", "--volume-type", vtype, "--volumes", "1", "--gigabytes", "2", project,
                    json_out=False)
    shown = _quotas(cloud)
    assert shown[f"volumes_{vtype}"]["Limit"] == 1 and shown[f"gigabytes_{vtype}"]["Limit"] == 2
    assert shown["volumes"]["Limit"] == 10  # the project's own limit is untouched

    first = cloud.openstack("volume", "create", "--type", vtype, "--size", "1", uniq("vq-typed"))
    assert first["status"] == "available"
    before = len(cloud.openstack("volume", "list"))
    out = fails(cloud, "volume", "create", "--type", vtype, "--size", "1", uniq("vq-over"))
    assert f"exceeded for quota 'volumes_{vtype}'" in out and "413" in out, out
    assert len(cloud.openstack("volume", "list")) == before  # nothing made
    other = cloud.openstack("volume", "create", "--size", "1", uniq("vq-default"))  # another type: room
    out = fails(cloud, "volume", "set", "--size", "3", first["id"])
    assert f"gigabytes_{vtype}" in out and "413" in out, out
    assert cloud.openstack("volume", "show", first["id"])["size"] == 1

    usage = _quotas(cloud, "--usage")
    assert usage[f"volumes_{vtype}"]["In Use"] == 1 and usage[f"gigabytes_{vtype}"]["In Use"] == 1
    assert usage["volumes"]["In Use"] >= 2

    cloud.openstack("volume", "delete", first["id"])
    assert _quotas(cloud, "--usage")[f"volumes_{vtype}"]["In Use"] == 0  # released
    again = cloud.openstack("volume", "create", "--type", vtype, "--size", "1", uniq("vq-again"))
    assert again["status"] == "available"
    cloud.openstack("volume", "delete", again["id"], other["id"])
    cloud.openstack("volume", "type", "delete", vtype)
    assert f"volumes_{vtype}" not in _quotas(cloud)  # its quotas went with the type


def test_backup_of_a_snapshot_restores_the_snapshots_data(cloud):
    if "object-store" not in registry.names("api"):
        unavailable("the object-store frontend (cumulo-api-object) is not installed")
    vol = cloud.openstack("volume", "create", "--size", "1", uniq("vq-src"))
    path = volume_file(cloud, vol["id"])
    write_pattern(path, 0xAB, 0)
    snap = cloud.openstack("volume", "snapshot", "create", "--volume", vol["id"], uniq("vq-snap"))
    write_pattern(path, 0xCD, 0)  # after the snapshot: must not be in its backup

    made = cloud.openstack("volume", "backup", "create", "--snapshot", snap["id"], "--name", uniq("vq-bsnap"),
                           vol["id"])
    shown = cloud.openstack("volume", "backup", "show", made["id"])
    assert shown["status"] == "available" and shown["snapshot_id"] == snap["id"]
    assert shown["volume_id"] == vol["id"] and shown["is_incremental"] is False
    assert cloud.openstack("volume", "snapshot", "show", snap["id"])["status"] == "available"

    restored = uniq("vq-restored")
    cloud.openstack("volume", "backup", "restore", made["id"], restored)
    rf = volume_file(cloud, cloud.openstack("volume", "show", restored)["id"])
    assert has_pattern(rf, 0xAB, 0) and not has_pattern(rf, 0xCD, 0)

    # an incremental backup of a later snapshot: what changed since the snapshot's backup
    write_pattern(path, 0xEE, 512 * MiB)
    later = cloud.openstack("volume", "snapshot", "create", "--volume", vol["id"], uniq("vq-later"))
    inc = cloud.openstack("volume", "backup", "create", "--snapshot", later["id"], "--incremental", vol["id"])
    shown = cloud.openstack("volume", "backup", "show", inc["id"])
    assert shown["status"] == "available" and shown["is_incremental"] is True
    assert shown["snapshot_id"] == later["id"]
    restored_inc = uniq("vq-restored-inc")
    cloud.openstack("volume", "backup", "restore", inc["id"], restored_inc)
    ri = volume_file(cloud, cloud.openstack("volume", "show", restored_inc)["id"])
    assert has_pattern(ri, 0xCD, 0) and has_pattern(ri, 0xEE, 512 * MiB)

    other = cloud.openstack("volume", "create", "--size", "1", uniq("vq-other"))
    out = fails(cloud, "volume", "backup", "create", "--snapshot", snap["id"], other["id"])
    assert "does not match" in out and "HTTP 500" not in out, out

    # as Cinder: a snapshot with backups can be deleted, the backups stay
    cloud.openstack("volume", "snapshot", "delete", later["id"])
    assert cloud.openstack("volume", "backup", "show", inc["id"])["status"] == "available"
    cloud.openstack("volume", "backup", "delete", inc["id"])
    cloud.openstack("volume", "backup", "delete", made["id"])
    cloud.openstack("volume", "snapshot", "delete", snap["id"])
    cloud.openstack("volume", "delete", restored, restored_inc, other["id"], vol["id"])
