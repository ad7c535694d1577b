"""The WSGI foundation: routing, faults, body limits, request ids, validation, microversions, auth."""

from __future__ import annotations

import json

import pytest
import webob

from cumulo import exception
from cumulo.wsgi import Router, validate
from cumulo.wsgi.microversion import APIVersion, negotiate, response_headers
from cumulo.wsgi.middleware import noauth_validator, pipeline
from cumulo.wsgi.server import PathDispatcher, Server

SCHEMA = {"type": "object", "required": ["thing"], "additionalProperties": False,
          "properties": {"thing": {"type": "object", "required": ["size"],
                                   "properties": {"size": {"type": "integer", "minimum": 1}}}}}


def _app(**kwargs):
    router = Router()
    router.add("GET", "/things/{thing_id}", lambda req, thing_id: {"id": thing_id, "user": req.context.user_id})
    router.add("POST", "/things", lambda req: (201, validate(req.json_body_or_fault(), SCHEMA)))
    router.add("DELETE", "/things/{thing_id}", lambda req, thing_id: None)
    router.add("GET", "/boom", lambda req: 1 / 0)
    router.add("GET", "/missing", lambda req: (_ for _ in ()).throw(exception.NotFound(resource="Thing", id="x")))
    return pipeline(router, **kwargs)


def _call(app, path, method="GET", body=None, headers=None):
    req = webob.Request.blank(path, method=method, headers=headers or {})
    if body is not None:
        req.body = body if isinstance(body, bytes) else json.dumps(body).encode()
        req.content_type = "application/json"
    return req.get_response(app)


def test_routes_and_json_and_request_id():
    resp = _call(_app(), "/things/7")
    assert resp.status_int == 200 and resp.json == {"id": "7", "user": None}
    assert resp.headers["x-openstack-request-id"].startswith("req-")
    assert _call(_app(), "/things/7", "DELETE").status_int == 204


def test_unknown_path_is_json_404_and_wrong_method_405_with_allow():
    resp = _call(_app(), "/nothing")
    assert resp.status_int == 404 and resp.json["error"]["code"] == 404
    resp = _call(_app(), "/things/7", "PUT")
    assert resp.status_int == 405 and set(resp.headers["Allow"].split(", ")) == {"DELETE", "GET"}


def test_validation_names_the_field():
    resp = _call(_app(), "/things", "POST", {"thing": {"size": 0}})
    assert resp.status_int == 400
    assert "thing.size" in resp.json["error"]["message"]
    resp = _call(_app(), "/things", "POST", {"thing": {"size": 2}, "extra": 1})
    assert resp.status_int == 400 and "extra" in resp.json["error"]["message"]
    assert _call(_app(), "/things", "POST", {"thing": {"size": 2}}).status_int == 201


def test_malformed_json_is_400_not_500():
    resp = _call(_app(), "/things", "POST", b"{not json")
    assert resp.status_int == 400 and "Malformed JSON" in resp.json["error"]["message"]


def test_unexpected_error_is_500_without_traceback():
    resp = _call(_app(), "/boom")
    assert resp.status_int == 500
    text = resp.text
    assert "Traceback" not in text and "ZeroDivisionError" not in text and "req-" in text


def test_kernel_errors_keep_their_status():
    resp = _call(_app(), "/missing")
    assert resp.status_int == 404 and resp.json["error"]["message"] == "Thing x could not be found."


def test_body_size_limit_declared_and_streamed():
    app = _app(max_body=10)
    resp = _call(app, "/things", "POST", {"thing": {"size": 12345678}})
    assert resp.status_int == 413
    req = webob.Request.blank("/things", method="POST")
    req.body_file = __import__("io").BytesIO(b'{"thing": {"size": 123456789}}')
    req.content_length = None
    req.headers["Transfer-Encoding"] = "chunked"
    req.is_body_seekable = False
    assert req.get_response(app).status_int in (400, 413)


def test_auth_middleware_401_and_context():
    app = _app(validate=noauth_validator)
    assert _call(app, "/things/1").status_int == 401
    assert _call(app, "/things/1", headers={"X-Auth-Token": "bad"}).status_int == 401
    resp = _call(app, "/things/1", headers={"X-Auth-Token": "alice:proj1:member"})
    assert resp.json["user"] == "alice"


def test_custom_fault_renderer():
    def nova(status, title, message, err):
        return {"itemNotFound" if status == 404 else "computeFault": {"code": status, "message": message}}

    resp = _call(_app(renderer=nova), "/missing")
    assert resp.json == {"itemNotFound": {"code": 404, "message": "Thing x could not be found."}}


def test_microversions():
    h = webob.Request.blank("/").headers
    assert negotiate(h, "compute", "2.1", "2.90") == APIVersion(2, 1)
    h["OpenStack-API-Version"] = "compute 2.50"
    assert negotiate(h, "compute", "2.1", "2.90") == APIVersion(2, 50)
    h["OpenStack-API-Version"] = "compute latest"
    assert str(negotiate(h, "compute", "2.1", "2.90")) == "2.90"
    h["OpenStack-API-Version"] = "compute 2.91"
    with pytest.raises(exception.NotAcceptable, match="Minimum is 2.1 and maximum is 2.90"):
        negotiate(h, "compute", "2.1", "2.90")
    h["OpenStack-API-Version"] = "compute two"
    with pytest.raises(exception.Invalid):
        negotiate(h, "compute", "2.1", "2.90")
    legacy = webob.Request.blank("/", headers={"X-OpenStack-Nova-API-Version": "2.10"}).headers
    assert negotiate(legacy, "compute", "2.1", "2.90", "X-OpenStack-Nova-API-Version") == APIVersion(2, 10)
    assert response_headers("compute", APIVersion(2, 10))["OpenStack-API-Version"] == "compute 2.10"


def test_real_server_with_path_dispatch():
    import urllib.request

    server = Server(PathDispatcher({"/api": _app()}), "127.0.0.1", 0, threads=4)
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/things/9") as resp:
            assert json.loads(resp.read()) == {"id": "9", "user": None}
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{server.port}/other")
        assert err.value.code == 404
    finally:
        server.stop()
