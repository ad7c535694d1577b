"""Fuzz every route of every API against a real ``cumulo up``: no client mistake gets a 5xx.

The routes come from the frontends themselves: the enabled frontends are built
in this process (no database touched) only to read their route tables
(``cumulo.testing.fuzz.route_table``); apps without one (Swift, the metadata
service) declare their path shape. Requests go over raw sockets, so the
server's own framing is exercised (truncated bodies, bad chunked coding,
duplicate or conflicting Content-Length), with the admin's real token and with
none. A sweep sends each kind of mistake to each route once; hypothesis then
varies routes, kinds, variants and path parameters (``CUMULO_FUZZ_EXAMPLES``
requests, at most ``CUMULO_FUZZ_SECONDS``).
Every 4xx must carry a JSON fault whose message names the problem (Swift: a
plain-text one, as Swift clients expect).

Also here: unscoped tokens get nothing outside identity, and the access log
shows the 4xx a user got.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import socket
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from cumulo import registry
from cumulo.interfaces.base import PluginContext
from cumulo.testing import fuzz
from cumulo.testing.cloud import CumuloCloud

#: The hypothesis phase stops at whichever comes first (the sweep is bounded by the routes).
BUDGET = float(os.environ.get("CUMULO_FUZZ_SECONDS", "10"))
EXAMPLES = int(os.environ.get("CUMULO_FUZZ_EXAMPLES", "300"))
WORKERS = 4
#: Apps without a route table declare their path shape (the fuzz fills the parameters).
SHAPES = {"/object-store": ["v1", "{account}", "{container}", "{object}"],
          "/compute/metadata": ["openstack", "{version}", "{name}"]}


class Wire:
    """The running cloud, spoken to over raw sockets."""

    def __init__(self, cloud: CumuloCloud) -> None:
        self.cloud = cloud
        parts = urllib.parse.urlsplit(cloud.url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token = ""
        self.values: dict[str, str] = {}
        self.routes: list[fuzz.Route] = []

    def send(self, req: fuzz.Hostile, token: str | None) -> tuple[int, dict[str, str], bytes]:
        with socket.create_connection((self.host, self.port), timeout=30) as sock:
            try:
                sock.sendall(req.raw(f"{self.host}:{self.port}", token))
                sock.shutdown(socket.SHUT_WR)  # a truncated body ends here, as a client that stops sending
            except OSError:
                pass  # the server answered (and closed) before taking everything: read its answer
            resp = http.client.HTTPResponse(sock, method=req.method)
            resp.begin()
            body = resp.read()
            return resp.status, {k: v for k, v in resp.getheaders()}, body

    def url(self, path: str) -> str:
        return self.cloud.url.rstrip("/") + path


def _route_table() -> list[fuzz.Route]:
    """The enabled frontends' routes, read from apps built here (nothing is started or stored)."""
    from cumulo.conf import CONF
    from cumulo.services import ServiceHub

    if CONF._args is None:
        CONF(args=[], project="cumulo", default_config_files=[])
    hub = ServiceHub(CONF)
    frontends = registry.load_plugins("api", CONF.api.frontends, PluginContext(CONF))
    routes = fuzz.route_table({f.path_prefix: f.build_app(hub) for f in frontends})
    prefixes = {f.path_prefix for f in frontends} | {"/compute/metadata"}
    for prefix, shape in SHAPES.items():
        if prefix in prefixes:
            routes += fuzz.probe_routes(prefix, shape)
    return routes


def _admin_token(cloud: CumuloCloud, scoped: bool = True) -> tuple[str, dict[str, Any]]:
    auth: dict[str, Any] = {"identity": {"methods": ["password"], "password": {
        "user": {"name": "admin", "domain": {"id": "default"}, "password": cloud.admin_password}}}}
    if scoped:
        auth["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    resp = requests.post(cloud.url + "/identity/v3/auth/tokens", json={"auth": auth}, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"], resp.json()


