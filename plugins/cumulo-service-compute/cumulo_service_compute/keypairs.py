"""Key pairs (``hub.compute`` key-pair methods): per user, counted against the ``key_pairs`` quota.

A key pair is imported (an OpenSSH public key or an X.509 certificate) or generated here
(RSA, :mod:`cumulo_service_compute.keys`; the private key is returned once, never stored).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.keys as keys
import cumulo_service_compute.quota as quota
from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo_service_compute.models import KeyPair


class Keypairs:
    """The key-pair records (no dependency on the other components)."""

    def create_keypair(self, ctx: RequestContext, name: str, public_key: str | None = None,
                       key_type: str = "ssh", user_id: str | None = None) -> dict[str, Any]:
        user_id = user_id or ctx.user_id or ""
        private = None
        if public_key is None:
            private, public_key = keys.generate_x509(user_id) if key_type == "x509" else keys.generate()
        fp = keys.fingerprint(public_key, key_type)
        quota.reserve(user_id, {"key_pairs": 1}, limits_project=ctx.project_id or user_id)
        try:
            with db.transaction() as s:
                row = KeyPair(name=name, user_id=user_id, fingerprint=fp, public_key=public_key.strip(),
                              type=key_type)
                s.add(row)
                s.flush()
                out = self._keypair_dict(row)
        except sa.exc.IntegrityError:
            quota.release(user_id, {"key_pairs": 1})
            raise exception.Conflict(f"Key pair '{name}' already exists.") from None
        if private:
            out["private_key"] = private
        return out

    @staticmethod
    def _keypair_dict(row: KeyPair) -> dict[str, Any]:
        return {"id": row.id, "name": row.name, "user_id": row.user_id, "fingerprint": row.fingerprint,
                "public_key": row.public_key, "type": row.type, "created_at": row.created_at, "deleted": False,
                "deleted_at": None, "updated_at": row.updated_at}

    def list_keypairs(self, ctx: RequestContext, user_id: str | None = None, limit: int | None = None,
                      marker: str | None = None) -> list[dict[str, Any]]:
        with db.reader() as s:
            q = sa.select(KeyPair).where(KeyPair.user_id == (user_id or ctx.user_id)).order_by(KeyPair.name)
            rows = [self._keypair_dict(r) for r in s.scalars(q)]
        if marker is not None:
            idx = next((i for i, k in enumerate(rows) if k["name"] == marker), None)
            if idx is None:
                raise exception.NotFound(f"Marker {marker} could not be found.")
            rows = rows[idx + 1:]
        return rows[:limit] if limit is not None else rows

    def get_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> dict[str, Any]:
        with db.reader() as s:
            row = s.scalar(sa.select(KeyPair).where(KeyPair.user_id == (user_id or ctx.user_id),
                                                    KeyPair.name == name))
            if row is None:
                raise exception.NotFound(f"Keypair {name} not found for user {user_id or ctx.user_id}")
            return self._keypair_dict(row)

    def delete_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        uid = user_id or ctx.user_id or ""
        with db.transaction() as s:
            n = db.rowcount(s, sa.delete(KeyPair).where(KeyPair.user_id == uid, KeyPair.name == name))
        if not n:
            raise exception.NotFound(f"Keypair {name} not found for user {uid}")
        quota.release(uid, {"key_pairs": 1})
