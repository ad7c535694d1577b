"""Instances on ``hub.compute``: run, describe (filters, pages, reservations), start/stop/reboot/terminate,
console output, attributes.

An instance's EC2 state comes from the server's ``vm_state`` and ``task_state``
(:func:`state_of`); its tags are the server's metadata; its reservation is the
``reservation_id`` compute gave the request that made it (``r-`` and 8 hex digits).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from cumulo import exception
from cumulo.contracts.compute import BlockDeviceRequest, TaskStates, VmStates
from cumulo.contracts.volume import NewVolume
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call, lookup
from cumulo_api_ec2.params import Params, apply_filters, tag_set
from cumulo_api_ec2.render import iso

ACTIONS = ActionTable()
LOG = logging.getLogger(__name__)

#: EC2 state name -> its code.
STATE_CODES: dict[str, int] = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
                               "stopping": 64, "stopped": 80}

#: The device names EC2 clients give the root device.
ROOT_DEVICES = ("/dev/sda1", "/dev/sda", "/dev/vda", "/dev/xvda")

FILTERS = {
    "instance-id": lambda i: i["instanceId"], "instance-state-name": lambda i: i["instanceState"]["name"],
    "instance-state-code": lambda i: i["instanceState"]["code"], "instance-type": lambda i: i["instanceType"],
    "image-id": lambda i: i["imageId"], "key-name": lambda i: i.get("keyName"),
    "availability-zone": lambda i: i["placement"]["availabilityZone"],
    "private-ip-address": lambda i: i.get("privateIpAddress"), "ip-address": lambda i: i.get("ipAddress"),
    "subnet-id": lambda i: i.get("subnetId"), "vpc-id": lambda i: i.get("vpcId"),
    "reservation-id": lambda i: i["_reservation"], "owner-id": lambda i: i["_owner"],
    "instance.group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "instance.group-name": lambda i: [g["groupName"] for g in i["groupSet"]],
    "group-id": lambda i: [g["groupId"] for g in i["groupSet"]],
    "group-name": lambda i: [g["groupName"] for g in i["groupSet"]],
    "launch-index": lambda i: i["amiLaunchIndex"], "root-device-type": lambda i: i["rootDeviceType"],
}


def state_of(server: Mapping[str, Any]) -> dict[str, Any]:
    """``{"code", "name"}``: EC2's state of a server."""
    vm, task = server.get("vm_state"), server.get("task_state")
    if server.get("deleted") or vm == VmStates.DELETED:
        name = "terminated"
    elif task == TaskStates.DELETING:
        name = "shutting-down"
    elif vm == VmStates.BUILDING:
        name = "pending"
    elif task == TaskStates.POWERING_OFF:
        name = "stopping"
    elif task == TaskStates.POWERING_ON:
        name = "pending"
    elif vm in (VmStates.STOPPED, VmStates.PAUSED, VmStates.SUSPENDED, VmStates.ERROR):
        name = "stopped"
    else:
        name = "running"
    return {"code": STATE_CODES[name], "name": name}


