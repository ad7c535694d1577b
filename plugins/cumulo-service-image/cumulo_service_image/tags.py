"""Image tags as a sub-resource (``PUT``/``DELETE /v2/images/{id}/tags/{tag}``).

Tags set as a whole (``tags`` in create, update or a patch) go through
:mod:`cumulo_service_image.attributes`, which checks each tag and the
``[image] image_tag_quota``; adding one tag is checked the same way.
"""

from __future__ import annotations

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo_service_image import access
from cumulo_service_image.attributes import Attributes
from cumulo_service_image.common import now
from cumulo_service_image.models import ImageTag


class Tags:
    """Adds and removes single tags, checked as attributes are (``attributes``)."""

    def __init__(self, attributes: Attributes) -> None:
        self.attributes = attributes

    def add_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Tag the image (adding a tag it has is a no-op); 400 for a bad tag, 413 over the tag quota."""
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            tags = {t.value for t in row.tags}
            if tag not in tags:
                self.attributes.check(ctx, {"tags": sorted(tags | {tag})}, row)
                row.tags.append(ImageTag(value=tag))
                row.updated_at = now()

    def delete_tag(self, ctx: RequestContext, image_id: str, tag: str) -> None:
        """Remove a tag from the image; 404 when it does not have it."""
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            for t in row.tags:
                if t.value == tag:
                    row.tags.remove(t)
                    row.updated_at = now()
                    return
            raise exception.NotFound(resource="Tag", id=tag)
