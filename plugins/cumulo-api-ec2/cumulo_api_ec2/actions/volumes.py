"""EBS volumes and snapshots on ``hub.volume`` (contract 1.1); attach and detach through compute's
``ServerVolumeService``. A volume's tags are its metadata."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo import exception
from cumulo.contracts.volume import NewVolume, SnapshotRecord, VolumeRecord
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call, lookup, ok
from cumulo_api_ec2.params import apply_filters, tag_set
from cumulo_api_ec2.render import iso

ACTIONS = ActionTable()

#: Block Storage status -> EC2 volume state.
VOLUME_STATES: dict[str, str] = {"creating": "creating", "available": "available", "reserved": "in-use",
                                 "attaching": "in-use", "in-use": "in-use", "detaching": "in-use",
                                 "deleting": "deleting", "error": "error", "error_deleting": "error",
                                 "extending": "in-use", "maintenance": "in-use"}
SNAPSHOT_STATES: dict[str, str] = {"creating": "pending", "available": "completed", "deleting": "pending",
                                   "error": "error", "error_deleting": "error"}
ATTACH_STATES: dict[str, str] = {"reserved": "attaching", "attaching": "attaching", "attached": "attached",
                                 "detaching": "detaching"}

VOLUME_FILTERS = {"volume-id": lambda v: v["volumeId"], "status": lambda v: v["status"],
                  "size": lambda v: v["size"], "availability-zone": lambda v: v["availabilityZone"],
                  "snapshot-id": lambda v: v.get("snapshotId") or "",
                  "attachment.instance-id": lambda v: [a["instanceId"] for a in v["attachmentSet"]],
                  "attachment.status": lambda v: [a["status"] for a in v["attachmentSet"]],
                  "volume-type": lambda v: v["volumeType"]}
SNAPSHOT_FILTERS = {"snapshot-id": lambda s: s["snapshotId"], "volume-id": lambda s: s["volumeId"],
                    "status": lambda s: s["status"], "owner-id": lambda s: s["ownerId"],
                    "description": lambda s: s.get("description") or "", "volume-size": lambda s: s["volumeSize"]}


def _attach_status(call: Call | None, volume_id: str, server_id: str, fallback: str) -> str:
    """The attachment's state as compute sees it (the volume area's says attached before the guest has it)."""
    if call is None:
        return ATTACH_STATES.get(fallback, "attached")
    try:
        found = call.hub.compute.get_volume_attachment(call.ctx, server_id, volume_id)
    except exception.CumuloError:
        return ATTACH_STATES.get(fallback, "attached")
    return str(found.get("status") or "attached")


def volume_item(v: VolumeRecord, call: Call | None = None) -> dict[str, Any]:
    return {"volumeId": ids.to_ec2("volume", v.id), "size": v.size_gib,
            "snapshotId": ids.to_ec2("snapshot", v.snapshot_id) if v.snapshot_id else "",
            "availabilityZone": v.availability_zone, "status": VOLUME_STATES.get(v.status, "error"),
            "createTime": iso(v.created_at),
            "attachmentSet": [{"volumeId": ids.to_ec2("volume", v.id),
                               "instanceId": ids.to_ec2("instance", a.server_id), "device": a.mountpoint,
                               "status": _attach_status(call, v.id, a.server_id, a.attach_status),
                               "deleteOnTermination": False} for a in v.attachments],
            "volumeType": v.volume_type or "standard", "encrypted": False, "multiAttachEnabled": v.multiattach,
            "tagSet": tag_set(v.metadata)}


def snapshot_item(s: SnapshotRecord) -> dict[str, Any]:
    return {"snapshotId": ids.to_ec2("snapshot", s.id), "volumeId": ids.to_ec2("volume", s.volume_id),
            "status": SNAPSHOT_STATES.get(s.status, "error"), "startTime": iso(s.created_at),
            "progress": "100%" if s.status == "available" else "0%", "ownerId": s.project_id,
            "volumeSize": s.size_gib, "description": s.description or "", "encrypted": False,
            "tagSet": tag_set(s.metadata)}


def get_volume(call: Call, ec2_id: str) -> VolumeRecord:
    uuid = ids.from_ec2("volume", ec2_id)
    with lookup("volume", ec2_id):
        found: VolumeRecord = call.hub.volume.get_volume(call.ctx, uuid)
    return found


def _tag_specs(call: Call, resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in call.params.structs("TagSpecification"):
        if spec.get("ResourceType") == resource_type:
            for tag in spec.structs("Tag"):
                tags[tag.required("Key")] = tag.get("Value") or ""
    return tags


@ACTIONS.register("CreateVolume")
def create_volume(call: Call) -> dict[str, Any]:
    p = call.params
    size = p.int("Size", minimum=1, maximum=16384)
    snapshot_ec2 = p.get("SnapshotId")
    snapshot_id = None
    if snapshot_ec2:
        snapshot_id = ids.from_ec2("snapshot", snapshot_ec2)
        with lookup("snapshot", snapshot_ec2):
            call.hub.volume.get_volume_snapshot(call.ctx, snapshot_id)
    elif size is None:
        raise errors.missing("Size")
    zone = p.get("AvailabilityZone") or None
    tags = _tag_specs(call, "volume")
    spec = NewVolume(size_gib=size, name=tags.get("Name", ""), availability_zone=zone, snapshot_id=snapshot_id,
                     volume_type=None, metadata=tags)
    try:
        vol = call.hub.volume.create_volume(call.ctx, spec)
    except exception.QuotaExceeded as err:
        raise errors.Ec2Error("VolumeLimitExceeded", err.message) from None
    except exception.NotFound as err:
        raise errors.invalid("SnapshotId" if snapshot_id else "VolumeType", snapshot_ec2, err.message) from None
    except exception.Invalid as err:
        if zone and "zone" in err.message.lower():
            raise errors.invalid("AvailabilityZone", zone, err.message) from None
        raise errors.invalid("Size", size, err.message) from None
    item = volume_item(vol)
    item.pop("attachmentSet")
    return item


@ACTIONS.register("DescribeVolumes")
def describe_volumes(call: Call) -> dict[str, Any]:
    wanted = call.params.list("VolumeId")
    if wanted:
        volumes = [get_volume(call, w) for w in wanted]
    else:
        volumes = list(reversed(call.hub.volume.list_volumes(call.ctx)))
    items = apply_filters([volume_item(v, call) for v in volumes], call.params, VOLUME_FILTERS)
    return {"volumeSet": items}


@ACTIONS.register("DeleteVolume")
def delete_volume(call: Call) -> dict[str, Any]:
    ec2_id = call.params.required("VolumeId")
    vol = get_volume(call, ec2_id)
    if vol.attachments or vol.status not in ("available", "error"):
        raise errors.Ec2Error("VolumeInUse", f"Volume {ec2_id} is {VOLUME_STATES.get(vol.status, vol.status)}.")
    try:
        call.hub.volume.delete_volume(call.ctx, vol.id)
    except exception.Conflict as err:
        raise errors.Ec2Error("VolumeInUse", err.message) from None
    return ok()


def _attachment(ec2_volume: str, server_id: str, device: str | None, status: str) -> dict[str, Any]:
    return {"volumeId": ec2_volume, "instanceId": ids.to_ec2("instance", server_id), "device": device,
            "status": status, "attachTime": iso(datetime.datetime.now(datetime.UTC))}


@ACTIONS.register("AttachVolume")
def attach_volume(call: Call) -> dict[str, Any]:
    from cumulo_api_ec2.actions.instances import get_server

    ec2_volume = call.params.required("VolumeId")
    ec2_instance = call.params.required("InstanceId")
    device = call.params.required("Device")
    vol = get_volume(call, ec2_volume)
    server = get_server(call, ec2_instance)
    if vol.status != "available":
        raise errors.Ec2Error("VolumeInUse", f"{ec2_volume} is already attached to an instance")
    name = device if device.startswith("/dev/") else f"/dev/{device}"
    name = name.replace("/dev/sd", "/dev/vd").replace("/dev/xvd", "/dev/vd")
    try:
        made = call.hub.compute.attach_volume(call.ctx, server["uuid"], vol.id, device=name)
    except exception.NotFound:
        raise ids.not_found("instance", ec2_instance) from None
    except exception.Invalid as err:
        raise errors.invalid("Device", device, err.message) from None
    except exception.Conflict as err:
        raise errors.Ec2Error("IncorrectState", err.message) from None
    return _attachment(ec2_volume, server["uuid"], made.get("device") or device, "attaching")


@ACTIONS.register("DetachVolume")
def detach_volume(call: Call) -> dict[str, Any]:
    ec2_volume = call.params.required("VolumeId")
    vol = get_volume(call, ec2_volume)
    if not vol.attachments:
        raise errors.Ec2Error("IncorrectState", f"Volume '{ec2_volume}' is in the 'available' state.")
    attachment = vol.attachments[0]
    wanted = call.params.get("InstanceId")
    if wanted and not ids.same(ids.from_ec2("instance", wanted), attachment.server_id):
        raise errors.Ec2Error("InvalidAttachment.NotFound",
                              f"Volume {ec2_volume} is not attached to instance {wanted}")
    try:
        call.hub.compute.detach_volume(call.ctx, attachment.server_id, vol.id)
    except exception.NotFound:
        raise errors.Ec2Error("InvalidAttachment.NotFound", f"Volume {ec2_volume} is not attached") from None
    except exception.Invalid as err:
        raise errors.Ec2Error("OperationNotPermitted", err.message) from None
    except exception.Conflict as err:
        raise errors.Ec2Error("IncorrectState", err.message) from None
    return _attachment(ec2_volume, attachment.server_id, attachment.mountpoint, "detaching")


@ACTIONS.register("CreateSnapshot")
def create_snapshot(call: Call) -> dict[str, Any]:
    ec2_volume = call.params.required("VolumeId")
    vol = get_volume(call, ec2_volume)
    description = call.params.get("Description")
    try:
        snap = call.hub.volume.create_volume_snapshot(call.ctx, vol.id, "", description, force=True)
    except exception.QuotaExceeded as err:
        raise errors.Ec2Error("SnapshotLimitExceeded", err.message) from None
    except exception.NotFound:
        raise ids.not_found("volume", ec2_volume) from None
    except exception.CumuloError as err:
        raise errors.from_platform(err, "SnapshotLimitExceeded", "IncorrectState") from None
    return snapshot_item(snap)


@ACTIONS.register("DescribeSnapshots")
def describe_snapshots(call: Call) -> dict[str, Any]:
    wanted = call.params.list("SnapshotId")
    snaps = []
    if wanted:
        for w in wanted:
            uuid = ids.from_ec2("snapshot", w)
            with lookup("snapshot", w):
                snaps.append(call.hub.volume.get_volume_snapshot(call.ctx, uuid))
    else:
        snaps = list(reversed(call.hub.volume.list_volume_snapshots(call.ctx)))
    owners = call.params.list("Owner")
    items = [snapshot_item(s) for s in snaps]
    if owners:
        allowed = {call.project_id if o == "self" else o for o in owners}
        items = [i for i in items if i["ownerId"] in allowed]
    return {"snapshotSet": apply_filters(items, call.params, SNAPSHOT_FILTERS)}


@ACTIONS.register("DeleteSnapshot")
def delete_snapshot(call: Call) -> dict[str, Any]:
    ec2_id = call.params.required("SnapshotId")
    uuid = ids.from_ec2("snapshot", ec2_id)
    with lookup("snapshot", ec2_id, state_code="IncorrectState"):
        call.hub.volume.delete_volume_snapshot(call.ctx, uuid)
    return ok()
