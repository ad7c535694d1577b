"""A Linux bridge per network in the host namespace, with the network's uplink.

What a network's bridge holds besides its ports' taps, by network type:

- ``flat``: the physical interface its physical network is mapped to;
- ``vlan``: the VLAN subinterface ``<interface>.<vid>`` of that interface;
- ``vxlan``: the VXLAN device ``vxlan-<vni>`` (with ``vxlan_local_ip``; one
  all-zeros FDB entry per peer, so broadcasts reach every peer: head-end
  replication), else nothing (a bridge local to this host);
- ``local``, or a physical network with no mapping: nothing.

An external network without a mapping also gets a veth whose outside end
(``cxg<id>``, in ``outside_ns``) holds each subnet's gateway address: that is
where the outside reaches floating IPs from and where routers' default routes
lead. Every method is idempotent.
"""

from __future__ import annotations

import errno
from collections.abc import Mapping, Sequence
from typing import Any

from pyroute2.netlink.exceptions import NetlinkError

from cumulo.interfaces.network import NetworkDriverError
from cumulo.interfaces.network.records import Network
from cumulo_network_linux import names, netns

ZERO_MAC = "00:00:00:00:00:00"
#: Uplinks this module makes (and so deletes); a physical interface is only released with its bridge.
OWN_UPLINK_KINDS = ("vxlan", "vlan")
#: The bridge end of an external network's gateway veth: a "tap" named from ``gw`` + the network id.
GATEWAY_PORT_PREFIX = "gw"


def gateway_tap(network_id: str) -> str:
    """The bridge end of the outside veth of an external network (``tapgw`` + 9 id characters)."""
    return names.tap(GATEWAY_PORT_PREFIX + network_id)


def vlan_device(interface: str, vid: int) -> str:
    """``<interface>.<vid>``, the interface part cut so the name fits in 15 characters."""
    suffix = f".{vid}"
    return interface[:names.IFNAME_MAX - len(suffix)] + suffix


def _kind(link: Any) -> str | None:
    kind = link.get(("linkinfo", "kind"))
    return str(kind) if kind else None


def _present(namespace: str | None) -> bool:
    """Whether ``namespace`` exists (a pyroute2 handle on a missing one would make it)."""
    return namespace is None or netns.exists(namespace)


def _same_ns(a: str | None, b: str | None) -> bool:
    return (a or None) == (b or None)