@pytest.fixture(scope="module")
def wire(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    """A cloud of its own: the fuzz creates and changes things other tests must not see."""
    cloud = CumuloCloud(tmp_path_factory.mktemp("fuzzcloud"))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        table = pool.submit(_route_table)  # while the cloud starts
        cloud.start()
        routes = table.result()
    try:
        w = Wire(cloud)
        w.token, doc = _admin_token(cloud)
        w.values = _resources(w, doc["token"])
        w.routes = routes
        yield w
    finally:
        cloud.stop()


def _resources(w: Wire, token: dict[str, Any]) -> dict[str, str]:
    """Real ids for path parameters, so requests get past the lookup to the body parsing."""
    h = {"X-Auth-Token": w.token}
    project = token["project"]["id"]
    values = {"project_id": project, "user_id": token["user"]["id"], "domain_id": "default",
              "role_id": token["roles"][0]["id"], "system": "all", "account": f"AUTH_{project}",
              "container": "fuzz", "object": "obj", "version": "latest", "name": "meta_data.json"}
    net = requests.post(w.url("/network/v2.0/networks"), json={"network": {"name": "fuzz"}}, headers=h,
                        timeout=30)
    assert net.status_code == 201, net.text
    values["rid"] = values["network_id"] = net.json()["network"]["id"]
    img = requests.post(w.url("/image/v2/images"), json={"name": "fuzz", "disk_format": "raw",
                                                         "container_format": "bare"}, headers=h, timeout=30)
    assert img.status_code == 201, img.text
    values["image_id"] = img.json()["id"]
    flavors = requests.get(w.url("/compute/v2.1/flavors"), headers=h, timeout=30).json()["flavors"]
    if flavors:
        values["flavor_id"] = flavors[0]["id"]
    requests.put(w.url(f"/object-store/v1/AUTH_{project}/fuzz"), headers=h, timeout=30)
    return values


def _check(w: Wire, req: fuzz.Hostile, token: str | None) -> tuple[int, list[str]]:
    """(status, what is wrong with the answer); status 0 when there was none."""
    try:
        status, headers, body = w.send(req, token)
    except (OSError, http.client.HTTPException) as err:
        return 0, [f"{req.kind}: {req.method} {req.target}: no answer ({err!r})"]
    return status, fuzz.problems(req, status, headers, body, authenticated=bool(token),
                                 json_faults=not req.route.prefix.startswith("/object-store"))


def test_route_tables_cover_every_api(wire: Wire) -> None:
    prefixes = {r.prefix for r in wire.routes}
    assert {"/identity", "/compute", "/image", "/network", "/object-store", "/compute/metadata"} <= prefixes
    assert len([r for r in wire.routes if r.router is not None]) > 250


def _sweep_route(wire: Wire, n: int, route: fuzz.Route) -> tuple[int, list[str]]:
    """Every kind on one route, as the admin and without a token. Without a token, body kinds
    stop at the first 401 (the auth middleware answers before any body is read)."""
    values = {} if route.method == "DELETE" else wire.values  # the sweep must not delete its ids
    sent, found, refused = 0, [], False
    for k, kind in enumerate(fuzz.BODY_KINDS + fuzz.WIRE_KINDS + fuzz.URL_KINDS):
        if kind in fuzz.BODY_KINDS + fuzz.WIRE_KINDS and not route.takes_body:
            continue
        req = fuzz.build(kind, route, values, choice=n + k, routes=wire.routes)
        found += _check(wire, req, wire.token)[1]
        sent += 1
        if refused and kind in fuzz.BODY_KINDS:
            continue
        status, problems = _check(wire, req, None)
        sent += 1
        found += problems
        refused = refused or status == 401
    return sent, found


def test_sweep_every_route_every_kind_over_the_wire(wire: Wire) -> None:
    """Each (route, kind) once, as the admin and without a token; wire-only kinds included."""
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda nr: _sweep_route(wire, *nr), enumerate(wire.routes)))
    sent = sum(r[0] for r in results)
    found = [p for r in results for p in r[1]]
    print(f"sweep: {sent} requests in {time.monotonic() - started:.1f}s")
    assert sent > 2500
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:40]) + "\n" + wire.cloud.log_tail(30)


def test_hypothesis_varied_requests_over_the_wire(wire: Wire) -> None:
    """Random routes, kinds (wire-only ones too), variants and path parameters, for BUDGET seconds."""
    deadline = time.monotonic() + BUDGET
    sent: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(req=fuzz.strategies(wire.routes, wire.values, fuzz.KINDS), authenticated=st.booleans())
    def run(req: fuzz.Hostile, authenticated: bool) -> None:
        if len(sent) >= 50 and time.monotonic() > deadline:  # the budget never empties the run
            return
        sent.append(1)
        found = _check(wire, req, wire.token if authenticated else None)[1]
        assert not found, "\n".join(found)

    begun = time.monotonic()
    run()
    print(f"hypothesis: {len(sent)} requests in {time.monotonic() - begun:.1f}s")
    assert len(sent) >= min(50, EXAMPLES)


def test_the_access_log_shows_the_4xx_a_user_got(wire: Wire) -> None:
    resp = requests.post(wire.url("/network/v2.0/networks?temp_url_sig=s3cr3t"), data=b'{"network": {"n": 1e999}}',
                         headers={"X-Auth-Token": wire.token, "Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 400 and "out of range" in resp.json()["NeutronError"]["message"]
    rid = resp.headers["x-openstack-request-id"]
    log = os.path.join(wire.cloud.state_path, "cumulo.log")
    deadline = time.monotonic() + 10
    line = ""
    while time.monotonic() < deadline and not line:
        with open(log, errors="replace") as f:
            line = next((ln for ln in f if "cumulo.access" in ln and rid in ln), "")
        time.sleep(0.1)
    assert "POST /network/v2.0/networks?temp_url_sig=*** status=400" in line
    assert f"project_id={wire.values['project_id']}" in line and "s3cr3t" not in line
    assert wire.token not in open(log, errors="replace").read()


def test_unscoped_token_gets_nothing_outside_identity(wire: Wire) -> None:
    """An unscoped token (password, no scope) is refused by every project-scoped API, as with
    Keystone-backed services; identity still lists the user's own projects."""
    token, doc = _admin_token(wire.cloud, scoped=False)
    assert "project" not in doc["token"]
    h = {"X-Auth-Token": token}
    for path, fault in (("/compute/v2.1/servers", "forbidden"), ("/network/v2.0/ports", "NeutronError"),
                        ("/network/v2.0/floatingips", "NeutronError"), ("/image/v2/images", None)):
        resp = requests.get(wire.url(path), headers=h, timeout=30)
        assert resp.status_code == 403, (path, resp.text)
        body = resp.json()
        message = (body[fault] if fault else body)["message"]
        assert "project-scoped token" in message
    listed = requests.get(wire.url("/identity/v3/auth/projects"), headers=h, timeout=30)
    assert listed.status_code == 200
    assert wire.values["project_id"] in [p["id"] for p in listed.json()["projects"]]
    mine = requests.get(wire.url(f"/identity/v3/users/{doc['token']['user']['id']}/projects"), headers=h,
                        timeout=30)
    assert mine.status_code == 200 and mine.json()["projects"]
    # The project-scoped token of the same user still works everywhere.
    assert requests.get(wire.url("/network/v2.0/ports"), headers={"X-Auth-Token": wire.token},
                        timeout=30).status_code == 200
