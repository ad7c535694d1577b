"""The compute contract's service: :class:`ComputeService` (``hub.compute``) and its per-resource parts.

:class:`ComputeService` is every part at once, which the compute service
implements; the parts (:class:`FlavorService`, :class:`HostService`..., and
the server ones of :mod:`cumulo.contracts.compute.servers`) let a caller
depend on only what it calls. Each method names the errors it raises.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, overload, runtime_checkable

from cumulo.context import RequestContext
from cumulo.contracts.compute.moves import ServerMoveService
from cumulo.contracts.compute.servers import (
    InstanceActionService,
    ServerActionService,
    ServerConsoleService,
    ServerInterfaceService,
    ServerMetadataService,
    ServerPowerService,
    ServerSecurityGroupService,
    ServerService,
)
from cumulo.contracts.compute.views import (
    AggregateView,
    AvailabilityZoneView,
    FlavorAccessView,
    FlavorView,
    HypervisorServerView,
    HypervisorView,
    KeypairView,
    QuotaUsageView,
    ServerGroupView,
    ServerView,
    ServiceView,
)
from cumulo.contracts.compute.volumes import ServerVolumeService
from cumulo.interfaces.scheduler import HostState

__all__ = [
    "AggregateService", "ComputeService", "FlavorAccessService", "FlavorExtraSpecService", "FlavorService",
    "HostService", "HousekeepingService", "KeypairService", "MetadataLookupService", "QuotaService",
    "ServerGroupService",
]


@runtime_checkable
class FlavorService(Protocol):
    """Flavors: the enabled ones the caller can see, and their administration."""

    def list_flavors(self, ctx: RequestContext, *, is_public: bool | None = True, min_ram: int | None = None,
                     min_disk: int | None = None, sort_key: str = "flavorid", sort_dir: str = "asc",
                     limit: int | None = None, marker: str | None = None) -> list[FlavorView]:
        """The enabled flavors the caller can see (``is_public`` None: all of them), sorted and paged.

        :raises ValidationError: an unknown ``sort_key``.
        :raises Invalid: an unknown ``marker``.
        """

    def get_flavor(self, ctx: RequestContext, flavor_id: str) -> FlavorView:
        """One flavor. :raises NotFound: no such flavor the caller can see."""

    def create_flavor(self, ctx: RequestContext, *, name: str, vcpus: int, ram: int, disk: int,
                      flavorid: str | None = None, ephemeral: int = 0, swap: int = 0, rxtx_factor: float = 1.0,
                      is_public: bool = True, description: str | None = None) -> FlavorView:
        """A new flavor (``flavorid`` None, "" or "auto": a new uuid). :raises Conflict: the name or id exists."""

    def update_flavor(self, ctx: RequestContext, flavor_id: str, description: str | None) -> FlavorView:
        """Set a flavor's description (its only mutable field). :raises NotFound: no such flavor."""

    def delete_flavor(self, ctx: RequestContext, flavor_id: str) -> None:
        """Delete a flavor with its extra specs and access list. :raises NotFound: no such flavor."""


@runtime_checkable
class FlavorExtraSpecService(Protocol):
    """A flavor's extra specs (key/value pairs a scheduler filter or driver reads)."""

    def get_extra_specs(self, ctx: RequestContext, flavor_id: str) -> dict[str, str]:
        """A flavor's extra specs. :raises NotFound: no such flavor."""

    def set_extra_specs(self, ctx: RequestContext, flavor_id: str, specs: dict[str, str]) -> dict[str, str]:
        """Add or overwrite extra specs; returns ``specs``. :raises NotFound: no such flavor."""

    def delete_extra_spec(self, ctx: RequestContext, flavor_id: str, key: str) -> None:
        """Remove one extra spec. :raises NotFound: no such flavor or key."""


@runtime_checkable
class FlavorAccessService(Protocol):
    """Which projects may use a private flavor."""

    def flavor_access(self, ctx: RequestContext, flavor_id: str) -> list[FlavorAccessView]:
        """The projects a private flavor is given to. :raises NotFound: no such flavor, or a public one."""

    def add_flavor_access(self, ctx: RequestContext, flavor_id: str, project_id: str) -> list[FlavorAccessView]:
        """Give a private flavor to a project; returns the access list.

        :raises NotFound: no such flavor.
        :raises Conflict: a public flavor, or the project has it already.
        """

    def remove_flavor_access(self, ctx: RequestContext, flavor_id: str,
                             project_id: str) -> list[FlavorAccessView]:
        """Take a private flavor from a project; returns the access list. :raises NotFound: no such flavor or access."""


