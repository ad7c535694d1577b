"""``authenticate_aws``: requests signed by botocore's own signers (as an AWS client signs them) verify;
each kind of wrong request gets its contract code."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from typing import Any

import botocore.auth as botocore_auth
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from keystoneclient.contrib.ec2 import utils as ks_ec2  # python-openstackclient depends on it

from cumulo import exception
from cumulo.contracts.identity import AWS_AUTH_ERRORS, AwsAuthError, AwsRequest

ENDPOINT = "http://cloud.test:8774"


def make_member(svc: Any, name: str = "bob", project: str = "proj-a") -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        p = svc.get_project_by_name(project, "default")
    except exception.NotFound:
        p = svc.create_project({"name": project, "domain_id": "default"})
    u = svc.create_user({"name": name, "domain_id": "default", "password": "pw"})
    svc.create_grant(svc.get_role_by_name("member")["id"], user_id=u["id"], project_id=p["id"])
    return u, p


@pytest.fixture
def ec2(identity: Any) -> dict[str, Any]:
    user, project = make_member(identity)
    cred = identity.create_ec2_credential(user["id"], project["id"])
    return {"svc": identity, "user": user, "project": project, "access": cred["access"], "secret": cred["secret"],
            "creds": Credentials(cred["access"], cred["secret"])}


def to_aws_request(req: AWSRequest, service: str) -> AwsRequest:
    """What a frontend hands over for the request botocore prepared: the path and query as sent,
    lowercase headers, the body's hash (or the x-amz-content-sha256 sent), the form fields."""
    prepared = req.prepare()
    split = urllib.parse.urlsplit(prepared.url)
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()}
    headers.setdefault("host", split.netloc)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    form: tuple[tuple[str, str], ...] = ()
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = tuple(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    return AwsRequest(service=service, method=prepared.method, host=split.netloc, path=split.path,
                      query=tuple(urllib.parse.parse_qsl(split.query, keep_blank_values=True)), headers=headers,
                      payload_sha256=headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest(),
                      form=form)


def ec2_post(params: dict[str, str] | None = None) -> AWSRequest:
    data = {"Action": "DescribeInstances", "Version": "2016-11-15", **(params or {})}
    return AWSRequest(method="POST", url=ENDPOINT + "/ec2/", data=data,
                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})


def s3_put(path: str = "/s3/bucket/some%20key.txt", query: str = "") -> AWSRequest:
    return AWSRequest(method="PUT", url=ENDPOINT + path + (f"?{query}" if query else ""), data=b"hello world",
                      headers={"Content-Type": "text/plain", "x-amz-meta-color": "  blue   green "})


def code_of(svc: Any, request: AwsRequest) -> str:
    with pytest.raises(AwsAuthError) as err:
        svc.authenticate_aws(request)
    assert err.value.aws_code in AWS_AUTH_ERRORS
    return err.value.aws_code


def check_ok(ec2: dict[str, Any], request: AwsRequest, region: str = "") -> None:
    auth = ec2["svc"].authenticate_aws(request)
    assert auth.access_key == ec2["access"] and auth.region == region
    ctx = auth.context
    assert ctx.user_id == ec2["user"]["id"] and ctx.project_id == ec2["project"]["id"] and "member" in ctx.roles
    assert ctx.auth_token and ec2["svc"].validate_token(ctx.auth_token).project_id == ec2["project"]["id"]


# -- each signer verifies ----------------------------------------------------------------------
def test_sigv4_header_ec2_form_post(ec2):
    req = ec2_post({"InstanceId.1": "i-1 2/3"})
    botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne").add_auth(req)
    check_ok(ec2, to_aws_request(req, "ec2"), "RegionOne")


def test_sigv4_header_ec2_get_with_query_and_encoded_path(ec2):
    req = AWSRequest(method="GET", url=ENDPOINT + "/ec2/a%20b/./c/",
                     params={"Action": "DescribeRegions", "Filter.1.Value": "x y*~"})
    botocore_auth.SigV4Auth(ec2["creds"], "ec2", "us-east-1").add_auth(req)
    check_ok(ec2, to_aws_request(req, "ec2"), "us-east-1")


