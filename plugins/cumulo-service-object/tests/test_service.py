"""The object service's Swift semantics, on the "dir" backend loaded through the registry."""

from __future__ import annotations

import hashlib
import json

import pytest
from cumulo_service_object.manager import Service

from cumulo import exception
from cumulo.contracts.object import SwiftError
from cumulo.interfaces.object import ObjectNotFound
from cumulo.testing.object_service import ACCOUNT, ADMIN, ANON, OTHER, OWNER, READER

A = ACCOUNT


@pytest.fixture
def svc(cumulo_object_hub):
    return Service(cumulo_object_hub)


def put(svc, name, data, caller=OWNER, container="c", headers=None, params=None):
    info, _ = svc.object_put(caller, A, container, name, [data], len(data), headers or {}, params)
    return info


def read(svc, name, container="c", caller=OWNER, start=0, end=None, **kw):
    r = svc.object_read(caller, A, container, name, **kw)
    return b"".join(r.reader(start, r.size if end is None else end))


@pytest.fixture
def box(svc):
    assert svc.container_put(OWNER, A, "c", {}) is True
    return "c"


def test_access_rules(svc, box):
    put(svc, "o", b"data")
    assert read(svc, "o") == b"data"
    assert read(svc, "o", caller=ADMIN) == b"data"
    assert read(svc, "o", caller=READER) == b"data"
    with pytest.raises(exception.Forbidden):
        put(svc, "o", b"x", caller=READER)
    with pytest.raises(exception.Forbidden):
        read(svc, "o", caller=OTHER)
    with pytest.raises(exception.NotAuthenticated):
        read(svc, "o", caller=ANON)
    with pytest.raises(exception.Forbidden):
        svc.account_head(OTHER, A)
    with pytest.raises(exception.Forbidden):
        svc.container_put(OTHER, A, "theirs", {})
    # ACLs open reads and writes, never the container's own settings.
    svc.container_post(OWNER, A, "c", {"X-Container-Read": "p2:*", "X-Container-Write": "p2:u2"})
    assert read(svc, "o", caller=OTHER) == b"data"
    put(svc, "from-p2", b"hi", caller=OTHER)
    with pytest.raises(exception.Forbidden):
        svc.container_post(OTHER, A, "c", {"X-Container-Read": "*:*"})
    # Referrer ACL: anonymous reads, listings only with .rlistings.
    svc.container_post(OWNER, A, "c", {"X-Container-Read": ".r:*"})
    assert read(svc, "o", caller=ANON) == b"data"
    with pytest.raises(exception.NotAuthenticated):
        svc.container_list(ANON, A, "c")
    svc.container_post(OWNER, A, "c", {"X-Container-Read": ".r:*,.rlistings"})
    assert [r["name"] for r in svc.container_list(ANON, A, "c")[1]] == ["from-p2", "o"]
    with pytest.raises(SwiftError):
        svc.check_account("not-an-account")


def test_names_and_metadata_limits(svc, box):
    with pytest.raises(SwiftError) as err:
        put(svc, "x" * 1025, b"")
    assert err.value.code == 400 and "1024" in err.value.message
    put(svc, "é" * 512, b"ok")  # 1024 bytes of UTF-8 is the limit
    with pytest.raises(SwiftError):
        svc.container_put(OWNER, A, "a/b", {})
    with pytest.raises(SwiftError):
        put(svc, "m", b"", headers={"X-Object-Meta-" + "n" * 129: "v"})
    with pytest.raises(SwiftError):
        put(svc, "m", b"", headers={"X-Object-Meta-K": "v" * 257})
    with pytest.raises(SwiftError):
        put(svc, "m", b"", headers={f"X-Object-Meta-K{i}": "v" for i in range(91)})
    with pytest.raises(SwiftError):
        svc.account_post(OWNER, A, {f"X-Account-Meta-K{i}": "v" * 200 for i in range(30)})
    with pytest.raises(SwiftError):
        put(svc, "m", b"", headers={"X-Delete-At": "12"})
    with pytest.raises(SwiftError):
        put(svc, "m", b"", headers={"X-Delete-After": "soon"})


def test_expiry_and_conditional_put(svc, box):
    put(svc, "gone", b"x", headers={"X-Delete-After": "0"})
    with pytest.raises(exception.NotFound):
        svc.object_read(OWNER, A, "c", "gone")
    put(svc, "later", b"y", headers={"X-Delete-After": "3600"})
    assert read(svc, "later") == b"y"
    with pytest.raises(SwiftError) as err:
        put(svc, "later", b"z", headers={"If-None-Match": "*"})
    assert err.value.code == 412
    put(svc, "new", b"z", headers={"If-None-Match": "*"})


