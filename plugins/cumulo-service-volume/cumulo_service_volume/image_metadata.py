"""A volume's image metadata (``volume_image_metadata``): Cinder's ``os-set_image_metadata``,
``os-unset_image_metadata`` and ``os-show_image_metadata`` actions.

Written when a volume is made from an image; a member may add or change keys (and remove one), as
Cinder allows. The keys are what ``os-volume_upload_image`` copies to a new image as properties.
"""

from __future__ import annotations

import json
from typing import Any

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume.common import as_metadata, now
from cumulo_service_volume.volumes import load


class ImageMetadata:
    def show(self, ctx: RequestContext, volume_id: str) -> dict[str, str]:
        with db.reader() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_image_metadata:show", {"project_id": row.project_id})
            return json.loads(row.image_metadata) if row.image_metadata else {}

    def set(self, ctx: RequestContext, volume_id: str, metadata: Any) -> dict[str, str]:
        """Merge ``metadata`` (string keys and values) into the volume's image metadata; all of it after."""
        meta = as_metadata(metadata)
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_image_metadata:set", {"project_id": row.project_id})
            merged: dict[str, str] = {**(json.loads(row.image_metadata) if row.image_metadata else {}), **meta}
            row.image_metadata, row.updated_at = json.dumps(merged), now()
            return merged

    def unset(self, ctx: RequestContext, volume_id: str, key: Any) -> None:
        """Remove one key; 404 when the volume has no such image metadata key."""
        if not isinstance(key, str) or not key:
            raise exception.ValidationError(field="key", reason="is required")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_image_metadata:remove", {"project_id": row.project_id})
            meta = json.loads(row.image_metadata) if row.image_metadata else {}
            if key not in meta:
                raise exception.NotFound(f"Glance metadata for volume {volume_id} has no key {key}.")
            del meta[key]
            row.image_metadata, row.updated_at = json.dumps(meta) if meta else None, now()
