"""The Swift v1 API in-process (noauth tokens 'user:project:roles'; the account is AUTH_<project>)."""

from __future__ import annotations

import hashlib
import io
import json
import time
from urllib.parse import quote
from xml.etree import ElementTree

import pytest
import webob
from cumulo_api_object.frontend import ObjectStoreFrontend
from swiftclient.utils import generate_temp_url

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.services import ServiceHub

OWNER = "u1:p1:member"
OTHER = "u2:p2:member"
ADMIN = "root:p0:admin"
ACCT = "/v1/AUTH_p1"


class Client:
    def __init__(self, app):
        self.app = app

    def __call__(self, method, path, token=OWNER, body=None, headers=None, chunked=False):
        req = webob.Request.blank(path, method=method, environ={"SCRIPT_NAME": "/object-store"})
        for k, v in (headers or {}).items():
            req.headers[k] = v
        if token:
            req.headers["X-Auth-Token"] = token
        if body is not None:
            if chunked:
                req.environ["wsgi.input"] = io.BytesIO(body)
                req.environ.pop("CONTENT_LENGTH", None)
                req.headers["Transfer-Encoding"] = "chunked"
            else:
                req.body = body
        return req.get_response(self.app)


@pytest.fixture
def api(cumulo_conf):
    if "dir" not in registry.names("object"):
        pytest.skip("the cumulo-object-dir plugin is not installed")

    registry.register_plugin_opts(registry.load_class("object", "dir"), CONF)
    cumulo_conf.set("auth_strategy", "noauth", group="api")
    cumulo_conf.set("backend", "dir", group="object")
    cumulo_conf.set("fsync", False, group="object_dir")
    hub = ServiceHub(CONF)
    client = Client(ObjectStoreFrontend(PluginContext(CONF)).build_app(hub))
    client.hub = hub
    assert client("PUT", f"{ACCT}/c").status_int == 201
    return client


def test_frontend_declaration():
    f = ObjectStoreFrontend(PluginContext(CONF))
    assert (f.service_type, f.service_name, f.path_prefix) == ("object-store", "swift", "/object-store")
    assert f.endpoint_url("http://h:1/") == "http://h:1/object-store/v1/AUTH_$(project_id)s"


def test_info_without_auth(api):
    r = api("GET", "/info", token=None)
    assert r.status_int == 200
    info = r.json
    assert info["swift"]["max_file_size"] == 5 * 1024**3
    assert {"tempurl", "slo", "bulk_delete", "versioned_writes", "account_quotas", "container_quotas"} <= set(info)


def test_object_roundtrip_and_headers(api):
    r = api("PUT", f"{ACCT}/c/dir/a%20file.txt", body=b"hello", headers={"X-Object-Meta-Color": "red",
                                                                         "Content-Type": "text/plain"})
    assert r.status_int == 201 and r.headers["Etag"] == hashlib.md5(b"hello").hexdigest()
    r = api("GET", f"{ACCT}/c/dir/a%20file.txt")
    assert r.body == b"hello" and r.headers["X-Object-Meta-Color"] == "red"
    assert r.headers["Content-Type"] == "text/plain" and r.headers["Accept-Ranges"] == "bytes"
    h = api("HEAD", f"{ACCT}/c/dir/a%20file.txt")
    assert h.status_int == 200 and h.headers["Content-Length"] == "5" and h.body == b""
    assert api("POST", f"{ACCT}/c/dir/a%20file.txt", headers={"X-Object-Meta-Size": "L"}).status_int == 202
    h = api("HEAD", f"{ACCT}/c/dir/a%20file.txt")
    assert h.headers.get("X-Object-Meta-Size") == "L" and "X-Object-Meta-Color" not in h.headers
    assert api("DELETE", f"{ACCT}/c/dir/a%20file.txt").status_int == 204
    r = api("GET", f"{ACCT}/c/dir/a%20file.txt")
    assert r.status_int == 404 and r.content_type == "text/plain"


