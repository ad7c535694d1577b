"""Test doubles and fixtures shared by the kernel's tests and the plugins' tests.

Loaded by the ``cumulo`` pytest plugin (:mod:`cumulo.testing.pytest_plugin`),
so the fixtures below are there in every test tree once the kernel is
installed; the helpers are for conftests that build their own fixtures.

Helpers
    * :class:`FakeHub`: a :class:`~cumulo.services.ServiceHub` in which some
      areas are absent and others replaced by doubles (see
      :mod:`cumulo.testing.memory`).
    * :class:`APIClient`: requests through a frontend's WSGI app as a real
      server hands them over (mounted under a prefix, a noauth token, a body
      stream that cannot seek).
    * :func:`context`: the request context of a noauth token ``user:project[:roles]``.
    * :func:`use_fake_hypervisor` and :func:`running_compute`: compute hosts
      of the fake hypervisor, in process.
    * :mod:`cumulo.testing.image_service`: the image service with Object
      Storage in memory (fixtures a conftest imports).
    * :func:`use_dir_object_backend`: the object service on the "dir" backend.
    * :func:`wait_for`: poll until a condition holds.

Fixtures
    * ``cumulo_compute_hub``: 3 fake compute hosts in process, no network,
      image or volume service.
    * ``cumulo_object_hub``: a hub whose object service runs on the "dir"
      backend in the test's state path.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import pytest

from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.services import ServiceHub

if TYPE_CHECKING:
    import webob

    from cumulo.testing.pytest_plugin import ConfFixture

T = TypeVar("T")
_DEFAULT: Any = object()  # "the client's own token"


# -- hubs ----------------------------------------------------------------------------------------


class FakeHub(ServiceHub):
    """A ServiceHub for tests: areas in ``without`` are absent, ``services`` stand in for areas.

    An absent area raises ``LookupError`` as an area the kernel does not have
    does, so the code under test takes its "no such service" path. A double
    in ``services`` is what ``hub.<area>`` returns; every other area is the
    kernel's own, built on first use.
    """

    #: The compute host managers, once :func:`running_compute` started them.
    compute_hosts: Any

    def __init__(self, conf: Any = CONF, *, without: Iterable[str] = (), services: dict[str, Any] | None = None,
                 transport: Any = None) -> None:
        super().__init__(conf, transport)
        self.without = set(without)
        self._services.update(services or {})

    def get(self, area: str) -> Any:
        if area in self.without:
            raise LookupError(f"no {area} in this test")
        return super().get(area)


# -- compute -------------------------------------------------------------------------------------


def use_fake_hypervisor(conf: ConfFixture, host_count: int = 3) -> None:
    """In-process messaging and the fake hypervisor with ``host_count`` hosts (``fake-1``...)."""
    from cumulo import registry

    conf.set("transport_url", "inprocess://", group="messaging")
    registry.register_plugin_opts(registry.load_class("hypervisor", "fake"), CONF)
    conf.set("host_count", host_count, group="hypervisor_fake")


@contextlib.contextmanager
def running_compute(hub: FakeHub) -> Iterator[FakeHub]:
    """The compute area started on ``hub`` (``hub.compute_hosts``: the host managers), stopped on exit.

    The area is the installed ``compute`` plugin (``cumulo-service-compute``), started as a node
    starts it; on exit its hosts stop, then ``hub.compute`` finishes the builds it was scheduling.
    """
    started = hub.plugins()["compute"].start(hub)
    hub.compute_hosts = started[0]
    try:
        yield hub
    finally:
        for s in started:
            s.stop()
        hub.compute.shutdown()


@pytest.fixture
def cumulo_compute_hub(cumulo_db: ConfFixture) -> Iterator[FakeHub]:
    """A hub with 3 fake hosts started (fake-1..fake-3), no network, image or volume service."""
    use_fake_hypervisor(cumulo_db)
    with running_compute(FakeHub(without=("network", "image", "volume"))) as hub:
        yield hub


# -- object storage ------------------------------------------------------------------------------


def use_dir_object_backend(conf: ConfFixture) -> None:
    """``[object] backend = dir`` without fsync (skips the test when cumulo-object-dir is not installed)."""
    from cumulo import registry

    if "dir" not in registry.names("object"):
        pytest.skip("the cumulo-object-dir plugin is not installed")
    registry.register_plugin_opts(registry.load_class("object", "dir"), CONF)
    conf.set("backend", "dir", group="object")
    conf.set("fsync", False, group="object_dir")


@pytest.fixture
def cumulo_object_hub(cumulo_conf: ConfFixture) -> ServiceHub:
    """A hub whose object service (``hub.object``) stores in the test's state path ("dir" backend)."""
    use_dir_object_backend(cumulo_conf)
    return ServiceHub(CONF)


