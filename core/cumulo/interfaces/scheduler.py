"""Schedulers (``cumulo.scheduler``) and their filters and weighers.

The compute service hands the scheduler a :class:`RequestSpec` and the current
:class:`HostState` of every compute host; the scheduler returns hosts in order
of preference. Filters (``cumulo.scheduler.filters``) and weighers
(``cumulo.scheduler.weighers``) are plugins of their own, enabled by name.
"""

from __future__ import annotations

import abc
import copy
import dataclasses
from typing import TYPE_CHECKING, Any, TypeVar

from cumulo import exception
from cumulo.interfaces.base import Plugin

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


def _from_dict(cls: type[_D], d: dict[str, Any]) -> _D:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclasses.dataclass
class RequestSpec:
    """What to place: one or more servers of one flavor and image.

    * ``flavor``: ``vcpus``, ``ram`` (MiB), ``disk`` (GiB, root; pass 0 for a
      boot-from-volume server), ``ephemeral`` (GiB), ``extra_specs`` (dict).
    * ``image``: the image's properties (``hw_architecture``/``architecture``,
      ``img_hv_type``/``hypervisor_type``, ``hw_vm_mode``/``vm_mode``...).
    * ``availability_zone``: ``"zone"``, or Nova's ``"zone:host"`` to ask for
      one host (the host still has to pass the filters).
    * ``scheduler_hints``: Nova's names: ``same_host`` / ``different_host``
      (instance uuid or list of uuids), ``group`` (server group uuid).
    * ``instance_group``: ``{"policy": "affinity" | "anti-affinity" |
      "soft-affinity" | "soft-anti-affinity", "rules": {"max_server_per_host":
      n}, "hosts": [host of each current member, repeated per member],
      "members": [uuids]}``.
    * ``ignore_hosts``: hosts where an earlier attempt for these instances failed.
    * ``instance_uuids``: one per instance; the scheduler records its claims
      under these ids until the host reports them in ``HostState.instances``.
    """

    project_id: str
    flavor: dict[str, Any]  # vcpus, ram (MiB), disk (GiB), extra_specs
    image: dict[str, Any] = dataclasses.field(default_factory=dict)  # properties of the boot image
    num_instances: int = 1
    availability_zone: str | None = None
    scheduler_hints: dict[str, Any] = dataclasses.field(default_factory=dict)
    instance_group: dict[str, Any] | None = None  # {"policy": ..., "hosts": [...], "members": [...]}
    ignore_hosts: list[str] = dataclasses.field(default_factory=list)  # hosts that already failed
    instance_uuids: list[str] = dataclasses.field(default_factory=list)
    requested_host: str | None = None  # Nova 2.74 ``host``: only this host (it must pass the filters)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for RPC); :meth:`from_dict` reads it back, ignoring unknown keys."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RequestSpec:
        return _from_dict(cls, d)


