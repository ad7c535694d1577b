"""Image locations: pointing a queued image at data that already lives in a store (``add /locations/-``).

The store that reads the URL's scheme (e.g. the read-only ``http`` store)
validates it and reports its size; the image becomes active without an upload.
"""

from __future__ import annotations

from typing import Any

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.interfaces import image as iface
from cumulo_service_image import access
from cumulo_service_image.common import now
from cumulo_service_image.stores import Stores
from cumulo_service_image.views import image_view


class Locations:
    """Adds locations, through the stores that read them (``stores``)."""

    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def add_location(self, ctx: RequestContext, image_id: str, url: str,
                     validation_data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Point a queued image at data that already lives in a (read-only) store, e.g. a web server.

        ``validation_data`` may give the data's ``checksum``, ``os_hash_algo``
        and ``os_hash_value``. 400 when no enabled store reads the URL or the
        store refuses it; 409 unless the image is queued.
        """
        name, store = self.stores.for_location(url)
        try:
            store.validate_location(url)
            size = store.get_size(url)
        except iface.ImageStoreError as err:
            raise exception.Invalid(reason=f"Location {url} is not allowed: {err}") from None
        validation_data = validation_data or {}
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.status != "queued":
                raise exception.Conflict(reason=f"Image {image_id} has status '{row.status}'; "
                                                "a location can be added only to a queued image.")
            row.location, row.store, row.status, row.size = url, name, "active", size
            row.checksum = validation_data.get("checksum")
            row.os_hash_algo = validation_data.get("os_hash_algo")
            row.os_hash_value = validation_data.get("os_hash_value")
            row.updated_at = now()
            s.flush()
            return image_view(row)
