"""Manage and unmanage (Cinder's ``os-volume-manage``, ``manageable_volumes``, ``os-unmanage``), for
administrators: take data already on this node's backend as a new volume (the file driver: a
``volume-<name>.qcow2`` in its directory, ``{"source-name": "volume-<name>"}``), list what could be
taken, and let go of a volume without deleting its data (its row goes as on delete; the data stays
and can be managed again). Needs a driver with the ``manage`` capability (VolumeDriver 2.1).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo.interfaces import volume as iface
from cumulo_service_volume.backend import Backend
from cumulo_service_volume.common import as_bool, as_metadata, as_text, driver_volume, now
from cumulo_service_volume.models import Snapshot, Volume, VolumeMetadata
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.services import host_matches
from cumulo_service_volume.voltypes import VolumeTypes
from cumulo_service_volume.volumes import Volumes, load


class Manage:
    def __init__(self, conf: Any, backend: Backend, types: VolumeTypes, quotas: Quotas, volumes: Volumes) -> None:
        self.conf = conf
        self.backend = backend
        self.types = types
        self.quotas = quotas
        self.volumes = volumes

    def manage(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        """A volume of the caller's project holding the data ``fields["ref"]`` names on ``fields["host"]``.

        :raises cumulo.exception.Invalid: another host, a reference naming no data (Cinder's 400), data a
            live volume holds or the driver refuses.
        """
        policy.authorize(ctx, "volume_extension:volume_manage", {"project_id": ctx.project_id})
        ref, host = fields.get("ref"), fields.get("host")
        if not isinstance(ref, dict) or not ref or not all(isinstance(v, str) for v in ref.values()):
            raise exception.ValidationError(field="ref", reason="must be an object such as {\"source-name\": ...}")
        if not isinstance(host, str) or not host:
            raise exception.ValidationError(field="host", reason="is required")
        if not host_matches(host.split("#", 1)[0], self.backend.host) and host.split("#", 1)[0] != self.backend.host:
            raise exception.Invalid(reason=f"Host {host} is not a volume backend of this cloud "
                                           f"({self.backend.host}).")
        self.backend.require("manage")
        name = as_text(fields.get("name"), "name")
        description = as_text(fields.get("description"), "description", maximum=65535)
        metadata = as_metadata(fields.get("metadata"))
        bootable = as_bool(fields.get("bootable", False), "bootable")
        zone = fields.get("availability_zone") or self.conf.volume.storage_availability_zone
        if zone != self.conf.volume.storage_availability_zone:
            raise exception.Invalid(reason=f"Availability zone '{zone}' is invalid.")
        named = str(ref.get("source-name", "")).removeprefix("volume-").removesuffix(".qcow2") or ref.get("source-id")
        with db.transaction() as s:
            live = s.get(Volume, named) if named else None
            if live is not None and not live.deleted:
                raise exception.Invalid(reason=f"The data {ref} is volume {live.id}'s: it is already managed.")
            vtype = self.types.resolve(s, ctx, fields.get("volume_type"))
            row = Volume(id=str(uuid.uuid4()), project_id=ctx.project_id or "", user_id=ctx.user_id, name=name,
                         description=description, size=0, status="creating", host=self.backend.host,
                         availability_zone=zone, volume_type_id=vtype.id, bootable=bootable, readonly=False,
                         multiattach=False, deleted=False, created_at=now())
            row.metadata_items = [VolumeMetadata(key=k, value=v) for k, v in metadata.items()]
            s.add(row)
            s.flush()
            s.refresh(row)
            vol = driver_volume(row)
        try:
            with self.backend.locked(vol.id):
                made = self.backend.driver.manage_existing(vol, {str(k): str(v) for k, v in ref.items()})
        except (iface.VolumeNotFound, iface.VolumeBusy, iface.VolumeDriverError) as err:
            with db.transaction() as s:
                found = s.get(Volume, vol.id)
                if found is not None:
                    s.delete(found)
            raise exception.Invalid(reason=f"Manage existing volume failed due to invalid backend reference "
                                           f"{ref}: {err}") from None
        with db.transaction() as s:
            found = s.get(Volume, vol.id)
            assert found is not None
            try:
                self.quotas.check(s, found.project_id, found.volume_type_id, volumes=1, gigabytes=made.size_gib,
                                  per_volume_gigabytes=made.size_gib)
            except exception.CumuloError:
                found.status, found.error = "error", "quota exceeded"
                raise
            found.size, found.provider_location, found.status = made.size_gib, made.provider_location, "available"
        return self.volumes.get(ctx, vol.id)

    def unmanage(self, ctx: RequestContext, volume_id: str) -> None:
        """Forget the volume, keeping its data on the backend; 400 while attached or with snapshots."""
        self.backend.require("manage")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_unmanage", {"project_id": row.project_id})
            if row.status not in ("available", "error") or row.attachments:
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available or error to unmanage "
                                               f"it, but the current status is: {row.status}.")
            if s.execute(sa.select(Snapshot.id).where(Snapshot.volume_id == volume_id,
                                                      Snapshot.deleted == sa.false())).first():
                raise exception.Invalid(reason=f"Volume {volume_id} has snapshots: it cannot be unmanaged.")
            previous, row.status = row.status, "deleting"
            vol = driver_volume(row)
        try:
            with self.backend.locked(volume_id):
                self.backend.driver.unmanage(vol)
        except iface.VolumeDriverError as err:
            self.volumes._set_status(volume_id, previous)
            raise exception.Invalid(reason=f"The volume driver refused to unmanage volume {volume_id}: {err}") from None
        with db.transaction() as s:
            found = s.get(Volume, volume_id)
            assert found is not None
            found.status, found.deleted, found.deleted_at = "deleted", True, now()
            found.metadata_items = []

    def manageable(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """What the backend could manage; data a live volume holds is not safe (``cinder_id`` names it)."""
        policy.authorize(ctx, "volume_extension:list_manageable", {"project_id": ctx.project_id})
        self.backend.require("manage")
        found = self.backend.driver.get_manageable_volumes()
        with db.reader() as s:
            live = {r for (r,) in s.execute(sa.select(Volume.id).where(Volume.deleted == sa.false()))}
        out = []
        for item in found:
            vid = str(item.reference.get("source-name", "")).removeprefix("volume-")
            managed = vid in live
            out.append({"reference": dict(item.reference), "size": item.size_gib,
                        "safe_to_manage": item.safe_to_manage and not managed,
                        "reason_not_safe": "already managed" if managed else item.reason_not_safe,
                        "cinder_id": vid if managed else None, "extra_info": item.extra_info})
        return out
