"""``/v2.0/agents`` as the service answers it: one Neutron agent per role the driver plays on its host."""

from __future__ import annotations

import pytest

from cumulo import exception
from cumulo.interfaces.network import AGENT_ROLES


class _Roles:
    """The noop driver, claiming the roles a data-plane driver plays."""

    def __init__(self, driver, roles):
        self._driver, self._roles = driver, roles

    def __getattr__(self, name):
        return getattr(self._driver, name)

    def agent_roles(self):
        return self._roles


def test_the_noop_driver_plays_no_agent(service, admin):
    assert service.driver.agent_roles() == ()
    assert service.list_agents(admin) == []


def test_one_agent_per_role_on_this_host_for_admins_only(service, admin, demo, cumulo_db):
    cumulo_db.set("host", "net-node-1")
    service.driver = _Roles(service.driver, ("l2", "dhcp", "l3", "metadata", "unknown-role"))
    agents = service.list_agents(admin)
    assert [(a["agent_type"], a["binary"]) for a in agents] == [
        ("Linux bridge agent", "neutron-linuxbridge-agent"), ("DHCP agent", "neutron-dhcp-agent"),
        ("L3 agent", "neutron-l3-agent"), ("Metadata agent", "neutron-metadata-agent")]
    assert {a["host"] for a in agents} == {"net-node-1"} and all(a["alive"] for a in agents)
    assert [a["availability_zone"] for a in agents] == [None, "nova", "nova", None]
    assert service.get_agent(admin, agents[1]["id"])["binary"] == "neutron-dhcp-agent"
    assert service.list_agents(admin)[1]["id"] == agents[1]["id"]  # ids are stable
    assert service.list_agents(admin, {"agent_type": "L3 agent"}) == [agents[2]]
    assert service.list_agents(demo) == []
    with pytest.raises(exception.NotFound):
        service.get_agent(demo, agents[1]["id"])


def test_the_linuxbridge_driver_names_its_roles():
    pytest.importorskip("cumulo_network_linux")
    from cumulo_network_linux.driver import LinuxBridgeDriver

    class Probe:
        metadata_enabled = True

    assert LinuxBridgeDriver.agent_roles(Probe()) == ("l2", "dhcp", "l3", "metadata")  # type: ignore[arg-type]
    Probe.metadata_enabled = False
    assert LinuxBridgeDriver.agent_roles(Probe()) == ("l2", "dhcp", "l3")  # type: ignore[arg-type]
    assert set(LinuxBridgeDriver.agent_roles(Probe())) <= set(AGENT_ROLES)  # type: ignore[arg-type]
