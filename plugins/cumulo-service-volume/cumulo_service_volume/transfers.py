"""Volume transfers: a project offers one of its volumes, another project takes it with the transfer's
id and auth key (Cinder's ``os-volume-transfer`` and, at 3.55, ``volume-transfers``).

Lifecycle: ``available --create--> awaiting-transfer --accept--> available`` (in the receiving project,
owned by the accepting user, with its snapshots unless ``no_snapshots``), or ``--delete--> available``
where it was. Only the auth key's salted SHA-256 is stored; the key is shown once, in the create
answer. A wrong key is a 400, and the receiving project's quotas are checked before anything moves.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume import listing
from cumulo_service_volume.common import as_bool, as_text, iso, now
from cumulo_service_volume.models import Snapshot, Transfer, Volume
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.volumes import load

#: Length of a generated auth key (Cinder's ``volume_transfer_key_length`` default).
KEY_LENGTH = 16


class TransferNotFound(exception.NotFound):
    """No such transfer, or the caller may not see it."""


def _hash(salt: str, key: str) -> str:
    return hashlib.sha256((salt + key).encode()).hexdigest()


def transfer_view(row: Transfer) -> dict[str, Any]:
    return {"id": row.id, "volume_id": row.volume_id, "name": row.name, "created_at": iso(row.created_at),
            "source_project_id": row.source_project_id, "destination_project_id": row.destination_project_id,
            "accepted": row.accepted, "no_snapshots": row.no_snapshots}


class Transfers:
    def __init__(self, quotas: Quotas) -> None:
        self.quotas = quotas

    @staticmethod
    def _load(s: orm.Session, ctx: RequestContext, transfer_id: str) -> Transfer:
        row = s.get(Transfer, transfer_id)
        if row is None or row.deleted or not (ctx.is_admin or row.source_project_id == ctx.project_id):
            raise TransferNotFound(resource="Transfer", id=transfer_id)
        return row

    def create(self, ctx: RequestContext, volume_id: Any, name: Any = None,
               no_snapshots: Any = False) -> dict[str, Any]:
        """Offer an available volume; the answer (only this one) carries the ``auth_key``."""
        if not isinstance(volume_id, str) or not volume_id:
            raise exception.ValidationError(field="volume_id", reason="is required")
        name = as_text(name, "name")
        skip_snapshots = as_bool(no_snapshots, "no_snapshots")
        key = secrets.token_hex(KEY_LENGTH // 2)
        salt = secrets.token_hex(8)
        with db.transaction() as s:
            vol = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume:create_transfer", {"project_id": vol.project_id})
            if vol.status != "available":
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available to transfer it, but "
                                               f"the current status is: {vol.status}.")
            if vol.group_id:
                raise exception.Invalid(reason=f"Volume {volume_id} belongs to a group: remove it from the group "
                                               "first.")
            row = Transfer(id=str(uuid.uuid4()), volume_id=volume_id, source_project_id=vol.project_id, name=name,
                           salt=salt, crypt_hash=_hash(salt, key), no_snapshots=skip_snapshots, accepted=False,
                           deleted=False, created_at=now())
            s.add(row)
            vol.status, vol.updated_at = "awaiting-transfer", now()
            s.flush()
            return {**transfer_view(row), "auth_key": key}

    def get(self, ctx: RequestContext, transfer_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = self._load(s, ctx, transfer_id)
            policy.authorize(ctx, "volume:get_transfer", {"project_id": row.source_project_id})
            return transfer_view(row)

    def list(self, ctx: RequestContext, filters: dict[str, Any], sort_params: dict[str, Any] | None = None,
             limit: int | None = None, marker: str | None = None,
             offset: int | None = None) -> tuple[list[dict[str, Any]], int]:
        policy.authorize(ctx, "volume:get_all_transfers", {"project_id": ctx.project_id})
        filters = dict(filters)
        all_tenants = ctx.is_admin and as_bool(filters.pop("all_tenants", "false") or "true", "all_tenants")
        sort = listing.parse_sort(sort_params or {}, ("created_at", "id", "name", "volume_id"))
        with db.reader() as s:
            q = sa.select(Transfer).where(Transfer.deleted == sa.false())
            if not all_tenants:
                q = q.where(Transfer.source_project_id == ctx.project_id)
            items = [transfer_view(r) for r in s.execute(q.order_by(Transfer.created_at)).scalars()]
        match = listing.matcher(filters, {"name": str, "volume_id": str, "id": str})
        items = listing.sort_items([i for i in items if match(i)], sort)
        return listing.page(items, marker, limit, offset, "transfers"), len(items)

    def delete(self, ctx: RequestContext, transfer_id: str) -> None:
        """Withdraw the offer: the volume is available again where it was."""
        with db.transaction() as s:
            row = self._load(s, ctx, transfer_id)
            policy.authorize(ctx, "volume:delete_transfer", {"project_id": row.source_project_id})
            vol = s.get(Volume, row.volume_id)
            if vol is not None and not vol.deleted and vol.status == "awaiting-transfer":
                vol.status, vol.updated_at = "available", now()
            row.deleted, row.deleted_at = True, now()

    def accept(self, ctx: RequestContext, transfer_id: str, auth_key: Any) -> dict[str, Any]:
        """Take the volume into ``ctx``'s project (any project holding the id and the key may)."""
        if not isinstance(auth_key, str) or not auth_key:
            raise exception.ValidationError(field="auth_key", reason="is required")
        policy.authorize(ctx, "volume:accept_transfer", {"project_id": ctx.project_id})
        with db.transaction() as s:
            row = s.get(Transfer, transfer_id)
            if row is None or row.deleted:
                raise TransferNotFound(resource="Transfer", id=transfer_id)
            if not hmac.compare_digest(row.crypt_hash, _hash(row.salt, auth_key)):
                raise exception.Invalid(reason=f"Attempt to transfer {row.volume_id} with invalid auth key.")
            vol = s.get(Volume, row.volume_id)
            if vol is None or vol.deleted or vol.status != "awaiting-transfer":
                raise exception.Invalid(reason=f"Volume {row.volume_id} is no longer awaiting this transfer.")
            snaps = [] if row.no_snapshots else list(s.execute(sa.select(Snapshot).where(
                Snapshot.volume_id == vol.id, Snapshot.deleted == sa.false())).scalars())
            target = ctx.project_id or ""
            if target != vol.project_id:
                self.quotas.check(s, target, vol.volume_type_id, volumes=1,
                                  gigabytes=vol.size + sum(sn.volume_size for sn in snaps),
                                  snapshots=len(snaps), per_volume_gigabytes=vol.size)
            vol.project_id, vol.user_id, vol.status, vol.updated_at = target, ctx.user_id, "available", now()
            for sn in snaps:
                sn.project_id, sn.user_id = target, ctx.user_id
            row.accepted, row.destination_project_id = True, target
            row.deleted, row.deleted_at = True, now()
            s.flush()
            return transfer_view(row)
