"""Container ACL parsing/matching and TempURL signatures as python-swiftclient makes them."""

from __future__ import annotations

import time

import cumulo_service_object.acl as acl
import cumulo_service_object.tempurl as tempurl
import pytest
from swiftclient.utils import generate_temp_url

from cumulo import exception
from cumulo.context import RequestContext

ALL = ["GET", "HEAD", "PUT", "POST", "DELETE"]
DIGESTS = ["sha1", "sha256", "sha512"]


def ctx(user="u1", project="p1", roles=("member",), **kw):
    return RequestContext(user_id=user, project_id=project, roles=list(roles), **kw)


def test_clean_acl():
    assert acl.clean(" .r:* , .rlistings,p1:u1 ", write=False) == ".r:*,.rlistings,p1:u1"
    assert acl.clean(".referrer:example.com", write=False) == ".r:example.com"
    for bad, write in ((".r:*", True), (".rlistings", True), (".bogus", False), (".r:", False)):
        with pytest.raises(exception.Invalid):
            acl.clean(bad, write)


def test_user_entries():
    entries = acl.parse("p2:u9,p1:*,auditor")
    assert acl.user_allowed(ctx(), entries)
    assert acl.user_allowed(ctx(project="p3", roles=["auditor"]), entries)
    assert not acl.user_allowed(ctx(project="p3"), entries)
    assert acl.user_allowed(ctx(user="u9", project="p2"), entries)
    assert acl.user_allowed(ctx(project="p3", user="x"), acl.parse("*:*"))
    assert acl.user_allowed(ctx(project="p3", user="uid", user_name="alice"), acl.parse("*:alice"))
    assert not acl.user_allowed(None, entries)


def test_referrers():
    entries = acl.parse(".r:.example.com,.r:-bad.example.com")
    assert acl.referrer_allowed("http://www.example.com/page", entries)
    assert not acl.referrer_allowed("http://bad.example.com/", entries)
    assert not acl.referrer_allowed("http://other.org/", entries)
    assert not acl.referrer_allowed(None, entries)
    assert acl.referrer_allowed(None, acl.parse(".r:*"))
    assert not acl.listings_allowed(acl.parse(".r:*"))
    assert acl.listings_allowed(acl.parse(".r:*,.rlistings"))


PATH = "/v1/AUTH_a/c/dir/obj ☃"


def _params(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))


@pytest.mark.parametrize("digest", DIGESTS)
def test_swiftclient_signatures_validate(digest):
    url = generate_temp_url(PATH, 60, "k3y", "GET", digest=digest)
    grant = tempurl.validate("GET", PATH, _params(url), ["other", "k3y"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    assert grant.covers("AUTH_a", "c", "dir/obj ☃") and not grant.covers("AUTH_a", "c", "else")
    # HEAD is allowed with a GET signature; PUT is not.
    tempurl.validate("HEAD", PATH, _params(url), ["k3y"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    with pytest.raises(exception.NotAuthenticated):
        tempurl.validate("PUT", PATH, _params(url), ["k3y"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    with pytest.raises(exception.NotAuthenticated):
        tempurl.validate("GET", PATH, _params(url), ["wrong"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")


def test_expired_iso8601_prefix_and_ip():
    past = generate_temp_url(PATH, int(time.time()) - 10, "k", "GET", absolute=True)
    with pytest.raises(exception.NotAuthenticated, match="expired"):
        tempurl.validate("GET", PATH, _params(past), ["k"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    iso = generate_temp_url(PATH, 60, "k", "GET", iso8601=True)
    assert "T" in _params(iso)["temp_url_expires"]
    tempurl.validate("GET", PATH, _params(iso), ["k"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    pre = generate_temp_url("/v1/AUTH_a/c/dir/", 60, "k", "GET", prefix=True)
    grant = tempurl.validate("GET", PATH, _params(pre), ["k"], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    assert grant.prefix and grant.covers("AUTH_a", "c", "dir/another")
    ip = generate_temp_url(PATH, 60, "k", "GET", ip_range="10.0.0.0/8")
    tempurl.validate("GET", PATH, _params(ip), ["k"], "10.1.2.3", ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    with pytest.raises(exception.NotAuthenticated):
        tempurl.validate("GET", PATH, _params(ip), ["k"], "192.168.1.1", ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    with pytest.raises(exception.NotAuthenticated):
        tempurl.validate("GET", PATH, _params(iso), [], None, ALL, DIGESTS, "AUTH_a", "c", "dir/obj ☃")
    with pytest.raises(exception.NotAuthenticated):
        sha1 = generate_temp_url(PATH, 60, "k", "GET", digest="sha1")
        tempurl.validate("GET", PATH, _params(sha1), ["k"], None, ALL, ["sha256"], "AUTH_a", "c", "dir/obj ☃")
