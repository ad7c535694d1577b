"""The security group proxy: ``/os-security-groups`` and ``/os-security-group-rules`` (below 2.36), as Nova has it.

Nova forwards these to Neutron; Cumulo calls the network area through its contract
(:class:`cumulo.contracts.network.NetworkService`, 1.3). Nova's view shows a group's ingress rules
only, and turns Neutron's refusals (the default group, a group in use, a duplicate rule) into 400.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from cumulo import exception
from cumulo.contracts import network as net
from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v

_TEXT = {"type": "string"}
SECURITY_GROUP = {"type": "object", "properties": {"security_group": {
    "type": "object", "properties": {"name": _TEXT, "description": _TEXT}}},
    "required": ["security_group"], "additionalProperties": False}
_PORT = {"type": ["integer", "string", "null"]}
SECURITY_GROUP_RULE = {"type": "object", "properties": {"security_group_rule": {
    "type": "object", "properties": {"parent_group_id": {"type": ["string", "integer"]},
                                     "ip_protocol": {"type": ["string", "null"]}, "from_port": _PORT,
                                     "to_port": _PORT, "cidr": {"type": ["string", "null"]},
                                     "group_id": {"type": ["string", "integer", "null"]}},
    "required": ["parent_group_id"]}}, "required": ["security_group_rule"], "additionalProperties": False}


def _uuid(value: Any, what: str) -> str:
    """A security group id. :raises Invalid: not a UUID (Neutron's ids are)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise exception.Invalid(reason=f"Security group {what} should be a UUID: {value!r}") from None


def _property(value: Any, what: str) -> str:
    """A group's name or description as Nova checks it. :raises Invalid: missing, blank or over 255 characters."""
    if not isinstance(value, str):
        raise exception.Invalid(reason=f"Security group {what} is not a string")
    if not value.strip():
        raise exception.Invalid(reason=f"Security group {what} cannot be empty.")
    if len(value) > 255:
        raise exception.Invalid(reason=f"Security group {what} should not be greater than 255 characters.")
    return value


def _port(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise exception.Invalid(reason=f"{what} {value!r} is not an integer") from None


def _invalid(err: exception.CumuloError) -> exception.Invalid:
    """Nova's 400 for what Neutron refuses with 409 (or a bad request)."""
    return exception.Invalid(reason=err.message)


class OSSecurityGroupsController(Controller):
    """``/os-security-groups[/{group_id}]`` and ``/os-security-group-rules[/{rule_id}]``."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-security-groups", self.index),
                ("POST", "/os-security-groups", self.create),
                ("GET", "/os-security-groups/{group_id}", self.show),
                ("PUT", "/os-security-groups/{group_id}", self.update),
                ("DELETE", "/os-security-groups/{group_id}", self.delete),
                ("POST", "/os-security-group-rules", self.create_rule),
                ("DELETE", "/os-security-group-rules/{rule_id}", self.delete_rule)]

    def _net(self, req: Request, action: str) -> net.NetworkService:
        """The network area, for ``action`` at a microversion below 2.36.

        :raises Forbidden: the policy refuses.
        :raises NotFound: microversion 2.36 or later, or no network service.
        """
        self.authorize(req, policies.SECURITY_GROUPS[action])
        if self.ver(req) >= v("2.36"):
            raise exception.NotFound("The security group proxy is not available from microversion 2.36.")
        try:
            service: net.NetworkService = self.hub.network
        except LookupError:
            raise exception.NotFound("This cloud runs no network service.") from None
        return service

    # -- views

    @staticmethod
    def _rule(rule: net.SecurityGroupRule, names: dict[str, net.SecurityGroup]) -> dict[str, Any]:
        """A rule in Nova's shape: a whole protocol is spelled as its full range; a peer is a group or a CIDR."""
        protocol = rule.protocol
        low, high = rule.port_range_min, rule.port_range_max
        if protocol and low is None and high is None:
            low, high = (1, 65535) if protocol.upper() in ("TCP", "UDP") else (-1, -1)
        out: dict[str, Any] = {"id": rule.id, "parent_group_id": rule.security_group_id, "ip_protocol": protocol,
                               "from_port": low, "to_port": high, "group": {}, "ip_range": {}}
        if rule.remote_group_id:
            peer = names.get(rule.remote_group_id)
            out["group"] = {"name": peer.name if peer else "", "tenant_id": peer.project_id if peer else
                            rule.project_id}
        else:
            out["ip_range"] = {"cidr": rule.remote_ip_prefix or ("::/0" if rule.ethertype == "IPv6" else "0.0.0.0/0")}
        return out

    def _group(self, group: net.SecurityGroup, names: dict[str, net.SecurityGroup]) -> dict[str, Any]:
        return {"id": group.id, "name": group.name, "description": group.description, "tenant_id": group.project_id,
                "rules": [self._rule(r, names) for r in group.rules if r.direction == "ingress"]}

    # -- groups

    def index(self, req: Request) -> dict[str, Any]:
        service = self._net(req, "get")
        groups = service.project_security_groups(req.context)
        if not (req.context.is_admin and req.bool_param("all_tenants", False)):
            groups = [g for g in groups if g.project_id == req.context.project_id]
        names = {g.id: g for g in groups}
        return {"security_groups": [self._group(g, names) for g in groups]}

    def show(self, req: Request, group_id: str) -> dict[str, Any]:
        service = self._net(req, "show")
        group = service.security_group(req.context, _uuid(group_id, "id"))
        return {"security_group": self._group(group, self._names(req, service, group))}

    def _names(self, req: Request, service: net.NetworkService, group: net.SecurityGroup) -> dict[str, net.SecurityGroup]:
        """The groups a group's rules name as peers (those the caller can see)."""
        names = {group.id: group}
        for peer in {r.remote_group_id for r in group.rules} - {None, group.id}:
            try:
                names[str(peer)] = service.security_group(req.context, str(peer))
            except net.SecurityGroupNotFound:
                pass
        return names

    def create(self, req: Request) -> dict[str, Any]:
        service = self._net(req, "create")
        body = self.body(req, SECURITY_GROUP)["security_group"]
        name, description = _property(body.get("name"), "name"), _property(body.get("description"), "description")
        try:
            group = service.add_security_group(req.context, name, description)
        except exception.Conflict as err:
            raise _invalid(err) from None
        return {"security_group": self._group(group, {group.id: group})}

    def update(self, req: Request, group_id: str) -> dict[str, Any]:
        service = self._net(req, "update")
        gid = _uuid(group_id, "id")
        body = self.body(req, SECURITY_GROUP)["security_group"]
        name, description = _property(body.get("name"), "name"), _property(body.get("description"), "description")
        try:
            group = service.edit_security_group(req.context, gid, name=name, description=description)
        except exception.Conflict as err:
            raise _invalid(err) from None
        return {"security_group": self._group(group, self._names(req, service, group))}

    def delete(self, req: Request, group_id: str) -> Any:
        service = self._net(req, "delete")
        try:
            service.drop_security_group(req.context, _uuid(group_id, "id"))
        except exception.Conflict as err:  # the default group, or one with members
            raise _invalid(err) from None
        return 202, None

    # -- rules

    def create_rule(self, req: Request) -> dict[str, Any]:
        service = self._net(req, "rule:create")
        body = self.body(req, SECURITY_GROUP_RULE)["security_group_rule"]
        parent = _uuid(body["parent_group_id"], "parent_group_id")
        peer = _uuid(body["group_id"], "group_id") if body.get("group_id") not in (None, "") else None
        protocol = body.get("ip_protocol")
        protocol = str(protocol).lower() if protocol not in (None, "") else None
        if protocol is not None and protocol not in ("tcp", "udp", "icmp"):
            raise exception.Invalid(reason=f"Invalid IP protocol {body.get('ip_protocol')}.")
        low, high = _port(body.get("from_port"), "from_port"), _port(body.get("to_port"), "to_port")
        if protocol in ("tcp", "udp"):
            if low is None or high is None or not (1 <= low <= 65535 and 1 <= high <= 65535) or low > high:
                raise exception.Invalid(reason=f"Invalid port range {low}:{high}. Valid TCP ports should be "
                                               "between 1-65535")
        elif protocol == "icmp":
            if low is None or high is None or not (-1 <= low <= 255 and -1 <= high <= 255):
                raise exception.Invalid(reason=f"Invalid ICMP type/code {low}:{high}: each is -1 to 255.")
            low, high = (None if low == -1 else low), (None if high == -1 else high)
        else:
            low = high = None
        cidr = body.get("cidr")
        if peer is None:
            cidr = str(cidr or "0.0.0.0/0").strip()
            try:  # checked here; passed on as given (host bits and all, as Nova passes it to Neutron)
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise exception.Invalid(reason=f"Invalid cidr {cidr}.") from None
        else:
            cidr = None
        ethertype: net.Ethertype = "IPv6" if cidr and ":" in cidr else "IPv4"
        try:
            rule = service.add_security_group_rule(req.context, parent, protocol=protocol, port_range_min=low,
                                                   port_range_max=high, remote_ip_prefix=cidr, remote_group_id=peer,
                                                   ethertype=ethertype)
        except (exception.Conflict, net.InvalidInput, net.BadRequest) as err:
            raise _invalid(err) from None
        group = service.security_group(req.context, parent)
        return {"security_group_rule": self._rule(rule, self._names(req, service, group))}

    def delete_rule(self, req: Request, rule_id: str) -> Any:
        service = self._net(req, "rule:delete")
        service.drop_security_group_rule(req.context, rule_id)
        return 202, None