def test_chunked_upload_and_etag_check(api):
    data = b"x" * 200000
    r = api("PUT", f"{ACCT}/c/chunked", body=data, chunked=True)
    assert r.status_int == 201
    assert api("GET", f"{ACCT}/c/chunked").body == data
    r = api("PUT", f"{ACCT}/c/bad", body=b"abc", headers={"ETag": "0" * 32})
    assert r.status_int == 422
    assert api("GET", f"{ACCT}/c/bad").status_int == 404
    req = webob.Request.blank(f"{ACCT}/c/nolength", method="PUT", environ={"SCRIPT_NAME": "/object-store"})
    req.headers["X-Auth-Token"] = OWNER
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(api.app).status_int == 411


def test_max_file_size(api, cumulo_conf):
    cumulo_conf.set("max_file_size", 100, group="object")
    r = api("PUT", f"{ACCT}/c/big", body=b"x" * 101)
    assert r.status_int == 413 and "100" in r.text
    assert api("PUT", f"{ACCT}/c/big", body=b"x" * 101, chunked=True).status_int == 413
    assert api("GET", f"{ACCT}/c/big").status_int == 404
    assert api("GET", "/info", token=None).json["swift"]["max_file_size"] == 100


def test_listings(api):
    for name in ("a", "a/b", "a/c", "b", "ü"):
        api("PUT", f"{ACCT}/c/{quote(name)}", body=name.encode())
    text = api("GET", f"{ACCT}/c")
    assert text.status_int == 200 and text.text.splitlines() == ["a", "a/b", "a/c", "b", "ü"]
    rows = api("GET", f"{ACCT}/c?format=json&delimiter=/").json
    assert [r.get("name") or r.get("subdir") for r in rows] == ["a", "a/", "b", "ü"]
    assert rows[0]["hash"] == hashlib.md5(b"a").hexdigest() and rows[0]["bytes"] == 1
    assert "T" in rows[0]["last_modified"]
    rows = api("GET", f"{ACCT}/c?prefix=a/&reverse=true", headers={"Accept": "application/json"}).json
    assert [r["name"] for r in rows] == ["a/c", "a/b"]
    rows = api("GET", f"{ACCT}/c?format=json&marker=a&end_marker=b&limit=1").json
    assert [r["name"] for r in rows] == ["a/b"]
    xml = ElementTree.fromstring(api("GET", f"{ACCT}/c?format=xml&delimiter=/").body)
    assert xml.tag == "container" and xml.find("subdir").get("name") == "a/"
    assert [o.find("name").text for o in xml.findall("object")] == ["a", "b", "ü"]
    empty = api("GET", f"{ACCT}/c?prefix=zzz")
    assert empty.status_int == 204
    assert api("GET", f"{ACCT}/c?prefix=zzz&format=json").json == []
    assert api("GET", f"{ACCT}/c?limit=x").status_int == 412
    head = api("HEAD", f"{ACCT}/c")
    assert head.status_int == 204 and head.headers["X-Container-Object-Count"] == "5"
    acct = api("GET", f"{ACCT}?format=json").json
    assert acct == [{"name": "c", "count": 5, "bytes": 10, "last_modified": acct[0]["last_modified"]}]
    assert api("HEAD", ACCT).headers["X-Account-Object-Count"] == "5"


