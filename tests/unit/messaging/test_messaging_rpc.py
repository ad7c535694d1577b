"""RPC over the in-process transport: call, cast, fanout, timeouts, errors, payloads, concurrency."""

import datetime
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from cumulo import exception, messaging
from cumulo.context import RequestContext


class WidgetBroken(exception.CumuloError):
    code = 409
    msg_fmt = "Widget %(name)s is broken."


class OddInit(exception.CumuloError):
    """A CumuloError whose constructor does not take a message."""

    code = 418

    def __init__(self, a, b):
        super().__init__(f"odd {a} {b}")


class Calc:
    def __init__(self, name="calc"):
        self.name = name
        self.calls = []
        self.cast_done = threading.Event()

    def add(self, ctx, a, b):
        self.calls.append(("add", a, b))
        return a + b

    def whoami(self, ctx):
        return {"name": self.name, "ctx_type": type(ctx).__name__,
                "user_id": ctx.user_id if ctx else None,
                "roles": ctx.roles if ctx else None,
                "request_id": ctx.request_id if ctx else None}

    def record(self, ctx, value):
        self.calls.append(("record", value))
        self.cast_done.set()

    def echo(self, ctx, **kwargs):
        return kwargs

    def not_found(self, ctx):
        raise exception.NotFound(resource="Widget", id="w1")

    def broken(self, ctx, name):
        raise WidgetBroken(name=name)

    def odd(self, ctx):
        raise OddInit(1, 2)

    def boom(self, ctx):
        raise ValueError("kaboom")

    def bad_result(self, ctx):
        return {"obj": object()}

    def sleep(self, ctx, seconds):
        time.sleep(seconds)
        return self.name

    def _secret(self, ctx):
        return "secret"


def start(servers, transport, topic, server, *endpoints, workers=None):
    s = messaging.RPCServer(transport, topic, server=server, endpoints=list(endpoints), workers=workers)
    servers.append(s)
    return s.start()


def test_call_returns_result_and_rebuilds_context(transport, servers):
    start(servers, transport, "calc", "h1", Calc())
    client = messaging.RPCClient(transport, "calc")
    assert client.call(None, "add", a=2, b=40) == 42
    ctx = RequestContext(user_id="u1", project_id="p1", roles=["member"])
    who = client.call(ctx, "whoami")
    assert who["ctx_type"] == "RequestContext"
    assert (who["user_id"], who["roles"], who["request_id"]) == ("u1", ["member"], ctx.request_id)
    assert client.call(None, "whoami")["ctx_type"] == "NoneType"


def test_first_endpoint_with_the_method_wins(transport, servers):
    class Other:
        def whoami(self, ctx):
            return {"name": "other"}

        def only_here(self, ctx):
            return "here"

    start(servers, transport, "calc", "h1", Calc("first"), Other())
    client = messaging.RPCClient(transport, "calc")
    assert client.call(None, "whoami")["name"] == "first"
    assert client.call(None, "only_here") == "here"


@pytest.mark.parametrize("method", ["_secret", "__init__", "__class__", "missing"])
def test_private_and_missing_methods_are_not_dispatched(transport, servers, method):
    start(servers, transport, "calc", "h1", Calc())
    with pytest.raises(messaging.NoSuchMethod) as err:
        messaging.RPCClient(transport, "calc").call(None, method, timeout=5)
    assert method in str(err.value)


def test_call_to_topic_without_server_times_out(transport):
    client = messaging.RPCClient(transport, "nobody", timeout=0.2)
    t0 = time.monotonic()
    with pytest.raises(exception.MessagingTimeout) as err:
        client.call(None, "add", a=1, b=2)
    assert 0.2 <= time.monotonic() - t0 < 2
    assert err.value.code == 504 and "add" in str(err.value) and "nobody" in str(err.value)
    # the per-call timeout wins over the client's
    t0 = time.monotonic()
    with pytest.raises(exception.MessagingTimeout):
        client.call(None, "add", timeout=0.05, a=1, b=2)
    assert time.monotonic() - t0 < 0.2


def test_call_to_unknown_server_times_out(transport, servers):
    start(servers, transport, "calc", "h1", Calc())
    with pytest.raises(exception.MessagingTimeout):
        messaging.RPCClient(transport, "calc").call(None, "add", server="h2", timeout=0.1, a=1, b=1)


