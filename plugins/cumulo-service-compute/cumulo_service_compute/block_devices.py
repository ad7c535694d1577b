"""A server's block-device mapping (its volumes): the rows, their views, the driver's records, and
giving the volumes back when the server goes.

A leaf module (it imports no compute component): the API side (:mod:`.servers`,
:mod:`.server_volumes`) and the host side (:mod:`.host_volumes`, :mod:`.host_builds`) share it.

One row of ``compute_block_device_mappings`` per volume of a server, in one of three statuses:
``attaching`` (reserved in the volume area, or to be made from an image: the host has not
attached it yet), ``attached`` (the host's hypervisor has it; the row keeps the volume area's
:class:`ConnectionInfo`), ``detaching`` (the host is taking it off). The volume area's attachment
(``attachment_id``) is the row's hold on the volume.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid as uuidlib
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.volume import NoSuchVolume, VolumeContract
from cumulo.interfaces import hypervisor as hv
from cumulo.interfaces.volume.records import (
    PROTOCOL_FILE,
    ConnectionInfo,
    FileConnection,
    NbdConnection,
    TlsPsk,
)
from cumulo_service_compute.host_common import optional
from cumulo_service_compute.models import BlockDeviceMapping

LOG = logging.getLogger(__name__)

#: The hypervisor capability attaching and detaching need (:data:`cumulo.interfaces.hypervisor.CAPABILITY_METHODS`).
CAPABILITY = "attach_volume"
ATTACHING, ATTACHED, DETACHING = "attaching", "attached", "detaching"
#: The root device's name when the mapping names none (what the hypervisors call it).
ROOT_DEVICE = "/dev/vda"


def volume_service(hub: Any) -> VolumeContract | None:
    """``hub.volume`` (the volume area's contract), or None when this cloud runs no volume service."""
    svc: VolumeContract | None = optional(hub, "volume")
    return svc


def _dict(row: BlockDeviceMapping) -> dict[str, Any]:
    return row.to_dict()


def mappings(instance_uuid: str) -> list[dict[str, Any]]:
    """The server's rows, root first, then by device name."""
    return mappings_of([instance_uuid]).get(instance_uuid, [])


def mappings_of(uuids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each server (root first, then by device name); a server without volumes is absent."""
    wanted = list(uuids)
    out: dict[str, list[dict[str, Any]]] = {}
    if not wanted:
        return out
    with db.reader() as s:
        rows = s.scalars(sa.select(BlockDeviceMapping).where(BlockDeviceMapping.instance_uuid.in_(wanted)))
        for r in rows:
            out.setdefault(r.instance_uuid, []).append(_dict(r))
    for items in out.values():
        items.sort(key=lambda m: (m["boot_index"] != 0, m["device_name"] or "", m["created_at"]))
    return out


def add(instance_uuid: str, *, source_type: str, status: str, volume_id: str | None = None,
        image_id: str | None = None, volume_size: int | None = None, volume_type: str | None = None,
        boot_index: int | None = None, device_name: str | None = None, disk_bus: str | None = None,
        device_type: str | None = None, delete_on_termination: bool = False, tag: str | None = None,
        attachment_id: str | None = None, session: Any = None) -> dict[str, Any]:
    """A new row (in ``session`` when given: the caller's transaction); returns it."""
    row = BlockDeviceMapping(
        id=str(uuidlib.uuid4()), instance_uuid=instance_uuid, source_type=source_type, destination_type="volume",
        image_id=image_id, volume_id=volume_id, volume_size=volume_size, volume_type=volume_type,
        boot_index=boot_index, device_name=device_name, disk_bus=disk_bus, device_type=device_type,
        delete_on_termination=bool(delete_on_termination), tag=tag, attachment_id=attachment_id, status=status)
    if session is not None:
        session.add(row)
        session.flush()
        return _dict(row)
    with db.transaction() as s:
        s.add(row)
        s.flush()
        return _dict(row)


def update(bdm_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """Set columns of a row; returns it. :raises cumulo.exception.NotFound: no such row."""
    with db.transaction() as s:
        row = s.get(BlockDeviceMapping, bdm_id)
        if row is None:
            raise exception.NotFound(f"Block device mapping {bdm_id} could not be found.")
        for key, value in values.items():
            setattr(row, key, value)
        s.flush()
        return _dict(row)


def get(bdm_id: str) -> dict[str, Any]:
    """One row. :raises cumulo.exception.NotFound: no such row."""
    with db.reader() as s:
        row = s.get(BlockDeviceMapping, bdm_id)
        if row is None:
            raise exception.NotFound(f"Block device mapping {bdm_id} could not be found.")
        return _dict(row)


def remove(bdm_id: str) -> None:
    """Drop a row (no error when it is gone)."""
    with db.transaction() as s:
        s.execute(sa.delete(BlockDeviceMapping).where(BlockDeviceMapping.id == bdm_id))


def view(m: dict[str, Any]) -> dict[str, Any]:
    """A row as :data:`~cumulo.contracts.compute.VolumeAttachmentView`."""
    return {"id": m["id"], "server_id": m["instance_uuid"], "volume_id": m["volume_id"],
            "device": m["device_name"], "tag": m["tag"], "delete_on_termination": bool(m["delete_on_termination"]),
            "attachment_id": m["attachment_id"], "boot_index": m["boot_index"], "status": m["status"]}


def views_of(uuids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The volume views of each server (those that have a volume: one made from an image has one once made)."""
    return {u: [view(m) for m in ms if m["volume_id"]] for u, ms in mappings_of(uuids).items()}


def next_device(used: Iterable[str | None]) -> str:
    """The first ``/dev/vdX`` not in ``used`` (``vda`` is the root disk's)."""
    taken = {(d or "").rsplit("/", 1)[-1] for d in used} | {"vda"}
    for letter in "bcdefghijklmnopqrstuvwxyz":
        if f"vd{letter}" not in taken:
            return f"/dev/vd{letter}"
    raise exception.Invalid(reason="No free device name is left on the server.")


def dump_connection(info: ConnectionInfo) -> str:
    """A :class:`ConnectionInfo` as the row keeps it (JSON; :func:`load_connection` reads it back)."""
    return json.dumps(dataclasses.asdict(info))


def load_connection(text: str | None) -> ConnectionInfo | None:
    """The :class:`ConnectionInfo` a row keeps, or None (not attached, or unreadable)."""
    if not text:
        return None
    try:
        raw = json.loads(text)
        data = raw["data"]
        conn: FileConnection | NbdConnection
        if raw["driver_volume_type"] == PROTOCOL_FILE:
            conn = FileConnection(path=data["path"], disk_format=data.get("disk_format", "qcow2"))
        else:
            tls = data.get("tls")
            conn = NbdConnection(host=data["host"], port=int(data["port"]), export_name=data["export_name"],
                                 tls=TlsPsk(identity=tls["identity"], key_hex=tls["key_hex"]) if tls else None)
        return ConnectionInfo(driver_volume_type=raw["driver_volume_type"], volume_id=raw["volume_id"], data=conn,
                              read_only=bool(raw.get("read_only")), extra=dict(raw.get("extra") or {}))
    except (KeyError, TypeError, ValueError):
        LOG.warning("Unreadable connection info of a block device mapping", exc_info=True)
        return None


def driver_block_device(m: dict[str, Any], info: ConnectionInfo | None = None) -> hv.BlockDevice:
    """A row as the hypervisor driver's :class:`~cumulo.interfaces.hypervisor.BlockDevice`."""
    return hv.BlockDevice(
        source_type=m["source_type"], destination_type="volume", device_name=m["device_name"],
        boot_index=m["boot_index"], size_gb=m["volume_size"], volume_id=m["volume_id"],
        connection_info=info if info is not None else load_connection(m["connection_info_json"]),
        disk_bus=m["disk_bus"], device_type=m["device_type"] or "disk",
        delete_on_termination=bool(m["delete_on_termination"]))


def driver_block_devices(instance_uuid: str) -> list[hv.BlockDevice]:
    """The server's attached volumes as the driver's records (what ``destroy`` is given)."""
    return [driver_block_device(m) for m in mappings(instance_uuid) if m["status"] != ATTACHING and m["volume_id"]]


def give_back(volumes: VolumeContract, ctx: RequestContext, m: dict[str, Any]) -> None:
    """End the row's hold on its volume: detach (or unreserve) its attachment. Raises what the volume area raises."""
    if not m["attachment_id"]:
        return
    try:
        volumes.detach(ctx, m["attachment_id"])  # a reservation never attached is dropped the same way
    except NoSuchVolume:
        pass


def release_volumes(hub: Any, ctx: RequestContext, instance_uuid: str) -> None:
    """The server is gone: give each volume back, delete those with ``delete_on_termination``, drop the rows.

    Never raises: a volume the volume area fails to give back is logged (and stays as it is there).
    """
    ms = mappings(instance_uuid)
    if not ms:
        return
    volumes = volume_service(hub)
    for m in ms:
        if volumes is not None:
            try:
                give_back(volumes, ctx, m)
                if m["delete_on_termination"] and m["volume_id"]:
                    volumes.delete_volume(ctx, m["volume_id"])
            except Exception:
                LOG.exception("Instance %s: giving back volume %s failed", instance_uuid, m["volume_id"])
        remove(m["id"])
