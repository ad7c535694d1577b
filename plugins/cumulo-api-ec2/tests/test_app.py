"""The EC2 app in-process, with a test double for identity and compute; shapes compared with moto's."""

from __future__ import annotations

import datetime
import hashlib
import types
import urllib.parse
from typing import Any

import pytest
import webob
from cumulo_api_ec2.app import Ec2App

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.identity import AwsAuthentication, AwsAuthError, AwsRequest

PROJECT = "a" * 32


class FakeIdentity:
    def __init__(self) -> None:
        self.seen: list[AwsRequest] = []
        self.refuse: str | None = None
        self.roles = ["member", "reader"]

    def authenticate_aws(self, request: AwsRequest) -> AwsAuthentication:
        self.seen.append(request)
        if self.refuse:
            raise AwsAuthError(self.refuse, f"refused: {self.refuse}")
        return AwsAuthentication(access_key="AK", context=RequestContext(user_id="u", project_id=PROJECT,
                                                                         roles=self.roles), region="RegionOne")


class FakeCompute:
    def __init__(self) -> None:
        self.keypairs: dict[str, dict[str, Any]] = {}
        self.fail: BaseException | None = None

    def availability_zones(self, ctx: RequestContext) -> list[dict[str, Any]]:
        if self.fail:
            raise self.fail
        return [{"zoneName": "nova", "zoneState": {"available": True}, "hosts": None}]

    def create_keypair(self, ctx: RequestContext, name: str, public_key: str | None = None) -> dict[str, Any]:
        if name in self.keypairs:
            raise exception.Conflict(reason="exists")
        kp = {"id": len(self.keypairs) + 1, "name": name, "fingerprint": "aa:bb", "type": "ssh",
              "public_key": public_key or "ssh-rsa AAAA", "created_at": datetime.datetime(2026, 1, 1)}
        self.keypairs[name] = kp
        return {**kp, "private_key": "-----BEGIN RSA PRIVATE KEY-----\n..."} if public_key is None else kp

    def list_keypairs(self, ctx: RequestContext) -> list[dict[str, Any]]:
        return list(self.keypairs.values())


class FakeImage:
    def get(self, ctx: RequestContext, image_id: str) -> dict[str, Any]:
        raise exception.NotFound(f"Image {image_id} not found")


@pytest.fixture
def hub(cumulo_conf: Any) -> Any:
    conf = types.SimpleNamespace(api=types.SimpleNamespace(max_request_body_size=4096, public_url=None),
                                 region_name="RegionOne")
    return types.SimpleNamespace(conf=conf, identity=FakeIdentity(), compute=FakeCompute(), image=FakeImage())


def _post(hub: Any, params: dict[str, str], **extra: Any) -> webob.Response:
    req = webob.Request.blank("/", method="POST", base_url="http://cloud:8080/ec2")
    req.environ["SCRIPT_NAME"] = "/ec2"
    req.environ["REQUEST_URI"] = "/ec2/"
    req.body = urllib.parse.urlencode({"Version": "2016-11-15", **params}).encode()
    req.content_type = "application/x-www-form-urlencoded; charset=utf-8"
    req.headers["X-Amz-Date"] = "20260101T000000Z"
    for k, v in extra.items():
        req.environ[k] = v
    return req.get_response(Ec2App(hub))


def _parse(operation: str, resp: webob.Response) -> dict[str, Any]:
    import botocore.session
    from botocore.parsers import create_parser

    model = botocore.session.get_session().get_service_model("ec2")
    op = model.operation_model(operation)
    parsed: dict[str, Any] = create_parser("ec2").parse(
        {"body": resp.body, "headers": dict(resp.headers), "status_code": resp.status_code}, op.output_shape)
    return parsed


def test_the_request_goes_to_identity_as_signed(hub: Any) -> None:
    resp = _post(hub, {"Action": "DescribeRegions"})
    assert resp.status_code == 200, resp.text
    [seen] = hub.identity.seen
    assert (seen.service, seen.method, seen.path, seen.host) == ("ec2", "POST", "/ec2/", "cloud:8080")
    assert ("Action", "DescribeRegions") in seen.form and seen.headers["x-amz-date"] == "20260101T000000Z"
    body = urllib.parse.urlencode({"Version": "2016-11-15", "Action": "DescribeRegions"}).encode()
    assert seen.payload_sha256 == hashlib.sha256(body).hexdigest()
    regions = _parse("DescribeRegions", resp)["Regions"]
    assert regions == [{"RegionName": "RegionOne", "Endpoint": "http://cloud:8080/ec2",
                        "OptInStatus": "opt-in-not-required"}]


