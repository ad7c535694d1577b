"""Shared helpers of the network service: input coercion, visibility and lookups, MAC addresses.

A leaf module: every component of the service uses it, and it imports only the
models and :mod:`cumulo.contracts.network` (never the package or a
component). The API views are in :mod:`cumulo_service_network.views`.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.models as models
from cumulo import exception
from cumulo.context import RequestContext

DEVICE_OWNER_ROUTER_INTF = "network:router_interface"
DEVICE_OWNER_ROUTER_GW = "network:router_gateway"
DEVICE_OWNER_FLOATINGIP = "network:floatingip"
DEVICE_OWNER_DHCP = "network:dhcp"
#: Ports owned by the network service itself: never deletable through the port API.
SERVICE_OWNERS = (DEVICE_OWNER_ROUTER_INTF, DEVICE_OWNER_ROUTER_GW, DEVICE_OWNER_FLOATINGIP)


def timestamp(value: datetime.datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def to_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise nexc.InvalidInput(error_message=f"'{value}' is not a valid boolean value for {field}")


def to_str(value: Any, field: str, maxlen: int = 255, allow_none: bool = False) -> str | None:
    if value is None and allow_none:
        return None
    if value is None:
        return ""
    if not isinstance(value, str):
        raise nexc.InvalidInput(error_message=f"'{value}' is not a valid string for {field}")
    if len(value) > maxlen:
        raise nexc.InvalidInput(error_message=f"'{value[:40]}...' exceeds maximum length of {maxlen} for {field}")
    return value


def to_int(value: Any, field: str, minimum: int | None = None, maximum: int | None = None,
           allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError):
        raise nexc.InvalidInput(error_message=f"'{value}' is not an integer for {field}") from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise nexc.InvalidInput(error_message=f"{field} {number} is not in range {minimum}..{maximum}")
    return number


def check_keys(body: Any, resource: str, allowed: Iterable[str]) -> dict[str, Any]:
    """The body must be an object with only known attributes (Neutron rejects others)."""
    if not isinstance(body, dict):
        raise nexc.BadRequest(reason=f"Resource body for {resource} must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise nexc.BadRequest(reason=f"Unrecognized attribute(s) '{', '.join(unknown)}' for {resource}.")
    return body


def owner_project(ctx: RequestContext, body: dict[str, Any]) -> str:
    """project_id/tenant_id from the body (admins only, or the caller's own) or the caller's project."""
    project = body.get("project_id") or body.get("tenant_id")
    if body.get("project_id") and body.get("tenant_id") and body["project_id"] != body["tenant_id"]:
        raise nexc.BadRequest(reason="'project_id' and 'tenant_id' do not match.")
    if project and project != ctx.project_id and not ctx.is_admin:
        raise nexc.PolicyNotAuthorized(action="create with another project_id")
    project = project or ctx.project_id
    if not project and not ctx.is_admin:
        raise nexc.BadRequest(reason="A project_id is required (the token is not scoped to a project).")
    return to_str(project or "", "project_id") or ""  # an unscoped admin creates cloud-owned resources


def require_admin(ctx: RequestContext, action: str) -> None:
    if not ctx.is_admin:
        raise nexc.PolicyNotAuthorized(action=action)


def is_owner(ctx: RequestContext, project_id: str) -> bool:
    return ctx.is_admin or (bool(ctx.project_id) and ctx.project_id == project_id)


def network_visible(ctx: RequestContext, net: models.Network) -> bool:
    return is_owner(ctx, net.project_id) or net.shared or net.external


def get_network(session: orm.Session, ctx: RequestContext, network_id: Any, for_update: bool = False) -> models.Network:
    net = session.get(models.Network, str(network_id)) if isinstance(network_id, str) else None
    if net is None or not network_visible(ctx, net):
        raise nexc.NetworkNotFound(id=network_id)
    return net


def get_owned(session: orm.Session, ctx: RequestContext, model: type, rid: Any, notfound: type) -> Any:
    obj = session.get(model, rid) if isinstance(rid, str) else None
    if obj is None or not is_owner(ctx, obj.project_id):
        raise notfound(id=rid)
    return obj


def visible_subnet(s: orm.Session, ctx: RequestContext, subnet_id: Any) -> models.Subnet:
    sub = s.get(models.Subnet, subnet_id) if isinstance(subnet_id, str) else None
    if sub is None:
        raise nexc.SubnetNotFound(id=subnet_id)
    net = s.get(models.Network, sub.network_id)
    if net is None or not (network_visible(ctx, net) or is_owner(ctx, sub.project_id)):
        raise nexc.SubnetNotFound(id=subnet_id)
    return sub


def port_visible(s: orm.Session, ctx: RequestContext, port: models.Port) -> bool:
    if is_owner(ctx, port.project_id):
        return True
    net = s.get(models.Network, port.network_id)
    return net is not None and is_owner(ctx, net.project_id)


def get_port(s: orm.Session, ctx: RequestContext, port_id: Any) -> models.Port:
    port = s.get(models.Port, port_id) if isinstance(port_id, str) else None
    if port is None or not port_visible(s, ctx, port):
        raise nexc.PortNotFound(id=port_id)
    return port


def tags_of(session: orm.Session, ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for chunk in range(0, len(ids), 500):
        rows = session.execute(sa.select(models.Tag.resource_id, models.Tag.tag)
                               .where(models.Tag.resource_id.in_(ids[chunk:chunk + 500])))
        for rid, tag in rows:
            out.setdefault(rid, []).append(tag)
    for v in out.values():
        v.sort()
    return out


def standard(obj: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "id": obj.id,
        "name": obj.name,
        "description": obj.description,
        "tenant_id": obj.project_id,
        "project_id": obj.project_id,
        "created_at": timestamp(obj.created_at),
        "updated_at": timestamp(obj.updated_at or obj.created_at),
        "revision_number": obj.revision_number,
        "tags": tags,
    }


def bump(obj: Any) -> None:
    obj.revision_number = (obj.revision_number or 0) + 1


def in_chunks(session: orm.Session, stmt_for: Any, ids: list[str]) -> list[Any]:
    out: list[Any] = []
    for chunk in range(0, len(ids), 500):
        out.extend(session.execute(stmt_for(ids[chunk:chunk + 500])).all())
    return out


def conflict(reason: str) -> exception.Conflict:
    return exception.Conflict(reason=reason)


def to_id(value: Any, field: str) -> str:
    """A resource id given by the client: a non-empty string (anything else is a 400, not a crash)."""
    if not isinstance(value, str) or not value or len(value) > 255:
        raise nexc.InvalidInput(error_message=f"'{value}' is not a valid id for {field}")
    return value


def random_mac() -> str:
    """A MAC address in OpenStack's locally administered range (``fa:16:3e:xx:xx:xx``)."""
    return "fa:16:3e:" + ":".join(f"{random.randint(0, 255):02x}" for _ in range(3))
