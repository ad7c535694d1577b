"""Network driver ``linuxbridge`` (NetworkDriver 3.1): the model, realised on this Linux host.

The driver keeps the last record of every resource (rebuilt by :meth:`sync`
when the area starts) and turns each change into calls on its parts, each the
one place for its kind of thing: :mod:`.bridges` (a bridge per network),
:mod:`.dhcp` (dnsmasq per network), :mod:`.routers` (namespaces and NAT),
:mod:`.firewall` (security groups, one nftables ruleset re-rendered whole),
:mod:`.metadata_proxy` (169.254.169.254 in router and DHCP namespaces). One
lock serialises the changes: a change re-renders what it touches from the
records, so concurrent requests cannot interleave half-applied state.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterable
from typing import ClassVar

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.network import (
    VIF_TYPE_BRIDGE,
    Action,
    FloatingIP,
    Model,
    Network,
    NetworkDriver,
    NetworkDriverError,
    Port,
    Router,
    SecurityGroup,
    VifBinding,
)
from cumulo.utils import metadata_proxy as proxy_auth
from cumulo_network_linux import names, netns, opts
from cumulo_network_linux.bridges import Bridges
from cumulo_network_linux.dhcp import DhcpServers
from cumulo_network_linux.firewall import Firewall
from cumulo_network_linux.metadata_proxy import InstanceRef, MetadataProxies
from cumulo_network_linux.routers import Routers

LOG = logging.getLogger(__name__)

METADATA_ADDRESS = "169.254.169.254"
COMPUTE_OWNER_PREFIX = "compute:"


def _mappings(values: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        physnet, sep, iface = item.partition(":")
        if not sep or not physnet.strip() or not iface.strip():
            raise ValueError(f"'{item}' is not physical_network:interface")
        out[physnet.strip()] = iface.strip()
    return out


def dhcp_state_dir(state_path: str) -> str:
    """Where the DHCP servers of the data plane of ``state_path`` keep their files (a directory per network)."""
    return os.path.join(state_path, "network-linux", "dhcp")


def routers_state_dir(state_path: str) -> str:
    """Where the routers the data plane of ``state_path`` made are recorded (a file per router)."""
    return os.path.join(state_path, "network-linux", "routers")


def owned_namespaces(state_path: str) -> set[str]:
    """The ``qdhcp-``/``qrouter-`` namespaces the data plane of ``state_path`` made (its records say which)."""
    found: set[str] = set()
    for directory, namespace in ((dhcp_state_dir(state_path), names.dhcp_namespace),
                                 (routers_state_dir(state_path), names.router_namespace)):
        if os.path.isdir(directory):
            found.update(namespace(resource_id) for resource_id in os.listdir(directory))
    return found


class LinuxBridgeDriver(NetworkDriver):
    """Bridges, VXLAN, dnsmasq, router namespaces with nftables NAT, security groups, metadata proxies."""

    interface_version = "3.2"
    supported_network_types = frozenset({"flat", "vlan", "local", "vxlan"})
    dhcp_ports: ClassVar[bool] = True

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        group = conf[opts.GROUP]
        problems = []
        if os.geteuid() != 0:
            problems.append("[network] driver = linuxbridge needs root (it makes bridges, namespaces and rules)")
        for option in ("nft_binary", "dnsmasq_binary"):
            if not shutil.which(group[option], path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
                problems.append(f"[{opts.GROUP}] {option} = {group[option]} is not installed "
                                "(tools/system-packages.sh installs nftables and dnsmasq-base)")
        try:
            _mappings(group.physical_interface_mappings)
        except ValueError as err:
            problems.append(f"[{opts.GROUP}] physical_interface_mappings: {err}")
        return problems

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        group = self.conf[opts.GROUP]
        self.bound_hosts = frozenset(group.bound_hosts)
        host_ns = group.host_namespace or None
        self.host_namespace = host_ns
        self._lock = threading.RLock()
        self.networks: dict[str, Network] = {}
        self.ports: dict[str, Port] = {}
        self.routers: dict[str, Router] = {}
        self.floating_ips: dict[str, FloatingIP] = {}
        self.groups: dict[str, SecurityGroup] = {}
        self.bridges = Bridges(host_ns, _mappings(group.physical_interface_mappings), group.outside_namespace or None,
                               vxlan_local_ip=group.vxlan_local_ip or None, vxlan_peers=group.vxlan_peers,
                               vxlan_port=group.vxlan_port)
        state_dir = dhcp_state_dir(self.conf.state_path)
        # [metadata] proxy_shared_secret, or one generated into the state path the metadata service reads too.
        secret = proxy_auth.shared_secret(self.conf, create=group.metadata_proxy) if group.metadata_proxy else ""
        self.metadata_enabled = bool(secret)
        self.dhcp = DhcpServers(state_dir, host_ns, dnsmasq=group.dnsmasq_binary, lease_time=group.dhcp_lease_time,
                                dns_servers=group.dns_servers, metadata=self.metadata_enabled,
                                metadata_address=METADATA_ADDRESS)
        self.routers_dp = Routers(host_ns, nft_binary=group.nft_binary,
                                  metadata_address=METADATA_ADDRESS if self.metadata_enabled else None,
                                  state_dir=routers_state_dir(self.conf.state_path))
        self.firewall = Firewall(host_ns, nft_binary=group.nft_binary)
        upstream = group.metadata_url or self._local_metadata_url()
        self.metadata = MetadataProxies(upstream, secret, self._who_asks, address=METADATA_ADDRESS)
        self._supervisor: threading.Thread | None = None
        self._stop = threading.Event()

    def agent_roles(self) -> tuple[str, ...]:
        """Bridges (L2), dnsmasq (DHCP), router namespaces (L3), and the metadata proxies when enabled."""
        return ("l2", "dhcp", "l3") + (("metadata",) if self.metadata_enabled else ())

    def _local_metadata_url(self) -> str:
        """This process's API server's metadata service (its address, or loopback when it listens on all).

        At ``/metadata`` with the ``metadata`` frontend, else where the compute frontend mounts it.
        """
        host = self.conf.api.bind_host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"
        path = "/metadata" if "metadata" in self.conf.api.frontends else "/compute/metadata"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.conf.api.port}{path}"

    # -- the NetworkDriver interface -------------------------------------------------------------
    def network_changed(self, action: Action, network: Network) -> None:
        with self._lock:
            if action == "delete":
                self.networks.pop(network.id, None)
                self._forget_dhcp(network.id)
                self.bridges.remove(network.id)
                return
            self.networks[network.id] = network
            self._realise_network(network)

    def port_changed(self, action: Action, port: Port) -> None:
        with self._lock:
            previous = self.ports.pop(port.id, None)
            if action != "delete":
                self.ports[port.id] = port
            # Unbound or deleted: a tap still on the bridge goes (the hypervisor normally removed it already;
            # one left by a crash would otherwise stay plugged into the network).
            was_here = previous is not None and self._plugged_here(previous)
            if was_here and (action == "delete" or not self._plugged_here(port)):
                self._unplug(port)
            for network_id in {port.network_id} | ({previous.network_id} if previous else set()):
                network = self.networks.get(network_id)
                if network is not None:
                    self._realise_dhcp(network)
            self._apply_firewall()

    def router_changed(self, action: Action, router: Router) -> None:
        with self._lock:
            if action == "delete":
                self.routers.pop(router.id, None)
                self._forget_router(router.id)
                return
            self.routers[router.id] = router
            self._realise_router(router)

    def floatingip_changed(self, action: Action, fip: FloatingIP) -> None:
        # The NAT is realised with its router: router_changed arrives with every floating IP it NATs.
        with self._lock:
            if action == "delete":
                self.floating_ips.pop(fip.id, None)
            else:
                self.floating_ips[fip.id] = fip

    def security_group_changed(self, action: Action, group: SecurityGroup) -> None:
        with self._lock:
            if action == "delete":
                self.groups.pop(group.id, None)
            else:
                self.groups[group.id] = group
            self._apply_firewall()

    def sync(self, model: Model) -> None:
        """Rebuild everything from ``model``, remove what it no longer has, then supervise the daemons."""
        with self._lock:
            self.networks = {n.id: n for n in model.networks}
            self.ports = {p.id: p for p in model.ports}
            self.routers = {r.id: r for r in model.routers}
            self.floating_ips = {f.id: f for f in model.floating_ips}
            self.groups = {g.id: g for g in model.security_groups}
            failures: list[str] = []
            for network in model.networks:
                self._collect(failures, f"network {network.id}", self._realise_network, network)
            for router in model.routers:
                self._collect(failures, f"router {router.id}", self._realise_router, router)
            self._collect(failures, "security groups", self._apply_firewall)
            self._remove_strays()
        self._start_supervisor()
        if failures:
            raise NetworkDriverError("sync: " + "; ".join(failures))

    def port_binding_vif(self, port: Port, host: str) -> VifBinding:
        return VifBinding(vif_type=VIF_TYPE_BRIDGE, details={
            "bridge_name": names.bridge(port.network_id), "devname": names.tap(port.id),
            "port_filter": True, "connectivity": "l2"})

    # -- what each change realises -----------------------------------------------------------------
    @staticmethod
    def _collect(failures: list[str], what: str, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception as err:  # one broken resource must not stop the rest of a sync
            LOG.exception("linuxbridge: sync of %s failed", what)
            failures.append(f"{what}: {err}")

    def _realise_network(self, network: Network) -> None:
        self.bridges.ensure(network)
        self._realise_dhcp(network)

    def _realise_dhcp(self, network: Network) -> None:
        if network.dhcp_port is None or not any(s.enable_dhcp for s in network.subnets):
            self._forget_dhcp(network.id)
            return
        ports = [p for p in self.ports.values() if p.network_id == network.id and p.id != network.dhcp_port.id]
        self.dhcp.ensure(network, network.dhcp_port, ports)
        if self.metadata_enabled:
            self.metadata.ensure(names.dhcp_namespace(network.id))

    def _forget_dhcp(self, network_id: str) -> None:
        self.metadata.remove(names.dhcp_namespace(network_id))
        self.dhcp.remove(network_id)

    def _realise_router(self, router: Router) -> None:
        self.routers_dp.ensure(router, self.networks)
        if self.metadata_enabled and router.interfaces:
            self.metadata.ensure(names.router_namespace(router.id))
        else:
            self.metadata.remove(names.router_namespace(router.id))

    def _forget_router(self, router_id: str) -> None:
        self.metadata.remove(names.router_namespace(router_id))
        self.routers_dp.remove(router_id)

    def _plugged_here(self, port: Port) -> bool:
        """A server's port bound to a host of this machine: its tap is on a bridge here, filtered by its groups."""
        return (port.device_owner.startswith(COMPUTE_OWNER_PREFIX) and bool(port.host)
                and (not self.bound_hosts or port.host in self.bound_hosts))

    def _unplug(self, port: Port) -> None:
        netns.delete_link(self.host_namespace, names.tap(port.id))

    def _apply_firewall(self) -> None:
        filtered = [p for p in self.ports.values() if self._plugged_here(p)]
        self.firewall.apply(filtered, self.groups, list(self.ports.values()))

    def _remove_strays(self) -> None:
        """Remove bridges, DHCP servers and routers this host has but the model does not."""
        known_networks = {names.bridge(n) for n in self.networks}
        for prefix in self.bridges.managed():
            if names.bridge(prefix) not in known_networks:
                LOG.info("linuxbridge: removing the bridge of network %s*, gone from the model", prefix)
                self.bridges.remove(prefix)
        for network_id in self.dhcp.managed() - {n.id for n in self.networks.values() if n.dhcp_port}:
            self._forget_dhcp(network_id)
        for router_id in self.routers_dp.managed() - set(self.routers):
            LOG.info("linuxbridge: removing router namespace %s, gone from the model", router_id)
            self._forget_router(router_id)

    # -- the metadata proxies' question: who is asking? ------------------------------------------------
    def _who_asks(self, namespace: str, address: str) -> InstanceRef | None:
        with self._lock:
            if (network_id := names.id_prefix(namespace, names.DHCP_NS_PREFIX)) is not None:
                networks = {network_id}
            elif (router_id := names.id_prefix(namespace, names.ROUTER_NS_PREFIX)) in self.routers:
                networks = {i.network_id for i in self.routers[router_id].interfaces}
            else:
                return None
            for port in self.ports.values():
                if (port.network_id in networks and port.device_owner.startswith(COMPUTE_OWNER_PREFIX)
                        and port.device_id and address in port.addresses()):
                    return InstanceRef(instance_id=port.device_id, project_id=port.project_id)
        return None

    # -- supervision -------------------------------------------------------------------------------
    def _start_supervisor(self) -> None:
        if self._supervisor is not None and self._supervisor.is_alive():
            return
        interval = self.conf[opts.GROUP].supervise_interval
        self._supervisor = threading.Thread(target=self._supervise, args=(interval,),
                                            name="linuxbridge-supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                with self._lock:
                    restarted = self.dhcp.supervise()
                    lost = self._proxied_namespaces() - self.metadata.running() if self.metadata_enabled else set()
                    for namespace in sorted(lost):
                        self.metadata.ensure(namespace)
                for network_id in restarted:
                    LOG.warning("linuxbridge: dnsmasq of network %s had died; restarted", network_id)
                for namespace in sorted(lost):
                    LOG.warning("linuxbridge: the metadata proxy of %s had stopped; restarted", namespace)
            except Exception:  # the supervisor must outlive one bad check
                LOG.exception("linuxbridge: supervision failed")

    def _proxied_namespaces(self) -> set[str]:
        """The namespaces that serve metadata: each DHCP one, each router's with interfaces (that exist)."""
        wanted = {names.dhcp_namespace(n.id) for n in self.networks.values()
                  if n.dhcp_port is not None and any(s.enable_dhcp for s in n.subnets)}
        wanted |= {names.router_namespace(r.id) for r in self.routers.values() if r.interfaces}
        return {ns for ns in wanted if netns.exists(ns)}

    def close(self) -> None:
        """Stop supervising and serving metadata (the data plane itself stays: traffic keeps flowing)."""
        self._stop.set()
        self.metadata.close()