@dataclasses.dataclass
class HostState:
    """A compute host as the scheduler sees it.

    Contract for whoever builds them (the compute service's ``host_states()``):

    * ``*_used`` count every instance the host has claimed, and ``instances``
      holds exactly the uuids of those instances. The scheduler keeps its own
      claims for the instances it placed until they show up in ``instances``
      (so placements made between two reports are not handed out twice).
    * ``enabled`` is false when the compute service is disabled, ``up`` false
      when its heartbeat is older than ``[service] service_down_time``.
    * allocation ratios: the host's (the compute service's ``[compute]
      cpu_allocation_ratio``/``ram_allocation_ratio``/``disk_allocation_ratio``).
    * ``availability_zone``: the host's zone (from its aggregates, else the default).
    * ``aggregates``: ``[{"id", "name", "metadata": {key: value}}]``.
    * ``capabilities``: what the driver reports, notably ``supported_instances``
      (``[[arch, hypervisor_type, vm_mode], ...]``) and ``cpu_info``
      (``{"arch": ...}``) for the image properties filter.

    The scheduler never mutates a HostState it was given: it works on the
    copies :meth:`claimed` returns. :meth:`consume` mutates in place.
    """

    host: str
    hypervisor_type: str = ""
    availability_zone: str = "nova"
    vcpus: int = 0
    vcpus_used: int = 0
    memory_mb: int = 0
    memory_mb_used: int = 0
    local_gb: int = 0
    local_gb_used: int = 0
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    enabled: bool = True
    up: bool = True
    aggregates: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    instances: set[str] = dataclasses.field(default_factory=set)
    capabilities: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def free_ram_mb(self) -> float:
        return self.memory_mb * self.ram_allocation_ratio - self.memory_mb_used

    @property
    def free_vcpus(self) -> float:
        return self.vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_disk_gb(self) -> float:
        return self.local_gb * self.disk_allocation_ratio - self.local_gb_used

    def consume(self, flavor: dict[str, Any], instance_uuid: str | None = None) -> None:
        self.vcpus_used += int(flavor.get("vcpus", 0))
        self.memory_mb_used += int(flavor.get("ram", 0))
        self.local_gb_used += int(flavor.get("disk", 0)) + int(flavor.get("ephemeral", 0) or 0)
        if instance_uuid:
            self.instances.add(instance_uuid)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for RPC; ``instances`` as a sorted list)."""
        d = dataclasses.asdict(self)
        d["instances"] = sorted(self.instances)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HostState:
        host = _from_dict(cls, d)
        host.instances = set(host.instances or ())
        return host

    def claimed(self, flavor: dict[str, Any], instance_uuid: str | None = None) -> HostState:
        """A copy of this host with one instance of ``flavor`` consumed; ``self`` is unchanged."""
        new = copy.copy(self)
        new.instances = set(self.instances)
        new.consume(flavor, instance_uuid)
        return new


class NoValidHost(exception.CumuloError):
    """No host passed the filters; the message says which filter removed the last ones.

    A :class:`~cumulo.exception.CumuloError` so that it crosses RPC as itself.
    """

    code = 500
    msg_fmt = "No valid host was found. %(reason)s"


class HostFilter(Plugin):
    """Removes hosts that cannot take the request. Stateless; safe across threads.

    Filters must not mutate hosts or ``spec``. The entry-point name is the name
    operators list in ``[scheduler] enabled_filters``.
    """

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

    @abc.abstractmethod
    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        """True when ``host`` can take one instance of ``spec``."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """Filter a list, keeping order; must equal ``[h for h in hosts if host_passes(h, spec)]``.

        Override to filter in bulk (faster for large host counts), e.g. return
        ``hosts`` itself when the request does not concern this filter.
        """
        return [h for h in hosts if self.host_passes(h, spec)]


class HostWeigher(Plugin):
    """Scores hosts; higher is preferred.

    The scheduler normalises each weigher's raw scores over the candidate
    hosts to 0..1 (all equal -> all 0), multiplies them by :meth:`multiplier`
    and adds the weighers up. A negative multiplier reverses the preference.
    """

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

    @abc.abstractmethod
    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        """The raw score of ``host`` for ``spec``."""

    def weigh_all(self, hosts: list[HostState], spec: RequestSpec) -> list[float]:
        """Raw scores of ``hosts`` in order; override to score in bulk."""
        return [self.weigh(h, spec) for h in hosts]

    def applies(self, spec: RequestSpec) -> bool:
        """False when every host would score the same for ``spec`` (the scheduler then skips it)."""
        return True

    def multiplier(self) -> float:
        return 1.0


class Scheduler(Plugin):
    """Chooses hosts. Built once per process as ``cls(ctx)``; called from many threads."""

    INTERFACE_VERSION = "2.0"  # 2.0: built as cls(ctx)

    @abc.abstractmethod
    def select_destinations(self, spec: RequestSpec, hosts: list[HostState]) -> list[HostState]:
        """Hosts for ``spec.num_instances`` servers, one per instance, in order.

        Raises :class:`NoValidHost` when fewer hosts than instances fit. Must
        account for earlier picks in the same call, without mutating ``hosts``:
        each returned host is ``HostState.claimed(flavor, uuid)`` of the chosen
        one (so a host picked twice appears as two successive copies, the second
        one having consumed both instances). The caller has already removed
        ``spec.ignore_hosts`` and hosts other than ``spec.requested_host``.
        """
