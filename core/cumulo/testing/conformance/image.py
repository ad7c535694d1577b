"""Conformance suite for image stores (``cumulo.image`` plugins).

A store's tests subclass :class:`ImageStoreConformance` and provide a
``store`` fixture returning a fresh instance::

    from cumulo.testing.conformance.image import ImageStoreConformance

    class TestMyStore(ImageStoreConformance):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(PluginContext(conf))

Read-only stores (``writable = False``) override :meth:`seed` to place data
where the store can read it and return its location. Stores that can tell
whether anything is left under an image id override :meth:`leftovers`, so
the suite checks that failed adds leave no bytes behind.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.interfaces import image as iface
from cumulo.testing.memory import MemoryObjects  # noqa: F401  (image store tests import it from here)


def chunks_of(data: bytes, size: int = 7919) -> Iterator[bytes]:
    """``data`` cut in chunks of an odd size (so chunk edges never line up with anything)."""
    for i in range(0, len(data), size):
        yield data[i:i + size]


class Boom(Exception):
    """Raised by a chunk iterator that fails midway (a client that went away)."""


def failing_chunks(data: bytes, fail_after: int) -> Iterator[bytes]:
    sent = 0
    for chunk in chunks_of(data):
        if sent >= fail_after:
            raise Boom("client went away")
        sent += len(chunk)
        yield chunk


class ImageStoreConformance:
    """What every image store must do. Subclasses provide the ``store`` fixture."""

    #: Bytes of the bigger payload (several chunks; kept small so the suite is fast).
    payload_size = 300 * 1024

    @pytest.fixture
    def store(self) -> iface.ImageStore:
        raise NotImplementedError("subclass ImageStoreConformance and provide a 'store' fixture")

    # -- hooks
    def seed(self, store: iface.ImageStore, image_id: str, data: bytes) -> str:
        """Put ``data`` where the store reads it; return the location. Default: ``add``."""
        return store.add(image_id, chunks_of(data), expected_size=len(data)).location

    def leftovers(self, store: iface.ImageStore, image_id: str) -> bool | None:
        """Whether anything is stored for ``image_id`` (None: the store cannot tell)."""
        return None

    @staticmethod
    def new_id() -> str:
        import uuid

        return str(uuid.uuid4())

    @staticmethod
    def payload(size: int) -> bytes:
        return os.urandom(size)

    @staticmethod
    def read(store: iface.ImageStore, location: str, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(store.get(location, offset, length))

    def _require_writable(self, store: iface.ImageStore) -> None:
        if not store.writable:
            pytest.skip("read-only store")

    def _assert_nothing_left(self, store: iface.ImageStore, image_id: str) -> None:
        left = self.leftovers(store, image_id)
        if left is not None:
            assert not left, f"bytes left behind for {image_id}"

    # -- every store
    def test_declares_interface(self, store: iface.ImageStore) -> None:
        assert isinstance(store, iface.ImageStore)
        assert store.schemes, "a store names the URL schemes of its locations"
        assert type(store).__dict__.get("interface_version") or getattr(store, "interface_version", None)

    def test_get_whole(self, store: iface.ImageStore) -> None:
        data = self.payload(self.payload_size)
        location = self.seed(store, self.new_id(), data)
        assert location.split(":", 1)[0] in store.schemes
        assert self.read(store, location) == data

    def test_get_streams_in_chunks(self, store: iface.ImageStore) -> None:
        data = self.payload(self.payload_size)
        location = self.seed(store, self.new_id(), data)
        pieces = list(store.get(location))
        assert len(pieces) > 1, "a large image must come back in several chunks"
        assert all(isinstance(p, bytes) for p in pieces)
        assert b"".join(pieces) == data

    def test_get_range(self, store: iface.ImageStore) -> None:
        data = self.payload(100_000)
        location = self.seed(store, self.new_id(), data)
        assert self.read(store, location, 10, 100) == data[10:110]
        assert self.read(store, location, 99_990) == data[99_990:]
        assert self.read(store, location, 0, 1) == data[:1]
        assert self.read(store, location, 50_000, 10**9) == data[50_000:]

    def test_get_close_early(self, store: iface.ImageStore) -> None:
        data = self.payload(self.payload_size)
        location = self.seed(store, self.new_id(), data)
        it = store.get(location)
        assert next(iter(it))
        close = getattr(it, "close", None)
        assert callable(close), "the iterator must be closable"
        close()
        assert self.read(store, location) == data  # still readable after an abandoned read

    def test_get_missing_raises_when_called(self, store: iface.ImageStore) -> None:
        location = self.seed(store, self.new_id(), b"x")
        gone = location[:-1] + ("0" if location[-1] != "0" else "1") + "-missing"
        with pytest.raises(iface.ImageDataNotFound):
            store.get(gone)

    def test_empty_image(self, store: iface.ImageStore) -> None:
        location = self.seed(store, self.new_id(), b"")
        assert self.read(store, location) == b""

    # -- writable stores
    def test_add_reports_size_and_hashes(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        data = self.payload(self.payload_size)
        stored = store.add(self.new_id(), chunks_of(data), expected_size=len(data))
        assert stored.size == len(data)
        assert stored.checksum == hashlib.md5(data, usedforsecurity=False).hexdigest()
        assert stored.os_hash_algo == "sha512"
        assert stored.os_hash_value == hashlib.sha512(data).hexdigest()
        assert self.read(store, stored.location) == data

    def test_add_without_expected_size(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        data = self.payload(12345)
        stored = store.add(self.new_id(), chunks_of(data))
        assert stored.size == 12345
        assert self.read(store, stored.location) == data

    def test_add_other_hash_algo(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        data = b"hello image"
        stored = store.add(self.new_id(), iter([data]), hash_algo="sha256")
        assert (stored.os_hash_algo, stored.os_hash_value) == ("sha256", hashlib.sha256(data).hexdigest())

    def test_add_consumes_lazily(self, store: iface.ImageStore) -> None:
        """The store pulls chunks one at a time: it never needs the whole image at once."""
        self._require_writable(store)
        pulled: list[int] = []

        def gen() -> Iterator[bytes]:
            for i in range(20):
                pulled.append(i)
                yield bytes([i]) * 1000

        stored = store.add(self.new_id(), gen())
        assert pulled == list(range(20))
        assert stored.size == 20_000

    @pytest.mark.parametrize("declared", [1000, 5000])
    def test_size_mismatch_leaves_nothing(self, store: iface.ImageStore, declared: int) -> None:
        self._require_writable(store)
        image_id = self.new_id()
        with pytest.raises(iface.ImageSizeMismatch):
            store.add(image_id, chunks_of(self.payload(3000)), expected_size=declared)
        self._assert_nothing_left(store, image_id)
        data = self.payload(100)  # the id is free again
        assert self.read(store, store.add(image_id, iter([data])).location) == data

    def test_failing_source_leaves_nothing(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        image_id = self.new_id()
        with pytest.raises(Boom):
            store.add(image_id, failing_chunks(self.payload(100_000), 50_000))
        self._assert_nothing_left(store, image_id)
        stored = store.add(image_id, iter([b"retry"]))
        assert self.read(store, stored.location) == b"retry"

    def test_add_existing_refused(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        image_id = self.new_id()
        first = store.add(image_id, iter([b"first"]))
        with pytest.raises(iface.ImageExists):
            store.add(image_id, iter([b"second"]))
        assert self.read(store, first.location) == b"first"

    def test_delete_idempotent(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        image_id = self.new_id()
        stored = store.add(image_id, iter([b"data"]))
        store.delete(stored.location)
        with pytest.raises(iface.ImageDataNotFound):
            store.get(stored.location)
        store.delete(stored.location)
        self._assert_nothing_left(store, image_id)

    def test_discard_removes_everything_for_the_id(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        image_id = self.new_id()
        stored = store.add(image_id, iter([b"data"]))
        store.discard(image_id)
        with pytest.raises(iface.ImageDataNotFound):
            store.get(stored.location)
        store.discard(image_id)  # idempotent
        self._assert_nothing_left(store, image_id)

    def test_ids_are_independent(self, store: iface.ImageStore) -> None:
        self._require_writable(store)
        a, b = self.new_id(), self.new_id()
        la = store.add(a, iter([b"aaa"])).location
        lb = store.add(b, iter([b"bbb"])).location
        assert la != lb
        store.delete(la)
        assert self.read(store, lb) == b"bbb"

    # -- read-only stores
    def test_read_only_refuses_writes(self, store: iface.ImageStore) -> None:
        if store.writable:
            pytest.skip("writable store")
        with pytest.raises(iface.ImageStoreReadOnly):
            store.add(self.new_id(), iter([b"x"]))
        with pytest.raises(iface.ImageStoreReadOnly):
            store.delete(self.seed(store, self.new_id(), b"x"))


def make_conf(groups: dict[str, dict[str, Any]] | None = None, plugins: tuple[type, ...] = ()) -> Any:
    """A fresh ConfigOpts with the kernel options, the ``plugins``' options and ``groups`` overrides."""
    from oslo_config import cfg

    from cumulo import conf as cumulo_conf
    from cumulo import registry

    conf = cfg.ConfigOpts()
    cumulo_conf.register(conf)
    for cls in plugins:
        registry.register_plugin_opts(cls, conf)
    conf([], project="cumulo-test", default_config_files=[])
    for group, values in (groups or {}).items():
        for key, value in values.items():
            conf.set_override(key, value, group=None if group == "DEFAULT" else group)
    return conf