def test_call_is_held_until_a_server_starts(transport, servers):
    client = messaging.RPCClient(transport, "late")
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(client.call, None, "add", timeout=5, a=1, b=1)
        time.sleep(0.05)
        start(servers, transport, "late", "h1", Calc())
        assert fut.result(timeout=5) == 2


def test_expired_held_call_is_not_run(transport, servers):
    calc = Calc()
    with pytest.raises(exception.MessagingTimeout):
        messaging.RPCClient(transport, "late").call(None, "record", timeout=0.05, value=1)
    start(servers, transport, "late", "h1", calc)
    messaging.RPCClient(transport, "late").call(None, "add", a=0, b=0)
    assert ("record", 1) not in calc.calls


def test_server_targeting_and_round_robin(transport, servers):
    a, b = Calc("a"), Calc("b")
    start(servers, transport, "calc", "ha", a)
    start(servers, transport, "calc", "hb", b)
    client = messaging.RPCClient(transport, "calc")
    assert {client.call(None, "whoami", server="hb")["name"] for _ in range(5)} == {"b"}
    names = [client.call(None, "whoami")["name"] for _ in range(10)]
    assert names.count("a") == names.count("b") == 5


def test_cast_runs_on_one_server_without_reply(transport, servers):
    a, b = Calc("a"), Calc("b")
    start(servers, transport, "calc", "ha", a)
    start(servers, transport, "calc", "hb", b)
    client = messaging.RPCClient(transport, "calc")
    assert client.cast(None, "record", server="hb", value="x") is None
    assert b.cast_done.wait(5)
    assert b.calls == [("record", "x")] and a.calls == []


def test_cast_errors_are_logged_not_raised(transport, servers, caplog):
    start(servers, transport, "calc", "h1", Calc())
    client = messaging.RPCClient(transport, "calc")
    client.cast(None, "boom")
    assert client.call(None, "add", a=1, b=1) == 2  # the server keeps serving
    deadline = time.monotonic() + 5
    while "kaboom" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "kaboom" in caplog.text


def test_fanout_reaches_every_server_of_the_topic_only(transport, servers):
    a, b, other = Calc("a"), Calc("b"), Calc("other")
    start(servers, transport, "calc", "ha", a)
    start(servers, transport, "calc", "hb", b)
    start(servers, transport, "other", "ha", other)
    messaging.RPCClient(transport, "calc").fanout(None, "record", value="all")
    assert a.cast_done.wait(5) and b.cast_done.wait(5)
    assert a.calls == b.calls == [("record", "all")]
    messaging.RPCClient(transport, "other").call(None, "add", a=0, b=0)
    assert ("record", "all") not in other.calls


def test_cumulo_errors_are_rebuilt_with_class_and_message(transport, servers):
    start(servers, transport, "calc", "h1", Calc())
    client = messaging.RPCClient(transport, "calc")
    with pytest.raises(exception.NotFound) as err:
        client.call(None, "not_found")
    assert str(err.value) == "Widget w1 could not be found." and err.value.code == 404
    assert err.value.kwargs == {"resource": "Widget", "id": "w1"}
    with pytest.raises(WidgetBroken) as err:
        client.call(None, "broken", name="gear")
    assert str(err.value) == "Widget gear is broken." and err.value.code == 409
    with pytest.raises(OddInit) as err:
        client.call(None, "odd")
    assert str(err.value) == "odd 1 2" and err.value.code == 418


def test_other_errors_become_remote_error(transport, servers):
    start(servers, transport, "calc", "h1", Calc())
    with pytest.raises(messaging.RemoteError) as err:
        messaging.RPCClient(transport, "calc").call(None, "boom")
    e = err.value
    assert isinstance(e, exception.CumuloError) and e.code == 500
    assert (e.exc_type, e.value) == ("ValueError", "kaboom")
    assert "def boom" in e.traceback or "in boom" in e.traceback
    assert "ValueError" in str(e) and "kaboom" in str(e)


def test_remote_error_passes_through_a_chain_of_calls(transport, servers):
    start(servers, transport, "calc", "h1", Calc())

    class Proxy:
        def relay(self, ctx):
            return messaging.RPCClient(transport, "calc").call(ctx, "boom")

    start(servers, transport, "proxy", "h1", Proxy())
    with pytest.raises(messaging.RemoteError) as err:
        messaging.RPCClient(transport, "proxy").call(None, "relay")
    assert (err.value.exc_type, err.value.value) == ("ValueError", "kaboom")