def test_ranges_and_conditions(api):
    data = bytes(range(256))
    etag = api("PUT", f"{ACCT}/c/r", body=data).headers["Etag"]
    r = api("GET", f"{ACCT}/c/r", headers={"Range": "bytes=10-19"})
    assert r.status_int == 206 and r.body == data[10:20] and r.headers["Content-Range"] == "bytes 10-19/256"
    r = api("GET", f"{ACCT}/c/r", headers={"Range": "bytes=0-1,-2"})
    assert r.status_int == 206 and r.content_type == "multipart/byteranges"
    assert data[0:2] in r.body and data[-2:] in r.body and int(r.headers["Content-Length"]) == len(r.body)
    r = api("GET", f"{ACCT}/c/r", headers={"Range": "bytes=300-"})
    assert r.status_int == 416 and r.headers["Content-Range"] == "bytes */256"
    assert api("GET", f"{ACCT}/c/r", headers={"Range": "bytes=z"}).body == data
    assert api("GET", f"{ACCT}/c/r", headers={"If-None-Match": etag}).status_int == 304
    assert api("GET", f"{ACCT}/c/r", headers={"If-Match": '"nope"'}).status_int == 412
    assert api("GET", f"{ACCT}/c/r", headers={"If-Match": etag}).status_int == 200
    last = api("HEAD", f"{ACCT}/c/r").headers["Last-Modified"]
    assert api("GET", f"{ACCT}/c/r", headers={"If-Modified-Since": last}).status_int == 304
    assert api("GET", f"{ACCT}/c/r", headers={"If-Unmodified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_int == 412
    assert api("PUT", f"{ACCT}/c/r", body=b"x", headers={"If-None-Match": "*"}).status_int == 412


def test_copy_method_and_x_copy_from(api):
    api("PUT", f"{ACCT}/c/src", body=b"content", headers={"X-Object-Meta-A": "1"})
    r = api("COPY", f"{ACCT}/c/src", headers={"Destination": "c/dst", "X-Object-Meta-B": "2"})
    assert r.status_int == 201 and r.headers["X-Copied-From"] == "c/src"
    got = api("GET", f"{ACCT}/c/dst")
    assert got.body == b"content" and got.headers["X-Object-Meta-A"] == "1" and got.headers["X-Object-Meta-B"] == "2"
    r = api("PUT", f"{ACCT}/c/dst2", body=b"", headers={"X-Copy-From": "/c/src"})
    assert r.status_int == 201 and api("GET", f"{ACCT}/c/dst2").body == b"content"
    assert api("COPY", f"{ACCT}/c/src").status_int == 412
    # Both ways answer with the merged metadata (the request's over the source's).
    for way in ("COPY", "PUT"):
        headers = {"X-Object-Meta-T": "", "X-Object-Meta-B": "3"}
        headers.update({"Destination": "c/m"} if way == "COPY" else {"X-Copy-From": "c/src"})
        r = api(way, f"{ACCT}/c/src" if way == "COPY" else f"{ACCT}/c/m", body=None if way == "COPY" else b"",
                headers=headers)
        assert r.status_int == 201 and r.headers["X-Object-Meta-A"] == "1" and r.headers["X-Object-Meta-B"] == "3"
        got = api("HEAD", f"{ACCT}/c/m").headers
        assert got["X-Object-Meta-A"] == "1" and got["X-Object-Meta-B"] == "3"
    fresh = api("PUT", f"{ACCT}/c/f", body=b"", headers={"X-Copy-From": "c/src", "X-Fresh-Metadata": "true",
                                                          "X-Object-Meta-N": "n"})
    assert fresh.status_int == 201 and "X-Object-Meta-A" not in fresh.headers
    assert "X-Object-Meta-A" not in api("HEAD", f"{ACCT}/c/f").headers
    assert api("COPY", f"{ACCT}/c/missing", headers={"Destination": "c/x"}).status_int == 404


def test_slo_over_http(api):
    api("PUT", f"{ACCT}/segs")
    etags = [api("PUT", f"{ACCT}/segs/{i}", body=bytes([65 + i]) * 100).headers["Etag"] for i in range(3)]
    manifest = [{"path": f"/segs/{i}", "etag": e, "size_bytes": 100} for i, e in enumerate(etags)]
    r = api("PUT", f"{ACCT}/c/big?multipart-manifest=put", body=json.dumps(manifest).encode())
    assert r.status_int == 201 and r.headers["Etag"].startswith('"')
    got = api("GET", f"{ACCT}/c/big")
    assert got.body == b"A" * 100 + b"B" * 100 + b"C" * 100 and got.headers["X-Static-Large-Object"] == "True"
    assert api("GET", f"{ACCT}/c/big", headers={"Range": "bytes=99-100"}).body == b"AB"
    listed = next(o for o in api("GET", f"{ACCT}/c?format=json").json if o["name"] == "big")
    assert listed["bytes"] == 300 and "swift_bytes" not in listed["content_type"]
    assert "swift_bytes" not in got.headers["Content-Type"]
    raw = api("GET", f"{ACCT}/c/big?multipart-manifest=get&format=raw").json
    assert raw == manifest
    assert api("PUT", f"{ACCT}/c/bad?multipart-manifest=put", body=b"{not json").status_int == 400
    r = api("DELETE", f"{ACCT}/c/big?multipart-manifest=delete", headers={"Accept": "application/json"})
    assert r.json["Number Deleted"] == 4
    assert api("GET", f"{ACCT}/segs?format=json").json == []


def test_acls_referrers_and_other_accounts(api):
    api("PUT", f"{ACCT}/c/o", body=b"data")
    assert api("GET", f"{ACCT}/c/o", token=OTHER).status_int == 403
    assert api("GET", f"{ACCT}/c/o", token=None).status_int == 401
    assert api("GET", f"{ACCT}/c/o", token="garbage").status_int == 401
    assert api("GET", f"{ACCT}/c/o", token=ADMIN).body == b"data"
    assert api("POST", f"{ACCT}/c", headers={"X-Container-Read": ".r:*", "X-Container-Write": "p2:u2"}).status_int == 204
    assert api("GET", f"{ACCT}/c/o", token=None).body == b"data"
    assert api("GET", f"{ACCT}/c", token=None).status_int == 401
    assert api("PUT", f"{ACCT}/c/w", token=OTHER, body=b"w").status_int == 201
    assert "X-Container-Read" not in api("HEAD", f"{ACCT}/c", token="u9:p2:member,p1reader").headers
    assert api("HEAD", f"{ACCT}/c").headers["X-Container-Read"] == ".r:*"
    assert api("POST", f"{ACCT}/c", headers={"X-Container-Write": ".r:*"}).status_int == 400
    assert api("PUT", "/v1/AUTH_p2/mine", token=OTHER).status_int == 201
    assert api("GET", "/v1/AUTH_p2", token=OWNER).status_int == 403


def test_tempurl(api):
    api("PUT", f"{ACCT}/c/dl/report.pdf", body=b"%PDF")
    api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "k"})
    url = generate_temp_url(f"{ACCT}/c/dl/report.pdf", 60, "k", "GET")
    r = api("GET", url, token=None)
    assert r.status_int == 200 and r.body == b"%PDF" and 'filename="report.pdf"' in r.headers["Content-Disposition"]
    assert api("GET", url + "&inline", token=None).headers["Content-Disposition"].startswith("inline")
    assert api("PUT", url, token=None, body=b"x").status_int == 401
    put_url = generate_temp_url(f"{ACCT}/c/up", 60, "k", "PUT")
    assert api("PUT", put_url, token=None, body=b"uploaded").status_int == 201
    assert api("GET", f"{ACCT}/c/up").body == b"uploaded"
    old = generate_temp_url(f"{ACCT}/c/dl/report.pdf", int(time.time()) - 1, "k", "GET", absolute=True)
    r = api("GET", old, token=None)
    assert r.status_int == 401 and "expired" in r.text
    api("POST", f"{ACCT}/c", headers={"X-Container-Meta-Temp-URL-Key": "ck", "X-Container-Read": "p2:*"})
    assert api("HEAD", f"{ACCT}/c").headers["X-Container-Meta-Temp-Url-Key"] == "ck"
    assert "X-Container-Meta-Temp-Url-Key" not in api("HEAD", f"{ACCT}/c", token=OTHER).headers
    assert api("GET", generate_temp_url(f"{ACCT}/c/up", 60, "ck", "GET"), token=None).body == b"uploaded"


