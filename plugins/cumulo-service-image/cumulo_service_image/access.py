"""Who may see and change an image: the checks on one row and the same rule as a list query.

An image the caller may not see is a 404 (its existence is not revealed),
one it may see but not change is a 403.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.image import MEMBER_STATUSES, VISIBILITIES
from cumulo_service_image.models import Image, ImageMember


def members_of(s: Any, image_id: str) -> dict[str, str]:
    """The image's member projects and their membership status."""
    rows = s.execute(sa.select(ImageMember.member, ImageMember.status)
                     .where(ImageMember.image_id == image_id)).all()
    return {m: st for m, st in rows}


def can_see(ctx: RequestContext, row: Image, members: dict[str, str]) -> bool:
    """Admins, the owner, everyone for public and community images, members (any status) for shared ones."""
    if ctx.is_admin or row.visibility in ("public", "community"):
        return True
    if row.owner is not None and row.owner == ctx.project_id:
        return True
    return row.visibility == "shared" and ctx.project_id in members


def can_modify(ctx: RequestContext, row: Image) -> bool:
    """Admins and the owner."""
    return ctx.is_admin or (row.owner is not None and row.owner == ctx.project_id)


def load(s: Any, ctx: RequestContext, image_id: str, for_update: bool = False) -> Image:
    """The image row ``ctx`` may see (404 otherwise); with ``for_update``, one it may change (403 otherwise)."""
    row = s.get(Image, image_id) if isinstance(image_id, str) else None
    if row is None or row.deleted or not can_see(ctx, row, members_of(s, row.id)):
        raise exception.NotFound(resource="Image", id=image_id)
    if for_update and not can_modify(ctx, row):
        raise exception.Forbidden(f"You are not permitted to modify image {image_id}.")
    return row


def visibility_filter(ctx: RequestContext, q: Any, visibility: str | None, member_status: str | None) -> Any:
    """Restrict the image query ``q`` to what ``ctx`` lists for the ``visibility`` and ``member_status`` filters.

    With no ``visibility``: the caller's own images, public ones and those shared with it (membership
    ``member_status``, accepted by default); community images only when asked for.
    """
    if visibility is not None and visibility not in VISIBILITIES + ("all",):
        raise exception.ValidationError(field="visibility", reason=f"{visibility!r} is not a visibility")
    member_status = member_status or "accepted"
    if member_status not in MEMBER_STATUSES + ("all",):
        raise exception.ValidationError(field="member_status", reason=f"{member_status!r} is not a member status")
    project = ctx.project_id
    member_q = sa.select(ImageMember.image_id).where(ImageMember.member == project)
    if member_status != "all":
        member_q = member_q.where(ImageMember.status == member_status)
    shared_to_me = sa.and_(Image.visibility == "shared", Image.id.in_(member_q))
    mine = Image.owner == project
    if visibility in VISIBILITIES:
        q = q.where(Image.visibility == visibility)
    if ctx.is_admin:
        if visibility == "shared" and member_status != "all" and project:
            q = q.where(sa.or_(mine, shared_to_me))
        return q
    if visibility == "public":
        return q
    if visibility == "community":
        return q
    if visibility == "private":
        return q.where(mine)
    if visibility == "shared":
        return q.where(sa.or_(mine, shared_to_me))
    if visibility == "all":
        return q.where(sa.or_(mine, Image.visibility.in_(("public", "community")), shared_to_me))
    return q.where(sa.or_(mine, Image.visibility == "public", shared_to_me))
