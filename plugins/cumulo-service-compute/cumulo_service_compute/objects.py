"""Database helpers of the compute area: instance dicts, faults, actions, state moves."""

from __future__ import annotations

import json
import traceback
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.db.models.base import utcnow
from cumulo_service_compute.models import (
    Instance,
    InstanceAction,
    InstanceActionEvent,
    InstanceFault,
    InstanceTag,
    ServerGroupMember,
)


def loads(text: str | None, default: Any = None) -> Any:
    if not text:
        return default
    return json.loads(text)


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def instance_dict(row: Instance, tags: list[str] | None = None) -> dict[str, Any]:
    """The plain dict the service, drivers and frontends use."""
    d = row.to_dict()
    d["flavor"] = loads(row.flavor_json, {})
    d["old_flavor"] = loads(row.old_flavor_json)
    d["new_flavor"] = loads(row.new_flavor_json)
    d["metadata"] = loads(row.metadata_json, {})
    d["system_metadata"] = loads(row.system_metadata_json, {})
    d["security_groups"] = loads(row.security_groups_json, [])
    d["requested_networks"] = loads(row.requested_networks_json)
    d["scheduler_hints"] = loads(row.scheduler_hints_json, {})
    d["resize"] = loads(row.resize_json)
    for k in ("flavor_json", "old_flavor_json", "new_flavor_json", "metadata_json", "system_metadata_json",
              "security_groups_json", "requested_networks_json", "scheduler_hints_json", "resize_json"):
        d.pop(k, None)
    d["name"] = "instance-" + row.uuid
    d["tags"] = tags if tags is not None else []
    return d


def get_instance(uuid: str, *, project_id: str | None = None, read_deleted: bool = False,
                 with_tags: bool = True) -> dict[str, Any]:
    with db.reader() as s:
        row = s.get(Instance, uuid)
        if row is None or (row.deleted and not read_deleted) or (project_id and row.project_id != project_id):
            raise exception.NotFound(f"Instance {uuid} could not be found.")
        tags = sorted(s.scalars(sa.select(InstanceTag.tag).where(InstanceTag.instance_uuid == uuid))) if with_tags else []
        return instance_dict(row, tags)


@db.retry_on_deadlock
def update_instance(uuid: str, values: dict[str, Any], *, expected_task_state: Any = ...,
                    expected_vm_state: Any = ..., allow_deleted: bool = False) -> dict[str, Any]:
    """Update columns; with ``expected_*`` the update is conditional (409 when the instance moved on).

    ``values`` may hold the decoded names (flavor, metadata, ...); they are JSON-encoded here.
    """
    encoded = dict(values)
    for k in ("flavor", "old_flavor", "new_flavor", "metadata", "system_metadata", "security_groups",
              "requested_networks", "scheduler_hints", "resize"):
        if k in encoded:
            encoded[k + "_json"] = dumps(encoded.pop(k))
    if "task_state" in encoded:
        encoded["task_updated_at"] = utcnow() if encoded["task_state"] else None
    encoded["updated_at"] = utcnow()
    with db.transaction() as s:
        stmt = sa.update(Instance).where(Instance.uuid == uuid).values(**encoded)
        if not allow_deleted:
            stmt = stmt.where(Instance.deleted.is_(False))
        if expected_task_state is not ...:
            states = expected_task_state if isinstance(expected_task_state, (list, tuple, set)) else [expected_task_state]
            conds = [Instance.task_state.is_(None) if st is None else Instance.task_state == st for st in states]
            stmt = stmt.where(sa.or_(*conds))
        if expected_vm_state is not ...:
            states = expected_vm_state if isinstance(expected_vm_state, (list, tuple, set)) else [expected_vm_state]
            stmt = stmt.where(Instance.vm_state.in_(list(states)))
        if db.rowcount(s, stmt.execution_options(synchronize_session=False)) == 0:
            row = s.get(Instance, uuid)
            if row is None or (row.deleted and not allow_deleted):
                raise exception.NotFound(f"Instance {uuid} could not be found.")
            raise exception.Conflict(
                f"Instance {uuid} is in vm_state {row.vm_state}, task_state {row.task_state}: "
                "it changed while the request was handled.")
        row = s.get(Instance, uuid)
        if row is None:  # the UPDATE matched it in this transaction
            raise exception.NotFound(f"Instance {uuid} could not be found.")
        s.refresh(row)
        return instance_dict(row)


def add_fault(uuid: str, message: str, code: int = 500, details: str | None = None, host: str | None = None) -> None:
    with db.transaction() as s:
        s.add(InstanceFault(instance_uuid=uuid, code=code, message=message[:255], details=details, host=host,
                            created_at=utcnow()))


def latest_faults(uuids: list[str]) -> dict[str, dict[str, Any]]:
    if not uuids:
        return {}
    out: dict[str, dict[str, Any]] = {}
    with db.reader() as s:
        rows = s.scalars(sa.select(InstanceFault).where(InstanceFault.instance_uuid.in_(uuids))
                         .order_by(InstanceFault.id)).all()
        for r in rows:
            out[r.instance_uuid] = {"code": r.code, "message": r.message, "details": r.details,
                                    "created": r.created_at, "host": r.host}
    return out


