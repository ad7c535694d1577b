"""The volume contract's 1.1 calls (:mod:`cumulo.contracts.volume`): volumes and snapshots as typed
records for other areas, built on the components the Block Storage API uses (same policy, quotas and
refusals). The compute API's legacy ``/os-volumes`` and ``/os-snapshots`` proxies call these.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.volume import NewVolume, NoSuchVolume, SnapshotRecord, VolumeNotAvailable, VolumeRecord
from cumulo_service_volume.snapshots import Snapshots
from cumulo_service_volume.volumes import Volumes


def _metadata(value: Any) -> dict[str, str]:
    return {str(k): str(val) for k, val in (value or {}).items()}


def with_details(record: VolumeRecord, view: dict[str, Any]) -> VolumeRecord:
    """``record`` with the 1.1 fields from the service's view of the same volume."""
    return dataclasses.replace(record, description=view.get("description"), created_at=view.get("created_at"),
                               snapshot_id=view.get("snapshot_id"), metadata=_metadata(view.get("metadata")))


def snapshot_record(view: dict[str, Any]) -> SnapshotRecord:
    return SnapshotRecord(id=view["id"], volume_id=view["volume_id"], name=view.get("name") or "",
                          size_gib=int(view["size"]), status=view["status"], project_id=view.get("project_id") or "",
                          description=view.get("description"), created_at=view.get("created_at"),
                          metadata=_metadata(view.get("metadata")))


class ContractProxy:
    """The 1.1 methods of :class:`cumulo.contracts.volume.VolumeContract` (``hub.volume`` delegates)."""

    def __init__(self, volumes: Volumes, snapshots: Snapshots) -> None:
        self.volumes = volumes
        self.snapshots = snapshots

    def get_volume(self, ctx: RequestContext, volume_id: str) -> VolumeRecord:
        return with_details(self.volumes.record(ctx, volume_id), self.volumes.get(ctx, volume_id))

    def list_volumes(self, ctx: RequestContext) -> list[VolumeRecord]:
        views, _ = self.volumes.list(ctx, {})
        out = []
        for view in views:
            try:
                out.append(self.get_volume(ctx, view["id"]))
            except NoSuchVolume:  # deleted meanwhile
                continue
        return out

    def create_volume(self, ctx: RequestContext, spec: NewVolume) -> VolumeRecord:
        if spec.size_gib is None and not spec.snapshot_id:
            raise exception.ValidationError(field="size", reason="is required")
        made = self.volumes.create(ctx, {"size": spec.size_gib, "name": spec.name or None,
                                         "description": spec.description, "volume_type": spec.volume_type,
                                         "availability_zone": spec.availability_zone,
                                         "snapshot_id": spec.snapshot_id, "metadata": dict(spec.metadata)})
        return self.get_volume(ctx, made["id"])

    def list_volume_snapshots(self, ctx: RequestContext) -> list[SnapshotRecord]:
        views, _ = self.snapshots.list(ctx, {})
        return [snapshot_record(view) for view in views]

    def get_volume_snapshot(self, ctx: RequestContext, snapshot_id: str) -> SnapshotRecord:
        return snapshot_record(self.snapshots.get(ctx, snapshot_id))

    def create_volume_snapshot(self, ctx: RequestContext, volume_id: str, name: str = "",
                               description: str | None = None, force: bool = False) -> SnapshotRecord:
        return snapshot_record(self.snapshots.create(ctx, volume_id, name=name or None, description=description,
                                                     force=force))

    def delete_volume_snapshot(self, ctx: RequestContext, snapshot_id: str) -> None:
        try:
            self.snapshots.delete(ctx, snapshot_id)
        except exception.Invalid as err:
            raise VolumeNotAvailable(reason=err.message) from None


__all__ = ["ContractProxy", "snapshot_record", "with_details"]