class Lookups:
    """What rendering several instances needs once per request: security group ids, floating IPs."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self._groups: dict[str, str] | None = None
        self._floating: dict[str, str] | None = None

    def group_id(self, name: str) -> str | None:
        if self._groups is None:
            try:
                self._groups = {g.name: g.id for g in self.call.hub.network.project_security_groups(self.call.ctx)}
            except exception.CumuloError:
                self._groups = {}
        return self._groups.get(name)

    def floating(self, port_id: str) -> str | None:
        if self._floating is None:
            try:
                self._floating = {f.port_id: f.floating_ip_address
                                  for f in self.call.hub.network.floating_ips(self.call.ctx) if f.port_id}
            except exception.CumuloError:
                self._floating = {}
        return self._floating.get(port_id)


def _root_device(server: Mapping[str, Any]) -> str:
    for v in server.get("volumes_attached") or []:
        if v.get("boot_index") == 0 and v.get("device"):
            return str(v["device"])
    return "/dev/vda"


def instance_item(server: Mapping[str, Any], lookups: Lookups) -> dict[str, Any]:
    """The ``instancesSet`` item of a server (with ``_reservation`` and ``_owner`` for grouping, not rendered)."""
    ports = list(server.get("ports") or [])
    private_ip = subnet = public_ip = None
    interfaces = []
    for n, port in enumerate(ports):
        fixed = [f for f in port.get("fixed_ips") or [] if ":" not in str(f.get("ip_address", ""))]
        if n == 0 and fixed:
            private_ip, subnet = fixed[0]["ip_address"], fixed[0].get("subnet_id")
            public_ip = lookups.floating(port["id"])
        interfaces.append({
            "networkInterfaceId": ids.to_ec2("interface", port["id"]),
            "subnetId": ids.to_ec2("subnet", fixed[0]["subnet_id"]) if fixed and fixed[0].get("subnet_id") else None,
            "vpcId": ids.to_ec2("vpc", server["project_id"]), "ownerId": server["project_id"],
            "status": "in-use", "macAddress": port.get("mac_address"), "privateIpAddress":
                fixed[0]["ip_address"] if fixed else None, "sourceDestCheck": True,
            "attachment": {"attachmentId": ids.to_ec2("interface", port["id"]).replace("eni-", "eni-attach-"),
                           "deviceIndex": n, "status": "attached", "deleteOnTermination": True},
            "privateIpAddressesSet": [{"privateIpAddress": f["ip_address"], "primary": i == 0}
                                      for i, f in enumerate(fixed)],
        })
    groups = []
    for name in server.get("security_groups") or []:
        gid = lookups.group_id(name)
        groups.append({"groupId": ids.to_ec2("security_group", gid) if gid else name, "groupName": name})
    flavor = server.get("flavor") or {}
    volumes = [{"deviceName": v.get("device"), "ebs": {
        "volumeId": ids.to_ec2("volume", v["volume_id"]), "status": v.get("status", "attached"),
        "deleteOnTermination": bool(v.get("delete_on_termination"))}}
        for v in server.get("volumes_attached") or []]
    volume_backed = any(v.get("boot_index") == 0 for v in server.get("volumes_attached") or [])
    state = state_of(server)
    fault = server.get("fault")
    return {
        "instanceId": ids.to_ec2("instance", server["uuid"]),
        "imageId": ids.to_ec2("image", str(server["image_ref"])) if server.get("image_ref") else None,
        "instanceState": state,
        "privateDnsName": server.get("hostname") or "",
        "dnsName": public_ip or "",
        "reason": fault["message"] if fault else "",
        "keyName": server.get("key_name"),
        "amiLaunchIndex": int(server.get("launch_index") or 0),
        "productCodes": [],
        "instanceType": flavor.get("original_name") or flavor.get("name") or "",
        "launchTime": iso(server.get("launched_at") or server.get("created_at")),
        "placement": {"availabilityZone": server.get("availability_zone") or "", "groupName": "",
                      "tenancy": "default"},
        "monitoring": {"state": "disabled"},
        "subnetId": ids.to_ec2("subnet", subnet) if subnet else None,
        "vpcId": ids.to_ec2("vpc", server["project_id"]) if ports else None,
        "privateIpAddress": private_ip,
        "ipAddress": public_ip,
        "groupSet": groups,
        "stateReason": {"code": "Server.InternalError", "message": fault["message"]} if fault and
            server.get("vm_state") == VmStates.ERROR else None,
        "architecture": "x86_64",
        "rootDeviceType": "ebs" if volume_backed else "instance-store",
        "rootDeviceName": _root_device(server),
        "blockDeviceMapping": volumes,
        "virtualizationType": "hvm",
        "clientToken": "",
        "tagSet": tag_set(server.get("metadata") or {}),
        "hypervisor": "xen",
        "networkInterfaceSet": interfaces,
        "ebsOptimized": False,
        "cpuOptions": {"coreCount": int(flavor.get("vcpus") or server.get("vcpus") or 1), "threadsPerCore": 1},
        "_reservation": server.get("reservation_id") or ids.to_ec2("reservation", server["uuid"]),
        "_owner": server["project_id"],
    }


def _public(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if not k.startswith("_")}


def reservations(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Instances grouped by reservation, in the order of their first instance."""
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        r = out.setdefault(item["_reservation"], {"reservationId": item["_reservation"], "ownerId": item["_owner"],
                                                  "groupSet": [], "instancesSet": []})
        r["instancesSet"].append(_public(item))
    return list(out.values())


