"""Security groups and their rules on the network area's (``hub.network``).

EC2's ``IpPermissions`` (protocol, port range, ``IpRanges``/``Ipv6Ranges`` CIDRs, ``UserIdGroupPairs``)
become one platform rule per source; ``-1`` is every protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cumulo import exception
from cumulo.contracts.network import SecurityGroup, SecurityGroupRule
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.actions.base import ActionTable, Call, lookup, ok
from cumulo_api_ec2.params import Params, apply_filters

ACTIONS = ActionTable()

FILTERS = {"group-id": lambda g: g["groupId"], "group-name": lambda g: g["groupName"],
           "description": lambda g: g["groupDescription"], "owner-id": lambda g: g["ownerId"],
           "vpc-id": lambda g: g["vpcId"]}


def _permissions(rules: Iterable[SecurityGroupRule], direction: str) -> list[dict[str, Any]]:
    grouped: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for r in rules:
        if r.direction != direction:
            continue
        proto = r.protocol or "-1"
        key = (proto, r.port_range_min, r.port_range_max)
        perm = grouped.setdefault(key, {"ipProtocol": proto,
                                        "fromPort": r.port_range_min if proto != "-1" else None,
                                        "toPort": r.port_range_max if proto != "-1" else None,
                                        "groups": [], "ipRanges": [], "ipv6Ranges": [], "prefixListIds": []})
        if proto in ("icmp", "1") and r.port_range_min is None:
            perm["fromPort"], perm["toPort"] = -1, -1
        elif proto not in ("-1",) and r.port_range_min is None:
            perm["fromPort"], perm["toPort"] = 0, 65535
        if r.remote_group_id:
            perm["groups"].append({"groupId": ids.to_ec2("security_group", r.remote_group_id),
                                   "userId": r.project_id})
        elif r.ethertype == "IPv6":
            perm["ipv6Ranges"].append({"cidrIpv6": r.remote_ip_prefix or "::/0"})
        else:
            perm["ipRanges"].append({"cidrIp": r.remote_ip_prefix or "0.0.0.0/0"})
    return list(grouped.values())


def group_item(group: SecurityGroup) -> dict[str, Any]:
    return {"ownerId": group.project_id, "groupId": ids.to_ec2("security_group", group.id),
            "groupName": group.name, "groupDescription": group.description or group.name,
            "vpcId": ids.to_ec2("vpc", group.project_id),
            "ipPermissions": _permissions(group.rules, "ingress"),
            "ipPermissionsEgress": _permissions(group.rules, "egress"), "tagSet": []}


def _group(call: Call, by_id: str | None, by_name: str | None) -> SecurityGroup:
    if by_id:
        uuid = ids.from_ec2("security_group", by_id)
        with lookup("security_group", by_id):
            found: SecurityGroup = call.hub.network.security_group(call.ctx, uuid)
        return found
    if by_name:
        for g in call.hub.network.project_security_groups(call.ctx):
            if g.name == by_name and g.project_id == call.project_id:
                return g
        raise errors.Ec2Error("InvalidGroup.NotFound", f"The security group '{by_name}' does not exist")
    raise errors.missing("GroupId")


@ACTIONS.register("CreateSecurityGroup")
def create_security_group(call: Call) -> dict[str, Any]:
    name = call.params.required("GroupName")
    description = call.params.required("GroupDescription")
    if any(g.name == name and g.project_id == call.project_id
           for g in call.hub.network.project_security_groups(call.ctx)):
        raise errors.Ec2Error("InvalidGroup.Duplicate", f"The security group '{name}' already exists")
    with lookup("security_group", name, quota_code="SecurityGroupLimitExceeded",
                state_code="InvalidGroup.Duplicate"):
        group = call.hub.network.add_security_group(call.ctx, name, description)
    return {"return": True, "groupId": ids.to_ec2("security_group", group.id)}


@ACTIONS.register("DescribeSecurityGroups")
def describe_security_groups(call: Call) -> dict[str, Any]:
    wanted_ids = call.params.list("GroupId")
    wanted_names = call.params.list("GroupName")
    groups = [g for g in call.hub.network.project_security_groups(call.ctx) if g.project_id == call.project_id]
    items = [group_item(g) for g in groups]
    for gid in wanted_ids:
        ids.hex_of("security_group", gid)
        if not any(i["groupId"] == gid for i in items):
            raise ids.not_found("security_group", gid)
    for name in wanted_names:
        if not any(i["groupName"] == name for i in items):
            raise errors.Ec2Error("InvalidGroup.NotFound", f"The security group '{name}' does not exist")
    if wanted_ids:
        items = [i for i in items if i["groupId"] in wanted_ids]
    if wanted_names:
        items = [i for i in items if i["groupName"] in wanted_names]
    return {"securityGroupInfo": apply_filters(items, call.params, FILTERS)}


@ACTIONS.register("DeleteSecurityGroup")
def delete_security_group(call: Call) -> dict[str, Any]:
    group = _group(call, call.params.get("GroupId"), call.params.get("GroupName"))
    ec2_id = ids.to_ec2("security_group", group.id)
    try:
        call.hub.network.drop_security_group(call.ctx, group.id)
    except exception.NotFound:
        raise ids.not_found("security_group", ec2_id) from None
    except exception.Conflict as err:
        code = "CannotDelete" if "default" in err.message.lower() else "DependencyViolation"
        raise errors.Ec2Error(code, err.message) from None
    return ok()


def _rule_specs(call: Call) -> list[dict[str, Any]]:
    """Every platform rule the request's permissions stand for (``IpPermissions.N`` or the old flat form)."""
    perms = call.params.structs("IpPermissions")
    if not perms and call.params.get("IpProtocol"):
        flat = {k: v for k, v in call.params.values.items() if k in ("IpProtocol", "FromPort", "ToPort")}
        if call.params.get("CidrIp"):
            flat["IpRanges.1.CidrIp"] = str(call.params.get("CidrIp"))
        perms = [Params(flat)]
    if not perms:
        raise errors.missing("IpPermissions")
    specs = []
    for perm in perms:
        proto = (perm.get("IpProtocol") or "").lower()
        if not proto:
            raise errors.missing("IpPermissions.IpProtocol")
        proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto)
        if proto not in ("tcp", "udp", "icmp", "-1", "all"):
            raise errors.invalid("IpProtocol", proto, "expecting tcp, udp, icmp or -1")
        low, high = perm.int("FromPort"), perm.int("ToPort")
        base: dict[str, Any] = {"protocol": None if proto in ("-1", "all") else proto}
        if proto in ("tcp", "udp"):
            if low is None or high is None or not 0 <= low <= high <= 65535:
                raise errors.invalid("FromPort", low, "a tcp or udp rule needs 0 <= FromPort <= ToPort <= 65535")
            base.update(port_range_min=low, port_range_max=high)
        elif proto == "icmp" and low is not None and low != -1:
            base.update(port_range_min=low, port_range_max=None if high in (None, -1) else high)
        sources = [{"remote_ip_prefix": r.required("CidrIp"), "ethertype": "IPv4"} for r in perm.structs("IpRanges")]
        sources += [{"remote_ip_prefix": r.required("CidrIpv6"), "ethertype": "IPv6"}
                    for r in perm.structs("Ipv6Ranges")]
        for pair in perm.structs("Groups"):
            gid = pair.get("GroupId")
            group = _group(call, gid, pair.get("GroupName"))
            sources.append({"remote_group_id": group.id, "ethertype": "IPv4"})
        if not sources:
            sources = [{"remote_ip_prefix": "0.0.0.0/0", "ethertype": "IPv4"}]
        specs += [{**base, **s} for s in sources]
    return specs


