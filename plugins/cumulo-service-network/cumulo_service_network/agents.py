"""Network agents (``/v2.0/agents``): the Neutron agents the ``[network] driver`` stands for.

Cumulo runs no separate agent processes: the driver plays their parts in the network
service's process on its host (:meth:`~cumulo.interfaces.network.NetworkDriver.agent_roles`).
Each role is shown as the agent Neutron would run for it, alive while this service runs. A
driver that realises nothing (``noop``) plays no part, so there are none. Listing and showing
agents is for admins (Neutron's ``get_agent``); others list none and find none.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from oslo_config import cfg

from cumulo import exception
from cumulo.context import RequestContext
from cumulo_service_network.dataplane import DataPlane

#: role -> (agent_type, binary, topic, has an availability zone), as Neutron names its agents.
NEUTRON_AGENTS = {
    "l2": ("Linux bridge agent", "neutron-linuxbridge-agent", "N/A", False),
    "dhcp": ("DHCP agent", "neutron-dhcp-agent", "dhcp_agent", True),
    "l3": ("L3 agent", "neutron-l3-agent", "l3_agent", True),
    "metadata": ("Metadata agent", "neutron-metadata-agent", "N/A", False),
}
_NAMESPACE = uuid.UUID("6f1b2c1e-3a5d-4c8e-9a7b-2d4e6f8a0c13")  # agent ids: stable per host and binary


class Agents:
    """The agents of this node's network driver."""

    API = ("list_agents", "get_agent")

    def __init__(self, conf: cfg.ConfigOpts, dataplane: DataPlane) -> None:
        self.conf = conf
        self.dataplane = dataplane
        self.started = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)

    def _all(self) -> list[dict[str, Any]]:
        host = self.conf.host
        started = self.started.strftime("%Y-%m-%d %H:%M:%S")
        beat = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        out = []
        for role in self.dataplane.driver.agent_roles():
            if role not in NEUTRON_AGENTS:
                continue
            agent_type, binary, topic, zoned = NEUTRON_AGENTS[role]
            out.append({
                "id": str(uuid.uuid5(_NAMESPACE, f"{host}/{binary}")), "agent_type": agent_type, "binary": binary,
                "topic": topic, "host": host, "admin_state_up": True, "alive": True,
                "availability_zone": "nova" if zoned else None, "configurations": {"driver": self.conf.network.driver},
                "created_at": started, "started_at": started, "heartbeat_timestamp": beat, "description": None,
                "resources_synced": None})
        return out

    def list_agents(self, ctx: RequestContext, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every agent for an admin (``filters``: attribute -> wanted value); none for anyone else."""
        if not ctx.is_admin:
            return []
        found = self._all()
        for key, wanted in (filters or {}).items():
            found = [a for a in found if str(a.get(key)).lower() == str(wanted).lower()]
        return found

    def get_agent(self, ctx: RequestContext, agent_id: str) -> dict[str, Any]:
        """One agent (admins only).

        :raises cumulo.exception.NotFound: (404) no such agent, or not an admin.
        """
        for agent in self.list_agents(ctx):
            if agent["id"] == agent_id:
                return agent
        raise exception.NotFound(resource="Agent", id=agent_id)