# -- requests ------------------------------------------------------------------------------------


def context(token: str) -> RequestContext:
    """The context of a noauth token ``user:project[:role,role]`` (roles default to member, reader)."""
    user, project, *rest = token.split(":")
    roles = rest[0].split(",") if rest and rest[0] else ["member", "reader"]
    return RequestContext(user_id=user, project_id=project, roles=roles)


class APIClient:
    """Requests through a WSGI app as the API server hands them over.

    The app is mounted at ``prefix`` (``SCRIPT_NAME``; ``PATH_INFO`` is the
    path as given, query string aside). Each request carries ``token``
    (``X-Auth-Token``) unless told otherwise: ``token=None`` or ``False``
    sends none. A ``bytes`` body goes as it is, anything else as JSON; the
    body stream cannot seek, as from a real server. ``headers`` come last and
    override.
    """

    def __init__(self, app: Any, prefix: str = "", token: str | None = None, base_url: str | None = None) -> None:
        self.app, self.prefix, self.token, self.base_url = app, prefix, token, base_url

    def request(self, method: str, path: str, body: Any = None, *, token: Any = _DEFAULT,
                headers: dict[str, str] | None = None, content_type: str | None = None) -> webob.Response:
        import webob

        extra: dict[str, Any] = {"base_url": self.base_url} if self.base_url else {}
        req = webob.Request.blank(self.prefix + path, method=method, **extra)
        req.environ["SCRIPT_NAME"] = self.prefix
        req.environ["PATH_INFO"] = path.split("?")[0]
        token = self.token if token is _DEFAULT else token
        if token:
            req.headers["X-Auth-Token"] = token
        if body is not None:
            if isinstance(body, bytes):
                req.body = body
                req.content_type = content_type or "application/octet-stream"
            else:
                req.body = json.dumps(body).encode()
                req.content_type = content_type or "application/json"
        for key, value in (headers or {}).items():
            req.headers[key] = value
        # As from a real server: a body stream that cannot seek (the kernel's body limiter wraps it).
        req.environ.pop("webob.is_body_seekable", None)
        return req.get_response(self.app)

    def get(self, path: str, **kw: Any) -> webob.Response:
        return self.request("GET", path, **kw)

    def head(self, path: str, **kw: Any) -> webob.Response:
        return self.request("HEAD", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> webob.Response:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> webob.Response:
        return self.request("DELETE", path, **kw)


# -- what a test needs from the machine -----------------------------------------------------------


def unavailable(reason: str) -> NoReturn:
    """Skip for lack of ``reason`` (a tool, a daemon, a service), or fail when ``CI`` is set.

    CI installs everything the tests need, so there a missing part is a failure, not a skip.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure)")
    pytest.skip(reason)


LIBVIRTD_LOCK = "/tmp/cumulo-tests-libvirtd.lock"


@contextlib.contextmanager
def libvirtd_session() -> Iterator[None]:
    """Hold the machine's libvirtd for a test (an exclusive lock across test processes).

    A test that starts or uses the system libvirtd holds this so that tests in
    other workers do not stop it, or start one that cannot do what it needs
    (LXC needs a libvirtd started in its own mount namespace), meanwhile.
    """
    import fcntl

    with open(LIBVIRTD_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def stop_volume_exports(state_path: str) -> None:
    """Backstop: stop the NBD export daemons the volume area left under ``state_path``.

    A volume still attached when a test ends keeps its export (as a storage daemon would); each
    daemon is found by its pidfile (``<state_path>/volumes/exports/*.pid``, the file driver's
    layout) and killed only if its command line names this state path.
    """
    import glob
    import signal

    for pidfile in glob.glob(os.path.join(state_path, "volumes", "exports", "*.pid")):
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if state_path.encode() not in f.read():
                    continue
            os.kill(pid, signal.SIGTERM)
        except (OSError, ValueError):
            continue


# -- time ----------------------------------------------------------------------------------------


def wait_for(fn: Callable[[], T], timeout: float = 10.0, interval: float = 0.02,
             message: str = "condition not met in time") -> T:
    """``fn()``'s first true value, polled every ``interval`` seconds; AssertionError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(interval)
