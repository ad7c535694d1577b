"""Interoperable image import (``hub.image.stage``/``import_image``): glance-direct, web-download, the URI
filter, failures back to queued, and the sweep of imports a dead process left."""

from __future__ import annotations

import hashlib
import http.server
import os
import stat
import threading
from typing import Any

import cumulo_service_image.manager as manager
import pytest
import sqlalchemy as sa
from cumulo_service_image.common import now
from cumulo_service_image.imports import UriFilter
from cumulo_service_image.models import Image

from cumulo import db, exception
from cumulo.conf import CONF
from cumulo.context import RequestContext

RAW = {"disk_format": "raw", "container_format": "bare"}


def ctx(project: str = "p1") -> RequestContext:
    return RequestContext(user_id="u1", project_id=project, roles=["member", "reader"])


@pytest.fixture
def staging(cumulo_db: Any, tmp_path: Any) -> str:
    path = str(tmp_path / "staging")
    cumulo_db.set("staging_path", path, group="image")
    return path


def _staged_import(images: Any, data: bytes, **fields: Any) -> tuple[str, str]:
    image = images.create(ctx(), {**RAW, **fields})
    images.stage(ctx(), image["id"], iter([data[:1000], data[1000:]]), size=len(data))
    task_id = images.import_image(ctx(), image["id"], {"method": {"name": "glance-direct"}}, run=False)
    return image["id"], task_id


