"""Security groups and rules, and each project's default group: the :class:`SecurityGroups` component.

Depends on :class:`.dataplane.DataPlane` (to tell the driver) and
:class:`.quotas.Quotas`; the port and instance components depend on it for
the default group.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc, orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
import cumulo_service_network.views as views
from cumulo import db
from cumulo.context import RequestContext
from cumulo_service_network.dataplane import DataPlane
from cumulo_service_network.quotas import Quotas

PROTOCOLS = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "gre": 47, "esp": 50,
             "ah": 51, "igmp": 2, "dccp": 33, "ipip": 4, "ospf": 89, "pgm": 113, "vrrp": 112, "udplite": 136}
PORT_PROTOCOLS = ("tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136")
ICMP_PROTOCOLS = ("icmp", "icmpv6", "ipv6-icmp", "1", "58")
RULE_ATTRS = ("security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max",
              "remote_ip_prefix", "remote_group_id", "description", "project_id", "tenant_id",
              "remote_address_group_id")



def _port_value(value: Any) -> int | None:
    """A port (or ICMP type/code) given as an integer 0..65535; Neutron's words otherwise."""
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError):
        raise nexc.InvalidInput(error_message=f"Invalid value for port {value}.") from None
    if not 0 <= number <= 65535:
        raise nexc.InvalidInput(error_message=f"Invalid value for port {number}.")
    return number

