"""A server's action log and security groups (``hub.compute`` instance-action and security-group methods).

The action log records each user request on a server and the events the hosts ran for it (kept
after the server is deleted). Security groups are the network service's; without one, a server
shows the names it was created with.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import cumulo_service_compute.objects as objects
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.network import SecurityGroup
from cumulo_service_compute.common import Plumbing, instance_for


class InstanceActions:
    """The requests made on a server and their events."""

    def list_instance_actions(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id, read_deleted=True)
        return objects.list_actions(uuid)

    def get_instance_action(self, ctx: RequestContext, uuid: str, request_id: str) -> dict[str, Any]:
        objects.get_instance(uuid, project_id=None if ctx.is_admin else ctx.project_id, read_deleted=True)
        return objects.get_action(uuid, request_id)


def security_group_view(group: SecurityGroup) -> dict[str, Any]:
    """A security group (the network contract's record) as ``hub.compute.security_groups`` lists it.

    Neutron's keys: the rules are ``security_group_rules``, each with the record's fields.
    """
    return {"id": group.id, "name": group.name, "description": group.description, "project_id": group.project_id,
            "tenant_id": group.project_id, "stateful": group.stateful,
            "security_group_rules": [dataclasses.asdict(rule) for rule in group.rules]}


class ServerSecurityGroups:
    """A server's security groups, through the network service (``plumbing.network()``)."""

    def __init__(self, plumbing: Plumbing) -> None:
        self.plumbing = plumbing

    def security_groups(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        inst = instance_for(ctx, uuid)
        net = self.plumbing.network()
        if net is None:
            return [{"name": n} for n in inst["security_groups"]]
        return [security_group_view(g) for g in net.instance_security_groups(ctx, uuid)]

    def add_security_group(self, ctx: RequestContext, uuid: str, group: str) -> None:
        instance_for(ctx, uuid)
        net = self.plumbing.network()
        if net is None:
            raise exception.Conflict("Security groups need the network service, which this cloud does not run.")
        net.add_security_group_to_instance(ctx, uuid, group)

    def remove_security_group(self, ctx: RequestContext, uuid: str, group: str) -> None:
        instance_for(ctx, uuid)
        net = self.plumbing.network()
        if net is None:
            raise exception.Conflict("Security groups need the network service, which this cloud does not run.")
        net.remove_security_group_from_instance(ctx, uuid, group)