def test_bulk_delete_and_account_post(api):
    for n in ("a", "b"):
        api("PUT", f"{ACCT}/c/{n}", body=b"x")
    r = api("POST", f"{ACCT}?bulk-delete", body=b"/c/a\n/c/b\n/c/zz\n",
            headers={"Accept": "application/json", "Content-Type": "text/plain"})
    assert r.status_int == 200
    assert r.json["Number Deleted"] == 2 and r.json["Number Not Found"] == 1
    assert api("POST", ACCT, headers={"X-Account-Meta-Color": "blue"}).status_int == 204
    assert api("HEAD", ACCT).headers["X-Account-Meta-Color"] == "blue"
    assert api("POST", ACCT, headers={"X-Remove-Account-Meta-Color": "x"}).status_int == 204
    assert "X-Account-Meta-Color" not in api("HEAD", ACCT).headers
    assert api("POST", ACCT, headers={"X-Account-Meta-Quota-Bytes": "5"}).status_int == 403
    assert api("POST", ACCT, token=ADMIN, headers={"X-Account-Meta-Quota-Bytes": "5"}).status_int == 204
    assert api("PUT", f"{ACCT}/c/big", body=b"123456").status_int == 413


def test_client_mistakes(api):
    assert api("PUT", f"{ACCT}/c/" + "n" * 1025, body=b"").status_int == 400
    assert api("PUT", "/v1/AUTH_p1/%FF%FE/o", body=b"").status_int == 412
    assert api("PUT", ACCT).status_int == 405
    assert api("PATCH", f"{ACCT}/c/o").status_int == 405
    assert api("GET", "/v2/AUTH_p1").status_int == 404
    assert api("DELETE", f"{ACCT}/nope").status_int == 404
    api("PUT", f"{ACCT}/c/o", body=b"x")
    r = api("DELETE", f"{ACCT}/c")
    assert r.status_int == 409 and r.content_type == "text/plain"
    assert api("PUT", f"{ACCT}/c/o", body=b"x", headers={"X-Delete-At": "5"}).status_int == 400
    assert api("PUT", f"{ACCT}/c/o", body=b"x", headers={"X-Copy-From": "nocontainer"}).status_int == 400  # a copy has no body
    assert api("PUT", f"{ACCT}/c/o", body=b"", headers={"X-Copy-From": "nocontainer"}).status_int == 412
    assert api("PUT", f"{ACCT}/c2", headers={"X-Storage-Policy": "gold"}).status_int == 400
    unknown = api("GET", f"{ACCT}/c?format=yaml")  # as Swift: an unknown format is the plain listing
    assert unknown.status_int == 200 and unknown.content_type == "text/plain" and unknown.body == b"o\n"
    assert api("GET", f"{ACCT}/c?prefix=%FF").status_int == 400