class Bridges:
    """The bridges of networks in ``host_ns`` (None: this process's namespace).

    ``physical_mappings`` maps a physical network to an interface in
    ``host_ns``; ``outside_ns`` is where unmapped external networks' gateway
    veths end (None: this process's namespace); ``vxlan_local_ip``,
    ``vxlan_peers`` and ``vxlan_port`` make VXLAN networks span hosts.
    """

    def __init__(self, host_ns: str | None, physical_mappings: Mapping[str, str], outside_ns: str | None,
                 vxlan_local_ip: str | None = None, vxlan_peers: Sequence[str] = (), vxlan_port: int = 4789) -> None:
        self.host_ns = host_ns or None
        self.physical_mappings = dict(physical_mappings)
        self.outside_ns = outside_ns or None
        self.vxlan_local_ip = vxlan_local_ip or None
        self.vxlan_peers = tuple(vxlan_peers)
        self.vxlan_port = vxlan_port

    # -- the interface the driver calls ----------------------------------------------------------

    def ensure(self, network: Network) -> str:
        """Make ``network``'s bridge (up, its MTU, no STP, forward delay 0) and uplink; return the bridge's name.

        :raises NetworkDriverError: an unknown network type, a mapped interface
            that does not exist, a VLAN network on a kernel without 802.1Q, or
            a link the kernel refuses.
        """
        if network.network_type not in ("flat", "vlan", "vxlan", "local"):
            raise NetworkDriverError(f"network {network.id}: network type {network.network_type!r} is not "
                                     "supported by linuxbridge (flat, vlan, vxlan, local)")
        if self.host_ns:
            netns.ensure(self.host_ns)
        bridge = names.bridge(network.id)
        interface = self.physical_mappings.get(network.physical_network or "")
        with netns.route(self.host_ns) as ipr:
            bridge_index = self._ensure_bridge(ipr, bridge, network.mtu)
            uplink: str | None = None
            if network.network_type == "flat" and interface:
                uplink = interface
                self._require(ipr, interface, network)
            elif network.network_type == "vlan" and interface:
                uplink = self._ensure_vlan(ipr, interface, network)
            elif network.network_type == "vxlan" and self.vxlan_local_ip:
                uplink = self._ensure_vxlan(ipr, network)
            self._drop_stale_uplinks(ipr, bridge_index, uplink)
            if uplink is not None:
                self._enslave(ipr, uplink, bridge_index, network.mtu if uplink != interface else None)
        if network.external and interface is None:
            self._ensure_outside(network, bridge_index)
        else:  # no longer external, or mapped now: the outside goes through the uplink
            self._remove_outside(network.id)
        return bridge

    def remove(self, network_id: str) -> None:
        """Delete the bridge of ``network_id`` (a full id or its 11-character prefix), its VXLAN/VLAN device and outside veth."""
        self._remove_outside(network_id)
        if not _present(self.host_ns):
            return
        bridge = names.bridge(network_id)
        with netns.route(self.host_ns) as ipr:
            bridge_index = netns.link_index(ipr, bridge)
            if bridge_index is not None:
                for link in ipr.get_links():
                    if link.get("master") == bridge_index and _kind(link) in OWN_UPLINK_KINDS:
                        self._delete(ipr, link["index"])
                self._delete(ipr, bridge_index)

    def managed(self) -> set[str]:
        """The 11-character network id prefixes of the bridges in the host namespace."""
        found: set[str] = set()
        if not _present(self.host_ns):
            return found
        with netns.route(self.host_ns) as ipr:
            for link in ipr.get_links():
                prefix = names.id_prefix(str(link.get("ifname")), names.BRIDGE_PREFIX)
                if prefix is not None and _kind(link) == "bridge":
                    found.add(prefix)
        return found

    def attach(self, ifname: str, network_id: str) -> None:
        """Plug the existing device ``ifname`` (a hypervisor's tap) into the bridge of ``network_id``, up, at its MTU.

        :raises NetworkDriverError: the device or the bridge does not exist.
        """
        bridge = names.bridge(network_id)
        with netns.route(self.host_ns) as ipr:
            bridge_index = netns.link_index(ipr, bridge)
            if bridge_index is None:
                raise NetworkDriverError(f"bridge {bridge} of network {network_id} does not exist")
            if netns.link_index(ipr, ifname) is None:
                raise NetworkDriverError(f"device {ifname} does not exist in namespace {self.host_ns or '(own)'}")
            self._enslave(ipr, ifname, bridge_index, ipr.get_links(bridge_index)[0].get("mtu"))

    # -- pieces ---------------------------------------------------------------------------------------

    def _ensure_bridge(self, ipr: Any, bridge: str, mtu: int) -> int:
        index = netns.link_index(ipr, bridge)
        if index is None:
            try:
                ipr.link("add", ifname=bridge, kind="bridge", br_stp_state=0, br_forward_delay=0, mtu=mtu)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise NetworkDriverError(f"cannot make bridge {bridge}: {err}") from err
            index = netns.link_index(ipr, bridge)
            if index is None:
                raise NetworkDriverError(f"bridge {bridge} did not appear")
        ipr.link("set", index=index, kind="bridge", br_stp_state=0, br_forward_delay=0)
        ipr.link("set", index=index, mtu=mtu, state="up")
        return int(index)

    def _require(self, ipr: Any, interface: str, network: Network) -> int:
        index = netns.link_index(ipr, interface)
        if index is None:
            raise NetworkDriverError(f"network {network.id}: interface {interface} of physical network "
                                     f"{network.physical_network} does not exist in namespace "
                                     f"{self.host_ns or '(own)'}")
        return int(index)

    def _ensure_vlan(self, ipr: Any, interface: str, network: Network) -> str:
        if network.segmentation_id is None:
            raise NetworkDriverError(f"network {network.id}: a vlan network needs a segmentation id")
        parent = self._require(ipr, interface, network)
        device = vlan_device(interface, network.segmentation_id)
        if netns.link_index(ipr, device) is None:
            try:
                ipr.link("add", ifname=device, kind="vlan", link=parent, vlan_id=network.segmentation_id,
                         mtu=network.mtu)
            except NetlinkError as err:
                if err.code == errno.EOPNOTSUPP:
                    raise NetworkDriverError(
                        f"network {network.id}: cannot make VLAN device {device}: this kernel has no 802.1Q "
                        "VLAN support (CONFIG_VLAN_8021Q is not set); use flat or vxlan networks") from err
                if err.code != errno.EEXIST:
                    raise NetworkDriverError(f"network {network.id}: cannot make VLAN device {device}: {err}") from err
        ipr.link("set", index=parent, state="up")
        return device

    def _ensure_vxlan(self, ipr: Any, network: Network) -> str:
        if network.segmentation_id is None:
            raise NetworkDriverError(f"network {network.id}: a vxlan network needs a segmentation id (VNI)")
        device = names.vxlan(network.segmentation_id)
        index = netns.link_index(ipr, device)
        if index is not None:
            data = ipr.get_links(index)[0]
            if (data.get(("linkinfo", "data", "vxlan_local")) != self.vxlan_local_ip
                    or data.get(("linkinfo", "data", "vxlan_port")) != self.vxlan_port
                    or data.get(("linkinfo", "data", "vxlan_id")) != network.segmentation_id):
                self._delete(ipr, index)  # made with another configuration: made again below
                index = None
        if index is None:
            try:
                ipr.link("add", ifname=device, kind="vxlan", vxlan_id=network.segmentation_id,
                         vxlan_local=self.vxlan_local_ip, vxlan_port=self.vxlan_port, vxlan_learning=1,
                         mtu=network.mtu)
            except NetlinkError as err:
                raise NetworkDriverError(f"network {network.id}: cannot make VXLAN device {device}: {err}") from err
            index = netns.link_index(ipr, device)
            if index is None:
                raise NetworkDriverError(f"network {network.id}: VXLAN device {device} did not appear")
        self._sync_flood_entries(ipr, int(index))
        return device

    def _sync_flood_entries(self, ipr: Any, index: int) -> None:
        """Exactly one all-zeros FDB entry per configured peer: broadcast and unknown unicast go to each."""
        have = {str(entry.get("dst")) for entry in ipr.fdb("dump", ifindex=index)
                if entry.get("ifindex") == index and entry.get("lladdr") == ZERO_MAC and entry.get("dst")}
        for peer in have - set(self.vxlan_peers):
            try:
                ipr.fdb("del", ifindex=index, lladdr=ZERO_MAC, dst=peer)
            except NetlinkError as err:
                if err.code != errno.ENOENT:
                    raise NetworkDriverError(f"cannot remove VXLAN peer {peer}: {err}") from err
        for peer in sorted(set(self.vxlan_peers) - have):
            try:
                ipr.fdb("append", ifindex=index, lladdr=ZERO_MAC, dst=peer)
            except NetlinkError as err:
                if err.code != errno.EEXIST:
                    raise NetworkDriverError(f"cannot add VXLAN peer {peer}: {err}") from err

    def _drop_stale_uplinks(self, ipr: Any, bridge_index: int, uplink: str | None) -> None:
        """Delete VXLAN/VLAN devices on the bridge that are not its uplink now (a changed VNI or mapping)."""
        for link in ipr.get_links():
            if (link.get("master") == bridge_index and _kind(link) in OWN_UPLINK_KINDS
                    and link.get("ifname") != uplink):
                self._delete(ipr, link["index"])

    def _enslave(self, ipr: Any, ifname: str, bridge_index: int, mtu: int | None) -> None:
        index = netns.link_index(ipr, ifname)
        if index is None:
            raise NetworkDriverError(f"device {ifname} does not exist in namespace {self.host_ns or '(own)'}")
        settings: dict[str, Any] = {"master": bridge_index, "state": "up"}
        if mtu is not None:
            settings["mtu"] = mtu
        try:
            ipr.link("set", index=index, **settings)
        except NetlinkError as err:
            raise NetworkDriverError(f"cannot plug {ifname} into its bridge: {err}") from err

    def _ensure_outside(self, network: Network, bridge_index: int) -> None:
        """The veth from the bridge into the outside namespace, its outside end holding the subnets' gateways."""
        outside, tap = names.outside(network.id), gateway_tap(network.id)
        if self.outside_ns:
            netns.ensure(self.outside_ns)
        with netns.route(self.host_ns) as ipr, netns.route(self.outside_ns) as out:
            present = netns.link_index(ipr, tap) is not None and netns.link_index(out, outside) is not None
        if not present:
            netns.delete_link(self.host_ns, tap)
            netns.delete_link(self.outside_ns, outside)
            self._make_outside_veth(tap, outside, network.mtu)
        with netns.route(self.host_ns) as ipr:
            self._enslave(ipr, tap, bridge_index, network.mtu)
        with netns.route(self.outside_ns) as out:
            index = netns.link_index(out, outside)
            if index is None:
                raise NetworkDriverError(f"veth end {outside} did not appear in namespace {self.outside_ns or '(own)'}")
            out.link("set", index=index, mtu=network.mtu, state="up")
            netns.set_addresses(out, index, [(s.gateway_ip, s.prefixlen) for s in network.subnets if s.gateway_ip])

    def _remove_outside(self, network_id: str) -> None:
        if _present(self.outside_ns):
            netns.delete_link(self.outside_ns, names.outside(network_id))
        if _present(self.host_ns):
            netns.delete_link(self.host_ns, gateway_tap(network_id))

    def _make_outside_veth(self, tap: str, outside: str, mtu: int) -> None:
        # A veth is made in one namespace and its peer moved to another by name, so make it
        # where the other end's namespace has a name (this process's own has none).
        if _same_ns(self.host_ns, self.outside_ns):
            where, ifname, peer = self.host_ns, tap, {"ifname": outside, "mtu": mtu}
        elif self.host_ns:
            where, ifname, peer = self.outside_ns, outside, {"ifname": tap, "mtu": mtu, "net_ns_fd": self.host_ns}
        else:
            where, ifname, peer = self.host_ns, tap, {"ifname": outside, "mtu": mtu, "net_ns_fd": self.outside_ns}
        with netns.route(where) as ipr:
            try:
                ipr.link("add", ifname=ifname, kind="veth", mtu=mtu, peer=peer)
            except NetlinkError as err:
                raise NetworkDriverError(f"cannot make the outside veth {tap}/{outside}: {err}") from err

    @staticmethod
    def _delete(ipr: Any, index: int) -> None:
        try:
            ipr.link("del", index=index)
        except NetlinkError as err:
            if err.code != errno.ENODEV:
                raise NetworkDriverError(f"cannot delete link {index}: {err}") from err
