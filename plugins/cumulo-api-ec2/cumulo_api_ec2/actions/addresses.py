"""Elastic IPs on floating IPs: allocate, associate with an instance (its first port), describe,
disassociate, release. An address's allocation id is ``eipalloc-<floating IP>``, its association
``eipassoc-<floating IP>`` (one association per address)."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.contracts.network import FloatingIP
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call, lookup, ok
from cumulo_api_ec2.params import apply_filters

ACTIONS = ActionTable()

FILTERS = {"allocation-id": lambda a: a["allocationId"], "association-id": lambda a: a.get("associationId"),
           "public-ip": lambda a: a["publicIp"], "instance-id": lambda a: a.get("instanceId"),
           "private-ip-address": lambda a: a.get("privateIpAddress"), "domain": lambda a: a["domain"],
           "network-interface-id": lambda a: a.get("networkInterfaceId")}


def _servers_by_port(call: Call) -> dict[str, str]:
    """port id -> server uuid, for the caller's servers (read once per request)."""
    return {str(p["id"]): str(server["uuid"]) for server in call.hub.compute.list_servers(call.ctx)
            for p in server.get("ports") or [] if p.get("id")}


def address_item(call: Call, fip: FloatingIP, servers: dict[str, str]) -> dict[str, Any]:
    instance = servers.get(fip.port_id or "")
    return {"publicIp": fip.floating_ip_address, "allocationId": ids.to_ec2("allocation", fip.id),
            "domain": "vpc", "instanceId": ids.to_ec2("instance", instance) if instance else None,
            "associationId": ids.to_ec2("association", fip.id) if fip.port_id else None,
            "networkInterfaceId": ids.to_ec2("interface", fip.port_id) if fip.port_id else None,
            "networkInterfaceOwnerId": fip.project_id if fip.port_id else None,
            "privateIpAddress": fip.fixed_ip_address, "publicIpv4Pool": "amazon",
            "networkBorderGroup": call.region, "tagSet": []}


def _by_public_ip(call: Call, public_ip: str) -> FloatingIP:
    for fip in call.hub.network.floating_ips(call.ctx):
        if fip.floating_ip_address == public_ip and fip.project_id == call.project_id:
            return fip
    raise errors.Ec2Error("InvalidAddress.NotFound", f"Address '{public_ip}' not found.")


def _address(call: Call) -> FloatingIP:
    alloc = call.params.get("AllocationId")
    if alloc:
        fip_id = ids.from_ec2("allocation", alloc)
        with lookup("allocation", alloc):
            found: FloatingIP = call.hub.network.floating_ip(call.ctx, fip_id)
        return found
    public_ip = call.params.get("PublicIp")
    if public_ip:
        return _by_public_ip(call, public_ip)
    raise errors.missing("AllocationId")


@ACTIONS.register("AllocateAddress")
def allocate_address(call: Call) -> dict[str, Any]:
    domain = call.params.get("Domain") or "vpc"
    if domain not in ("vpc", "standard"):
        raise errors.invalid("Domain", domain, "expecting vpc or standard")
    try:
        fip = call.hub.network.allocate_floating_ip(call.ctx, None)
    except exception.CumuloError as err:
        if isinstance(err, exception.NotFound):
            raise errors.Ec2Error("InvalidParameterValue", "This cloud has no public network to allocate from.") \
                from None
        raise errors.from_platform(err, "AddressLimitExceeded", "AddressLimitExceeded") from None
    return {"publicIp": fip.floating_ip_address, "domain": "vpc", "allocationId": ids.to_ec2("allocation", fip.id),
            "publicIpv4Pool": "amazon", "networkBorderGroup": call.region}


@ACTIONS.register("AssociateAddress")
def associate_address(call: Call) -> dict[str, Any]:
    from cumulo_api_ec2.actions.instances import get_server

    fip = _address(call)
    instance = call.params.get("InstanceId")
    eni = call.params.get("NetworkInterfaceId")
    if instance:
        server = get_server(call, instance)
        ports = [p for p in server.get("ports") or [] if any(":" not in str(f.get("ip_address", ""))
                                                             for f in p.get("fixed_ips") or [])]
        if not ports:
            raise errors.Ec2Error("InvalidInstanceID", f"The instance {instance} has no IPv4 network interface.")
        port_id = str(ports[0]["id"])
    elif eni:
        port_id = ids.from_ec2("interface", eni)
    else:
        raise errors.missing("InstanceId")
    if fip.port_id and fip.port_id != port_id and call.params.bool("AllowReassociation") is False:
        raise errors.Ec2Error("Resource.AlreadyAssociated", f"The address {fip.floating_ip_address} is in use.")
    try:
        call.hub.network.associate_floating_ip(call.ctx, fip.id, port_id, call.params.get("PrivateIpAddress"))
    except exception.NotFound as err:
        if "gateway" in err.message.lower() or "router" in err.message.lower():
            raise errors.Ec2Error("Gateway.NotAttached", f"The instance's network has no router to the public "
                                  f"network ({err.message}).") from None
        raise errors.Ec2Error("InvalidParameterValue", err.message) from None
    except exception.CumuloError as err:
        raise errors.from_platform(err) from None
    return {"return": True, "associationId": ids.to_ec2("association", fip.id)}


@ACTIONS.register("DisassociateAddress")
def disassociate_address(call: Call) -> dict[str, Any]:
    assoc = call.params.get("AssociationId")
    if assoc:
        fip_id = ids.from_ec2("association", assoc)
        with lookup("association", assoc):
            fip = call.hub.network.floating_ip(call.ctx, fip_id)
        if not fip.port_id:
            raise ids.not_found("association", assoc)
    else:
        fip = _by_public_ip(call, call.params.required("PublicIp"))
    with lookup("association", assoc or ""):
        call.hub.network.disassociate_floating_ip(call.ctx, fip.id)
    return ok()


@ACTIONS.register("ReleaseAddress")
def release_address(call: Call) -> dict[str, Any]:
    fip = _address(call)
    if fip.port_id:
        raise errors.Ec2Error("InvalidIPAddress.InUse", f"Address {fip.floating_ip_address} is in use.")
    with lookup("allocation", ids.to_ec2("allocation", fip.id)):
        call.hub.network.release_floating_ip(call.ctx, fip.id)
    return ok()


@ACTIONS.register("DescribeAddresses")
def describe_addresses(call: Call) -> dict[str, Any]:
    fips = [f for f in call.hub.network.floating_ips(call.ctx) if f.project_id == call.project_id]
    servers = _servers_by_port(call) if any(f.port_id for f in fips) else {}
    items = [address_item(call, f, servers) for f in fips]
    for alloc in call.params.list("AllocationId"):
        ids.hex_of("allocation", alloc)
        if not any(i["allocationId"] == alloc for i in items):
            raise ids.not_found("allocation", alloc)
    for ip in call.params.list("PublicIp"):
        if not any(i["publicIp"] == ip for i in items):
            raise errors.Ec2Error("InvalidAddress.NotFound", f"Address '{ip}' not found.")
    if call.params.list("AllocationId"):
        items = [i for i in items if i["allocationId"] in call.params.list("AllocationId")]
    if call.params.list("PublicIp"):
        items = [i for i in items if i["publicIp"] in call.params.list("PublicIp")]
    return {"addressesSet": apply_filters(items, call.params, FILTERS)}