@runtime_checkable
class KeypairService(Protocol):
    """Key pairs, per user: ``user_id`` defaults to the caller's."""

    def create_keypair(self, ctx: RequestContext, name: str, public_key: str | None = None,
                       key_type: str = "ssh", user_id: str | None = None) -> KeypairView:
        """Import ``public_key``, or generate an RSA pair (the private key is returned once).

        :raises Invalid: a malformed key, or generating an x509 pair.
        :raises QuotaExceeded: ``key_pairs``.
        :raises Conflict: the user has a key pair of that name.
        """

    def list_keypairs(self, ctx: RequestContext, user_id: str | None = None, limit: int | None = None,
                      marker: str | None = None) -> list[KeypairView]:
        """A user's key pairs by name, paged by name. :raises NotFound: an unknown ``marker``."""

    def get_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> KeypairView:
        """One key pair. :raises NotFound: the user has none of that name."""

    def delete_keypair(self, ctx: RequestContext, name: str, user_id: str | None = None) -> None:
        """Delete a key pair (its quota is given back). :raises NotFound: the user has none of that name."""


@runtime_checkable
class ServerGroupService(Protocol):
    """Server groups: a placement policy over their member servers."""

    def create_server_group(self, ctx: RequestContext, name: str, policy: str,
                            rules: dict[str, Any] | None = None) -> ServerGroupView:
        """A new group of the caller's project.

        :raises ValidationError: an unknown policy.
        :raises Invalid: ``rules`` without anti-affinity.
        :raises QuotaExceeded: ``server_groups``.
        """

    def get_server_group(self, ctx: RequestContext, group_id: str) -> ServerGroupView:
        """One group. :raises NotFound: no such group the caller can see."""

    def list_server_groups(self, ctx: RequestContext, all_projects: bool = False) -> list[ServerGroupView]:
        """The caller's project's groups (every project's for an administrator asking ``all_projects``)."""

    def delete_server_group(self, ctx: RequestContext, group_id: str) -> None:
        """Delete a group (its members stay). :raises NotFound: no such group the caller can see."""

    def server_group_of(self, ctx: RequestContext, uuid: str) -> str | None:
        """The uuid of the group server ``uuid`` belongs to, or None (raises nothing)."""


@runtime_checkable
class QuotaService(Protocol):
    """Quota limits per project (``key_pairs`` is counted per user)."""

    # The overloads tell a caller which of the two answers it gets.
    @overload
    def quota_set(self, ctx: RequestContext, project_id: str, detail: Literal[False] = False,
                  user_id: str | None = None) -> dict[str, int]: ...

    @overload
    def quota_set(self, ctx: RequestContext, project_id: str, detail: Literal[True],
                  user_id: str | None = None) -> dict[str, QuotaUsageView]: ...

    @overload
    def quota_set(self, ctx: RequestContext, project_id: str, detail: bool = False,
                  user_id: str | None = None) -> dict[str, int] | dict[str, QuotaUsageView]: ...

    def quota_set(self, ctx: RequestContext, project_id: str, detail: bool = False,
                  user_id: str | None = None) -> dict[str, int] | dict[str, QuotaUsageView]:
        """A project's limit per resource; with ``detail``, limit and usage per resource (raises nothing)."""

    def update_quota_set(self, ctx: RequestContext, project_id: str, values: dict[str, int],
                         force: bool = False) -> dict[str, int]:
        """Set limits; returns every limit of the project.

        :raises Invalid: a limit below the usage (unless ``force``).
        :raises ValidationError: an unknown resource.
        """

    def quota_defaults(self, ctx: RequestContext) -> dict[str, int]:
        """The default limits: the ``[quota]`` options, as the ``default`` quota class overrides them (raises nothing)."""

    def quota_class_set(self, ctx: RequestContext, name: str) -> dict[str, int]:
        """The limits of quota class ``name``: the defaults, overridden by what the class sets (contract 1.4).

        Only the ``default`` class changes the limits projects get, as in Nova (raises nothing).
        """

    def update_quota_class_set(self, ctx: RequestContext, name: str, values: dict[str, int]) -> dict[str, int]:
        """Set limits of quota class ``name``; returns every limit of the class (contract 1.4).

        ``values`` may also name the network resources Nova's classes kept below microversion 2.36
        (``fixed_ips``, ``floating_ips``, ``security_groups``, ``security_group_rules``, ``networks``):
        stored and shown with the class, they limit nothing here.

        :raises ValidationError: an unknown resource.
        """

    def delete_quota_set(self, ctx: RequestContext, project_id: str) -> None:
        """Drop a project's limits: the defaults apply again (raises nothing)."""


