"""Fixtures of the volume service tests: a migrated database, the real image service, the real ``file`` driver."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from cumulo.context import RequestContext
from cumulo.testing.fixtures import unavailable
from cumulo.testing.image_service import ImageHub, image_hub

TOOLS = ("qemu-img", "qemu-io")


@pytest.fixture
def hub(cumulo_db: Any) -> ImageHub:
    """The volume area on ``cumulo_db`` with the ``file`` driver under the test's state path, images on disk."""
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    return image_hub(cumulo_db)


@pytest.fixture
def volumes(hub: ImageHub) -> Any:
    return hub.volume


@pytest.fixture
def ctx() -> RequestContext:
    return RequestContext(user_id="u1", project_id="p1", roles=["member", "reader"])


@pytest.fixture
def other() -> RequestContext:
    return RequestContext(user_id="u2", project_id="p2", roles=["member", "reader"])


@pytest.fixture
def admin() -> RequestContext:
    return RequestContext(user_id="admin", project_id="adminproject", roles=["admin", "member", "reader"])
