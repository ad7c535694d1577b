"""cumulo.messaging on a real RabbitMQ (127.0.0.1:5672, guest/guest; CUMULO_TEST_RABBIT_URL overrides).

Every test uses its own control exchange, so its queues are its own, and deletes
them afterwards. Skips when no broker answers, unless the CI variable is set.
"""

import os
import queue
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from cumulo_messaging_rabbit import opts as rabbit_opts
from cumulo_messaging_rabbit.transport import RabbitTransport, drop_connections

from cumulo import exception, messaging
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.interfaces.base import PluginContext

URL = os.environ.get("CUMULO_TEST_RABBIT_URL", "rabbit://guest:guest@127.0.0.1:5672/")


def _broker_up() -> bool:
    parts = urllib.parse.urlsplit(URL)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), timeout=2):
            return True
    except OSError:
        return False


def _rabbit(url: str) -> RabbitTransport:
    """A private transport (not the process's cached one), built as the registry builds it."""
    CONF.register_opts(rabbit_opts.rabbit_opts, group=rabbit_opts.GROUP)  # as loading the plugin does
    return RabbitTransport(PluginContext(CONF, kind="transport", name="rabbit", url=url))


@pytest.fixture(scope="module", autouse=True)
def _need_rabbit():
    if not _broker_up():
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is not reachable at {URL} (CI is set, so this is a failure)")
        pytest.skip(f"RabbitMQ is not reachable at {URL}")


@pytest.fixture
def bus():
    """Yields a factory of RabbitTransports sharing one private control exchange; cleans up after."""
    CONF.set_override("control_exchange", f"cumulo-test-{uuid.uuid4().hex[:8]}", group="messaging")
    made, started = [], []

    def new(shared=True):
        t = messaging.get_transport(URL) if shared else _rabbit(URL)
        if t not in made:
            made.append(t)
        return t

    new.started = started
    yield new
    for s in started:
        s.stop(timeout=5)
    for t in made:
        t.close()
    for t in made:
        t.delete_declared()
    messaging.reset()
    CONF.clear_override("control_exchange", group="messaging")


class Calc:
    def __init__(self, name="calc"):
        self.name = name
        self.calls = []
        self.got = threading.Event()

    def add(self, ctx, a, b):
        return a + b

    def whoami(self, ctx):
        return {"name": self.name, "user_id": ctx.user_id if ctx else None}

    def record(self, ctx, value):
        self.calls.append(value)
        self.got.set()

    def not_found(self, ctx):
        raise exception.NotFound(resource="Widget", id="w1")

    def boom(self, ctx):
        raise ValueError("kaboom")

    def sleep(self, ctx, seconds):
        time.sleep(seconds)
        return self.name

    def _hidden(self, ctx):
        return "no"


def serve(bus, topic, server, endpoint, transport=None, workers=8):
    s = messaging.RPCServer(transport or bus(), topic, server=server, endpoints=[endpoint], workers=workers)
    bus.started.append(s)
    return s.start()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_call_cast_and_errors(bus):
    calc = Calc()
    serve(bus, "calc", "h1", calc)
    client = messaging.RPCClient(bus(False), "calc", timeout=10)  # a second process, as on another node
    assert client.call(None, "add", a=40, b=2) == 42
    assert client.call(RequestContext(user_id="u9"), "whoami") == {"name": "calc", "user_id": "u9"}
    with pytest.raises(exception.NotFound) as err:
        client.call(None, "not_found")
    assert str(err.value) == "Widget w1 could not be found." and err.value.code == 404
    with pytest.raises(messaging.RemoteError) as err:
        client.call(None, "boom")
    assert (err.value.exc_type, err.value.value) == ("ValueError", "kaboom")
    with pytest.raises(messaging.NoSuchMethod):
        client.call(None, "_hidden")
    client.cast(None, "record", value="c1")
    assert calc.got.wait(10) and calc.calls == ["c1"]


def test_unserialisable_payload_fails_before_sending(bus):
    calc = Calc()
    serve(bus, "calc", "h1", calc)
    client = messaging.RPCClient(bus(), "calc", timeout=10)
    with pytest.raises(messaging.SerializationError):
        client.cast(None, "record", value=object())
    assert client.call(None, "add", a=1, b=1) == 2 and calc.calls == []


