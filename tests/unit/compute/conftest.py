"""Fixtures: a migrated database and the compute hosts of the fake driver, in process."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.services import ServiceHub


class _NoArea(ServiceHub):
    """A hub without some areas (e.g. network/image), to test compute alone."""

    def __init__(self, without: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.without = set(without)

    def get(self, area: str) -> Any:
        if area in self.without:
            raise LookupError(f"no {area} in this test")
        return super().get(area)


@pytest.fixture
def compute_hub(cumulo_db: Any) -> Iterator[Any]:
    """A hub with 3 fake hosts started (fake-1..fake-3), no network or image service."""
    cumulo_db.set("transport_url", "inprocess://", group="messaging")
    from cumulo import registry
    from cumulo.conf import CONF

    registry.register_plugin_opts(registry.load_class("hypervisor", "fake"), CONF)
    cumulo_db.set("host_count", 3, group="hypervisor_fake")
    import cumulo.services.compute as compute

    hub = _NoArea(("network", "image", "volume"))
    started = compute.start(hub)
    hub.compute_hosts = started[0]  # the managers, for tests that reach a host directly
    yield hub
    for s in started:
        s.stop()
    hub.compute._pool.shutdown(wait=True)


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


@pytest.fixture
def admin_ctx() -> RequestContext:
    return RequestContext(user_id="admin", project_id="padmin", roles=["admin", "member", "reader"])


def wait_for(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


@pytest.fixture
def waiter() -> Callable[..., Any]:
    return wait_for
