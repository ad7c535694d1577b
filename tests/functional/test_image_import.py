"""Interoperable image import through the unmodified clients against ``cumulo up``.

``openstack image create --import`` (glance-direct: create, stage, import), ``openstack image import
--method web-download`` and openstacksdk's ``import_image`` from a small HTTP server this module runs
on 127.0.0.1, refused under the default filter (loopback addresses) and accepted once
``[import_filtering_opts] allowed_hosts`` names it; a refused format and a restart during an import
leave the image queued with ``os_glance_failed_import``.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from typing import Any

import pytest

from cumulo.testing.cloud import CumuloCloud

KiB = 1024


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    body = b""
    slow_chunks = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        if self.path == "/slow.img":  # an import that lasts: 64 KiB every 0.2 s
            self.send_response(200)
            self.send_header("Content-Length", str(self.server.slow_chunks * 64 * KiB))
            self.end_headers()
            try:
                for _ in range(self.server.slow_chunks):
                    self.wfile.write(os.urandom(64 * KiB))
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Any:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.body = os.urandom(300 * KiB)
    server.slow_chunks = 3000
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, web: Any) -> Any:
    # The default filter but for the port: 127.0.0.1 is refused as a loopback address.
    port = web.server_address[1]
    c = CumuloCloud(tmp_path_factory.mktemp("image-import"),
                    config={"api": {"frontends": "identity,image"},
                            "import_filtering_opts": {"allowed_ports": f"80,443,{port}"}})
    c.start()
    yield c
    c.stop()


def _allow_loopback(cloud: CumuloCloud, allowed: bool) -> None:
    """Restart the cloud with 127.0.0.1 in ``allowed_hosts`` (or not), if it is not so already."""
    opts = cloud.config["import_filtering_opts"]
    if bool(opts.get("allowed_hosts")) != allowed:
        if allowed:
            opts["allowed_hosts"] = "127.0.0.1"
        else:
            opts.pop("allowed_hosts")
        cloud.restart()


def _wait(conn: Any, image_id: str, timeout: float = 60) -> Any:
    """The image once it is no longer importing (or uploading, for a stage in progress)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = conn.image.get_image(image_id)
        if image.status not in ("importing", "uploading"):
            return image
        time.sleep(0.2)
    raise AssertionError(f"image {image_id} is still {image.status}")


def _tasks(conn: Any, image_id: str) -> list[dict[str, Any]]:
    resp = conn.image.get(f"/images/{image_id}/tasks")
    assert resp.status_code == 200, resp.text
    return list(resp.json()["tasks"])


def test_import_methods_advertised(cloud: CumuloCloud) -> None:
    conn = cloud.connect()
    info = conn.image.get_import_info()
    assert info.import_methods["value"] == ["glance-direct", "web-download"]


def test_osc_create_import_glance_direct(cloud: CumuloCloud, tmp_path: Any) -> None:
    data = os.urandom(2 * 1024 * KiB + 5)
    src = tmp_path / "direct.raw"
    src.write_bytes(data)
    osc = cloud.openstack
    created = osc("image", "create", "--import", "--file", str(src), "--disk-format", "raw",
                  "--container-format", "bare", "direct-import")
    conn = cloud.connect()
    image = _wait(conn, created["id"])
    assert image.status == "active" and image.size == len(data)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert image.hash_value == hashlib.sha512(data).hexdigest()
    shown = osc("image", "show", created["id"])
    assert shown["properties"]["os_glance_import_task"]
    [task] = _tasks(conn, created["id"])
    assert task["status"] == "success" and task["input"]["import_req"]["method"]["name"] == "glance-direct"
    saved = tmp_path / "saved.raw"
    osc("image", "save", "--file", str(saved), created["id"])
    assert saved.read_bytes() == data
    staging = os.path.join(cloud.state_path, "image-staging")
    assert not os.listdir(staging), "the staged data stays after the import"


def test_glance_direct_refused_format_goes_back_to_queued(cloud: CumuloCloud, tmp_path: Any) -> None:
    src = tmp_path / "not-qcow2.img"
    src.write_bytes(os.urandom(64 * KiB))  # random bytes are no qcow2: the inspection refuses them
    created = cloud.openstack("image", "create", "--import", "--file", str(src), "--disk-format", "qcow2",
                              "--container-format", "bare", "bad-format")
    conn = cloud.connect()
    image = _wait(conn, created["id"])
    assert image.status == "queued"
    assert image.properties.get("os_glance_failed_import") == "filesystem"
    [task] = _tasks(conn, created["id"])
    assert task["status"] == "failure" and "qcow2" in task["message"]


def test_web_download_from_loopback_refused_by_default(cloud: CumuloCloud, web: Any) -> None:
    _allow_loopback(cloud, False)
    conn = cloud.connect()
    image = conn.image.create_image(name="web-refused", disk_format="raw", container_format="bare")
    uri = f"http://127.0.0.1:{web.server_address[1]}/x.img"
    # openstacksdk returns the response of the import call (it raises nothing): a 400 saying why.
    resp = conn.image.import_image(image, method="web-download", uri=uri)
    assert resp.status_code == 400
    message = resp.json()["message"]
    assert "does not pass filtering" in message and "127.0.0.1" in message and "127.0.0.0/8" in message
    # ``openstack image import`` (python-openstackclient 10) ignores the status of that call; the image
    # stays queued with nothing imported.
    cloud.openstack("image", "import", "--method", "web-download", "--uri", uri, image.id)
    shown = cloud.openstack("image", "show", image.id)
    assert shown["status"] == "queued" and "os_glance_import_task" not in shown.get("properties", {})


def test_web_download_from_an_allowed_host(cloud: CumuloCloud, web: Any) -> None:
    _allow_loopback(cloud, True)
    uri = f"http://127.0.0.1:{web.server_address[1]}/x.img"
    md5 = hashlib.md5(web.body).hexdigest()
    conn = cloud.connect()
    first = conn.image.create_image(name="web-osc", disk_format="raw", container_format="bare")
    cloud.openstack("image", "import", "--method", "web-download", "--uri", uri, first.id)
    image = _wait(conn, first.id)
    assert image.status == "active" and image.checksum == md5 and image.size == len(web.body)

    second = conn.image.create_image(name="web-sdk", disk_format="raw", container_format="bare")
    assert second.image_import_methods == ["glance-direct", "web-download"]
    conn.image.import_image(second, method="web-download", uri=uri)
    image = _wait(conn, second.id)
    assert image.status == "active" and image.checksum == md5
    [task] = _tasks(conn, second.id)
    assert task["status"] == "success" and task["input"]["import_req"]["method"]["uri"] == uri


def test_import_interrupted_by_a_crash_is_failed_at_restart(cloud: CumuloCloud, web: Any) -> None:
    _allow_loopback(cloud, True)
    conn = cloud.connect()
    image = conn.image.create_image(name="web-crash", disk_format="raw", container_format="bare")
    conn.image.import_image(image, method="web-download", uri=f"http://127.0.0.1:{web.server_address[1]}/slow.img")
    assert conn.image.get_image(image.id).status == "importing"
    cloud.kill()
    cloud.start()
    conn = cloud.connect()
    shown = conn.image.get_image(image.id)
    assert shown.status == "queued" and shown.properties.get("os_glance_failed_import") == "filesystem"
    [task] = _tasks(conn, image.id)
    assert task["status"] == "failure" and "interrupted" in task["message"]
