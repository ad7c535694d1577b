"""The default VPC (one per project, ``vpc-<project id>``, standing for the project's networks) and its
subnets (the subnets of the project's networks, read through ``hub.network.list_subnets``)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from cumulo_api_ec2 import ids
from cumulo_api_ec2.actions.base import ActionTable, Call
from cumulo_api_ec2.params import apply_filters

ACTIONS = ActionTable()

VPC_FILTERS = {"vpc-id": lambda v: v["vpcId"], "state": lambda v: v["state"], "is-default": lambda v: v["isDefault"],
               "cidr": lambda v: v["cidrBlock"], "owner-id": lambda v: v["ownerId"]}
SUBNET_FILTERS = {"subnet-id": lambda s: s["subnetId"], "vpc-id": lambda s: s["vpcId"],
                  "cidr-block": lambda s: s["cidrBlock"], "cidr": lambda s: s["cidrBlock"],
                  "state": lambda s: s["state"], "availability-zone": lambda s: s["availabilityZone"],
                  "default-for-az": lambda s: s["defaultForAz"], "owner-id": lambda s: s["ownerId"]}


def project_subnets(call: Call) -> list[Mapping[str, Any]]:
    """The IPv4 subnets of the caller's project's own (not external) networks."""
    own = {n.id for n in call.hub.network.network_summaries(call.ctx)
           if not n.external and n.project_id == call.project_id}
    lister = getattr(call.hub.network, "list_subnets", None)  # not in the network contract (see README)
    subnets = lister(call.ctx) if lister is not None else []
    return [s for s in subnets if s.get("network_id") in own and int(s.get("ip_version") or 4) == 4]


def _zone(call: Call) -> str:
    zones = call.hub.compute.availability_zones(call.ctx)
    return str(zones[0]["zoneName"]) if zones else "nova"


@ACTIONS.register("DescribeVpcs")
def describe_vpcs(call: Call) -> dict[str, Any]:
    subnets = project_subnets(call)
    cidr = str(subnets[0]["cidr"]) if subnets else "10.0.0.0/16"
    vpc = {"vpcId": ids.to_ec2("vpc", call.project_id), "state": "available", "cidrBlock": cidr,
           "dhcpOptionsId": "default", "instanceTenancy": "default", "isDefault": True, "ownerId": call.project_id,
           "cidrBlockAssociationSet": [{"associationId": f"vpc-cidr-assoc-{n}", "cidrBlock": s["cidr"],
                                        "cidrBlockState": {"state": "associated"}}
                                       for n, s in enumerate(subnets or [{"cidr": cidr}])],
           "tagSet": []}
    for wanted in call.params.list("VpcId"):
        ids.hex_of("vpc", wanted)
        if wanted != vpc["vpcId"]:
            raise ids.not_found("vpc", wanted)
    return {"vpcSet": apply_filters([vpc], call.params, VPC_FILTERS)}


def _free(subnet: Mapping[str, Any]) -> int:
    try:
        net = ipaddress.ip_network(str(subnet["cidr"]), strict=False)
    except ValueError:
        return 0
    return max(net.num_addresses - 5, 0)  # EC2 reserves five addresses per subnet


@ACTIONS.register("DescribeSubnets")
def describe_subnets(call: Call) -> dict[str, Any]:
    zone = _zone(call)
    items = [{"subnetId": ids.to_ec2("subnet", s["id"]), "subnetArn": None, "state": "available",
              "vpcId": ids.to_ec2("vpc", call.project_id), "cidrBlock": s["cidr"],
              "availableIpAddressCount": _free(s), "availabilityZone": zone, "availabilityZoneId": zone,
              "defaultForAz": n == 0, "mapPublicIpOnLaunch": False, "ownerId": call.project_id,
              "assignIpv6AddressOnCreation": False, "ipv6CidrBlockAssociationSet": [],
              "tagSet": [{"key": "Name", "value": s["name"]}] if s.get("name") else []}
             for n, s in enumerate(project_subnets(call))]
    for wanted in call.params.list("SubnetId"):
        ids.hex_of("subnet", wanted)
        if not any(i["subnetId"] == wanted for i in items):
            raise ids.not_found("subnet", wanted)
    if call.params.list("SubnetId"):
        items = [i for i in items if i["subnetId"] in call.params.list("SubnetId")]
    return {"subnetSet": apply_filters(items, call.params, SUBNET_FILTERS)}


__all__ = ["ACTIONS", "project_subnets"]
