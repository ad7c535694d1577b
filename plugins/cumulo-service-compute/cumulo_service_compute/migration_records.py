"""Migration records (``compute_migrations``): one per resize, cold or live migration and evacuation.

The API side creates the record when it accepts the move; the hosts move its ``status`` on as the
steps run (:func:`set_status` on the newest unfinished record of the instance).
"""

from __future__ import annotations

import datetime
import uuid as uuidlib
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo_service_compute.models import Migration

RESIZE, MIGRATION, LIVE, EVACUATION = "resize", "migration", "live-migration", "evacuation"
#: Statuses after which a record no longer changes.
FINAL = frozenset({"confirmed", "reverted", "completed", "error", "failed", "cancelled", "done"})


def view(row: Migration) -> dict[str, Any]:
    """The record as :data:`cumulo.contracts.compute.MigrationView`."""
    return {"id": row.id, "uuid": row.uuid, "instance_uuid": row.instance_uuid, "project_id": row.project_id,
            "user_id": row.user_id, "migration_type": row.migration_type, "status": row.status,
            "source_compute": row.source_compute, "dest_compute": row.dest_compute, "dest_host": row.dest_host,
            "old_flavor_id": row.old_flavor_id, "new_flavor_id": row.new_flavor_id, "created_at": row.created_at,
            "updated_at": row.updated_at}


def create(ctx: RequestContext, inst: dict[str, Any], migration_type: str, status: str, *,
           dest: str | None = None, new_flavor_id: str | None = None) -> dict[str, Any]:
    """Record a move of ``inst`` from its host (to ``dest`` when known); any unfinished one is failed first."""
    old = str((inst.get("flavor") or {}).get("id") or "") or None
    with db.transaction() as s:
        s.execute(sa.update(Migration).where(Migration.instance_uuid == inst["uuid"],
                                             Migration.status.not_in(list(FINAL)))
                  .values(status="error").execution_options(synchronize_session=False))
        row = Migration(uuid=str(uuidlib.uuid4()), instance_uuid=inst["uuid"], project_id=inst.get("project_id"),
                        user_id=inst.get("user_id"), migration_type=migration_type, status=status,
                        source_compute=inst.get("host"), dest_compute=dest, dest_host=dest,
                        old_flavor_id=old, new_flavor_id=new_flavor_id or old)
        s.add(row)
        s.flush()
        return view(row)


def set_status(instance_uuid: str, status: str, *, dest: str | None = None,
               types: tuple[str, ...] | None = None) -> None:
    """Move the newest unfinished record of the instance (of ``types`` when given) to ``status``."""
    with db.transaction() as s:
        q = sa.select(Migration).where(Migration.instance_uuid == instance_uuid,
                                       Migration.status.not_in(list(FINAL)))
        if types:
            q = q.where(Migration.migration_type.in_(list(types)))
        row = s.scalar(q.order_by(Migration.id.desc()).limit(1))
        if row is None:
            return
        row.status = status
        if dest:
            row.dest_compute = row.dest_host = dest


def evacuations_from(host: str, status: str = "done") -> list[dict[str, Any]]:
    """The evacuations away from ``host`` in ``status`` (those whose source copy is still to remove)."""
    with db.reader() as s:
        rows = s.scalars(sa.select(Migration).where(Migration.source_compute == host,
                                                    Migration.migration_type == EVACUATION,
                                                    Migration.status == status)).all()
        return [view(r) for r in rows]


def mark(migration_uuid: str, status: str) -> None:
    with db.transaction() as s:
        s.execute(sa.update(Migration).where(Migration.uuid == migration_uuid).values(status=status)
                  .execution_options(synchronize_session=False))


def list_migrations(*, project_id: str | None = None, instance_uuid: str | None = None, host: str | None = None,
                    status: str | None = None, migration_type: str | None = None,
                    source_compute: str | None = None, changes_since: datetime.datetime | None = None,
                    limit: int | None = None, marker: str | None = None,
                    types: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Records newest first, filtered as given (``host``: source or destination)."""
    with db.reader() as s:
        q = sa.select(Migration)
        if project_id:
            q = q.where(Migration.project_id == project_id)
        if instance_uuid:
            q = q.where(Migration.instance_uuid == instance_uuid)
        if host:
            q = q.where(sa.or_(Migration.source_compute == host, Migration.dest_compute == host))
        if status:
            q = q.where(Migration.status == status)
        if migration_type:
            q = q.where(Migration.migration_type == migration_type)
        if types:
            q = q.where(Migration.migration_type.in_(list(types)))
        if source_compute:
            q = q.where(Migration.source_compute == source_compute)
        if changes_since is not None:
            since = changes_since.replace(tzinfo=None) if changes_since.tzinfo else changes_since
            q = q.where(sa.func.coalesce(Migration.updated_at, Migration.created_at) >= since)
        if marker:
            mrow = s.scalar(sa.select(Migration).where(Migration.uuid == marker))
            if mrow is None:
                raise exception.NotFound(f"Marker {marker} could not be found.")
            q = q.where(Migration.id < mrow.id)
        q = q.order_by(Migration.id.desc())
        if limit is not None:
            q = q.limit(limit)
        return [view(r) for r in s.scalars(q).all()]
