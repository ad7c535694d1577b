"""Metadata proxies with real packets: curl in an "instance" namespace asks 169.254.169.254 in a proxy namespace.

Each test makes a proxy namespace (the metadata address on its ``lo``, as a
router namespace has it) and an instance namespace joined to it by a veth,
with the route to 169.254.169.254 through the proxy namespace; the upstream is
an HTTP server of the test on 127.0.0.1 of the test's own namespace that
answers with what it got. Everything a test makes is removed by its fixtures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import json
import os
import shutil
import socket
import threading
import time
import uuid
import wsgiref.simple_server
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cumulo_network_linux import metadata_proxy, netns
from cumulo_network_linux.metadata_proxy import InstanceRef, MetadataProxies

from cumulo.interfaces.network import NetworkDriverError
from cumulo.testing.fixtures import unavailable
from cumulo.utils.metadata_proxy import sign

SECRET = "proxy-test-secret"
METADATA = "169.254.169.254"
GATEWAY = "10.99.0.1"
INSTANCE = "10.99.0.5"
STRANGER = "10.99.0.6"
URL = f"http://{METADATA}/openstack/latest/meta_data.json"
CURL_REFUSED = 7


# -- the site: a proxy namespace and an instance namespace ----------------------------------------------


@dataclasses.dataclass
class Site:
    proxy_ns: str
    instance_ns: str

    def curl(self, *args: str, url: str = URL) -> tuple[int, str, int]:
        """(HTTP status, body, curl's exit code) of ``curl args url`` run in the instance namespace."""
        done = netns.run(self.instance_ns, ["curl", "-sS", "-m", "5", "-w", "\n%{http_code}", *args, url],
                         check=False)
        body, _, code = done.stdout.rpartition("\n")
        return int(code or 0), body, done.returncode

    def listeners(self) -> int:
        """Listening TCP sockets on 169.254.169.254:80 in the proxy namespace (/proc/net/tcp is the reader's)."""
        table = netns.run(self.proxy_ns, ["cat", "/proc/net/tcp"]).stdout.splitlines()[1:]
        return sum(1 for row in table if row.split()[1] == "FEA9FEA9:0050" and row.split()[3] == "0A")


def _veth(proxy_ns: str, instance_ns: str) -> None:
    """A veth from the proxy namespace (GATEWAY) to the instance's eth0 (INSTANCE and STRANGER) and its routes."""
    with netns.route(proxy_ns) as ipr:
        ipr.link("add", ifname="mdq", kind="veth", peer={"ifname": "eth0", "net_ns_fd": instance_ns})
        index = netns.link_index(ipr, "mdq")
        ipr.link("set", index=index, state="up")
        ipr.addr("add", index=index, address=GATEWAY, prefixlen=24)
        ipr.addr("add", index=netns.link_index(ipr, "lo"), address=METADATA, prefixlen=32)
    with netns.route(instance_ns) as ipr:
        index = netns.link_index(ipr, "eth0")
        ipr.link("set", index=index, state="up")
        for address in (INSTANCE, STRANGER):
            ipr.addr("add", index=index, address=address, prefixlen=24)
        ipr.route("add", dst=f"{METADATA}/32", gateway=GATEWAY, prefsrc=INSTANCE)


@pytest.fixture
def site() -> Iterator[Site]:
    if os.geteuid() != 0:
        unavailable("metadata proxy tests need root (namespaces, veths)")
    for tool in ("curl", "nsenter"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed")
    suffix = uuid.uuid4().hex[:8]
    made = Site(f"mdp-{suffix}", f"mdi-{suffix}")
    try:
        netns.ensure(made.proxy_ns)
        netns.ensure(made.instance_ns)
        _veth(made.proxy_ns, made.instance_ns)
        yield made
    finally:
        netns.remove(made.instance_ns)
        netns.remove(made.proxy_ns)


# -- the upstream: an HTTP server that answers with what it got --------------------------------------------


class Upstream:
    """Requests it got, as (method, path, [(header, value)]); ``/metadata/slow`` answers after 2 s."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, list[tuple[str, str]]]] = []
        upstream = self

        class Echo(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.requests.append((self.command, self.path, list(self.headers.items())))
                if self.path == "/metadata/slow":
                    time.sleep(2)
                body = json.dumps({"path": self.path, "headers": self.headers.items()}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metadata"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    try:
        yield server
    finally:
        server.close()


class Lookup:
    """INSTANCE is vm-a of project p1; anything else is nobody. Records how it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, namespace: str, address: str) -> InstanceRef | None:
        self.calls.append((namespace, address))
        return InstanceRef("vm-a", "p1") if address == INSTANCE else None


@contextlib.contextmanager
def proxies_for(url: str, lookup: Callable[[str, str], InstanceRef | None] | None = None,
                **kwargs: Any) -> Iterator[MetadataProxies]:
    proxies = MetadataProxies(url, SECRET, lookup or Lookup(), **kwargs)
    try:
        yield proxies
    finally:
        proxies.close()


def _header(headers: list[list[str]], name: str) -> list[str]:
    return [value for key, value in headers if key.lower() == name.lower()]


# -- forwarding -------------------------------------------------------------------------------------------


def test_a_request_is_forwarded_signed_for_the_instance_that_asks(site: Site, upstream: Upstream) -> None:
    lookup = Lookup()
    with proxies_for(upstream.url, lookup) as proxies:
        proxies.ensure(site.proxy_ns)
        assert proxies.running() == {site.proxy_ns}
        status, body, _ = site.curl("-H", "Accept: application/json")
    assert status == 200, body
    got = json.loads(body)
    assert got["path"] == "/metadata/openstack/latest/meta_data.json"
    headers = got["headers"]
    assert _header(headers, "X-Instance-ID") == ["vm-a"]
    assert _header(headers, "X-Instance-ID-Signature") == [sign("vm-a", SECRET)]
    assert _header(headers, "X-Tenant-ID") == ["p1"]
    assert _header(headers, "X-Forwarded-For") == [INSTANCE]
    assert _header(headers, "Accept") == ["application/json"]
    assert lookup.calls == [(site.proxy_ns, INSTANCE)]


def test_the_instances_own_proxy_headers_are_dropped(site: Site, upstream: Upstream) -> None:
    with proxies_for(upstream.url) as proxies:
        proxies.ensure(site.proxy_ns)
        status, body, _ = site.curl("-H", "X-Instance-ID: vm-b", "-H", f"X-Instance-ID-Signature: {sign('vm-b', 'x')}",
                                    "-H", "x-tenant-id: p2", "-H", "X-Forwarded-For: 10.99.0.7",
                                    "-H", "X-Auth-Token: stolen", "-H", "Forwarded: for=10.99.0.7")
    assert status == 200, body
    headers = json.loads(body)["headers"]
    assert _header(headers, "X-Instance-ID") == ["vm-a"]
    assert _header(headers, "X-Instance-ID-Signature") == [sign("vm-a", SECRET)]
    assert _header(headers, "X-Tenant-ID") == ["p1"]
    assert _header(headers, "X-Forwarded-For") == [INSTANCE]
    assert not _header(headers, "X-Auth-Token") and not _header(headers, "Forwarded")


def test_an_unknown_source_gets_404_and_nothing_is_forwarded(site: Site, upstream: Upstream) -> None:
    lookup = Lookup()
    with proxies_for(upstream.url, lookup) as proxies:
        proxies.ensure(site.proxy_ns)
        status, body, _ = site.curl("--interface", STRANGER)
    assert status == 404 and body.startswith("404 Not Found")
    assert lookup.calls == [(site.proxy_ns, STRANGER)]
    assert upstream.requests == []


def test_a_failing_lookup_is_503_not_a_crash(site: Site, upstream: Upstream) -> None:
    def broken(namespace: str, address: str) -> InstanceRef | None:
        raise RuntimeError("model not loaded")

    with proxies_for(upstream.url, broken) as proxies:
        proxies.ensure(site.proxy_ns)
        assert site.curl()[0] == 503
        assert site.curl()[0] == 503  # and it still serves
    assert upstream.requests == []


# -- what an instance may send ---------------------------------------------------------------------------


def test_only_get_and_head_of_plain_paths_with_bounded_headers(site: Site, upstream: Upstream) -> None:
    with proxies_for(upstream.url) as proxies:
        proxies.ensure(site.proxy_ns)
        status, _, _ = site.curl("-X", "POST", "-d", "x")
        assert status == 405
        status, body, _ = site.curl("-I")
        assert status == 200 and "Content-Length:" in body  # HEAD: the upstream's headers, no body
        assert upstream.requests[-1][0] == "HEAD"
        status, body, _ = site.curl("-H", "X-Big: " + "a" * (metadata_proxy.MAX_REQUEST_HEAD + 1))
        assert status == 431, body
        status, _, _ = site.curl("--path-as-is", url=f"http://{METADATA}/openstack/../../compute/v2.1/servers")
        assert status == 400
        status, _, _ = site.curl("--path-as-is", url=f"http://{METADATA}/openstack/%2e%2e/x")
        assert status == 400
        assert {path for _, path, _ in upstream.requests} == {"/metadata/openstack/latest/meta_data.json"}


def test_a_silent_client_gets_408(site: Site, upstream: Upstream) -> None:
    with proxies_for(upstream.url, client_timeout=0.5) as proxies:
        proxies.ensure(site.proxy_ns)
        conn = netns.in_namespace(site.instance_ns, lambda: socket.create_connection((METADATA, 80), timeout=5))
        with conn:
            started = time.monotonic()
            answer = conn.recv(4096)
            assert answer.startswith(b"HTTP/1.0 408 ") and time.monotonic() - started < 3


# -- upstream failures -----------------------------------------------------------------------------------


def test_upstream_down_is_502_and_slow_is_504(site: Site, upstream: Upstream) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]  # nothing listens there once it is closed
    with proxies_for(f"http://127.0.0.1:{closed_port}/metadata") as proxies:
        proxies.ensure(site.proxy_ns)
        status, body, _ = site.curl()
    assert status == 502 and "unavailable" in body
    with proxies_for(upstream.url, upstream_timeout=0.5) as proxies:
        proxies.ensure(site.proxy_ns)
        started = time.monotonic()
        status, body, _ = site.curl(url=f"http://{METADATA}/slow")
    assert status == 504 and "in time" in body and time.monotonic() - started < 2


