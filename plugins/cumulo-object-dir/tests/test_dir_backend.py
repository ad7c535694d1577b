"""The dir backend against the object conformance suite, plus its own crash-safety checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cumulo_object_dir.backend import DirBackend

from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.object import ObjectBackendConformance


class TestDirBackendConformance(ObjectBackendConformance):
    @pytest.fixture
    def backend(self, tmp_path):
        yield DirBackend(PluginContext(CONF), root=tmp_path / "store" / "objects", fsync=False)

    def storage_root(self, backend):
        return Path(backend.root)


def test_orphans_are_cleaned_at_start(tmp_path):
    root = tmp_path / "objects"
    b = DirBackend(PluginContext(CONF), root=root, fsync=False)
    b.put_container("AUTH_a", "c", {})
    b.put_object("AUTH_a", "c", "o", iter([b"kept"]), "text/plain", {})
    # A crash mid-upload leaves a temp file; a crash after the rename, an unreferenced data file.
    (root / "tmp" / "partial").write_bytes(b"half")
    os.makedirs(root / "data" / "ff", exist_ok=True)
    (root / "data" / "ff" / "ff00orphan").write_bytes(b"lost")
    again = DirBackend(PluginContext(CONF), root=root, fsync=False)
    assert not (root / "tmp" / "partial").exists()
    assert not (root / "data" / "ff" / "ff00orphan").exists()
    assert b"".join(again.get_object("AUTH_a", "c", "o").body) == b"kept"


def test_range_reads_seek(tmp_path):
    b = DirBackend(PluginContext(CONF), root=tmp_path / "objects", fsync=False)
    b.put_container("AUTH_a", "c", {})
    data = bytes(range(256)) * 1000
    b.put_object("AUTH_a", "c", "o", iter([data]), "application/octet-stream", {})
    info = b.get_object_range("AUTH_a", "c", "o", 1000, 70001)
    assert b"".join(info.body) == data[1000:70001]
    assert info.size == len(data)


def test_overwrite_removes_old_file_and_survives_reopen(tmp_path):
    root = tmp_path / "objects"
    b = DirBackend(PluginContext(CONF), root=root, fsync=True)
    b.put_container("AUTH_a", "c", {"X-Container-Meta-K": "v"})
    b.put_object("AUTH_a", "c", "o", iter([b"one"]), "text/plain", {})
    b.put_object("AUTH_a", "c", "o", iter([b"two"]), "text/plain", {})
    files = [p for p in (root / "data").rglob("*") if p.is_file()]
    assert len(files) == 1
    reopened = DirBackend(PluginContext(CONF), root=root)
    assert b"".join(reopened.get_object("AUTH_a", "c", "o").body) == b"two"
    assert reopened.head_container("AUTH_a", "c")["bytes_used"] == 3


def test_expired_objects_are_purged_from_counters(tmp_path):
    import time

    b = DirBackend(PluginContext(CONF), root=tmp_path / "objects", fsync=False)
    b.put_container("AUTH_a", "c", {})
    b.put_object("AUTH_a", "c", "gone", iter([b"12345"]), "text/plain", {"X-Delete-At": str(int(time.time()) - 1)})
    b.put_object("AUTH_a", "c", "kept", iter([b"12"]), "text/plain", {})
    b.purge_expired(force=True)
    assert [o["name"] for o in b.list_objects("AUTH_a", "c")] == ["kept"]
    assert b.head_container("AUTH_a", "c")["bytes_used"] == 2
    b.delete_object("AUTH_a", "c", "kept")
    b.delete_container("AUTH_a", "c")