def test_s3_sigv4_header(ec2):
    req = s3_put(query="partNumber=1&uploadId=abc")
    botocore_auth.S3SigV4Auth(ec2["creds"], "s3", "RegionOne").add_auth(req)
    request = to_aws_request(req, "s3")
    check_ok(ec2, request, "RegionOne")
    # the payload hash is signed: another body's hash does not verify
    other = AwsRequest(**{**request.__dict__, "payload_sha256": hashlib.sha256(b"other").hexdigest(),
                          "headers": {**request.headers, "x-amz-content-sha256": hashlib.sha256(b"x").hexdigest()}})
    assert code_of(ec2["svc"], other) == "SignatureDoesNotMatch"


def test_sigv4_presigned_query(ec2):
    req = AWSRequest(method="GET", url=ENDPOINT + "/ec2/", params={"Action": "DescribeInstances"})
    botocore_auth.SigV4QueryAuth(ec2["creds"], "ec2", "RegionOne", expires=600).add_auth(req)
    request = to_aws_request(req, "ec2")
    check_ok(ec2, request, "RegionOne")
    ec2["svc"].authenticate_aws(request)  # a presigned URL may be used again


def test_s3_sigv4_presigned_query(ec2):
    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/bucket/k%2Bey", params={"versionId": "3"})
    botocore_auth.S3SigV4QueryAuth(ec2["creds"], "s3", "RegionOne", expires=300).add_auth(req)
    check_ok(ec2, to_aws_request(req, "s3"), "RegionOne")


def test_s3_v2_header(ec2):
    req = s3_put(query="acl")
    botocore_auth.HmacV1Auth(ec2["creds"]).add_auth(req)
    check_ok(ec2, to_aws_request(req, "s3"))


def test_s3_v2_presigned_query(ec2):
    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/bucket/key?response-content-type=text/plain",
                     headers={"Content-Type": "text/plain", "x-amz-meta-a": "b"})
    botocore_auth.HmacV1QueryAuth(ec2["creds"], expires=120).add_auth(req)
    request = to_aws_request(req, "s3")
    check_ok(ec2, AwsRequest(**{**request.__dict__, "headers": {"host": request.host}}))


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_ec2_sigv2(ec2, method):
    if method == "POST":
        req = ec2_post({"Name.1": "a b", "Value": "ü~*"})
    else:
        req = AWSRequest(method="GET", url=ENDPOINT + "/ec2/", params={"Action": "DescribeInstances", "X": "é"})
    botocore_auth.SigV2Auth(ec2["creds"]).add_auth(req)
    check_ok(ec2, to_aws_request(req, "ec2"))


def test_keystoneclient_ec2signer_v2_and_v4(ec2):
    utils = ks_ec2
    params = {"Action": "DescribeImages", "AWSAccessKeyId": ec2["access"], "SignatureVersion": "2",
              "SignatureMethod": "HmacSHA256", "Timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    sig = utils.Ec2Signer(ec2["secret"]).generate({"params": dict(params), "verb": "GET", "host": "cloud.test:8788",
                                                   "path": "/ec2/"})
    check_ok(ec2, AwsRequest(service="ec2", method="GET", host="cloud.test:8788", path="/ec2/",
                             query=(*params.items(), ("Signature", sig))))
    # SigV4 as Keystone's signer does it (headers signed as given, the path as sent)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {"Host": "cloud.test:8788", "X-Amz-Date": stamp,
               "Authorization": f"AWS4-HMAC-SHA256 Credential={ec2['access']}/{stamp[:8]}/RegionOne/ec2/aws4_request,"
                                " SignedHeaders=host;x-amz-date,"}
    body_hash = hashlib.sha256(b"Action=DescribeImages").hexdigest()
    sig = utils.Ec2Signer(ec2["secret"]).generate({"params": {}, "verb": "POST", "host": "cloud.test:8788",
                                                   "path": "/", "headers": headers, "body_hash": body_hash})
    headers["Authorization"] += f" Signature={sig}"
    check_ok(ec2, AwsRequest(service="ec2", method="POST", host="cloud.test:8788", path="/",
                             headers={k.lower(): v for k, v in headers.items()}, payload_sha256=body_hash),
             "RegionOne")


