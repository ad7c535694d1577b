"""Fixtures for tests of the image service and of the Image API: import them into a conftest.

    from cumulo.testing.image_service import hub, images, store_name  # noqa: F401  (fixtures)

``store_name`` is the default store ("filesystem"); parametrize it to run a
test with each store (``pytest.mark.parametrize("store_name", ["filesystem",
"object"])``). ``hub`` is an :class:`ImageHub` on ``cumulo_db`` with noauth
tokens, ``images`` its image service. Not loaded by the pytest plugin: the
names are too common to be fixtures in every test tree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from cumulo.conf import CONF
from cumulo.testing.fixtures import FakeHub
from cumulo.testing.memory import MemoryObjects

if TYPE_CHECKING:
    from cumulo.testing.pytest_plugin import ConfFixture


class ImageHub(FakeHub):
    """A hub whose object service is :class:`~cumulo.testing.memory.MemoryObjects` (``hub.objects``)."""

    def __init__(self, conf: Any = CONF) -> None:
        self.objects = MemoryObjects()
        super().__init__(conf, services={"object": self.objects})


def image_hub(conf: ConfFixture, store_name: str = "filesystem") -> ImageHub:
    """The image service on ``cumulo_db``: data in ``store_name``, Object Storage in memory, noauth tokens.

    The filesystem, object and http stores are enabled; ``hub.image`` is the
    service (the installed ``image`` area plugin, ``cumulo-service-image``),
    ``hub.objects`` the in-memory object service. The ``[image]`` options are
    the image area's (``cumulo_service_image.opts``).
    """
    conf.set("auth_strategy", "noauth", group="api")
    conf.set("default_store", store_name, group="image")
    conf.set("stores", ["filesystem", "object", "http"], group="image")
    return ImageHub(CONF)


@pytest.fixture
def store_name() -> str:
    """The default store; tests about data run with every store (parametrize ``store_name``)."""
    return "filesystem"


@pytest.fixture
def hub(cumulo_db: ConfFixture, store_name: str) -> ImageHub:
    return image_hub(cumulo_db, store_name)


@pytest.fixture
def images(hub: ImageHub) -> Any:
    return hub.image