@pytest.mark.parametrize(("aws_code", "code", "status"), [
    ("SignatureDoesNotMatch", "AuthFailure", 401), ("RequestExpired", "RequestExpired", 400),
    ("MissingAuthenticationToken", "MissingAuthenticationToken", 401), ("InvalidAccessKeyId", "AuthFailure", 401)])
def test_refused_signatures(hub: Any, aws_code: str, code: str, status: int) -> None:
    hub.identity.refuse = aws_code
    resp = _post(hub, {"Action": "DescribeRegions"})
    assert resp.status_code == status and resp.content_type == "text/xml"
    assert f"<Code>{code}</Code>" in resp.text and "<RequestID>req-" in resp.text


def test_client_mistakes_are_4xx_in_ec2_shape(hub: Any) -> None:
    assert "<Code>InvalidAction</Code>" in _post(hub, {"Action": "LaunchRockets"}).text
    assert _post(hub, {"Action": "LaunchRockets"}).status_code == 400
    assert "<Code>MissingAction</Code>" in _post(hub, {}).text
    resp = _post(hub, {"Action": "DescribeImages", "ImageId.1": "ami-" + "1" * 32})
    assert resp.status_code == 400 and "<Code>InvalidAMIID.NotFound</Code>" in resp.text
    resp = _post(hub, {"Action": "DescribeImages", "ImageId.1": "ami-1"})
    assert "<Code>InvalidAMIID.Malformed</Code>" in resp.text
    hub.compute.fail = exception.Invalid(reason="nope")
    resp = _post(hub, {"Action": "DescribeAvailabilityZones"})
    assert resp.status_code == 400 and "<Code>InvalidParameterValue</Code>" in resp.text
    resp = _post(hub, {"Action": "DescribeRegions", "Filter.1.Name": "colour", "Filter.1.Value.1": "x"})
    assert resp.status_code == 400
    big = _post(hub, {"Action": "DescribeRegions", "Pad": "x" * 5000})
    assert big.status_code == 413 and "<Code>" in big.text


def test_a_bug_is_a_500_in_ec2_shape_without_details(hub: Any) -> None:
    hub.compute.fail = RuntimeError("secret internals")
    resp = _post(hub, {"Action": "DescribeAvailabilityZones"})
    assert resp.status_code == 500 and "<Code>InternalError</Code>" in resp.text
    assert "secret internals" not in resp.text


def test_methods_other_than_get_and_post(hub: Any) -> None:
    req = webob.Request.blank("/?Action=DescribeRegions", method="DELETE")
    resp = req.get_response(Ec2App(hub))
    assert resp.status_code == 405 and "<Code>" in resp.text


def test_key_pair_shapes_match_moto(hub: Any) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        ref = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        ref_made = ref.create_key_pair(KeyName="k1")
        ref_listed = ref.describe_key_pairs()["KeyPairs"]
    made = _parse("CreateKeyPair", _post(hub, {"Action": "CreateKeyPair", "KeyName": "k1"}))
    listed = _parse("DescribeKeyPairs", _post(hub, {"Action": "DescribeKeyPairs"}))["KeyPairs"]
    shape = {"KeyName", "KeyFingerprint", "KeyMaterial", "KeyPairId"}
    assert shape <= set(ref_made) and shape <= set(made)
    listed_shape = {"KeyName", "KeyFingerprint", "KeyPairId"}
    assert listed_shape <= set(ref_listed[0]) and listed_shape <= set(listed[0])
    assert made["KeyPairId"].startswith("key-") and ref_made["KeyPairId"].startswith("key-")
    dup = _post(hub, {"Action": "CreateKeyPair", "KeyName": "k1"})
    assert dup.status_code == 400 and "<Code>InvalidKeyPair.Duplicate</Code>" in dup.text


def test_zone_shapes_match_moto(hub: Any) -> None:
    moto = pytest.importorskip("moto")
    import boto3

    with moto.mock_aws():
        ref = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
        ref_zone = ref.describe_availability_zones()["AvailabilityZones"][0]
    zone = _parse("DescribeAvailabilityZones", _post(hub, {"Action": "DescribeAvailabilityZones"}))[
        "AvailabilityZones"][0]
    assert {"ZoneName", "State", "RegionName", "ZoneId"} <= set(ref_zone) & set(zone)
    assert zone["State"] == ref_zone["State"] == "available"


def test_policy_readers_describe_members_change(hub: Any) -> None:
    hub.identity.roles = ["reader"]
    assert _post(hub, {"Action": "DescribeKeyPairs"}).status_code == 200
    resp = _post(hub, {"Action": "CreateKeyPair", "KeyName": "k"})
    assert resp.status_code == 403 and "<Code>UnauthorizedOperation</Code>" in resp.text
    assert hub.compute.keypairs == {}
    hub.identity.roles = ["member"]
    assert _post(hub, {"Action": "CreateKeyPair", "KeyName": "k"}).status_code == 200
