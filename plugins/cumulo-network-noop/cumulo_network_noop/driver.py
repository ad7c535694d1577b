"""Network driver ``noop``: realises nothing, remembers everything.

It keeps the last state of every resource it was told about (``model``) and
the list of calls it received (``calls``), so tests can check that the network
service calls the driver for every change, and so the all-in-one cloud runs
without touching the host's networking.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.network import NetworkDriver, Resource

_KINDS = {"network_changed": "networks", "port_changed": "ports", "router_changed": "routers",
          "floatingip_changed": "floatingips", "security_group_changed": "security_groups"}


class NoopDriver(NetworkDriver):
    """Keeps the model only; records calls (``calls``: ``[(method, action, id)]``)."""

    interface_version = "2.0"
    supported_network_types = frozenset({"flat", "vlan", "local", "vxlan"})

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str, str]] = []
        self.model: dict[str, dict[str, Resource]] = {kind: {} for kind in _KINDS.values()}
        self.synced = 0

    def _record(self, method: str, action: str, resource: Resource) -> None:
        if action not in ("create", "update", "delete"):
            raise ValueError(f"unknown action {action!r}")
        with self._lock:
            self.calls.append((method, action, resource["id"]))
            table = self.model[_KINDS[method]]
            if action == "delete":
                table.pop(resource["id"], None)
            else:
                table[resource["id"]] = copy.deepcopy(resource)

    def calls_for(self, resource_id: str) -> list[tuple[str, str]]:
        """``[(method, action)]`` received for one resource, in order."""
        with self._lock:
            return [(m, a) for m, a, rid in self.calls if rid == resource_id]

    def network_changed(self, action: str, network: Resource) -> None:
        self._record("network_changed", action, network)

    def port_changed(self, action: str, port: Resource) -> None:
        self._record("port_changed", action, port)

    def router_changed(self, action: str, router: Resource) -> None:
        self._record("router_changed", action, router)

    def floatingip_changed(self, action: str, floatingip: Resource) -> None:
        self._record("floatingip_changed", action, floatingip)

    def security_group_changed(self, action: str, group: Resource) -> None:
        self._record("security_group_changed", action, group)

    def sync(self, model: dict[str, list[Resource]]) -> None:
        with self._lock:
            self.synced += 1
            for kind in _KINDS.values():
                self.model[kind] = {r["id"]: copy.deepcopy(r) for r in model.get(kind, [])}

    def port_binding_vif(self, port: Resource, host: str) -> dict[str, Any]:
        return {"vif_type": "other", "vif_details": {"driver": "noop"}}
