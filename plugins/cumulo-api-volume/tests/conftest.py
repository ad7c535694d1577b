"""Fixtures of the Block Storage API tests: the real volume service (file driver), images on disk, noauth clients."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing.fixtures import APIClient, unavailable
from cumulo.testing.image_service import ImageHub, image_hub


class Client(APIClient):
    """Requests through the whole app (auth, microversions, faults) as one noauth user of ``project``."""

    def __init__(self, app: Any, token: str, project: str) -> None:
        super().__init__(app, "/volume", token, base_url="http://localhost")
        self.project = project

    def p(self, path: str) -> str:
        """``path`` below ``/v3/<project>``."""
        return f"/v3/{self.project}{path}"


@pytest.fixture
def hub(cumulo_db: Any) -> ImageHub:
    missing = [t for t in ("qemu-img", "qemu-io") if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    return image_hub(cumulo_db)


@pytest.fixture
def app(hub: ImageHub) -> Any:
    from cumulo_api_volume.frontend import VolumeFrontend

    return VolumeFrontend(PluginContext(CONF)).build_app(hub)


@pytest.fixture
def api(app: Any) -> Client:
    return Client(app, "u1:p1:member,reader", "p1")


@pytest.fixture
def other(app: Any) -> Client:
    return Client(app, "u2:p2:member,reader", "p2")


@pytest.fixture
def admin_api(app: Any) -> Client:
    return Client(app, "admin:adminproject:admin,member,reader", "adminproject")
