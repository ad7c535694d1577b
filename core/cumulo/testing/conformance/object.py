"""Conformance suite for object storage backends (``cumulo.object``).

A backend's tests subclass :class:`ObjectBackendConformance` and provide a
``backend`` fixture (any scope: every test works in its own fresh account,
so a class- or module-scoped backend is fine)::

    from cumulo.testing.conformance.object import ObjectBackendConformance

    class TestMyBackend(ObjectBackendConformance):
        @pytest.fixture(scope="class")
        def backend(self, tmp_path_factory):
            yield MyBackend(root=tmp_path_factory.mktemp("objects"))

Hooks a subclass may override:

* :meth:`settle` -- make eventually consistent counters current (an updater
  run); called before every check of account or container statistics.
* :meth:`storage_root` -- the directory the backend writes under, so the suite
  can check that hostile names (``../``) never create anything outside it.

Result shapes checked here (the contract the API frontend relies on):

* ``head_account``: ``container_count``, ``object_count``, ``bytes_used``, ``metadata``;
* ``head_container``: ``object_count``, ``bytes_used``, ``metadata``, ``created_at``;
* ``list_containers`` rows: ``name``, ``count``, ``bytes``, ``last_modified`` (or ``subdir``);
* ``list_objects`` rows: ``name``, ``bytes``, ``hash``, ``content_type``, ``last_modified`` (or ``subdir``).

Metadata keys are header names (``X-Object-Meta-Color``, ``X-Container-Meta-Color``,
``X-Delete-At``...); backends compare them case-insensitively. An object whose
``X-Delete-At`` (unix seconds) has passed is gone: reads raise :class:`ObjectNotFound`.
"""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cumulo.interfaces.object import (
    ObjectBackend,
    ObjectConflict,
    ObjectEtagMismatch,
    ObjectInfo,
    ObjectNotFound,
)
from cumulo.utils.metadata import ci_get


def _read(info: ObjectInfo) -> bytes:
    assert info.body is not None, "get_object must return a body iterator"
    return b"".join(info.body)


class _Boom(Exception):
    pass


