"""Ids, parameters, filters and XML of the EC2 frontend."""

from __future__ import annotations

import datetime
import uuid
import xml.etree.ElementTree as ET

import pytest
from cumulo_api_ec2 import errors, ids, render
from cumulo_api_ec2.params import Params, apply_filters, parse_filters


def test_ids_round_trip() -> None:
    u = str(uuid.uuid4())
    ec2_id = ids.to_ec2("instance", u)
    assert ec2_id == "i-" + u.replace("-", "")
    assert ids.from_ec2("instance", ec2_id) == u
    assert ids.to_ec2("volume", u).startswith("vol-") and ids.to_ec2("image", u).startswith("ami-")


@pytest.mark.parametrize(("kind", "bad", "code"), [
    ("instance", "i-123", "InvalidInstanceID.Malformed"), ("instance", "ami-" + "0" * 32, "InvalidInstanceID.Malformed"),
    ("image", "ami-" + "g" * 32, "InvalidAMIID.Malformed"), ("volume", "vol-" + "A" * 32, "InvalidVolumeID.Malformed"),
    ("security_group", "sg-", "InvalidGroupId.Malformed"), ("subnet", "", "InvalidSubnetID.Malformed"),
])
def test_malformed_ids(kind: str, bad: str, code: str) -> None:
    with pytest.raises(errors.Ec2Error) as err:
        ids.from_ec2(kind, bad)
    assert err.value.code == code and err.value.status == 400


def test_not_found_names_the_id() -> None:
    err = ids.not_found("volume", "vol-" + "1" * 32)
    assert err.code == "InvalidVolume.NotFound" and "vol-" + "1" * 32 in err.message


def test_params_lists_and_structures() -> None:
    p = Params({"InstanceId.2": "b", "InstanceId.1": "a", "InstanceId.10": "c", "Filter.1.Name": "name",
                "Filter.1.Value.1": "x*", "Filter.1.Value.2": "y", "Filter.2.Name": "tag:env",
                "Filter.2.Value.1": "prod", "Placement.AvailabilityZone": "nova", "MaxCount": "3"})
    assert p.list("InstanceId") == ["a", "b", "c"]
    assert parse_filters(p) == [("name", ["x*", "y"]), ("tag:env", ["prod"])]
    assert p.struct("Placement").get("AvailabilityZone") == "nova"
    assert p.int("MaxCount") == 3 and p.int("MinCount", 1) == 1
    with pytest.raises(errors.Ec2Error) as err:
        Params({"MaxCount": "three"}).int("MaxCount")
    assert err.value.code == "InvalidParameterValue"
    with pytest.raises(errors.Ec2Error) as err:
        Params({}).required("ImageId")
    assert err.value.code == "MissingParameter" and "ImageId" in err.value.message


def test_filters_wildcards_tags_and_unknown_names() -> None:
    items = [{"name": "web-1", "tagSet": [{"key": "env", "value": "prod"}]},
             {"name": "db-1", "tagSet": [{"key": "env", "value": "dev"}]}]
    getters = {"name": lambda i: i["name"]}
    p = Params({"Filter.1.Name": "name", "Filter.1.Value.1": "web-?"})
    assert [i["name"] for i in apply_filters(items, p, getters)] == ["web-1"]
    p = Params({"Filter.1.Name": "tag:env", "Filter.1.Value.1": "dev"})
    assert [i["name"] for i in apply_filters(items, p, getters)] == ["db-1"]
    p = Params({"Filter.1.Name": "tag-key", "Filter.1.Value.1": "env"})
    assert len(apply_filters(items, p, getters)) == 2
    with pytest.raises(errors.Ec2Error) as err:
        apply_filters(items, Params({"Filter.1.Name": "colour", "Filter.1.Value.1": "red"}), getters)
    assert err.value.code == "InvalidParameterValue" and "colour" in err.value.message


def test_xml_response_and_error() -> None:
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 678000)
    body = render.response("DescribeThings", "req-1", {"thingSet": [{"id": "a", "on": True, "at": when,
                                                                     "skip": None}], "count": 1})
    root = ET.fromstring(body)
    ns = {"e": render.NAMESPACE}
    assert root.tag == f"{{{render.NAMESPACE}}}DescribeThingsResponse"
    assert root.findtext("e:requestId", namespaces=ns) == "req-1"
    items = root.findall("e:thingSet/e:item", ns)
    assert [i.findtext("e:id", namespaces=ns) for i in items] == ["a"]
    assert items[0].findtext("e:on", namespaces=ns) == "true"
    assert items[0].findtext("e:at", namespaces=ns) == "2026-01-02T03:04:05.678Z"
    assert items[0].find("e:skip", ns) is None
    err = ET.fromstring(render.error("InvalidAMIID.NotFound", "no <such> image", "req-2"))
    assert err.tag == "Response" and err.findtext("Errors/Error/Code") == "InvalidAMIID.NotFound"
    assert err.findtext("Errors/Error/Message") == "no <such> image" and err.findtext("RequestID") == "req-2"


@pytest.mark.parametrize(("aws_code", "code", "status"), [
    ("SignatureDoesNotMatch", "AuthFailure", 401), ("InvalidAccessKeyId", "AuthFailure", 401),
    ("RequestExpired", "RequestExpired", 400), ("MissingAuthenticationToken", "MissingAuthenticationToken", 401),
    ("ReplayedRequest", "AuthFailure", 401), ("IncompleteSignature", "IncompleteSignature", 400),
    ("SomethingNew", "AuthFailure", 401),
])
def test_auth_codes(aws_code: str, code: str, status: int) -> None:
    err = errors.auth_failure(aws_code, "why")
    assert (err.code, err.status) == (code, status)
