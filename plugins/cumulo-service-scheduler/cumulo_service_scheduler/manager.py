"""The scheduler service (``hub.scheduler``): chooses a compute host for each new server.

The compute service calls :meth:`Service.select_destinations` (in process, or
over RPC on topic ``scheduler`` through :class:`SchedulerClient`). The service

1. reads the current :class:`~cumulo.interfaces.scheduler.HostState` of every
   compute host from its *host state source* (``hub.compute.host_states()``
   unless another callable is injected),
2. adds its own *claims*: placements it made that the host has not reported
   yet (an instance uuid missing from ``HostState.instances``), so that
   concurrent boots do not all land on the host that looked emptiest,
3. removes ``spec.ignore_hosts`` and, for a requested host (``spec.requested_host``
   or an availability zone written ``zone:host``), every other host,
4. asks the scheduler plugin (``[scheduler] driver``, ``cumulo.scheduler``) for
   one host per instance, and records the picks as claims.

Steps 1-4 run under one lock, so two requests never both take the last room
of a host. A claim ends when the host reports the instance, when the same
instance is scheduled again (a reschedule after a failed build), when
:meth:`Service.release` is called, or after ``[scheduler] claim_timeout``.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from oslo_config import cfg

from cumulo import exception, registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostState, NoValidHost, RequestSpec
from cumulo_service_scheduler.opts import scheduler_opts

LOG = logging.getLogger(__name__)

TOPIC = "scheduler"
BINARY = "cumulo-scheduler"


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register the kernel's ``[scheduler]`` options on another ConfigOpts (tests).

    The filter scheduler's own options (``enabled_filters``, ``weighers``...)
    are its plugin's: the registry registers them when it loads the driver.
    """
    try:
        conf.register_opts(scheduler_opts, group="scheduler")
    except cfg.DuplicateOptError:
        pass


HostStateSource = Callable[[], list[HostState]]


@dataclasses.dataclass
class _Claim:
    host: str
    instance_uuid: str
    flavor: dict[str, Any]
    expires: float


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple | set | frozenset):
        return [str(v) for v in value]
    return [str(value)]


def _validate(spec: RequestSpec) -> None:
    if not isinstance(spec, RequestSpec):
        raise exception.Invalid(reason=f"a RequestSpec is required, not {type(spec).__name__}")
    if not isinstance(spec.flavor, dict):
        raise exception.Invalid(reason="the request spec has no flavor")
    if not isinstance(spec.num_instances, int) or spec.num_instances < 1:
        raise exception.Invalid(reason=f"num_instances must be a positive integer, not {spec.num_instances!r}")
    for key in ("vcpus", "ram", "disk", "ephemeral"):
        value = spec.flavor.get(key) or 0
        try:
            if int(value) < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise exception.Invalid(reason=f"flavor {key} must be a non-negative integer, not {value!r}") from None


