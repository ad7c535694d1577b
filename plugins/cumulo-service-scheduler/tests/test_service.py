"""The scheduler service: host state source, claims, restrictions, concurrency, RPC."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from cumulo_service_scheduler import manager as sched_mod
from cumulo_service_scheduler.manager import SchedulerClient, SchedulerEndpoint, Service

from cumulo import exception
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.scheduler import HostState, NoValidHost, RequestSpec, Scheduler
from cumulo.testing.conformance.scheduler import host, spec


class FirstFit(Scheduler):
    """The smallest correct scheduler: the first enabled, up host with room, per instance."""

    interface_version = "2.0"

    def __init__(self) -> None:
        super().__init__(PluginContext(CONF))
        self.calls: list[tuple[RequestSpec, list[str]]] = []

    def select_destinations(self, spec: RequestSpec, hosts: list[HostState]) -> list[HostState]:
        self.calls.append((spec, [h.host for h in hosts]))
        hosts = list(hosts)
        picks = []
        for i in range(spec.num_instances):
            for idx, h in enumerate(hosts):
                if h.enabled and h.up and h.free_ram_mb >= spec.flavor["ram"] and h.free_vcpus >= spec.flavor["vcpus"]:
                    u = spec.instance_uuids[i] if i < len(spec.instance_uuids) else None
                    hosts[idx] = h.claimed(spec.flavor, u)
                    picks.append(hosts[idx])
                    break
            else:
                raise NoValidHost(reason="FirstFit: no room")
        return picks


class Source:
    """A compute service stand-in: hosts that report nothing until told."""

    def __init__(self, hosts: list[HostState]) -> None:
        self.hosts = hosts
        self.calls = 0

    def __call__(self) -> list[HostState]:
        self.calls += 1
        return list(self.hosts)

    def report(self, name: str, flavor: dict[str, Any], uuid: str) -> None:
        """The host claims the instance for real and shows it in its next report."""
        for i, h in enumerate(self.hosts):
            if h.host == name:
                self.hosts[i] = h.claimed(flavor, uuid)


def one(uuid: str = "u1", **kw: Any) -> RequestSpec:
    s = spec(**kw)
    s.instance_uuids = [uuid]
    return s


@pytest.fixture
def conf(cumulo_conf: Any) -> Any:
    return cumulo_conf


def test_places_with_the_injected_source(conf: Any) -> None:
    source = Source([host("a"), host("b")])
    svc = Service(None, host_state_source=source, driver=FirstFit())
    picks = svc.select_destinations(None, spec(2))
    assert [p.host for p in picks] == ["a", "a"] and source.calls == 1


def test_default_source_is_the_compute_service(conf: Any) -> None:
    class Compute:
        def host_states(self) -> list[HostState]:
            return [host("from-compute")]

    class Hub:
        compute = Compute()

    svc = Service(Hub(), driver=FirstFit())
    assert svc.select_destinations(None, one())[0].host == "from-compute"


def test_claims_count_until_the_host_reports(conf: Any) -> None:
    source = Source([host("a", memory_mb=1024), host("b", memory_mb=1024)])
    svc = Service(None, host_state_source=source, driver=FirstFit())
    flavor = {"vcpus": 1, "ram": 1024, "disk": 0}
    first = svc.select_destinations(None, one("u1", flavor=flavor))[0].host
    # the host has not reported u1 yet: the scheduler still counts it
    second = svc.select_destinations(None, one("u2", flavor=flavor))[0].host
    assert {first, second} == {"a", "b"}
    with pytest.raises(NoValidHost):
        svc.select_destinations(None, one("u3", flavor=flavor))
    assert svc.pending_claims() == {first: ["u1"], second: ["u2"]}


def test_reported_instances_are_not_counted_twice(conf: Any) -> None:
    source = Source([host("a", memory_mb=2048)])
    svc = Service(None, host_state_source=source, driver=FirstFit())
    flavor = {"vcpus": 1, "ram": 1024, "disk": 0}
    svc.select_destinations(None, one("u1", flavor=flavor))
    source.report("a", flavor, "u1")  # now in memory_mb_used and instances
    assert svc.select_destinations(None, one("u2", flavor=flavor))[0].host == "a"
    assert svc.pending_claims() == {"a": ["u2"]}


def test_reschedule_moves_the_claim(conf: Any) -> None:
    source = Source([host("a", memory_mb=1024), host("b", memory_mb=1024)])
    svc = Service(None, host_state_source=source, driver=FirstFit())
    flavor = {"vcpus": 1, "ram": 1024, "disk": 0}
    assert svc.select_destinations(None, one("u1", flavor=flavor))[0].host == "a"
    again = one("u1", flavor=flavor)
    again.ignore_hosts = ["a"]
    assert svc.select_destinations(None, again)[0].host == "b"
    assert svc.pending_claims() == {"b": ["u1"]}
    # a is free again for someone else
    assert svc.select_destinations(None, one("u2", flavor=flavor))[0].host == "a"


def test_release_and_timeout(conf: Any) -> None:
    source = Source([host("a", memory_mb=1024)])
    svc = Service(None, host_state_source=source, driver=FirstFit())
    flavor = {"vcpus": 1, "ram": 1024, "disk": 0}
    svc.select_destinations(None, one("u1", flavor=flavor))
    svc.release(None, ["u1"])
    assert svc.pending_claims() == {}
    conf.set("claim_timeout", 0.0, group="scheduler")
    svc.select_destinations(None, one("u2", flavor=flavor))  # a claim that expires at once
    svc.select_destinations(None, one("u3", flavor=flavor))  # fits only because u2's claim is gone
    assert svc.pending_claims() == {"a": ["u3"]}


def test_release_accepts_one_uuid(conf: Any) -> None:
    svc = Service(None, host_state_source=Source([host("a")]), driver=FirstFit())
    svc.select_destinations(None, one("u1"))
    svc.release(None, "u1")
    assert svc.pending_claims() == {}


def test_ignore_hosts_and_requested_host(conf: Any) -> None:
    drv = FirstFit()
    svc = Service(None, host_state_source=Source([host("a"), host("b"), host("c")]), driver=drv)
    s = one(requested_host="c")
    assert svc.select_destinations(None, s)[0].host == "c"
    assert drv.calls[-1][1] == ["c"]
    s = one("u2", availability_zone="nova:b")  # Nova's zone:host form
    assert svc.select_destinations(None, s)[0].host == "b"
    assert drv.calls[-1][0].availability_zone == "nova" and drv.calls[-1][0].requested_host == "b"
    assert s.availability_zone == "nova:b"  # the caller's spec is untouched
    s = one("u3", ignore_hosts=["a", "b"])
    assert svc.select_destinations(None, s)[0].host == "c"


def test_no_valid_host_messages(conf: Any) -> None:
    svc = Service(None, host_state_source=Source([]), driver=FirstFit())
    with pytest.raises(NoValidHost, match="no compute hosts"):
        svc.select_destinations(None, one())
    svc = Service(None, host_state_source=Source([host("a")]), driver=FirstFit())
    with pytest.raises(NoValidHost, match="Requested host zz is not a known compute host"):
        svc.select_destinations(None, one(requested_host="zz"))
    # The message reaches the server's fault, which its (non-admin) owner reads: no host names.
    with pytest.raises(NoValidHost, match="earlier build attempts failed there\\.$") as err:
        svc.select_destinations(None, one(ignore_hosts=["a"]))
    assert "(a)" not in str(err.value)


@pytest.mark.parametrize("bad", [
    {"num_instances": 0}, {"num_instances": "2"}, {"flavor": None}, {"flavor": {"vcpus": -1, "ram": 1}},
    {"flavor": {"vcpus": "x", "ram": 1}},
])
def test_invalid_specs(conf: Any, bad: dict[str, Any]) -> None:
    svc = Service(None, host_state_source=Source([host("a")]), driver=FirstFit())
    s = spec()
    for k, v in bad.items():
        setattr(s, k, v)
    with pytest.raises(exception.Invalid):
        svc.select_destinations(None, s)


def test_concurrent_boots_spread_and_never_overcommit(conf: Any) -> None:
    pytest.importorskip("cumulo_scheduler_filter")
    conf.set("driver", "filter", group="scheduler")
    # 4 hosts with room for 10 small servers each; 50 concurrent single-server requests
    source = Source([host(f"h{i}", memory_mb=5120, vcpus=64, local_gb=1000) for i in range(4)])
    svc = Service(None, host_state_source=source)
    picked: list[str] = []
    failed: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(50)

    def boot(i: int) -> None:
        barrier.wait()
        try:
            h = svc.select_destinations(None, one(f"u{i}"))[0].host
            with lock:
                picked.append(h)
        except NoValidHost as err:
            with lock:
                failed.append(err)

    threads = [threading.Thread(target=boot, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert Counter(picked) == {"h0": 10, "h1": 10, "h2": 10, "h3": 10}
    assert len(failed) == 10 and all("ram" in str(e) for e in failed)


def test_150_concurrent_boots_spread_evenly(conf: Any) -> None:
    pytest.importorskip("cumulo_scheduler_filter")
    conf.set("driver", "filter", group="scheduler")
    source = Source([host(f"h{i}", memory_mb=262144, vcpus=64, local_gb=4096,
                          cpu_allocation_ratio=16.0) for i in range(4)])
    svc = Service(None, host_state_source=source)
    picked: list[str] = []
    lock = threading.Lock()

    def boot(i: int) -> None:
        h = svc.select_destinations(None, one(f"u{i}"))[0].host
        with lock:
            picked.append(h)

    threads = [threading.Thread(target=boot, args=(i,)) for i in range(150)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    counts = Counter(picked)
    assert sum(counts.values()) == 150 and max(counts.values()) - min(counts.values()) <= 1


def test_driver_from_config(conf: Any) -> None:
    pytest.importorskip("cumulo_scheduler_chance")
    conf.set("driver", "chance", group="scheduler")
    svc = Service(None, host_state_source=Source([host("a")]))
    assert type(svc.driver).__name__ == "ChanceScheduler"
    assert svc.select_destinations(None, one())[0].host == "a"


def test_unknown_driver_names_the_installed_ones(conf: Any) -> None:
    from cumulo import registry

    conf.set("driver", "nope", group="scheduler")
    svc = Service(None, host_state_source=Source([host("a")]))
    with pytest.raises(registry.PluginError, match="No scheduler plugin named 'nope'"):
        svc.select_destinations(None, one())


def test_spec_and_host_round_trip() -> None:
    s = spec(2, availability_zone="az", instance_group={"policy": "affinity", "hosts": ["a"]})
    assert RequestSpec.from_dict({**s.to_dict(), "unknown": 1}) == s
    h = host("a", instances={"x", "y"}, aggregates=[{"id": 1, "metadata": {"k": "v"}}])
    assert HostState.from_dict(h.to_dict()) == h


def test_rpc_round_trip(conf: Any) -> None:
    from cumulo import messaging
    from cumulo.messaging.rpc import RPCServer

    transport = messaging.get_transport("inprocess://")
    svc = Service(None, host_state_source=Source([host("a", memory_mb=512)]), driver=FirstFit())
    server = RPCServer(transport, sched_mod.TOPIC, server="s1", endpoints=[SchedulerEndpoint(svc)]).start()
    try:
        client = SchedulerClient(transport, timeout=10)
        picks = client.select_destinations(None, one("u1"))
        assert [p.host for p in picks] == ["a"] and picks[0].instances == {"u1"}
        with pytest.raises(NoValidHost, match="no room"):
            client.select_destinations(None, one("u2"))
        client.release(None, ["u1"])
        for _ in range(100):
            if not svc.pending_claims():
                break
            threading.Event().wait(0.01)
        assert svc.pending_claims() == {}
    finally:
        server.stop()


def test_start_serves_rpc_and_registers(cumulo_db: Any) -> None:
    pytest.importorskip("cumulo_scheduler_filter")
    from cumulo import service as service_fw
    from cumulo.services import ServiceHub

    hub = ServiceHub()
    hub._services["scheduler"] = Service(hub, host_state_source=Source([host("a")]))
    started = sched_mod.start(hub)
    try:
        rows = service_fw.list_services(binary=sched_mod.BINARY)
        assert [r["host"] for r in rows] == ["test-host"] and rows[0]["state"] == "up"
        picks = SchedulerClient(hub.transport, timeout=10).select_destinations(None, one())
        assert picks[0].host == "a"
    finally:
        for s in started:
            s.stop()
