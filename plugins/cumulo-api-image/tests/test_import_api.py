"""The interoperable image import API: ``/v2/info/import``, ``PUT .../stage``, ``POST .../import``,
``GET .../tasks`` and the ``OpenStack-image-import-methods`` header, through the whole app."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def staging(cumulo_db: Any, tmp_path: Any) -> str:
    path = str(tmp_path / "staging")
    cumulo_db.set("staging_path", path, group="image")
    return path


def _wait(api: Any, image_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = api.get(f"/v2/images/{image_id}").json
        if image["status"] != "importing":
            return image
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} still importing")


def test_create_names_import_methods(api: Any) -> None:
    r = api.post("/v2/images", {"disk_format": "raw", "container_format": "bare"})
    assert r.status_int == 201
    assert r.headers["OpenStack-image-import-methods"] == "glance-direct,web-download"


def test_no_methods_when_disabled(api: Any, cumulo_db: Any) -> None:
    cumulo_db.set("enabled_import_methods", [], group="image")
    assert api.get("/v2/info/import").json["import-methods"]["value"] == []
    r = api.post("/v2/images", {"disk_format": "raw", "container_format": "bare"})
    assert "OpenStack-image-import-methods" not in r.headers
    r = api.put(f"/v2/images/{r.json['id']}/stage", b"x", content_type="application/octet-stream")
    assert r.status_int == 404 and "glance-direct" in r.json["message"]


def test_stage_and_glance_direct_import(api: Any, cumulo_db: Any) -> None:
    cumulo_db.set("max_request_body_size", 1024, group="api")  # staged data is not a JSON body
    data = os.urandom(50_000)
    image = api.post("/v2/images", {"disk_format": "raw", "container_format": "bare"}).json
    r = api.put(f"/v2/images/{image['id']}/stage", data, content_type="application/json")
    assert r.status_int == 415
    r = api.put(f"/v2/images/{image['id']}/stage", data, content_type="application/octet-stream")
    assert r.status_int == 204, r.text
    assert api.get(f"/v2/images/{image['id']}").json["status"] == "uploading"
    r = api.put(f"/v2/images/{image['id']}/stage", data, content_type="application/octet-stream")
    assert r.status_int == 409 and "queued" in r.json["message"]
    r = api.post(f"/v2/images/{image['id']}/import", {"method": {"name": "glance-direct"}},
                 headers={"X-OpenStack-Request-ID": "req-11111111-2222-3333-4444-555555555555"})
    assert r.status_int == 202 and r.body == b""
    done = _wait(api, image["id"])
    assert done["status"] == "active" and done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["stores"] == "filesystem"
    [task] = api.get(f"/v2/images/{image['id']}/tasks").json["tasks"]
    assert task["status"] == "success" and task["type"] == "api_image_import"
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert task["request_id"] == r.headers["X-OpenStack-Request-ID"]
    assert api.get(f"/v2/images/{image['id']}/file").body == data


def test_import_faults(api: Any) -> None:
    image = api.post("/v2/images", {"disk_format": "raw", "container_format": "bare"}).json
    path = f"/v2/images/{image['id']}/import"
    r = api.post(path, {"method": {"name": "glance-direct"}})
    assert r.status_int == 409 and "stage" in r.json["message"]
    r = api.post(path, {"method": {"name": "nonsense"}})
    assert r.status_int == 400 and "nonsense" in r.json["message"]
    r = api.post(path, {"method": {"name": "web-download", "uri": "http://169.254.169.254/latest/meta-data"}})
    assert r.status_int == 400 and "does not pass filtering" in r.json["message"]
    r = api.post(path, {"method": {"name": "web-download", "uri": "file:///etc/passwd"}})
    assert r.status_int == 400 and "scheme 'file'" in r.json["message"]
    r = api.post("/v2/images/00000000-0000-0000-0000-000000000000/import", {"method": {"name": "glance-direct"}})
    assert r.status_int == 404
    assert api.get(f"/v2/images/{image['id']}").json["status"] == "queued"


def test_others_cannot_stage_or_import(admin_api: Any, other: Any) -> None:
    image = admin_api.post("/v2/images", {"disk_format": "raw", "container_format": "bare",
                                          "visibility": "public"}).json
    r = other.put(f"/v2/images/{image['id']}/stage", b"x", content_type="application/octet-stream")
    assert r.status_int == 403
    r = other.post(f"/v2/images/{image['id']}/import", {"method": {"name": "web-download",
                                                                    "uri": "http://example.org/x"}})
    assert r.status_int == 403


def test_delete_from_store_never_removes_the_only_copy(api: Any) -> None:
    image = api.post("/v2/images", {"disk_format": "raw", "container_format": "bare"}).json
    r = api.delete(f"/v2/stores/filesystem/{image['id']}")
    assert r.status_int == 409 and "active" in r.json["message"]
    assert api.put(f"/v2/images/{image['id']}/file", b"data", content_type="application/octet-stream").status_int == 204
    r = api.delete(f"/v2/stores/filesystem/{image['id']}")
    assert r.status_int == 403 and "last location" in r.json["message"]
    assert api.delete(f"/v2/stores/object/{image['id']}").status_int == 404
    assert api.delete(f"/v2/stores/nowhere/{image['id']}").status_int == 404
    assert api.get(f"/v2/images/{image['id']}/file").body == b"data"