def test_size_limit_and_quotas(svc, box, cumulo_conf):
    cumulo_conf.set("max_file_size", 10, group="object")
    with pytest.raises(SwiftError) as err:
        put(svc, "big", b"x" * 11)
    assert err.value.code == 413
    with pytest.raises(SwiftError):  # chunked: no Content-Length, stopped while streaming
        svc.object_put(OWNER, A, "c", "big", [b"x" * 6, b"x" * 6], None, {})
    with pytest.raises(exception.NotFound):
        svc.object_read(OWNER, A, "c", "big")
    svc.container_post(OWNER, A, "c", {"X-Container-Meta-Quota-Bytes": "8", "X-Container-Meta-Quota-Count": "2"})
    put(svc, "a", b"12345")
    with pytest.raises(SwiftError, match="quota"):
        put(svc, "b", b"12345")
    put(svc, "b", b"123")
    with pytest.raises(SwiftError, match="quota"):
        put(svc, "c", b"")  # count
    with pytest.raises(SwiftError):
        svc.container_post(OWNER, A, "c", {"X-Container-Meta-Quota-Bytes": "lots"})
    with pytest.raises(exception.Forbidden):
        svc.account_post(OWNER, A, {"X-Account-Meta-Quota-Bytes": "1"})
    svc.account_post(ADMIN, A, {"X-Account-Meta-Quota-Bytes": "9"})
    svc.container_put(OWNER, A, "d", {})
    with pytest.raises(SwiftError, match="quota"):
        put(svc, "x", b"12", container="d")


def test_versions_stack_mode(svc, box):
    svc.container_put(OWNER, A, "versions", {})
    svc.container_post(OWNER, A, "c", {"X-Versions-Location": "versions"})
    for body in (b"v1", b"v2", b"v3"):
        put(svc, "doc", body)
    archived = svc.container_list(OWNER, A, "versions")[1]
    assert [r["name"].startswith("003doc/") for r in archived] == [True, True]
    svc.object_delete(OWNER, A, "c", "doc")
    assert read(svc, "doc") == b"v2"
    svc.object_delete(OWNER, A, "c", "doc")
    assert read(svc, "doc") == b"v1"
    svc.object_delete(OWNER, A, "c", "doc")
    with pytest.raises(exception.NotFound):
        read(svc, "doc")
    with pytest.raises(SwiftError):
        svc.container_post(OWNER, A, "c", {"X-Versions-Location": "v", "X-History-Location": "h"})


def test_versions_history_mode(svc, box):
    svc.container_put(OWNER, A, "archive", {})
    svc.container_post(OWNER, A, "c", {"X-History-Location": "archive"})
    put(svc, "doc", b"v1")
    put(svc, "doc", b"v2")
    svc.object_delete(OWNER, A, "c", "doc")
    with pytest.raises(exception.NotFound):
        read(svc, "doc")
    names = [r["name"] for r in svc.container_list(OWNER, A, "archive")[1]]
    assert len(names) == 2
    assert sorted(read(svc, n, container="archive") for n in names) == [b"v1", b"v2"]


def test_static_large_object(svc, box):
    svc.container_put(OWNER, A, "segs", {})
    parts = [b"a" * 10, b"b" * 10, b"c" * 5]
    for i, p in enumerate(parts):
        put(svc, f"p{i}", p, container="segs")
    manifest = [{"path": f"/segs/p{i}", "etag": hashlib.md5(p).hexdigest(), "size_bytes": len(p)}
                for i, p in enumerate(parts)]
    bad = [dict(manifest[0], etag="0" * 32), {"path": "/segs/missing"}]
    with pytest.raises(SwiftError) as err:
        put(svc, "big", json.dumps(bad).encode(), params={"multipart-manifest": "put"})
    assert err.value.code == 400 and "Etag Mismatch" in err.value.message and "404" in err.value.message
    info = put(svc, "big", json.dumps(manifest).encode(), params={"multipart-manifest": "put"})
    expected_etag = hashlib.md5("".join(hashlib.md5(p).hexdigest() for p in parts).encode()).hexdigest()
    assert info.etag == f'"{expected_etag}"'
    r = svc.object_read(OWNER, A, "c", "big")
    assert r.kind == "slo" and r.size == 25 and r.etag == f'"{expected_etag}"'
    assert read(svc, "big") == b"".join(parts)
    assert read(svc, "big", start=8, end=22) == b"".join(parts)[8:22]
    raw = svc.object_read(OWNER, A, "c", "big", manifest_get=True)
    assert [m["name"] for m in raw.manifest] == ["/segs/p0", "/segs/p1", "/segs/p2"]
    # Nested SLO with a ranged segment.
    nested = [{"path": "/c/big"}, {"path": "/segs/p0", "range": "2-4"}]
    put(svc, "nested", json.dumps(nested).encode(), params={"multipart-manifest": "put"})
    assert read(svc, "nested") == b"".join(parts) + b"aaa"
    report = svc.object_delete(OWNER, A, "c", "big", {"multipart-manifest": "delete"})
    assert report["Number Deleted"] == 4 and not report["Errors"]
    assert svc.container_list(OWNER, A, "segs")[1] == []