def test_expiry_over_http(api):
    api("PUT", f"{ACCT}/c/soon", body=b"x", headers={"X-Delete-After": "3600"})
    at = api("HEAD", f"{ACCT}/c/soon").headers["X-Delete-At"]
    assert int(at) > time.time()
    api("POST", f"{ACCT}/c/soon", headers={"X-Delete-After": "0"})
    assert api("GET", f"{ACCT}/c/soon").status_int == 404


def test_utf8_metadata_roundtrip(api):
    # WSGI hands header bytes over as latin-1 text; swiftclient sends UTF-8.
    wire = "naïve ☃".encode().decode("latin-1")
    req = webob.Request.blank(f"{ACCT}/c/meta", method="PUT", environ={"SCRIPT_NAME": "/object-store",
                                                                        "HTTP_X_OBJECT_META_NOTE": wire})
    req.headers["X-Auth-Token"] = OWNER
    req.body = b"x"
    assert req.get_response(api.app).status_int == 201
    head = api("HEAD", f"{ACCT}/c/meta")
    assert head.headers["X-Object-Meta-Note"] == wire
    # Stored as real text, so kernel callers (the image store) read what was meant.
    assert api.hub.object.head_object("AUTH_p1", "c", "meta").metadata["X-Object-Meta-Note"] == "naïve ☃"
    api.hub.object.post_object("AUTH_p1", "c", "meta", {"X-Object-Meta-Note": "☁ from the kernel"})
    assert api("HEAD", f"{ACCT}/c/meta").headers["X-Object-Meta-Note"] == "☁ from the kernel".encode().decode(
        "latin-1")