# -- each fault its code ------------------------------------------------------------------------
def test_wrong_secret_and_unknown_key(ec2):
    req = ec2_post()
    botocore_auth.SigV4Auth(Credentials(ec2["access"], "not-the-secret"), "ec2", "RegionOne").add_auth(req)
    assert code_of(ec2["svc"], to_aws_request(req, "ec2")) == "SignatureDoesNotMatch"
    req = ec2_post()
    botocore_auth.SigV4Auth(Credentials("AKIDNOSUCHKEY", ec2["secret"]), "ec2", "RegionOne").add_auth(req)
    assert code_of(ec2["svc"], to_aws_request(req, "ec2")) == "InvalidAccessKeyId"
    req = s3_put()
    botocore_auth.HmacV1Auth(Credentials(ec2["access"], "nope")).add_auth(req)
    assert code_of(ec2["svc"], to_aws_request(req, "s3")) == "SignatureDoesNotMatch"


def test_tampered_param_header_path(ec2):
    svc = ec2["svc"]
    req = ec2_post({"InstanceId.1": "i-1"})
    botocore_auth.SigV2Auth(ec2["creds"]).add_auth(req)
    good = to_aws_request(req, "ec2")
    form = tuple((k, "i-2" if k == "InstanceId.1" else v) for k, v in good.form)
    assert code_of(svc, AwsRequest(**{**good.__dict__, "form": form})) == "SignatureDoesNotMatch"

    req = s3_put()
    botocore_auth.S3SigV4Auth(ec2["creds"], "s3", "RegionOne").add_auth(req)
    good = to_aws_request(req, "s3")
    assert code_of(svc, AwsRequest(**{**good.__dict__, "path": "/s3/bucket/other"})) == "SignatureDoesNotMatch"
    headers = {**good.headers, "x-amz-meta-color": "red"}
    assert code_of(svc, AwsRequest(**{**good.__dict__, "headers": headers})) == "SignatureDoesNotMatch"
    assert code_of(svc, AwsRequest(**{**good.__dict__, "method": "DELETE"})) == "SignatureDoesNotMatch"
    svc.authenticate_aws(good)  # the untampered one still verifies (whitespace in values collapsed)

    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/b/k")
    botocore_auth.HmacV1QueryAuth(ec2["creds"]).add_auth(req)
    good = to_aws_request(req, "s3")
    assert code_of(svc, AwsRequest(**{**good.__dict__, "path": "/s3/b/k2"})) == "SignatureDoesNotMatch"
    query = tuple((k, str(int(v) + 100) if k == "Expires" else v) for k, v in good.query)
    assert code_of(svc, AwsRequest(**{**good.__dict__, "query": query})) == "SignatureDoesNotMatch"


def test_stale_and_future_dates(ec2):
    svc = ec2["svc"]
    for signer in (lambda: botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne"),
                   lambda: botocore_auth.SigV2Auth(ec2["creds"])):
        req = ec2_post()
        signer().add_auth(req)
        request = to_aws_request(req, "ec2")
        svc.aws_clock = lambda: time.time() + 901  # the request is now 15 minutes old
        assert code_of(svc, request) == "RequestExpired"
        svc.aws_clock = lambda: time.time() - 901  # the request comes from 15 minutes ahead
        assert code_of(svc, request) == "RequestExpired"
        svc.aws_clock = lambda: time.time() + 800  # within the skew
        svc.authenticate_aws(request)
        del svc.aws_clock
    req = s3_put()
    botocore_auth.HmacV1Auth(ec2["creds"]).add_auth(req)
    svc.aws_clock = lambda: time.time() + 3600
    assert code_of(svc, to_aws_request(req, "s3")) == "RequestExpired"