def test_dynamic_large_object_and_copy(svc, box):
    svc.container_put(OWNER, A, "segs", {})
    for i, p in enumerate([b"one-", b"two-", b"three"]):
        put(svc, f"movie/{i:04d}", p, container="segs")
    put(svc, "movie", b"", headers={"X-Object-Manifest": "segs/movie/", "X-Object-Meta-Kind": "film"})
    r = svc.object_read(OWNER, A, "c", "movie")
    assert r.kind == "dlo" and r.size == 13 and read(svc, "movie") == b"one-two-three"
    with pytest.raises(SwiftError):
        put(svc, "bad", b"", headers={"X-Object-Manifest": "no-slash"})
    # COPY of a manifest copies its content; metadata follows unless X-Fresh-Metadata.
    info, src = svc.object_copy(OWNER, A, "c", "movie", A, "c", "flat", {"X-Object-Meta-Extra": "1"})
    assert info.size == 13 and read(svc, "flat") == b"one-two-three"
    assert svc.object_read(OWNER, A, "c", "flat").headers.get("X-Object-Meta-Kind") == "film"
    assert "X-Object-Manifest" not in svc.object_read(OWNER, A, "c", "flat").headers
    svc.object_copy(OWNER, A, "c", "movie", A, "c", "fresh", {"X-Fresh-Metadata": "true"})
    assert "X-Object-Meta-Kind" not in svc.object_read(OWNER, A, "c", "fresh").headers
    svc.object_copy(OWNER, A, "c", "movie", A, "c", "manifest-copy", {}, {"multipart-manifest": "get"})
    assert svc.object_read(OWNER, A, "c", "manifest-copy").kind == "dlo"
    # PUT with X-Copy-From.
    _, src = svc.object_put(OWNER, A, "c", "again", [], 0, {"X-Copy-From": "/c/flat"})
    assert src is not None and read(svc, "again") == b"one-two-three"
    with pytest.raises(exception.Forbidden):
        svc.object_copy(OTHER, A, "c", "flat", "AUTH_p2", "c", "stolen", {})


def test_post_keeps_large_object_markers(svc, box):
    put(svc, "p", b"12345", container="c")
    put(svc, "slo", json.dumps([{"path": "/c/p"}]).encode(), params={"multipart-manifest": "put"})
    svc.object_post(OWNER, A, "c", "slo", {"X-Object-Meta-New": "yes"})
    r = svc.object_read(OWNER, A, "c", "slo")
    assert r.kind == "slo" and r.headers.get("X-Object-Meta-New") == "yes"
    svc.object_post(OWNER, A, "c", "p", {"X-Delete-After": "0"})
    with pytest.raises(ObjectNotFound):
        svc.head_object(A, "c", "p")


def test_bulk_delete(svc, box):
    for n in ("a", "b b", "ü/x"):
        put(svc, n, b"x")
    svc.container_put(OWNER, A, "full", {})
    put(svc, "keep", b"x", container="full")
    report = svc.bulk_delete(OWNER, A, ["/c/a", "/c/b%20b", "c/%C3%BC/x", "/c/missing", "/full", ""])
    assert report["Number Deleted"] == 3
    assert report["Number Not Found"] == 1
    assert report["Errors"] == [["/full", "409 Conflict"]]
    assert report["Response Status"].startswith("400")
    assert svc.container_list(OWNER, A, "c")[1] == []
    denied = svc.bulk_delete(OTHER, A, ["/full/keep"])
    assert denied["Errors"][0][1].startswith("403")


def test_listing_limits_and_backend_layer(svc, box):
    with pytest.raises(SwiftError) as err:
        svc.container_list(OWNER, A, "c", limit=10001)
    assert err.value.code == 412
    # The backend-signature layer (used by the image store) works without a caller.
    info = svc.put_object(A, "c", "raw", iter([b"abc"]), "text/plain", {})
    assert info.etag == hashlib.md5(b"abc").hexdigest()
    assert b"".join(svc.get_object(A, "c", "raw").body) == b"abc"
    svc.delete_object(A, "c", "raw")
    with pytest.raises(ObjectNotFound):
        svc.get_object(A, "c", "raw")
