"""Image records and their lifecycle: create, show, update (attributes or a JSON patch), delete,
deactivate and reactivate.

Status lifecycle (the data transitions are :mod:`cumulo_service_image.image_data`'s)::

    queued --upload--> saving --ok--> active <--> deactivated
                          |--bad data (size/checksum)--> killed
                          '--quota, cap, client gone, store error, dead process--> queued
    queued --stage--> uploading --import--> importing --ok--> active     (interoperable import,
    queued --import web-download--> importing --failed--> queued         :mod:`~cumulo_service_image.imports`)
    any --delete--> deleted

Deleted images stay as rows so an id is never reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_image import access
from cumulo_service_image.attributes import BASE_KEYS, QUEUED_ONLY, Attributes
from cumulo_service_image.common import now
from cumulo_service_image.json_patch import read_patch
from cumulo_service_image.locations import Locations
from cumulo_service_image.models import Image
from cumulo_service_image.quotas import Quotas
from cumulo_service_image.stores import Stores
from cumulo_service_image.views import image_view


class Images:
    """The image records: attributes checked by ``attributes``, the image count a quota (``quotas``),
    data removed on delete from ``stores``, locations in a patch added through ``locations``."""

    def __init__(self, attributes: Attributes, quotas: Quotas, stores: Stores, locations: Locations) -> None:
        self.attributes = attributes
        self.quotas = quotas
        self.stores = stores
        self.locations = locations

    def create(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        """Create a queued image (no data yet). ``fields``: writable attributes and extra properties."""
        fields = self.attributes.check(ctx, dict(fields), None)
        owner = fields.pop("owner", ctx.project_id)

        @db.retry_on_deadlock
        def _do() -> dict[str, Any]:
            with db.transaction() as s:
                image_id = fields.get("id") or str(uuid.uuid4())
                if s.get(Image, image_id) is not None:
                    raise exception.Conflict(reason=f"Image with identifier {image_id} already exists!")
                self.quotas.check_count(s, owner)
                row = Image(id=image_id, owner=owner, status="queued",
                            visibility=fields.get("visibility", "shared"), protected=False, os_hidden=False,
                            min_disk=0, min_ram=0, deleted=False, created_at=now())
                s.add(row)
                self.attributes.apply(row, {k: v for k, v in fields.items() if k != "id" and v is not None})
                s.flush()
                return image_view(row)

        try:
            return _do()
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise exception.Conflict(reason="Image with this identifier already exists!") from None
            raise

    def get(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        """The image as a dict; NotFound when missing, deleted or not visible to ``ctx``."""
        with db.reader() as s:
            return image_view(access.load(s, ctx, image_id))

    def update(self, ctx: RequestContext, image_id: str, changes: dict[str, Any],
               remove: Iterable[str] = ()) -> dict[str, Any]:
        """Set attributes/properties in ``changes``; remove the extra properties named in ``remove``."""
        remove = list(remove)

        @db.retry_on_deadlock
        def _do() -> dict[str, Any]:
            with db.transaction() as s:
                row = access.load(s, ctx, image_id, for_update=True)
                fields = self.attributes.check(ctx, dict(changes), row)
                for key in QUEUED_ONLY:
                    if key in fields and fields[key] != getattr(row, key) and row.status != "queued":
                        raise exception.Forbidden(f"Attribute {key} can be only replaced for a queued image.")
                props = {p.name for p in row.properties}
                for key in remove:
                    if key in BASE_KEYS:
                        raise exception.Forbidden(f"Attribute '{key}' cannot be removed.")
                    if key not in props:
                        raise exception.Conflict(reason=f"Property {key} does not exist.")
                    fields[key] = None
                self.attributes.apply(row, fields)
                s.flush()
                return image_view(row)

        return _do()

    def patch(self, ctx: RequestContext, image_id: str, operations: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply a JSON patch (``add``/``replace``/``remove`` ops, Image API v2.1 media type)."""
        current = self.get(ctx, image_id)
        doc = {k: v for k, v in current.items() if k not in ("properties", "store", "location")}
        wanted = read_patch(doc, operations)
        result = current
        if wanted.changed or wanted.removed:
            result = self.update(ctx, image_id, wanted.changed, wanted.removed)
        for loc in wanted.new_locations:
            if not isinstance(loc, dict) or not isinstance(loc.get("url"), str):
                raise exception.Invalid(reason="A location is {'url': ..., 'metadata': {...}}.")
            result = self.locations.add_location(ctx, image_id, loc["url"], loc.get("validation_data") or {})
        return result

    def delete(self, ctx: RequestContext, image_id: str) -> None:
        """Delete the image and its data. 403 for a protected image."""
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.protected:
                raise exception.Forbidden(f"Image {image_id} is protected and cannot be deleted.")
            row.status, row.deleted, row.deleted_at = "deleted", True, now()
            row.upload_host = None
            location, store = row.location, row.store
        if location:
            self.stores.delete_data(image_id, store, location)

    def deactivate(self, ctx: RequestContext, image_id: str) -> None:
        """Make an active image's data unavailable to non-admins (policy ``image:deactivate``:
        an admin or a member of the owning project, as in Glance).

        :raises Forbidden: the policy refuses, or the image is neither active nor deactivated.
        """
        self._set_activation(ctx, image_id, "deactivated", "image:deactivate")

    def reactivate(self, ctx: RequestContext, image_id: str) -> None:
        """Make a deactivated image's data available again (policy ``image:reactivate``).

        :raises Forbidden: the policy refuses, or the image is neither active nor deactivated.
        """
        self._set_activation(ctx, image_id, "active", "image:reactivate")

    @staticmethod
    def _set_activation(ctx: RequestContext, image_id: str, status: str, rule: str) -> None:
        with db.transaction() as s:
            row = access.load(s, ctx, image_id)
            policy.authorize(ctx, rule, {"project_id": row.owner})
            if row.status not in ("active", "deactivated"):
                raise exception.Forbidden(f"Not allowed to {rule.split(':')[1]} image in status '{row.status}'.")
            row.status, row.updated_at = status, now()