def set_error(uuid: str, message: str, *, code: int = 500, details: str | None = None,
              host: str | None = None) -> None:
    """Move an instance to ERROR (task cleared) and record why."""
    add_fault(uuid, message, code, details, host)
    try:
        update_instance(uuid, {"vm_state": "error", "task_state": None})
    except exception.NotFound:
        pass


# -- instance actions -----------------------------------------------------

def start_action(ctx: RequestContext, uuid: str, action: str) -> int:
    with db.transaction() as s:
        row = InstanceAction(action=action, instance_uuid=uuid, request_id=ctx.request_id, user_id=ctx.user_id,
                             project_id=ctx.project_id, start_time=utcnow())
        s.add(row)
        s.flush()
        return row.id


def _action_for(s: Any, ctx: RequestContext, uuid: str) -> InstanceAction | None:
    row = s.scalar(sa.select(InstanceAction).where(InstanceAction.instance_uuid == uuid,
                                                   InstanceAction.request_id == ctx.request_id)
                   .order_by(InstanceAction.id.desc()).limit(1))
    if row is None:
        row = s.scalar(sa.select(InstanceAction).where(InstanceAction.instance_uuid == uuid)
                       .order_by(InstanceAction.id.desc()).limit(1))
    return row


class action_event:
    """``with action_event(ctx, uuid, "compute_reboot_instance", host):`` records start, finish and result."""

    def __init__(self, ctx: RequestContext, uuid: str, event: str, host: str | None = None) -> None:
        self.ctx, self.uuid, self.event, self.host = ctx, uuid, event, host
        self.event_id: int | None = None

    def __enter__(self) -> action_event:
        try:
            with db.transaction() as s:
                action = _action_for(s, self.ctx, self.uuid)
                if action is None:
                    return self
                ev = InstanceActionEvent(action_id=action.id, event=self.event, start_time=utcnow(), host=self.host)
                s.add(ev)
                s.flush()
                self.event_id = ev.id
        except Exception:  # recording must never break the operation
            self.event_id = None
        return self

    def __exit__(self, etype: Any, err: Any, tb: Any) -> None:
        if self.event_id is None:
            return
        result = "Success" if etype is None else "Error"
        trace = "".join(traceback.format_exception(etype, err, tb))[-4000:] if etype else None
        try:
            with db.transaction() as s:
                ev = s.get(InstanceActionEvent, self.event_id)
                if ev is not None:
                    ev.finish_time, ev.result, ev.traceback = utcnow(), result, trace
                    if etype is not None:
                        ev.details = str(err)[:4000]
                    action = s.get(InstanceAction, ev.action_id)
                    if action is not None:
                        action.finish_time = utcnow()
                        action.updated_at = utcnow()
                        if etype is not None:
                            action.message = "Error"
        except Exception:
            pass


def finish_action(ctx: RequestContext, uuid: str, message: str | None = None) -> None:
    with db.transaction() as s:
        action = _action_for(s, ctx, uuid)
        if action is not None:
            action.finish_time = utcnow()
            action.updated_at = utcnow()
            if message:
                action.message = message


def list_actions(uuid: str) -> list[dict[str, Any]]:
    with db.reader() as s:
        rows = s.scalars(sa.select(InstanceAction).where(InstanceAction.instance_uuid == uuid)
                         .order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())).all()
        return [_action_dict(r) for r in rows]


def _action_dict(r: InstanceAction) -> dict[str, Any]:
    return {"action": r.action, "instance_uuid": r.instance_uuid, "request_id": r.request_id,
            "user_id": r.user_id, "project_id": r.project_id, "start_time": r.start_time,
            "finish_time": r.finish_time, "message": r.message, "updated_at": r.updated_at or r.start_time}


def get_action(uuid: str, request_id: str) -> dict[str, Any]:
    with db.reader() as s:
        r = s.scalar(sa.select(InstanceAction).where(InstanceAction.instance_uuid == uuid,
                                                     InstanceAction.request_id == request_id))
        if r is None:
            raise exception.NotFound(f"Action for request {request_id} on instance {uuid} could not be found.")
        events = s.scalars(sa.select(InstanceActionEvent).where(InstanceActionEvent.action_id == r.id)
                           .order_by(InstanceActionEvent.id)).all()
        d = _action_dict(r)
        d["events"] = [{"event": e.event, "start_time": e.start_time, "finish_time": e.finish_time,
                        "result": e.result, "traceback": e.traceback, "host": e.host, "details": e.details}
                       for e in events]
        return d


def group_of(uuid: str) -> str | None:
    with db.transaction() as s:
        return s.scalar(sa.select(ServerGroupMember.group_uuid).where(ServerGroupMember.instance_uuid == uuid))