# -- life cycle ---------------------------------------------------------------------------------------------


def test_remove_closes_the_socket(site: Site, upstream: Upstream) -> None:
    with proxies_for(upstream.url) as proxies:
        proxies.ensure(site.proxy_ns)
        assert site.curl()[0] == 200
        proxies.remove(site.proxy_ns)
        assert proxies.running() == set()
        assert site.listeners() == 0
        status, _, exit_code = site.curl()
        assert exit_code == CURL_REFUSED and status == 0
        proxies.remove(site.proxy_ns)  # twice is no error


def test_ensure_twice_keeps_one_listener(site: Site, upstream: Upstream) -> None:
    with proxies_for(upstream.url) as proxies:
        proxies.ensure(site.proxy_ns)
        proxies.ensure(site.proxy_ns)
        assert proxies.running() == {site.proxy_ns}
        assert site.listeners() == 1
        assert site.curl()[0] == 200
    assert site.listeners() == 0  # close() stopped it


def test_a_namespace_made_again_gets_a_new_proxy(site: Site, upstream: Upstream) -> None:
    with proxies_for(upstream.url) as proxies:
        proxies.ensure(site.proxy_ns)
        netns.remove(site.instance_ns)
        netns.remove(site.proxy_ns)  # the old proxy's socket keeps the old namespace alive, unreachable
        netns.ensure(site.proxy_ns)
        netns.ensure(site.instance_ns)
        _veth(site.proxy_ns, site.instance_ns)
        assert site.listeners() == 0
        proxies.ensure(site.proxy_ns)
        assert site.listeners() == 1
        assert site.curl()[0] == 200