def test_skew_option(ec2):
    svc = ec2["svc"]
    svc.conf.set_override("aws_signature_max_skew", 60, group="identity")
    try:
        req = ec2_post()
        botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne").add_auth(req)
        svc.aws_clock = lambda: time.time() + 120
        assert code_of(svc, to_aws_request(req, "ec2")) == "RequestExpired"
    finally:
        svc.conf.clear_override("aws_signature_max_skew", group="identity")


def test_expired_presigned(ec2):
    svc = ec2["svc"]
    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/b/k")
    botocore_auth.S3SigV4QueryAuth(ec2["creds"], "s3", "RegionOne", expires=60).add_auth(req)
    v4 = to_aws_request(req, "s3")
    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/b/k")
    botocore_auth.HmacV1QueryAuth(ec2["creds"], expires=60).add_auth(req)
    v2 = to_aws_request(req, "s3")
    svc.aws_clock = lambda: time.time() + 120
    assert code_of(svc, v4) == "RequestExpired"
    assert code_of(svc, v2) == "RequestExpired"
    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/b/k")
    botocore_auth.S3SigV4QueryAuth(ec2["creds"], "s3", "RegionOne", expires=8 * 24 * 3600).add_auth(req)
    assert code_of(svc, to_aws_request(req, "s3")) == "IncompleteSignature"  # more than 7 days


def test_replay(ec2):
    svc = ec2["svc"]
    req = ec2_post()
    botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne").add_auth(req)
    request = to_aws_request(req, "ec2")
    start = time.time()
    svc.aws_clock = lambda: start
    svc.authenticate_aws(request)
    svc.aws_clock = lambda: start + 4  # the same request sent again within the grace: a client's repeat
    svc.authenticate_aws(request)
    svc.aws_clock = lambda: start + 6  # later: a replay
    assert code_of(svc, request) == "ReplayedRequest"
    req = s3_put()
    botocore_auth.HmacV1Auth(ec2["creds"]).add_auth(req)
    request = to_aws_request(req, "s3")
    svc.aws_clock = lambda: start
    svc.authenticate_aws(request)
    svc.aws_clock = lambda: start + 6
    assert code_of(svc, request) == "ReplayedRequest"
    del svc.aws_clock
    # a GET may be repeated (a client's retry of a read within the same second signs the same)
    req = AWSRequest(method="GET", url=ENDPOINT + "/s3/b/k")
    botocore_auth.S3SigV4Auth(ec2["creds"], "s3", "RegionOne").add_auth(req)
    request = to_aws_request(req, "s3")
    svc.authenticate_aws(request)
    svc.authenticate_aws(request)


def test_missing_and_malformed(ec2):
    svc = ec2["svc"]
    assert code_of(svc, AwsRequest(service="ec2", method="GET", host="h", path="/",
                                   query=(("Action", "DescribeInstances"),))) == "MissingAuthenticationToken"
    assert code_of(svc, AwsRequest(service="s3", method="GET", host="h", path="/b")) == "MissingAuthenticationToken"
    bad = [{"authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/r/ec2/aws4_request, Signature=ab"},
           {"authorization": "AWS4-HMAC-SHA256 Credential=AK/r/ec2, SignedHeaders=host, Signature=ab",
            "x-amz-date": "20260101T000000Z"},
           {"authorization": "AWS4-HMAC-SHA256 Credential=AK/20260101/r/ec2/aws4_request, SignedHeaders=host, "
                             "Signature=ab"},  # no date
           {"authorization": "Bearer xyz"}]
    for headers in bad:
        assert code_of(svc, AwsRequest(service="ec2", method="POST", host="h", path="/", headers=headers)) \
            == "IncompleteSignature", headers
    assert code_of(svc, AwsRequest(service="ec2", method="GET", host="h", path="/", query=(
        ("AWSAccessKeyId", ec2["access"]), ("SignatureVersion", "1"), ("Signature", "x")))) == "IncompleteSignature"
    assert code_of(svc, AwsRequest(service="s3", method="GET", host="h", path="/b",
                                   headers={"authorization": "AWS nocolon", "date": "x"})) == "IncompleteSignature"
    # a credential scoped to another service
    req = ec2_post()
    botocore_auth.SigV4Auth(ec2["creds"], "s3", "RegionOne").add_auth(req)
    assert code_of(svc, to_aws_request(req, "ec2")) == "SignatureDoesNotMatch"


