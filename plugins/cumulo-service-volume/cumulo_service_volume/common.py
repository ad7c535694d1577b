"""What the volume service's components share: time, value checks, errors, driver records and views.

A leaf module: it imports no component, so every component may import it.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.volume import AttachmentRecord, NoSuchVolume, VolumeNotAvailable, VolumeRecord
from cumulo.db.models.base import utcnow
from cumulo.interfaces import volume as iface
from cumulo_service_volume import models

#: Largest size in GiB the API takes (Cinder's schema bound, a 32-bit signed integer).
MAX_SIZE = 2**31 - 1


class VolumeQuotaExceeded(exception.QuotaExceeded):
    """A volume quota is exceeded; Cinder answers such overruns with 413."""

    code = 413
    title = "Request Entity Too Large"


class SnapshotNotFound(exception.NotFound):
    """No such snapshot, or the caller may not see it."""


class TypeNotFound(exception.NotFound):
    """No such volume type, or the caller may not see it."""


def now() -> datetime.datetime:
    return utcnow()


def iso(value: datetime.datetime | None) -> str | None:
    """Times as Cinder shows them: ISO 8601 with microseconds, no zone (UTC)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") if value is not None else None


def as_size(value: Any, field: str = "size") -> int:
    """A size in GiB given as an int or a decimal string, 1 to :data:`MAX_SIZE`; 400 otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an integer") from None
    if number < 1:
        raise exception.ValidationError(field=field, reason=f"must be a positive number of GiB, not {number}")
    if number > MAX_SIZE:
        raise exception.ValidationError(field=field, reason=f"must be at most {MAX_SIZE} GiB")
    return number


def as_bool(value: Any, field: str) -> bool:
    """A boolean given as a bool or as Cinder's strings ("true"/"false", "1"/"0", "yes"/"no"...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "y", "on", "t"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "n", "off", "f"):
        return False
    raise exception.ValidationError(field=field, reason=f"{value!r} is not a boolean")


def as_text(value: Any, field: str, maximum: int = 255, allow_none: bool = True) -> str | None:
    if value is None and allow_none:
        return None
    if not isinstance(value, str):
        raise exception.ValidationError(field=field, reason=f"{value!r} is not a string")
    if len(value) > maximum:
        raise exception.ValidationError(field=field, reason=f"must be at most {maximum} characters")
    return value


def as_metadata(value: Any, field: str = "metadata") -> dict[str, str]:
    """Metadata: an object of string keys (1-255 characters) and string values (up to 255)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise exception.ValidationError(field=field, reason="must be an object of string keys and values")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise exception.ValidationError(field=field, reason=f"key {key!r} must be 1 to 255 characters")
        if not isinstance(item, str) or len(item) > 255:
            raise exception.ValidationError(field=f"{field}.{key}", reason="must be a string of at most 255 "
                                                                           "characters")
        out[key] = item
    return out


def may_see(ctx: RequestContext, project_id: str | None) -> bool:
    return ctx.is_admin or (project_id is not None and project_id == ctx.project_id)


def driver_refusal(err: iface.VolumeDriverError, what: str) -> exception.CumuloError:
    """The 4xx a client sees for a driver's refusal that changed nothing."""
    return exception.Invalid(reason=f"{what}: {err}")


def driver_volume(row: models.Volume) -> iface.Volume:
    """The driver's record of a volume row."""
    vtype = row.volume_type
    return iface.Volume(id=row.id, size_gib=row.size, name=row.name or "", project_id=row.project_id,
                        volume_type=vtype.name if vtype is not None else None,
                        extra_specs={s.key: s.value for s in vtype.extra_specs} if vtype is not None else {},
                        provider_location=row.provider_location, multiattach=row.multiattach)


def driver_snapshot(row: models.Snapshot) -> iface.Snapshot:
    return iface.Snapshot(id=row.id, volume_id=row.volume_id, volume_size_gib=row.volume_size, name=row.name or "",
                          project_id=row.project_id, provider_location=row.provider_location)


def attachment_record(att: models.VolumeAttachment) -> AttachmentRecord:
    return AttachmentRecord(id=att.id, volume_id=att.volume_id, server_id=att.instance_uuid or "",
                            attach_status=att.attach_status, host=att.attached_host, mountpoint=att.mountpoint,
                            read_only=att.attach_mode == "ro")


def volume_record(row: models.Volume) -> VolumeRecord:
    return VolumeRecord(id=row.id, name=row.name or "", size_gib=row.size, status=row.status,
                        project_id=row.project_id, availability_zone=row.availability_zone, bootable=row.bootable,
                        multiattach=row.multiattach,
                        volume_type=row.volume_type.name if row.volume_type is not None else None,
                        image_id=row.image_id,
                        attachments=tuple(attachment_record(a) for a in row.attachments))


def volume_view(row: models.Volume) -> dict[str, Any]:
    """The volume as the service hands it to frontends (plain values; the API shapes it)."""
    return {
        "id": row.id, "name": row.name, "description": row.description, "size": row.size, "status": row.status,
        "project_id": row.project_id, "user_id": row.user_id, "host": row.host,
        "availability_zone": row.availability_zone,
        "volume_type": row.volume_type.name if row.volume_type is not None else None,
        "volume_type_id": row.volume_type_id, "snapshot_id": row.snapshot_id, "source_volid": row.source_volid,
        "bootable": row.bootable, "readonly": row.readonly, "multiattach": row.multiattach,
        # Cinder shows the visible admin metadata (``readonly`` once set) among the user's
        "metadata": {**{m.key: m.value for m in row.metadata_items},
                     **(json.loads(row.admin_metadata) if row.admin_metadata else {})},
        "volume_image_metadata": json.loads(row.image_metadata) if row.image_metadata else None,
        "group_id": row.group_id,
        # Cinder's legacy attachment view: ``id`` is the volume's, ``attachment_id`` the attachment's
        "attachments": [{"id": row.id, "attachment_id": a.id, "volume_id": row.id, "server_id": a.instance_uuid,
                         "host_name": a.attached_host, "device": a.mountpoint,
                         "attached_at": iso(a.attached_at)}
                        for a in row.attachments if a.attach_status == "attached"],
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
    }


def snapshot_view(row: models.Snapshot) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "description": row.description, "volume_id": row.volume_id,
        "size": row.volume_size, "status": row.status, "progress": row.progress, "project_id": row.project_id,
        "user_id": row.user_id, "metadata": json.loads(row.metadata_json) if row.metadata_json else {},
        "group_snapshot_id": row.group_snapshot_id,
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at),
    }


__all__ = ["MAX_SIZE", "SnapshotNotFound", "TypeNotFound", "VolumeNotAvailable", "NoSuchVolume",
           "VolumeQuotaExceeded", "as_bool", "as_metadata", "as_size", "as_text", "attachment_record",
           "driver_refusal", "driver_snapshot", "driver_volume", "iso", "may_see", "now", "snapshot_view",
           "volume_record", "volume_view"]
