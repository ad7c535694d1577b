"""The Image API v2 frontend in-process (noauth tokens): shapes, status codes, faults, streaming routes."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import pytest
from cumulo_api_image import app as image_app

from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext

both_stores = pytest.mark.parametrize("store_name", ["filesystem", "object"])


def _image(api, **fields):
    r = api.post("/v2/images", {"disk_format": "raw", "container_format": "bare", **fields})
    assert r.status_int == 201, r.text
    return r.json


def _upload(api, image_id, data, **kw):
    return api.put(f"/v2/images/{image_id}/file", data, **kw)


def test_version_discovery_without_token(api):
    for path, status in (("/", 300), ("/versions", 200)):
        r = api.get(path, token=False)
        assert r.status_int == status
        versions = r.json["versions"]
        assert versions[0] == {"id": "v2.16", "status": "CURRENT",
                               "links": [{"rel": "self", "href": "http://localhost/image/v2/"}]}
        assert {v["id"] for v in versions} >= {"v2.0", "v2.1", "v2.5"}


def test_token_required(api):
    r = api.get("/v2/images", token=False)
    assert r.status_int == 401
    assert r.json["title"] == "Unauthorized" and r.json["message"]


def test_create_show_list_delete(api):
    image = _image(api, name="cirros", tags=["t"], os_distro="cirros", protected=False)
    assert image["status"] == "queued" and image["os_distro"] == "cirros"
    assert image["self"] == f"/v2/images/{image['id']}" and image["file"].endswith("/file")
    assert image["schema"] == "/v2/schemas/image"
    assert image["created_at"].endswith("Z")
    shown = api.get(f"/v2/images/{image['id']}").json
    assert shown["name"] == "cirros" and "location" not in shown and "properties" not in shown
    listing = api.get("/v2/images").json
    assert [i["id"] for i in listing["images"]] == [image["id"]]
    assert listing["first"] == "/v2/images" and listing["schema"] == "/v2/schemas/images"
    assert api.delete(f"/v2/images/{image['id']}").status_int == 204
    r = api.get(f"/v2/images/{image['id']}")
    assert r.status_int == 404
    assert r.json == {"code": "404 Not Found", "title": "Not Found", "message": f"Image {image['id']} could not be found."}


def test_paging_with_next_links(api):
    ids = {_image(api, name=f"i{n}")["id"] for n in range(5)}
    seen, url = [], "/v2/images?limit=2&sort_key=name&sort_dir=asc"
    while url:
        body = api.get(url).json
        seen += [i["name"] for i in body["images"]]
        url = body.get("next")
        assert url is None or url.startswith("/v2/images?")
        url = url[len(""):] if url else None
    assert seen == [f"i{n}" for n in range(5)]
    assert len(ids) == 5
    sorted_desc = api.get("/v2/images?sort=name:desc").json["images"]
    assert [i["name"] for i in sorted_desc] == [f"i{n}" for n in reversed(range(5))]


@pytest.mark.parametrize("query", ["limit=abc", "sort_key=checksum", "sort_dir=sideways", "marker=nope",
                                   "visibility=everyone", "size_min=big", "created_at=yesterday"])
def test_bad_list_queries_are_400(api, query):
    r = api.get("/v2/images?" + query)
    assert r.status_int == 400, r.text
    assert r.json["message"]


def test_list_filters(api, admin_api):
    _image(api, name="a", tags=["red"], os_distro="ubuntu")
    _image(api, name="b", tags=["blue"])
    admin_api.post("/v2/images", {"name": "pub", "visibility": "public"})
    assert [i["name"] for i in api.get("/v2/images?tag=red").json["images"]] == ["a"]
    assert [i["name"] for i in api.get("/v2/images?os_distro=ubuntu").json["images"]] == ["a"]
    assert [i["name"] for i in api.get("/v2/images?visibility=public").json["images"]] == ["pub"]
    assert [i["name"] for i in api.get("/v2/images?name=b").json["images"]] == ["b"]


def test_bad_create_bodies(api):
    assert api.post("/v2/images", b"{not json", content_type="application/json").status_int == 400
    assert api.post("/v2/images", ["a"]).status_int == 400
    r = api.post("/v2/images", {"disk_format": "floppy"})
    assert r.status_int == 400 and "disk_format" in r.json["message"]
    r = api.post("/v2/images", {"status": "active"})
    assert r.status_int == 403 and "read-only" in r.json["message"]
    r = api.post("/v2/images", {"visibility": "public"})
    assert r.status_int == 403


@both_stores
def test_json_body_limit_applies_except_to_upload(hub, cumulo_db, make_client):
    from cumulo_api_image.frontend import ImageFrontend

    cumulo_db.set("max_request_body_size", 1024, group="api")
    client = make_client(ImageFrontend(PluginContext(CONF)).build_app(hub), "u1:p1:member,reader")
    r = client.post("/v2/images", {"name": "x" * 200, "description": "y" * 2000})
    assert r.status_int == 413 and r.json["title"] == "Request Entity Too Large"
    image = _image(client)
    assert _upload(client, image["id"], os.urandom(100_000)).status_int == 204
    assert client.get(f"/v2/images/{image['id']}").json["size"] == 100_000


@both_stores
def test_upload_download_roundtrip_with_md5(api):
    data = os.urandom(200_000)
    image = _image(api)
    r = _upload(api, image["id"], data, headers={"Content-MD5": hashlib.md5(data).hexdigest()})
    assert r.status_int == 204, r.text
    shown = api.get(f"/v2/images/{image['id']}").json
    assert shown["status"] == "active" and shown["size"] == len(data)
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512" and shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    r = api.get(f"/v2/images/{image['id']}/file")
    assert r.status_int == 200 and r.body == data
    assert r.headers["Content-MD5"] == hashlib.md5(data).hexdigest()
    assert r.headers["Content-Type"] == "application/octet-stream"
    assert int(r.headers["Content-Length"]) == len(data)


def test_upload_base64_content_md5_and_mismatch(api):
    image = _image(api)
    good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    assert _upload(api, image["id"], b"abc", headers={"Content-MD5": good}).status_int == 204
    bad = _image(api)
    r = _upload(api, bad["id"], b"abc", headers={"Content-MD5": hashlib.md5(b"xyz").hexdigest()})
    assert r.status_int == 400 and "checksum" in r.json["message"]
    assert api.get(f"/v2/images/{bad['id']}").json["status"] == "killed"
    r = _upload(api, _image(api)["id"], b"abc", headers={"Content-MD5": "nonsense"})
    assert r.status_int == 400


@both_stores
def test_upload_declared_size_mismatch(api):
    image = _image(api)
    r = _upload(api, image["id"], b"x" * 100, headers={"X-OpenStack-Image-Size": "50"})
    assert r.status_int == 400 and "size" in r.json["message"]
    assert api.get(f"/v2/images/{image['id']}").json["status"] == "killed"


def test_upload_wrong_content_type_and_state(api):
    image = _image(api)
    r = api.put(f"/v2/images/{image['id']}/file", {"json": "no"})
    assert r.status_int == 415
    assert _upload(api, image["id"], b"ok").status_int == 204
    assert _upload(api, image["id"], b"again").status_int == 409
    assert _upload(api, "00000000-0000-0000-0000-000000000000", b"x").status_int == 404


def test_upload_by_another_project_refused(api, other):
    image = _image(api)
    assert _upload(other, image["id"], b"x").status_int == 404  # shared but not a member: invisible
    api.post(f"/v2/images/{image['id']}/members", {"member": "p2"})
    assert _upload(other, image["id"], b"x").status_int == 403


@both_stores
def test_chunked_upload_streams(app, api):
    """A chunked body (no Content-Length) is read piecewise from wsgi.input."""
    image = _image(api)
    reads = []

    class Stream(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    data = os.urandom(300_000)
    import webob

    req = webob.Request.blank(f"/v2/images/{image['id']}/file", method="PUT")
    req.environ.update({"SCRIPT_NAME": "/image", "wsgi.input": Stream(data), "CONTENT_TYPE": "application/octet-stream",
                        "HTTP_TRANSFER_ENCODING": "chunked", "HTTP_X_AUTH_TOKEN": "u1:p1:member"})
    req.environ.pop("CONTENT_LENGTH", None)
    req.environ.pop("webob.is_body_seekable", None)
    assert req.get_response(app).status_int == 204
    assert max(reads) <= image_app.CHUNK and len(reads) >= len(data) // image_app.CHUNK
    assert api.get(f"/v2/images/{image['id']}/file").body == data


@both_stores
def test_truncated_upload_returns_to_queued(app, api):
    image = _image(api)
    import webob

    req = webob.Request.blank(f"/v2/images/{image['id']}/file", method="PUT")
    req.environ.update({"SCRIPT_NAME": "/image", "wsgi.input": io.BytesIO(b"x" * 10), "CONTENT_LENGTH": "1000",
                        "CONTENT_TYPE": "application/octet-stream", "HTTP_X_AUTH_TOKEN": "u1:p1:member"})
    req.environ.pop("webob.is_body_seekable", None)
    r = req.get_response(app)
    assert r.status_int == 400 and "incomplete" in r.json["message"]
    assert api.get(f"/v2/images/{image['id']}").json["status"] == "queued"


@pytest.mark.parametrize("header, status, expect", [
    ("bytes=0-9", 206, slice(0, 10)),
    ("bytes=100-", 206, slice(100, None)),
    ("bytes=-5", 206, slice(-5, None)),
    ("bytes=990-5000", 206, slice(990, None)),
    ("bytes=0-1,5-6", 200, slice(None)),
])
@both_stores
def test_download_ranges(api, header, status, expect):
    data = bytes(range(256)) * 4
    image = _image(api)
    _upload(api, image["id"], data[:1000])
    data = data[:1000]
    r = api.get(f"/v2/images/{image['id']}/file", headers={"Range": header})
    assert r.status_int == status
    assert r.body == data[expect]
    if status == 206:
        start = expect.start if expect.start is None or expect.start >= 0 else len(data) + expect.start
        assert r.headers["Content-Range"] == f"bytes {start}-{start + len(r.body) - 1}/1000"


def test_download_unsatisfiable_range_and_no_data(api):
    image = _image(api)
    assert api.get(f"/v2/images/{image['id']}/file").status_int == 204
    _upload(api, image["id"], b"12345")
    r = api.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=10-20"})
    assert r.status_int == 416 and r.headers["Content-Range"] == "bytes */5"


def test_patch(api):
    image = _image(api, name="a")
    r = api.patch(f"/v2/images/{image['id']}", [{"op": "replace", "path": "/name", "value": "b"},
                                                 {"op": "add", "path": "/k", "value": "v"}])
    assert r.status_int == 200 and r.json["name"] == "b" and r.json["k"] == "v"
    r = api.patch(f"/v2/images/{image['id']}", [{"op": "remove", "path": "/k"}])
    assert "k" not in r.json
    r = api.patch(f"/v2/images/{image['id']}", [{"op": "replace", "path": "/name", "value": "c"}],
                  content_type="application/json")
    assert r.status_int == 415 and "v2.1-json-patch" in r.json["message"]
    assert r.headers["Accept-Patch"] == ("application/openstack-images-v2.0-json-patch, "
                                         "application/openstack-images-v2.1-json-patch")
    r = api.patch(f"/v2/images/{image['id']}", {"op": "replace"})
    assert r.status_int == 400
    r = api.patch(f"/v2/images/{image['id']}", [{"op": "remove", "path": "/missing"}])
    assert r.status_int == 409


V20 = "application/openstack-images-v2.0-json-patch"


def test_patch_v20_media_type(api):
    """Glance's 2.0 patch: the operation is the member's name and its value the path."""
    image = _image(api, name="a")
    r = api.patch(f"/v2/images/{image['id']}", [{"replace": "/name", "value": "b"},
                                                 {"add": "/k", "value": "v"}, {"add": "/tags/-", "value": "t"}],
                  content_type=V20)
    assert r.status_int == 200, r.text
    assert (r.json["name"], r.json["k"], r.json["tags"]) == ("b", "v", ["t"])
    r = api.patch(f"/v2/images/{image['id']}", [{"remove": "/k"}], content_type=V20)
    assert r.status_int == 200 and "k" not in r.json
    assert api.patch(f"/v2/images/{image['id']}", [{"remove": "/k"}], content_type=V20).status_int == 409
    for bad in ([{"op": "replace", "path": "/name", "value": "c"}],  # the 2.1 shape is not 2.0
                [{"add": "/x", "replace": "/y", "value": 1}], {"replace": "/name"}, [{"add": "name", "value": 1}]):
        r = api.patch(f"/v2/images/{image['id']}", bad, content_type=V20)
        assert r.status_int == 400, (bad, r.text)
    assert api.get(f"/v2/images/{image['id']}").json["name"] == "b"


def test_tags_routes(api):
    image = _image(api)
    assert api.put(f"/v2/images/{image['id']}/tags/blue").status_int == 204
    assert api.get(f"/v2/images/{image['id']}").json["tags"] == ["blue"]
    assert api.delete(f"/v2/images/{image['id']}/tags/blue").status_int == 204
    assert api.delete(f"/v2/images/{image['id']}/tags/blue").status_int == 404


def test_members_routes(api, other):
    image = _image(api)
    r = api.post(f"/v2/images/{image['id']}/members", {"member": "p2"})
    assert r.status_int == 200
    assert r.json["member_id"] == "p2" and r.json["status"] == "pending" and r.json["schema"] == "/v2/schemas/member"
    assert api.post(f"/v2/images/{image['id']}/members", {"member": "p2"}).status_int == 409
    assert api.post(f"/v2/images/{image['id']}/members", {"nobody": 1}).status_int == 400
    r = other.put(f"/v2/images/{image['id']}/members/p2", {"status": "accepted"})
    assert r.status_int == 200 and r.json["status"] == "accepted"
    assert other.put(f"/v2/images/{image['id']}/members/p2", {"status": "maybe"}).status_int == 400
    assert [i["id"] for i in other.get("/v2/images").json["images"]] == [image["id"]]
    assert other.get(f"/v2/images/{image['id']}/members/p2").json["status"] == "accepted"
    members = api.get(f"/v2/images/{image['id']}/members").json
    assert [m["member_id"] for m in members["members"]] == ["p2"] and members["schema"] == "/v2/schemas/members"
    assert api.delete(f"/v2/images/{image['id']}/members/p2").status_int == 204
    assert other.get(f"/v2/images/{image['id']}").status_int == 404


def test_deactivate_routes(api, other, admin_api):
    image = _image(api, visibility="community")
    _upload(api, image["id"], b"data")
    assert other.post(f"/v2/images/{image['id']}/actions/deactivate").status_int == 403
    assert api.post(f"/v2/images/{image['id']}/actions/deactivate").status_int == 204  # the owner may
    assert api.get(f"/v2/images/{image['id']}/file").status_int == 403
    assert admin_api.get(f"/v2/images/{image['id']}/file").body == b"data"
    assert other.post(f"/v2/images/{image['id']}/actions/reactivate").status_int == 403
    assert api.post(f"/v2/images/{image['id']}/actions/reactivate").status_int == 204
    assert api.get(f"/v2/images/{image['id']}/file").body == b"data"
    assert admin_api.post(f"/v2/images/{image['id']}/actions/deactivate").status_int == 204
    assert admin_api.post(f"/v2/images/{image['id']}/actions/reactivate").status_int == 204


def test_protected_delete_is_403(api):
    image = _image(api, protected=True)
    r = api.delete(f"/v2/images/{image['id']}")
    assert r.status_int == 403 and "protected" in r.json["message"]


def test_schemas_and_info(api):
    schema = api.get("/v2/schemas/image").json
    assert schema["name"] == "image" and "compressed" in schema["properties"]["container_format"]["enum"]
    assert api.get("/v2/schemas/images").json["name"] == "images"
    assert api.get("/v2/schemas/members").json["name"] == "members"
    stores = {s["id"]: s for s in api.get("/v2/info/stores").json["stores"]}
    assert any(s.get("default") for s in stores.values())
    assert stores["http"]["read-only"] == "true" and "read-only" not in stores["filesystem"]
    assert api.get("/v2/info/import").json["import-methods"]["value"] == ["glance-direct", "web-download"]


def test_unknown_route_and_method(api):
    assert api.get("/v2/nothing").status_int == 404
    r = api.request("POST", "/v2/images/00000000-0000-0000-0000-000000000000")
    assert r.status_int == 405 and "PATCH" in r.headers["Allow"]


def test_frontend_metadata():
    from cumulo_api_image.frontend import ImageFrontend

    f = ImageFrontend(PluginContext(CONF))
    assert (f.service_type, f.service_name, f.path_prefix) == ("image", "glance", "/image")
    assert f.endpoint_url("http://h:1/") == "http://h:1/image"


@pytest.fixture
def web_image(tmp_path):
    """A web server on localhost serving ``/cirros.img`` (for the read-only http store)."""
    import functools
    import http.server
    import threading

    (tmp_path / "cirros.img").write_bytes(b"web image bytes" * 1000)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}", b"web image bytes" * 1000
    server.shutdown()


def test_http_location_for_allowed_hosts_only(api, cumulo_db, web_image):
    from cumulo import registry
    from cumulo.conf import CONF

    hostport, data = web_image
    registry.register_plugin_opts(registry.load_class("image", "http"), CONF)
    cumulo_db.set("allowed_hosts", [hostport], group="image_http")
    image = _image(api)
    r = api.patch(f"/v2/images/{image['id']}", [{"op": "add", "path": "/locations/-",
                                                  "value": {"url": "http://elsewhere.example/x.img", "metadata": {}}}])
    assert r.status_int == 400 and "allowed_hosts" in r.json["message"]
    url = f"http://{hostport}/cirros.img"
    r = api.patch(f"/v2/images/{image['id']}", [{"op": "add", "path": "/locations/-",
                                                  "value": {"url": url, "metadata": {}}}])
    assert r.status_int == 200, r.text
    assert r.json["status"] == "active" and r.json["size"] == len(data) and r.json["stores"] == "http"
    assert api.get(f"/v2/images/{image['id']}/file").body == data
    ranged = api.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=3-7"})
    assert ranged.status_int == 206 and ranged.body == data[3:8]
    assert api.delete(f"/v2/images/{image['id']}").status_int == 204  # the web server's file is not touched
    second = _image(api)
    r = api.post(f"/v2/images/{second['id']}/locations", {"url": url})
    assert r.status_int == 202
    assert api.get(f"/v2/images/{second['id']}/file").body == data


def test_patch_body_goes_through_the_kernel_json_parser(api):
    image = _image(api)
    for raw, words in ((b'[{"op": "replace", "path": "/name", "value": "\\ud800"}]', "surrogate"),
                       (b'[{"op": "replace", "path": "/min_disk", "value": 1e999}]', "out of range"),
                       (b"[" * 40 + b"]" * 40, "nests deeper"), (b"", "missing")):
        r = api.request("PATCH", f"/v2/images/{image['id']}", raw,
                        content_type="application/openstack-images-v2.1-json-patch")
        assert r.status_int == 400, r.text
        assert words in r.json["message"]


def test_unknown_image_paths_are_404(api):
    assert api.get("/v2/nothing").status_int == 404
    assert api.get("/v2/images/x/nothing").json["code"] == "404 Not Found"
    r = api.request("PUT", "/v2/images")
    assert r.status_int == 405 and "GET" in r.headers["Allow"]


def test_upload_not_of_the_disk_format_is_400_and_stays_queued(api):
    image = _image(api, disk_format="qcow2")
    r = _upload(api, image["id"], b"plain bytes, no qcow2 header" * 100)
    assert r.status_int == 400, r.text
    assert "disk_format qcow2" in r.json["message"] and r.json["code"] == "400 Bad Request"
    assert api.get(f"/v2/images/{image['id']}").json["status"] == "queued"
