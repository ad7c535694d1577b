"""The compute service (``hub.compute``) and what a node starts for it: instance lifecycle across compute hosts.

* :class:`Service` (``hub.compute``) is the API-side manager frontends call
  (:class:`cumulo_service_compute.api.ComputeAPI`).
* :func:`start` is what ``cumulo up`` runs: one :class:`ComputeManager` per
  compute host, each an RPC server on topic ``compute`` (server = host) with
  the hypervisor driver named by ``[compute] hypervisor_driver``, registered
  and heartbeating as ``cumulo-compute``; plus the periodic tasks (resource
  reports to ``compute_nodes``, power-state sync, the task-state sweeper).
  Before serving, it settles what a previous run left in a task state
  (:meth:`ComputeAPI.reconcile_builds`, :meth:`ComputeManager.init_host`), so
  a crash leaves nothing in BUILD or mid-operation after the restart.

The driver's ``host_names(conf)`` says which hosts a process runs (one driver
instance each, built as ``cls(ctx)``): the fake driver presents
``[hypervisor_fake] host_count`` hosts, a real one ``[DEFAULT] host``.
"""

from __future__ import annotations

import logging
from typing import Any

import cumulo_service_compute.models as _models  # noqa: F401  (the compute tables)
import cumulo_service_compute.quota as _quota  # noqa: F401  (quota enforcement)
from cumulo import exception
from cumulo.conf import CONF
from cumulo.conf.compute import compute_opts  # noqa: F401  (the [compute] options)
from cumulo_service_compute.api import ComputeAPI
from cumulo_service_compute.manager import ComputeManager

LOG = logging.getLogger(__name__)


class Service(ComputeAPI):
    """``hub.compute``: see :class:`cumulo_service_compute.api.ComputeAPI`."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling: no new build is picked up; with ``wait``, those under way finish first."""
        self._pool.shutdown(wait=wait)


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
    import cumulo_service_compute.rpc as rpc
    from cumulo import registry
    from cumulo import service as service_mod
    from cumulo.interfaces.base import PluginContext

    driver_name = driver_name or CONF.compute.hypervisor_driver
    cls = registry.load_class("hypervisor", driver_name)
    registry.register_plugin_opts(cls, CONF)
    problems = cls.validate_config(CONF)
    if problems:
        raise exception.ConfigError(reason=f"hypervisor driver {driver_name}: " + "; ".join(problems))
    hosts = hosts or list(cls.host_names(CONF))
    ctx = PluginContext(CONF, kind="hypervisor", name=driver_name, host=CONF.host, hub=hub)
    api: ComputeAPI = hub.compute
    group = _Hosts(hub)
    # Before anything is served: what a previous run left half done is settled now, not by the
    # task-state sweeper minutes later (unplaced builds this process was scheduling, then each host's).
    try:
        api.reconcile_builds()
    except Exception:
        LOG.exception("Reconciling unplaced builds failed")
    for host in hosts:
        driver = cls(ctx.with_host(host))
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
