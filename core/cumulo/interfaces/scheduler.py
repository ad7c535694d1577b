"""Schedulers (``cumulo.scheduler``) and their filters and weighers.

The compute service hands the scheduler a :class:`RequestSpec` and the current
:class:`HostState` of every compute host; the scheduler returns hosts in order
of preference. Filters (``cumulo.scheduler.filters``) and weighers
(``cumulo.scheduler.weighers``) are plugins of their own, enabled by name.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from cumulo.interfaces.base import Plugin


@dataclasses.dataclass
class RequestSpec:
    """What to place: one or more servers of one flavor and image."""

    project_id: str
    flavor: dict[str, Any]  # vcpus, ram (MiB), disk (GiB), extra_specs
    image: dict[str, Any] = dataclasses.field(default_factory=dict)  # properties of the boot image
    num_instances: int = 1
    availability_zone: str | None = None
    scheduler_hints: dict[str, Any] = dataclasses.field(default_factory=dict)
    instance_group: dict[str, Any] | None = None  # {"policy": ..., "hosts": [...], "members": [...]}
    ignore_hosts: list[str] = dataclasses.field(default_factory=list)  # hosts that already failed
    instance_uuids: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class HostState:
    """A compute host as the scheduler sees it. Mutated by :meth:`consume`."""

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


class NoValidHost(Exception):
    """No host passed the filters; the message says which filter removed the last ones."""


class HostFilter(Plugin):
    """Removes hosts that cannot take the request. Stateless; safe across threads."""

    INTERFACE_VERSION = "1.0"

    @abc.abstractmethod
    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        """True when ``host`` can take one instance of ``spec``."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        """Filter a list. Override to filter in bulk (faster for large host counts)."""
        return [h for h in hosts if self.host_passes(h, spec)]


class HostWeigher(Plugin):
    """Scores hosts; higher is preferred. Scores are normalised to 0..1 and multiplied."""

    INTERFACE_VERSION = "1.0"

    @abc.abstractmethod
    def weigh(self, host: HostState, spec: RequestSpec) -> float:
        """The raw score of ``host`` for ``spec``."""

    def multiplier(self) -> float:
        return 1.0


class Scheduler(Plugin):
    INTERFACE_VERSION = "1.0"

    @abc.abstractmethod
    def select_destinations(self, spec: RequestSpec, hosts: list[HostState]) -> list[HostState]:
        """Hosts for ``spec.num_instances`` servers, one per instance, in order.

        Raises :class:`NoValidHost` when fewer hosts than instances fit. Must
        account for earlier picks in the same call (``HostState.consume``).
        """
