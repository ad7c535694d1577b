"""QoS specs (Cinder's ``qos-specs``): named limits (``read_iops_sec``...) for a consumer (``front-end``: the
hypervisor applies them, ``back-end``: the storage does, or ``both``), associated with volume types.

Administrators only. The specs are recorded and shown on the types (``qos_specs_id``); neither the
file nor the LVM driver enforces back-end specs. A spec still associated with a type is deleted
only with ``force`` (which disassociates it first), as Cinder does.
"""

from __future__ import annotations

import builtins
import json
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume.common import as_bool, as_text, now
from cumulo_service_volume.models import QosSpecs, VolumeType

CONSUMERS = ("front-end", "back-end", "both")


class QosSpecsNotFound(exception.NotFound):
    """No such QoS specs."""


def qos_view(row: QosSpecs) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "consumer": row.consumer, "specs": json.loads(row.specs)}


def _specs(value: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            raise exception.ValidationError(field="qos_specs", reason=f"key {key!r} must be 1 to 255 characters")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise exception.ValidationError(field=f"qos_specs.{key}", reason="must be a string or a number")
        out[key] = str(item)
    return out


class Qos:
    @staticmethod
    def _load(s: orm.Session, qos_id: str) -> QosSpecs:
        row = s.get(QosSpecs, qos_id)
        if row is None:
            raise QosSpecsNotFound(f"QoS specs {qos_id} could not be found.")
        return row

    def create(self, ctx: RequestContext, fields: dict[str, Any]) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:create")
        fields = dict(fields)
        name = as_text(fields.pop("name", None), "name", allow_none=False)
        if not name or not name.strip():
            raise exception.ValidationError(field="name", reason="is required")
        consumer = fields.pop("consumer", None) or "back-end"
        if consumer not in CONSUMERS:
            raise exception.ValidationError(field="consumer", reason=f"must be one of {', '.join(CONSUMERS)}")
        specs = _specs(fields)
        with db.transaction() as s:
            if s.execute(sa.select(QosSpecs.id).where(QosSpecs.name == name)).first() is not None:
                raise exception.Conflict(f"QoS Specs {name} already exists.")
            row = QosSpecs(id=str(uuid.uuid4()), name=name, consumer=consumer, specs=json.dumps(specs),
                           created_at=now())
            s.add(row)
            s.flush()
            return qos_view(row)

    def list(self, ctx: RequestContext) -> builtins.list[dict[str, Any]]:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:get_all")
        with db.reader() as s:
            return [qos_view(r) for r in s.execute(sa.select(QosSpecs).order_by(QosSpecs.created_at)).scalars()]

    def get(self, ctx: RequestContext, qos_id: str) -> dict[str, Any]:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:get")
        with db.reader() as s:
            return qos_view(self._load(s, qos_id))

    def set_keys(self, ctx: RequestContext, qos_id: str, specs: dict[str, Any]) -> dict[str, str]:
        """Add or change keys; answers with those given."""
        policy.authorize(ctx, "volume_extension:qos_specs_manage:update")
        given = _specs(specs)
        if not given:
            raise exception.ValidationError(field="qos_specs", reason="must not be empty")
        with db.transaction() as s:
            row = self._load(s, qos_id)
            row.specs, row.updated_at = json.dumps({**json.loads(row.specs), **given}), now()
        return given

    def unset_keys(self, ctx: RequestContext, qos_id: str, keys: Any) -> None:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:update")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise exception.ValidationError(field="keys", reason="must be a list of spec names")
        with db.transaction() as s:
            row = self._load(s, qos_id)
            specs = json.loads(row.specs)
            missing = [k for k in keys if k not in specs]
            if missing:
                raise exception.NotFound(f"QoS specs {qos_id} have no key {missing[0]}.")
            row.specs, row.updated_at = json.dumps({k: v for k, v in specs.items() if k not in keys}), now()

    def delete(self, ctx: RequestContext, qos_id: str, force: Any = False) -> None:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:delete")
        forced = as_bool(force, "force")
        with db.transaction() as s:
            row = self._load(s, qos_id)
            types = list(s.execute(sa.select(VolumeType).where(VolumeType.qos_specs_id == qos_id)).scalars())
            if types and not forced:
                raise exception.Invalid(reason=f"QoS Specs {qos_id} is still associated with entities.")
            for vtype in types:
                vtype.qos_specs_id = None
            s.delete(row)

    def associations(self, ctx: RequestContext, qos_id: str) -> builtins.list[dict[str, str]]:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:get")
        with db.reader() as s:
            self._load(s, qos_id)
            return [{"association_type": "volume_type", "id": t.id, "name": t.name}
                    for t in s.execute(sa.select(VolumeType).where(VolumeType.qos_specs_id == qos_id)).scalars()]

    def associate(self, ctx: RequestContext, qos_id: str, type_id: Any, on: bool = True) -> None:
        """Associate (``on``) or disassociate a volume type; a type has at most one QoS specs."""
        policy.authorize(ctx, "volume_extension:qos_specs_manage:update")
        if not isinstance(type_id, str) or not type_id:
            raise exception.ValidationError(field="vol_type_id", reason="is required")
        with db.transaction() as s:
            self._load(s, qos_id)
            vtype = s.get(VolumeType, type_id)
            if vtype is None:
                raise exception.NotFound(f"Volume type {type_id} could not be found.")
            if on:
                if vtype.qos_specs_id not in (None, qos_id):
                    raise exception.Invalid(reason=f"Volume type {type_id} is already associated with QoS specs "
                                                   f"{vtype.qos_specs_id}.")
                vtype.qos_specs_id = qos_id
            elif vtype.qos_specs_id == qos_id:
                vtype.qos_specs_id = None

    def disassociate_all(self, ctx: RequestContext, qos_id: str) -> None:
        policy.authorize(ctx, "volume_extension:qos_specs_manage:update")
        with db.transaction() as s:
            self._load(s, qos_id)
            for vtype in s.execute(sa.select(VolumeType).where(VolumeType.qos_specs_id == qos_id)).scalars():
                vtype.qos_specs_id = None
