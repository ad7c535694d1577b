"""How image and member rows are shown: the dicts ``hub.image`` returns (and the API renders)."""

from __future__ import annotations

from typing import Any

from cumulo_service_image.common import iso
from cumulo_service_image.models import Image, ImageMember


def image_view(row: Image) -> dict[str, Any]:
    """The image as a dict: its extra properties at the top level (and under ``properties``), then its attributes."""
    props = {p.name: p.value for p in row.properties}
    view: dict[str, Any] = dict(props)
    view.update({
        "id": row.id, "name": row.name, "status": row.status, "visibility": row.visibility,
        "protected": bool(row.protected), "os_hidden": bool(row.os_hidden), "owner": row.owner,
        "disk_format": row.disk_format, "container_format": row.container_format,
        "size": row.size, "virtual_size": row.virtual_size, "checksum": row.checksum,
        "os_hash_algo": row.os_hash_algo, "os_hash_value": row.os_hash_value,
        "min_disk": row.min_disk or 0, "min_ram": row.min_ram or 0,
        "created_at": iso(row.created_at), "updated_at": iso(row.updated_at or row.created_at),
        "tags": sorted(t.value for t in row.tags), "store": row.store, "location": row.location,
        "properties": props,
    })
    return view


def member_view(m: ImageMember) -> dict[str, Any]:
    """A project's membership of a shared image as a dict."""
    return {"image_id": m.image_id, "member_id": m.member, "status": m.status,
            "created_at": iso(m.created_at), "updated_at": iso(m.updated_at or m.created_at)}
