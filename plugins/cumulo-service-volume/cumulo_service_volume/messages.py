"""User messages (Cinder 3.3, ``/messages``): what went wrong with a request the API had accepted, such as a
volume left in ``error`` because no backend could take it. A project sees and deletes its own (admins all);
each is kept ``MESSAGE_TTL`` (Cinder's ``message_ttl`` default, 30 days)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume.common import iso, may_see, now
from cumulo_service_volume.models import Message

MESSAGE_TTL = datetime.timedelta(days=30)
#: Cinder's event ids and texts for what this service reports.
NO_VALID_BACKEND = ("VOLUME_000002", "schedule allocate volume:Could not find any available weighted backend.")


def record(ctx: RequestContext, resource_type: str, resource_uuid: str, event: tuple[str, str],
           project_id: str | None = None) -> None:
    """Leave a message for the project of ``ctx`` (or ``project_id``) about ``resource_uuid``."""
    at = now()
    with db.transaction() as s:
        s.add(Message(id=str(uuid.uuid4()), project_id=project_id or ctx.project_id or "",
                      request_id=ctx.request_id, resource_type=resource_type, resource_uuid=resource_uuid,
                      event_id=event[0], message_level="ERROR", detail=event[1], expires_at=at + MESSAGE_TTL,
                      created_at=at))


def message_view(row: Message) -> dict[str, Any]:
    return {"id": row.id, "request_id": row.request_id, "message_level": row.message_level,
            "event_id": row.event_id, "user_message": row.detail, "resource_type": row.resource_type,
            "resource_uuid": row.resource_uuid, "created_at": iso(row.created_at),
            "guaranteed_until": iso(row.expires_at), "project_id": row.project_id}


class Messages:
    def list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        policy.authorize(ctx, "message:get_all", {"project_id": ctx.project_id})
        with db.reader() as s:
            q = sa.select(Message).where(Message.expires_at > now()).order_by(Message.created_at)
            if not ctx.is_admin:
                q = q.where(Message.project_id == ctx.project_id)
            return [message_view(r) for r in s.execute(q).scalars()]

    @staticmethod
    def _load(s: Any, ctx: RequestContext, message_id: str) -> Message:
        row = s.get(Message, message_id)
        if row is None or not may_see(ctx, row.project_id):
            raise exception.NotFound(f"Message {message_id} could not be found.")
        return row

    def get(self, ctx: RequestContext, message_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._load(s, ctx, message_id)
            policy.authorize(ctx, "message:get", {"project_id": row.project_id})
            return message_view(row)

    def delete(self, ctx: RequestContext, message_id: str) -> None:
        with db.transaction() as s:
            row = self._load(s, ctx, message_id)
            policy.authorize(ctx, "message:delete", {"project_id": row.project_id})
            s.delete(row)