def test_extra_types_travel_as_json(transport, servers):
    start(servers, transport, "calc", "h1", Calc())
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    uid = uuid.uuid4()
    got = messaging.RPCClient(transport, "calc").call(None, "echo", when=when, id=uid, tags={"b", "a"},
                                                      pair=(1, 2), nested={"d": datetime.date(2026, 1, 2)})
    assert got == {"when": "2026-01-02T03:04:05+00:00", "id": str(uid), "tags": ["a", "b"],
                   "pair": [1, 2], "nested": {"d": "2026-01-02"}}


def test_arguments_are_copied_not_shared(transport, servers):
    class Mutator:
        def mutate(self, ctx, data):
            data["changed"] = True
            return data

    start(servers, transport, "calc", "h1", Mutator())
    data = {"k": [1]}
    out = messaging.RPCClient(transport, "calc").call(None, "mutate", data=data)
    assert out == {"k": [1], "changed": True} and data == {"k": [1]}


def test_unserialisable_arguments_fail_at_the_caller(transport, servers):
    calc = Calc()
    start(servers, transport, "calc", "h1", calc)
    client = messaging.RPCClient(transport, "calc")
    for send in (client.call, client.cast):
        with pytest.raises(messaging.SerializationError) as err:
            send(None, "record", value=object())
        assert isinstance(err.value, TypeError) and "record" in str(err.value)
    with pytest.raises(messaging.SerializationError):
        client.fanout(None, "record", value={1j})
    client.call(None, "add", a=0, b=0)
    assert [c for c in calc.calls if c[0] == "record"] == []


def test_unserialisable_result_fails_at_the_caller(transport, servers):
    start(servers, transport, "calc", "h1", Calc())
    with pytest.raises(messaging.SerializationError) as err:
        messaging.RPCClient(transport, "calc").call(None, "bad_result")
    assert "bad_result" in str(err.value)


def test_200_concurrent_calls(transport, servers):
    active, peak, lock = [0], [0], threading.Lock()

    class Slow:
        def work(self, ctx, i):
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.01)
            with lock:
                active[0] -= 1
            return i * 2

    start(servers, transport, "slow", "h1", Slow(), workers=16)
    start(servers, transport, "slow", "h2", Slow(), workers=16)
    client = messaging.RPCClient(transport, "slow", timeout=30)
    t0 = time.monotonic()
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda i: client.call(None, "work", i=i), range(200)))
    elapsed = time.monotonic() - t0
    assert results == [i * 2 for i in range(200)]
    assert 1 < peak[0] <= 32
    assert elapsed < 200 * 0.01  # ran in parallel, not one after another


def test_stop_waits_for_inflight_calls_and_is_idempotent(transport):
    server = messaging.RPCServer(transport, "calc", server="h1", endpoints=[Calc("slow")])
    server.start()
    server.start()
    client = messaging.RPCClient(transport, "calc")
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(client.call, None, "sleep", seconds=0.3)
        time.sleep(0.1)
        t0 = time.monotonic()
        server.stop()
        assert time.monotonic() - t0 >= 0.1  # it waited for the running call
        assert fut.result(timeout=5) == "slow"  # whose reply was sent before stop() returned
    server.stop()
    with pytest.raises(exception.MessagingTimeout):
        client.call(None, "add", server="h1", timeout=0.1, a=1, b=1)
    server.start()  # restartable
    try:
        assert client.call(None, "add", a=1, b=1) == 2
    finally:
        server.stop()


def test_server_defaults_to_conf_host_and_workers(transport, servers):
    from cumulo.conf import CONF

    s = start(servers, transport, "calc", None, Calc())
    assert s.server == CONF.host and s.workers == CONF.messaging.rpc_workers
    assert messaging.RPCClient(transport, "calc").call(None, "add", server=CONF.host, a=1, b=2) == 3


def test_bad_ctx_and_method_are_rejected_at_the_caller(transport):
    client = messaging.RPCClient(transport, "calc")
    with pytest.raises(TypeError):
        client.cast(object(), "add")
    with pytest.raises(TypeError):
        client.cast(None, "")
