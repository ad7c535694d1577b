"""Host filters: each one an entry point in ``cumulo.scheduler.filters``.

Every filter implements ``filter_all`` in bulk (one list comprehension with
locals bound, or the input list itself when the request does not concern the
filter) and ``host_passes`` with the same meaning, for one host.
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from typing import Any

from cumulo.interfaces.scheduler import HostFilter, HostState, RequestSpec
from cumulo_scheduler_filter import extra_specs_ops


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _ids(value: Any) -> set[str]:
    """A hint value (one uuid or a list of them) as a set."""
    if value is None or value == "":
        return set()
    if isinstance(value, list | tuple | set | frozenset):
        return {str(v) for v in value}
    return {str(value)}


def group_policy(spec: RequestSpec) -> str | None:
    """The server group policy of the request (``policy``, or the first of legacy ``policies``)."""
    group = spec.instance_group
    if not group:
        return None
    policy = group.get("policy")
    if not policy:
        policies = group.get("policies") or []
        policy = policies[0] if policies else None
    return str(policy) if policy else None


def group_hosts(spec: RequestSpec) -> list[str]:
    return [str(h) for h in (spec.instance_group or {}).get("hosts") or [] if h]


class _Filter(HostFilter):
    interface_version = "2.0"

    def host_passes(self, host: HostState, spec: RequestSpec) -> bool:
        return bool(self.filter_all([host], spec))


class ComputeFilter(_Filter):
    """``compute``: the host's compute service is enabled and up."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        return [h for h in hosts if h.enabled and h.up]


class RamFilter(_Filter):
    """``ram``: free RAM (``memory_mb * ram_allocation_ratio - memory_mb_used``) >= the flavor's."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        ram = _int(spec.flavor.get("ram"))
        return [h for h in hosts if h.memory_mb * h.ram_allocation_ratio - h.memory_mb_used >= ram]


class VcpuFilter(_Filter):
    """``vcpu``: free vCPUs (with ``cpu_allocation_ratio``) >= the flavor's, and the flavor
    has no more vCPUs than the host has physical ones (no overcommit against itself)."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        vcpus = _int(spec.flavor.get("vcpus"))
        return [h for h in hosts
                if h.vcpus * h.cpu_allocation_ratio - h.vcpus_used >= vcpus and h.vcpus >= vcpus]


class DiskFilter(_Filter):
    """``disk``: free local disk (with ``disk_allocation_ratio``) >= root + ephemeral GiB."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        disk = _int(spec.flavor.get("disk")) + _int(spec.flavor.get("ephemeral"))
        return [h for h in hosts if h.local_gb * h.disk_allocation_ratio - h.local_gb_used >= disk]


class AvailabilityZoneFilter(_Filter):
    """``availability_zone``: the host is in the requested zone (any host when none is requested)."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        az = spec.availability_zone
        if not az:
            return hosts
        return [h for h in hosts if h.availability_zone == az]


# -- image properties -----------------------------------------------------------

_ARCH_ALIASES = {
    "amd64": "x86_64", "x64": "x86_64", "x86-64": "x86_64",
    "i386": "i686", "i486": "i686", "i586": "i686", "x86_32": "i686", "ia32": "i686",
    "arm64": "aarch64", "armv8": "aarch64", "armhf": "armv7l", "ppc": "ppc", "powerpc": "ppc",
}
_HV_ALIASES = {"xapi": "xen"}
_VM_MODE_ALIASES = {"pv": "xen", "hv": "hvm", "baremetal": "hvm"}


def _canon(value: Any, aliases: dict[str, str]) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    return aliases.get(text, text)


_VERSION_OPS = {"<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
                ">=": operator.ge, ">": operator.gt}
_PREDICATE = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*([0-9]+(?:\.[0-9]+)*)\s*$")


def _version_tuple(value: Any) -> tuple[int, ...] | None:
    """``1002003`` (Nova's int form: major*10^6 + minor*10^3 + patch) or ``"1.2.3"`` -> ``(1, 2, 3)``."""
    if isinstance(value, int) and not isinstance(value, bool):
        parts: list[int] = []
        while value:
            parts.insert(0, value % 1000)
            value //= 1000
        return tuple(parts) or (0,)
    try:
        return tuple(int(p) for p in str(value).split("."))
    except ValueError:
        return None


def _pad(a: tuple[int, ...], n: int) -> tuple[int, ...]:
    return a + (0,) * (n - len(a))


def version_satisfies(have: Any, requirement: str) -> bool:
    """``requirement`` like ``">=1.0"`` or ``">= 2.1, < 3"`` against a host version (int or dotted)."""
    version = _version_tuple(have)
    if version is None:
        return False
    for clause in str(requirement).split(","):
        m = _PREDICATE.match(clause)
        if not m:
            return False
        want = tuple(int(p) for p in m.group(2).split("."))
        n = max(len(want), len(version))
        if not _VERSION_OPS[m.group(1)](_pad(version, n), _pad(want, n)):
            return False
    return True


def image_props(image: dict[str, Any]) -> dict[str, Any]:
    """Image properties, flat (accepts a Glance image with a nested ``properties`` dict too)."""
    props = dict(image or {})
    nested = props.pop("properties", None)
    if isinstance(nested, dict):
        props = {**nested, **props}
    return props