class SecurityGroups:
    """Security groups and their rules; the default group every project gets on first use."""

    #: What ``hub.network`` offers of this component.
    API = ("ensure_default_security_group", "list_security_groups", "get_security_group", "create_security_group",
           "update_security_group", "delete_security_group", "list_security_group_rules", "get_security_group_rule",
           "create_security_group_rule", "delete_security_group_rule")

    def __init__(self, dataplane: DataPlane, quotas: Quotas) -> None:
        self.dataplane, self.quotas = dataplane, quotas

    def ensure_default(self, s: orm.Session, project_id: str) -> str:
        """The id of the project's default group, created (race-free) on first use."""
        row = s.get(models.DefaultSecurityGroup, project_id)
        if row is not None:
            return row.security_group_id
        group = models.SecurityGroup(project_id=project_id, name="default", revision_number=0, stateful=True,
                                     description="Default security group")
        try:
            with s.begin_nested():
                s.add(group)
                s.flush()
                s.add(models.DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
                s.flush()
                for ethertype in ("IPv4", "IPv6"):
                    s.add(models.SecurityGroupRule(project_id=project_id, security_group_id=group.id,
                                                   direction="egress", ethertype=ethertype, revision_number=0))
                    s.add(models.SecurityGroupRule(project_id=project_id, security_group_id=group.id,
                                                   direction="ingress", ethertype=ethertype,
                                                   remote_group_id=group.id, revision_number=0))
                s.flush()
        except exc.IntegrityError as err:
            if not db.is_duplicate(err):
                raise
            row = s.get(models.DefaultSecurityGroup, project_id)
            assert row is not None
            return row.security_group_id
        # The caller's transaction owns the group: the driver hears of it once that commits (before the
        # caller, after its commit, tells it of the port or server that uses the group).
        self.dataplane.notify_sg_after_commit(s, "create", group.id)
        return group.id

    def ensure_default_security_group(self, project_id: str) -> str:
        with db.transaction() as s:
            return self.ensure_default(s, project_id)

    def list_security_groups(self, ctx: RequestContext) -> list[dict[str, Any]]:
        if ctx.project_id:
            self.ensure_default_security_group(ctx.project_id)
        with db.reader() as s:
            q = sa.select(models.SecurityGroup)
            if not ctx.is_admin:
                q = q.where(models.SecurityGroup.project_id == (ctx.project_id or ""))
            return views.sg_views(s, list(s.execute(q.order_by(models.SecurityGroup.created_at)).scalars()))

    def get_security_group(self, ctx: RequestContext, group_id: str) -> dict[str, Any]:
        with db.reader() as s:
            return views.sg_views(s, [c.get_owned(s, ctx, models.SecurityGroup, group_id,
                                                  nexc.SecurityGroupNotFound)])[0]

    def create_security_group(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "security_group", ("name", "description", "project_id", "tenant_id", "stateful"))
        project = c.owner_project(ctx, body)
        name = c.to_str(body.get("name"), "name") or ""
        if name == "default":
            raise c.conflict("Default security group already exists.")
        with db.transaction() as s:
            self.ensure_default(s, project)
            self.quotas.check(s, project, "security_group", 1)
            group = models.SecurityGroup(project_id=project, name=name, revision_number=0,
                                         description=c.to_str(body.get("description"), "description"),
                                         stateful=c.to_bool(body.get("stateful", True), "stateful"))
            s.add(group)
            s.flush()
            for ethertype in ("IPv4", "IPv6"):
                s.add(models.SecurityGroupRule(project_id=project, security_group_id=group.id, direction="egress",
                                               ethertype=ethertype, revision_number=0))
            s.flush()
            view = views.sg_views(s, [group])[0]
        self.dataplane.notify_sg("create", group.id)
        return view

    def update_security_group(self, ctx: RequestContext, group_id: str, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "security_group", ("name", "description", "stateful"))
        with db.transaction() as s:
            group = c.get_owned(s, ctx, models.SecurityGroup, group_id, nexc.SecurityGroupNotFound)
            is_default = s.execute(sa.select(models.DefaultSecurityGroup.project_id).where(
                models.DefaultSecurityGroup.security_group_id == group.id)).first() is not None
            if "name" in body:
                name = c.to_str(body["name"], "name") or ""
                if is_default and name != "default":
                    raise c.conflict("Updating default security group not allowed.")
                if not is_default and name == "default":
                    raise c.conflict("Default security group already exists.")
                group.name = name
            if "description" in body:
                group.description = c.to_str(body["description"], "description") or ""
            if "stateful" in body:
                stateful = c.to_bool(body["stateful"], "stateful")
                if stateful != group.stateful and s.execute(sa.select(models.PortSecurityGroup.port_id).where(
                        models.PortSecurityGroup.security_group_id == group.id)).first():
                    raise nexc.SecurityGroupInUse(id=group.id, reason="is in use by ports; 'stateful' cannot change")
                group.stateful = stateful
            c.bump(group)
            s.flush()
            view = views.sg_views(s, [group])[0]
        self.dataplane.notify_sg("update", group_id)
        return view

    def delete_security_group(self, ctx: RequestContext, group_id: str) -> None:
        with db.transaction() as s:
            group = c.get_owned(s, ctx, models.SecurityGroup, group_id, nexc.SecurityGroupNotFound)
            default = s.execute(sa.select(models.DefaultSecurityGroup).where(
                models.DefaultSecurityGroup.security_group_id == group.id)).scalar()
            if default is not None and not ctx.is_admin:
                raise nexc.SecurityGroupCannotRemoveDefault()
            if s.execute(sa.select(models.PortSecurityGroup.port_id).where(
                    models.PortSecurityGroup.security_group_id == group.id)).first():
                raise nexc.SecurityGroupInUse(id=group.id, reason="in use: one or more ports are members of it")
            record = self.dataplane.sg_record(s, group)
            others = set(s.execute(sa.select(models.SecurityGroupRule.security_group_id).where(
                models.SecurityGroupRule.remote_group_id == group.id,
                models.SecurityGroupRule.security_group_id != group.id)).scalars())
            s.execute(sa.delete(models.SecurityGroupRule).where(sa.or_(
                models.SecurityGroupRule.security_group_id == group.id,
                models.SecurityGroupRule.remote_group_id == group.id)))
            if default is not None:
                s.delete(default)
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == group.id))
            s.delete(group)
        self.dataplane.notify_sg("delete", group_id, record)
        for other in others:
            self.dataplane.notify_sg("update", other)

    # -------------------------------------------------------------------- rules
    def list_security_group_rules(self, ctx: RequestContext) -> list[dict[str, Any]]:
        with db.transaction() as s:
            q = sa.select(models.SecurityGroupRule)
            if not ctx.is_admin:
                q = q.where(models.SecurityGroupRule.project_id == (ctx.project_id or ""))
            return views.rule_views(list(s.execute(q.order_by(models.SecurityGroupRule.created_at)).scalars()))

    def get_security_group_rule(self, ctx: RequestContext, rule_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            return views.rule_views([c.get_owned(s, ctx, models.SecurityGroupRule, rule_id,
                                                 nexc.SecurityGroupRuleNotFound)])[0]

    @staticmethod
    def _protocol(value: Any) -> str | None:
        if value is None or value == "" or (isinstance(value, str) and value.lower() == "any"):
            return None
        text = str(value).lower()
        if text in PROTOCOLS:
            return text
        if text.isdigit() and 0 <= int(text) <= 255:
            return text
        raise nexc.InvalidInput(error_message=f"Security group rule protocol {value} not supported. Only protocol "
                                              f"values {sorted(PROTOCOLS)} and integer representations [0 to 255] "
                                              "are supported")

    def create_security_group_rule(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        body = c.check_keys(body, "security_group_rule", RULE_ATTRS)
        if not body.get("security_group_id"):
            raise nexc.BadRequest(reason="Failed to parse request. Required attribute 'security_group_id' "
                                         "not specified")
        direction = body.get("direction")
        if direction not in ("ingress", "egress"):
            raise nexc.InvalidInput(error_message=f"{direction} is not in ['ingress', 'egress'] for direction")
        ethertype = body.get("ethertype") or "IPv4"
        if str(ethertype).lower() not in ("ipv4", "ipv6"):
            raise nexc.InvalidInput(error_message=f"{ethertype} is not in ['IPv4', 'IPv6'] for ethertype")
        ethertype = "IPv4" if str(ethertype).lower() == "ipv4" else "IPv6"
        protocol = self._protocol(body.get("protocol"))
        pmin = _port_value(body.get("port_range_min"))
        pmax = _port_value(body.get("port_range_max"))
        if (pmin is not None or pmax is not None) and protocol is None:
            raise nexc.InvalidInput(error_message="Must also specify protocol if port range is given.")
        if protocol in PORT_PROTOCOLS:
            # Neutron's checks and words: port 0 is refused, and a range needs both ends in order.
            if pmin is not None or pmax is not None:
                if pmin == 0 or pmax == 0:
                    raise nexc.InvalidInput(error_message="Invalid value for port 0.")
                if pmin is None or pmax is None or pmin > pmax:
                    raise nexc.InvalidInput(error_message="For TCP/UDP protocols, port_range_min must be <= "
                                                          "port_range_max")
        elif protocol in ICMP_PROTOCOLS:
            for value, field, attr in ((pmin, "type", "port-range-min"), (pmax, "code", "port-range-max")):
                if value is not None and value > 255:
                    raise nexc.InvalidInput(error_message=f"Invalid value for ICMP {field} ({attr}) {value}. "
                                                          "It must be 0 to 255.")
            if pmin is None and pmax is not None:
                raise nexc.InvalidInput(error_message=f"ICMP code (port-range-max) {pmax} is provided but ICMP "
                                                      "type (port-range-min) is missing.")
        elif pmin is not None or pmax is not None:
            raise nexc.InvalidInput(error_message=f"Port ranges are not supported for protocol {protocol}")
        prefix = body.get("remote_ip_prefix")
        remote_group = body.get("remote_group_id")
        if prefix and remote_group:
            raise nexc.BadRequest(reason="Only remote_ip_prefix or remote_group_id may be provided.")
        if prefix:
            net = ipam.parse_cidr(prefix if "/" in str(prefix) else f"{prefix}/{32 if ':' not in str(prefix) else 128}",
                                  "remote_ip_prefix")
            if (net.version == 4) != (ethertype == "IPv4"):
                raise nexc.BadRequest(reason=f"Conflicting value ethertype {ethertype} for CIDR {prefix}")
            # As Neutron: the prefix stays as the client gave it (host bits and all; a bare address
            # gets its /32 or /128); the view's normalized_cidr is the network, and duplicates compare that.
            given = str(prefix).strip() if "/" in str(prefix) else f"{net.ip}/{net.prefixlen}"
            prefix = given if views.normalized_cidr(given) == str(net.cidr) else str(net.cidr)
        normalized = views.normalized_cidr(prefix)
        with db.transaction() as s:
            group = c.get_owned(s, ctx, models.SecurityGroup, body["security_group_id"], nexc.SecurityGroupNotFound)
            if remote_group:
                c.get_owned(s, ctx, models.SecurityGroup, remote_group, nexc.SecurityGroupNotFound)
            project = group.project_id
            for r in s.execute(sa.select(models.SecurityGroupRule).where(
                    models.SecurityGroupRule.security_group_id == group.id)).scalars():
                if (r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max,
                        views.normalized_cidr(r.remote_ip_prefix), r.remote_group_id) == (
                        direction, ethertype, protocol, pmin, pmax, normalized, remote_group or None):
                    raise nexc.SecurityGroupRuleExists(rule_id=r.id)
            self.quotas.check(s, project, "security_group_rule", 1)
            rule = models.SecurityGroupRule(project_id=project, security_group_id=group.id, direction=direction,
                                            ethertype=ethertype, protocol=protocol, port_range_min=pmin,
                                            port_range_max=pmax, remote_ip_prefix=prefix or None,
                                            remote_group_id=remote_group or None, revision_number=0,
                                            description=c.to_str(body.get("description"), "description") or "")
            s.add(rule)
            c.bump(group)
            s.flush()
            view = views.rule_views([rule])[0]
        self.dataplane.notify_sg("update", group.id)
        return view

    def delete_security_group_rule(self, ctx: RequestContext, rule_id: str) -> None:
        with db.transaction() as s:
            rule = c.get_owned(s, ctx, models.SecurityGroupRule, rule_id, nexc.SecurityGroupRuleNotFound)
            group_id = rule.security_group_id
            s.delete(rule)
        self.dataplane.notify_sg("update", group_id)