# ---------------------------------------------------------------- transaction ids (Tempest's matcher)
SWIFT_TRANS = r"^tx[0-9a-f]{21}-[0-9a-f]{10}"


def test_trans_id_is_swift_shaped_and_the_request_id(api, caplog):
    import re

    before = int(time.time())
    with caplog.at_level("INFO", logger="cumulo.access"):
        r = api("HEAD", f"{ACCT}/c")
        r.app_iter.close()  # the access line is written when the server closes the body
    after = int(time.time())
    trans = r.headers["X-Trans-Id"]
    assert re.match(SWIFT_TRANS + r"$", trans), trans
    assert r.headers["X-Openstack-Request-Id"] == trans
    assert before <= int(trans.split("-")[1], 16) <= after
    logged = [rec for rec in caplog.records if rec.name == "cumulo.access"]
    assert [getattr(rec, "request_id", None) for rec in logged] == [trans]
    assert api("HEAD", f"{ACCT}/c").headers["X-Trans-Id"] != trans


def test_trans_id_on_errors_and_extra(api):
    import re

    missing = api("GET", f"{ACCT}/nope/obj")
    assert missing.status_int == 404
    assert re.match(SWIFT_TRANS + r"$", missing.headers["X-Trans-Id"])
    assert missing.headers["X-Openstack-Request-Id"] == missing.headers["X-Trans-Id"]
    bad = api("PATCH", f"{ACCT}/c")
    assert bad.status_int == 405 and re.match(SWIFT_TRANS, bad.headers["X-Trans-Id"])
    extra = api("HEAD", f"{ACCT}/c", headers={"X-Trans-Id-Extra": "my upload/" + "x" * 40})
    trans = extra.headers["X-Trans-Id"]
    assert re.match(SWIFT_TRANS + r"-my%20upload/x{22}$", trans), trans
    assert extra.headers["X-Openstack-Request-Id"] == trans


def _tar(files, mode="w"):
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        folder = tarfile.TarInfo("adir")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)  # a directory entry makes nothing
    return buf.getvalue()


