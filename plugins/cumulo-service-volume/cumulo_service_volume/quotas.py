"""The volume quotas: volumes, snapshots, gigabytes (volumes and snapshots), backups, per-volume size.

Defaults are ``[volume] quota_*`` options; a project's own limits are
``volume_quotas`` rows. -1 is unlimited. An overrun is
:class:`~cumulo_service_volume.common.VolumeQuotaExceeded` (413).

As Cinder, every volume type ``<t>`` adds ``volumes_<t>``, ``gigabytes_<t>`` and
``snapshots_<t>`` (default -1), charged by the volumes of that type and the
snapshots of those volumes. Their rows are keyed by the type's id
(``volumes@<type id>``), so a renamed type keeps its limits under the new name; a
deleted type's rows go with it (:func:`drop_type`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume.common import VolumeQuotaExceeded
from cumulo_service_volume.models import Backup, Group, QuotaClass, Snapshot, Volume, VolumeQuota, VolumeType

#: Quota resources and the option holding each default.
RESOURCES: dict[str, str] = {
    "volumes": "quota_volumes", "snapshots": "quota_snapshots", "gigabytes": "quota_gigabytes",
    "backups": "quota_backups", "backup_gigabytes": "quota_backup_gigabytes", "groups": "quota_groups",
    "per_volume_gigabytes": "per_volume_size_limit",
}

#: The resources each volume type has its own limit of (``volumes_<type name>``...).
TYPE_RESOURCES = ("volumes", "gigabytes", "snapshots")


def _type_names(s: orm.Session) -> dict[str, str]:
    """Every volume type's id -> name (Cinder lists the per-type quotas of all types)."""
    return {tid: name for tid, name in s.execute(sa.select(VolumeType.id, VolumeType.name))}


def _stored_key(resource: str, type_id: str) -> str:
    return f"{resource}@{type_id}"


def drop_type(s: orm.Session, type_id: str) -> None:
    """Forget every project's limits of a deleted volume type, in the caller's transaction ``s``."""
    s.execute(sa.delete(VolumeQuota).where(VolumeQuota.resource.in_([_stored_key(r, type_id)
                                                                     for r in TYPE_RESOURCES])))
    s.execute(sa.delete(QuotaClass).where(QuotaClass.resource.in_([_stored_key(r, type_id)
                                                                   for r in TYPE_RESOURCES])))


