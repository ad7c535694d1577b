"""Cinder's legacy attach actions on a volume (``os-reserve``, ``os-unreserve``, ``os-attach``,
``os-begin_detaching``, ``os-roll_detaching``, ``os-detach``, ``os-force_detach``).

They only record the bookkeeping a caller that manages the connection itself does (no export is
made: that is the attachments API's ``attach`` with a connector)::

    available --os-reserve--> attaching --os-attach--> in-use --os-begin_detaching--> detaching
    attaching --os-unreserve--> available       detaching --os-roll_detaching--> in-use
    in-use|detaching --os-detach (last attachment)--> available

``os-force_detach`` (administrators) drops an attachment whatever the volume's status is (Tempest's
test resets the volume to ``error`` first), stopping an export if one was made.
"""

from __future__ import annotations

import uuid
from typing import Any

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_volume.common import as_text, now
from cumulo_service_volume.models import Volume, VolumeAttachment
from cumulo_service_volume.volumes import Volumes, load

_MODES = ("rw", "ro")


def _target(row: Volume) -> dict[str, Any]:
    return {"project_id": row.project_id}


def _after(row: Volume) -> str:
    if any(a.attach_status == "attached" for a in row.attachments):
        return "in-use"
    return "attaching" if row.attachments else "available"


class AttachActions:
    """The legacy actions, on the records of :class:`~cumulo_service_volume.volumes.Volumes`."""

    def __init__(self, volumes: Volumes) -> None:
        self.volumes = volumes

    def reserve(self, ctx: RequestContext, volume_id: str) -> None:
        """``os-reserve``: an available volume (or an in-use multiattach one) is ``attaching``; 400 otherwise."""
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:reserve", _target(row))
            if not (row.status == "available" or (row.multiattach and row.status == "in-use")):
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available to reserve, but the "
                                               f"current status is: {row.status}.")
            row.attachments.append(VolumeAttachment(id=str(uuid.uuid4()), volume_id=volume_id, instance_uuid=None,
                                                    attach_mode="ro" if row.readonly else "rw",
                                                    attach_status="reserved", created_at=now()))
            row.status, row.updated_at = "attaching", now()

    def unreserve(self, ctx: RequestContext, volume_id: str) -> None:
        """``os-unreserve``: drop the reservations that were never attached."""
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:unreserve", _target(row))
            for att in [a for a in row.attachments if a.attach_status == "reserved"]:
                row.attachments.remove(att)
            if row.status == "attaching":
                row.status = _after(row)
            row.updated_at = now()

    def attach(self, ctx: RequestContext, volume_id: str, fields: dict[str, Any]) -> None:
        """``os-attach`` (``instance_uuid`` or ``host_name``, ``mountpoint``, ``mode``): the volume is in-use."""
        server_id = fields.get("instance_uuid")
        host_name = as_text(fields.get("host_name"), "host_name")
        if server_id is not None and not isinstance(server_id, str):
            raise exception.ValidationError(field="instance_uuid", reason="must be a server id")
        if not server_id and not host_name:
            raise exception.ValidationError(field="os-attach", reason="needs an instance_uuid or a host_name")
        mountpoint = as_text(fields.get("mountpoint"), "mountpoint")
        mode = fields.get("mode") or "rw"
        if mode not in _MODES:
            raise exception.ValidationError(field="mode", reason="must be rw or ro")
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:attach", _target(row))
            if row.readonly and mode == "rw":
                raise exception.Invalid(reason=f"Volume {volume_id} is read-only: attach it with mode ro.")
            pending = [a for a in row.attachments if a.attach_status == "reserved"
                       and a.instance_uuid in (None, server_id)]
            if pending:
                att = pending[0]
            elif row.status == "available" or (row.multiattach and row.status == "in-use"):
                att = VolumeAttachment(id=str(uuid.uuid4()), volume_id=volume_id, attach_status="reserved",
                                       attach_mode=mode, created_at=now())
                row.attachments.append(att)
            else:
                raise exception.Invalid(reason=f"Volume {volume_id} status must be available or attaching to "
                                               f"attach, but the current status is: {row.status}.")
            att.instance_uuid, att.attached_host, att.mountpoint = server_id or None, host_name, mountpoint
            att.attach_mode, att.attach_status, att.attached_at = mode, "attached", now()
            row.status, row.updated_at = "in-use", now()

    def begin_detaching(self, ctx: RequestContext, volume_id: str) -> None:
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:begin_detaching", _target(row))
            if row.status != "in-use":
                raise exception.Invalid(reason=f"Volume {volume_id} status must be in-use to begin detaching, but "
                                               f"the current status is: {row.status}.")
            row.status, row.updated_at = "detaching", now()

    def roll_detaching(self, ctx: RequestContext, volume_id: str) -> None:
        with db.transaction() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, "volume_extension:volume_actions:roll_detaching", _target(row))
            if row.status == "detaching":
                row.status, row.updated_at = _after(row), now()

    def detach(self, ctx: RequestContext, volume_id: str, attachment_id: Any = None, force: bool = False) -> None:
        """``os-detach`` (``attachment_id``, needed when there are several) or ``os-force_detach`` (admins)."""
        if attachment_id is not None and not isinstance(attachment_id, str):
            raise exception.ValidationError(field="attachment_id", reason="must be an attachment id")
        rule = "volume_extension:volume_admin_actions:force_detach" if force else \
            "volume_extension:volume_actions:detach"
        with db.reader() as s:
            row = load(s, ctx, volume_id)
            policy.authorize(ctx, rule, _target(row))
            ids = [a.id for a in row.attachments]
            status = row.status
        if attachment_id is None:
            if len(ids) > 1:
                raise exception.Invalid(reason=f"Volume {volume_id} has {len(ids)} attachments: name the one to "
                                               "detach (attachment_id).")
            if not ids:  # nothing to detach: Cinder accepts it too
                return
            attachment_id = ids[0]
        elif attachment_id not in ids:
            raise exception.NotFound(f"Volume {volume_id} has no attachment {attachment_id}.")
        if not force and status not in ("in-use", "detaching", "attaching"):
            raise exception.Invalid(reason=f"Volume {volume_id} status must be in-use or detaching to detach, but "
                                           f"the current status is: {status}.")
        self.volumes.detach(ctx, attachment_id)
        with db.transaction() as s:
            found = s.get(Volume, volume_id)
            if found is not None:
                found.status, found.updated_at = _after(found), now()