def get_server(call: Call, ec2_id: str) -> dict[str, Any]:
    """The server of an ``i-`` id. :raises errors.Ec2Error: malformed, or no such instance the caller sees."""
    uuid = ids.from_ec2("instance", ec2_id)
    with lookup("instance", ec2_id):
        server: dict[str, Any] = call.hub.compute.get_server(call.ctx, uuid)
    return server


def _flavor(call: Call, name: str) -> Mapping[str, Any]:
    for f in call.hub.compute.list_flavors(call.ctx, is_public=None):
        if f["name"] == name:
            return f
    raise errors.Ec2Error("InvalidParameterValue", f"Invalid value '{name}' for InstanceType.")


def _networks(call: Call, subnet_ec2_id: str | None) -> str | list[dict[str, str]]:
    summaries = call.hub.network.network_summaries(call.ctx)
    if subnet_ec2_id:
        subnet = ids.from_ec2("subnet", subnet_ec2_id)
        for net in summaries:
            if any(ids.same(s, subnet) for s in net.subnet_ids) and not net.external:
                return [{"uuid": net.id}]
        raise ids.not_found("subnet", subnet_ec2_id)
    own = [n for n in summaries if not n.external and n.subnet_ids and n.project_id == call.project_id]
    usable = own or [n for n in summaries if not n.external and n.subnet_ids]
    return [{"uuid": usable[0].id}] if usable else "auto"


def _block_devices(call: Call, image_id: str, count: int) -> tuple[list[BlockDeviceRequest], list[str]]:
    """The block-device mapping of ``BlockDeviceMapping.N``, and the ids of the volumes made for it.

    ``Ebs.VolumeSize`` on the root device boots from a new volume of the image; on another device it
    is a new empty volume, made here (compute attaches existing volumes only) and attached at boot.
    """
    out: list[BlockDeviceRequest] = []
    extra: list[tuple[str, int, bool]] = []
    for n, bdm in enumerate(call.params.structs("BlockDeviceMapping"), 1):
        if bdm.get("NoDevice") is not None or bdm.get("VirtualName"):
            continue
        ebs = bdm.struct("Ebs")
        device = bdm.get("DeviceName") or ""
        size = ebs.int("VolumeSize", minimum=1, maximum=16384)
        delete = bool(ebs.bool("DeleteOnTermination", True))
        if ebs.get("SnapshotId"):
            raise errors.unsupported("BlockDeviceMapping.Ebs.SnapshotId")
        if device in ROOT_DEVICES or device == "":
            if size is None:
                continue  # the image's own root disk
            out.append(BlockDeviceRequest(source_type="image", destination_type="volume", uuid=image_id,
                                          boot_index=0, volume_size=size, delete_on_termination=delete))
        else:
            if size is None:
                raise errors.missing(f"BlockDeviceMapping.{n}.Ebs.VolumeSize")
            extra.append((device, size, delete))
    if extra and count > 1:
        raise errors.Ec2Error("InvalidParameterCombination",
                              "Extra EBS volumes can be given to one instance at a time here (MaxCount=1).")
    made: list[str] = []
    try:
        for device, size, delete in extra:
            vol = call.hub.volume.create_volume(call.ctx, NewVolume(size_gib=size, name=f"ec2 {device}"))
            made.append(vol.id)
            if vol.status != "available":
                raise errors.Ec2Error("InternalError", f"The volume for {device} could not be made.", 500)
            out.append(BlockDeviceRequest(source_type="volume", destination_type="volume", uuid=vol.id,
                                          boot_index=None, delete_on_termination=delete,
                                          device_name=device.replace("/dev/sd", "/dev/vd").replace("/dev/xvd",
                                                                                                   "/dev/vd")))
    except exception.QuotaExceeded as err:
        _drop_volumes(call, made)
        raise errors.Ec2Error("VolumeLimitExceeded", err.message) from None
    except BaseException:
        _drop_volumes(call, made)
        raise
    return out, made


