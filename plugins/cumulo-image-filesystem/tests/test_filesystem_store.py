"""The filesystem store against the image store conformance suite, plus its own guarantees."""

from __future__ import annotations

import os

import pytest
from cumulo_image_filesystem.store import FilesystemStore

from cumulo import registry
from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.image import ImageStoreConformance, chunks_of, failing_chunks, make_conf


class TestFilesystemConformance(ImageStoreConformance):
    @pytest.fixture
    def store(self, tmp_path):
        conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)}}, plugins=(FilesystemStore,))
        return FilesystemStore(PluginContext(conf))

    def leftovers(self, store, image_id):
        return any(name.startswith(image_id) for name in os.listdir(store.datadir))


def test_registered_and_default_location(tmp_path):
    conf = make_conf({"DEFAULT": {"state_path": str(tmp_path)}})
    store = registry.load_plugin("image", "filesystem", PluginContext(conf))
    assert isinstance(store, FilesystemStore)
    stored = store.add("abc", iter([b"data"]))
    assert stored.location == "file://" + str(tmp_path / "images" / "abc")
    assert (tmp_path / "images" / "abc").read_bytes() == b"data"


def test_datadir_option(tmp_path):
    conf = make_conf({"image_filesystem": {"datadir": str(tmp_path / "elsewhere")}}, plugins=(FilesystemStore,))
    stored = FilesystemStore(PluginContext(conf)).add("abc", iter([b"data"]))
    assert stored.location.startswith("file://" + str(tmp_path / "elsewhere"))


def test_partial_file_not_visible_while_writing(tmp_path):
    store = FilesystemStore(PluginContext(make_conf({}, plugins=(FilesystemStore,))), datadir=str(tmp_path))
    seen: list[list[str]] = []

    def gen():
        yield b"a" * 1000
        seen.append(sorted(os.listdir(tmp_path)))
        yield b"b" * 1000

    store.add("img", gen())
    assert "img" not in seen[0] and any(n.startswith("img.partial.") for n in seen[0])
    assert sorted(os.listdir(tmp_path)) == ["img"]


def test_discard_removes_partials_left_by_a_crash(tmp_path):
    store = FilesystemStore(PluginContext(make_conf({}, plugins=(FilesystemStore,))), datadir=str(tmp_path))
    (tmp_path / "img.partial.deadbeef").write_bytes(b"half")
    (tmp_path / "other.partial.x").write_bytes(b"keep")
    store.discard("img")
    assert sorted(os.listdir(tmp_path)) == ["other.partial.x"]


@pytest.mark.parametrize("bad", ["../x", "a/b", "", ".hidden", "x.partial.y"])
def test_unsafe_ids_refused(tmp_path, bad):
    store = FilesystemStore(PluginContext(make_conf({}, plugins=(FilesystemStore,))), datadir=str(tmp_path))
    with pytest.raises(iface.ImageStoreError):
        store.add(bad, iter([b"x"]))


def test_location_outside_datadir_refused(tmp_path):
    (tmp_path / "secret").write_bytes(b"s")
    store = FilesystemStore(PluginContext(make_conf({}, plugins=(FilesystemStore,))), datadir=str(tmp_path / "images"))
    with pytest.raises(iface.ImageDataNotFound):
        store.get("file://" + str(tmp_path / "secret"))
    with pytest.raises(iface.ImageDataNotFound):
        store.get("file://" + str(tmp_path / "images" / ".." / "secret"))


def test_store_full_when_declared_size_does_not_fit(tmp_path):
    store = FilesystemStore(PluginContext(make_conf({}, plugins=(FilesystemStore,))), datadir=str(tmp_path))
    with pytest.raises(iface.ImageStoreFull):
        store.add("big", iter([b"x"]), expected_size=2**62)
    assert os.listdir(tmp_path) == []


def test_failure_midway_leaves_no_temp_file(tmp_path):
    store = FilesystemStore(PluginContext(make_conf({}, plugins=(FilesystemStore,))), datadir=str(tmp_path))
    with pytest.raises(Exception, match="went away"):
        store.add("img", failing_chunks(b"z" * 50_000, 20_000))
    assert os.listdir(tmp_path) == []
    assert store.add("img", chunks_of(b"ok")).size == 2
