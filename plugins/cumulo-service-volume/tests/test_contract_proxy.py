"""The volume contract's 1.1 calls (the compute API's legacy proxies) on the real file driver: typed records
of volumes and snapshots, the caller's project only, and the refusals as the contract names them."""

from __future__ import annotations

from typing import Any

import pytest

from cumulo import exception
from cumulo.contracts.volume import NewVolume, NoSuchVolume, SnapshotRecord, VolumeNotAvailable, VolumeRecord


def test_create_volume_returns_a_record_with_the_1_1_fields(volumes: Any, ctx: Any) -> None:
    made = volumes.create_volume(ctx, NewVolume(size_gib=1, name="v1", description="d", metadata={"Type": "work"}))
    assert isinstance(made, VolumeRecord)
    assert (made.name, made.size_gib, made.status, made.description) == ("v1", 1, "available", "d")
    assert made.metadata == {"Type": "work"} and made.created_at and made.project_id == "p1"
    assert volumes.get_volume(ctx, made.id) == made


def test_list_volumes_is_the_callers_project_newest_first(volumes: Any, ctx: Any, other: Any) -> None:
    first = volumes.create_volume(ctx, NewVolume(size_gib=1, name="a"))
    second = volumes.create_volume(ctx, NewVolume(size_gib=1, name="b"))
    theirs = volumes.create_volume(other, NewVolume(size_gib=1, name="c"))
    ids = [r.id for r in volumes.list_volumes(ctx)]
    assert ids == [second.id, first.id]
    assert [r.id for r in volumes.list_volumes(other)] == [theirs.id]
    with pytest.raises(NoSuchVolume):
        volumes.get_volume(other, first.id)


@pytest.mark.parametrize("size", [0, -1])
def test_create_volume_refuses_a_bad_size(volumes: Any, ctx: Any, size: int) -> None:
    with pytest.raises(exception.Invalid):
        volumes.create_volume(ctx, NewVolume(size_gib=size))
    assert volumes.list_volumes(ctx) == []


def test_snapshot_lifecycle_through_the_contract(volumes: Any, ctx: Any, other: Any) -> None:
    vol = volumes.create_volume(ctx, NewVolume(size_gib=1))
    snap = volumes.create_volume_snapshot(ctx, vol.id, name="s1", description="sd")
    assert isinstance(snap, SnapshotRecord)
    assert (snap.volume_id, snap.name, snap.description, snap.size_gib, snap.status) == (vol.id, "s1", "sd", 1,
                                                                                          "available")
    assert volumes.get_volume_snapshot(ctx, snap.id) == snap
    assert [s.id for s in volumes.list_volume_snapshots(ctx)] == [snap.id]
    assert volumes.list_volume_snapshots(other) == []
    with pytest.raises(VolumeNotAvailable):  # a volume with snapshots cannot go
        volumes.delete_volume(ctx, vol.id)
    volumes.delete_volume_snapshot(ctx, snap.id)
    with pytest.raises(exception.NotFound):
        volumes.get_volume_snapshot(ctx, snap.id)
    with pytest.raises(exception.NotFound):
        volumes.delete_volume_snapshot(ctx, snap.id)
    volumes.delete_volume(ctx, vol.id)
    assert volumes.list_volumes(ctx) == []


def test_snapshot_of_an_unknown_volume_is_no_such_volume(volumes: Any, ctx: Any) -> None:
    with pytest.raises(NoSuchVolume):
        volumes.create_volume_snapshot(ctx, "00000000-0000-0000-0000-000000000000")
