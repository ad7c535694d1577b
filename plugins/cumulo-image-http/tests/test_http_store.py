"""The HTTP store against the conformance suite (read-only part), served by a local web server."""

from __future__ import annotations

import http.server
import os
import re
import threading

import pytest
from cumulo_image_http.store import HttpStore

from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo.testing.conformance.image import ImageStoreConformance, make_conf


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    root = ""
    ignore_range = False

    def log_message(self, *args):
        pass

    def _file(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path[len("/redirect/"):])
            self.end_headers()
            return None
        path = os.path.join(self.root, os.path.basename(self.path))
        if not os.path.isfile(path):
            self.send_error(404)
            return None
        return path

    def do_HEAD(self):
        path = self._file()
        if path:
            self.send_response(200)
            self.send_header("Content-Length", str(os.path.getsize(path)))
            self.end_headers()

    def do_GET(self):
        path = self._file()
        if not path:
            return
        with open(path, "rb") as f:
            data = f.read()
        m = re.match(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if m and not self.ignore_range:
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start:end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    handler = type("H", (_RangeHandler,), {"root": str(root)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def _store(web, allowed=None):
    _, hostport, _ = web
    conf = make_conf({"image_http": {"allowed_hosts": allowed if allowed is not None else [hostport]}},
                     plugins=(HttpStore,))
    return HttpStore(PluginContext(conf))


class TestHttpConformance(ImageStoreConformance):
    @pytest.fixture
    def store(self, web):
        self.web = web
        return _store(web)

    def seed(self, store, image_id, data):
        root, hostport, _ = self.web
        (root / image_id).write_bytes(data)
        return f"http://{hostport}/{image_id}"


def test_allowed_hosts_enforced(web):
    _, hostport, _ = web
    store = _store(web, allowed=["images.example.org"])
    with pytest.raises(iface.ImageStoreError, match="allowed_hosts"):
        store.validate_location(f"http://{hostport}/x")
    with pytest.raises(iface.ImageStoreError):
        store.get(f"http://{hostport}/x")
    store.validate_location("https://images.example.org/cirros.img")
    with pytest.raises(iface.ImageStoreError, match="scheme"):
        store.validate_location("ftp://images.example.org/cirros.img")
    with pytest.raises(iface.ImageStoreError, match="credentials"):
        store.validate_location("https://u:p@images.example.org/x")
    assert _store(web, allowed=[]).allowed_hosts == []
    with pytest.raises(iface.ImageStoreError):
        _store(web, allowed=[]).validate_location("https://images.example.org/x")


def test_wildcards(web):
    store = _store(web, allowed=["*.example.org"])
    store.validate_location("http://a.example.org/x")
    with pytest.raises(iface.ImageStoreError):
        store.validate_location("http://example.com/x")


def test_size_and_redirect(web):
    root, hostport, _ = web
    (root / "sized").write_bytes(b"12345")
    store = _store(web)
    assert store.get_size(f"http://{hostport}/sized") == 5
    assert b"".join(store.get(f"http://{hostport}/redirect/sized")) == b"12345"


def test_server_ignoring_range(web):
    root, hostport, handler = web
    (root / "norange").write_bytes(bytes(range(256)) * 10)
    handler.ignore_range = True
    try:
        got = b"".join(_store(web).get(f"http://{hostport}/norange", 300, 20))
    finally:
        handler.ignore_range = False
    assert got == (bytes(range(256)) * 10)[300:320]
