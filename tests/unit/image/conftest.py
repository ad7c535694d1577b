"""Fixtures of the image service tests: a migrated database, a hub, the API app with noauth tokens."""

from __future__ import annotations

from typing import Any

import pytest

import cumulo.services.image  # noqa: F401  (registers [image] options)
from cumulo.conf import CONF
from cumulo.services import ServiceHub
from cumulo.testing.conformance.image import MemoryObjects


class Hub(ServiceHub):
    """A hub whose object service is in memory (until Object Storage runs in unit tests)."""

    def __init__(self) -> None:
        super().__init__(CONF)
        self.objects = MemoryObjects()
        self._services["object"] = self.objects


@pytest.fixture
def store_name() -> str:
    """The default store; tests about data run with every store (``@both_stores``)."""
    return "filesystem"


@pytest.fixture
def hub(cumulo_db: Any, store_name: str) -> Hub:
    cumulo_db.set("auth_strategy", "noauth", group="api")
    cumulo_db.set("default_store", store_name, group="image")
    cumulo_db.set("stores", ["filesystem", "object", "http"], group="image")
    return Hub()


@pytest.fixture
def images(hub: Hub) -> Any:
    return hub.image
