"""An image's writable attributes and extra properties: which exist, checking the values given, writing them.

Attributes are the named columns (``name``, ``visibility``, ``min_disk``...)
and ``tags``; any other key is an extra property (a string, or None to
remove it). Making an image public and giving it to another project are
policy decisions (``image:publicize_image``, ``image:set_owner``).
"""

from __future__ import annotations

import uuid
from typing import Any

from cumulo import exception, policy
from cumulo.context import RequestContext
from cumulo.contracts.image import CONTAINER_FORMATS, DISK_FORMATS, VISIBILITIES
from cumulo_service_image.common import as_bool, as_int, now
from cumulo_service_image.models import Image, ImageProperty, ImageTag
from cumulo_service_image.quotas import Quotas

#: Attributes an API user may write (besides extra properties).
WRITABLE = ("name", "visibility", "protected", "os_hidden", "disk_format", "container_format",
            "min_disk", "min_ram", "owner", "tags")
#: Attributes nobody writes through create/update.
READ_ONLY = ("id", "status", "size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value",
             "created_at", "updated_at", "deleted", "deleted_at", "file", "self", "schema",
             "direct_url", "location", "stores", "store", "properties")
#: Keys of the image dict that are not extra properties.
BASE_KEYS = frozenset(WRITABLE + READ_ONLY + ("locations",))
#: Attributes that can change only while the image has no data.
QUEUED_ONLY = ("disk_format", "container_format")


class Attributes:
    """Checks and writes attributes and properties; the tag and property counts are quotas (``quotas``)."""

    def __init__(self, quotas: Quotas) -> None:
        self.quotas = quotas

    def check(self, ctx: RequestContext, fields: dict[str, Any], current: Image | None) -> dict[str, Any]:
        """Normalize writable attributes for a new image (``current`` None) or ``current``; 400 for bad values,
        403 for forbidden ones."""
        out: dict[str, Any] = {}
        for key, value in fields.items():
            if key in READ_ONLY and not (key == "id" and current is None):
                raise exception.Forbidden(f"Attribute '{key}' is read-only.")
            if key == "id":
                try:
                    out["id"] = str(uuid.UUID(str(value)))
                except ValueError:
                    raise exception.ValidationError(field="id", reason=f"{value!r} is not a UUID") from None
            elif key == "name":
                if value is not None and (not isinstance(value, str) or len(value) > 255):
                    raise exception.ValidationError(field="name", reason="must be a string of at most 255 characters")
                out["name"] = value
            elif key == "visibility":
                if value not in VISIBILITIES:
                    raise exception.ValidationError(
                        field="visibility", reason=f"{value!r} is not one of {', '.join(VISIBILITIES)}")
                if value == "public" and (current is None or current.visibility != "public"):
                    policy.authorize(ctx, "image:publicize_image", {"project_id": ctx.project_id})
                out["visibility"] = value
            elif key in ("protected", "os_hidden"):
                out[key] = as_bool(value, key)
            elif key == "disk_format":
                if value is not None and value not in DISK_FORMATS:
                    raise exception.ValidationError(
                        field="disk_format", reason=f"{value!r} is not one of {', '.join(DISK_FORMATS)}")
                out[key] = value
            elif key == "container_format":
                if value is not None and value not in CONTAINER_FORMATS:
                    raise exception.ValidationError(
                        field="container_format", reason=f"{value!r} is not one of {', '.join(CONTAINER_FORMATS)}")
                out[key] = value
            elif key in ("min_disk", "min_ram"):
                out[key] = as_int(value, key)
            elif key == "owner":
                if value is not None and (not isinstance(value, str) or len(value) > 64):
                    raise exception.ValidationError(field="owner", reason="must be a project id")
                if value != (current.owner if current is not None else ctx.project_id):
                    policy.authorize(ctx, "image:set_owner", {"project_id": ctx.project_id})
                out["owner"] = value
            elif key == "tags":
                if not isinstance(value, list) or not all(isinstance(t, str) and 0 < len(t) <= 255 for t in value):
                    raise exception.ValidationError(field="tags", reason="must be a list of strings of 1 to 255 characters")
                tags = sorted(set(value))
                self.quotas.check_len("image_tag_quota", "tags", len(tags))
                out["tags"] = tags
            elif key == "locations":
                raise exception.Forbidden("Attribute 'locations' is set with 'add /locations/-' "
                                          "on an image without data.")
            else:
                out[key] = _property_value(key, value)
        return out

    def apply(self, row: Image, fields: dict[str, Any]) -> None:
        """Write checked ``fields`` to ``row``: attributes, the tag set, and extra properties (None removes one)."""
        extra = {k: v for k, v in fields.items() if k not in BASE_KEYS}
        for key, value in fields.items():
            if key == "tags":
                existing = {t.value: t for t in row.tags}
                for t in list(row.tags):
                    if t.value not in value:
                        row.tags.remove(t)
                for v in value:
                    if v not in existing:
                        row.tags.append(ImageTag(value=v))
            elif key in BASE_KEYS:
                setattr(row, key, value)
        if extra:
            props = {p.name: p for p in row.properties}
            for key, value in extra.items():
                if value is None:
                    if key in props:
                        row.properties.remove(props[key])
                elif key in props:
                    props[key].value = value
                else:
                    row.properties.append(ImageProperty(name=key, value=value))
            self.quotas.check_len("image_property_quota", "properties", len(row.properties))
        row.updated_at = now()


def _property_value(key: Any, value: Any) -> str | None:
    """An extra property's value as stored: a string (numbers and booleans as their JSON text) or None."""
    if not isinstance(key, str) or not 0 < len(key) <= 255:
        raise exception.ValidationError(field=str(key)[:40], reason="property names are 1 to 255 characters")
    if value is not None and not isinstance(value, str):
        if isinstance(value, (bool, int, float)):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        else:
            raise exception.ValidationError(field=key, reason="extra property values are strings")
    if value is not None and len(value) > 65535:
        raise exception.ValidationError(field=key, reason="is longer than 65535 characters")
    return value
