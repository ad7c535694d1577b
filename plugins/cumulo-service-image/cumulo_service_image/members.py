"""Image members: sharing an image (visibility ``shared``) with other projects, who accept or reject it.

The owner adds and removes members; only the member project itself (or an
admin) sets its membership status. A member sees the image whatever its
status, and lists it once it has accepted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.image import MEMBER_STATUSES
from cumulo_service_image import access
from cumulo_service_image.common import now
from cumulo_service_image.models import Image, ImageMember
from cumulo_service_image.quotas import Quotas
from cumulo_service_image.views import member_view


class Members:
    """The membership records; the number of members per image is a quota (``quotas``)."""

    def __init__(self, quotas: Quotas) -> None:
        self.quotas = quotas

    def add_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        """Share the image with project ``member_id`` (status pending); 403 unless the image is shared."""
        if not isinstance(member_id, str) or not 0 < len(member_id) <= 255:
            raise exception.ValidationError(field="member", reason="must be a project id")
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.visibility != "shared":
                raise exception.Forbidden(f"Image {image_id} has visibility '{row.visibility}'; "
                                          "only images with visibility 'shared' can have members.")
            members = access.members_of(s, image_id)
            if member_id in members:
                raise exception.Conflict(reason=f"Project {member_id} is already a member of image {image_id}.")
            self.quotas.check_len("image_member_quota", "members", len(members) + 1)
            m = ImageMember(image_id=image_id, member=member_id, status="pending", created_at=now())
            s.add(m)
            s.flush()
            return member_view(m)

    def list_members(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        """The image's members, by project id; a member sees only its own membership."""
        with db.transaction() as s:
            row = access.load(s, ctx, image_id)
            q = sa.select(ImageMember).where(ImageMember.image_id == image_id).order_by(ImageMember.member)
            if not access.can_modify(ctx, row):
                q = q.where(ImageMember.member == ctx.project_id)
            return [member_view(m) for m in s.scalars(q).all()]

    @staticmethod
    def _member_row(s: Any, ctx: RequestContext, image_id: str, member_id: str) -> tuple[Image, ImageMember]:
        row = access.load(s, ctx, image_id)
        m = s.scalar(sa.select(ImageMember).where(ImageMember.image_id == image_id, ImageMember.member == member_id))
        if m is None or not (access.can_modify(ctx, row) or member_id == ctx.project_id):
            raise exception.NotFound(resource="Member", id=member_id)
        return row, m

    def get_member(self, ctx: RequestContext, image_id: str, member_id: str) -> dict[str, Any]:
        """One membership; 404 for a caller that is neither the owner nor that member."""
        with db.transaction() as s:
            return member_view(self._member_row(s, ctx, image_id, member_id)[1])

    def update_member(self, ctx: RequestContext, image_id: str, member_id: str, status: str) -> dict[str, Any]:
        """Accept, reject or reset a share: only the member project itself (or an admin)."""
        if status not in MEMBER_STATUSES:
            raise exception.ValidationError(field="status", reason=f"{status!r} is not one of {', '.join(MEMBER_STATUSES)}")
        with db.transaction() as s:
            _, m = self._member_row(s, ctx, image_id, member_id)
            if member_id != ctx.project_id and not ctx.is_admin:
                raise exception.Forbidden("Only the member project can change its membership status.")
            m.status, m.updated_at = status, now()
            s.flush()
            return member_view(m)

    def delete_member(self, ctx: RequestContext, image_id: str, member_id: str) -> None:
        """Stop sharing the image with ``member_id``: only the owner (or an admin)."""
        with db.transaction() as s:
            row, m = self._member_row(s, ctx, image_id, member_id)
            if not access.can_modify(ctx, row):
                raise exception.Forbidden("Only the image owner can remove a member.")
            s.delete(m)