def test_call_without_server_times_out_and_expires(bus):
    calc = Calc()
    server = serve(bus, "calc", "h1", calc)
    client = messaging.RPCClient(bus(), "calc")
    with pytest.raises(exception.MessagingTimeout):  # no queue at all for this topic
        messaging.RPCClient(bus(), "nobody").call(None, "add", a=1, b=1, timeout=0.3)
    server.stop()
    t0 = time.monotonic()
    with pytest.raises(exception.MessagingTimeout):  # the queue exists, nobody consumes it
        client.call(None, "record", value="expired", timeout=0.3)
    assert 0.3 <= time.monotonic() - t0 < 3
    client.cast(None, "record", value="kept")  # a cast waits in the queue for the server
    time.sleep(0.4)  # the call's message has expired by now
    server.start()
    assert calc.got.wait(10)
    assert client.call(None, "add", a=1, b=1, timeout=10) == 2
    assert calc.calls == ["kept"]


def test_server_targeting_round_robin_and_fanout(bus):
    a, b = Calc("a"), Calc("b")
    serve(bus, "calc", "ha", a)
    serve(bus, "calc", "hb", b, transport=bus(False))
    client = messaging.RPCClient(bus(), "calc", timeout=10)
    assert {client.call(None, "whoami", server="hb")["name"] for _ in range(4)} == {"b"}
    names = [client.call(None, "whoami")["name"] for _ in range(10)]
    assert set(names) == {"a", "b"}
    client.fanout(None, "record", value="all")
    assert a.got.wait(10) and b.got.wait(10)
    assert a.calls == b.calls == ["all"]


def test_200_concurrent_calls(bus):
    serve(bus, "calc", "h1", Calc(), workers=16)
    serve(bus, "calc", "h2", Calc(), transport=bus(False), workers=16)
    client = messaging.RPCClient(bus(), "calc", timeout=30)
    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(lambda i: client.call(None, "add", a=i, b=i), range(200)))
    assert results == [2 * i for i in range(200)]


def test_stop_waits_for_inflight_call(bus):
    server = serve(bus, "calc", "h1", Calc("slow"))
    client = messaging.RPCClient(bus(False), "calc", timeout=10)
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(client.call, None, "sleep", seconds=0.5)
        time.sleep(0.25)
        t0 = time.monotonic()
        server.stop()
        assert time.monotonic() - t0 >= 0.15  # it waited for the running call
        assert fut.result(timeout=5) == "slow"  # whose reply was sent before stop() returned


def test_notifications(bus):
    events, pooled = queue.Queue(), queue.Queue()
    listeners = [messaging.NotificationListener(bus(), ["notifications"], events.put),
                 messaging.NotificationListener(bus(), ["notifications"], pooled.put, pool="p"),
                 messaging.NotificationListener(bus(False), ["notifications"], pooled.put, pool="p")]
    for listener in listeners:
        bus.started.append(listener.start())
    notifier = messaging.Notifier(bus(False), "compute.h1", topics=["notifications"])
    notifier.info(RequestContext(user_id="u1"), "compute.instance.create.end", {"id": "i1"})
    notifier.error(None, "compute.instance.create.error", {"id": "i2"})
    first, second = events.get(timeout=10), events.get(timeout=10)
    assert (first["event_type"], first["priority"], first["payload"]) == \
        ("compute.instance.create.end", "INFO", {"id": "i1"})
    assert first["context"]["user_id"] == "u1" and first["publisher_id"] == "compute.h1"
    assert (second["priority"], second["payload"]) == ("ERROR", {"id": "i2"})
    got = sorted(pooled.get(timeout=10)["payload"]["id"] for _ in range(2))
    assert got == ["i1", "i2"]
    time.sleep(0.2)
    assert pooled.empty()  # the pool shares one stream: each event once


