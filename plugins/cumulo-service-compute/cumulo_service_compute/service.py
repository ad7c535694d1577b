"""The compute service (``hub.compute``) and what a node starts for it: instance lifecycle across compute hosts.

* :class:`Service` (``hub.compute``) is the API-side manager frontends call. It
  validates, enforces quotas and policy-free business rules (policy is the
  frontend's job), writes the database, and hands work to the compute hosts
  over RPC. It is composed of one component per resource, as Nova's API is
  split (each module says what it owns):

  * :mod:`~cumulo_service_compute.flavors`, :mod:`~cumulo_service_compute.keypairs`,
    :mod:`~cumulo_service_compute.server_groups`, quota sets
    (:mod:`~cumulo_service_compute.quota`);
  * :mod:`~cumulo_service_compute.servers` (create, list, show, update, delete),
    :mod:`~cumulo_service_compute.scheduling` (placing builds),
    :mod:`~cumulo_service_compute.server_actions` (reboot, stop, resize, rebuild,
    rescue...), :mod:`~cumulo_service_compute.server_metadata` (metadata, tags),
    :mod:`~cumulo_service_compute.server_extras` (action log, security groups);
  * :mod:`~cumulo_service_compute.hosts` (host states, hypervisors, services,
    zones), :mod:`~cumulo_service_compute.aggregates`;
  * :mod:`~cumulo_service_compute.metadata` (metadata-service lookups),
    :mod:`~cumulo_service_compute.housekeeping` (interrupted and stuck servers).

  Dependencies run one way (each component is given the ones it uses; they
  share :class:`~cumulo_service_compute.common.Plumbing`), and
  :class:`Service` names each public method of a component once: that is
  ``hub.compute.<method>``.
* :func:`start` is what ``cumulo up`` runs: one :class:`ComputeManager` per
  compute host, each an RPC server on topic ``compute`` (server = host) with
  the hypervisor driver named by ``[compute] hypervisor_driver``, registered
  and heartbeating as ``cumulo-compute``; plus the periodic tasks (resource
  reports to ``compute_nodes``, power-state sync, the task-state sweeper).
  Before serving, it settles what a previous run left in a task state
  (``hub.compute.reconcile_builds``, :meth:`ComputeManager.init_host`), so
  a crash leaves nothing in BUILD or mid-operation after the restart.

The driver's ``host_names(conf)`` says which hosts a process runs (one driver
instance each, built as ``cls(ctx)``): the fake driver presents
``[hypervisor_fake] host_count`` hosts, a real one ``[DEFAULT] host``.
"""

from __future__ import annotations

import logging
from typing import Any

import cumulo_service_compute.models as _models  # noqa: F401  (the compute tables)
from cumulo import exception
from cumulo.conf import CONF
from cumulo.conf.compute import compute_opts  # noqa: F401  (the [compute] options)
from cumulo_service_compute.aggregates import Aggregates
from cumulo_service_compute.common import Plumbing
from cumulo_service_compute.flavors import Flavors
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.housekeeping import Housekeeping
from cumulo_service_compute.keypairs import Keypairs
from cumulo_service_compute.manager import ComputeManager
from cumulo_service_compute.metadata import MetadataLookups
from cumulo_service_compute.quota import QuotaSets
from cumulo_service_compute.scheduling import Scheduling
from cumulo_service_compute.server_actions import ServerActions
from cumulo_service_compute.server_extras import InstanceActions, ServerSecurityGroups
from cumulo_service_compute.server_groups import ServerGroups
from cumulo_service_compute.server_metadata import ServerMetadata, ServerTags
from cumulo_service_compute.servers import Servers

LOG = logging.getLogger(__name__)