def test_disabled_user_project_and_lost_role(ec2):
    svc = ec2["svc"]

    def signed() -> AwsRequest:
        req = AWSRequest(method="GET", url=ENDPOINT + "/ec2/", params={"Action": "DescribeInstances"})
        botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne").add_auth(req)
        return to_aws_request(req, "ec2")

    svc.authenticate_aws(signed())
    svc.update_user(ec2["user"]["id"], {"enabled": False})
    assert code_of(svc, signed()) == "AccessDenied"
    svc.update_user(ec2["user"]["id"], {"enabled": True})
    svc.update_project(ec2["project"]["id"], {"enabled": False})
    assert code_of(svc, signed()) == "AccessDenied"
    svc.update_project(ec2["project"]["id"], {"enabled": True})
    svc.authenticate_aws(signed())
    svc.delete_grant(svc.get_role_by_name("member")["id"], user_id=ec2["user"]["id"],
                     project_id=ec2["project"]["id"])
    assert code_of(svc, signed()) == "AccessDenied"
    svc.delete_ec2_credential(ec2["user"]["id"], ec2["access"])
    assert code_of(svc, signed()) == "InvalidAccessKeyId"


def test_token_reused_until_revoked(ec2):
    svc = ec2["svc"]

    def token() -> str:
        req = AWSRequest(method="GET", url=ENDPOINT + "/ec2/", params={"Action": "DescribeInstances"})
        botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne").add_auth(req)
        return str(svc.authenticate_aws(to_aws_request(req, "ec2")).context.auth_token)

    first = token()
    assert token() == first
    assert svc.validate_token_data(first)["payload"]["methods"] == ["ec2credential"]
    svc.revoke_user_tokens(ec2["user"]["id"])
    time.sleep(0.01)
    second = token()
    assert second != first and svc.validate_token(second).user_id == ec2["user"]["id"]


def test_string_to_sign_v2_and_v4(ec2):
    import base64
    import hmac

    svc = ec2["svc"]
    sts = "GET\n\n\nTue, 01 Dec 2026 00:00:00 GMT\n/bucket/key"
    sig = base64.b64encode(hmac.new(ec2["secret"].encode(), sts.encode(), hashlib.sha1).digest()).decode()
    auth = svc.verify_aws_string_to_sign(ec2["access"], sts, sig)
    assert auth.context.project_id == ec2["project"]["id"]
    with pytest.raises(AwsAuthError) as err:
        svc.verify_aws_string_to_sign(ec2["access"], sts + "x", sig)
    assert err.value.aws_code == "SignatureDoesNotMatch"

    req = s3_put()
    signer = botocore_auth.S3SigV4Auth(ec2["creds"], "s3", "RegionOne")
    seen: list[str] = []
    real = signer.string_to_sign
    signer.string_to_sign = lambda *a: seen.append(real(*a)) or seen[-1]  # what the client signed
    signer.add_auth(req)
    sts4 = seen[0]
    sig4 = req.headers["Authorization"].rpartition("Signature=")[2]
    assert svc.verify_aws_string_to_sign(ec2["access"], sts4, sig4).region == "RegionOne"
    with pytest.raises(AwsAuthError) as err:
        svc.verify_aws_string_to_sign(ec2["access"], sts4.replace("RegionOne", "RegionTwo"), sig4)
    assert err.value.aws_code == "SignatureDoesNotMatch"
    with pytest.raises(AwsAuthError) as err:
        svc.verify_aws_string_to_sign("nope", sts4, sig4)
    assert err.value.aws_code == "InvalidAccessKeyId"


