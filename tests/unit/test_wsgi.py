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


# -- A: client mistakes are 4xx with a JSON fault naming the problem ------------------------------

def _post_raw(app, data: bytes, content_type: str = "application/json"):
    req = webob.Request.blank("/things", method="POST")
    req.body = data
    req.content_type = content_type
    req.environ.pop("webob.is_body_seekable", None)  # as from a real server
    return req.get_response(app)


def _echo_app(**kwargs):
    router = Router()
    router.add("POST", "/things", lambda req: (201, {"got": req.json_body_or_fault()}))
    router.add("GET", "/things/{thing_id}", lambda req, thing_id: {"id": thing_id, "q": dict(req.GET)})
    return pipeline(router, **kwargs)


@pytest.mark.parametrize("data, words", [
    (b"[" * 100000 + b"]" * 100000, "nests deeper than 32"),        # RecursionError in json
    (b"[" * 33 + b"]" * 33, "nests deeper than 32"),                # parses, but too deep to use
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nests deeper than 32"),
    (b'{"name": "\\ud800"}', "lone UTF-16 surrogate"),
    (b'{"name": "x\\udfffy"}', "lone UTF-16 surrogate"),
    (b'{"\\ud800": 1}', "object key contains a lone UTF-16 surrogate"),
    (b'{"name": "a\\u0000b"}', "NUL"),
    (b'{"size": 18446744073709551616}', "beyond the 64-bit integer range"),
    (b'{"size": -9223372036854775809}', "beyond the 64-bit integer range"),
    (b'{"size": ' + b"9" * 5000 + b"}", "beyond the 64-bit integer range"),
    (b'{"size": 1e308}', "out of range"),
    (b'{"size": 1e309}', "out of range"),
    (b'{"size": -1.8e308}', "out of range"),
    (b'{"size": NaN}', "NaN is not a JSON number"),
    (b'{"size": Infinity}', "Infinity is not a JSON number"),
    (b'{"size": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"name": "\xff"}', "not valid UTF-8"),
    (b'{"name": "\xed\xa0\x80"}', "not valid UTF-8"),               # a surrogate encoded in UTF-8
    (b'{"name": ', "Malformed JSON"),
])
def test_unusable_json_is_a_400_naming_the_problem(data, words):
    resp = _post_raw(_echo_app(), data)
    assert resp.status_int == 400, resp.text
    assert words in resp.json["error"]["message"]


@pytest.mark.parametrize("data, expect", [
    (b'{"size": 9223372036854775807, "low": -9223372036854775808}',
     {"size": 2**63 - 1, "low": -(2**63)}),
    (b'{"ratio": 1.5, "big": 1e18}', {"ratio": 1.5, "big": 1e18}),
    (b'{"smile": "\\ud83d\\ude00", "text": "caf\xc3\xa9"}', {"smile": "\U0001F600", "text": "café"}),
    (b"\xef\xbb\xbf" + b'{"bom": true}', {"bom": True}),
    (b"[" * 32 + b"]" * 32, [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]),
])
def test_usable_json_is_accepted(data, expect):
    resp = _post_raw(_echo_app(), data)
    assert resp.status_int == 201, resp.text
    assert resp.json["got"] == expect


def test_surrogate_on_token_issue_without_a_token_is_a_400():
    """The identity API parses before it authenticates: no token needed to reach the parser."""
    router = Router()
    router.add("POST", "/v3/auth/tokens", lambda req: (201, req.json_body_or_fault()))
    app = pipeline(router)
    resp = _call(app, "/v3/auth/tokens", "POST", b'{"auth": {"identity": {"password": {"user": '
                                                  b'{"name": "\\ud800", "password": "x"}}}}}')
    assert resp.status_int == 400 and "surrogate" in resp.json["error"]["message"]


def _framed(app, data: bytes, headers: dict[str, str], stream):
    req = webob.Request.blank("/things", method="POST", headers=headers)
    req.environ["wsgi.input"] = stream
    req.environ.pop("webob.is_body_seekable", None)
    if "Content-Length" not in headers:
        req.environ.pop("CONTENT_LENGTH", None)
    if headers.get("Transfer-Encoding") == "chunked":
        req.environ["wsgi.input_terminated"] = True
    return req.get_response(app)