class Service:
    """``hub.compute``. Every method takes the RequestContext first (but the host-state, metadata-lookup
    and housekeeping methods, which the kernel's own parts call) and raises :mod:`cumulo.exception` errors.

    The components are attributes (``flavors``, ``servers``, ``actions``...); each method below is
    one of theirs, documented there.
    """

    def __init__(self, hub: Any) -> None:
        self.plumbing = Plumbing(hub)
        self.hub = hub
        self.flavors = Flavors()
        self.keypairs = Keypairs()
        self.server_groups = ServerGroups()
        self.quotas = QuotaSets()
        self.hosts = Hosts()
        self.aggregates = Aggregates(self.hosts)
        self.scheduling = Scheduling(self.plumbing, self.hosts, self.server_groups)
        self.servers = Servers(self.plumbing, self.flavors, self.keypairs, self.server_groups, self.hosts,
                               self.scheduling)
        self.actions = ServerActions(self.plumbing, self.servers, self.flavors, self.keypairs, self.hosts,
                                     self.scheduling)
        self.server_metadata = ServerMetadata()
        self.server_tags = ServerTags()
        self.instance_actions = InstanceActions()
        self.server_security_groups = ServerSecurityGroups(self.plumbing)
        self.metadata_lookups = MetadataLookups(self.plumbing, self.servers)
        self.housekeeping = Housekeeping(self.plumbing, self.servers, self.hosts)

        # flavors
        self.list_flavors = self.flavors.list_flavors
        self.get_flavor = self.flavors.get_flavor
        self.create_flavor = self.flavors.create_flavor
        self.update_flavor = self.flavors.update_flavor
        self.delete_flavor = self.flavors.delete_flavor
        self.get_extra_specs = self.flavors.get_extra_specs
        self.set_extra_specs = self.flavors.set_extra_specs
        self.delete_extra_spec = self.flavors.delete_extra_spec
        self.flavor_access = self.flavors.flavor_access
        self.add_flavor_access = self.flavors.add_flavor_access
        self.remove_flavor_access = self.flavors.remove_flavor_access
        # key pairs
        self.create_keypair = self.keypairs.create_keypair
        self.list_keypairs = self.keypairs.list_keypairs
        self.get_keypair = self.keypairs.get_keypair
        self.delete_keypair = self.keypairs.delete_keypair
        # server groups
        self.create_server_group = self.server_groups.create_server_group
        self.get_server_group = self.server_groups.get_server_group
        self.list_server_groups = self.server_groups.list_server_groups
        self.delete_server_group = self.server_groups.delete_server_group
        self.server_group_of = self.server_groups.server_group_of
        # quotas
        self.quota_set = self.quotas.quota_set
        self.update_quota_set = self.quotas.update_quota_set
        self.quota_defaults = self.quotas.quota_defaults
        self.delete_quota_set = self.quotas.delete_quota_set
        # servers (the hosts call finish_delete and schedule_and_build back)
        self.create_servers = self.servers.create_servers
        self.get_server = self.servers.get_server
        self.list_servers = self.servers.list_servers
        self.update_server = self.servers.update_server
        self.delete_server = self.servers.delete_server
        self.finish_delete = self.servers.finish_delete
        self.schedule_and_build = self.scheduling.schedule_and_build
        # server actions
        self.reboot = self.actions.reboot
        self.stop = self.actions.stop
        self.start = self.actions.start
        self.pause = self.actions.pause
        self.unpause = self.actions.unpause
        self.suspend = self.actions.suspend
        self.resume = self.actions.resume
        self.rescue = self.actions.rescue
        self.unrescue = self.actions.unrescue
        self.change_password = self.actions.change_password
        self.lock = self.actions.lock
        self.unlock = self.actions.unlock
        self.rebuild = self.actions.rebuild
        self.resize = self.actions.resize
        self.confirm_resize = self.actions.confirm_resize
        self.revert_resize = self.actions.revert_resize
        self.create_image = self.actions.create_image
        self.console_output = self.actions.console_output
        self.remote_console = self.actions.remote_console
        # a server's metadata, tags, action log and security groups
        self.get_metadata = self.server_metadata.get_metadata
        self.update_metadata = self.server_metadata.update_metadata
        self.delete_metadata = self.server_metadata.delete_metadata
        self.get_tags = self.server_tags.get_tags
        self.set_tags = self.server_tags.set_tags
        self.add_tag = self.server_tags.add_tag
        self.delete_tag = self.server_tags.delete_tag
        self.delete_tags = self.server_tags.delete_tags
        self.list_instance_actions = self.instance_actions.list_instance_actions
        self.get_instance_action = self.instance_actions.get_instance_action
        self.security_groups = self.server_security_groups.security_groups
        self.add_security_group = self.server_security_groups.add_security_group
        self.remove_security_group = self.server_security_groups.remove_security_group
        # hosts, hypervisors, services, zones (the scheduler reads host_states)
        self.host_states = self.hosts.host_states
        self.invalidate_host_states = self.hosts.invalidate_host_states
        self.list_hypervisors = self.hosts.list_hypervisors
        self.get_hypervisor = self.hosts.get_hypervisor
        self.hypervisor_servers = self.hosts.hypervisor_servers
        self.list_services = self.hosts.list_services
        self.set_service = self.hosts.set_service
        self.delete_service = self.hosts.delete_service
        self.availability_zones = self.hosts.availability_zones
        # aggregates
        self.list_aggregates = self.aggregates.list_aggregates
        self.get_aggregate = self.aggregates.get_aggregate
        self.create_aggregate = self.aggregates.create_aggregate
        self.update_aggregate = self.aggregates.update_aggregate
        self.delete_aggregate = self.aggregates.delete_aggregate
        self.aggregate_add_host = self.aggregates.aggregate_add_host
        self.aggregate_remove_host = self.aggregates.aggregate_remove_host
        self.set_aggregate_metadata = self.aggregates.set_aggregate_metadata
        # the metadata service's lookups
        self.instance_for_metadata = self.metadata_lookups.instance_for_metadata
        self.instance_by_address = self.metadata_lookups.instance_by_address
        # housekeeping (start-up and the task-state sweeper)
        self.reconcile_builds = self.housekeeping.reconcile_builds
        self.sweep_task_states = self.housekeeping.sweep_task_states

    @property
    def rpc(self) -> Any:
        """The RPC client to the compute hosts (topic ``compute``); the hosts cast to each other through it."""
        return self.plumbing.rpc

    @rpc.setter
    def rpc(self, value: Any) -> None:
        self.plumbing.rpc = value

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling: no new build is picked up; with ``wait``, those under way finish first."""
        self.plumbing.pool.shutdown(wait=wait)


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
    api: Service = hub.compute
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