def test_sigv2_hmacsha1_with_keystoneclient(ec2):
    signer = ks_ec2.Ec2Signer(ec2["secret"])
    signer.hmac_256 = None  # Keystone's signer then signs with HmacSHA1 (and says so in the params)
    params = {"Action": "DescribeImages", "AWSAccessKeyId": ec2["access"], "SignatureVersion": "2",
              "Expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 300))}
    sig = signer.generate({"params": params, "verb": "POST", "host": "cloud.test", "path": "/ec2/"})
    assert params["SignatureMethod"] == "HmacSHA1"
    request = AwsRequest(service="ec2", method="POST", host="cloud.test", path="/ec2/",
                         form=(*params.items(), ("Signature", sig)))
    check_ok(ec2, request)
    ec2["svc"].aws_clock = lambda: time.time() + 400  # past its Expires
    assert code_of(ec2["svc"], request) == "RequestExpired"


def test_sigv4_dated_by_the_date_header(ec2):
    req = AWSRequest(method="POST", url=ENDPOINT + "/ec2/", data={"Action": "DescribeImages"},
                     headers={"Date": "placeholder", "Content-Type": "application/x-www-form-urlencoded"})
    botocore_auth.SigV4Auth(ec2["creds"], "ec2", "RegionOne").add_auth(req)
    request = to_aws_request(req, "ec2")
    assert "x-amz-date" not in request.headers
    check_ok(ec2, request, "RegionOne")


def test_s3_v2_with_x_amz_date_signs_an_empty_date(ec2):
    import base64
    import hmac
    from email.utils import formatdate

    when = formatdate(usegmt=True)
    # AWS's rule, written out: with x-amz-date the Date line is empty and x-amz-date is a canonical header
    sts = f"DELETE\n\n\n\nx-amz-date:{when}\n/s3/bucket/key"
    sig = base64.b64encode(hmac.new(ec2["secret"].encode(), sts.encode(), hashlib.sha1).digest()).decode()
    headers = {"host": "cloud.test", "x-amz-date": when, "date": "Thu, 01 Jan 2015 00:00:00 GMT",
               "authorization": f"AWS {ec2['access']}:{sig}"}
    check_ok(ec2, AwsRequest(service="s3", method="DELETE", host="cloud.test", path="/s3/bucket/key",
                             headers=headers))


def test_s3_sigv4_refuses_unsigned_amz_headers(ec2):
    req = AWSRequest(method="PUT", url=ENDPOINT + "/s3/b/k")
    botocore_auth.S3SigV4QueryAuth(ec2["creds"], "s3", "RegionOne", expires=300).add_auth(req)
    good = to_aws_request(req, "s3")
    svc = ec2["svc"]
    svc.authenticate_aws(good)
    # whoever holds the presigned PUT cannot add x-amz-acl: public-read
    opened = AwsRequest(**{**good.__dict__, "headers": {**good.headers, "x-amz-acl": "public-read"}})
    assert code_of(svc, opened) == "IncompleteSignature"


def test_trust_credential_acts_as_the_trustee(ec2):
    svc = ec2["svc"]
    trustee, _ = make_member(svc, name="trustee", project="proj-t")
    trust = svc.create_trust(ec2["user"]["id"], {
        "trustor_user_id": ec2["user"]["id"], "trustee_user_id": trustee["id"], "impersonation": False,
        "project_id": ec2["project"]["id"], "roles": [{"name": "member"}]})
    blob = json.dumps({"access": "AKTRUST", "secret": "trust-secret", "trust_id": trust["id"]})
    svc.create_credential({"user_id": trustee["id"], "project_id": ec2["project"]["id"], "type": "ec2",
                           "blob": blob})
    req = AWSRequest(method="GET", url=ENDPOINT + "/ec2/", params={"Action": "DescribeInstances"})
    botocore_auth.SigV4Auth(Credentials("AKTRUST", "trust-secret"), "ec2", "RegionOne").add_auth(req)
    request = to_aws_request(req, "ec2")
    ctx = svc.authenticate_aws(request).context
    assert ctx.user_id == trustee["id"] and ctx.project_id == ec2["project"]["id"]
    assert ctx.token_info["trust_id"] == trust["id"] and "member" in ctx.roles
    svc.delete_trust(trust["id"])
    assert code_of(svc, request) == "AccessDenied"
