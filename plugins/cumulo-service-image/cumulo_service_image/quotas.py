"""The image quotas: images per project, bytes per project, and tags, properties and members per image.

Each limit is an ``[image]`` option; a negative value means unlimited. An
overrun is :class:`~cumulo.contracts.image.ImageQuotaExceeded` (413).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cumulo import db
from cumulo.contracts.image import ImageQuotaExceeded
from cumulo_service_image.models import Image


class Quotas:
    """The quota checks, reading the limits from ``conf`` (the hub's configuration) when they run."""

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    @staticmethod
    def _usage(s: Any, project_id: str | None, exclude: str | None = None) -> tuple[int, int]:
        """The project's image count and total bytes (not counting deleted images nor ``exclude``)."""
        q = (sa.select(sa.func.count(Image.id), sa.func.coalesce(sa.func.sum(Image.size), 0))
             .where(Image.owner == project_id, Image.deleted == sa.false()))
        if exclude is not None:
            q = q.where(Image.id != exclude)
        count, total = s.execute(q).one()
        return int(count), int(total or 0)  # coalesce: never None

    def check_count(self, s: Any, project_id: str | None) -> None:
        """One more image for ``project_id`` (``[image] quota_image_count``), in the caller's transaction ``s``."""
        limit = self.conf.image.quota_image_count
        if limit < 0 or project_id is None:
            return
        count, _ = self._usage(s, project_id)
        if count + 1 > limit:
            raise ImageQuotaExceeded(resource="image_count_total", requested=1, used=count, limit=limit)

    def size_limit(self) -> int:
        """``[image] quota_image_size_total`` in bytes (negative: unlimited)."""
        return int(self.conf.image.quota_image_size_total) * 1024 * 1024

    def size_allowance(self, project_id: str | None, exclude: str) -> int | None:
        """Bytes the project may still store besides image ``exclude`` (None: unlimited)."""
        if self.conf.image.quota_image_size_total < 0 or project_id is None:
            return None
        with db.transaction() as s:
            _, used = self._usage(s, project_id, exclude)
        return max(0, self.size_limit() - used)

    def check_len(self, option: str, what: str, count: int) -> None:
        """``count`` tags, properties or members (``what``) against the ``[image]`` option ``option``."""
        limit = getattr(self.conf.image, option)
        if 0 <= limit < count:
            raise ImageQuotaExceeded(f"Maximum number of {what} exceeded: {count} requested, limit {limit}.",
                                     resource=what, requested=count, used=0, limit=limit)