def _close_by_broker(transports) -> bool:
    """Close the transports' connections from the broker side with rabbitmqctl; False if unavailable."""
    ctl = shutil.which("rabbitmqctl")
    if not ctl:
        return False
    out = subprocess.run([ctl, "-q", "list_connections", "--no-table-headers", "pid", "client_properties"],
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        return False
    ids = [t.id for t in transports]
    pids = [line.split("\t", 1)[0] for line in out.stdout.splitlines()
            if any(f":{i}:" in line for i in ids)]
    assert pids, "no connection of the test transports is listed by rabbitmqctl"
    for pid in pids:
        subprocess.run([ctl, "-q", "close_connection", pid, "cumulo reconnect test"], check=True,
                       capture_output=True, timeout=60)
    return True


@pytest.mark.parametrize("how", ["broker", "socket"])
def test_reconnect_after_connection_drop(bus, how):
    server_side, client_side = bus(), bus(False)
    calc = Calc()
    server = serve(bus, "calc", "h1", calc, transport=server_side)
    events = queue.Queue()
    bus.started.append(messaging.NotificationListener(server_side, ["n"], events.put).start())
    client = messaging.RPCClient(client_side, "calc", timeout=15)
    assert client.call(None, "add", a=1, b=1) == 2  # every connection is open now
    consumers = server_side.consumers() + client_side.consumers()
    connects = [c.connects for c in consumers]

    if how == "socket" or not _close_by_broker([server_side, client_side]):
        assert drop_connections(server_side) + drop_connections(client_side) >= 3

    # A call made after the drop succeeds: its publish is retried on a new connection, the
    # server's consumer and the caller's reply consumer reconnect and re-declare.
    assert client.call(None, "add", a=2, b=3) == 5
    assert wait_for(lambda: all(c.connects > n for c, n in zip(consumers, connects, strict=True)))
    # and the server keeps consuming
    client.cast(None, "record", value="after")
    assert calc.got.wait(10) and calc.calls == ["after"]
    assert [client.call(None, "add", a=i, b=1) for i in range(20)] == [i + 1 for i in range(20)]
    assert server.running
    # notifications flow again too
    messaging.Notifier(client_side, "p", topics=["n"]).info(None, "after.drop", {})
    assert events.get(timeout=10)["event_type"] == "after.drop"


def test_busy_server_keeps_its_connection_and_queues_requests(bus):
    """With every worker busy for longer than the heartbeat timeout, the server still
    heartbeats, and the requests waiting for a worker run afterwards."""
    CONF.set_override("rabbit_heartbeat", 1, group="messaging")
    try:
        server_side = bus()
        calc = Calc("busy")
        serve(bus, "calc", "h1", calc, transport=server_side, workers=1)
        client = messaging.RPCClient(bus(False), "calc", timeout=15)
        with ThreadPoolExecutor(3) as pool:
            slow = pool.submit(client.call, None, "sleep", seconds=3)
            time.sleep(0.2)
            queued = [pool.submit(client.call, None, "add", a=i, b=1) for i in range(2)]
            assert slow.result(timeout=15) == "busy"
            assert [f.result(timeout=15) for f in queued] == [1, 2]
        assert [c.connects for c in server_side.consumers()] == [1]
    finally:
        CONF.clear_override("rabbit_heartbeat", group="messaging")


def test_refused_credentials_are_reported(bus):
    parts = urllib.parse.urlsplit(URL)
    bad = urllib.parse.urlunsplit((parts.scheme, f"nobody-{uuid.uuid4().hex[:6]}:wrong@{parts.hostname}:"
                                                 f"{parts.port or 5672}", parts.path, "", ""))
    t = _rabbit(bad)
    try:
        with pytest.raises(exception.ServiceUnavailable):
            messaging.RPCClient(t, "calc").cast(None, "record", value=1)
    finally:
        t.close()


def _delete_entities_with_prefix(prefix: str) -> None:
    """Delete the queues and exchanges whose names start with ``prefix`` (needs rabbitmqctl)."""
    ctl = shutil.which("rabbitmqctl")
    if not ctl:
        return
    found = {}
    for kind in ("queues", "exchanges"):
        out = subprocess.run([ctl, "-q", f"list_{kind}", "--no-table-headers", "name"], capture_output=True,
                             text=True, timeout=60)
        found[kind] = [n.strip() for n in out.stdout.splitlines() if n.strip().startswith(prefix)]
    conn = _rabbit(URL).new_connection("cleanup")
    try:
        channel = conn.channel()
        for name in found["queues"]:
            channel.queue_delete(name)
        for name in found["exchanges"]:
            channel.exchange_delete(name)
    finally:
        conn.release()


def test_all_in_one_cloud_runs_on_rabbitmq(tmp_path):
    """The whole cloud with [messaging] transport_url = rabbit://: the openstack client boots and
    deletes a server (API -> scheduler -> compute host over the broker)."""
    from cumulo.testing.cloud import CumuloCloud

    exchange = f"cumulo-aio-{uuid.uuid4().hex[:8]}"
    cloud = CumuloCloud(tmp_path, config={"messaging": {"transport_url": URL, "control_exchange": exchange}})
    image = tmp_path / "tiny.raw"
    image.write_bytes(b"\0" * 65536)
    try:
        cloud.start(timeout=180)  # a whole cloud on a busy CI machine (seen past 90 s)
        cloud.openstack("image", "create", "--file", str(image), "--disk-format", "raw",
                        "--container-format", "bare", "tiny", "-f", "json")
        server = cloud.openstack("server", "create", "--flavor", "m1.tiny", "--image", "tiny", "--wait",
                                 "vm1", "-f", "json")
        assert server["status"] == "ACTIVE" and server["name"] == "vm1"
        cloud.openstack("server", "delete", "--wait", "vm1")
        assert cloud.openstack("server", "list", "-f", "json") == []
    finally:
        cloud.stop()
        _delete_entities_with_prefix(exchange)
