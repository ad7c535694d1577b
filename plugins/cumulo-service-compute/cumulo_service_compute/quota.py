"""Per-project quotas enforced with atomic conditional UPDATEs.

``reserve(project, {"instances": 1, "cores": 2, "ram": 512})`` runs, in one
transaction, one ``UPDATE compute_quota_usages SET in_use = in_use + n WHERE
project_id = p AND resource = r AND in_use + n <= limit`` per resource. The
row lock the UPDATE takes (PostgreSQL, MariaDB) or the database write lock
(SQLite, BEGIN IMMEDIATE) serialises concurrent reservations, and the WHERE
clause is evaluated on the locked row, so concurrent requests cannot overshoot.
A zero row count means over quota: the transaction rolls back and the 403 names
the resource. ``release`` gives usage back (never below zero).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from cumulo import conf, db, exception
from cumulo.context import RequestContext
from cumulo.contracts.compute import QUOTA_RESOURCES
from cumulo_service_compute.models import Quota, QuotaUsage

#: Every resource a limit may name (the contract's list).
RESOURCES = QUOTA_RESOURCES
#: Resources counted through usage rows (the others are per-request limits).
COUNTED = ("instances", "cores", "ram", "key_pairs", "server_groups")


#: The network resources Nova's quota classes still hold below microversion 2.36 (stored and shown, enforced by
#: the network area's own quotas, not these).
CLASS_ONLY = ("fixed_ips", "floating_ips", "security_groups", "security_group_rules", "networks")
#: The rows of quota class ``name`` are kept with the projects' as owner ``class:<name>`` (a colon is in no
#: project id), so a class needs no table of its own.
CLASS_PREFIX = "class:"


def _overridden(limits: dict[str, int], owner: str) -> dict[str, int]:
    with db.reader() as s:
        for q in s.scalars(sa.select(Quota).where(Quota.project_id == owner)):
            if q.resource in limits:
                limits[q.resource] = q.hard_limit
    return limits


def default_limits() -> dict[str, int]:
    """The ``[quota]`` options, as the ``default`` quota class overrides them (Nova's defaults)."""
    return _overridden({r: int(getattr(conf.CONF.quota, r)) for r in RESOURCES}, CLASS_PREFIX + "default")


def get_limits(project_id: str) -> dict[str, int]:
    return _overridden(default_limits(), project_id)


def get_usage(owner_id: str) -> dict[str, int]:
    with db.reader() as s:
        rows = s.scalars(sa.select(QuotaUsage).where(QuotaUsage.project_id == owner_id)).all()
        return {r.resource: r.in_use for r in rows}


@db.retry_on_deadlock
def set_limits(project_id: str, values: dict[str, int], allowed: tuple[str, ...] = RESOURCES) -> dict[str, int]:
    with db.transaction() as s:
        for resource, limit in values.items():
            if resource not in allowed:
                raise exception.ValidationError(field=resource, reason="unknown quota resource")
            row = s.scalar(sa.select(Quota).where(Quota.project_id == project_id, Quota.resource == resource))
            if row is None:
                s.add(Quota(project_id=project_id, resource=resource, hard_limit=int(limit)))
            else:
                row.hard_limit = int(limit)
    return get_limits(project_id)


def delete_limits(project_id: str) -> None:
    with db.transaction() as s:
        s.execute(sa.delete(Quota).where(Quota.project_id == project_id))


def _ensure_rows(owner_id: str, resources: list[str]) -> None:
    with db.transaction() as s:
        have = set(s.scalars(sa.select(QuotaUsage.resource).where(
            QuotaUsage.project_id == owner_id, QuotaUsage.resource.in_(resources))))
    for r in resources:
        if r in have:
            continue
        try:
            with db.transaction() as s:
                s.add(QuotaUsage(project_id=owner_id, resource=r, in_use=0))
        except sa.exc.IntegrityError:
            pass  # created concurrently


def reserve(owner_id: str, deltas: dict[str, int], limits_project: str | None = None) -> None:
    """Add ``deltas`` to the usage of ``owner_id`` or raise QuotaExceeded (403) naming the resource.

    Limits are those of ``limits_project`` (default ``owner_id``). Negative or
    zero deltas always succeed.
    """
    deltas = {r: int(n) for r, n in deltas.items() if n}
    if not deltas:
        return
    limits = get_limits(limits_project or owner_id)
    _ensure_rows(owner_id, list(deltas))
    _reserve(owner_id, deltas, limits)


@db.retry_on_deadlock
def _reserve(owner_id: str, deltas: dict[str, int], limits: dict[str, int]) -> None:
    with db.transaction() as s:
        for resource in sorted(deltas):  # fixed order: no lock-order deadlocks
            n = deltas[resource]
            limit = limits.get(resource, -1)
            stmt = (sa.update(QuotaUsage)
                    .where(QuotaUsage.project_id == owner_id, QuotaUsage.resource == resource)
                    .values(in_use=QuotaUsage.in_use + n)
                    .execution_options(synchronize_session=False))
            if n > 0 and limit >= 0:
                stmt = stmt.where(QuotaUsage.in_use + n <= limit)
            if db.rowcount(s, stmt) == 0:
                used = s.scalar(sa.select(QuotaUsage.in_use).where(
                    QuotaUsage.project_id == owner_id, QuotaUsage.resource == resource)) or 0
                raise exception.QuotaExceeded(resource=resource, requested=n, used=used, limit=limit)


@db.retry_on_deadlock
def release(owner_id: str, deltas: dict[str, int], session: Any = None) -> None:
    """Give back usage (clamped at zero), in ``session``'s transaction when one is given."""
    deltas = {r: int(n) for r, n in deltas.items() if n}
    if not deltas:
        return
    if session is None:
        with db.transaction() as s:
            release(owner_id, deltas, s)
        return
    for resource in sorted(deltas):
        n = deltas[resource]
        session.execute(sa.update(QuotaUsage)
                        .where(QuotaUsage.project_id == owner_id, QuotaUsage.resource == resource)
                        .values(in_use=sa.case((QuotaUsage.in_use - n < 0, 0), else_=QuotaUsage.in_use - n))
                        .execution_options(synchronize_session=False))


def instance_deltas(flavor: dict[str, Any], count: int = 1) -> dict[str, int]:
    return {"instances": count, "cores": int(flavor["vcpus"]) * count, "ram": int(flavor["ram"]) * count}


class QuotaSets:
    """``hub.compute``'s quota methods: a project's limits (and usage) as the quota-set API shows them."""

    def quota_set(self, ctx: RequestContext, project_id: str, detail: bool = False,
                  user_id: str | None = None) -> dict[str, Any]:
        limits = get_limits(project_id)
        if not detail:
            return limits
        usage = get_usage(project_id)
        kp_usage = get_usage(user_id or ctx.user_id or "").get("key_pairs", 0)
        out = {}
        for r, lim in limits.items():
            used = kp_usage if r == "key_pairs" else usage.get(r, 0)
            out[r] = {"limit": lim, "in_use": used, "reserved": 0}
        return out

    def update_quota_set(self, ctx: RequestContext, project_id: str, values: dict[str, int],
                         force: bool = False) -> dict[str, int]:
        if not force:
            usage = get_usage(project_id)
            for r, v in values.items():
                if r in COUNTED and r != "key_pairs" and v >= 0 and usage.get(r, 0) > v:
                    raise exception.Invalid(reason=f"Quota limit {v} for {r} must be greater than or equal to "
                                                   f"already used and reserved {usage.get(r, 0)}.")
        return set_limits(project_id, values)

    def quota_defaults(self, ctx: RequestContext) -> dict[str, int]:
        return default_limits()

    def delete_quota_set(self, ctx: RequestContext, project_id: str) -> None:
        delete_limits(project_id)

    def quota_class_set(self, ctx: RequestContext, name: str) -> dict[str, int]:
        owner = CLASS_PREFIX + name
        limits = get_limits(owner)
        with db.reader() as s:  # the network resources a class keeps for old clients (they limit nothing here)
            for q in s.scalars(sa.select(Quota).where(Quota.project_id == owner, Quota.resource.in_(CLASS_ONLY))):
                limits[q.resource] = q.hard_limit
        return limits

    def update_quota_class_set(self, ctx: RequestContext, name: str, values: dict[str, int]) -> dict[str, int]:
        set_limits(CLASS_PREFIX + name, values, RESOURCES + CLASS_ONLY)
        return self.quota_class_set(ctx, name)
