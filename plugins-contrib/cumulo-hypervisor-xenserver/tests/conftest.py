"""Fixtures of the XenServer driver's tests: a running XAPI simulator and drivers pointed at it."""

from __future__ import annotations

import os
import sys
import uuid as uuidlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cumulo_hypervisor_xenserver import opts
from cumulo_hypervisor_xenserver.driver import XenServerDriver
from oslo_config import cfg

from cumulo import conf as cumulo_conf
from cumulo.interfaces.base import PluginContext

# The simulator is a package of this folder, not of the plugin (tests run with --import-mode=importlib).
sys.path.insert(0, os.path.dirname(__file__))

from xapisim import XapiSimulator


def xen_conf(sim: XapiSimulator, **overrides: Any) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    opts.register_opts(conf)
    settings: dict[str, Any] = {"connection_url": sim.url, "connection_username": "root",
                                "connection_password": "xenroot", "default_network": "xenbr0",
                                "task_poll_interval": 0.01, "shutdown_timeout": 1}
    settings.update(overrides)
    for name, value in settings.items():
        conf.set_override(name, value, group="xenserver")
    return conf


@pytest.fixture
def sim() -> Iterator[XapiSimulator]:
    simulator = XapiSimulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture
def make_driver(sim: XapiSimulator) -> Iterator[Callable[..., XenServerDriver]]:
    """``make_driver(host=None, **xenserver_options)``: a driver on the simulator (closed after the test)."""
    made: list[XenServerDriver] = []

    def make(host: str | None = None, **overrides: Any) -> XenServerDriver:
        drv = XenServerDriver(PluginContext(xen_conf(sim, **overrides), kind="hypervisor", name="xenserver",
                                            host=host or f"node-{uuidlib.uuid4().hex[:8]}"))
        made.append(drv)
        return drv

    yield make
    for drv in made:
        drv.close()


@pytest.fixture
def xen_conf_factory() -> Callable[..., cfg.ConfigOpts]:
    return xen_conf
