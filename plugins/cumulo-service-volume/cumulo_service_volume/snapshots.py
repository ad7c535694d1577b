"""Snapshots: point-in-time copies of volumes (create, show, list, update, metadata, delete).

Status lifecycle: ``creating --> available --> deleting --> (row marked deleted)``, with ``error``
and ``error_deleting`` when the backend fails. A snapshot that volumes made from it still use
cannot be deleted (the driver's :class:`~cumulo.interfaces.volume.VolumeBusy`: a 400, nothing
changed).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo.interfaces import volume as iface
from cumulo_service_volume import listing
from cumulo_service_volume.backend import Backend
from cumulo_service_volume.common import (
    as_bool,
    as_metadata,
    as_text,
    driver_refusal,
    driver_snapshot,
    driver_volume,
    now,
    snapshot_view,
)
from cumulo_service_volume.models import Snapshot
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.volumes import load, load_snapshot

LOG = logging.getLogger(__name__)

SORT_KEYS = ("created_at", "updated_at", "id", "name", "size", "status", "volume_id", "project_id")
_REFUSALS = (iface.VolumeBusy, iface.InvalidSize, iface.InvalidImage)


def _target(row: Snapshot) -> dict[str, Any]:
    return {"project_id": row.project_id}


class Snapshots:
    def __init__(self, backend: Backend, quotas: Quotas) -> None:
        self.backend = backend
        self.quotas = quotas

    def get(self, ctx: RequestContext, snapshot_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume:get_snapshot", _target(row))
            return snapshot_view(row)

    def list(self, ctx: RequestContext, filters: dict[str, Any], sort_params: dict[str, Any] | None = None,
             limit: int | None = None, marker: str | None = None,
             offset: int | None = None) -> tuple[list[dict[str, Any]], int]:
        policy.authorize(ctx, "volume:get_all_snapshots", {"project_id": ctx.project_id})
        filters = dict(filters)
        all_tenants = ctx.is_admin and as_bool(filters.pop("all_tenants", "false") or "true", "all_tenants")
        project = filters.pop("project_id", None) if ctx.is_admin else None
        sort = listing.parse_sort(sort_params or {}, SORT_KEYS)
        with db.reader() as s:
            q = sa.select(Snapshot).where(Snapshot.deleted == sa.false())
            if not all_tenants or project:
                q = q.where(Snapshot.project_id == (project or ctx.project_id))
            items = [snapshot_view(r) for r in s.execute(q).scalars()]
        match = listing.matcher(filters, {"name": str, "status": str, "volume_id": str, "id": str})
        items = listing.sort_items([i for i in items if match(i)], sort)
        return listing.page(items, marker, limit, offset, "snapshots"), len(items)

    def create(self, ctx: RequestContext, volume_id: Any, name: Any = None, description: Any = None,
               force: Any = False, metadata: Any = None) -> dict[str, Any]:
        """A snapshot of an available volume (an in-use one with ``force``).

        :raises cumulo.exception.Invalid: the volume's status does not allow it, or the driver refuses.
        :raises VolumeQuotaExceeded: the snapshots or gigabytes quota would be exceeded (413).
        """
        if not isinstance(volume_id, str) or not volume_id:  # Cinder looks the volume up: 404
            raise exception.NotFound(f"Volume {volume_id} could not be found.")
        name = as_text(name, "name")
        description = as_text(description, "description", maximum=65535)
        forced = as_bool(force, "force")
        meta = as_metadata(metadata)
        self.backend.require("snapshot")
        with db.transaction() as s:
            vol = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:create_snapshot", {"project_id": vol.project_id})
            if not (vol.status == "available" or (forced and vol.status == "in-use")):
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available, or in-use with force, "
                                               f"to take a snapshot; it is '{vol.status}'.")
            self.quotas.check(s, vol.project_id, vol.volume_type_id, snapshots=1, gigabytes=vol.size)
            row = Snapshot(id=str(uuid.uuid4()), volume_id=volume_id, project_id=vol.project_id, user_id=ctx.user_id,
                           name=name, description=description, volume_size=vol.size, status="creating",
                           progress="0%", host=vol.host, metadata_json=json.dumps(meta) if meta else None,
                           deleted=False, created_at=now())
            s.add(row)
            s.flush()
            snap, volume = driver_snapshot(row), driver_volume(vol)
        try:
            with self.backend.locked(volume_id):
                made = self.backend.driver.create_snapshot(snap, volume)
        except _REFUSALS as err:
            with db.transaction() as s:
                found = s.get(Snapshot, snap.id)
                if found is not None:
                    s.delete(found)
            raise driver_refusal(err, f"The volume driver refused to snapshot volume {volume_id}") from None
        except Exception as err:
            LOG.exception("Creating snapshot %s failed", snap.id)
            self._set(snap.id, "error", str(err))
            return self.get(ctx, snap.id)
        with db.transaction() as s:
            found = s.get(Snapshot, snap.id)
            assert found is not None
            found.status, found.progress, found.provider_location = "available", "100%", made.provider_location
        return self.get(ctx, snap.id)

    @staticmethod
    def _set(snapshot_id: str, status: str, error: str | None = None) -> None:
        with db.transaction() as s:
            row = s.get(Snapshot, snapshot_id)
            if row is not None:
                row.status, row.updated_at = status, now()
                if error is not None:
                    row.error = error

    def update(self, ctx: RequestContext, snapshot_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with db.transaction() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume:update_snapshot", _target(row))
            for key in ("name", "display_name"):
                if key in changes:
                    row.name = as_text(changes[key], "name")
            for key in ("description", "display_description"):
                if key in changes:
                    row.description = as_text(changes[key], "description", maximum=65535)
            row.updated_at = now()
            s.flush()
            return snapshot_view(row)

    def get_metadata(self, ctx: RequestContext, snapshot_id: str) -> dict[str, str]:
        with db.reader() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume:get_snapshot", _target(row))
            return dict(json.loads(row.metadata_json)) if row.metadata_json else {}

    def set_metadata(self, ctx: RequestContext, snapshot_id: str, metadata: Any, replace: bool) -> dict[str, str]:
        meta = as_metadata(metadata)
        with db.transaction() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume:snapshot_metadata", _target(row))
            have = {} if replace or not row.metadata_json else dict(json.loads(row.metadata_json))
            have.update(meta)
            row.metadata_json, row.updated_at = json.dumps(have), now()
            return have

    def delete_metadata(self, ctx: RequestContext, snapshot_id: str, key: str) -> None:
        with db.transaction() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume:snapshot_metadata", _target(row))
            have = dict(json.loads(row.metadata_json)) if row.metadata_json else {}
            if key not in have:
                raise exception.NotFound(f"Snapshot {snapshot_id} has no metadata with key {key}.")
            del have[key]
            row.metadata_json, row.updated_at = json.dumps(have), now()

    def reset_status(self, ctx: RequestContext, snapshot_id: str, status: Any) -> None:
        from cumulo.contracts.volume import SNAPSHOT_STATUSES

        with db.transaction() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume_extension:snapshot_admin_actions:reset_status", _target(row))
            if status not in SNAPSHOT_STATUSES:
                raise exception.ValidationError(field="status", reason=f"'{status}' is not a snapshot status")
            row.status, row.updated_at = str(status), now()

    #: os-update_snapshot_status: the transitions Cinder allows (a backend reporting its progress).
    UPDATES = {"creating": ("available", "error"), "deleting": ("error_deleting",)}

    def update_status(self, ctx: RequestContext, snapshot_id: str, status: Any, progress: Any = None) -> None:
        """``os-update_snapshot_status``: creating -> available|error, deleting -> error_deleting; 400 otherwise."""
        if progress is not None and not (isinstance(progress, str) and progress.rstrip("%").isdigit()):
            raise exception.ValidationError(field="progress", reason=f"{progress!r} is not a percentage")
        with db.transaction() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "snapshot_extension:snapshot_actions:update_snapshot_status", _target(row))
            if status not in self.UPDATES.get(row.status, ()):
                raise exception.Invalid(reason=f"Snapshot status {row.status} not allowed for update_snapshot_status "
                                               f"to {status!r}.")
            row.status, row.updated_at = str(status), now()
            if progress is not None:
                row.progress = progress if progress.endswith("%") else f"{progress}%"

    def delete(self, ctx: RequestContext, snapshot_id: str, force: bool = False) -> None:
        """Delete the snapshot.

        :raises cumulo.exception.Invalid: not available or error (unless ``force``), or volumes made
            from it still use its data.
        """
        with db.transaction() as s:
            row = load_snapshot(s, ctx, snapshot_id)
            policy.authorize(ctx, "volume_extension:snapshot_admin_actions:force_delete" if force
                             else "volume:delete_snapshot", _target(row))
            if not force and row.status not in ("available", "error", "error_deleting"):
                raise exception.Invalid(reason=f"Snapshot {snapshot_id} status must be available or error; it is "
                                               f"'{row.status}'.")
            previous = row.status
            row.status = "deleting"
            snap = driver_snapshot(row)
        try:
            with self.backend.locked(snap.volume_id, snapshot_id):
                self.backend.driver.delete_snapshot(snap)
        except _REFUSALS as err:
            self._set(snapshot_id, previous)
            raise driver_refusal(err, f"The volume driver refused to delete snapshot {snapshot_id}") from None
        except Exception as err:
            LOG.exception("Deleting snapshot %s failed", snapshot_id)
            self._set(snapshot_id, "error_deleting", str(err))
            return
        with db.transaction() as s:
            found = s.get(Snapshot, snapshot_id)
            assert found is not None
            found.status, found.deleted, found.deleted_at = "deleted", True, now()