class ObjectBackendConformance:
    """The behaviour every object storage backend must show."""

    # -- hooks -------------------------------------------------------------------------------
    @pytest.fixture
    def backend(self) -> Iterator[ObjectBackend]:  # pragma: no cover - must be overridden
        raise NotImplementedError("Subclasses provide a 'backend' fixture")

    def settle(self, backend: ObjectBackend) -> None:
        """Bring asynchronously updated statistics up to date (default: nothing to do)."""

    def storage_root(self, backend: ObjectBackend) -> Path | None:
        """The directory the backend stores data under (None: skip the escape check)."""
        return None

    # -- helpers -----------------------------------------------------------------------------
    @pytest.fixture
    def account(self) -> str:
        return f"AUTH_{uuid.uuid4().hex}"

    @pytest.fixture
    def container(self, backend: ObjectBackend, account: str) -> str:
        assert backend.put_container(account, "box", {}) is True
        return "box"

    @staticmethod
    def put(backend: ObjectBackend, account: str, container: str, name: str, data: bytes,
            content_type: str = "application/octet-stream", metadata: dict[str, str] | None = None,
            chunk: int = 65536) -> ObjectInfo:
        chunks = (data[i:i + chunk] for i in range(0, len(data), chunk)) if data else iter([b""])
        return backend.put_object(account, container, name, chunks, content_type, metadata or {})

    # -- accounts ----------------------------------------------------------------------------
    def test_account_exists_implicitly(self, backend, account):
        info = backend.head_account(account)
        assert info["container_count"] == 0
        assert info["object_count"] == 0
        assert info["bytes_used"] == 0
        assert backend.list_containers(account) == []

    def test_account_metadata_set_and_remove(self, backend, account):
        backend.post_account(account, {"X-Account-Meta-Color": "blue", "X-Account-Meta-Size": "L"})
        meta = backend.head_account(account)["metadata"]
        assert ci_get(meta, "X-Account-Meta-Color") == "blue"
        assert ci_get(meta, "X-Account-Meta-Size") == "L"
        backend.post_account(account, {"X-Account-Meta-Color": ""})
        meta = backend.head_account(account)["metadata"]
        assert ci_get(meta, "X-Account-Meta-Color") is None
        assert ci_get(meta, "X-Account-Meta-Size") == "L"

    # -- containers --------------------------------------------------------------------------
    def test_put_container_create_then_update(self, backend, account):
        assert backend.put_container(account, "c1", {"X-Container-Meta-A": "1"}) is True
        assert backend.put_container(account, "c1", {"X-Container-Meta-B": "2"}) is False
        info = backend.head_container(account, "c1")
        assert info["object_count"] == 0
        assert info["bytes_used"] == 0
        assert ci_get(info["metadata"], "X-Container-Meta-A") == "1"
        assert ci_get(info["metadata"], "X-Container-Meta-B") == "2"
        assert info["created_at"]
        self.settle(backend)
        assert backend.head_account(account)["container_count"] == 1
        names = [c["name"] for c in backend.list_containers(account)]
        assert names == ["c1"]

    def test_post_container_metadata(self, backend, account, container):
        backend.post_container(account, container, {"X-Container-Meta-Color": "red"})
        assert ci_get(backend.head_container(account, container)["metadata"], "X-Container-Meta-Color") == "red"
        backend.post_container(account, container, {"X-Container-Meta-Color": ""})
        assert ci_get(backend.head_container(account, container)["metadata"], "X-Container-Meta-Color") is None

    def test_missing_container(self, backend, account):
        with pytest.raises(ObjectNotFound):
            backend.head_container(account, "nope")
        with pytest.raises(ObjectNotFound):
            backend.post_container(account, "nope", {"X-Container-Meta-A": "1"})
        with pytest.raises(ObjectNotFound):
            backend.delete_container(account, "nope")
        with pytest.raises(ObjectNotFound):
            backend.list_objects(account, "nope")
        with pytest.raises(ObjectNotFound):
            self.put(backend, account, "nope", "o", b"x")

    def test_delete_container(self, backend, account):
        backend.put_container(account, "gone", {})
        backend.delete_container(account, "gone")
        with pytest.raises(ObjectNotFound):
            backend.head_container(account, "gone")
        self.settle(backend)
        assert backend.list_containers(account) == []
        assert backend.head_account(account)["container_count"] == 0
        # Re-creating a deleted container works and it starts empty.
        assert backend.put_container(account, "gone", {}) is True
        assert backend.list_objects(account, "gone") == []

    def test_delete_non_empty_container_conflicts(self, backend, account, container):
        self.put(backend, account, container, "o", b"data")
        with pytest.raises(ObjectConflict):
            backend.delete_container(account, container)
        backend.head_container(account, container)
        backend.delete_object(account, container, "o")
        backend.delete_container(account, container)

    def test_list_containers_options(self, backend, account):
        names = ["a", "a/b", "a/c", "b", "b-1", "c/d/e", "d"]
        for n in names:
            backend.put_container(account, n.replace("/", "|"), {})
        got = [c["name"] for c in backend.list_containers(account)]
        assert got == sorted(n.replace("/", "|") for n in names)
        assert [c["name"] for c in backend.list_containers(account, prefix="b")] == ["b", "b-1"]
        assert [c["name"] for c in backend.list_containers(account, marker="b")] == ["b-1", "c|d|e", "d"]
        assert [c["name"] for c in backend.list_containers(account, end_marker="b")] == ["a", "a|b", "a|c"]
        assert [c["name"] for c in backend.list_containers(account, limit=2)] == ["a", "a|b"]
        rev = [c["name"] for c in backend.list_containers(account, reverse=True)]
        assert rev == sorted((n.replace("/", "|") for n in names), reverse=True)
        delim = backend.list_containers(account, delimiter="|")
        assert [c.get("name") or c.get("subdir") for c in delim] == ["a", "a|", "b", "b-1", "c|", "d"]
        row = next(c for c in backend.list_containers(account) if c["name"] == "a")
        assert row["count"] == 0 and row["bytes"] == 0 and "last_modified" in row

    # -- objects -----------------------------------------------------------------------------
    def test_put_get_head_object(self, backend, account, container):
        data = b"hello world"
        info = self.put(backend, account, container, "greeting.txt", data, "text/plain",
                        {"X-Object-Meta-Color": "green"})
        assert info.etag == hashlib.md5(data).hexdigest()
        assert info.size == len(data)
        got = backend.get_object(account, container, "greeting.txt")
        assert _read(got) == data
        assert got.etag == hashlib.md5(data).hexdigest()
        assert got.size == len(data)
        assert got.content_type == "text/plain"
        assert ci_get(got.metadata, "X-Object-Meta-Color") == "green"
        assert abs(got.last_modified - time.time()) < 300
        head = backend.head_object(account, container, "greeting.txt")
        assert head.size == len(data) and head.etag == got.etag and head.content_type == "text/plain"
        assert ci_get(head.metadata, "X-Object-Meta-Color") == "green"

    def test_get_object_range(self, backend, account, container):
        data = bytes(range(256)) * 1000
        self.put(backend, account, container, "ranged", data, chunk=4096)
        for start, end in [(0, 10), (5000, 70000), (len(data) - 3, len(data)), (100, 100), (0, len(data))]:
            info = backend.get_object_range(account, container, "ranged", start, end)
            assert info.size == len(data)
            assert info.etag == hashlib.md5(data).hexdigest()
            assert _read(info) == data[start:end], (start, end)
        with pytest.raises(ObjectNotFound):
            backend.get_object_range(account, container, "nothing", 0, 1)

    def test_empty_object(self, backend, account, container):
        info = self.put(backend, account, container, "empty", b"")
        assert info.size == 0 and info.etag == hashlib.md5(b"").hexdigest()
        assert _read(backend.get_object(account, container, "empty")) == b""

    def test_large_object_streams_in_chunks(self, backend, account, container):
        data = os.urandom(1024 * 1024 + 7)
        info = self.put(backend, account, container, "big", data, chunk=65536)
        assert info.etag == hashlib.md5(data).hexdigest()
        got = backend.get_object(account, container, "big")
        assert got.size == len(data)
        assert _read(got) == data

    def test_overwrite_replaces(self, backend, account, container):
        self.put(backend, account, container, "o", b"first", metadata={"X-Object-Meta-A": "1"})
        self.put(backend, account, container, "o", b"second!", metadata={"X-Object-Meta-B": "2"})
        got = backend.get_object(account, container, "o")
        assert _read(got) == b"second!"
        assert ci_get(got.metadata, "X-Object-Meta-A") is None
        assert ci_get(got.metadata, "X-Object-Meta-B") == "2"
        assert [o["name"] for o in backend.list_objects(account, container)] == ["o"]

    def test_post_object_replaces_metadata(self, backend, account, container):
        self.put(backend, account, container, "o", b"x", "text/plain", {"X-Object-Meta-A": "1"})
        backend.post_object(account, container, "o", {"X-Object-Meta-B": "2"})
        head = backend.head_object(account, container, "o")
        assert ci_get(head.metadata, "X-Object-Meta-A") is None
        assert ci_get(head.metadata, "X-Object-Meta-B") == "2"
        assert _read(backend.get_object(account, container, "o")) == b"x"
        with pytest.raises(ObjectNotFound):
            backend.post_object(account, container, "missing", {"X-Object-Meta-B": "2"})

    def test_delete_object(self, backend, account, container):
        self.put(backend, account, container, "o", b"x")
        backend.delete_object(account, container, "o")
        with pytest.raises(ObjectNotFound):
            backend.get_object(account, container, "o")
        with pytest.raises(ObjectNotFound):
            backend.head_object(account, container, "o")
        with pytest.raises(ObjectNotFound):
            backend.delete_object(account, container, "o")
        assert backend.list_objects(account, container) == []

    def test_missing_object(self, backend, account, container):
        with pytest.raises(ObjectNotFound):
            backend.get_object(account, container, "nothing")
        with pytest.raises(ObjectNotFound):
            backend.head_object(account, container, "nothing")

    def test_etag_mismatch_stores_nothing(self, backend, account, container):
        self.put(backend, account, container, "o", b"original")
        with pytest.raises(ObjectEtagMismatch):
            backend.put_object(account, container, "o", iter([b"new ", b"data"]), "text/plain", {},
                               etag="0" * 32)
        assert _read(backend.get_object(account, container, "o")) == b"original"
        with pytest.raises(ObjectEtagMismatch):
            backend.put_object(account, container, "fresh", iter([b"abc"]), "text/plain", {}, etag="f" * 32)
        with pytest.raises(ObjectNotFound):
            backend.head_object(account, container, "fresh")
        good = backend.put_object(account, container, "ok", iter([b"abc"]), "text/plain", {},
                                  etag=hashlib.md5(b"abc").hexdigest())
        assert good.etag == hashlib.md5(b"abc").hexdigest()

    def test_failed_upload_keeps_old_object(self, backend, account, container):
        self.put(backend, account, container, "o", b"old content")

        def chunks() -> Iterator[bytes]:
            yield b"partial new content"
            raise _Boom("client went away")

        with pytest.raises(Exception):  # noqa: B017 - the client's error, whatever its type
            backend.put_object(account, container, "o", chunks(), "text/plain", {})
        assert _read(backend.get_object(account, container, "o")) == b"old content"
        with pytest.raises(Exception):  # noqa: B017
            backend.put_object(account, container, "new", chunks(), "text/plain", {})
        with pytest.raises(ObjectNotFound):
            backend.get_object(account, container, "new")

    def test_expired_object_is_gone(self, backend, account, container):
        past = str(int(time.time()) - 10)
        self.put(backend, account, container, "old", b"x", metadata={"X-Delete-At": past})
        with pytest.raises(ObjectNotFound):
            backend.get_object(account, container, "old")
        with pytest.raises(ObjectNotFound):
            backend.head_object(account, container, "old")
        future = str(int(time.time()) + 3600)
        self.put(backend, account, container, "later", b"y", metadata={"X-Delete-At": future})
        assert _read(backend.get_object(account, container, "later")) == b"y"

    def test_container_stats(self, backend, account, container):
        self.put(backend, account, container, "a", b"12345")
        self.put(backend, account, container, "b", b"123")
        self.settle(backend)
        info = backend.head_container(account, container)
        assert info["object_count"] == 2 and info["bytes_used"] == 8
        acct = backend.head_account(account)
        assert acct["container_count"] == 1 and acct["object_count"] == 2 and acct["bytes_used"] == 8
        row = backend.list_containers(account)[0]
        assert row["count"] == 2 and row["bytes"] == 8
        backend.delete_object(account, container, "a")
        self.settle(backend)
        assert backend.head_container(account, container)["object_count"] == 1
        assert backend.head_account(account)["bytes_used"] == 3

    def test_list_objects_options(self, backend, account, container):
        names = ["a", "a/b", "a/b/c", "a/d", "b", "b/x", "c.txt", "photos/2020/1.jpg", "photos/2021/2.jpg"]
        for n in names:
            self.put(backend, account, container, n, n.encode(), "text/plain")
        rows = backend.list_objects(account, container)
        assert [r["name"] for r in rows] == sorted(names)
        first = rows[0]
        assert first["bytes"] == 1 and first["hash"] == hashlib.md5(b"a").hexdigest()
        assert first["content_type"] == "text/plain" and "last_modified" in first

        def names_of(**kw: Any) -> list[str]:
            return [r.get("name") or r.get("subdir") for r in backend.list_objects(account, container, **kw)]

        assert names_of(prefix="a/") == ["a/b", "a/b/c", "a/d"]
        assert names_of(delimiter="/") == ["a", "a/", "b", "b/", "c.txt", "photos/"]
        assert names_of(prefix="photos/", delimiter="/") == ["photos/2020/", "photos/2021/"]
        assert names_of(prefix="a/", delimiter="/") == ["a/b", "a/b/", "a/d"]
        assert names_of(marker="b") == ["b/x", "c.txt", "photos/2020/1.jpg", "photos/2021/2.jpg"]
        assert names_of(end_marker="a/d") == ["a", "a/b", "a/b/c"]
        assert names_of(marker="a", end_marker="b") == ["a/b", "a/b/c", "a/d"]
        assert names_of(limit=3) == ["a", "a/b", "a/b/c"]
        assert names_of(reverse=True) == sorted(names, reverse=True)
        assert names_of(reverse=True, limit=2) == sorted(names, reverse=True)[:2]
        assert names_of(reverse=True, marker="b") == ["a/d", "a/b/c", "a/b", "a"]
        assert names_of(delimiter="/", limit=2) == ["a", "a/"]
        assert names_of(delimiter="/", marker="a/") == ["b", "b/", "c.txt", "photos/"]

    def test_hostile_and_unicode_names_stay_inside(self, backend, account, container):
        root = self.storage_root(backend)
        before = self._siblings(root)
        names = [
            "../escaped", "../../escaped", "../../../../../../tmp/escaped", "/abs/escaped",
            "a/../../escaped", "ünïcödé ☃ 名前", "tab\tand\nnewline", "%2e%2e%2fescaped",
            "x" * 1024, "d/" * 300 + "deep", ".", "..", "...",
        ]
        for i, name in enumerate(names):
            self.put(backend, account, container, name, f"body {i}".encode())
        for i, name in enumerate(names):
            assert _read(backend.get_object(account, container, name)) == f"body {i}".encode(), name
        assert [r["name"] for r in backend.list_objects(account, container)] == sorted(names)
        assert self._siblings(root) == before
        if root is not None:
            for base in [root.parent, root.parent.parent]:
                assert not (base / "escaped").exists()
            assert not Path("/tmp/escaped").exists()
        for name in names:
            backend.delete_object(account, container, name)
        assert backend.list_objects(account, container) == []

    def test_unicode_container_and_metadata(self, backend, account):
        name = "conteneur ☁ ../.."
        assert backend.put_container(account, name, {"X-Container-Meta-Note": "café"}) is True
        self.put(backend, account, name, "objet", b"data", metadata={"X-Object-Meta-Note": "naïve ☃"})
        assert ci_get(backend.head_container(account, name)["metadata"], "X-Container-Meta-Note") == "café"
        assert ci_get(backend.head_object(account, name, "objet").metadata, "X-Object-Meta-Note") == "naïve ☃"
        self.settle(backend)
        assert name in [c["name"] for c in backend.list_containers(account)]

    def test_accounts_are_isolated(self, backend, account):
        other = account + "_other"
        backend.put_container(account, "shared-name", {})
        self.put(backend, account, "shared-name", "o", b"mine")
        with pytest.raises(ObjectNotFound):
            backend.head_container(other, "shared-name")
        backend.put_container(other, "shared-name", {})
        with pytest.raises(ObjectNotFound):
            backend.get_object(other, "shared-name", "o")

    @staticmethod
    def _siblings(root: Path | None) -> set[str]:
        if root is None:
            return set()
        return {p.name for p in root.parent.iterdir() if p != root}
