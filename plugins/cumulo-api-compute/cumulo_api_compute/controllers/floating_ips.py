"""The floating IP proxy (``/os-floating-ips``, ``/os-floating-ip-pools``, below 2.36) and the
``addFloatingIp`` / ``removeFloatingIp`` server actions (below 2.44), as Nova has them.

Nova forwards these to Neutron; Cumulo calls the network area through its contract
(:class:`cumulo.contracts.network.NetworkService`, 1.3). A pool is an external network (by name,
as Nova shows it); a floating IP is found by address for the server actions.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from cumulo import exception
from cumulo.contracts import network as net
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route, ServerAction
from cumulo_api_compute.views import v

_ADDRESS = {"type": "string", "minLength": 1}
ADD_FLOATING_IP = {"type": "object", "properties": {"address": _ADDRESS, "fixed_address": _ADDRESS},
                   "required": ["address"], "additionalProperties": False}
REMOVE_FLOATING_IP = {"type": "object", "properties": {"address": _ADDRESS}, "required": ["address"],
                      "additionalProperties": False}
ALLOCATE = {"type": ["object", "null"], "properties": {"pool": {"type": ["string", "null"]}}}


def _address(value: str, field: str) -> str:
    """An IP address. :raises ValidationError: not one."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"{value!r} is not an IP address") from None


