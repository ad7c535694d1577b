"""Host aggregates (``hub.compute`` aggregate methods): named groups of hosts with metadata.

An aggregate's ``availability_zone`` metadata puts its hosts in that zone; any change to an
aggregate changes the host states the scheduler sees, so it drops their cache.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo import service as service_mod
from cumulo.context import RequestContext
from cumulo.db.models.base import new_id, utcnow
from cumulo_service_compute.common import BINARY
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.models import Aggregate, AggregateHost, AggregateMetadata


class Aggregates:
    """The aggregate records; every change invalidates the cached host states (``hosts``)."""

    def __init__(self, hosts: Hosts) -> None:
        self.hosts = hosts

    def _agg_dict(self, s: Any, a: Aggregate) -> dict[str, Any]:
        meta = {m.key: m.value for m in s.scalars(sa.select(AggregateMetadata)
                                                  .where(AggregateMetadata.aggregate_id == a.id))}
        hosts = list(s.scalars(sa.select(AggregateHost.host).where(AggregateHost.aggregate_id == a.id)))
        return {"id": a.id, "uuid": a.uuid, "name": a.name, "availability_zone": meta.get("availability_zone"),
                "metadata": meta, "hosts": hosts, "created_at": a.created_at, "updated_at": a.updated_at,
                "deleted": False, "deleted_at": None}

    def _agg_row(self, s: Any, agg_id: str | int) -> Aggregate:
        a = s.scalar(sa.select(Aggregate).where(Aggregate.id == int(agg_id))) if str(agg_id).isdigit() else \
            s.scalar(sa.select(Aggregate).where(Aggregate.uuid == str(agg_id)))
        if a is None:
            raise exception.NotFound(f"Aggregate {agg_id} could not be found.")
        return a

    def list_aggregates(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.transaction() as s:
            return [self._agg_dict(s, a) for a in s.scalars(sa.select(Aggregate).order_by(Aggregate.id))]

    def get_aggregate(self, ctx: RequestContext, agg_id: str | int) -> dict[str, Any]:
        with db.transaction() as s:
            return self._agg_dict(s, self._agg_row(s, agg_id))

    def create_aggregate(self, ctx: RequestContext, name: str, availability_zone: str | None = None) -> dict[str, Any]:
        try:
            with db.transaction() as s:
                if s.scalar(sa.select(Aggregate.id).where(Aggregate.name == name)):
                    raise exception.Conflict(f"Aggregate {name} already exists.")
                a = Aggregate(uuid=new_id(), name=name)
                s.add(a)
                s.flush()
                if availability_zone:
                    s.add(AggregateMetadata(aggregate_id=a.id, key="availability_zone", value=availability_zone))
                s.flush()
                out = self._agg_dict(s, a)
        except sa.exc.IntegrityError:
            raise exception.Conflict(f"Aggregate {name} already exists.") from None
        self.hosts.invalidate_host_states()
        return out

    def update_aggregate(self, ctx: RequestContext, agg_id: str | int, name: str | None = None,
                         availability_zone: str | None = None) -> dict[str, Any]:
        meta: dict[str, str | None] = {"availability_zone": availability_zone} if availability_zone is not None else {}
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            if name:
                a.name = name
            a.updated_at = utcnow()  # an update always has a time, as Nova's (a zone alone is metadata)
        if meta:
            self.set_aggregate_metadata(ctx, agg_id, meta)
        return self.get_aggregate(ctx, agg_id)

    def delete_aggregate(self, ctx: RequestContext, agg_id: str | int) -> None:
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            if s.scalar(sa.select(AggregateHost.host).where(AggregateHost.aggregate_id == a.id).limit(1)):
                raise exception.Invalid(reason=f"Aggregate {agg_id} still has hosts; remove them first.")
            s.execute(sa.delete(AggregateMetadata).where(AggregateMetadata.aggregate_id == a.id))
            s.delete(a)
        self.hosts.invalidate_host_states()

    def aggregate_add_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> dict[str, Any]:
        if not service_mod.list_services(BINARY, host):
            raise exception.NotFound(f"Compute host {host} could not be found.")
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            if s.get(AggregateHost, (a.id, host)):
                raise exception.Conflict(f"Aggregate {agg_id} already has host {host}.")
            s.add(AggregateHost(aggregate_id=a.id, host=host))
        self.hosts.invalidate_host_states()
        return self.get_aggregate(ctx, agg_id)

    def aggregate_remove_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> dict[str, Any]:
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            row = s.get(AggregateHost, (a.id, host))
            if row is None:
                raise exception.NotFound(f"Cannot remove host {host} from aggregate {agg_id}: host not found.")
            s.delete(row)
        self.hosts.invalidate_host_states()
        return self.get_aggregate(ctx, agg_id)

    def set_aggregate_metadata(self, ctx: RequestContext, agg_id: str | int,
                               metadata: dict[str, str | None]) -> dict[str, Any]:
        with db.transaction() as s:
            a = self._agg_row(s, agg_id)
            for k, v in metadata.items():
                row = s.get(AggregateMetadata, (a.id, k))
                if v is None:
                    if row is not None:
                        s.delete(row)
                elif row is None:
                    s.add(AggregateMetadata(aggregate_id=a.id, key=k, value=str(v)))
                else:
                    row.value = str(v)
        self.hosts.invalidate_host_states()
        return self.get_aggregate(ctx, agg_id)
