"""Per-volume-type quotas and backups of snapshots, on the real ``file`` driver and a migrated database."""

from __future__ import annotations

import os

import pytest
from cumulo_service_volume.common import VolumeQuotaExceeded

from cumulo import exception

from .test_service import GIB, MiB, has_pattern, virtual_size, volume_file, write_pattern


def test_per_type_quotas_are_listed_set_enforced_and_released(volumes, ctx, admin):
    volumes.create_type(admin, "gold")
    shown = volumes.show_quotas(ctx, "p1")
    assert shown["volumes_gold"] == -1 and shown["gigabytes_gold"] == -1 and shown["snapshots_gold"] == -1
    assert volumes.default_quotas()["volumes_gold"] == -1
    volumes.update_quotas(admin, "p1", {"volumes_gold": 1, "gigabytes_gold": 3, "snapshots_gold": 1})

    first = volumes.create(ctx, {"size": 1, "volume_type": "gold"})
    with pytest.raises(VolumeQuotaExceeded, match="exceeded for quota 'volumes_gold'") as err:
        volumes.create(ctx, {"size": 1, "volume_type": "gold"})
    assert err.value.code == 413
    assert len(volumes.list(ctx, {})[0]) == 1  # nothing made
    untyped = volumes.create(ctx, {"size": 1})  # another type is not charged to gold
    with pytest.raises(VolumeQuotaExceeded, match="allowed gigabytes_gold quota"):
        volumes.extend(ctx, first["id"], 4)
    assert volumes.get(ctx, first["id"])["size"] == 1
    volumes.extend(ctx, first["id"], 2)
    with pytest.raises(VolumeQuotaExceeded, match="allowed gigabytes_gold quota. Requested 2G, quota is 3G"):
        volumes.create_snapshot(ctx, first["id"])  # 2G more on 2G used, 3G allowed
    volumes.update_quotas(admin, "p1", {"gigabytes_gold": 10})
    snap = volumes.create_snapshot(ctx, first["id"])
    with pytest.raises(VolumeQuotaExceeded, match="quota 'snapshots_gold'"):
        volumes.create_snapshot(ctx, first["id"])
    used = volumes.show_quotas(ctx, "p1", usage=True)
    assert used["volumes_gold"]["in_use"] == 1 and used["snapshots_gold"]["in_use"] == 1
    assert used["gigabytes_gold"] == {"limit": 10, "in_use": 4, "reserved": 0, "allocated": 0}
    assert used["gigabytes"]["in_use"] == 5  # the untyped volume's 1G too
    volumes.delete_snapshot(ctx, snap["id"])
    assert volumes.show_quotas(ctx, "p1", usage=True)["snapshots_gold"]["in_use"] == 0
    with pytest.raises(exception.Invalid, match="existing resources"):
        volumes.update_quotas(admin, "p1", {"volumes_gold": 0})
    with pytest.raises(exception.ValidationError):
        volumes.update_quotas(admin, "p1", {"volumes_nosuchtype": 1})
    assert volumes.show_quotas(ctx, "p1", usage=True)["volumes"]["in_use"] == 2
    volumes.delete(ctx, untyped["id"])


def test_delete_releases_and_a_renamed_type_keeps_its_limits(volumes, ctx, admin):
    gold = volumes.create_type(admin, "gold")
    volumes.update_quotas(admin, "p1", {"volumes_gold": 1})
    vol = volumes.create(ctx, {"size": 1, "volume_type": "gold"})
    volumes.delete(ctx, vol["id"])
    assert volumes.show_quotas(ctx, "p1", usage=True)["volumes_gold"]["in_use"] == 0
    vol = volumes.create(ctx, {"size": 1, "volume_type": "gold"})  # the freed one can be used again

    volumes.update_type(admin, gold["id"], {"name": "platinum"})
    shown = volumes.show_quotas(ctx, "p1", usage=True)
    assert "volumes_gold" not in shown
    assert shown["volumes_platinum"] == {"limit": 1, "in_use": 1, "reserved": 0, "allocated": 0}
    with pytest.raises(VolumeQuotaExceeded, match="'volumes_platinum'"):
        volumes.create(ctx, {"size": 1, "volume_type": "platinum"})
    volumes.delete(ctx, vol["id"])
    volumes.delete_type(admin, gold["id"])
    assert "volumes_platinum" not in volumes.show_quotas(ctx, "p1")
    again = volumes.create_type(admin, "platinum")  # a new type of that name starts unlimited
    assert again["id"] != gold["id"] and volumes.show_quotas(ctx, "p1")["volumes_platinum"] == -1