def test_a_proxy_listens_before_its_address_exists(site: Site, upstream: Upstream) -> None:
    with netns.route(site.proxy_ns) as ipr:
        ipr.addr("del", index=netns.link_index(ipr, "lo"), address=METADATA, prefixlen=32)
    with proxies_for(upstream.url) as proxies:
        proxies.ensure(site.proxy_ns)  # as in a DHCP namespace whose interface is not up yet
        with netns.route(site.proxy_ns) as ipr:
            ipr.addr("add", index=netns.link_index(ipr, "lo"), address=METADATA, prefixlen=32)
        assert site.curl()[0] == 200


# -- refusals without a data plane ----------------------------------------------------------------------------


def test_an_empty_secret_or_a_bad_url_refuses_to_start() -> None:
    with pytest.raises(NetworkDriverError, match=r"\[metadata\] proxy_shared_secret"):
        MetadataProxies("http://127.0.0.1:8774/metadata", "", Lookup()).ensure("qrouter-none")
    with pytest.raises(NetworkDriverError, match=r"metadata_url"):
        MetadataProxies("127.0.0.1:8774/metadata", SECRET, Lookup()).ensure("qrouter-none")
    with pytest.raises(NetworkDriverError, match=r"metadata_url"):
        MetadataProxies("http://127.0.0.1:port/metadata", SECRET, Lookup()).ensure("qrouter-none")
    proxies = MetadataProxies("http://127.0.0.1:8774/metadata", "", Lookup())
    proxies.remove("qrouter-none")  # removing what never ran is no error, secret or not
    assert proxies.running() == set()