@runtime_checkable
class HostService(Protocol):
    """Compute hosts: the scheduler's host states, hypervisors, service records, availability zones.

    ``host_states`` and ``invalidate_host_states`` are the scheduler's (no context).
    """

    def host_states(self) -> list[HostState]:
        """Every compute host for the scheduler (cached; the same objects until the next refresh)."""

    def invalidate_host_states(self) -> None:
        """Drop the cached host states: the next :meth:`host_states` reads the tables."""

    def list_hypervisors(self, ctx: RequestContext, pattern: str | None = None) -> list[HypervisorView]:
        """The compute nodes (whose hostname contains ``pattern``), oldest first (raises nothing)."""

    def get_hypervisor(self, ctx: RequestContext, hypervisor_id: str) -> HypervisorView:
        """One compute node by number or uuid. :raises NotFound: no such node."""

    def hypervisor_servers(self, ctx: RequestContext, host: str) -> list[HypervisorServerView]:
        """The live servers on ``host`` (raises nothing)."""

    def list_services(self, ctx: RequestContext, host: str | None = None,
                      binary: str | None = None) -> list[ServiceView]:
        """The service records (of ``host``, ``binary``) with their zones (raises nothing)."""

    def set_service(self, ctx: RequestContext, service_id: str | None = None, *, host: str | None = None,
                    binary: str | None = None, disabled: bool | None = None, reason: str | None = None,
                    forced_down: bool | None = None) -> ServiceView:
        """Enable/disable or force down a service, by id or by host and binary. :raises NotFound: no such service."""

    def delete_service(self, ctx: RequestContext, service_id: str) -> None:
        """Delete a service record (a compute one with its node).

        :raises NotFound: no such service.
        :raises Conflict: a compute service hosting servers.
        """

    def availability_zones(self, ctx: RequestContext, detail: bool = False) -> list[AvailabilityZoneView]:
        """The zones by name; with ``detail``, also "internal" and every zone's hosts (raises nothing)."""


@runtime_checkable
class AggregateService(Protocol):
    """Host aggregates (``agg_id``: number or uuid)."""

    def list_aggregates(self, ctx: RequestContext) -> list[AggregateView]:
        """Every aggregate, oldest first (raises nothing)."""

    def get_aggregate(self, ctx: RequestContext, agg_id: str | int) -> AggregateView:
        """One aggregate. :raises NotFound: no such aggregate."""

    def create_aggregate(self, ctx: RequestContext, name: str, availability_zone: str | None = None) -> AggregateView:
        """A new aggregate (in ``availability_zone``). :raises Conflict: the name exists."""

    def update_aggregate(self, ctx: RequestContext, agg_id: str | int, name: str | None = None,
                         availability_zone: str | None = None) -> AggregateView:
        """Rename an aggregate or move it to a zone. :raises NotFound: no such aggregate."""

    def delete_aggregate(self, ctx: RequestContext, agg_id: str | int) -> None:
        """Delete an empty aggregate. :raises NotFound: no such aggregate. :raises Invalid: it has hosts."""

    def aggregate_add_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> AggregateView:
        """Add a compute host. :raises NotFound: no such aggregate or host. :raises Conflict: it is there already."""

    def aggregate_remove_host(self, ctx: RequestContext, agg_id: str | int, host: str) -> AggregateView:
        """Remove a host. :raises NotFound: no such aggregate, or the host is not in it."""

    def set_aggregate_metadata(self, ctx: RequestContext, agg_id: str | int,
                               metadata: dict[str, str | None]) -> AggregateView:
        """Set metadata keys (None removes one). :raises NotFound: no such aggregate."""


@runtime_checkable
class MetadataLookupService(Protocol):
    """The metadata service's lookups (no token: the caller has authenticated the server)."""

    def instance_for_metadata(self, instance_uuid: str | None = None, remote_address: str | None = None,
                              network_id: str | None = None) -> ServerView:
        """The server a metadata request comes from: by its uuid, or by the request's source address.

        :raises NotFound: no server matches.
        """

    def instance_by_address(self, address: str, network_id: str | None = None) -> str | None:
        """The uuid of the server holding fixed IP ``address`` (on ``network_id``), or None (raises nothing)."""


@runtime_checkable
class HousekeepingService(Protocol):
    """What the process that runs the compute hosts calls on start-up, periodically and on exit."""

    def reconcile_builds(self) -> int:
        """At start-up: settle the unplaced servers a previous run left in a task state; returns how many."""

    def sweep_task_states(self) -> int:
        """Put servers stuck in a task state (timed out, or host down) in ERROR; returns how many."""

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling: no new build is picked up; with ``wait``, those under way finish first."""


@runtime_checkable
class ComputeService(FlavorService, FlavorExtraSpecService, FlavorAccessService, KeypairService, ServerGroupService,
                     QuotaService, ServerService, ServerPowerService, ServerActionService, ServerConsoleService,
                     ServerMetadataService, InstanceActionService, ServerSecurityGroupService,
                     ServerInterfaceService, ServerVolumeService, ServerMoveService, HostService,
                     AggregateService, MetadataLookupService, HousekeepingService, Protocol):
    """``hub.compute``: every part above in one protocol, answering the views of :mod:`~cumulo.contracts.compute.views`.

    Methods take the caller's :class:`~cumulo.context.RequestContext` first (but
    the host-state, metadata-lookup and housekeeping ones, which the kernel's own
    parts call). Policy is the frontend's; the service decides only what the
    caller can see: its project's servers and groups (every project's for an
    administrator), public flavors and the private ones its project is given.
    A server the caller cannot see is :class:`NotFound`; a locked one changed by
    a non-administrator is a :class:`Conflict`, as is an action on a server in the
    wrong state, without a host, or whose hypervisor lacks the capability ("wrong
    state" in the parts). The methods that ask a host (consoles) may also raise
    :class:`cumulo.exception.MessagingTimeout`.
    """

