"""The object-storage image store against the conformance suite, on an in-memory object service."""

from __future__ import annotations

import types

import pytest
from cumulo_image_object.store import ObjectStore

from cumulo import registry
from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.image import ImageStoreConformance, MemoryObjects, chunks_of, make_conf


def _conf(**overrides):
    return make_conf({"image_object": overrides} if overrides else None, plugins=(ObjectStore,))


class TestObjectStoreConformance(ImageStoreConformance):
    @pytest.fixture
    def store(self):
        hub = types.SimpleNamespace(object=MemoryObjects())
        return ObjectStore(PluginContext(_conf(), hub=hub))

    def leftovers(self, store, image_id):
        return any(key[2] == image_id for key in store.hub.object.data)


def test_loaded_through_registry_with_hub():
    conf = make_conf()
    hub = types.SimpleNamespace(object=MemoryObjects())
    store = registry.load_plugin("image", "object", PluginContext(conf, hub=hub))
    stored = store.add("img-1", chunks_of(b"x" * 100_000))
    assert stored.location == "cumulo-object://AUTH_cumulo-images/images/img-1"
    assert hub.object.data[("AUTH_cumulo-images", "images", "img-1")] == b"x" * 100_000


def test_account_and_container_options():
    hub = types.SimpleNamespace(object=MemoryObjects())
    store = ObjectStore(PluginContext(_conf(account="AUTH_x", container="glance"), hub=hub))
    stored = store.add("i", iter([b"abc"]))
    assert ("AUTH_x", "glance", "i") in hub.object.data
    assert b"".join(store.get(stored.location)) == b"abc"


def test_without_object_service():
    store = ObjectStore(PluginContext(_conf(), hub=None))
    with pytest.raises(iface.ImageStoreError, match="object service"):
        store.add("i", iter([b"abc"]))


def test_foreign_location_is_not_found():
    store = ObjectStore(PluginContext(_conf(), hub=types.SimpleNamespace(object=MemoryObjects())))
    with pytest.raises(iface.ImageDataNotFound):
        store.get("cumulo-object://acct/only-two")
    store.delete("file:///etc/passwd")  # not ours: nothing happens