class Service:
    """The scheduler manager.

    ``host_state_source``: a callable returning the current host states; by
    default ``hub.compute.host_states``. ``conf``: defaults to ``hub.conf``.
    ``driver``: a scheduler plugin instance; by default ``[scheduler] driver``
    is loaded on first use.
    """

    def __init__(self, hub: Any = None, host_state_source: HostStateSource | None = None,
                 conf: cfg.ConfigOpts | None = None, driver: Any = None) -> None:
        self.hub = hub
        self.conf = conf if conf is not None else getattr(hub, "conf", None) or CONF
        if self.conf is not CONF:
            register_opts(self.conf)
        self._source = host_state_source
        self._lock = threading.Lock()
        self._driver: Any = driver
        self._claims: dict[str, dict[str, _Claim]] = {}  # host -> instance uuid -> claim
        self._claim_host: dict[str, str] = {}  # instance uuid -> host
        self._index: dict[str, int] = {}
        self._index_of: list[HostState] | None = None
        self._index_len = 0

    # -- plumbing ------------------------------------------------------------
    @property
    def driver(self) -> Any:
        """The scheduler plugin, loaded on first use (a PluginError names what is installed)."""
        if self._driver is None:
            name = self.conf.scheduler.driver
            self._driver = registry.load_plugin("scheduler", name, PluginContext(self.conf, host=self.conf.host))
        return self._driver

    def _fetch(self) -> list[HostState]:
        """The source's list itself (never mutated here; the compute service may cache it)."""
        if self._source is not None:
            return self._source()
        if self.hub is None:
            raise exception.ServiceUnavailable(reason="The scheduler has no source of compute host states")
        return self.hub.compute.host_states()

    def host_states(self) -> list[HostState]:
        """The hosts as the source reports them (without this scheduler's pending claims)."""
        return list(self._fetch())

    # -- claims --------------------------------------------------------------
    def _drop(self, instance_uuid: str) -> None:
        host = self._claim_host.pop(instance_uuid, None)
        if host is not None:
            claims = self._claims.get(host)
            if claims is not None:
                claims.pop(instance_uuid, None)
                if not claims:
                    del self._claims[host]

    def _expire(self, now: float) -> None:
        for host in list(self._claims):
            for claim in list(self._claims[host].values()):
                if claim.expires <= now:
                    self._drop(claim.instance_uuid)

    def _position(self, hosts: list[HostState], name: str) -> int | None:
        """Index of host ``name`` in ``hosts``; the name map is kept while the source returns the same list."""
        if self._index_of is not hosts or self._index_len != len(hosts):
            self._index = {h.host: i for i, h in enumerate(hosts)}
            self._index_of, self._index_len = hosts, len(hosts)  # a reference: the id cannot be reused
        i = self._index.get(name)
        if i is not None and hosts[i].host != name:  # the list changed in place: rebuild once
            self._index_of = None
            return self._position(hosts, name)
        return i

    def _with_claims(self, hosts: list[HostState]) -> list[HostState]:
        """``hosts`` with pending claims applied (a new list of copies where anything changed).

        Costs a pass over the hosts only when the source hands a new list; else
        one dictionary lookup per claimed host.
        """
        if not self._claims:
            return hosts
        out: list[HostState] | None = None
        for name in list(self._claims):
            i = self._position(hosts, name)
            if i is None:
                continue  # not reported now (deleted, or a transient gap): the claim waits or expires
            h = hosts[i]
            changed = False
            for claim in list(self._claims.get(name, {}).values()):
                if claim.instance_uuid in h.instances:
                    self._drop(claim.instance_uuid)  # the host counts it now
                else:
                    h = h.claimed(claim.flavor, claim.instance_uuid)
                    changed = True
            if changed:
                if out is None:
                    out = list(hosts)
                out[i] = h
        return out if out is not None else hosts

    def pending_claims(self) -> dict[str, list[str]]:
        """host -> instance uuids placed there and not reported by the host yet."""
        with self._lock:
            return {host: sorted(c) for host, c in self._claims.items()}

    def release(self, ctx: Any, instance_uuids: list[str] | str) -> None:
        """Forget the claims of these instances (their build failed for good, or they were deleted)."""
        with self._lock:
            for u in _as_list(instance_uuids):
                self._drop(u)

    # -- scheduling ------------------------------------------------------------
    @staticmethod
    def _split_zone(spec: RequestSpec) -> RequestSpec:
        """``zone:host[:node]`` -> zone + requested_host (Nova's forced-host syntax)."""
        az = spec.availability_zone
        if not az or ":" not in az:
            return spec
        zone, _, rest = az.partition(":")
        host = rest.split(":", 1)[0] or None
        return dataclasses.replace(spec, availability_zone=zone or None,
                                   requested_host=spec.requested_host or host)

    @staticmethod
    def _restrict(hosts: list[HostState], spec: RequestSpec) -> list[HostState]:
        if not hosts:
            raise NoValidHost(reason="There are no compute hosts.")
        if spec.requested_host:
            wanted = spec.requested_host
            hosts = [h for h in hosts if h.host == wanted]
            if not hosts:
                raise NoValidHost(reason=f"Requested host {wanted} is not a known compute host.")
        if spec.ignore_hosts:
            ignore = set(spec.ignore_hosts)
            before = len(hosts)
            hosts = [h for h in hosts if h.host not in ignore]
            if not hosts:
                # No host names: the message reaches the server's fault, which its owner reads.
                raise NoValidHost(reason=f"All {before} candidate host(s) were excluded because earlier "
                                         f"build attempts failed there.")
        return hosts

    def select_destinations(self, ctx: Any, spec: RequestSpec) -> list[HostState]:
        """One host per instance of ``spec``, in instance order.

        Raises :class:`~cumulo.interfaces.scheduler.NoValidHost` naming the
        filter that removed the last hosts, :class:`~cumulo.exception.Invalid`
        for a malformed spec.
        """
        _validate(spec)
        work = self._split_zone(spec)
        started = time.monotonic()
        with self._lock:
            now = time.monotonic()
            self._expire(now)
            for u in work.instance_uuids:
                self._drop(u)  # scheduled again: its earlier claim (a failed host) no longer counts
            hosts = self._with_claims(self._fetch())
            hosts = self._restrict(hosts, work)
            picks = self.driver.select_destinations(work, hosts)
            if len(picks) != work.num_instances:
                raise NoValidHost(reason=f"The {self.conf.scheduler.driver} scheduler returned {len(picks)} "
                                         f"host(s) for {work.num_instances} instance(s).")
            expires = now + float(self.conf.scheduler.claim_timeout)
            for i, pick in enumerate(picks):
                u = work.instance_uuids[i] if i < len(work.instance_uuids) else f"claim-{uuidlib.uuid4()}"
                self._drop(u)
                self._claims.setdefault(pick.host, {})[u] = _Claim(pick.host, u, dict(work.flavor), expires)
                self._claim_host[u] = pick.host
        LOG.info("Scheduled %d instance(s) of project %s on %s in %.1f ms", work.num_instances,
                 work.project_id, ", ".join(p.host for p in picks), (time.monotonic() - started) * 1000)
        return picks