def test_a_missing_namespace_is_an_error_and_is_not_made() -> None:
    name = f"mdx-{uuid.uuid4().hex[:8]}"
    with pytest.raises(NetworkDriverError, match="does not exist"):
        MetadataProxies("http://127.0.0.1:8774/metadata", SECRET, Lookup()).ensure(name)
    assert not netns.exists(name)


# -- against the real metadata service ------------------------------------------------------------------------


class _Compute:
    """The compute area as the metadata service asks it: vm-a of p1 exists, nothing else."""

    def instance_for_metadata(self, instance_uuid: str | None = None, remote_address: str | None = None,
                              network_id: str | None = None) -> dict[str, Any]:
        from cumulo import exception

        if instance_uuid == "vm-a":
            return {"uuid": "vm-a", "display_name": "a", "project_id": "p1", "hostname": "a"}
        raise exception.NotFound("The metadata service cannot tell which instance is asking.")


class _Quiet(wsgiref.simple_server.WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def metadata_service(cumulo_db: Any) -> Iterator[str]:
    import types

    from cumulo_api_compute import metadata

    cumulo_db.set("proxy_shared_secret", SECRET, group="metadata")
    app = metadata.build(types.SimpleNamespace(compute=_Compute()))
    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_real_metadata_service_answers_the_instance_and_no_other(site: Site, metadata_service: str) -> None:
    who = {INSTANCE: InstanceRef("vm-a", "p1"), STRANGER: InstanceRef("vm-b", "p1")}
    with proxies_for(metadata_service, lambda namespace, address: who.get(address)) as proxies:
        proxies.ensure(site.proxy_ns)
        status, body, _ = site.curl()
        assert status == 200, body
        assert json.loads(body)["uuid"] == "vm-a"
        status, body, _ = site.curl(url=f"http://{METADATA}/latest/meta-data/instance-id")
        assert (status, body) == (200, "vm-a")
        assert site.curl("--interface", STRANGER)[0] == 404  # vm-b: the service knows no such instance