def test_backup_of_a_snapshot_has_its_data_and_incrementals_follow_it(hub, volumes, ctx):
    vol = volumes.create(ctx, {"size": 1})
    path = volume_file(hub, vol["id"])
    write_pattern(path, 0xAB, 0)
    snap = volumes.create_snapshot(ctx, vol["id"])
    write_pattern(path, 0xCD, 0)  # after the snapshot: not in its backup
    backup = volumes.create_backup(ctx, vol["id"], snapshot_id=snap["id"], name="of-snap")
    assert backup["status"] == "available" and backup["snapshot_id"] == snap["id"]
    assert backup["volume_id"] == vol["id"] and backup["size"] == 1
    assert volumes.get_snapshot(ctx, snap["id"])["status"] == "available"
    assert volumes.get(ctx, vol["id"])["status"] == "available"
    # the temporary volume the data was read through is gone, on the driver too
    assert volumes.list(ctx, {})[1] == 1
    files = os.listdir(os.path.dirname(path))
    assert [f for f in files if ".snap-" not in f] == [os.path.basename(path)], files
    restored = volumes.restore_backup(ctx, backup["id"])
    rf = volume_file(hub, restored["volume_id"])
    assert has_pattern(rf, 0xAB, 0) and not has_pattern(rf, 0xCD, 0) and virtual_size(rf) == GIB

    # a backup of the volume now; an incremental of a later snapshot has it as parent
    full = volumes.create_backup(ctx, vol["id"])
    write_pattern(path, 0xEE, 512 * MiB)
    later = volumes.create_snapshot(ctx, vol["id"])
    inc = volumes.create_backup(ctx, vol["id"], snapshot_id=later["id"], incremental=True)
    assert inc["is_incremental"] and inc["parent_id"] == full["id"] and inc["snapshot_id"] == later["id"]
    ri = volume_file(hub, volumes.restore_backup(ctx, inc["id"])["volume_id"])
    assert has_pattern(ri, 0xCD, 0) and has_pattern(ri, 0xEE, 512 * MiB)
    # an incremental of the older snapshot: only backups with older data can be its parent
    older = volumes.create_backup(ctx, vol["id"], snapshot_id=snap["id"], incremental=True)
    assert older["parent_id"] == backup["id"]

    # Cinder lets a snapshot with backups be deleted: a backup does not depend on it
    volumes.delete_snapshot(ctx, later["id"])
    assert volumes.get_backup(ctx, inc["id"])["snapshot_id"] == later["id"]


def test_backup_of_a_snapshot_refusals(volumes, ctx, admin):
    vol = volumes.create(ctx, {"size": 1})
    other = volumes.create(ctx, {"size": 1})
    snap = volumes.create_snapshot(ctx, vol["id"])
    with pytest.raises(exception.Invalid, match="does not match"):
        volumes.create_backup(ctx, other["id"], snapshot_id=snap["id"])
    with pytest.raises(exception.NotFound):
        volumes.create_backup(ctx, vol["id"], snapshot_id="no-such-snapshot")
    with pytest.raises(exception.Invalid, match="incremental"):
        volumes.create_backup(ctx, vol["id"], snapshot_id=snap["id"], incremental=True)
    volumes.reset_snapshot_status(admin, snap["id"], "error")
    with pytest.raises(exception.Invalid, match="must be available"):
        volumes.create_backup(ctx, vol["id"], snapshot_id=snap["id"])
    assert volumes.list_backups(ctx, {})[1] == 0