def test_import_methods_and_stage_then_glance_direct(images: Any, staging: str) -> None:
    assert images.import_methods() == ["glance-direct", "web-download"]
    data = os.urandom(5000)
    image = images.create(ctx(), RAW)
    images.stage(ctx(), image["id"], iter([data]), size=len(data))
    assert images.get(ctx(), image["id"])["status"] == "uploading"
    staged = os.path.join(staging, image["id"])
    assert stat.S_IMODE(os.stat(staged).st_mode) == 0o600
    with pytest.raises(exception.Conflict):  # staged: not queued any more
        images.stage(ctx(), image["id"], iter([b"x"]))
    with pytest.raises(exception.Conflict):
        images.upload(ctx(), image["id"], iter([b"x"]))

    task_id = images.import_image(ctx(), image["id"], {"method": {"name": "glance-direct"}}, run=False)
    shown = images.get(ctx(), image["id"])
    assert shown["status"] == "importing"
    assert (shown["os_glance_import_task"], shown["os_glance_importing_to_stores"]) == (task_id, "filesystem")
    images.imports.run_import(ctx(), task_id)
    done = images.get(ctx(), image["id"])
    assert done["status"] == "active" and done["size"] == len(data)
    assert done["checksum"] == hashlib.md5(data).hexdigest()
    assert done["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert done["os_glance_importing_to_stores"] == "" and "os_glance_failed_import" not in done
    assert b"".join(images.download(ctx(), image["id"])) == data
    assert not os.path.exists(staged)
    [task] = images.image_tasks(ctx(), image["id"])
    assert (task["id"], task["type"], task["status"]) == (task_id, "api_image_import", "success")
    assert task["input"]["import_req"]["method"]["name"] == "glance-direct"
    assert task["user_id"] == "u1" and task["request_id"]


def test_import_refusals(images: Any, staging: str) -> None:
    image = images.create(ctx(), RAW)
    with pytest.raises(exception.Conflict, match="no staged data"):
        images.import_image(ctx(), image["id"], {"method": {"name": "glance-direct"}})
    for body, match in (({"method": {"name": "copy-image"}}, "not available"), ({}, "method"),
                        ({"method": {"name": "web-download"}}, "uri"),
                        ({"method": {"name": "glance-direct"}, "stores": ["object"]}, "only")):
        with pytest.raises(exception.Invalid, match=match):
            images.import_image(ctx(), image["id"], body)
    with pytest.raises(exception.Invalid, match="does not pass filtering.*127.0.0.1"):
        images.import_image(ctx(), image["id"], {"method": {"name": "web-download", "uri": "http://127.0.0.1/x"}})
    with pytest.raises(exception.NotFound):
        images.stage(ctx("p2"), image["id"], iter([b"x"]))
    assert images.get(ctx(), image["id"])["status"] == "queued"


def test_stage_over_the_cap_returns_to_queued(images: Any, staging: str, cumulo_db: Any) -> None:
    cumulo_db.set("image_size_cap", 100, group="image")
    image = images.create(ctx(), RAW)
    with pytest.raises(exception.RequestTooLarge):
        images.stage(ctx(), image["id"], iter([b"a" * 60, b"b" * 60]))
    assert images.get(ctx(), image["id"])["status"] == "queued"
    assert os.listdir(staging) == []


def test_inspection_refusal_fails_the_import(images: Any, staging: str) -> None:
    image_id, task_id = _staged_import(images, os.urandom(4096), disk_format="qcow2")
    images.imports.run_import(ctx(), task_id)
    shown = images.get(ctx(), image_id)
    assert shown["status"] == "queued" and shown["os_glance_failed_import"] == "filesystem"
    assert shown["size"] is None and not os.listdir(staging)
    [task] = images.image_tasks(ctx(), image_id)
    assert task["status"] == "failure" and "qcow2" in task["message"]


def test_dead_import_swept_back_to_queued(images: Any, staging: str) -> None:
    image_id, task_id = _staged_import(images, b"z" * 3000)
    live_id, _ = _staged_import(images, b"y" * 3000)  # this process's own: left alone
    with db.transaction() as s:  # as if the process that ran it died
        s.execute(sa.update(Image).where(Image.id == image_id).values(
            upload_host=f"{CONF.host}:999999999:oldboot", upload_heartbeat=now()))
    manager.start(images.hub)[0].stop()
    assert images.get(ctx(), live_id)["status"] == "importing"
    shown = images.get(ctx(), image_id)
    assert shown["status"] == "queued" and shown["os_glance_failed_import"] == "filesystem"
    assert images.image_tasks(ctx(), image_id)[0]["status"] == "failure"
    assert os.listdir(staging) == [live_id]


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{self.server.server_address[1]}/x.img")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web() -> Any:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_web_download_from_an_allowed_host(images: Any, staging: str, cumulo_db: Any, web: Any) -> None:
    port = web.server_address[1]
    _Handler.body = os.urandom(20_000)
    cumulo_db.set("allowed_hosts", ["127.0.0.1"], group="import_filtering_opts")
    cumulo_db.set("allowed_ports", [port], group="import_filtering_opts")
    image = images.create(ctx(), RAW)
    task_id = images.import_image(ctx(), image["id"], {"method": {"name": "web-download",
                                                                  "uri": f"http://127.0.0.1:{port}/x.img"}},
                                  run=False)
    images.imports.run_import(ctx(), task_id)
    shown = images.get(ctx(), image["id"])
    assert shown["status"] == "active" and shown["checksum"] == hashlib.md5(_Handler.body).hexdigest()

    # A redirect to a host the filter refuses (localhost is not in allowed_hosts) fails the import.
    other = images.create(ctx(), RAW)
    task_id = images.import_image(ctx(), other["id"], {"method": {"name": "web-download",
                                                                  "uri": f"http://127.0.0.1:{port}/redirect"}},
                                  run=False)
    images.imports.run_import(ctx(), task_id)
    assert images.get(ctx(), other["id"])["status"] == "queued"
    assert "localhost" in images.image_tasks(ctx(), other["id"])[0]["message"]


class _Opts:
    allowed_schemes = ["http", "https"]
    disallowed_schemes: list[str] = []
    allowed_hosts: list[str] = []
    disallowed_hosts: list[str] = ["bad.example"]
    allowed_ports = [80, 443]
    disallowed_ports: list[int] = []
    disallowed_networks = ["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "::1/128", "::ffff:0:0/96"]


@pytest.mark.parametrize("uri, reason", [
    ("ftp://example.org/x", "scheme 'ftp'"),
    ("http://example.org:8080/x", "port 8080"),
    ("http://bad.example/x", "disallowed"),
    ("http://10.1.2.3/x", "10.0.0.0/8"),
    ("http://169.254.169.254/latest", "169.254.0.0/16"),
    ("http://[::1]/x", "::1/128"),
    ("http://[::ffff:127.0.0.1]/x", "disallowed network"),
    ("http://localhost/x", "disallowed network"),
    ("not a uri", "absolute URI"),
    ("http:///x", "no host"),
    ("https://8.8.8.8/x", None),
])
def test_uri_filter(uri: str, reason: str | None) -> None:
    why = UriFilter(_Opts()).refusal(uri)
    if reason is None:
        assert why is None
    else:
        assert why is not None and reason in why
