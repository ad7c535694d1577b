"""TempURL over HTTP in-process: the whole feature, its manifest escapes and the keys' visibility.

Tokens are noauth ``user:project:roles``; the account is ``AUTH_<project>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
import webob
from cumulo_api_object.frontend import ObjectStoreFrontend
from swiftclient.utils import generate_temp_url

from cumulo import registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.services import ServiceHub

OWNER = "u1:p1:member,reader"
READER = "u3:p1:reader"
ADMIN = "root:p0:admin"
ACCT = "/v1/AUTH_p1"
KEY_HEADERS = ("X-Account-Meta-Temp-Url-Key", "X-Account-Meta-Temp-Url-Key-2",
               "X-Container-Meta-Temp-Url-Key", "X-Container-Meta-Temp-Url-Key-2")


class Client:
    def __init__(self, app):
        self.app = app

    def __call__(self, method, path, token=OWNER, body=None, headers=None):
        req = webob.Request.blank(path, method=method, environ={"SCRIPT_NAME": "/object-store"})
        for k, v in (headers or {}).items():
            req.headers[k] = v
        if token:
            req.headers["X-Auth-Token"] = token
        if body is not None:
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
    client = Client(ObjectStoreFrontend(PluginContext(CONF)).build_app(ServiceHub(CONF)))
    for container in ("shared", "private"):
        assert client("PUT", f"{ACCT}/{container}").status_int == 201
    assert client("PUT", f"{ACCT}/private/secret", body=b"private data").status_int == 201
    assert client("PUT", f"{ACCT}/shared/seg/0", body=b"own ").status_int == 201
    assert client("PUT", f"{ACCT}/shared/seg/1", body=b"data").status_int == 201
    return client


def url(path, key, method, seconds=60, **kw):
    return generate_temp_url(f"{ACCT}/{path}", seconds, key, method, **kw)


def test_tempurl_methods_signatures_prefix_and_both_key_slots(api):
    api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "a1", "X-Account-Meta-Temp-URL-Key-2": "a2"})
    api("POST", f"{ACCT}/shared", headers={"X-Container-Meta-Temp-URL-Key": "c1",
                                           "X-Container-Meta-Temp-URL-Key-2": "c2"})
    for n, key in enumerate(("a1", "a2", "c1", "c2")):
        name = f"shared/up/{n}"
        assert api("PUT", url(name, key, "PUT"), token=None, body=b"v%d" % n).status_int == 201
        got = api("GET", url(name, key, "GET"), token=None)
        assert got.status_int == 200 and got.body == b"v%d" % n
        assert api("HEAD", url(name, key, "GET"), token=None).status_int == 200
        assert api("HEAD", url(name, key, "HEAD"), token=None).headers["Content-Length"] == "2"
        assert api("HEAD", url(name, key, "PUT"), token=None).status_int == 200  # as Swift allows
        # A signature is for one method, one object, one key, until it expires.
        assert api("DELETE", url(name, key, "GET"), token=None).status_int == 401
        assert api("GET", url(name, key + "x", "GET"), token=None).status_int == 401
        assert api("GET", url(name, key, "GET").replace("/up/", "/uq/"), token=None).status_int == 401
        bad = url(name, key, "GET")
        sig = bad.split("temp_url_sig=")[1].split("&")[0]
        flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
        assert api("GET", bad.replace(sig, flipped), token=None).status_int == 401
        expired = url(name, key, "GET", seconds=int(time.time()) - 1, absolute=True)
        assert api("GET", expired, token=None).status_int == 401
        assert api("DELETE", url(name, key, "DELETE"), token=None).status_int == 204
        assert api("GET", f"{ACCT}/{name}").status_int == 404
    # A container key works on its container only.
    assert api("PUT", f"{ACCT}/private/x", body=b"x").status_int == 201
    assert api("GET", url("private/x", "c1", "GET"), token=None).status_int == 401
    # Prefix-based: every object under the prefix, nothing else.
    prefixed = url("shared/seg/", "a1", "GET", prefix=True)
    for n, data in ((0, b"own "), (1, b"data")):
        assert api("GET", prefixed.replace("/shared/seg/?", f"/shared/seg/{n}?"), token=None).body == data
    outside = prefixed.replace("/shared/seg/?", "/shared/up/0?")
    assert api("GET", outside, token=None).status_int == 401
    # Removing a key revokes its URLs.
    keep = url("shared/seg/0", "a2", "GET")
    api("POST", ACCT, headers={"X-Remove-Account-Meta-Temp-URL-Key-2": "x"})
    assert api("GET", keep, token=None).status_int == 401
    assert api("GET", url("shared/seg/0", "a1", "GET"), token=None).status_int == 200


def test_tempurl_responses_hide_private_metadata(api):
    api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "k"})
    api("PUT", f"{ACCT}/shared/doc", body=b"x", headers={"X-Object-Meta-Owner-Note": "internal",
                                                          "X-Object-Meta-Public-Title": "Doc"})
    for method in ("GET", "HEAD"):
        r = api(method, url("shared/doc", "k", "GET"), token=None)
        assert r.status_int == 200 and r.headers["X-Object-Meta-Public-Title"] == "Doc"
        assert "X-Object-Meta-Owner-Note" not in r.headers
    assert api("HEAD", f"{ACCT}/shared/doc").headers["X-Object-Meta-Owner-Note"] == "internal"


@pytest.mark.parametrize("scope", ["account", "container"])
def test_tempurl_put_cannot_store_a_manifest(api, scope):
    """The CVE-2015-5223 class: a PUT TempURL storing a manifest into another container."""
    if scope == "account":
        api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "k"})
    else:
        api("POST", f"{ACCT}/shared", headers={"X-Container-Meta-Temp-URL-Key": "k"})
    put_url, get_url = url("shared/upload", "k", "PUT"), url("shared/upload", "k", "GET")
    dlo = api("PUT", put_url, token=None, body=b"", headers={"X-Object-Manifest": "private/"})
    assert dlo.status_int == 400 and "X-Object-Manifest" in dlo.text
    slo = api("PUT", put_url + "&multipart-manifest=put", token=None,
              body=json.dumps([{"path": "/private/secret"}]).encode())
    assert slo.status_int == 400
    copy = api("PUT", put_url + "&multipart-manifest=get", token=None, body=b"",
               headers={"X-Copy-From": "shared/upload"})
    assert copy.status_int == 400
    post = api("POST", url("shared/upload", "k", "POST"), token=None, headers={"X-Object-Manifest": "private/"})
    assert post.status_int == 400  # refused before the object is even looked up
    got = api("GET", get_url, token=None)
    assert got.status_int == 404 and b"private data" not in got.body
    # The same uploads work with a token (the owner may make manifests).
    assert api("PUT", f"{ACCT}/shared/upload", body=b"", headers={"X-Object-Manifest": "private/"}).status_int \
        == 201


def test_manifest_reads_through_a_container_key_stay_in_the_container(api):
    api("POST", f"{ACCT}/shared", headers={"X-Container-Meta-Temp-URL-Key": "ck"})
    api("PUT", f"{ACCT}/shared/dlo-escape", body=b"", headers={"X-Object-Manifest": "private/"})
    api("PUT", f"{ACCT}/shared/slo-escape?multipart-manifest=put",
        body=json.dumps([{"path": "/shared/seg/0"}, {"path": "/private/secret"}]).encode())
    api("PUT", f"{ACCT}/shared/dlo-inside", body=b"", headers={"X-Object-Manifest": "shared/seg/"})
    for name in ("dlo-escape", "slo-escape"):
        for method in ("GET", "HEAD"):
            r = api(method, url(f"shared/{name}", "ck", "GET"), token=None)
            assert r.status_int == 401 and b"private data" not in r.body
    assert api("GET", url("shared/dlo-inside", "ck", "GET"), token=None).body == b"own data"
    # An account key's owner reads the whole account, as in Swift.
    api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "ak"})
    assert api("GET", url("shared/slo-escape", "ak", "GET"), token=None).body == b"own private data"


def test_public_manifest_cannot_serve_private_segments(api):
    api("POST", f"{ACCT}/shared", headers={"X-Container-Read": ".r:*,.rlistings"})
    api("PUT", f"{ACCT}/shared/slo?multipart-manifest=put", body=json.dumps([{"path": "/private/secret"}]).encode())
    api("PUT", f"{ACCT}/shared/dlo", body=b"", headers={"X-Object-Manifest": "private/"})
    for name in ("slo", "dlo"):
        r = api("GET", f"{ACCT}/shared/{name}", token=None)
        assert r.status_int == 401 and b"private data" not in r.body
    assert api("GET", f"{ACCT}/shared/slo").body == b"private data"  # the owner still reads it


def test_reader_sees_no_keys_and_cannot_set_them(api):
    api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "a1", "X-Account-Meta-Temp-URL-Key-2": "a2"})
    api("POST", f"{ACCT}/shared", headers={"X-Container-Meta-Temp-URL-Key": "c1",
                                           "X-Container-Meta-Temp-URL-Key-2": "c2",
                                           "X-Container-Read": "p2:*", "X-Container-Write": "p2:*"})
    for token in (OWNER, ADMIN):
        for method in ("HEAD", "GET"):
            acct, cont = api(method, ACCT, token=token), api(method, f"{ACCT}/shared", token=token)
            assert acct.status_int in (200, 204) and cont.status_int in (200, 204)
            shown = {**dict(acct.headers), **dict(cont.headers)}
            assert [shown.get(h) for h in KEY_HEADERS] == ["a1", "a2", "c1", "c2"]
            assert cont.headers["X-Container-Read"] == "p2:*"
    for method in ("HEAD", "GET"):
        acct, cont = api(method, ACCT, token=READER), api(method, f"{ACCT}/shared", token=READER)
        assert acct.status_int in (200, 204) and cont.status_int in (200, 204)  # still readable...
        for h in (*KEY_HEADERS, "X-Container-Read", "X-Container-Write"):  # ...without the secrets
            assert h not in acct.headers and h not in cont.headers
    # A reader may not set or remove a key, on the account or a container.
    for path, header in ((ACCT, "X-Account-Meta-Temp-URL-Key"), (ACCT, "X-Account-Meta-Temp-URL-Key-2"),
                         (f"{ACCT}/shared", "X-Container-Meta-Temp-URL-Key"),
                         (f"{ACCT}/shared", "X-Container-Meta-Temp-URL-Key-2")):
        assert api("POST", path, token=READER, headers={header: "mine"}).status_int == 403
        assert api("POST", path, token=READER, headers={header.replace("X-", "X-Remove-", 1): "x"}).status_int \
            == 403
    assert api("PUT", f"{ACCT}/shared", token=READER,
               headers={"X-Container-Meta-Temp-URL-Key": "mine"}).status_int == 403
    assert api("PUT", f"{ACCT}/new", token=READER, headers={"X-Container-Meta-Temp-URL-Key": "mine"}).status_int \
        == 403
    assert api("HEAD", ACCT).headers["X-Account-Meta-Temp-Url-Key"] == "a1"
    # The reader's own signature with a guessed key is worthless.
    assert api("PUT", url("shared/r", "mine", "PUT"), token=None, body=b"x").status_int == 401


def _signed(path, key, method, expires, digest=hashlib.sha256):
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(), digest).hexdigest()
    return f"temp_url_sig={sig}&temp_url_expires={expires}"


def test_tempurl_signed_over_the_endpoint_path_as_tempest_signs_it(api):
    """Tempest signs the path of the catalog's URL, which includes where the API is mounted."""
    api("POST", ACCT, headers={"X-Account-Meta-Temp-URL-Key": "k"})
    assert api("PUT", f"{ACCT}/c").status_int == 201
    assert api("PUT", f"{ACCT}/c/obj", body=b"data").status_int == 201
    expires = int(time.time()) + 60
    mounted = f"/object-store{ACCT}/c/obj"
    got = api("GET", f"{ACCT}/c/obj?{_signed(mounted, 'k', 'GET', expires, hashlib.sha1)}&inline", token=OWNER)
    assert got.status_int == 200 and got.body == b"data" and got.headers["Content-Disposition"] == "inline"
    assert api("HEAD", f"{ACCT}/c/obj?{_signed(mounted, 'k', 'HEAD', expires)}", token=None).status_int == 200
    put = api("PUT", f"{ACCT}/c/obj?{_signed(mounted, 'k', 'PUT', expires, hashlib.sha512)}", token=None, body=b"new")
    assert put.status_int == 201 and api("GET", f"{ACCT}/c/obj").body == b"new"
    # Still one object, one method, one key: another mount, method or object is refused.
    assert api("GET", f"{ACCT}/c/obj?{_signed('/other' + ACCT + '/c/obj', 'k', 'GET', expires)}",
               token=None).status_int == 401
    assert api("DELETE", f"{ACCT}/c/obj?{_signed(mounted, 'k', 'GET', expires)}", token=None).status_int == 401
    assert api("GET", f"{ACCT}/c/obj2?{_signed(mounted, 'k', 'GET', expires)}", token=None).status_int == 401
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
    by_iso = _signed(mounted, "k", "GET", expires).replace(f"temp_url_expires={expires}", f"temp_url_expires={iso}")
    assert api("GET", f"{ACCT}/c/obj?{by_iso}", token=None).status_int == 200
