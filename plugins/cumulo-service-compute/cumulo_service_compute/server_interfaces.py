"""A server's interfaces (``hub.compute`` interface methods): list, show, attach, detach, and Nova's
legacy ``addFixedIp`` / ``removeFixedIp`` (an interface on the network; detaching the interface
that holds the address, when it holds no other).

Attaching asks the network area for the port (the network contract's
``attach_instance_port``), then the server's host to plug it (RPC call
``attach_interface``, the hypervisor driver's hot-plug); when the host fails,
the port is given back before the error propagates. Detaching unplugs on the
host first, then gives the port back (``detach_instance_port``: deleted when
made for the server, unbound when it is the user's). As Nova: the server must
be ACTIVE, SHUTOFF or PAUSED with no task under way, and not locked. The
server's addresses and security groups are its ports' (``get_server`` reads
them back), so nothing else needs refreshing.
"""

from __future__ import annotations

import logging
from typing import Any

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort, NetworkService, RequestedNetwork
from cumulo_service_compute.common import Plumbing, instance_for, ready_to_plug
from cumulo_service_compute.hosts import Hosts

LOG = logging.getLogger(__name__)

#: The vm_states an interface may be attached or detached in (Nova's).
INTERFACE_STATES = (st.ACTIVE, st.STOPPED, st.PAUSED)
#: The hypervisor capability both need (:data:`cumulo.interfaces.hypervisor.CAPABILITY_METHODS`).
CAPABILITY = "attach_interface"
#: system_metadata key holding the device tags of attached interfaces (port id -> tag).
TAGS_KEY = "interface_tags"


class InterfaceFailed(exception.CumuloError):
    """The host could not plug or unplug the interface (Nova's InterfaceAttachFailed/InterfaceDetachFailed)."""

    code = 500
    msg_fmt = "Failed to %(verb)s network adapter device %(port_id)s of instance %(uuid)s: %(reason)s"


def interface_view(port: InstancePort, tags: dict[str, str]) -> dict[str, Any]:
    """A port of the server (the network contract's record) as an interface attachment."""
    return {"port_id": port.id, "net_id": port.network_id, "mac_addr": port.mac_address, "port_state": port.status,
            "fixed_ips": [{"subnet_id": ip.subnet_id, "ip_address": ip.ip_address} for ip in port.fixed_ips],
            "tag": tags.get(port.id)}


def _tags(inst: dict[str, Any]) -> dict[str, str]:
    tags = (inst.get("system_metadata") or {}).get(TAGS_KEY) or {}
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def _owner_ctx(ctx: RequestContext, inst: dict[str, Any]) -> RequestContext:
    """The caller acting in the server's project: an administrator's new port belongs to the server's owner."""
    if ctx.project_id == inst["project_id"]:
        return ctx
    return RequestContext(user_id=ctx.user_id, project_id=inst["project_id"], roles=list(ctx.roles),
                          is_admin=ctx.is_admin, request_id=ctx.request_id,
                          global_request_id=ctx.global_request_id)


