"""Object Storage against what Tempest asserts on every Swift answer (its ``custom_matchers``):
the headers each method must carry and their shapes, ``X-Trans-Id`` like Swift's
(``tx<21 hex>-<10 hex of the Unix time>``) and equal to ``X-Openstack-Request-Id``, and the
same id in the server's access log. Requests go through python-swiftclient to a real
``cumulo up``.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from swiftclient import client as swiftclient  # type: ignore[import-untyped]
from swiftclient.exceptions import ClientException  # type: ignore[import-untyped]

from cumulo.testing.cloud import CumuloCloud

TRANS_ID = re.compile(r"^tx[0-9a-f]{21}-[0-9a-f]{10}")
DIGITS = ("content-length", "x-account-bytes-used", "x-account-container-count", "x-account-object-count",
          "x-container-bytes-used", "x-container-object-count")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("object-conformance"), config={
        "api": {"frontends": "identity,object-store"}, "object": {"backend": "dir"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def conn(cloud: CumuloCloud) -> swiftclient.Connection:
    issued = cloud.openstack("token", "issue")
    return swiftclient.Connection(preauthurl=f"{cloud.url}/object-store/v1/AUTH_{issued['project_id']}",
                                  preauthtoken=issued["id"], retries=0)


@pytest.fixture(scope="module")
def policies(conn: swiftclient.Connection) -> list[dict[str, Any]]:
    return list(conn.get_capabilities()["swift"]["policies"])


def problems(status: int, headers: dict[str, str], target: str, method: str,
             policies: list[dict[str, Any]]) -> list[str]:
    """What Tempest's two matchers (all headers present, all well formatted) would reject."""
    h = {k.lower(): v for k, v in headers.items()}
    need = ["content-type", "x-trans-id", "date"]
    if not (100 <= status < 200 or status == 204):
        need.append("content-length")
    if method in ("GET", "HEAD"):
        need += ["x-timestamp", "accept-ranges"]
        need += {"Account": ["x-account-bytes-used", "x-account-container-count", "x-account-object-count"],
                 "Container": ["x-container-bytes-used", "x-container-object-count", "x-storage-policy"],
                 "Object": ["etag", "last-modified"]}[target]
    if target == "Object" and method in ("PUT", "COPY"):
        need += ["etag", "last-modified"]
    if target == "Object" and method == "COPY":
        need += ["x-copied-from", "x-copied-from-last-modified"]
    out = [f"{name} missing" for name in need if name not in h]
    names = [p["name"] for p in policies]
    if method in ("GET", "HEAD") and target == "Account" and int(h.get("x-account-container-count", "0")):
        usage = [[f"x-account-storage-policy-{n.lower()}-{w}" for w in ("bytes-used", "object-count",
                                                                         "container-count")] for n in names]
        if not any(all(u in h for u in one) for one in usage):
            out.append("no storage policy usage headers")
    if method in ("GET", "HEAD") and target == "Container" and h.get("x-storage-policy") not in names:
        out.append(f"x-storage-policy {h.get('x-storage-policy')!r} is not one of {names}")
    for key, value in h.items():
        bad = ((key in DIGITS and not value.isdigit())
               or (key in ("content-type", "date", "last-modified", "x-copied-from-last-modified") and not value)
               or (key == "x-timestamp" and not re.match(r"^\d+\.?\d*\Z", value))
               or (key == "x-copied-from" and not re.match(r"\S+/\S+", value))
               or (key == "x-trans-id" and not TRANS_ID.match(value))
               or (key == "accept-ranges" and value != "bytes")
               or (key == "etag" and not value.isalnum())
               or (key == "transfer-encoding" and value != "chunked"))
        if bad:
            out.append(f"{key}: {value!r} is malformed")
    if h.get("x-openstack-request-id") != h.get("x-trans-id"):
        out.append(f"x-openstack-request-id {h.get('x-openstack-request-id')!r} != x-trans-id")
    return out


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_every_answer_passes_tempests_matchers(cloud: CumuloCloud, conn: swiftclient.Connection,
                                               policies: list[dict[str, Any]]) -> None:
    assert policies, "/info lists no storage policy"
    container, obj = uniq("tempest"), "object.txt"
    seen: list[tuple[str, str, dict[str, Any]]] = []

    def call(target: str, method: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        rd: dict[str, Any] = {}
        if method == "HEAD":  # swiftclient's head_* return the headers (and raise unless 2xx)
            result = fn(*args, **kwargs)
            rd = {"status": {"Account": 204, "Container": 204, "Object": 200}[target], "headers": result}
        elif method == "GET" and target != "Object":  # listings: (headers, rows), 200 with rows
            result = fn(*args, **kwargs)
            rd = {"status": 200, "headers": result[0]}
        else:
            result = fn(*args, response_dict=rd, **kwargs)
        seen.append((target, method, rd))
        return result

    started = int(time.time())
    call("Container", "PUT", conn.put_container, container)
    call("Object", "PUT", conn.put_object, container, obj, b"conformance data", content_type="text/plain")
    call("Account", "HEAD", conn.head_account)
    call("Account", "GET", conn.get_account)
    call("Account", "POST", conn.post_account, {"X-Account-Meta-Tempest": "yes"})
    call("Container", "HEAD", conn.head_container, container)
    call("Container", "GET", conn.get_container, container)
    call("Container", "POST", conn.post_container, container, {"X-Container-Meta-Tempest": "yes"})
    call("Object", "HEAD", conn.head_object, container, obj)
    call("Object", "GET", conn.get_object, container, obj)
    call("Object", "POST", conn.post_object, container, obj, {"X-Object-Meta-Tempest": "yes"})
    call("Object", "COPY", conn.copy_object, container, obj, destination=f"/{container}/copy.txt")
    call("Object", "DELETE", conn.delete_object, container, "copy.txt")
    call("Object", "DELETE", conn.delete_object, container, obj)
    call("Container", "DELETE", conn.delete_container, container)
    found = []
    for target, method, rd in seen:
        bad = problems(rd["status"], rd["headers"], target, method, policies)
        assert not bad, f"{method} {target} ({rd['status']}): {bad}"
        trans = rd["headers"]["x-trans-id"]
        assert started <= int(trans[24:34], 16) <= int(time.time()), trans
        found.append(trans)
    assert len(set(found)) == len(found), "transaction ids repeat"
    # The id the client saw is the one the server logged for that request.
    time.sleep(0.5)
    with open(cloud.log_path, errors="replace") as f:
        log = f.read()
    for trans in found:
        assert f"request_id={trans}" in log, f"{trans} is not in the access log"


def test_errors_carry_the_trans_id_too(conn: swiftclient.Connection) -> None:
    with pytest.raises(ClientException) as err:
        conn.head_object(uniq("missing"), "nothing")
    assert err.value.http_status == 404
    headers = {k.lower(): v for k, v in (err.value.http_response_headers or {}).items()}
    assert TRANS_ID.match(headers["x-trans-id"]), headers
    assert headers["x-openstack-request-id"] == headers["x-trans-id"]
    assert "date" in headers and "content-type" in headers


def test_trans_id_extra_is_appended(conn: swiftclient.Connection) -> None:
    headers = conn.head_account(headers={"X-Trans-Id-Extra": "upload-42"})
    trans = headers["x-trans-id"]
    assert TRANS_ID.match(trans) and trans.endswith("-upload-42"), trans
    assert headers["x-openstack-request-id"] == trans