def _same(rule: SecurityGroupRule, direction: str, spec: dict[str, Any]) -> bool:
    prefix = rule.remote_ip_prefix
    wanted = spec.get("remote_ip_prefix")
    default_any = {"0.0.0.0/0", "::/0", None}
    return (rule.direction == direction and rule.ethertype == spec["ethertype"]
            and (rule.protocol or None) == spec["protocol"]
            and rule.port_range_min == spec.get("port_range_min") and rule.port_range_max == spec.get("port_range_max")
            and (prefix == wanted or (prefix in default_any and wanted in default_any))
            and rule.remote_group_id == spec.get("remote_group_id"))


def _authorize(call: Call, direction: str) -> dict[str, Any]:
    group = _group(call, call.params.get("GroupId"), call.params.get("GroupName"))
    ec2_id = ids.to_ec2("security_group", group.id)
    made = []
    for spec in _rule_specs(call):
        try:
            rule = call.hub.network.add_security_group_rule(call.ctx, group.id, direction=direction, **spec)
        except exception.Conflict as err:
            if "exist" in err.message.lower():
                raise errors.Ec2Error("InvalidPermission.Duplicate", "the specified rule already exists") from None
            raise errors.from_platform(err, "RulesPerSecurityGroupLimitExceeded") from None
        except exception.NotFound:
            raise ids.not_found("security_group", ec2_id) from None
        except exception.Invalid as err:
            raise errors.invalid("IpPermissions", "(rule)", err.message) from None
        made.append({"securityGroupRuleId": f"sgr-{rule.id.replace('-', '')}", "groupId": ec2_id,
                     "isEgress": direction == "egress", "ipProtocol": rule.protocol or "-1",
                     "fromPort": rule.port_range_min, "toPort": rule.port_range_max,
                     "cidrIpv4": rule.remote_ip_prefix if rule.ethertype == "IPv4" else None})
    return {"return": True, "securityGroupRuleSet": made}


def _revoke(call: Call, direction: str) -> dict[str, Any]:
    group = _group(call, call.params.get("GroupId"), call.params.get("GroupName"))
    specs = _rule_specs(call)
    for spec in specs:
        found = [r for r in group.rules if _same(r, direction, spec)]
        if not found:
            raise errors.Ec2Error("InvalidPermission.NotFound",
                                  "The specified rule does not exist in this security group.")
        for r in found:
            with lookup("security_group", ids.to_ec2("security_group", group.id)):
                call.hub.network.drop_security_group_rule(call.ctx, r.id)
    return ok()


@ACTIONS.register("AuthorizeSecurityGroupIngress")
def authorize_ingress(call: Call) -> dict[str, Any]:
    return _authorize(call, "ingress")


@ACTIONS.register("AuthorizeSecurityGroupEgress")
def authorize_egress(call: Call) -> dict[str, Any]:
    return _authorize(call, "egress")


@ACTIONS.register("RevokeSecurityGroupIngress")
def revoke_ingress(call: Call) -> dict[str, Any]:
    return _revoke(call, "ingress")


@ACTIONS.register("RevokeSecurityGroupEgress")
def revoke_egress(call: Call) -> dict[str, Any]:
    return _revoke(call, "egress")
