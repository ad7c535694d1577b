"""Network driver ``noop``: realises nothing, remembers everything (NetworkDriver 3.0).

It keeps the last record of every resource it was told about (``model``, by
kind and id) and the list of calls it received (``calls``), so tests can check
that the network service calls the driver for every change, and so the
all-in-one cloud runs without touching the host's networking.
"""

from __future__ import annotations

import threading
from typing import Literal, TypeAlias

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.network import (
    ACTIONS,
    Action,
    FloatingIP,
    Model,
    Network,
    NetworkDriver,
    Port,
    Router,
    SecurityGroup,
    VifBinding,
)

#: The keys of :attr:`NoopDriver.model`, one per resource kind.
Kind: TypeAlias = Literal["networks", "ports", "routers", "floating_ips", "security_groups"]
Record: TypeAlias = Network | Port | Router | FloatingIP | SecurityGroup

_KINDS: dict[str, Kind] = {"network_changed": "networks", "port_changed": "ports", "router_changed": "routers",
                           "floatingip_changed": "floating_ips", "security_group_changed": "security_groups"}


class NoopDriver(NetworkDriver):
    """Keeps the model only; records calls (``calls``: ``[(method, action, id)]``).

    ``model[kind][id]`` is the last record received (records are frozen, so
    they are kept as they are, not copied).
    """

    interface_version = "3.0"
    supported_network_types = frozenset({"flat", "vlan", "local", "vxlan"})

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str, str]] = []
        self.model: dict[Kind, dict[str, Record]] = {kind: {} for kind in _KINDS.values()}
        self.synced = 0

    def _record(self, method: str, action: Action, record: Record) -> None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        with self._lock:
            self.calls.append((method, action, record.id))
            table = self.model[_KINDS[method]]
            if action == "delete":
                table.pop(record.id, None)
            else:
                table[record.id] = record

    def calls_for(self, resource_id: str) -> list[tuple[str, str]]:
        """``[(method, action)]`` received for one resource, in order."""
        with self._lock:
            return [(m, a) for m, a, rid in self.calls if rid == resource_id]

    def network_changed(self, action: Action, network: Network) -> None:
        """Remember the network (with its subnets)."""
        self._record("network_changed", action, network)

    def port_changed(self, action: Action, port: Port) -> None:
        """Remember the port."""
        self._record("port_changed", action, port)

    def router_changed(self, action: Action, router: Router) -> None:
        """Remember the router."""
        self._record("router_changed", action, router)

    def floatingip_changed(self, action: Action, fip: FloatingIP) -> None:
        """Remember the floating IP."""
        self._record("floatingip_changed", action, fip)

    def security_group_changed(self, action: Action, group: SecurityGroup) -> None:
        """Remember the group."""
        self._record("security_group_changed", action, group)

    def sync(self, model: Model) -> None:
        """Replace everything remembered with ``model``."""
        tables: dict[Kind, tuple[Record, ...]] = {
            "networks": model.networks, "ports": model.ports, "routers": model.routers,
            "floating_ips": model.floating_ips, "security_groups": model.security_groups}
        with self._lock:
            self.synced += 1
            for kind, records in tables.items():
                self.model[kind] = {r.id: r for r in records}

    def port_binding_vif(self, port: Port, host: str) -> VifBinding:
        """``other`` with ``{"driver": "noop"}``: nothing is plugged by this driver."""
        return VifBinding(vif_type="other", details={"driver": "noop"})
