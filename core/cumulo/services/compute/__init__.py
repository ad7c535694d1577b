"""The compute service: instance lifecycle across compute hosts.

* :class:`Service` (``hub.compute``) is the API-side manager frontends call
  (:class:`cumulo.services.compute.api.ComputeAPI`).
* :func:`start` is what ``cumulo up`` runs: one :class:`ComputeManager` per
  compute host, each an RPC server on topic ``compute`` (server = host) with
  the hypervisor driver named by ``[compute] hypervisor_driver``, registered
  and heartbeating as ``cumulo-compute``; plus the periodic tasks (resource
  reports to ``compute_nodes``, power-state sync, the task-state sweeper).
  Before serving, it settles what a previous run left in a task state
  (:meth:`ComputeAPI.reconcile_builds`, :meth:`ComputeManager.init_host`), so
  a crash leaves nothing in BUILD or mid-operation after the restart.

All-in-one with the fake driver runs ``[hypervisor_fake] host_count`` hosts
named ``<host_prefix><n>``; any other driver runs one host, ``[DEFAULT] host``.
"""

from __future__ import annotations

import logging
from typing import Any

from oslo_config import cfg

import cumulo.services.compute.metadata as _metadata  # noqa: F401  (proxy signatures)
import cumulo.services.compute.quota as _quota  # noqa: F401  (quota enforcement)
from cumulo.conf import CONF
from cumulo.conf.compute import compute_opts  # noqa: F401  (the [compute] options)
from cumulo.db.models import compute as _models  # noqa: F401  (the compute tables)
from cumulo.services.compute.api import ComputeAPI
from cumulo.services.compute.manager import ComputeManager

LOG = logging.getLogger(__name__)



class Service(ComputeAPI):
    """``hub.compute``: see :class:`cumulo.services.compute.api.ComputeAPI`."""


def compute_hosts(driver_name: str, cls: type | None = None) -> list[str]:
    """Host names this process runs: many for the fake driver, else ``[DEFAULT] host``.

    A driver class offering ``host_names(conf)`` names its hosts itself (the fake
    driver: ``[hypervisor_fake] host_count`` names from ``host_prefix``).
    """
    if driver_name == "fake":
        if cls is not None and hasattr(cls, "host_names"):
            return list(cls.host_names(CONF))
        try:
            count = int(CONF.hypervisor_fake.host_count)
            prefix = str(CONF.hypervisor_fake.host_prefix)
            return [f"{prefix}-{i}" for i in range(1, count + 1)]
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
            pass
    return [CONF.host]


class _Hosts:
    """What :func:`start` returns: stops the periodic tasks, RPC servers and service runners."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.managers: list[ComputeManager] = []
        self.children: list[Any] = []

    def stop(self) -> None:
        for c in reversed(self.children):
            try:
                c.stop()
            except Exception:
                LOG.exception("Stopping %s failed", c)


def start(hub: Any, hosts: list[str] | None = None, driver_name: str | None = None) -> list[Any]:
    """Start the compute hosts of this process; returns what to stop."""
    import cumulo.services.compute.rpc as rpc
    from cumulo import registry
    from cumulo import service as service_mod

    driver_name = driver_name or CONF.compute.hypervisor_driver
    cls = registry.load_class("hypervisor", driver_name)
    registry.register_plugin_opts(cls, CONF)
    hosts = hosts or compute_hosts(driver_name, cls)
    api: ComputeAPI = hub.compute
    group = _Hosts(hub)
    # Before anything is served: what a previous run left half done is settled now, not by the
    # task-state sweeper minutes later (unplaced builds this process was scheduling, then each host's).
    try:
        api.reconcile_builds()
    except Exception:
        LOG.exception("Reconciling unplaced builds failed")
    for host in hosts:
        driver = cls(host=host, conf=CONF) if _accepts_conf(cls) else cls(host=host)
        manager = ComputeManager(host, driver, hub)
        manager.tracker.load()
        try:
            manager.init_host()
        except Exception:
            LOG.exception("Host %s: reconciling its instances failed", host)
        manager.report_resources()
        group.managers.append(manager)
        group.children.append(rpc.serve(hub, host, manager))
        runner = service_mod.ServiceRunner(host, "cumulo-compute", "compute",
                                           CONF.compute.default_availability_zone).start()
        group.children.append(runner)
    api.invalidate_host_states()

    def report_all() -> None:
        for m in group.managers:
            m.report_resources()
        api.invalidate_host_states()

    def sync_all() -> None:
        for m in group.managers:
            m.sync_power_states()

    group.children.append(service_mod.PeriodicTask(report_all, CONF.compute.resource_report_interval,
                                                   "compute-resource-report").start())
    group.children.append(service_mod.PeriodicTask(sync_all, CONF.compute.sync_power_state_interval,
                                                   "compute-power-sync").start())
    group.children.append(service_mod.PeriodicTask(api.sweep_task_states, CONF.compute.sweep_interval,
                                                   "compute-task-sweeper").start())
    LOG.info("Compute: %d host(s) with the %s driver", len(hosts), driver_name)
    return [group]


def _accepts_conf(cls: type) -> bool:
    import inspect

    try:
        params = inspect.signature(cls).parameters  # the constructor's, without self
    except (TypeError, ValueError):
        return False
    return "conf" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())

