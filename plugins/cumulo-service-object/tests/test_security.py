"""Security regressions of the object service: TempURL manifest escapes and secrets shown to readers.

* A TempURL write may not create a large-object manifest (the class of Swift's CVE-2015-5223),
  and reading a manifest through a TempURL, a public ACL or a user ACL reaches no segment
  the requester could not read by itself.
* TempURL keys (and ACLs) are shown only to those who may write the account; readers can
  neither see nor set them.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import cumulo_service_object.tempurl as tempurl
import pytest
from cumulo_service_object.manager import Service
from swiftclient.utils import generate_temp_url

from cumulo import exception
from cumulo.contracts.object import ACCOUNT_SCOPE, CONTAINER_SCOPE, Caller, SwiftError, TempURLGrant
from cumulo.testing.object_service import ACCOUNT, ADMIN, ANON, OTHER, OWNER, READER

A = ACCOUNT
SECRET = b"private data"


@pytest.fixture
def svc(cumulo_object_hub):
    service = Service(cumulo_object_hub)
    for name in ("shared", "private"):
        service.container_put(OWNER, A, name, {})
    service.object_put(OWNER, A, "private", "secret", [SECRET], len(SECRET), {})
    service.object_put(OWNER, A, "shared", "seg/0", [b"own "], 4, {})
    service.object_put(OWNER, A, "shared", "seg/1", [b"data"], 4, {})
    return service


def put(svc, container, name, data=b"", caller=OWNER, headers=None, params=None):
    info, _ = svc.object_put(caller, A, container, name, [data], len(data), headers or {}, params)
    return info


def slo(svc, container, name, paths, caller=OWNER):
    body = json.dumps([{"path": p} for p in paths]).encode()
    return put(svc, container, name, body, caller=caller, params={"multipart-manifest": "put"})


def read(svc, caller, container, name, head=False):
    r = svc.object_read(caller, A, container, name, head=head)
    if head:
        r.close()
        return b""
    return b"".join(r.reader(0, r.size))


def signed(svc, method, container, obj, key, prefix=False):
    """A Caller holding a TempURL grant made by python-swiftclient for ``method`` on the object."""
    path = f"/v1/{A}/{container}/{obj}"
    url = generate_temp_url(path if not prefix else f"/v1/{A}/{container}/", 60, key, method, prefix=prefix)
    params = dict(parse_qsl(urlsplit(url).query))
    return Caller(tempurl=svc.tempurl_grant(method, path, params, None, A, container, obj))


@pytest.fixture
def account_key(svc):
    svc.account_post(OWNER, A, {"X-Account-Meta-Temp-URL-Key": "acct-key"})
    return "acct-key"


@pytest.fixture
def container_key(svc):
    svc.container_post(OWNER, A, "shared", {"X-Container-Meta-Temp-URL-Key": "cont-key"})
    return "cont-key"


# ----------------------------------------------------------------------------- TempURL writes
@pytest.mark.parametrize("key_fixture", ["account_key", "container_key"])
def test_tempurl_put_refuses_manifests(svc, request, key_fixture):
    key = request.getfixturevalue(key_fixture)
    caller = signed(svc, "PUT", "shared", "upload", key)
    for headers, params in (({"X-Object-Manifest": "private/"}, None),
                            ({"x-object-manifest": "private/secret"}, None),
                            ({"X-Object-Manifest": ""}, None),
                            ({}, {"multipart-manifest": "put"}),
                            ({"X-Copy-From": "shared/seg/0"}, {"multipart-manifest": "get"})):
        body = json.dumps([{"path": "/private/secret"}]).encode() if params else b""
        with pytest.raises(SwiftError) as err:
            put(svc, "shared", "upload", body, caller=caller, headers=headers, params=params)
        assert err.value.code == 400
    with pytest.raises(exception.NotFound):
        svc.object_read(OWNER, A, "shared", "upload")  # nothing was stored
    # A plain upload through the same TempURL still works.
    put(svc, "shared", "upload", b"plain", caller=caller)
    assert read(svc, OWNER, "shared", "upload") == b"plain"


def test_tempurl_post_and_copy_refuse_manifests(svc, account_key):
    put(svc, "shared", "upload", b"plain")
    post = signed(svc, "POST", "shared", "upload", account_key)
    with pytest.raises(SwiftError) as err:
        svc.object_post(post, A, "shared", "upload", {"X-Object-Manifest": "private/"})
    assert err.value.code == 400
    assert svc.object_read(OWNER, A, "shared", "upload").kind == "plain"
    svc.object_post(post, A, "shared", "upload", {"X-Object-Meta-Color": "blue"})  # metadata is fine
    copy = Caller(tempurl=TempURLGrant("COPY", A, "shared", "upload", False, 2**40))
    with pytest.raises(SwiftError) as err:
        svc.object_copy(copy, A, "shared", "upload", A, "shared", "upload",
                        {"X-Object-Manifest": "private/"})
    assert err.value.code == 400


# ----------------------------------------------------------------------------- manifest reads
def test_dlo_through_container_key_cannot_reach_another_container(svc, container_key):
    put(svc, "shared", "escape", headers={"X-Object-Manifest": "private/"})  # e.g. stored before the fix
    put(svc, "shared", "inside", headers={"X-Object-Manifest": "shared/seg/"})
    for head in (False, True):
        with pytest.raises(exception.NotAuthenticated):
            read(svc, signed(svc, "GET", "shared", "escape", container_key), "shared", "escape", head=head)
    assert read(svc, signed(svc, "GET", "shared", "inside", container_key), "shared", "inside") == b"own data"
    # A prefix-signed URL is no wider.
    with pytest.raises(exception.NotAuthenticated):
        read(svc, signed(svc, "GET", "shared", "escape", container_key, prefix=True), "shared", "escape")


def test_slo_through_container_key_cannot_reach_another_container(svc, container_key):
    slo(svc, "shared", "escape", ["/shared/seg/0", "/private/secret"])
    slo(svc, "shared", "inside", ["/shared/seg/0", "/shared/seg/1"])
    # Nested: the outer manifest's own segments are fine, the inner one's are not.
    slo(svc, "private", "inner", ["/private/secret"])
    slo(svc, "shared", "nested", ["/shared/seg/0", "/private/inner"])
    for name in ("escape", "nested"):
        for head in (False, True):
            with pytest.raises(exception.NotAuthenticated):
                read(svc, signed(svc, "GET", "shared", name, container_key), "shared", name, head=head)
    assert read(svc, signed(svc, "GET", "shared", "inside", container_key), "shared", "inside") == b"own data"
    # The manifest itself (names, not content) is still readable.
    r = svc.object_read(signed(svc, "GET", "shared", "escape", container_key), A, "shared", "escape",
                        manifest_get=True)
    assert [m["name"] for m in r.manifest] == ["/shared/seg/0", "/private/secret"]


def test_account_key_reads_manifests_across_its_account(svc, account_key):
    # The account key's owner reads every container of the account (Swift's authorize_same_account).
    put(svc, "shared", "dlo", headers={"X-Object-Manifest": "private/"})
    slo(svc, "shared", "slo", ["/shared/seg/0", "/private/secret"])
    assert read(svc, signed(svc, "GET", "shared", "dlo", account_key), "shared", "dlo") == SECRET
    assert read(svc, signed(svc, "GET", "shared", "slo", account_key), "shared", "slo") == b"own " + SECRET


def test_public_manifests_reach_only_public_segments(svc):
    svc.container_post(OWNER, A, "shared", {"X-Container-Read": ".r:*,.rlistings"})
    put(svc, "shared", "dlo-escape", headers={"X-Object-Manifest": "private/secret"})
    put(svc, "shared", "dlo-inside", headers={"X-Object-Manifest": "shared/seg/"})
    slo(svc, "shared", "slo-escape", ["/shared/seg/0", "/private/secret"])
    slo(svc, "shared", "slo-inside", ["/shared/seg/0", "/shared/seg/1"])
    slo(svc, "private", "inner", ["/private/secret"])
    slo(svc, "shared", "slo-nested", ["/shared/seg/0", "/private/inner"])
    for name in ("dlo-escape", "slo-escape", "slo-nested"):
        with pytest.raises(exception.NotAuthenticated):
            read(svc, ANON, "shared", name)
    assert read(svc, ANON, "shared", "dlo-inside") == b"own data"
    assert read(svc, ANON, "shared", "slo-inside") == b"own data"
    # Once the segment container is public too, the manifests work for everybody.
    svc.container_post(OWNER, A, "private", {"X-Container-Read": ".r:*,.rlistings"})
    assert read(svc, ANON, "shared", "dlo-escape") == SECRET
    assert read(svc, ANON, "shared", "slo-nested") == b"own " + SECRET


def test_user_acl_manifests_reach_only_readable_segments(svc):
    svc.container_post(OWNER, A, "shared", {"X-Container-Read": "p2:*", "X-Container-Write": "p2:*"})
    slo(svc, "shared", "slo-escape", ["/private/secret"])
    put(svc, "shared", "dlo-escape", headers={"X-Object-Manifest": "private/secret"})
    for name in ("slo-escape", "dlo-escape"):
        with pytest.raises(exception.Forbidden):
            read(svc, OTHER, "shared", name)
    # Nor can the ACL writer build one: SLO segments are checked when the manifest is stored.
    with pytest.raises(SwiftError) as err:
        slo(svc, "shared", "mine", ["/private/secret"], caller=OTHER)
    assert err.value.code == 400 and "403" in err.value.message
    put(svc, "shared", "mine", caller=OTHER, headers={"X-Object-Manifest": "private/"})
    with pytest.raises(exception.Forbidden):
        read(svc, OTHER, "shared", "mine")
    # The account's own users read everything, readers included.
    for caller in (OWNER, READER, ADMIN):
        assert read(svc, caller, "shared", "slo-escape") == SECRET


# ----------------------------------------------------------------------------- keys and readers
def test_readers_do_not_see_or_set_tempurl_keys(svc):
    svc.account_post(OWNER, A, {"X-Account-Meta-Temp-URL-Key": "k1", "X-Account-Meta-Temp-URL-Key-2": "k2",
                                "X-Account-Meta-Color": "red"})
    svc.container_post(OWNER, A, "shared", {"X-Container-Meta-Temp-URL-Key": "c1",
                                            "X-Container-Meta-Temp-URL-Key-2": "c2",
                                            "X-Container-Read": "p2:*", "X-Container-Meta-Color": "red"})

    def lower(meta):
        return {k.lower(): v for k, v in meta.items()}

    for caller in (OWNER, ADMIN):
        account = lower(svc.account_head(caller, A)["metadata"])
        assert account["x-account-meta-temp-url-key"] == "k1" and account["x-account-meta-temp-url-key-2"] == "k2"
        container = lower(svc.container_head(caller, A, "shared")["metadata"])
        assert container["x-container-meta-temp-url-key"] == "c1"
        assert container["x-container-meta-temp-url-key-2"] == "c2"
    for caller in (READER, OTHER):
        if caller is READER:
            account = lower(svc.account_head(caller, A)["metadata"])
            assert account == {"x-account-meta-color": "red"}
            assert lower(svc.account_list(caller, A)[0]["metadata"]) == account
        container = lower(svc.container_head(caller, A, "shared")["metadata"])
        assert container == {"x-container-meta-color": "red"}
        assert lower(svc.container_list(caller, A, "shared")[0]["metadata"]) == container
    # Nor may a reader set (or remove) them.
    for update in ({"X-Account-Meta-Temp-URL-Key": "mine"}, {"X-Remove-Account-Meta-Temp-URL-Key-2": "x"}):
        with pytest.raises(exception.Forbidden):
            svc.account_post(READER, A, update)
    for update in ({"X-Container-Meta-Temp-URL-Key": "mine"}, {"X-Container-Meta-Temp-URL-Key-2": "mine"}):
        with pytest.raises(exception.Forbidden):
            svc.container_post(READER, A, "shared", update)
        with pytest.raises(exception.Forbidden):
            svc.container_put(READER, A, "shared", update)
        with pytest.raises(exception.Forbidden):
            svc.container_put(READER, A, "fresh", update)
    assert lower(svc.account_head(OWNER, A)["metadata"])["x-account-meta-temp-url-key"] == "k1"


# ----------------------------------------------------------------------------- grants
def test_grant_scope_follows_the_key_that_signed():
    path = f"/v1/{A}/c/o"
    url = generate_temp_url(path, 60, "shared-value", "GET")
    params = dict(parse_qsl(urlsplit(url).query))
    methods, digests = ["GET"], ["sha256"]
    grant = tempurl.validate("GET", path, params, [], None, methods, digests, A, "c", "o",
                             container_keys=["x", "shared-value"])
    assert grant.scope == CONTAINER_SCOPE
    assert grant.reaches(A, "c") and not grant.reaches(A, "other") and not grant.reaches("AUTH_p2", "c")
    # The same value set on the account too: the account's key is the wider owner.
    grant = tempurl.validate("GET", path, params, ["shared-value"], None, methods, digests, A, "c", "o",
                             container_keys=["shared-value"])
    assert grant.scope == ACCOUNT_SCOPE
    assert grant.reaches(A, "other") and not grant.reaches("AUTH_p2", "c")