def test_truncated_body_is_a_400():
    import io

    from cheroot.server import KnownLengthRFile

    body = b'{"thing": {"size": 1}}'
    stream = KnownLengthRFile(io.BytesIO(body[:9]), 100)  # what cheroot hands over; the client stopped
    resp = _framed(_echo_app(), body, {"Content-Length": "100", "Content-Type": "application/json"}, stream)
    assert resp.status_int == 400 and "incomplete" in resp.json["error"]["message"]
    assert "9 of the 100 bytes" in resp.json["error"]["message"]


@pytest.mark.parametrize("wire", [
    b"zz\r\n{}\r\n0\r\n\r\n",              # size is not hex
    b"2\r\n{}XX0\r\n\r\n",                 # no CRLF after the chunk
    b"40\r\n{\"thing\": ",                 # chunk cut short
])
def test_bad_chunked_encoding_is_a_400(wire):
    import io

    from cheroot.server import ChunkedRFile

    resp = _framed(_echo_app(), b"", {"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
                   ChunkedRFile(io.BytesIO(wire), 0))
    assert resp.status_int == 400, resp.text
    assert "chunk" in resp.json["error"]["message"].lower()


def test_good_chunked_body_is_read():
    import io

    from cheroot.server import ChunkedRFile

    wire = b"5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n\r\n"
    resp = _framed(_echo_app(max_body=100), b"", {"Transfer-Encoding": "chunked",
                                                  "Content-Type": "application/json"},
                   ChunkedRFile(io.BytesIO(wire), 0))
    assert resp.status_int == 201 and resp.json["got"] == {"a": 1}


@pytest.mark.parametrize("length", ["-1", "abc", "1,1", "+2", " 0x1"])
def test_bad_content_length_is_a_400(length):
    import io

    resp = _framed(_echo_app(), b"{}", {"Content-Length": length}, io.BytesIO(b"{}"))
    assert resp.status_int == 400 and "Content-Length" in resp.json["error"]["message"]


def test_content_length_with_chunked_is_a_400():
    import io

    resp = _framed(_echo_app(), b"{}", {"Content-Length": "2", "Transfer-Encoding": "chunked"},
                   io.BytesIO(b"2\r\n{}\r\n0\r\n\r\n"))
    assert resp.status_int == 400
    assert "both Content-Length and Transfer-Encoding" in resp.json["error"]["message"]


@pytest.mark.parametrize("path", ["/things/%ff", "/things/a%c0%afb", "/things/%ed%a0%80", "/things/x?name=%ff",
                                  "/things/x?%fe=1", "/things/x?a=1&b=%c3", "/things/%00", "/things/x?q=a%00"])
def test_path_or_query_that_is_not_utf8_is_a_400(path):
    resp = _call(_echo_app(), path)
    assert resp.status_int == 400, resp.text
    message = resp.json["error"]["message"]
    assert ("not valid UTF-8" in message or "NUL" in message) and ("path" in message or "query" in message)


def test_valid_utf8_path_and_query_reach_the_handler():
    resp = _call(_echo_app(), "/things/caf%C3%A9?name=%E2%9C%93")
    assert resp.status_int == 200 and resp.json == {"id": "café", "q": {"name": "✓"}}


def test_non_router_app_decoding_a_bad_path_gets_a_400_not_a_500():
    """An app without the Router (the metadata service) that decodes PATH_INFO itself."""
    def app(environ, start_response):
        return webob.Response(json_body={"path": webob.Request(environ).path_info})(environ, start_response)

    resp = _call(pipeline(app), "/meta/%ff")
    assert resp.status_int == 400 and "not valid UTF-8" in resp.json["error"]["message"]
    assert _call(pipeline(app), "/meta/ok").json == {"path": "/meta/ok"}


def _raw_exchange(port: int, data: bytes) -> tuple[str, dict[str, str], bytes]:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return lines[0], headers, body


@pytest.fixture
def real_server():
    server = Server(PathDispatcher({"/api": _echo_app()}), "127.0.0.1", 0, threads=4)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("head, words", [
    (b"Content-Length: 2\r\nContent-Length: 40\r\n", "Duplicate Content-Length"),
    (b"Content-Length: 2\r\nContent-Length: 2\r\n", "Duplicate Content-Length"),
    (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "both Content-Length and Transfer-Encoding"),
    (b"Content-Length: x\r\n", "Content-Length"),
    (b"Bad header line without colon\r\n", "header"),
])
def test_server_refuses_bad_framing_with_a_json_fault(real_server, head, words):
    status, headers, body = _raw_exchange(real_server.port, b"POST /api/things HTTP/1.1\r\nHost: x\r\n"
                                          b"Content-Type: application/json\r\n" + head + b"\r\n{}")
    assert status.startswith("HTTP/1.1 400"), (status, body)
    assert headers["content-type"] == "application/json"
    assert words.lower() in json.loads(body)["error"]["message"].lower()


def test_server_malformed_request_line_is_a_json_400(real_server):
    status, headers, body = _raw_exchange(real_server.port, b"NONSENSE\r\n\r\n")
    assert status.startswith("HTTP/1.1 400") and headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == {"code": 400, "title": "Bad Request", "message": "Malformed Request-Line"}


def test_server_truncated_body_and_bad_chunks_are_400_json(real_server):
    start = b"POST /api/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status, _, body = _raw_exchange(real_server.port, start + b"Content-Length: 50\r\n\r\n{\"thing\"")
    assert status.startswith("HTTP/1.1 400") and "incomplete" in json.loads(body)["error"]["message"]
    status, _, body = _raw_exchange(real_server.port, start + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
    assert status.startswith("HTTP/1.1 400") and "chunk" in json.loads(body)["error"]["message"]
    status, _, body = _raw_exchange(real_server.port, start + b"Content-Length: 2\r\n\r\n{}")
    assert status.startswith("HTTP/1.1 201") and json.loads(body) == {"got": {}}


# -- C: unknown URLs -------------------------------------------------------------------------------

def test_router_lists_its_routes_and_unmatched_paths_are_404_everywhere():
    router = Router()
    router.add("GET", "/v1/things", lambda req: {})
    router.add(["GET", "PUT"], "/v1/things/{thing_id}", lambda req, thing_id: {})
    assert router.routes() == [("GET", "/v1/things"), ("GET", "/v1/things/{thing_id}"),
                               ("PUT", "/v1/things/{thing_id}")]
    app = pipeline(router)
    for path in ("/", "/v1", "/v1/thing", "/v1/things/1/more", "/v2/things", "/v1/things/1/"):
        resp = _call(app, path)
        assert resp.status_int == 404 and resp.content_type == "application/json", path
        assert path.rstrip("/") in resp.json["error"]["message"] or path == "/"
    resp = _call(app, "/v1/things", "POST")
    assert resp.status_int == 405 and resp.headers["Allow"] == "GET"
    assert resp.json["error"]["code"] == 405


def test_path_dispatcher_without_a_mount_is_a_json_404():
    resp = _call(PathDispatcher({"/api": _app()}), "/elsewhere/x")
    assert resp.status_int == 404 and resp.json["error"]["code"] == 404


# -- D: access log ----------------------------------------------------------------------------------

def _served(app, path, **kwargs):
    """A call whose body is read at once, as a server does (the access line is written at the end)."""
    resp = _call(app, path, **kwargs)
    assert resp.body is not None
    return resp


def test_access_log_one_line_per_request_with_status_bytes_ids_and_project(caplog):
    import logging

    app = _app(validate=noauth_validator)
    with caplog.at_level(logging.INFO, logger="cumulo.access"):
        ok = _served(app, "/things/7", headers={"X-Auth-Token": "alice:proj1:member"})
        denied = _served(app, "/things/7")
        missing = _served(app, "/nothing", headers={"X-Auth-Token": "alice:proj1:member"})
    records = [r for r in caplog.records if r.name == "cumulo.access"]
    assert len(records) == 3
    first, second, third = (r.getMessage() for r in records)
    assert first.startswith(f"GET /things/7 status=200 bytes={len(ok.body)} ")
    assert f"request_id={ok.headers['x-openstack-request-id']}" in first and "project_id=proj1" in first
    assert "duration_ms=" in first
    assert "status=401" in second and "project_id=-" in second
    assert f"bytes={len(denied.body)}" in second
    assert "GET /nothing status=404" in third and f"request_id={missing.headers['x-openstack-request-id']}" in third
    assert records[0].status == "200" and records[0].project_id == "proj1" and records[0].bytes == len(ok.body)
    assert all("alice:proj1" not in r.getMessage() for r in records)  # never the token


def test_access_log_redacts_signatures_and_quotes_control_characters(caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="cumulo.access"):
        _served(_app(), "/things/1?temp_url_sig=deadbeef&temp_url_expires=99&token=abc&limit=2")
        _served(_app(), "/things/a%0Ab")
    lines = [r.getMessage() for r in caplog.records if r.name == "cumulo.access"]
    assert "temp_url_sig=***" in lines[0] and "deadbeef" not in lines[0]
    assert "token=***" in lines[0] and "abc" not in lines[0]
    assert "temp_url_expires=99" in lines[0] and "limit=2" in lines[0]
    assert "\n" not in lines[1] and "/things/a%0Ab" in lines[1]


def test_access_log_counts_streamed_bytes_and_logs_once_for_nested_pipelines(caplog):
    import logging

    def streaming(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return iter([b"abc", b"defg"])

    app = pipeline(pipeline(streaming))
    with caplog.at_level(logging.INFO, logger="cumulo.access"):
        resp = _served(app, "/blob")
    assert resp.body == b"abcdefg"
    lines = [r.getMessage() for r in caplog.records if r.name == "cumulo.access"]
    assert len(lines) == 1 and "bytes=7" in lines[0]


# -- E: project-scoped tokens ---------------------------------------------------------------------

def _scoped_validator(token):
    from cumulo.context import RequestContext

    if token == "unscoped":
        return RequestContext(user_id="u1")
    if token == "domain":
        return RequestContext(user_id="u1", domain_id="default")
    if token == "system":
        return RequestContext(user_id="admin", system_scope="all", roles=["admin"])
    if token == "project":
        return RequestContext(user_id="u1", project_id="p1")
    raise exception.NotAuthenticated()


@pytest.mark.parametrize("token", ["unscoped", "domain"])
def test_token_without_a_project_is_a_403_on_project_scoped_apis(token):
    resp = _call(_app(validate=_scoped_validator), "/things/1", headers={"X-Auth-Token": token})
    assert resp.status_int == 403
    assert resp.json["error"]["message"] == "This API needs a project-scoped token; this token has no project."


def test_project_and_system_scoped_tokens_pass_and_identity_opts_out():
    app = _app(validate=_scoped_validator)
    assert _call(app, "/things/1", headers={"X-Auth-Token": "project"}).status_int == 200
    assert _call(app, "/things/1", headers={"X-Auth-Token": "system"}).status_int == 200
    open_app = _app(validate=_scoped_validator, project_scoped=False)
    resp = _call(open_app, "/things/1", headers={"X-Auth-Token": "unscoped"})
    assert resp.status_int == 200 and resp.json["user"] == "u1"


def test_delay_auth_decision_treats_an_unscoped_token_as_anonymous():
    seen = {}

    def app(environ, start_response):
        from cumulo.wsgi.request import CONTEXT_KEY

        seen.update(status=environ.get("cumulo.auth_status"), ctx=environ.get(CONTEXT_KEY))
        return webob.Response(json_body={})(environ, start_response)

    wrapped = pipeline(app, validate=_scoped_validator, delay_auth_decision=True)
    assert _call(wrapped, "/x", headers={"X-Auth-Token": "unscoped"}).status_int == 200
    assert seen == {"status": "invalid", "ctx": None}
    _call(wrapped, "/x", headers={"X-Auth-Token": "project"})
    assert seen["status"] == "confirmed" and seen["ctx"].project_id == "p1"