def _drop_volumes(call: Call, volume_ids: Sequence[str]) -> None:
    for vid in volume_ids:
        try:
            call.hub.volume.delete_volume(call.ctx, vid)
        except exception.CumuloError:
            LOG.warning("Could not delete volume %s made for a failed RunInstances", vid, exc_info=True)


def _tag_specs(params: Params, resource_type: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for spec in params.structs("TagSpecification"):
        if spec.get("ResourceType") == resource_type:
            for tag in spec.structs("Tag"):
                tags[tag.required("Key")] = tag.get("Value") or ""
    return tags


@ACTIONS.register("RunInstances")
def run_instances(call: Call) -> dict[str, Any]:
    p = call.params
    image_ec2 = p.required("ImageId")
    image_id = ids.from_ec2("image", image_ec2)
    with lookup("image", image_ec2):
        call.hub.image.get(call.ctx, image_id)
    min_count = p.int("MinCount", 1, minimum=1)
    max_count = p.int("MaxCount", min_count, minimum=1)
    assert min_count is not None and max_count is not None
    if max_count < min_count:
        raise errors.invalid("MinCount", min_count, "greater than MaxCount")
    flavor = _flavor(call, p.get("InstanceType") or "m1.small")
    key_name = p.get("KeyName")
    if key_name:
        try:
            call.hub.compute.get_keypair(call.ctx, key_name)
        except exception.NotFound:
            raise errors.Ec2Error("InvalidKeyPair.NotFound", f"The key pair '{key_name}' does not exist") from None
    user_data = p.get("UserData")
    if user_data:
        try:
            base64.b64decode(user_data, validate=True)
        except (binascii.Error, ValueError):
            raise errors.invalid("UserData", "(not shown)", "not valid base64") from None
    groups = list(p.list("SecurityGroup"))
    for gid in p.list("SecurityGroupId"):
        uuid = ids.from_ec2("security_group", gid)
        with lookup("security_group", gid):
            groups.append(call.hub.network.security_group(call.ctx, uuid).id)
    networks = _networks(call, p.get("SubnetId"))
    block_devices, made_volumes = _block_devices(call, image_id, max_count)
    boots_from_volume = any(b.is_root for b in block_devices)
    tags = _tag_specs(p, "instance")
    zone = p.struct("Placement").get("AvailabilityZone") or None
    try:
        servers = call.hub.compute.create_servers(
            call.ctx, name=tags.get("Name") or "ec2-instance", image_ref=None if boots_from_volume else image_id,
            flavor_id=flavor["id"], min_count=min_count, max_count=max_count, key_name=key_name,
            user_data=user_data or None, metadata=tags or None, networks=networks, security_groups=groups or None,
            availability_zone=zone, block_devices=block_devices)
    except exception.QuotaExceeded as err:
        _drop_volumes(call, made_volumes)
        raise errors.Ec2Error("InstanceLimitExceeded", f"Your quota allows no more instances here: {err.message}") \
            from None
    except exception.CumuloError as err:
        _drop_volumes(call, made_volumes)
        if isinstance(err, exception.Invalid) and "security group" in err.message.lower():
            raise errors.Ec2Error("InvalidGroup.NotFound", err.message) from None
        raise errors.from_platform(err, "InstanceLimitExceeded", "IncorrectState") from None
    lookups = Lookups(call)
    items = []
    for s in servers:
        try:
            s = call.hub.compute.get_server(call.ctx, s["uuid"])
        except exception.NotFound:
            pass
        items.append(instance_item(s, lookups))
    first = items[0]
    return {"reservationId": first["_reservation"], "ownerId": first["_owner"],
            "groupSet": [], "instancesSet": [_public(i) for i in items]}


def _sort_key(server: Mapping[str, Any]) -> tuple[datetime.datetime, str]:
    created = server.get("created_at") or datetime.datetime.min
    if isinstance(created, str):
        created = datetime.datetime.fromisoformat(created.replace("Z", ""))
    return created, str(server["uuid"])


@ACTIONS.register("DescribeInstances")
def describe_instances(call: Call) -> dict[str, Any]:
    p = call.params
    wanted = p.list("InstanceId")
    max_results = p.int("MaxResults", None, minimum=5, maximum=1000)
    if wanted and max_results is not None:
        raise errors.invalid("MaxResults", max_results, "cannot be used with InstanceId")
    if wanted:
        servers = [get_server(call, w) for w in wanted]
    else:
        servers = sorted(call.hub.compute.list_servers(call.ctx), key=_sort_key)
    lookups = Lookups(call)
    items = apply_filters([instance_item(s, lookups) for s in servers], p, FILTERS)
    token = p.get("NextToken")
    if token:
        after = [n for n, i in enumerate(items) if i["instanceId"] == token]
        if not after:
            raise errors.Ec2Error("InvalidParameterValue", f"The NextToken '{token}' is not valid")
        items = items[after[0] + 1:]
    out: dict[str, Any] = {}
    if max_results is not None and len(items) > max_results:
        items = items[:max_results]
        out["nextToken"] = items[-1]["instanceId"]
    out["reservationSet"] = reservations(items)
    return out


def _transition(call: Call, action: str) -> dict[str, Any]:
    wanted = call.params.list("InstanceId")
    if not wanted:
        raise errors.missing("InstanceId")
    servers = [get_server(call, w) for w in wanted]  # every id checked before anything changes
    out = []
    for ec2_id, server in zip(wanted, servers, strict=True):
        before = state_of(server)
        # As EC2: stopping a stopped instance or starting a running one changes nothing and succeeds.
        already = {"stop": ("stopped", "stopping"), "start": ("running", "pending")}.get(action, ())
        with lookup("instance", ec2_id, state_code="IncorrectInstanceState"):
            if action == "terminate":
                call.hub.compute.delete_server(call.ctx, server["uuid"])
            elif before["name"] not in already:
                getattr(call.hub.compute, action)(call.ctx, server["uuid"])
        try:
            after = state_of(call.hub.compute.get_server(call.ctx, server["uuid"]))
        except exception.NotFound:
            after = {"code": STATE_CODES["terminated"], "name": "terminated"}
        if action == "terminate" and after["name"] not in ("terminated",):
            after = {"code": STATE_CODES["shutting-down"], "name": "shutting-down"}
        out.append({"instanceId": ec2_id, "currentState": after, "previousState": before})
    return {"instancesSet": out}


@ACTIONS.register("StartInstances")
def start_instances(call: Call) -> dict[str, Any]:
    return _transition(call, "start")


@ACTIONS.register("StopInstances")
def stop_instances(call: Call) -> dict[str, Any]:
    return _transition(call, "stop")


@ACTIONS.register("TerminateInstances")
def terminate_instances(call: Call) -> dict[str, Any]:
    return _transition(call, "terminate")


@ACTIONS.register("RebootInstances")
def reboot_instances(call: Call) -> dict[str, Any]:
    wanted = call.params.list("InstanceId")
    if not wanted:
        raise errors.missing("InstanceId")
    servers = [get_server(call, w) for w in wanted]
    for ec2_id, server in zip(wanted, servers, strict=True):
        with lookup("instance", ec2_id, state_code="IncorrectInstanceState"):
            call.hub.compute.reboot(call.ctx, server["uuid"])
    return {"return": True}


@ACTIONS.register("GetConsoleOutput")
def get_console_output(call: Call) -> dict[str, Any]:
    ec2_id = call.params.required("InstanceId")
    server = get_server(call, ec2_id)
    try:
        text = call.hub.compute.console_output(call.ctx, server["uuid"])
    except exception.NotFound:
        raise ids.not_found("instance", ec2_id) from None
    except (exception.Conflict, exception.MessagingTimeout):
        text = ""  # EC2 answers an empty output while there is none to give
    now = datetime.datetime.now(datetime.UTC)
    return {"instanceId": ec2_id, "timestamp": now,
            "output": base64.b64encode(text.encode("utf-8", "replace")).decode("ascii")}


@ACTIONS.register("DescribeInstanceAttribute")
def describe_instance_attribute(call: Call) -> dict[str, Any]:
    ec2_id = call.params.required("InstanceId")
    attribute = call.params.required("Attribute")
    server = get_server(call, ec2_id)
    item = instance_item(server, Lookups(call))
    out: dict[str, Any] = {"instanceId": ec2_id}
    simple = {"instanceType": item["instanceType"], "rootDeviceName": item["rootDeviceName"],
              "disableApiTermination": bool(server.get("locked")), "instanceInitiatedShutdownBehavior": "stop",
              "ebsOptimized": False, "sourceDestCheck": True, "enaSupport": False, "disableApiStop": False}
    if attribute in simple:
        out[attribute] = {"value": simple[attribute]}
    elif attribute == "userData":
        out["userData"] = {"value": server["user_data"]} if server.get("user_data") else {}
    elif attribute in ("kernel", "ramdisk", "sriovNetSupport"):
        out[attribute] = {}
    elif attribute == "groupSet":
        out["groupSet"] = [{"groupId": g["groupId"], "groupName": g["groupName"]} for g in item["groupSet"]]
    elif attribute == "blockDeviceMapping":
        out["blockDeviceMapping"] = item["blockDeviceMapping"]
    elif attribute == "productCodes":
        out["productCodes"] = []
    else:
        raise errors.invalid("Attribute", attribute, "not an instance attribute")
    return out


@ACTIONS.register("ModifyInstanceAttribute")
def modify_instance_attribute(call: Call) -> dict[str, Any]:
    """Only what maps without a second step: the security groups (``GroupId.N``)."""
    p = call.params
    ec2_id = p.required("InstanceId")
    server = get_server(call, ec2_id)
    group_ids = p.list("GroupId")
    if not group_ids:
        what = p.get("Attribute") or next((k.split(".")[0] for k in p.values if k not in
                                           ("Action", "Version", "InstanceId")), "this attribute")
        raise errors.unsupported(f"Changing {what}")
    wanted = []
    for gid in group_ids:
        uuid = ids.from_ec2("security_group", gid)
        with lookup("security_group", gid):
            wanted.append(call.hub.network.security_group(call.ctx, uuid))
    with lookup("instance", ec2_id, state_code="IncorrectInstanceState"):
        current = {g.id: g for g in call.hub.network.instance_security_groups(call.ctx, server["uuid"])}
        for g in wanted:
            if g.id not in current:
                call.hub.compute.add_security_group(call.ctx, server["uuid"], g.id)
        for gid, _g in current.items():
            if gid not in {w.id for w in wanted}:
                call.hub.compute.remove_security_group(call.ctx, server["uuid"], gid)
    return {"return": True}


@ACTIONS.register("DescribeInstanceTypes")
def describe_instance_types(call: Call) -> dict[str, Any]:
    """The flavors the caller can use, as instance types (the name is the type)."""
    wanted = call.params.list("InstanceType")
    flavors = call.hub.compute.list_flavors(call.ctx, is_public=None)
    names = {f["name"] for f in flavors}
    for w in wanted:
        if w not in names:
            raise errors.Ec2Error("InvalidInstanceType", f"The following supplied instance types do not exist: [{w}]")
    items = [{"instanceType": f["name"], "currentGeneration": True, "bareMetal": False, "hypervisor": "xen",
              "supportedRootDeviceTypes": ["ebs", "instance-store"], "supportedVirtualizationTypes": ["hvm"],
              "processorInfo": {"supportedArchitectures": ["x86_64"]},
              "vCpuInfo": {"defaultVCpus": f["vcpus"], "defaultCores": f["vcpus"], "defaultThreadsPerCore": 1},
              "memoryInfo": {"sizeInMiB": f["ram"]},
              "instanceStorageSupported": bool(f["disk"]),
              "instanceStorageInfo": {"totalSizeInGB": f["disk"] + f["ephemeral"],
                                      "disks": [{"sizeInGB": f["disk"], "count": 1, "type": "ssd"}]}
              if f["disk"] else None,
              "freeTierEligible": False}
             for f in flavors if not wanted or f["name"] in wanted]
    getters = {"instance-type": lambda i: i["instanceType"], "vcpu-info.default-vcpus": lambda i:
               i["vCpuInfo"]["defaultVCpus"], "memory-info.size-in-mib": lambda i: i["memoryInfo"]["sizeInMiB"]}
    return {"instanceTypeSet": apply_filters(items, call.params, getters)}
