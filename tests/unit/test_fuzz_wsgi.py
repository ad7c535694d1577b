"""Fuzz every route of every API frontend in-process: no client mistake is answered 5xx.

The whole cloud runs in this process (every kernel service, every enabled
frontend, identity bootstrapped; object storage on the ``dir`` backend) and
requests go straight into the mounted WSGI apps, with the body stream types the
real server (cheroot) uses. The routes come from the apps (``fuzz.route_table``),
so every new route is covered. A sweep sends each kind of mistake to each route
once (with and without a token); hypothesis then varies routes, kinds, variants
and path parameters within a time budget. ``tests/functional/test_fuzz.py``
does the same over sockets against ``cumulo up``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing import fuzz
from cumulo.wsgi.server import PathDispatcher

#: The hypothesis phase stops at whichever comes first (the sweep is bounded by the routes).
BUDGET = float(os.environ.get("CUMULO_FUZZ_SECONDS", "10"))
EXAMPLES = int(os.environ.get("CUMULO_FUZZ_EXAMPLES", "600"))
PASSWORD = "fuzz-admin-secret"


#: Apps without a route table declare their path shape (the fuzz fills the parameters).
SHAPES = {"/object-store": ["v1", "{account}", "{container}", "{object}"],
          "/compute/metadata": ["openstack", "{version}", "{name}"]}


class Cloud:
    """The in-process cloud: ``call(hostile, token)`` -> (status, headers, body)."""

    def __init__(self, app: Any, mounts: dict[str, Any], token: str, values: dict[str, str]) -> None:
        self.app, self.mounts, self.token, self.values = app, mounts, token, values
        self.routes = fuzz.route_table(mounts)
        for prefix, shape in SHAPES.items():
            if prefix in mounts or prefix.rsplit("/", 1)[0] in mounts:
                self.routes += fuzz.probe_routes(prefix, shape)

    def call(self, req: fuzz.Hostile, token: str | None) -> tuple[int, dict[str, str], bytes]:
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, dict(headers)
            return lambda data: None

        result = self.app(req.environ(token), start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(seen["status"].split()[0]), seen["headers"], body

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        route = fuzz.Route("", method, path)
        data = json.dumps(body).encode() if body is not None else b""
        req = fuzz.Hostile("setup", route, method, path, body=data, framing="length" if data else "none")
        status, headers, out = self.call(req, token if token is not None else self.token)
        assert status < 300, f"{method} {path}: {status} {out[:300]!r}"
        return headers, (json.loads(out) if out else None)


def _json_faults(route: fuzz.Route) -> bool:
    return route.prefix != "/object-store"  # Swift answers in plain text, as Swift clients expect


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    import cumulo.services
    from cumulo.cmd.up import AllInOne
    from cumulo.testing.pytest_plugin import ConfFixture, _reset_kernel_state

    if CONF._args is None:
        CONF(args=[], project="cumulo", default_config_files=[])
    cumulo.services.installed_areas()  # the areas' own options ([identity]...), as cumulo up registers them
    conf = ConfFixture()
    state = str(tmp_path_factory.mktemp("fuzz-state"))
    conf.set("state_path", state)
    conf.set("host", "fuzz-host")
    conf.set("transport_url", "inprocess://", group="messaging")
    _reset_kernel_state()

    if "dir" in registry.names("object"):
        registry.register_plugin_opts(registry.load_class("object", "dir"), CONF)
        conf.set("backend", "dir", group="object")
        conf.set("fsync", False, group="object_dir")
    conf.set("password_hash_rounds", 4, group="identity")
    aio = AllInOne(serve_api=False)
    aio.start()
    try:
        frontends = registry.load_plugins("api", CONF.api.frontends, PluginContext(CONF))
        base = "http://localhost"
        aio.hub.identity.bootstrap(PASSWORD, base, frontends)
        mounts = {f.path_prefix: f.build_app(aio.hub) for f in frontends}
        app = PathDispatcher(mounts)
        probe = Cloud(app, mounts, "", {})
        auth = {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": "admin", "domain": {"id": "default"}, "password": PASSWORD}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
        headers, token_doc = probe.request("POST", "/identity/v3/auth/tokens", auth, token="")
        token = headers["X-Subject-Token"]
        values = _resources(Cloud(app, mounts, token, {}), token_doc)
        yield Cloud(app, mounts, token, values)
    finally:
        aio.stop()
        _reset_kernel_state()
        conf.cleanup()


def _resources(c: Cloud, token_doc: dict[str, Any]) -> dict[str, str]:
    """Real ids for path parameters, so body parsing is reached past the resource lookup."""
    tok = token_doc["token"]
    values = {"project_id": tok["project"]["id"], "user_id": tok["user"]["id"], "domain_id": "default",
              "role_id": tok["roles"][0]["id"], "system": "all", "account": f"AUTH_{tok['project']['id']}",
              "container": "fuzz", "object": "obj", "version": "latest", "name": "meta_data.json"}
    _, net = c.request("POST", "/network/v2.0/networks", {"network": {"name": "fuzz"}})
    values["rid"] = values["network_id"] = net["network"]["id"]
    _, img = c.request("POST", "/image/v2/images", {"name": "fuzz", "disk_format": "raw",
                                                    "container_format": "bare"})
    values["image_id"] = img["id"]
    if "/object-store" in c.mounts:
        c.request("PUT", f"/object-store/v1/{values['account']}/fuzz")
    _, flavors = c.request("GET", "/compute/v2.1/flavors")
    if flavors["flavors"]:
        values["flavor_id"] = flavors["flavors"][0]["id"]
    return values


def _check(cloud: Cloud, req: fuzz.Hostile, token: str | None) -> list[str]:
    status, headers, body = cloud.call(req, token)
    return fuzz.problems(req, status, headers, body, authenticated=bool(token),
                         json_faults=_json_faults(req.route))


def _safe_values(cloud: Cloud, route: fuzz.Route) -> dict[str, str]:
    """Real ids, but never for DELETE (the sweep must not delete what later requests use)."""
    return {} if route.method == "DELETE" else cloud.values


def test_routes_are_discovered_from_every_frontend(cloud: Cloud) -> None:
    prefixes = {r.prefix for r in cloud.routes}
    assert {"/identity", "/compute", "/image", "/network", "/compute/metadata"} <= prefixes
    assert len([r for r in cloud.routes if r.router is not None]) > 250


def test_sweep_every_route_every_kind(cloud: Cloud) -> None:
    """Each (route, kind) once, with the admin token, then without a token."""
    found: list[str] = []
    count = 0
    for route in cloud.routes:
        values = _safe_values(cloud, route)
        for kind in fuzz.BODY_KINDS + fuzz.URL_KINDS:
            if kind in fuzz.BODY_KINDS and not route.takes_body:
                continue
            req = fuzz.build(kind, route, values, choice=count, routes=cloud.routes)
            count += 1
            for token in (cloud.token, None):
                found += _check(cloud, req, token)
    assert count > 1000
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:40])


_deadline: list[float] = []
MIN_EXAMPLES = 100
_sent: list[int] = []


def test_hypothesis_varied_requests(cloud: Cloud) -> None:
    """Random routes, kinds, variants and path parameters (valid UTF-8 text): EXAMPLES, at most BUDGET s."""
    _deadline[:] = [time.monotonic() + BUDGET]

    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(req=fuzz.strategies(cloud.routes, cloud.values), authenticated=fuzz_booleans())
    def run(req: fuzz.Hostile, authenticated: bool) -> None:
        # The time budget only cuts the run short after MIN_EXAMPLES: a busy machine makes the
        # run slower, never emptier (the count below cannot depend on the machine's load).
        if len(_sent) >= MIN_EXAMPLES and time.monotonic() > _deadline[0]:
            return
        _sent.append(1)
        found = _check(cloud, req, cloud.token if authenticated else None)
        assert not found, "\n".join(found)

    begun = time.monotonic()
    run()
    print(f"hypothesis: {len(_sent)} requests in {time.monotonic() - begun:.1f}s")
    assert len(_sent) >= min(MIN_EXAMPLES, EXAMPLES)


def fuzz_booleans() -> Any:
    from hypothesis import strategies as st

    return st.booleans()


def test_swift_slo_manifest_with_hostile_json_is_a_4xx(cloud: Cloud) -> None:
    if "/object-store" not in cloud.mounts:
        pytest.skip("no object-store frontend")
    route = fuzz.Route("/object-store", "PUT", "/v1/{account}/{container}/{object}")
    found = []
    for kind, body in (("deep-json", fuzz.deep_json(100000)),
                       ("surrogate", b'[{"path": "/fuzz/\\ud800", "etag": null, "size_bytes": null}]')):
        req = fuzz.build(kind, route, cloud.values)
        req.body, req.query = body, "multipart-manifest=put"
        found += _check(cloud, req, cloud.token)
    assert not found, "\n".join(found)