def test_extract_archive_then_bulk_delete_by_delete_and_post(api):
    """Tempest's bulk tests: an archive unpacked at the account, then its paths deleted by DELETE and POST."""
    assert "bulk_upload" in api("GET", "/info", token=None).json
    for way in ("DELETE", "POST"):
        r = api("PUT", f"{ACCT}?extract-archive=tar", body=_tar({f"x{way}/o1": b"one", f"x{way}/d/o2": b"two"}))
        assert r.status_int == 200 and "Number Files Created: 2" in r.text and "201 Created" in r.text
        assert api("GET", f"{ACCT}/x{way}/d/o2").body == b"two"
        r = api(way, f"{ACCT}?bulk-delete", body=f"x{way}/o1\nx{way}/d/o2\nx{way}".encode(),
                headers={"Accept": "application/json", "Content-Type": "text/plain"})
        assert r.status_int == 200 and r.json["Number Deleted"] == 3 and not r.json["Errors"]
        assert api("HEAD", f"{ACCT}/x{way}").status_int == 404
    # Below a container, compressed, as JSON; another account's user gets the errors, nothing is made.
    r = api("PUT", f"{ACCT}/c/pre?extract-archive=tar.gz", body=_tar({"f": b"z"}, "w:gz"),
            headers={"Accept": "application/json"})
    assert r.json["Number Files Created"] == 1 and api("GET", f"{ACCT}/c/pre/f").body == b"z"
    r = api("PUT", f"{ACCT}?extract-archive=tar", token=OTHER, body=_tar({"y/o": b"1"}),
            headers={"Accept": "application/json"})
    assert r.json["Number Files Created"] == 0 and r.json["Response Status"] == "400 Bad Request"
    assert r.json["Errors"] == [["/y/o", "403 Forbidden"]] and api("HEAD", f"{ACCT}/y").status_int == 404
    assert api("PUT", f"{ACCT}?extract-archive=tar", body=b"not a tar").status_int == 400
    assert api("PUT", f"{ACCT}?extract-archive=zip", body=b"").status_int == 400
    assert api("DELETE", ACCT).status_int == 405  # without bulk-delete an account cannot be deleted


def test_healthcheck_and_the_non_empty_container_conflict(api):
    for method in ("GET", "HEAD"):
        r = api(method, "/healthcheck", token=None)
        assert r.status_int == 200 and r.headers["Content-Type"] == "text/plain"
        assert r.headers["X-Trans-Id"].startswith("tx")
    r = api("GET", "/healthcheck", token=None)
    assert r.body == b"OK" and r.headers["Content-Length"] == "2"
    api("PUT", f"{ACCT}/c/keep", body=b"x")
    r = api("DELETE", f"{ACCT}/c")
    assert r.status_int == 409 and r.text.strip() == "There was a conflict when trying to complete your request."


def test_account_quotas_set_by_a_reseller_admin_hold_the_account_users(api):
    """As Tempest's account quota tests: a ResellerAdmin (no role in the project) sets them, users are held."""
    reseller = "rs:p9:ResellerAdmin"
    quotas = {"X-Account-Meta-Quota-Bytes": "20", "X-Account-Quota-Count": "5"}
    assert api("POST", ACCT, headers=quotas).status_int == 403  # the account's own member may not
    assert api("POST", ACCT, headers={"X-Account-Quota-Count": "1"}).status_int == 403
    assert api("POST", ACCT, token=reseller, headers=quotas).status_int == 204
    assert api("PUT", f"{ACCT}/c/ok", body=b"x" * 20).status_int == 201
    before = api("HEAD", ACCT).headers["X-Account-Bytes-Used"]
    assert api("PUT", f"{ACCT}/c/over", body=b"x" * 21).status_int == 413
    assert api("HEAD", ACCT).headers["X-Account-Bytes-Used"] == before
    for quota in ("25", "", "20"):
        assert api("POST", ACCT, token=reseller, headers={"X-Account-Meta-Quota-Bytes": quota}).status_int == 204
    assert api("POST", ACCT, token=reseller, headers={"X-Remove-Account-Meta-Quota-Bytes": "x",
                                                      "X-Account-Quota-Count": "1"}).status_int == 204
    assert api("PUT", f"{ACCT}/c/second", body=b"").status_int == 413  # one object already
    assert api("PUT", f"{ACCT}/c/ok", body=b"y" * 30).status_int == 201  # an overwrite adds no object
    assert api("POST", ACCT, token=reseller, headers={"X-Account-Quota-Count": "-1"}).status_int == 400
    assert api("POST", ACCT, token=reseller, headers={"X-Remove-Account-Quota-Count": "x"}).status_int == 204
    assert api("PUT", f"{ACCT}/c/second", body=b"").status_int == 201
    assert not [h for h in api("HEAD", ACCT).headers if "sysmeta" in h.lower()]
