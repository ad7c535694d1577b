"""Volume records and their lifecycle: create (empty, from a snapshot, a volume or an image), show, list,
update, metadata, extend, bootable/read-only flags, delete, and the attachments other areas make.

Status lifecycle (each change a conditional update, so two requests never
both take a volume)::

    creating --ok--> available <--> extending          (--driver error--> error / error_extending)
    available --reserve--> attaching --attach--> in-use --detach (last)--> available
    available|error --delete--> deleting --> (row marked deleted)    (--driver error--> error_deleting)

A refusal by the driver (:class:`~cumulo.interfaces.volume.VolumeBusy`,
``InvalidSize``, ``InvalidImage``) is a 400 that changes nothing: a create
it refuses leaves no volume behind, an extend or delete restores the status.
Driver calls run outside any database transaction.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import logging
import math
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo.contracts.volume import AttachmentRecord, NoSuchVolume, VolumeNotAvailable, VolumeRecord
from cumulo.interfaces import volume as iface
from cumulo_service_volume import listing, messages
from cumulo_service_volume.backend import Backend
from cumulo_service_volume.common import (
    SnapshotNotFound,
    VolumeQuotaExceeded,
    as_bool,
    as_metadata,
    as_size,
    as_text,
    attachment_record,
    driver_refusal,
    driver_snapshot,
    driver_volume,
    iso,
    may_see,
    now,
    volume_record,
    volume_view,
)
from cumulo_service_volume.models import Group, Snapshot, Volume, VolumeAttachment, VolumeMetadata
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.voltypes import VolumeTypes

LOG = logging.getLogger(__name__)

#: Statuses a volume may be deleted in: Cinder's, and error_deleting to finish a delete
#: (attachments and snapshots are checked too).
DELETABLE = ("available", "error", "error_deleting", "error_restoring", "error_extending", "error_managing")
SORT_KEYS = ("created_at", "updated_at", "id", "name", "size", "status", "availability_zone", "bootable",
             "volume_type", "project_id")
_REFUSALS = (iface.VolumeBusy, iface.InvalidSize, iface.InvalidImage)
#: Image disk formats a driver writes (``DiskFormat``).
IMAGE_FORMATS = ("raw", "qcow2")
#: volume_image_metadata keys that describe the source image itself, not properties to copy to a new image.
_IMAGE_OWN_KEYS = frozenset({"image_id", "image_name", "disk_format", "container_format", "min_disk", "min_ram",
                             "size", "checksum", "os_hash_algo", "os_hash_value", "virtual_size"})


@dataclasses.dataclass(frozen=True)
class _Plan:
    """What a create must do with the driver once the row exists."""

    volume: iface.Volume
    snapshot: iface.Snapshot | None = None
    source: iface.Volume | None = None
    image: dict[str, Any] | None = None


def load(s: orm.Session, ctx: RequestContext, volume_id: str) -> Volume:
    """A live volume ``ctx`` may see; :class:`NoSuchVolume` otherwise."""
    row = s.get(Volume, volume_id)
    if row is None or row.deleted or not may_see(ctx, row.project_id):
        raise NoSuchVolume(resource="Volume", id=volume_id)
    return row


def load_snapshot(s: orm.Session, ctx: RequestContext, snapshot_id: str) -> Snapshot:
    row = s.get(Snapshot, snapshot_id)
    if row is None or row.deleted or not may_see(ctx, row.project_id):
        raise SnapshotNotFound(resource="Snapshot", id=snapshot_id)
    return row


def _check_group(s: orm.Session, ctx: RequestContext, group_id: str, type_id: str) -> None:
    """A new volume may join a group the caller sees, that is available (or being made), of its type."""
    group = s.get(Group, group_id)
    if group is None or group.deleted or not may_see(ctx, group.project_id):
        raise exception.NotFound(f"Group {group_id} could not be found.")
    if group.status not in ("available", "creating"):
        raise exception.Invalid(reason=f"Group {group_id} status must be available to add a volume, not "
                                       f"'{group.status}'.")
    if type_id not in json.loads(group.volume_type_ids):
        raise exception.Invalid(reason=f"The volume's type {type_id} is not one of group {group_id}'s volume types.")


def _target(row: Volume) -> dict[str, Any]:
    return {"project_id": row.project_id}


class Volumes:
    """The volume records; data through ``backend``, types from ``types``, limits from ``quotas``."""

    def __init__(self, hub: Any, backend: Backend, types: VolumeTypes, quotas: Quotas) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.backend = backend
        self.types = types
        self.quotas = quotas

    # -- reads
    def get(self, ctx: RequestContext, volume_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:get", _target(row))
            return volume_view(row)

    def record(self, ctx: RequestContext, volume_id: str) -> VolumeRecord:
        with db.reader() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:get", _target(row))
            return volume_record(row)

    def list(self, ctx: RequestContext, filters: dict[str, Any], sort_params: dict[str, Any] | None = None,
             limit: int | None = None, marker: str | None = None,
             offset: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """The volumes ``ctx`` may see that match ``filters``, sorted and paged; and how many matched.

        ``all_tenants`` (admins) lists every project's, ``project_id`` then narrows it.
        """
        policy.authorize(ctx, "volume:get_all", {"project_id": ctx.project_id})
        filters = dict(filters)
        all_tenants = ctx.is_admin and as_bool(filters.pop("all_tenants", "false") or "true", "all_tenants")
        project = filters.pop("project_id", None) if ctx.is_admin else None
        sort = listing.parse_sort(sort_params or {}, SORT_KEYS)
        with db.reader() as s:
            q = sa.select(Volume).where(Volume.deleted == sa.false())
            if not all_tenants or project:
                q = q.where(Volume.project_id == (project or ctx.project_id))
            items = [volume_view(r) for r in s.execute(q).scalars()]
        match = listing.matcher(filters, {
            "name": str, "status": str, "availability_zone": str, "volume_type": str, "size": int,
            "bootable": lambda v: as_bool(v, "bootable"), "id": str,
        })
        items = listing.sort_items([i for i in items if match(i)], sort)
        return listing.page(items, marker, limit, offset, "volumes"), len(items)

    # -- create
    def create(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        """A new volume (``fields``: size, name, description, metadata, volume_type, availability_zone,
        snapshot_id, source_volid, imageRef, multiattach). Returns it ``available`` (or ``error`` when the
        backend failed).

        :raises cumulo.exception.Invalid: a bad field, a source in the wrong status, a size smaller
            than the source, an image that does not fit; or a driver refusal.
        :raises cumulo.exception.NotFound: an unknown type, snapshot or source volume (404).
        :raises VolumeQuotaExceeded: a quota would be exceeded (413).
        """
        policy.authorize(ctx, "volume:create", {"project_id": ctx.project_id})
        name = as_text(fields.get("name"), "name")
        description = as_text(fields.get("description"), "description", maximum=65535)
        metadata = as_metadata(fields.get("metadata"))
        snapshot_id = fields.get("snapshot_id") or None
        source_volid = fields.get("source_volid") or None
        image_ref = fields.get("imageRef") or fields.get("image_id") or None
        for key, value in (("snapshot_id", snapshot_id), ("source_volid", source_volid), ("imageRef", image_ref)):
            if value is not None and not isinstance(value, str):
                raise exception.ValidationError(field=key, reason=f"{value!r} is not an id")
        if len([x for x in (snapshot_id, source_volid, image_ref) if x]) > 1:
            raise exception.Invalid(reason="Only one of snapshot_id, source_volid and imageRef may be given.")
        size = as_size(fields["size"]) if fields.get("size") is not None else None
        if size is None and not (snapshot_id or source_volid):
            raise exception.ValidationError(field="size", reason="is required unless creating from a snapshot or "
                                                                 "a volume")
        group_id = fields.get("group_id") or None
        if group_id is not None and not isinstance(group_id, str):
            raise exception.ValidationError(field="group_id", reason=f"{group_id!r} is not an id")
        multiattach = as_bool(fields.get("multiattach", False), "multiattach")
        if multiattach:
            policy.authorize(ctx, "volume:multiattach", {"project_id": ctx.project_id})
        zone = fields.get("availability_zone") or self.conf.volume.storage_availability_zone
        if zone != self.conf.volume.storage_availability_zone:
            raise exception.Invalid(reason=f"Availability zone '{zone}' is invalid.")
        image = None
        if image_ref:
            policy.authorize(ctx, "volume:create_from_image", {"project_id": ctx.project_id})
            self.backend.require("image")
            image = self._image(ctx, image_ref, size)
        if snapshot_id:
            self.backend.require("snapshot")
        if source_volid:
            self.backend.require("clone")

        @db.retry_on_deadlock
        def _record() -> _Plan:
            with db.transaction() as s:
                nonlocal size
                type_ref = fields.get("volume_type")
                snap = src = None
                if snapshot_id:
                    snap = load_snapshot(s, ctx, snapshot_id)
                    if snap.status != "available":
                        raise exception.Invalid(reason=f"Originating snapshot status must be one of 'available' "
                                                       f"values, not '{snap.status}'.")
                    size = size or snap.volume_size
                    if size < snap.volume_size:
                        raise exception.Invalid(reason=f"Volume size '{size}'GB cannot be smaller than the snapshot "
                                                       f"size {snap.volume_size}GB.")
                    if not type_ref:
                        parent = s.get(Volume, snap.volume_id)
                        type_ref = parent.volume_type_id if parent is not None else None
                if source_volid:
                    src = load(s, ctx, source_volid)
                    if src.status not in ("available", "in-use"):
                        raise exception.Invalid(reason=f"Source volume status must be available or in-use, not "
                                                       f"'{src.status}'.")
                    size = size or src.size
                    if size < src.size:
                        raise exception.Invalid(reason=f"Volume size '{size}'GB cannot be smaller than the source "
                                                       f"volume size {src.size}GB.")
                    type_ref = type_ref or src.volume_type_id
                assert size is not None
                vtype = self.types.resolve(s, ctx, type_ref)
                if group_id is not None:
                    _check_group(s, ctx, group_id, vtype.id)
                self.quotas.check(s, ctx.project_id or "", vtype.id, volumes=1, gigabytes=size,
                                  per_volume_gigabytes=size)
                row = Volume(id=str(uuid.uuid4()), project_id=ctx.project_id or "", user_id=ctx.user_id, name=name,
                             description=description, size=size, status="creating", host=self.backend.host,
                             availability_zone=zone, volume_type_id=vtype.id, snapshot_id=snapshot_id,
                             source_volid=source_volid, image_id=image["id"] if image else None,
                             bootable=bool(src.bootable) if src is not None else False, readonly=False,
                             multiattach=multiattach, group_id=group_id, deleted=False, created_at=now())
                row.metadata_items = [VolumeMetadata(key=k, value=v) for k, v in metadata.items()]
                s.add(row)
                s.flush()
                s.refresh(row)
                return _Plan(driver_volume(row), driver_snapshot(snap) if snap is not None else None,
                             driver_volume(src) if src is not None else None, image)

        plan = _record()
        unmatched = self.backend.unmatched(dict(plan.volume.extra_specs)) or self.backend.unavailable()
        if unmatched is not None:  # Cinder's scheduler leaves such a volume in error: no valid backend
            LOG.warning("No valid backend for volume %s: %s", plan.volume.id, unmatched)
            self._set_status(plan.volume.id, "error", f"No valid backend was found: {unmatched}")
            messages.record(ctx, "VOLUME", plan.volume.id, messages.NO_VALID_BACKEND)
            return self.get(ctx, plan.volume.id)
        return self._provision(ctx, plan)

    def _image(self, ctx: RequestContext, image_ref: str, size: int | None) -> dict[str, Any]:
        try:
            image = self.hub.image.get(ctx, image_ref)
        except exception.NotFound:
            raise exception.Invalid(reason=f"Invalid image identifier or unable to access requested image "
                                           f"{image_ref}.") from None
        if image.get("status") != "active":
            raise exception.Invalid(reason=f"Image {image_ref} is not active (status '{image.get('status')}').")
        if image.get("disk_format") not in IMAGE_FORMATS:
            raise exception.Invalid(reason=f"Image {image_ref} has disk format '{image.get('disk_format')}'; "
                                           f"volumes are made from {' or '.join(IMAGE_FORMATS)} images.")
        needed = math.ceil(max(image.get("virtual_size") or 0, image.get("size") or 0) / iface.GIB)
        needed = max(needed, int(image.get("min_disk") or 0))
        if size is not None and size < needed:
            raise exception.Invalid(reason=f"Volume size {size}GB cannot be smaller than the image size or minDisk "
                                           f"({needed}GB) of image {image_ref}.")
        return dict(image)

    def _provision(self, ctx: RequestContext, plan: _Plan) -> dict[str, Any]:
        vol = plan.volume
        driver = self.backend.driver
        flatten = bool(self.conf.volume.flatten_volume_from_snapshot)
        image_meta: str | None = None
        try:
            with self.backend.locked(vol.id, plan.source.id if plan.source else None,
                                     plan.snapshot.volume_id if plan.snapshot else None):
                if plan.snapshot is not None:
                    made = driver.create_volume_from_snapshot(vol, plan.snapshot, flatten=flatten)
                elif plan.source is not None:
                    made = driver.clone_volume(vol, plan.source, flatten=flatten)
                else:
                    made = driver.create_volume(vol)
                if plan.image is not None:
                    image = plan.image
                    chunks = self.hub.image.download(ctx, image["id"])
                    try:
                        driver.copy_image_to_volume(dataclasses.replace(vol, provider_location=made.provider_location),
                                                    chunks, image["disk_format"])
                    finally:
                        close = getattr(chunks, "close", None)
                        if close is not None:
                            close()
                    image_meta = json.dumps(_image_metadata(image))
        except _REFUSALS as err:
            self._discard(vol)
            raise driver_refusal(err, "The volume driver refused to create the volume") from None
        except exception.CumuloError:  # the image's data could not be read (gone, forbidden): nothing made
            self._discard(vol)
            raise
        except Exception as err:  # the backend failed: the volume is in error, as Cinder leaves it
            LOG.exception("Creating volume %s failed", vol.id)
            with db.transaction() as s:
                row = s.get(Volume, vol.id)
                if row is not None:
                    row.status, row.error = "error", str(err) or type(err).__name__
            return self.get(ctx, vol.id)
        with db.transaction() as s:
            row = s.get(Volume, vol.id)
            assert row is not None
            row.status, row.provider_location = "available", made.provider_location
            if image_meta is not None:
                row.image_metadata, row.bootable = image_meta, True
        return self.get(ctx, vol.id)

    def _discard(self, vol: iface.Volume) -> None:
        """Remove what a refused create left: the driver's data (if any) and the row (quota freed)."""
        try:
            self.backend.driver.delete_volume(vol)
        except Exception:
            LOG.exception("Removing the data of refused volume %s failed", vol.id)
        with db.transaction() as s:
            row = s.get(Volume, vol.id)
            if row is not None:
                s.delete(row)

    # -- update and metadata
    def update(self, ctx: RequestContext, volume_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:update", _target(row))
            for key in ("name", "display_name"):
                if key in changes:
                    row.name = as_text(changes[key], "name")
            for key in ("description", "display_description"):
                if key in changes:
                    row.description = as_text(changes[key], "description", maximum=65535)
            if "metadata" in changes:
                self._replace_metadata(row, as_metadata(changes["metadata"]))
            row.updated_at = now()
            s.flush()
            return volume_view(row)

    @staticmethod
    def _replace_metadata(row: Volume, metadata: dict[str, str]) -> None:
        keep = [m for m in row.metadata_items if m.key in metadata]
        for item in keep:
            item.value = metadata[item.key]
        have = {m.key for m in keep}
        row.metadata_items = keep + [VolumeMetadata(key=k, value=v) for k, v in metadata.items() if k not in have]

    def get_metadata(self, ctx: RequestContext, volume_id: str) -> dict[str, str]:
        with db.reader() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:get_volume_metadata", _target(row))
            return {m.key: m.value for m in row.metadata_items}

    def set_metadata(self, ctx: RequestContext, volume_id: str, metadata: Any, replace: bool) -> dict[str, str]:
        """Merge ``metadata`` into the volume's (or replace it all with ``replace``)."""
        metadata = as_metadata(metadata)
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:update_volume_metadata" if replace else "volume:create_volume_metadata",
                             _target(row))
            merged = metadata if replace else {**{m.key: m.value for m in row.metadata_items}, **metadata}
            self._replace_metadata(row, merged)
            row.updated_at = now()
            s.flush()
            return {m.key: m.value for m in row.metadata_items}

    def delete_metadata(self, ctx: RequestContext, volume_id: str, key: str) -> None:
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:delete_volume_metadata", _target(row))
            found = [m for m in row.metadata_items if m.key == key]
            if not found:
                raise exception.NotFound(f"Volume {volume_id} has no metadata with key {key}.")
            row.metadata_items.remove(found[0])
            row.updated_at = now()

    # -- actions
    def set_bootable(self, ctx: RequestContext, volume_id: str, value: Any) -> None:
        bootable = as_bool(value, "bootable")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:set_bootable", _target(row))
            row.bootable, row.updated_at = bootable, now()

    def set_readonly(self, ctx: RequestContext, volume_id: str, value: Any) -> None:
        readonly = as_bool(value, "readonly")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:update_readonly_flag", _target(row))
            if row.status != "available":
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available to update its "
                                               f"readonly flag, but the current status is: {row.status}.")
            row.readonly, row.updated_at = readonly, now()
            admin = json.loads(row.admin_metadata) if row.admin_metadata else {}
            row.admin_metadata = json.dumps({**admin, "readonly": str(readonly)})

    def retype(self, ctx: RequestContext, volume_id: str, new_type: Any, migration_policy: Any = None) -> None:
        """``os-retype``: give an available or in-use volume another type this backend can hold (no migration:
        one backend); the new type's quotas are checked. 400 when the backend does not match the new type."""
        if not isinstance(new_type, str) or not new_type:
            raise exception.ValidationError(field="new_type", reason="is required")
        if migration_policy not in (None, "never", "on-demand"):
            raise exception.ValidationError(field="migration_policy", reason="must be never or on-demand")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:retype", _target(row))
            if row.status not in ("available", "in-use"):
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available or in-use to retype, "
                                               f"but the current status is: {row.status}.")
            vtype = self.types.find(s, ctx, new_type)
            if vtype.id == row.volume_type_id:
                raise exception.Invalid(reason=f"Volume {volume_id} already has type {vtype.name}.")
            if row.group_id:
                raise exception.Invalid(reason=f"Volume {volume_id} is in a group: remove it first.")
            unmatched = self.backend.unmatched({sp.key: sp.value for sp in vtype.extra_specs})
            if unmatched is not None:
                raise exception.Invalid(reason=f"Retyping volume {volume_id} needs a migration, which this cloud "
                                               f"cannot do: {unmatched}.")
            snaps = s.execute(sa.select(Snapshot).where(Snapshot.volume_id == volume_id,
                                                        Snapshot.deleted == sa.false())).scalars().all()
            names = {f"volumes_{vtype.name}": 1, f"snapshots_{vtype.name}": len(snaps),
                     f"gigabytes_{vtype.name}": row.size + sum(sn.volume_size for sn in snaps)}
            limits, used = self.quotas.limits(s, row.project_id), self.quotas.usage(s, row.project_id)
            for key, delta in names.items():
                if delta and 0 <= limits.get(key, -1) < used.get(key, 0) + delta:
                    raise VolumeQuotaExceeded(f"Retyping volume {volume_id} exceeds the {key} quota.",
                                              resource=key, requested=delta, used=used.get(key, 0),
                                              limit=limits[key])
            row.volume_type_id, row.updated_at = vtype.id, now()

    def reset_status(self, ctx: RequestContext, volume_id: str, status: Any) -> None:
        from cumulo.contracts.volume import VOLUME_STATUSES

        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_admin_actions:reset_status", _target(row))
            if status not in VOLUME_STATUSES:
                raise exception.ValidationError(field="status", reason=f"'{status}' is not a volume status")
            row.status, row.updated_at = str(status), now()

    def extend(self, ctx: RequestContext, volume_id: str, new_size: Any, in_use: bool = False) -> None:
        """Grow an available volume (or, with ``in_use``, an attached one) to ``new_size`` GiB.

        An attached volume the driver cannot grow while exported is refused (400), as Cinder 3.42
        refuses it when the backend cannot.

        :raises cumulo.exception.Invalid: not available (in-use), ``new_size`` is not larger, or the
            driver refuses.
        :raises VolumeQuotaExceeded: the gigabytes quota would be exceeded.
        """
        size = as_size(new_size, "new_size")
        self.backend.require("extend")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:extend", _target(row))
            allowed = ("available", "in-use") if in_use else ("available",)
            if row.status not in allowed:
                raise exception.Invalid(reason=f"Volume {volume_id} status must be {' or '.join(allowed)} to "
                                               f"extend, but the current status is: {row.status}.")
            previous = row.status
            if size <= row.size:
                raise exception.Invalid(reason=f"New size for extend must be greater than current size. (current: "
                                               f"{row.size}, extended: {size}).")
            self.quotas.check(s, row.project_id, row.volume_type_id, gigabytes=size - row.size,
                              per_volume_gigabytes=size)
            row.status = "extending"
            vol = driver_volume(row)
        try:
            with self.backend.locked(volume_id):
                self.backend.driver.extend_volume(vol, size)
        except _REFUSALS as err:
            self._set_status(volume_id, previous)
            raise driver_refusal(err, f"The volume driver refused to extend volume {volume_id}") from None
        except Exception as err:
            LOG.exception("Extending volume %s failed", volume_id)
            self._set_status(volume_id, "error_extending", str(err))
            return
        with db.transaction() as s:
            found = s.get(Volume, volume_id)
            assert found is not None
            found.size, found.status, found.updated_at = size, previous, now()

    @staticmethod
    def _set_status(volume_id: str, status: str, error: str | None = None) -> None:
        with db.transaction() as s:
            row = s.get(Volume, volume_id)
            if row is not None:
                row.status, row.updated_at = status, now()
                if error is not None:
                    row.error = error

    # -- volume to image
    def upload_to_image(self, ctx: RequestContext, volume_id: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Copy the volume into a new image (``os-volume_upload_image``): ``image_name``, ``disk_format``
        (raw or qcow2), ``container_format`` (bare), ``visibility``, ``protected``, ``force`` (in-use volumes).

        The volume is ``uploading`` while its data streams into the image service, then back to what it
        was; the image is active when this returns. Returns the image's and volume's facts Cinder answers.

        :raises cumulo.exception.Invalid: a bad field, a volume not available (in-use without
            ``force``), or the driver refuses (an exported volume it cannot read); the image is removed.
        :raises cumulo.exception.ServiceUnavailable: the copy failed; the image is removed.
        """
        image_name = as_text(fields.get("image_name"), "image_name", allow_none=False)
        disk_format = fields.get("disk_format") or "raw"
        if disk_format not in IMAGE_FORMATS:
            raise exception.ValidationError(field="disk_format", reason=f"'{disk_format}' is not one of "
                                                                        f"{', '.join(IMAGE_FORMATS)}")
        container_format = fields.get("container_format") or "bare"
        if container_format != "bare":
            raise exception.ValidationError(field="container_format", reason="must be bare")
        forced = as_bool(fields.get("force", False), "force")
        visibility = fields.get("visibility") or "private"
        if visibility not in ("public", "private", "shared", "community"):
            raise exception.ValidationError(field="visibility", reason=f"'{visibility}' is not a visibility")
        protected = as_bool(fields.get("protected", False), "protected")
        self.backend.require("image")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:upload_image", _target(row))
            if visibility == "public":
                policy.authorize(ctx, "volume_extension:volume_actions:upload_public", _target(row))
            if not (row.status == "available" or (forced and row.status == "in-use")):
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available or in-use (with "
                                               f"force) to upload it, but the current status is: {row.status}.")
            previous, row.status = row.status, "uploading"
            vol = driver_volume(row)
            facts = {"id": row.id, "size": row.size, "display_description": row.description,
                     "volume_type": ({"id": row.volume_type.id, "name": row.volume_type.name}
                                     if row.volume_type is not None else None)}
            source_meta = json.loads(row.image_metadata) if row.image_metadata else {}
        image: dict[str, Any] | None = None
        try:
            properties = {k: v for k, v in source_meta.items() if k not in _IMAGE_OWN_KEYS}
            image = self.hub.image.create(ctx, {"name": image_name, "disk_format": disk_format,
                                                "container_format": container_format, "visibility": visibility,
                                                "protected": protected, "min_disk": vol.size_gib, **properties})
            with self.backend.locked(volume_id):
                fmt: iface.DiskFormat = "qcow2" if disk_format == "qcow2" else "raw"
                chunks = self.backend.driver.copy_volume_to_image(vol, fmt)
                try:
                    self.hub.image.upload(ctx, image["id"], chunks)
                finally:
                    close = getattr(chunks, "close", None)
                    if close is not None:
                        close()
        except Exception as err:
            self._set_status(volume_id, previous)
            if image is not None:
                self._drop_image(ctx, image["id"])
            if isinstance(err, _REFUSALS):
                raise driver_refusal(err, f"The volume driver refused to copy volume {volume_id}") from None
            if isinstance(err, exception.CumuloError) and err.code < 500:
                raise
            LOG.exception("Uploading volume %s to an image failed", volume_id)
            raise exception.ServiceUnavailable(reason=f"Copying volume {volume_id} to an image failed: "
                                                      f"{err}") from None
        self._set_status(volume_id, previous)
        assert image is not None
        return {**facts, "status": "uploading", "updated_at": iso(now()), "image_id": image["id"],
                "image_name": image_name, "disk_format": disk_format, "container_format": container_format,
                "visibility": visibility, "protected": protected}

    def _drop_image(self, ctx: RequestContext, image_id: str) -> None:
        try:
            if self.hub.image.get(ctx, image_id).get("protected"):
                self.hub.image.update(ctx, image_id, {"protected": False})
            self.hub.image.delete(ctx, image_id)
        except Exception:
            LOG.exception("Removing image %s of a failed upload failed", image_id)

    # -- delete
    def delete(self, ctx: RequestContext, volume_id: str, cascade: bool = False, force: bool = False) -> None:
        """Delete the volume (with ``cascade`` its snapshots first; ``force``: any status, admins only).

        :raises cumulo.exception.Invalid: attached, in a status that cannot be deleted, or with
            snapshots (without ``cascade``); or the driver refuses (a clone still uses its data).
        """
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:force_delete" if force else "volume:delete", _target(row))
            live = [a for a in row.attachments if not force or a.attach_status != "reserved"]
            if live or (not force and row.status in ("in-use", "attaching", "detaching", "reserved")):
                raise exception.Invalid(reason=f"Volume {volume_id} is attached (status '{row.status}'); detach it "
                                               "before deleting it.")
            if not force and row.status not in DELETABLE:
                raise exception.Invalid(reason=f"Volume status must be available or error or error_restoring or "
                                               f"error_extending or error_managing and must not be migrating, "
                                               f"attached, belong to a group, have snapshots or be disassociated "
                                               f"from snapshots after volume transfer; volume {volume_id} is "
                                               f"'{row.status}'.")
            snaps = s.execute(sa.select(Snapshot).where(Snapshot.volume_id == volume_id,
                                                        Snapshot.deleted == sa.false())).scalars().all()
            if snaps and not cascade:
                raise exception.Invalid(reason=f"Volume {volume_id} still has {len(snaps)} dependent snapshot(s); "
                                               "delete them first (or delete with cascade).")
            busy = [sn.id for sn in snaps if sn.status not in ("available", "error", "error_deleting")]
            if busy:
                raise exception.Invalid(reason=f"Snapshots {', '.join(busy)} of volume {volume_id} are busy.")
            previous = row.status
            row.status = "deleting"
            for att in list(row.attachments):  # a forced delete drops reservations never attached
                row.attachments.remove(att)
            for sn in snaps:
                sn.status = "deleting"
            vol = driver_volume(row)
            snap_records = [driver_snapshot(sn) for sn in snaps]
        driver = self.backend.driver
        try:
            with self.backend.locked(volume_id, *[sn.id for sn in snap_records]):
                for rec in snap_records:
                    driver.delete_snapshot(rec)
                    self._mark_snapshot_deleted(rec.id)
                driver.delete_volume(vol)
        except _REFUSALS as err:
            self._restore(volume_id, previous)
            raise driver_refusal(err, f"The volume driver refused to delete volume {volume_id}") from None
        except Exception as err:
            LOG.exception("Deleting volume %s failed", volume_id)
            self._set_status(volume_id, "error_deleting", str(err))
            return
        with db.transaction() as s:
            found = s.get(Volume, volume_id)
            assert found is not None
            found.status, found.deleted, found.deleted_at = "deleted", True, now()
            found.metadata_items = []

    @staticmethod
    def _mark_snapshot_deleted(snapshot_id: str) -> None:
        with db.transaction() as s:
            sn = s.get(Snapshot, snapshot_id)
            if sn is not None:
                sn.status, sn.deleted, sn.deleted_at = "deleted", True, now()

    @staticmethod
    def _restore(volume_id: str, status: str) -> None:
        with db.transaction() as s:
            row = s.get(Volume, volume_id)
            if row is not None:
                row.status = status
            for sn in s.execute(sa.select(Snapshot).where(Snapshot.volume_id == volume_id,
                                                          Snapshot.status == "deleting")).scalars():
                sn.status = "available"

    # -- attachments (the contract's reserve/attach/detach)
    def reserve(self, ctx: RequestContext, volume_id: str, server_id: str) -> AttachmentRecord:
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:update", _target(row))
            for att in row.attachments:
                if att.instance_uuid == server_id:
                    return attachment_record(att)
            if not (row.status == "available" or (row.multiattach and row.status == "in-use")):
                raise VolumeNotAvailable(reason=f"Volume {volume_id} status must be available to attach, but the "
                                                f"current status is: {row.status}.")
            att = VolumeAttachment(id=str(uuid.uuid4()), volume_id=volume_id, instance_uuid=server_id,
                                   attach_mode="ro" if row.readonly else "rw", attach_status="reserved",
                                   created_at=now())
            row.attachments.append(att)
            if row.status == "available":
                row.status = "attaching"
            s.flush()
            return attachment_record(att)

    def _attachment(self, s: orm.Session, ctx: RequestContext, attachment_id: str) -> VolumeAttachment:
        att = s.get(VolumeAttachment, attachment_id)
        if att is None:
            raise NoSuchVolume(resource="Attachment", id=attachment_id)
        load(s, ctx, att.volume_id)
        return att

    def list_attachments(self, ctx: RequestContext, all_projects: bool = False) -> builtins.list[dict[str, Any]]:
        """The attachments of the volumes ``ctx`` may see (connection info for admins only)."""
        policy.authorize(ctx, "volume:attachment_get_all", {"project_id": ctx.project_id})
        with db.reader() as s:
            q = sa.select(VolumeAttachment).join(Volume, Volume.id == VolumeAttachment.volume_id).where(
                Volume.deleted == sa.false())
            if not (ctx.is_admin and all_projects):
                q = q.where(Volume.project_id == ctx.project_id)
            rows = s.execute(q.order_by(VolumeAttachment.created_at)).scalars().all()
            return [attachment_view(a, ctx.is_admin) for a in rows]

    def get_attachment(self, ctx: RequestContext, attachment_id: str) -> dict[str, Any]:
        with db.reader() as s:
            att = self._attachment(s, ctx, attachment_id)
            policy.authorize(ctx, "volume:attachment_get", {"project_id": ctx.project_id})
            return attachment_view(att, ctx.is_admin)

    def unreserve(self, ctx: RequestContext, attachment_id: str) -> None:
        with db.transaction() as s:
            att = self._attachment(s, ctx, attachment_id)
            if att.attach_status == "attached":
                raise VolumeNotAvailable(reason=f"Attachment {attachment_id} is attached; detach it.")
            row = s.get(Volume, att.volume_id)
            assert row is not None
            row.attachments.remove(att)
            row.status = _status_after(row)

    def attach(self, ctx: RequestContext, attachment_id: str, connector: iface.Connector,
               mountpoint: str | None = None) -> iface.ConnectionInfo:
        with db.transaction() as s:
            att = self._attachment(s, ctx, attachment_id)
            if att.attach_status not in ("reserved", "attaching"):
                raise VolumeNotAvailable(reason=f"Attachment {attachment_id} is {att.attach_status}, not reserved.")
            att.attach_status = "attaching"
            row = s.get(Volume, att.volume_id)
            assert row is not None
            vol = driver_volume(row)
        try:
            with self.backend.locked(vol.id):
                info = self.backend.driver.initialize_connection(vol, connector)
        except Exception as err:
            with db.transaction() as s:
                found = s.get(VolumeAttachment, attachment_id)
                if found is not None:
                    found.attach_status = "reserved"
            LOG.exception("Exporting volume %s to %s failed", vol.id, connector.host)
            raise exception.ServiceUnavailable(reason=f"The volume driver could not export volume {vol.id}: "
                                                      f"{err}") from None
        if att.attach_mode == "ro":
            info = dataclasses.replace(info, read_only=True)
        with db.transaction() as s:
            found = s.get(VolumeAttachment, attachment_id)
            assert found is not None
            found.attach_status, found.attached_host, found.mountpoint = "attached", connector.host, mountpoint
            found.attached_at = now()
            found.connector = json.dumps(dataclasses.asdict(connector))
            found.connection_info = json.dumps(connection_view(info))
            volume = s.get(Volume, found.volume_id)
            assert volume is not None
            volume.status = "in-use"
        return info

    def detach(self, ctx: RequestContext, attachment_id: str) -> None:
        with db.transaction() as s:
            att = s.get(VolumeAttachment, attachment_id)
            if att is None:
                return
            row = load(s, ctx, att.volume_id)
            connector = (iface.Connector(**_connector_fields(json.loads(att.connector)))
                         if att.connector else None)
            others = [a for a in row.attachments if a.id != att.id and a.attached_host == att.attached_host]
            att.attach_status = "detaching"
            row.status = "detaching" if row.status == "in-use" and len(row.attachments) == 1 else row.status
            vol = driver_volume(row)
        if connector is not None and not others:
            try:
                with self.backend.locked(vol.id):
                    self.backend.driver.terminate_connection(vol, connector)
            except Exception as err:
                with db.transaction() as s:
                    found = s.get(VolumeAttachment, attachment_id)
                    if found is not None:
                        found.attach_status = "attached"
                    volume = s.get(Volume, vol.id)
                    if volume is not None:
                        volume.status = "in-use"
                raise exception.ServiceUnavailable(reason=f"The volume driver could not stop the export of volume "
                                                          f"{vol.id}: {err}") from None
        with db.transaction() as s:
            found = s.get(VolumeAttachment, attachment_id)
            volume = s.get(Volume, vol.id)
            assert volume is not None
            if found is not None:
                volume.attachments.remove(found)
            volume.status = _status_after(volume)


def connection_view(info: iface.ConnectionInfo) -> dict[str, Any]:
    """A :class:`ConnectionInfo` as Cinder's connection_info (``driver_volume_type`` and ``data``)."""
    data: dict[str, Any] = {"volume_id": info.volume_id, "access_mode": "ro" if info.read_only else "rw",
                            **dict(info.extra)}
    if isinstance(info.data, iface.FileConnection):
        data.update(device_path=info.data.path, format=info.data.disk_format)
    else:
        data.update(host=info.data.host, port=info.data.port, export_name=info.data.export_name, url=info.data.url)
        if info.data.tls is not None:
            data.update(tls_psk_identity=info.data.tls.identity, tls_psk_key=info.data.tls.key_hex)
    return {"driver_volume_type": info.driver_volume_type, "data": data}


def attachment_view(att: VolumeAttachment, with_connection: bool) -> dict[str, Any]:
    """An attachment as the attachments API (3.27) shows it; the connection info (secrets) only when asked."""
    status = {"reserved": "reserved", "attaching": "attaching", "attached": "attached",
              "detaching": "detaching"}.get(att.attach_status, att.attach_status)
    view: dict[str, Any] = {"id": att.id, "volume_id": att.volume_id, "instance": att.instance_uuid,
                            "status": status, "attach_mode": att.attach_mode, "attached_at": iso(att.attached_at),
                            "detached_at": None}
    if with_connection:
        view["connection_info"] = json.loads(att.connection_info) if att.connection_info else None
    return view


def _status_after(row: Volume) -> str:
    """A volume's status from its remaining attachments."""
    if any(a.attach_status == "attached" for a in row.attachments):
        return "in-use"
    if row.attachments:
        return "attaching"
    return "available"


def _connector_fields(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["protocols"] = tuple(data.get("protocols") or ())
    return data


def _image_metadata(image: dict[str, Any]) -> dict[str, str]:
    """Cinder's volume_image_metadata: the image's identity and properties, as strings."""
    meta = {"image_id": image["id"], "image_name": image.get("name") or "",
            "disk_format": image.get("disk_format") or "", "container_format": image.get("container_format") or "",
            "min_disk": str(image.get("min_disk") or 0), "min_ram": str(image.get("min_ram") or 0),
            "size": str(image.get("size") or 0), "checksum": image.get("checksum") or ""}
    for key, value in (image.get("properties") or {}).items():
        meta.setdefault(str(key), str(value))
    return meta

