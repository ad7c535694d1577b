"""The ``network:dhcp`` port of each network, for a driver that serves DHCP from one (NetworkDriver 3.1).

Neutron's DHCP agent holds a port with an address on every DHCP subnet of its
network; clients see it in port lists and IPAM never hands its addresses out.
:func:`reconcile` keeps exactly that, in the transaction that changed the
subnets, when the driver asks for it (``dhcp_ports``). A leaf module: models,
:mod:`.common` and :mod:`.ipam` only.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.ipam as ipam
import cumulo_service_network.models as models
from cumulo.interfaces.network import NetworkDriver


def _serves(sub: models.Subnet) -> bool:
    """Whether a DHCP server needs an address on ``sub`` (SLAAC-only subnets are served by RA)."""
    return bool(sub.enable_dhcp) and not (sub.ip_version == 6 and sub.ipv6_address_mode == "slaac")


def reconcile(s: orm.Session, driver: NetworkDriver, network_id: str) -> None:
    """Make the network's DHCP port match its DHCP subnets (made, given addresses, or deleted).

    Nothing for a driver without ``dhcp_ports``.

    :raises IpAddressGenerationFailure: a DHCP subnet has no free address for the port.
    """
    if not driver.dhcp_ports:
        return
    net = s.get(models.Network, network_id)
    subnets = [] if net is None else [sub for sub in s.execute(
        sa.select(models.Subnet).where(models.Subnet.network_id == network_id)).scalars() if _serves(sub)]
    port = s.execute(sa.select(models.Port).where(models.Port.network_id == network_id,
                                                  models.Port.device_owner == c.DEVICE_OWNER_DHCP)).scalar()
    if not subnets:
        if port is not None:
            s.delete(port)
        return
    assert net is not None
    if port is None:
        port = models.Port(project_id=net.project_id, network_id=net.id, name="", description="",
                           mac_address=c.random_mac(), admin_state_up=True, status="ACTIVE",
                           device_id=f"dhcp-{net.id}", device_owner=c.DEVICE_OWNER_DHCP, binding_host_id="",
                           binding_profile={}, binding_vnic_type="normal", port_security_enabled=False,
                           allowed_address_pairs=[], revision_number=0, created_for_instance=False)
        s.add(port)
        s.flush()
    held = {a.subnet_id: a for a in s.execute(
        sa.select(models.IPAllocation).where(models.IPAllocation.port_id == port.id)).scalars()}
    wanted = {sub.id for sub in subnets}
    for subnet_id, allocation in held.items():
        if subnet_id not in wanted:
            s.delete(allocation)
    for sub in subnets:
        if sub.id not in held:
            if sub.ip_version == 6 and sub.ipv6_address_mode == "dhcpv6-stateless":
                ipam.allocate_specific(s, port.id, sub, ipam.eui64(sub, port.mac_address))
            elif not ipam.allocate_any(s, port.id, sub):
                raise nexc.IpAddressGenerationFailure(net_id=net.id)
    s.flush()