class FloatingIPsController(Controller):
    """``/os-floating-ips[/{fip_id}]``, ``/os-floating-ip-pools`` and the floating IP server actions."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-floating-ips", self.index),
                ("POST", "/os-floating-ips", self.create),
                ("GET", "/os-floating-ips/{fip_id}", self.show),
                ("DELETE", "/os-floating-ips/{fip_id}", self.delete),
                ("GET", "/os-floating-ip-pools", self.pools)]

    def actions(self) -> dict[str, ServerAction]:
        return {"addFloatingIp": self._add, "removeFloatingIp": self._remove}

    def _net(self, req: Request, rule: str, last: str = "2.35") -> net.NetworkService:
        """The network area for ``rule`` at a microversion up to ``last``.

        :raises Forbidden: the policy refuses.
        :raises NotFound: a later microversion, or no network service.
        """
        self.authorize(req, rule)
        if self.ver(req) > v(last):
            raise exception.NotFound(f"This floating IP API is not available after microversion {last}.")
        try:
            service: net.NetworkService = self.hub.network
        except LookupError:
            raise exception.NotFound("This cloud runs no network service.") from None
        return service

    @staticmethod
    def _pools(service: net.NetworkService, req: Request) -> dict[str, str]:
        """The external networks' names by id."""
        return {n.id: n.name for n in service.network_summaries(req.context) if n.external}

    @staticmethod
    def _view(fip: net.FloatingIP, pools: dict[str, str], service: net.NetworkService,
              req: Request) -> dict[str, Any]:
        return {"id": fip.id, "ip": fip.floating_ip_address, "pool": pools.get(fip.floating_network_id),
                "fixed_ip": fip.fixed_ip_address, "instance_id": FloatingIPsController._server_of(service, req, fip)}

    @staticmethod
    def _server_of(service: net.NetworkService, req: Request, fip: net.FloatingIP) -> str | None:
        """The server a floating IP reaches: the one whose port it is NATed to.

        Found by its fixed address (an administrator's lookup), on the caller's networks one by one
        when projects' networks overlap, and checked against the floating IP's port.
        """
        if not fip.port_id or not fip.fixed_ip_address:
            return None
        admin = req.context.elevated()

        def holds_port(server: str | None) -> bool:
            return bool(server) and any(p.id == fip.port_id for p in service.instance_ports(admin, str(server)))

        server = service.instance_by_address(admin, fip.fixed_ip_address)
        if holds_port(server):
            return server
        for network in service.network_summaries(req.context):
            server = service.instance_by_address(admin, fip.fixed_ip_address, network.id)
            if holds_port(server):
                return server
        return None

    def index(self, req: Request) -> dict[str, Any]:
        service = self._net(req, policies.FLOATING_IPS["list"])
        pools = self._pools(service, req)
        mine = [f for f in service.floating_ips(req.context) if f.project_id == req.context.project_id]
        return {"floating_ips": [self._view(f, pools, service, req) for f in mine]}

    def show(self, req: Request, fip_id: str) -> dict[str, Any]:
        service = self._net(req, policies.FLOATING_IPS["show"])
        fip = service.floating_ip(req.context, fip_id)
        return {"floating_ip": self._view(fip, self._pools(service, req), service, req)}

    def create(self, req: Request) -> dict[str, Any]:
        service = self._net(req, policies.FLOATING_IPS["create"])
        body = validate(req.json_body_or_fault() if req.body else None, ALLOCATE) or {}
        pool = body.get("pool") or None
        try:
            fip = service.allocate_floating_ip(req.context, pool)
        except net.NetworkNotFound:
            raise exception.NotFound(f"Floating IP pool not found: {pool}.") from None
        except net.IpAddressGenerationFailure:
            raise exception.NotFound(f"No more floating IPs in pool {pool}.") from None
        except net.OverQuota as err:
            raise exception.Forbidden(f"Quota exceeded for floating IPs: {err.message}") from None
        return {"floating_ip": self._view(fip, self._pools(service, req), service, req)}

    def delete(self, req: Request, fip_id: str) -> Any:
        service = self._net(req, policies.FLOATING_IPS["delete"])
        service.release_floating_ip(req.context, fip_id)
        return 202, None

    def pools(self, req: Request) -> dict[str, Any]:
        service = self._net(req, policies.FLOATING_IP_POOLS)
        return {"floating_ip_pools": [{"name": name} for name in self._pools(service, req).values()]}

    # -- server actions

    def _by_address(self, service: net.NetworkService, req: Request, address: str) -> net.FloatingIP:
        """The caller's floating IP with ``address``. :raises NotFound: none."""
        for fip in service.floating_ips(req.context):
            if fip.floating_ip_address == address and fip.project_id == req.context.project_id:
                return fip
        raise exception.NotFound(f"Floating IP not found for address {address}.")

    def _add(self, req: Request, sid: str, arg: Any) -> Any:
        service = self._net(req, policies.FLOATING_IPS["add"], "2.43")
        validate(arg, ADD_FLOATING_IP)
        address = _address(arg["address"], "address")
        fixed = _address(arg["fixed_address"], "fixed_address") if arg.get("fixed_address") else None
        self.compute.get_server(req.context, sid)  # 404 for a server the caller cannot see
        fip = self._by_address(service, req, address)
        ports = [p for p in service.instance_ports(req.context, sid) if p.addresses(4)]
        if not ports:
            raise exception.Invalid(reason=f"Instance {sid} has no fixed IPv4 address to associate.")
        if fixed is not None:
            ports = [p for p in ports if fixed in p.addresses(4)]
            if not ports:
                raise exception.Invalid(reason=f"Specified fixed address {fixed} not assigned to instance.")
        try:
            service.associate_floating_ip(req.context, fip.id, ports[0].id, fixed)
        except (exception.Conflict, net.BadRequest, net.ExternalGatewayForFloatingIPNotFound) as err:
            # Nova: the association failed (another floating IP on that address, no route to the pool).
            raise exception.Invalid(reason=f"Unable to associate floating IP {address} to any fixed IPs for "
                                           f"instance {sid}: {err.message}") from None
        return 202, None

    def _remove(self, req: Request, sid: str, arg: Any) -> Any:
        service = self._net(req, policies.FLOATING_IPS["remove"], "2.43")
        validate(arg, REMOVE_FLOATING_IP)
        address = _address(arg["address"], "address")
        self.compute.get_server(req.context, sid)
        fip = self._by_address(service, req, address)
        ports = {p.id for p in service.instance_ports(req.context, sid)}
        if fip.port_id is None or fip.port_id not in ports:
            raise exception.Conflict(f"Floating IP {address} is not associated with instance {sid}.")
        service.disassociate_floating_ip(req.context, fip.id)
        return 202, None