# -- RPC ----------------------------------------------------------------------

class SchedulerEndpoint:
    """What the ``scheduler`` RPC server dispatches to: JSON in, JSON out."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def select_destinations(self, ctx: Any, spec: dict[str, Any]) -> list[dict[str, Any]]:
        if not isinstance(spec, dict):
            raise exception.Invalid(reason="spec must be an object")
        picks = self.service.select_destinations(ctx, RequestSpec.from_dict(spec))
        return [p.to_dict() for p in picks]

    def release(self, ctx: Any, instance_uuids: list[str]) -> None:
        self.service.release(ctx, instance_uuids)


class SchedulerClient:
    """Calls a scheduler over RPC with the same methods as :class:`Service`."""

    def __init__(self, transport: Any, timeout: float | None = None) -> None:
        from cumulo.messaging.rpc import RPCClient

        self._client = RPCClient(transport, TOPIC, timeout=timeout)

    def select_destinations(self, ctx: Any, spec: RequestSpec) -> list[HostState]:
        result = self._client.call(ctx, "select_destinations", spec=spec.to_dict())
        return [HostState.from_dict(d) for d in result]

    def release(self, ctx: Any, instance_uuids: list[str]) -> None:
        self._client.cast(ctx, "release", instance_uuids=_as_list(instance_uuids))


def _reconcile_builds(hub: Any) -> None:
    """Settle the unplaced builds this scheduler host was working on when its process stopped.

    Scheduling runs in the compute API of the process (``hub.compute``), which records itself
    (``[DEFAULT] host``) on each build it schedules; its ``reconcile_builds`` fails the ones a
    previous run left behind. Claims need no such step: they live in memory and died with it.
    """
    try:
        compute = hub.get("compute")
    except LookupError:
        return
    reconcile = getattr(compute, "reconcile_builds", None)
    if reconcile is None:
        return
    try:
        reconcile()
    except Exception:
        LOG.exception("Reconciling the builds left by a previous run failed")


def start(hub: Any) -> list[Any]:
    """All-in-one / ``cumulo-scheduler``: settle the builds a previous run left, then serve topic
    ``scheduler`` and heartbeat as ``cumulo-scheduler``."""
    from cumulo import service as service_fw
    from cumulo.messaging.rpc import RPCServer

    _reconcile_builds(hub)
    server = RPCServer(hub.transport, TOPIC, server=hub.conf.host,
                       endpoints=[SchedulerEndpoint(hub.scheduler)]).start()
    try:
        runner = service_fw.ServiceRunner(hub.conf.host, BINARY, TOPIC, children=[server]).start()
    except Exception:
        server.stop()
        raise
    return [runner]