class ImagePropertiesFilter(_Filter):
    """``image_properties``: the image's architecture, hypervisor type and VM mode
    (``hw_architecture``/``architecture``, ``img_hv_type``/``hypervisor_type``,
    ``hw_vm_mode``/``vm_mode``) match one of the host's ``supported_instances``
    triples, and ``img_hv_requested_version`` (e.g. ``>=1.0``, ``>=2.1,<3``)
    matches the host's ``hypervisor_version`` capability (an int in Nova's
    form, 1002003 = 1.2.3, or a dotted string).

    A host that reports no ``supported_instances`` is judged on what it does
    report (``hypervisor_type``, ``capabilities["cpu_info"]["arch"]``); an
    unknown value matches anything.
    """

    @staticmethod
    def _wanted(spec: RequestSpec) -> tuple[tuple[str | None, str | None, str | None], str | None]:
        p = image_props(spec.image)
        wanted = (_canon(p.get("hw_architecture") or p.get("architecture"), _ARCH_ALIASES),
                  _canon(p.get("img_hv_type") or p.get("hypervisor_type"), _HV_ALIASES),
                  _canon(p.get("hw_vm_mode") or p.get("vm_mode"), _VM_MODE_ALIASES))
        version = p.get("img_hv_requested_version") or None
        return wanted, (str(version) if version else None)

    @staticmethod
    def _supported(host: HostState) -> list[tuple[str | None, str | None, str | None]]:
        caps = host.capabilities or {}
        triples = caps.get("supported_instances")
        if triples:
            out = []
            for t in triples:
                t = list(t) + [None, None, None]
                out.append((_canon(t[0], _ARCH_ALIASES), _canon(t[1], _HV_ALIASES), _canon(t[2], _VM_MODE_ALIASES)))
            return out
        cpu = caps.get("cpu_info")
        arch = cpu.get("arch") if isinstance(cpu, dict) else None
        return [(_canon(arch, _ARCH_ALIASES), _canon(host.hypervisor_type, _HV_ALIASES), None)]

    @classmethod
    def _passes(cls, host: HostState, wanted: tuple[Any, Any, Any], version: str | None) -> bool:
        if any(wanted):
            ok = False
            for triple in cls._supported(host):
                if all(w is None or s is None or w == s for w, s in zip(wanted, triple, strict=True)):
                    ok = True
                    break
            if not ok:
                return False
        if version:
            have = (host.capabilities or {}).get("hypervisor_version")
            if have is not None and not version_satisfies(have, version):
                return False
        return True

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        wanted, version = self._wanted(spec)
        if not any(wanted) and not version:
            return hosts
        passes = self._passes
        return [h for h in hosts if passes(h, wanted, version)]


# -- server groups and hints ------------------------------------------------------

class ServerGroupAffinityFilter(_Filter):
    """``server_group_affinity``: hard affinity; once a member runs somewhere, only its host(s)."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if group_policy(spec) != "affinity":
            return hosts
        members = set(group_hosts(spec))
        if not members:
            return hosts
        return [h for h in hosts if h.host in members]


class ServerGroupAntiAffinityFilter(_Filter):
    """``server_group_anti_affinity``: hard anti-affinity; a host takes at most
    ``rules.max_server_per_host`` (default 1) members of the group."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if group_policy(spec) != "anti-affinity":
            return hosts
        taken = group_hosts(spec)
        if not taken:
            return hosts
        rules = (spec.instance_group or {}).get("rules") or {}
        limit = max(1, _int(rules.get("max_server_per_host")) or 1)
        if limit == 1:
            busy = set(taken)
            return [h for h in hosts if h.host not in busy]
        counts = Counter(taken)
        return [h for h in hosts if counts.get(h.host, 0) < limit]


class SameHostFilter(_Filter):
    """``same_host`` hint: only hosts running at least one of the given instances."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        wanted = _ids((spec.scheduler_hints or {}).get("same_host"))
        if not wanted:
            return hosts
        return [h for h in hosts if not wanted.isdisjoint(h.instances)]


class DifferentHostFilter(_Filter):
    """``different_host`` hint: only hosts running none of the given instances."""

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        avoid = _ids((spec.scheduler_hints or {}).get("different_host"))
        if not avoid:
            return hosts
        return [h for h in hosts if avoid.isdisjoint(h.instances)]


# -- aggregates ----------------------------------------------------------------

AGGREGATE_SCOPE = "aggregate_instance_extra_specs"


def aggregate_requirements(flavor: dict[str, Any]) -> dict[str, str]:
    """Flavor extra specs this filter checks: ``aggregate_instance_extra_specs:KEY`` and unscoped keys."""
    out = {}
    for key, value in ((flavor or {}).get("extra_specs") or {}).items():
        scope, sep, rest = str(key).partition(":")
        if not sep:
            out[scope] = str(value)
        elif scope == AGGREGATE_SCOPE and rest:
            out[rest] = str(value)
    return out


def aggregate_metadata(host: HostState) -> dict[str, set[str]]:
    """key -> every value the host's aggregates give it."""
    meta: dict[str, set[str]] = {}
    for agg in host.aggregates or ():
        for k, v in ((agg or {}).get("metadata") or {}).items():
            meta.setdefault(str(k), set()).add(str(v))
    return meta


class AggregateInstanceExtraSpecsFilter(_Filter):
    """``aggregate_instance_extra_specs``: every ``aggregate_instance_extra_specs:KEY``
    (and unscoped ``KEY``) extra spec of the flavor is matched by the metadata
    ``KEY`` of one of the host's aggregates (operators: see ``extra_specs_ops``)."""

    @staticmethod
    def _passes(host: HostState, required: dict[str, str]) -> bool:
        if not host.aggregates:
            return False
        meta = aggregate_metadata(host)
        for key, req in required.items():
            values = meta.get(key)
            if not values or not any(extra_specs_ops.match(v, req) for v in values):
                return False
        return True

    def filter_all(self, hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        required = aggregate_requirements(spec.flavor)
        if not required:
            return hosts
        passes = self._passes
        return [h for h in hosts if h.aggregates and passes(h, required)]