class Quotas:
    def __init__(self, conf: Any) -> None:
        self.conf = conf

    def defaults(self, s: orm.Session | None = None) -> dict[str, int]:
        """The default limits, the per-type ones (-1) included; reads the types in ``s`` or its own reader."""
        if s is None:
            with db.reader() as own:
                return self.defaults(own)
        values = {name: int(getattr(self.conf.volume, option)) for name, option in RESOURCES.items()}
        names = _type_names(s)
        for name in sorted(names.values()):
            values.update({f"{resource}_{name}": -1 for resource in TYPE_RESOURCES})
        # the ``default`` quota class (os-quota-class-sets) overrides the options
        for row in s.execute(sa.select(QuotaClass).where(QuotaClass.class_name == "default")).scalars():
            resource, _, type_id = row.resource.partition("@")
            key = f"{resource}_{names[type_id]}" if type_id in names else row.resource
            if key in values:
                values[key] = row.hard_limit
        return values

    @staticmethod
    def _numbers(changes: dict[str, Any]) -> dict[str, int]:
        values: dict[str, int] = {}
        for key, value in changes.items():
            if isinstance(value, bool):
                raise exception.ValidationError(field=key, reason=f"{value!r} is not an integer")
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise exception.ValidationError(field=key, reason=f"{value!r} is not an integer") from None
            if number < -1:
                raise exception.ValidationError(field=key, reason="must be -1 (unlimited) or more")
            values[key] = number
        return values

    def show_class(self, ctx: RequestContext, class_name: str) -> dict[str, int]:
        """A quota class's limits (Cinder's os-quota-class-sets; only ``default`` has an effect)."""
        policy.authorize(ctx, "volume_extension:quota_classes")
        with db.reader() as s:
            values = self.defaults(s)
            if class_name != "default":
                names = _type_names(s)
                for row in s.execute(sa.select(QuotaClass).where(QuotaClass.class_name == class_name)).scalars():
                    resource, _, type_id = row.resource.partition("@")
                    values[f"{resource}_{names[type_id]}" if type_id in names else row.resource] = row.hard_limit
            return values

    def update_class(self, ctx: RequestContext, class_name: str, changes: dict[str, Any]) -> dict[str, int]:
        policy.authorize(ctx, "volume_extension:quota_classes:update")
        if not class_name or len(class_name) > 255:
            raise exception.ValidationError(field="class_name", reason="must be 1 to 255 characters")
        values = self._numbers(changes)
        with db.transaction() as s:
            by_name = {f"{resource}_{name}": _stored_key(resource, tid)
                       for tid, name in _type_names(s).items() for resource in TYPE_RESOURCES}
            unknown = [key for key in values if key not in RESOURCES and key not in by_name]
            if unknown:
                raise exception.ValidationError(field=unknown[0], reason="is not a volume quota resource")
            for key, number in values.items():
                stored = by_name.get(key, key)
                row = s.execute(sa.select(QuotaClass).where(QuotaClass.class_name == class_name,
                                                            QuotaClass.resource == stored)).scalar_one_or_none()
                if row is None:
                    s.add(QuotaClass(class_name=class_name, resource=stored, hard_limit=number))
                else:
                    row.hard_limit = number
        return self.show_class(ctx, class_name)

    def limits(self, s: orm.Session, project_id: str) -> dict[str, int]:
        limits = self.defaults(s)
        names = _type_names(s)
        for row in s.execute(sa.select(VolumeQuota).where(VolumeQuota.project_id == project_id)).scalars():
            resource, _, type_id = row.resource.partition("@")
            key = f"{resource}_{names[type_id]}" if type_id in names else row.resource
            if key in limits:
                limits[key] = row.hard_limit
        return limits

    @staticmethod
    def usage(s: orm.Session, project_id: str) -> dict[str, int]:
        volumes, vol_gb = s.execute(
            sa.select(sa.func.count(Volume.id), sa.func.coalesce(sa.func.sum(Volume.size), 0))
            .where(Volume.project_id == project_id, Volume.deleted == sa.false())).one()
        snaps, snap_gb = s.execute(
            sa.select(sa.func.count(Snapshot.id), sa.func.coalesce(sa.func.sum(Snapshot.volume_size), 0))
            .where(Snapshot.project_id == project_id, Snapshot.deleted == sa.false())).one()
        backups, backup_gb = s.execute(
            sa.select(sa.func.count(Backup.id), sa.func.coalesce(sa.func.sum(Backup.size), 0))
            .where(Backup.project_id == project_id, Backup.deleted == sa.false())).one()
        used = {"volumes": int(volumes), "snapshots": int(snaps), "gigabytes": int(vol_gb) + int(snap_gb),
                "backups": int(backups), "backup_gigabytes": int(backup_gb), "per_volume_gigabytes": 0,
                "groups": int(s.execute(sa.select(sa.func.count(Group.id)).where(
                    Group.project_id == project_id, Group.deleted == sa.false())).scalar_one())}
        names = _type_names(s)
        for name in names.values():
            used.update({f"{resource}_{name}": 0 for resource in TYPE_RESOURCES})
        for type_id, count, gb in s.execute(
                sa.select(Volume.volume_type_id, sa.func.count(Volume.id), sa.func.coalesce(sa.func.sum(Volume.size), 0))
                .where(Volume.project_id == project_id, Volume.deleted == sa.false()).group_by(Volume.volume_type_id)):
            if type_id in names:
                used[f"volumes_{names[type_id]}"] = int(count)
                used[f"gigabytes_{names[type_id]}"] += int(gb)
        # a snapshot counts against its volume's type, as Cinder reserves it
        for type_id, count, gb in s.execute(
                sa.select(Volume.volume_type_id, sa.func.count(Snapshot.id),
                          sa.func.coalesce(sa.func.sum(Snapshot.volume_size), 0))
                .join(Volume, Volume.id == Snapshot.volume_id)
                .where(Snapshot.project_id == project_id, Snapshot.deleted == sa.false())
                .group_by(Volume.volume_type_id)):
            if type_id in names:
                used[f"snapshots_{names[type_id]}"] = int(count)
                used[f"gigabytes_{names[type_id]}"] += int(gb)
        return used

    def check(self, s: orm.Session, project_id: str, volume_type_id: str | None = None, **deltas: int) -> None:
        """Room for ``deltas`` (``volumes=1, gigabytes=10``) in the caller's write transaction ``s``.

        ``per_volume_gigabytes`` is a size to check, not a delta. With ``volume_type_id`` the
        type's own ``volumes_<t>``, ``gigabytes_<t>`` and ``snapshots_<t>`` are checked too.

        :raises VolumeQuotaExceeded: a limit would be exceeded (the message names the quota, as Cinder's).
        """
        limits = self.limits(s, project_id)
        name = _type_names(s).get(volume_type_id or "")
        if name is not None:
            deltas.update({f"{resource}_{name}": deltas[resource] for resource in TYPE_RESOURCES
                           if resource in deltas})
        size = deltas.pop("per_volume_gigabytes", None)
        if size is not None and 0 <= limits["per_volume_gigabytes"] < size:
            raise VolumeQuotaExceeded(
                f"Requested volume size {size}G is larger than maximum allowed limit "
                f"{limits['per_volume_gigabytes']}G.", resource="per_volume_gigabytes", requested=size, used=0,
                limit=limits["per_volume_gigabytes"])
        used = self.usage(s, project_id)
        for resource, delta in deltas.items():
            limit = limits[resource]
            if delta > 0 and 0 <= limit < used[resource] + delta:
                kind = resource.split("_", 1)[0]  # volumes_<t> is a number of volumes
                if resource == "backup_gigabytes":
                    what = (f"Requested backup exceeds allowed Backup gigabytes quota. Requested {delta}G, quota is "
                            f"{limit}G and {used[resource]}G has been consumed.")
                elif kind == "gigabytes":
                    what = (f"Requested volume or snapshot exceeds allowed {resource} quota. Requested {delta}G, "
                            f"quota is {limit}G and {used[resource]}G has been consumed.")
                else:
                    what = f"Maximum number of {kind} allowed ({limit}) exceeded for quota '{resource}'."
                raise VolumeQuotaExceeded(what, resource=resource, requested=delta, used=used[resource], limit=limit)

    # -- API
    def show(self, ctx: RequestContext, project_id: str, usage: bool = False) -> dict[str, Any]:
        """Limits (with ``usage``: ``{"limit", "in_use", "reserved", "allocated"}`` per resource)."""
        policy.authorize(ctx, "volume_extension:quotas:show", {"project_id": project_id})
        with db.reader() as s:
            limits = self.limits(s, project_id)
            if not usage:
                return dict(limits)
            used = self.usage(s, project_id)
        return {k: {"limit": v, "in_use": used.get(k, 0), "reserved": 0, "allocated": 0} for k, v in limits.items()}

    def update(self, ctx: RequestContext, project_id: str, changes: dict[str, Any]) -> dict[str, int]:
        policy.authorize(ctx, "volume_extension:quotas:update", {"project_id": project_id})
        values = self._numbers(changes)
        with db.transaction() as s:
            by_name = {f"{resource}_{name}": _stored_key(resource, tid)
                       for tid, name in _type_names(s).items() for resource in TYPE_RESOURCES}
            unknown = [key for key in values if key not in RESOURCES and key not in by_name]
            if unknown:
                raise exception.ValidationError(field=unknown[0], reason="is not a volume quota resource")
            used = self.usage(s, project_id)
            for key, number in values.items():
                if key != "per_volume_gigabytes" and 0 <= number < used.get(key, 0):
                    raise exception.Invalid(reason=f"Quota limit {number} for {key} must be equal or greater "
                                                   f"than existing resources ({used[key]}).")
                stored = by_name.get(key, key)
                row = s.execute(sa.select(VolumeQuota).where(VolumeQuota.project_id == project_id,
                                                             VolumeQuota.resource == stored)).scalar_one_or_none()
                if row is None:
                    s.add(VolumeQuota(project_id=project_id, resource=stored, hard_limit=number))
                else:
                    row.hard_limit = number
            s.flush()
            return self.limits(s, project_id)

    def delete(self, ctx: RequestContext, project_id: str) -> None:
        policy.authorize(ctx, "volume_extension:quotas:delete", {"project_id": project_id})
        with db.transaction() as s:
            s.execute(sa.delete(VolumeQuota).where(VolumeQuota.project_id == project_id))

    def used_limits(self, ctx: RequestContext) -> dict[str, int]:
        """The ``absolute`` limits of the caller's project (Cinder's /limits)."""
        project_id = ctx.project_id or ""
        policy.authorize(ctx, "limits_extension:used_limits", {"project_id": project_id})
        with db.reader() as s:
            limits = self.limits(s, project_id)
            used = self.usage(s, project_id)
        return {"maxTotalVolumes": limits["volumes"], "maxTotalSnapshots": limits["snapshots"],
                "maxTotalVolumeGigabytes": limits["gigabytes"], "maxTotalBackups": limits["backups"],
                "maxTotalBackupGigabytes": limits["backup_gigabytes"], "totalVolumesUsed": used["volumes"],
                "totalGigabytesUsed": used["gigabytes"], "totalSnapshotsUsed": used["snapshots"],
                "totalBackupsUsed": used["backups"], "totalBackupGigabytesUsed": used["backup_gigabytes"]}
