"""The tasks API: an ``import`` task fetches its data over HTTP into a new image, in the background."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

DATA = b"cumulo task data " * 1000


@pytest.fixture
def http_url():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/image.raw":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(DATA)))
            self.end_headers()
            self.wfile.write(DATA)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _task(url, name="task-image"):
    return {"type": "import", "input": {"import_from": url, "import_from_format": "raw",
                                        "image_properties": {"name": name, "disk_format": "raw",
                                                             "container_format": "bare"}}}


def _wait(api, task_id, status):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        task = api.get(f"/v2/tasks/{task_id}").json
        if task["status"] in ("success", "failure"):
            assert task["status"] == status, task
            return task
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} still {task['status']}")


def test_import_task_success_and_failure(admin_api, api, http_url):
    made = admin_api.post("/v2/tasks", _task(f"{http_url}/image.raw"))
    assert made.status_int == 201 and made.json["status"] == "pending" and made.json["type"] == "import"
    done = _wait(admin_api, made.json["id"], "success")
    image = admin_api.get(f"/v2/images/{done['result']['image_id']}").json
    assert image["status"] == "active" and image["size"] == len(DATA) and image["name"] == "task-image"
    assert admin_api.get(f"/v2/images/{image['id']}/file").body == DATA
    # A URL that serves nothing: the task fails with the reason, and the image it made is gone.
    bad = admin_api.post("/v2/tasks", _task(f"{http_url}/missing.qcow2", "gone")).json
    failed = _wait(admin_api, bad["id"], "failure")
    assert "404" in failed["message"] and failed["result"] is None
    assert "gone" not in [i["name"] for i in admin_api.get("/v2/images").json["images"]]
    listed = admin_api.get("/v2/tasks").json["tasks"]
    assert {t["id"] for t in listed} == {made.json["id"], bad["id"]} and "input" not in listed[0]
    assert admin_api.get("/v2/schemas/task").json["name"] == "task"
    assert admin_api.get("/v2/schemas/tasks").json["name"] == "tasks"


def test_task_refusals(admin_api, api, http_url):
    assert api.post("/v2/tasks", _task(f"{http_url}/image.raw")).status_int == 403  # admins only, as Glance
    assert api.get("/v2/tasks").status_int == 403
    for body in ({"type": "export", "input": {}}, {"type": "import"},
                 {"type": "import", "input": {"import_from": "file:///etc/passwd", "import_from_format": "raw",
                                              "image_properties": {}}},
                 {"type": "import", "input": {"import_from": "http://x/y"}}):
        assert admin_api.post("/v2/tasks", body).status_int == 400
    assert admin_api.get("/v2/tasks/nothing").status_int == 404