class ServerInterfaces:
    """The ports plugged into a server (``plumbing``: the network service, RPC to the server's host)."""

    def __init__(self, plumbing: Plumbing, hosts: Hosts) -> None:
        self.plumbing, self.hosts = plumbing, hosts

    def _network(self) -> NetworkService:
        net = self.plumbing.network()
        if net is None:
            raise exception.Conflict("Interfaces need the network service, which this cloud does not run.")
        return net

    def list_interfaces(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        inst = instance_for(ctx, uuid)
        net = self.plumbing.network()
        if net is None:
            return []
        tags = _tags(inst)
        return [interface_view(p, tags) for p in net.instance_ports(ctx, uuid)]

    def get_interface(self, ctx: RequestContext, uuid: str, port_id: str) -> dict[str, Any]:
        for view in self.list_interfaces(ctx, uuid):
            if view["port_id"] == port_id:
                return view
        raise exception.NotFound(f"Port {port_id} is not attached to instance {uuid}.")

    def _ready(self, ctx: RequestContext, uuid: str, action: str) -> dict[str, Any]:
        """The server, if an interface may be (un)plugged now: its lock, state, host and hypervisor (409 else)."""
        return ready_to_plug(ctx, self.hosts, uuid, action, INTERFACE_STATES, CAPABILITY)

    def _default_network(self, net: NetworkService, ctx: RequestContext) -> str:
        """Nova's choice when no port or network is named: the project's one network (its own or shared)."""
        usable = [n.id for n in net.network_summaries(ctx)
                  if not n.external and (n.shared or n.project_id == ctx.project_id)]
        if not usable:
            raise exception.Invalid(reason="No specific network was requested and none are available for "
                                           f"project '{ctx.project_id}'.")
        if len(usable) > 1:
            raise exception.Invalid(reason="Multiple possible networks found, use a Network ID to be more "
                                           "specific.")
        return usable[0]

    def attach_interface(self, ctx: RequestContext, uuid: str, *, port_id: str | None = None,
                         network_id: str | None = None, fixed_ip: str | None = None,
                         tag: str | None = None) -> dict[str, Any]:
        if port_id and network_id:
            raise exception.Invalid(reason="Must not input both network_id and port_id")
        if fixed_ip and not network_id:
            raise exception.Invalid(reason="Must input network_id when request IP address")
        inst = self._ready(ctx, uuid, "attach_interface")
        net = self._network()
        owner = _owner_ctx(ctx, inst)
        if not port_id and not network_id:
            network_id = self._default_network(net, owner)
        objects.start_action(ctx, uuid, "attach_interface")
        try:
            port = net.attach_instance_port(owner, uuid, inst["host"], RequestedNetwork(
                network_id=network_id or None, port_id=port_id or None, fixed_ip=fixed_ip or None),
                inst["availability_zone"] or "nova")
        except Exception:
            objects.finish_action(ctx, uuid, "Error")
            raise
        try:
            self.plumbing.rpc.call(ctx, "attach_interface", server=inst["host"], instance_uuid=uuid,
                                   port_id=port.id)
        except Exception as err:
            objects.finish_action(ctx, uuid, "Error")
            try:
                net.detach_instance_port(owner, uuid, port.id)  # the server never had it
            except Exception:
                LOG.exception("Instance %s: giving back port %s after a failed attach failed", uuid, port.id)
            raise self._host_error(err, "attach", uuid, port.id) from err
        tags = _tags(inst)
        if tag:
            tags = self._set_tag(uuid, port.id, tag)
        objects.finish_action(ctx, uuid)
        return interface_view(port, tags)

    def detach_interface(self, ctx: RequestContext, uuid: str, port_id: str) -> None:
        inst = self._ready(ctx, uuid, "detach_interface")
        net = self._network()
        if not any(p.id == port_id for p in net.instance_ports(ctx, uuid)):
            raise exception.NotFound(f"Port {port_id} is not attached to instance {uuid}.")
        objects.start_action(ctx, uuid, "detach_interface")
        try:
            self.plumbing.rpc.call(ctx, "detach_interface", server=inst["host"], instance_uuid=uuid,
                                   port_id=port_id)
        except Exception as err:
            objects.finish_action(ctx, uuid, "Error")
            raise self._host_error(err, "detach", uuid, port_id) from err
        try:
            net.detach_instance_port(_owner_ctx(ctx, inst), uuid, port_id)
        except Exception:
            objects.finish_action(ctx, uuid, "Error")
            raise
        if port_id in _tags(inst):
            self._set_tag(uuid, port_id, None)
        objects.finish_action(ctx, uuid)

    def add_fixed_ip(self, ctx: RequestContext, uuid: str, network_id: str) -> None:
        self.attach_interface(ctx, uuid, network_id=network_id)

    def remove_fixed_ip(self, ctx: RequestContext, uuid: str, address: str) -> None:
        instance_for(ctx, uuid)
        for port in self._network().instance_ports(ctx, uuid):
            if address in port.addresses():
                # The network contract takes whole ports from a server, not single addresses: an
                # interface holding others too is kept rather than lose them with it.
                if len(port.addresses()) > 1:
                    raise exception.Conflict(
                        f"Fixed IP {address} shares port {port.id} of instance {uuid} with "
                        f"{', '.join(a for a in port.addresses() if a != address)}; detach the port instead.")
                self.detach_interface(ctx, uuid, port.id)
                return
        raise exception.Invalid(reason=f"Instance {uuid} has no interface with fixed IP {address}.")

    @staticmethod
    def _host_error(err: Exception, verb: str, uuid: str, port_id: str) -> Exception:
        """What the API answers when the host failed: its 4xx (wrong state there, not supported) and a timeout as is."""
        if isinstance(err, exception.MessagingTimeout) or (
                isinstance(err, exception.CumuloError) and 400 <= int(err.code) < 500):
            return err
        return InterfaceFailed(verb=verb, port_id=port_id, uuid=uuid, reason=str(err) or type(err).__name__)

    @staticmethod
    def _set_tag(uuid: str, port_id: str, tag: str | None) -> dict[str, str]:
        """Record (or with None, forget) the device tag of an interface; returns every tag of the server."""
        sysmeta = dict(objects.get_instance(uuid, with_tags=False).get("system_metadata") or {})
        tags = {str(k): str(v) for k, v in (sysmeta.get(TAGS_KEY) or {}).items()}
        if tag is None:
            tags.pop(port_id, None)
        else:
            tags[port_id] = tag
        sysmeta[TAGS_KEY] = tags
        objects.update_instance(uuid, {"system_metadata": sysmeta})
        return tags
