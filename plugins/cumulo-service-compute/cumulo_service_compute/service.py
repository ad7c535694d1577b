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
    rescue...), :mod:`~cumulo_service_compute.moves` (backups, cold and live migration, evacuation,
    shelving, migration records), :mod:`~cumulo_service_compute.server_metadata` (metadata, tags),
    :mod:`~cumulo_service_compute.server_extras` (action log, security groups),
    :mod:`~cumulo_service_compute.server_interfaces` (attaching and detaching ports),
    :mod:`~cumulo_service_compute.server_volumes` (attaching and detaching volumes, a new
    server's block-device mapping);
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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import cumulo_service_compute.models as _models  # noqa: F401  (the compute tables)
from cumulo import exception
from cumulo.conf import CONF
from cumulo.contracts.compute import (
    AggregateView,
    AvailabilityZoneView,
    ComputeService,
    ConsoleView,
    FlavorAccessView,
    FlavorView,
    HypervisorServerView,
    HypervisorView,
    InstanceActionView,
    InterfaceAttachmentView,
    KeypairView,
    MigrationView,
    ServerGroupView,
    ServerSecurityGroupView,
    ServerView,
    ServiceView,
    VolumeAttachmentView,
)
from cumulo_service_compute.aggregates import Aggregates
from cumulo_service_compute.common import Plumbing
from cumulo_service_compute.flavors import Flavors
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.housekeeping import Housekeeping
from cumulo_service_compute.keypairs import Keypairs
from cumulo_service_compute.manager import ComputeManager
from cumulo_service_compute.metadata import MetadataLookups
from cumulo_service_compute.moves import ServerMoves
from cumulo_service_compute.quota import QuotaSets
from cumulo_service_compute.scheduling import Scheduling
from cumulo_service_compute.server_actions import ServerActions
from cumulo_service_compute.server_extras import InstanceActions, ServerSecurityGroups
from cumulo_service_compute.server_groups import ServerGroups
from cumulo_service_compute.server_interfaces import ServerInterfaces
from cumulo_service_compute.server_metadata import ServerMetadata, ServerTags
from cumulo_service_compute.server_volumes import ServerVolumes
from cumulo_service_compute.servers import Servers

LOG = logging.getLogger(__name__)

_P = ParamSpec("_P")
_V = TypeVar("_V")


def _returning(method: Callable[_P, object], view: type[_V]) -> Callable[_P, _V]:
    """``method`` itself, typed as answering ``view`` (a view of :mod:`cumulo.contracts.compute`).

    The components build plain dicts (``dict[str, Any]``), which mypy does not take for a
    TypedDict; this names the view each one is. Only the return type is asserted: the
    parameters stay the component's, checked against :class:`ComputeService` at the end of
    this module. That the dicts have the views' keys is checked by tests/test_contract.py.
    """
    return cast("Callable[_P, _V]", method)


class Service:
    """``hub.compute``: implements :class:`cumulo.contracts.compute.ComputeService`, which documents each method.

    The components are attributes (``flavors``, ``servers``, ``actions``...); each method below is
    one of theirs, bound once (those answering a view through :func:`_returning`).
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
        self.server_volumes = ServerVolumes(self.plumbing, self.hosts)
        self.servers = Servers(self.plumbing, self.flavors, self.keypairs, self.server_groups, self.hosts,
                               self.scheduling, self.server_volumes)
        self.actions = ServerActions(self.plumbing, self.servers, self.flavors, self.keypairs, self.hosts,
                                     self.scheduling)
        self.moves = ServerMoves(self.plumbing, self.actions, self.hosts, self.scheduling)
        self.server_metadata = ServerMetadata()
        self.server_tags = ServerTags()
        self.instance_actions = InstanceActions()
        self.server_security_groups = ServerSecurityGroups(self.plumbing)
        self.server_interfaces = ServerInterfaces(self.plumbing, self.hosts)
        self.metadata_lookups = MetadataLookups(self.plumbing, self.servers)
        self.housekeeping = Housekeeping(self.plumbing, self.servers, self.hosts)

        # flavors
        self.list_flavors = _returning(self.flavors.list_flavors, list[FlavorView])
        self.get_flavor = _returning(self.flavors.get_flavor, FlavorView)
        self.create_flavor = _returning(self.flavors.create_flavor, FlavorView)
        self.update_flavor = _returning(self.flavors.update_flavor, FlavorView)
        self.delete_flavor = self.flavors.delete_flavor
        self.get_extra_specs = self.flavors.get_extra_specs
        self.set_extra_specs = self.flavors.set_extra_specs
        self.delete_extra_spec = self.flavors.delete_extra_spec
        self.flavor_access = _returning(self.flavors.flavor_access, list[FlavorAccessView])
        self.add_flavor_access = _returning(self.flavors.add_flavor_access, list[FlavorAccessView])
        self.remove_flavor_access = _returning(self.flavors.remove_flavor_access, list[FlavorAccessView])
        # key pairs
        self.create_keypair = _returning(self.keypairs.create_keypair, KeypairView)
        self.list_keypairs = _returning(self.keypairs.list_keypairs, list[KeypairView])
        self.get_keypair = _returning(self.keypairs.get_keypair, KeypairView)
        self.delete_keypair = self.keypairs.delete_keypair
        # server groups
        self.create_server_group = _returning(self.server_groups.create_server_group, ServerGroupView)
        self.get_server_group = _returning(self.server_groups.get_server_group, ServerGroupView)
        self.list_server_groups = _returning(self.server_groups.list_server_groups, list[ServerGroupView])
        self.delete_server_group = self.server_groups.delete_server_group
        self.server_group_of = self.server_groups.server_group_of
        # quotas
        self.quota_set = self.quotas.quota_set
        self.update_quota_set = self.quotas.update_quota_set
        self.quota_defaults = self.quotas.quota_defaults
        self.delete_quota_set = self.quotas.delete_quota_set
        self.quota_class_set = self.quotas.quota_class_set
        self.update_quota_class_set = self.quotas.update_quota_class_set
        # servers (the hosts call finish_delete and schedule_and_build back)
        self.create_servers = _returning(self.servers.create_servers, list[ServerView])
        self.get_server = _returning(self.servers.get_server, ServerView)
        self.list_servers = _returning(self.servers.list_servers, list[ServerView])
        self.update_server = _returning(self.servers.update_server, ServerView)
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
        self.reset_state = self.actions.reset_state
        self.rebuild = _returning(self.actions.rebuild, tuple[ServerView, str])
        self.resize = self.actions.resize
        self.confirm_resize = self.actions.confirm_resize
        self.revert_resize = self.actions.revert_resize
        self.create_image = self.actions.create_image
        self.console_output = self.actions.console_output
        self.remote_console = _returning(self.actions.remote_console, ConsoleView)
        # server moves: backups, migration, evacuation, shelving, and the migration records
        self.create_backup = self.moves.create_backup
        self.migrate = self.moves.migrate
        self.live_migrate = self.moves.live_migrate
        self.evacuate = self.moves.evacuate
        self.shelve = self.moves.shelve
        self.shelve_offload = self.moves.shelve_offload
        self.unshelve = self.moves.unshelve
        self.list_migrations = _returning(self.moves.list_migrations, list[MigrationView])
        self.get_migration = _returning(self.moves.get_migration, MigrationView)
        # a server's metadata, tags, action log and security groups
        self.get_metadata = self.server_metadata.get_metadata
        self.update_metadata = self.server_metadata.update_metadata
        self.delete_metadata = self.server_metadata.delete_metadata
        self.get_tags = self.server_tags.get_tags
        self.set_tags = self.server_tags.set_tags
        self.add_tag = self.server_tags.add_tag
        self.delete_tag = self.server_tags.delete_tag
        self.delete_tags = self.server_tags.delete_tags
        self.list_instance_actions = _returning(self.instance_actions.list_instance_actions, list[InstanceActionView])
        self.get_instance_action = _returning(self.instance_actions.get_instance_action, InstanceActionView)
        self.security_groups = _returning(self.server_security_groups.security_groups, list[ServerSecurityGroupView])
        self.add_security_group = self.server_security_groups.add_security_group
        self.remove_security_group = self.server_security_groups.remove_security_group
        # a server's interfaces (attach and detach ports)
        self.list_interfaces = _returning(self.server_interfaces.list_interfaces, list[InterfaceAttachmentView])
        self.get_interface = _returning(self.server_interfaces.get_interface, InterfaceAttachmentView)
        self.attach_interface = _returning(self.server_interfaces.attach_interface, InterfaceAttachmentView)
        self.detach_interface = self.server_interfaces.detach_interface
        self.add_fixed_ip = self.server_interfaces.add_fixed_ip
        self.remove_fixed_ip = self.server_interfaces.remove_fixed_ip
        # a server's volumes (attach and detach)
        self.list_volume_attachments = _returning(self.server_volumes.list_volume_attachments,
                                                  list[VolumeAttachmentView])
        self.get_volume_attachment = _returning(self.server_volumes.get_volume_attachment, VolumeAttachmentView)
        self.attach_volume = _returning(self.server_volumes.attach_volume, VolumeAttachmentView)
        self.update_volume_attachment = self.server_volumes.update_volume_attachment
        self.detach_volume = self.server_volumes.detach_volume
        # hosts, hypervisors, services, zones (the scheduler reads host_states)
        self.host_states = self.hosts.host_states
        self.invalidate_host_states = self.hosts.invalidate_host_states
        self.list_hypervisors = _returning(self.hosts.list_hypervisors, list[HypervisorView])
        self.get_hypervisor = _returning(self.hosts.get_hypervisor, HypervisorView)
        self.hypervisor_servers = _returning(self.hosts.hypervisor_servers, list[HypervisorServerView])
        self.list_services = _returning(self.hosts.list_services, list[ServiceView])
        self.set_service = _returning(self.hosts.set_service, ServiceView)
        self.delete_service = self.hosts.delete_service
        self.availability_zones = _returning(self.hosts.availability_zones, list[AvailabilityZoneView])
        # aggregates
        self.list_aggregates = _returning(self.aggregates.list_aggregates, list[AggregateView])
        self.get_aggregate = _returning(self.aggregates.get_aggregate, AggregateView)
        self.create_aggregate = _returning(self.aggregates.create_aggregate, AggregateView)
        self.update_aggregate = _returning(self.aggregates.update_aggregate, AggregateView)
        self.delete_aggregate = self.aggregates.delete_aggregate
        self.aggregate_add_host = _returning(self.aggregates.aggregate_add_host, AggregateView)
        self.aggregate_remove_host = _returning(self.aggregates.aggregate_remove_host, AggregateView)
        self.set_aggregate_metadata = _returning(self.aggregates.set_aggregate_metadata, AggregateView)
        # the metadata service's lookups
        self.instance_for_metadata = _returning(self.metadata_lookups.instance_for_metadata, ServerView)
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


if TYPE_CHECKING:
    # The static half of the conformance check: mypy fails here, naming the member, when a binding
    # above no longer matches cumulo.contracts.compute.ComputeService (types, arity, keyword-only
    # names; tests/test_contract.py, the run-time half, also compares positional names and defaults).
    def _implements_the_contract(service: Service) -> ComputeService:
        return service


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
    group.children.extend(cls.start_local(CONF) or [])  # the driver's local daemons (libvirtd), first
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
        try:
            if manager.listen_for_power_events():
                LOG.info("Host %s: the %s driver reports power changes as they happen", host, driver_name)
        except Exception:
            LOG.exception("Host %s: the driver's power events are unavailable; polling only", host)
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
    if CONF.compute.shelved_offload_time > 0:
        group.children.append(service_mod.PeriodicTask(api.moves.offload_due, CONF.compute.shelved_poll_interval,
                                                       "compute-shelved-offload").start())
    LOG.info("Compute: %d host(s) with the %s driver", len(hosts), driver_name)
    return [group]
