"""The S3 frontend in process: the real object service ("dir" backend) behind the kernel's HTTP server,
boto3 (and requests signed by botocore's signer) in front, and a test double for the identity area that
checks SigV4 header signatures with botocore's own signer (the real check is the identity area's; the
functional tests use it)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import random
import zlib
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree import ElementTree

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from cumulo_api_s3 import body as s3body
from cumulo_api_s3.app import valid_bucket
from cumulo_api_s3.frontend import S3Frontend
from cumulo_api_s3.multipart import s3_etag

from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.contracts.identity import AwsAuthentication, AwsAuthError, AwsRequest
from cumulo.interfaces.base import PluginContext
from cumulo.testing.fixtures import FakeHub, use_dir_object_backend
from cumulo.wsgi.server import PathDispatcher, Server

KEYS = {"AKIAONE": ("secret-one", "p1"), "AKIATWO": ("secret-two", "p2")}
REGION = "us-east-1"
VHOST = "s3.test.example"


class SigV4Identity:
    """``hub.identity`` for these tests: verifies a SigV4 ``Authorization`` header as botocore signs it."""

    def __init__(self) -> None:
        self.seen: list[AwsRequest] = []
        self.fail_with: str | None = None

    def authenticate_aws(self, request: AwsRequest) -> AwsAuthentication:
        self.seen.append(request)
        if self.fail_with:
            raise AwsAuthError(self.fail_with, f"refused: {self.fail_with}")
        header = request.headers.get("authorization", "")
        if not header.startswith("AWS4-HMAC-SHA256 "):
            raise AwsAuthError("MissingAuthenticationToken", "no signature")
        fields = dict(part.strip().split("=", 1) for part in header[len("AWS4-HMAC-SHA256 "):].split(","))
        access, date, region, _service, _term = fields["Credential"].split("/")
        if access not in KEYS:
            raise AwsAuthError("InvalidAccessKeyId", "unknown key")
        secret, project = KEYS[access]
        query = urlencode(request.query, quote_via=quote, safe="-_.~")
        rebuilt = AWSRequest(method=request.method, url=f"http://{request.host}{request.path}"
                             + (f"?{query}" if query else ""))
        for name in fields["SignedHeaders"].split(";"):
            rebuilt.headers[name] = request.headers.get(name, "")
        rebuilt.context["timestamp"] = request.headers["x-amz-date"]
        signer = S3SigV4Auth(Credentials(access, secret), "s3", region)
        canonical = signer.canonical_request(rebuilt)
        if signer.signature(signer.string_to_sign(rebuilt, canonical), rebuilt) != fields["Signature"]:
            raise AwsAuthError("SignatureDoesNotMatch", "wrong signature")
        ctx = RequestContext(user_id="u-" + project, project_id=project, roles=["member"])
        return AwsAuthentication(access_key=access, context=ctx, region=region)


@pytest.fixture
def cloud(cumulo_conf: Any) -> Any:
    use_dir_object_backend(cumulo_conf)
    identity = SigV4Identity()
    hub = FakeHub(services={"identity": identity})
    app = S3Frontend(PluginContext(CONF)).build_app(hub)
    cumulo_conf.set("min_part_size", 1024, group="s3")
    cumulo_conf.set("virtual_host_domains", [VHOST], group="s3")
    server = Server(PathDispatcher({"/s3": app}), threads=8)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    try:
        yield type("Cloud", (), {"url": url, "identity": identity, "hub": hub})
    finally:
        server.stop()


def client(cloud: Any, access: str = "AKIAONE", **config: Any) -> Any:
    return boto3.client("s3", endpoint_url=cloud.url + "/s3", aws_access_key_id=access,
                        aws_secret_access_key=KEYS.get(access, ("nope", ""))[0], region_name=REGION,
                        config=Config(retries={"max_attempts": 1}, **config))


@pytest.fixture
def s3(cloud: Any) -> Any:
    return client(cloud)


def signed(cloud: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None,
           payload: str | None = None, host: str | None = None) -> requests.Response:
    """A request signed by botocore's SigV4 signer (``payload``: the x-amz-content-sha256 to declare)."""
    url = cloud.url + path
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    request.headers["X-Amz-Content-SHA256"] = payload or hashlib.sha256(body).hexdigest()
    request.headers["Host"] = host or url.split("/")[2]
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    request.headers["X-Amz-Date"] = stamp
    request.context["timestamp"] = stamp
    signer = S3SigV4Auth(Credentials("AKIAONE", KEYS["AKIAONE"][0]), "s3", REGION)
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=AKIAONE/{stamp[:8]}/{REGION}/s3/aws4_request, "
        f"SignedHeaders={signer.signed_headers(signer.headers_to_sign(request))}, Signature={signature}")
    return requests.request(method, url, data=body, headers=dict(request.headers.items()), timeout=30)


def error_code(resp: requests.Response) -> str | None:
    return ElementTree.fromstring(resp.content).findtext("Code")


def code(err: pytest.ExceptionInfo[ClientError]) -> str:
    return str(err.value.response["Error"]["Code"])


# ---------------------------------------------------------------------- declaration, names
def test_frontend_declaration() -> None:
    f = S3Frontend(PluginContext(CONF))
    assert (f.service_type, f.service_name, f.path_prefix, f.requires_auth) == ("s3", "s3", "/s3", False)
    assert f.endpoint_url("http://h:1/") == "http://h:1/s3"
    assert [g for g, _o in f.list_opts()] == ["s3"]


@pytest.mark.parametrize(("name", "valid"), [("abc", True), ("a-b.c1", True), ("ab", False), ("Upper", False),
                                             ("a..b", False), ("192.168.1.1", False), ("a_b", False),
                                             ("-ab", False), ("a" * 64, False), ("x+segments", False)])
def test_bucket_names(name: str, valid: bool) -> None:
    assert valid_bucket(name) is valid


def test_multipart_etag_is_s3s() -> None:
    parts = [b"a" * 10, b"b" * 3]
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert s3_etag([hashlib.md5(p).hexdigest() for p in parts]) == expected


# ---------------------------------------------------------------------- buckets
def test_buckets(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="one")
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="one")
    assert code(err) == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket="Bad_Name")
    assert code(err) == "InvalidBucketName"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["one"]
    assert s3.get_bucket_location(Bucket="one")["LocationConstraint"] is None
    s3.head_bucket(Bucket="one")
    with pytest.raises(ClientError) as err:
        s3.head_bucket(Bucket="two")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    s3.put_object(Bucket="one", Key="k", Body=b"v")
    with pytest.raises(ClientError) as err:
        s3.delete_bucket(Bucket="one")
    assert code(err) == "BucketNotEmpty"
    # The other project's account is another namespace: it sees nothing of p1's.
    other = client(cloud, "AKIATWO")
    assert other.list_buckets()["Buckets"] == []
    with pytest.raises(ClientError) as err:
        other.get_object(Bucket="one", Key="k")
    assert code(err) == "NoSuchBucket"
    s3.delete_object(Bucket="one", Key="k")
    s3.delete_bucket(Bucket="one")
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket="one")
    assert code(err) == "NoSuchBucket"


def test_objects_are_swift_objects(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="dir/ü x.txt", Body=b"hello", Metadata={"color": "blue"}, ContentType="text/plain",
                  CacheControl="no-cache")
    info = cloud.hub.object.head_object("AUTH_p1", "bkt", "dir/ü x.txt")
    assert info.metadata["X-Object-Meta-color"] == "blue" and info.content_type == "text/plain"
    assert info.metadata["Cache-Control"] == "no-cache"
    got = s3.get_object(Bucket="bkt", Key="dir/ü x.txt")
    assert (got["Body"].read(), got["Metadata"], got["ContentType"], got["CacheControl"]) == \
        (b"hello", {"color": "blue"}, "text/plain", "no-cache")
    assert got["ETag"] == '"' + hashlib.md5(b"hello").hexdigest() + '"'
    override = s3.get_object(Bucket="bkt", Key="dir/ü x.txt", ResponseContentType="application/x-other")
    assert override["ContentType"] == "application/x-other"


def test_ranges_and_conditions(s3: Any) -> None:
    s3.create_bucket(Bucket="bkt")
    etag = s3.put_object(Bucket="bkt", Key="k", Body=b"0123456789")["ETag"]
    part = s3.get_object(Bucket="bkt", Key="k", Range="bytes=2-4")
    assert (part["Body"].read(), part["ContentRange"], part["ResponseMetadata"]["HTTPStatusCode"]) == \
        (b"234", "bytes 2-4/10", 206)
    assert s3.get_object(Bucket="bkt", Key="k", Range="bytes=-3")["Body"].read() == b"789"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="bkt", Key="k", Range="bytes=20-30")
    assert code(err) == "InvalidRange" and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="bkt", Key="k", IfNoneMatch=etag)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="bkt", Key="k", IfMatch='"nope"')
    assert code(err) == "PreconditionFailed"
    assert s3.get_object(Bucket="bkt", Key="k", IfMatch=etag)["Body"].read() == b"0123456789"
    with pytest.raises(ClientError) as err:
        s3.get_object(Bucket="bkt", Key="missing")
    assert code(err) == "NoSuchKey"


# ---------------------------------------------------------------------- listings
def test_listings_paginate(s3: Any) -> None:
    s3.create_bucket(Bucket="lst")
    keys = ["a", "b/1", "b/2", "c d", "c%e", "d/x/y", "e"]
    for key in keys:
        s3.put_object(Bucket="lst", Key=key, Body=key.encode())
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket="lst", PaginationConfig={"PageSize": 2}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys
    assert len(pages) == 4 and pages[0]["KeyCount"] == 2 and pages[0]["IsTruncated"]
    grouped = list(paginator.paginate(Bucket="lst", Delimiter="/", PaginationConfig={"PageSize": 2}))
    assert [p["Prefix"] for g in grouped for p in g.get("CommonPrefixes", [])] == ["b/", "d/"]
    assert [o["Key"] for g in grouped for o in g.get("Contents", [])] == ["a", "c d", "c%e", "e"]
    v1 = list(s3.get_paginator("list_objects").paginate(Bucket="lst", Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert [p["Prefix"] for g in v1 for p in g.get("CommonPrefixes", [])] == ["b/", "d/"]
    assert [o["Key"] for g in v1 for o in g.get("Contents", [])] == ["a", "c d", "c%e", "e"]
    after = s3.list_objects_v2(Bucket="lst", StartAfter="c d", Prefix="c", FetchOwner=True)
    assert [o["Key"] for o in after["Contents"]] == ["c%e"] and after["Contents"][0]["Owner"]["ID"] == "p1"
    assert "Owner" not in s3.list_objects_v2(Bucket="lst")["Contents"][0]
    assert s3.list_objects(Bucket="lst", Marker="d/x/y")["Contents"][0]["Key"] == "e"
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket="lst", ContinuationToken="!!not a token!!")
    assert code(err) == "InvalidArgument"


# ---------------------------------------------------------------------- copies and deletes
def test_copy_object(s3: Any) -> None:
    s3.create_bucket(Bucket="src")
    s3.create_bucket(Bucket="dst")
    s3.put_object(Bucket="src", Key="o", Body=b"data", Metadata={"a": "1"}, ContentType="text/x-a")
    result = s3.copy_object(Bucket="dst", Key="copy", CopySource={"Bucket": "src", "Key": "o"})["CopyObjectResult"]
    assert result["ETag"] == '"' + hashlib.md5(b"data").hexdigest() + '"'
    head = s3.head_object(Bucket="dst", Key="copy")
    assert (head["Metadata"], head["ContentType"]) == ({"a": "1"}, "text/x-a")
    s3.copy_object(Bucket="dst", Key="copy", CopySource="src/o", MetadataDirective="REPLACE", Metadata={"b": "2"},
                   ContentType="text/x-b")
    head = s3.head_object(Bucket="dst", Key="copy")
    assert (head["Metadata"], head["ContentType"]) == ({"b": "2"}, "text/x-b")
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket="dst", Key="copy", CopySource={"Bucket": "dst", "Key": "copy"})
    assert code(err) == "InvalidRequest"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket="dst", Key="x", CopySource={"Bucket": "src", "Key": "missing"})
    assert code(err) == "NoSuchKey"
    with pytest.raises(ClientError) as err:
        s3.copy_object(Bucket="dst", Key="x", CopySource={"Bucket": "src", "Key": "o"}, CopySourceIfMatch='"no"')
    assert code(err) == "PreconditionFailed"


def test_delete_objects(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="del")
    for key in ("a", "b", "c"):
        s3.put_object(Bucket="del", Key=key, Body=b"x")
    out = s3.delete_objects(Bucket="del", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["a", "b", "zz"] and "Errors" not in out
    quiet = s3.delete_objects(Bucket="del", Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert s3.list_objects_v2(Bucket="del")["KeyCount"] == 0
    resp = signed(cloud, "POST", "/s3/del?delete", b"<Delete><Object></Object")
    assert resp.status_code == 400 and error_code(resp) == "MalformedXML"


# ---------------------------------------------------------------------- multipart
def test_multipart_upload(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="mpu")
    up = s3.create_multipart_upload(Bucket="mpu", Key="big", ContentType="text/x-big", Metadata={"k": "v"})["UploadId"]
    data = [b"1" * 2000, b"2" * 2000, b"3" * 10]
    etags = [s3.upload_part(Bucket="mpu", Key="big", PartNumber=i + 1, UploadId=up, Body=d)["ETag"]
             for i, d in enumerate(data)]
    listed = s3.list_parts(Bucket="mpu", Key="big", UploadId=up, MaxParts=2)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2] and listed["IsTruncated"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="mpu")["Uploads"]] == [up]
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket="mpu", Key="big", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etags[1]}]})
    assert code(err) == "InvalidPart"
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket="mpu", Key="big", UploadId=up, MultipartUpload={
            "Parts": [{"PartNumber": 3, "ETag": etags[2]}, {"PartNumber": 1, "ETag": etags[0]}]})
    assert code(err) == "InvalidPartOrder"
    small = s3.create_multipart_upload(Bucket="mpu", Key="small")["UploadId"]
    t1 = s3.upload_part(Bucket="mpu", Key="small", PartNumber=1, UploadId=small, Body=b"tiny")["ETag"]
    t2 = s3.upload_part(Bucket="mpu", Key="small", PartNumber=2, UploadId=small, Body=b"end")["ETag"]
    with pytest.raises(ClientError) as err:
        s3.complete_multipart_upload(Bucket="mpu", Key="small", UploadId=small, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": t1}, {"PartNumber": 2, "ETag": t2}]})
    assert code(err) == "EntityTooSmall"
    s3.abort_multipart_upload(Bucket="mpu", Key="small", UploadId=small)
    with pytest.raises(ClientError) as err:
        s3.list_parts(Bucket="mpu", Key="small", UploadId=small)
    assert code(err) == "NoSuchUpload"

    done = s3.complete_multipart_upload(Bucket="mpu", Key="big", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etags[0]}, {"PartNumber": 3, "ETag": etags[2]}]})
    want = s3_etag([e.strip('"') for e in (etags[0], etags[2])])
    assert done["ETag"] == f'"{want}"'
    got = s3.get_object(Bucket="mpu", Key="big")
    assert got["Body"].read() == data[0] + data[2]
    assert (got["ETag"], got["ContentType"], got["Metadata"]) == (f'"{want}"', "text/x-big", {"k": "v"})
    listed_etag = s3.list_objects_v2(Bucket="mpu")["Contents"][0]
    assert (listed_etag["ETag"], listed_etag["Size"]) == (f'"{want}"', 2010)
    # Only the parts the object uses are kept; the marker is gone; nothing is in progress.
    _info, rows = cloud.hub.object.container_list(_owner(), "AUTH_p1", "mpu+segments")
    assert [r["name"] for r in rows] == [f"big/{up}/00001", f"big/{up}/00003"]
    assert s3.list_multipart_uploads(Bucket="mpu").get("Uploads", []) == []
    with pytest.raises(ClientError) as err:
        s3.upload_part(Bucket="mpu", Key="big", PartNumber=4, UploadId=up, Body=b"late")
    assert code(err) == "NoSuchUpload"
    s3.delete_object(Bucket="mpu", Key="big")
    _info, rows = cloud.hub.object.container_list(_owner(), "AUTH_p1", "mpu+segments")
    assert rows == []
    s3.delete_bucket(Bucket="mpu")
    assert "mpu+segments" not in [c["name"] for c in cloud.hub.object.account_list(_owner(), "AUTH_p1")[1]]


def test_upload_part_copy(s3: Any) -> None:
    s3.create_bucket(Bucket="cpy")
    s3.put_object(Bucket="cpy", Key="src", Body=b"abcdefghij" * 200)
    up = s3.create_multipart_upload(Bucket="cpy", Key="dst")["UploadId"]
    p1 = s3.upload_part_copy(Bucket="cpy", Key="dst", PartNumber=1, UploadId=up, CopySource="cpy/src",
                             CopySourceRange="bytes=0-1099")["CopyPartResult"]["ETag"]
    p2 = s3.upload_part_copy(Bucket="cpy", Key="dst", PartNumber=2, UploadId=up, CopySource="cpy/src",
                             CopySourceRange="bytes=1990-1999")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket="cpy", Key="dst", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}]})
    assert s3.get_object(Bucket="cpy", Key="dst")["Body"].read() == (b"abcdefghij" * 200)[:1100] + b"abcdefghij"


def _owner() -> Any:
    from cumulo.contracts.object import Caller

    return Caller(ctx=RequestContext(user_id="u-p1", project_id="p1", roles=["member"]))


# ---------------------------------------------------------------------- bodies and signatures
def test_body_not_matching_its_declared_sha256_is_refused(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="hsh")
    resp = signed(cloud, "PUT", "/s3/hsh/k", b"the body", payload=hashlib.sha256(b"another body").hexdigest())
    assert resp.status_code == 400 and error_code(resp) == "XAmzContentSHA256Mismatch"
    with pytest.raises(ClientError):
        s3.head_object(Bucket="hsh", Key="k")
    resp = signed(cloud, "PUT", "/s3/hsh/k", b"the body",
                  headers={"Content-MD5": base64.b64encode(hashlib.md5(b"other").digest()).decode()})
    assert resp.status_code == 400 and error_code(resp) == "BadDigest"
    resp = signed(cloud, "PUT", "/s3/hsh/k", b"the body", payload="UNSIGNED-PAYLOAD")
    assert resp.status_code == 200


def aws_chunked(data: bytes, chunk: int, trailer: str | None) -> bytes:
    """An ``aws-chunked`` body as botocore frames one (STREAMING-UNSIGNED-PAYLOAD-TRAILER)."""
    out = io.BytesIO()
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        out.write(b"%x\r\n%s\r\n" % (len(piece), piece))
    out.write(b"0\r\n")
    if trailer:
        out.write(trailer.encode() + b"\r\n")
    out.write(b"\r\n")
    return out.getvalue()


def test_aws_chunked_bodies_with_a_crc32_trailer(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="chk")
    data = bytes(random.Random(1).getrandbits(8) for _ in range(70000))
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
               "x-amz-trailer": "x-amz-checksum-crc32"}
    good = aws_chunked(data, 65536, f"x-amz-checksum-crc32:{crc}")
    resp = signed(cloud, "PUT", "/s3/chk/ok", good, headers=headers, payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert resp.status_code == 200, resp.text
    got = s3.get_object(Bucket="chk", Key="ok")
    assert got["Body"].read() == data and got["ETag"] == '"' + hashlib.md5(data).hexdigest() + '"'
    assert got.get("ContentEncoding") is None  # aws-chunked is how it travelled, not what it is
    bad = aws_chunked(data, 65536, "x-amz-checksum-crc32:AAAAAA==")
    resp = signed(cloud, "PUT", "/s3/chk/bad", bad, headers=headers, payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert resp.status_code == 400 and error_code(resp) == "BadDigest"
    short = aws_chunked(data[:100], 64, None)
    resp = signed(cloud, "PUT", "/s3/chk/short", short, headers={**headers, "x-amz-trailer": ""},
                  payload="STREAMING-UNSIGNED-PAYLOAD-TRAILER")
    assert resp.status_code == 400 and error_code(resp) == "IncompleteBody"
    with pytest.raises(ClientError):
        s3.head_object(Bucket="chk", Key="bad")


def test_body_decoder_signed_chunks() -> None:
    data = b"x" * 100
    framed = b"64;chunk-signature=" + b"0" * 64 + b"\r\n" + data + b"\r\n0;chunk-signature=" + b"0" * 64 + b"\r\n\r\n"
    headers = {"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "x-amz-decoded-content-length": "100"}
    body = s3body.Body(io.BytesIO(framed), len(framed), headers)
    assert b"".join(body) == data and body.length == 100


@pytest.mark.parametrize(("aws_code", "expected", "status"), [
    ("SignatureDoesNotMatch", "SignatureDoesNotMatch", 403), ("InvalidAccessKeyId", "InvalidAccessKeyId", 403),
    ("RequestExpired", "RequestTimeTooSkewed", 403), ("AccessDenied", "AccessDenied", 403),
    ("ReplayedRequest", "AccessDenied", 403), ("MissingAuthenticationToken", "AccessDenied", 403)])
def test_identity_verdicts_are_s3_errors(cloud: Any, s3: Any, aws_code: str, expected: str, status: int) -> None:
    cloud.identity.fail_with = aws_code
    with pytest.raises(ClientError) as err:
        s3.list_buckets()
    assert code(err) == expected and err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_wrong_secret_and_unknown_key(cloud: Any) -> None:
    wrong = boto3.client("s3", endpoint_url=cloud.url + "/s3", aws_access_key_id="AKIAONE",
                         aws_secret_access_key="not-it", region_name=REGION)
    with pytest.raises(ClientError) as err:
        wrong.list_buckets()
    assert code(err) == "SignatureDoesNotMatch"
    with pytest.raises(ClientError) as err:
        client(cloud, "AKIANOBODY").list_buckets()
    assert code(err) == "InvalidAccessKeyId"


def test_identity_gets_the_request_as_signed(cloud: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="raw")
    s3.put_object(Bucket="raw", Key="a b/ü+c", Body=b"x")
    seen = cloud.identity.seen[-1]
    assert (seen.service, seen.method, seen.path) == ("s3", "PUT", "/s3/raw/a%20b/%C3%BC%2Bc")
    assert seen.host == cloud.url.split("//")[1]
    assert seen.payload_sha256 == hashlib.sha256(b"x").hexdigest()
    s3.list_multipart_uploads(Bucket="raw", Prefix="a b")
    assert ("uploads", "") in cloud.identity.seen[-1].query and ("prefix", "a b") in cloud.identity.seen[-1].query


def test_virtual_host_style(cloud: Any, s3: Any) -> None:
    s3.create_bucket(Bucket="vhb")
    port = cloud.url.rsplit(":", 1)[1]
    resp = signed(cloud, "PUT", "/s3/key/in/vhost", b"by host", host=f"vhb.{VHOST}:{port}")
    assert resp.status_code == 200, resp.text
    assert s3.get_object(Bucket="vhb", Key="key/in/vhost")["Body"].read() == b"by host"
    listing = signed(cloud, "GET", "/s3/?list-type=2", host=f"vhb.{VHOST}:{port}")
    assert ElementTree.fromstring(listing.content).findtext("{*}Contents/{*}Key") == "key/in/vhost"


def test_acls(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="acl", ACL="public-read")
    meta = cloud.hub.object.head_container("AUTH_p1", "acl")["metadata"]
    assert meta.get("X-Container-Read") == ".r:*,.rlistings"
    s3.put_bucket_acl(Bucket="acl", ACL="private")
    assert not cloud.hub.object.head_container("AUTH_p1", "acl")["metadata"].get("X-Container-Read")
    s3.put_object(Bucket="acl", Key="o", Body=b"x")
    grants = s3.get_object_acl(Bucket="acl", Key="o")["Grants"]
    assert grants == [{"Grantee": {"ID": "p1", "DisplayName": "p1", "Type": "CanonicalUser"},
                       "Permission": "FULL_CONTROL"}]
    with pytest.raises(ClientError) as err:
        s3.put_object_acl(Bucket="acl", Key="o", ACL="public-read")
    assert code(err) == "NotImplemented"


def test_unimplemented_and_not_allowed(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="nim")
    with pytest.raises(ClientError) as err:
        s3.get_bucket_policy(Bucket="nim")
    assert code(err) == "NotImplemented"
    resp = signed(cloud, "PATCH", "/s3/nim/k")
    assert resp.status_code == 405 and error_code(resp) == "MethodNotAllowed"
    resp = signed(cloud, "DELETE", "/s3/")
    assert resp.status_code == 405


def test_fuzz_never_a_server_error(s3: Any, cloud: Any) -> None:
    """Random methods, paths, sub-resources and headers, all signed: S3 XML errors below 500 (501 aside)."""
    s3.create_bucket(Bucket="fzz")
    s3.put_object(Bucket="fzz", Key="k", Body=b"x")
    rng = random.Random(16)
    methods = ["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "OPTIONS"]
    paths = ["/s3/", "/s3/fzz", "/s3/fzz/", "/s3/fzz/k", "/s3/nope/k", "/s3/FZ/k", "/s3/fzz/%ff", "/s3/fzz/a%00b",
             "/s3/fzz+segments/x", "/s3/fzz/" + "k" * 1100, "/s3/a"]
    queries = ["", "?uploads", "?uploadId=zzz", "?uploadId=" + "0" * 32 + "&partNumber=1", "?partNumber=0&uploadId=1",
               "?acl", "?delete", "?location", "?list-type=3", "?max-keys=-1", "?max-keys=x", "?versioning",
               "?tagging", "?continuation-token=%%%&list-type=2", "?encoding-type=base64", "?cors",
               "?partNumber=99999&uploadId=" + "a" * 32, "?max-parts=abc&uploadId=" + "b" * 32]
    headers = [{}, {"Range": "bytes=9-1"}, {"Range": "garbage"}, {"x-amz-copy-source": "/"},
               {"x-amz-copy-source": "fz/missing"}, {"x-amz-acl": "weird"}, {"Content-MD5": "!!"},
               {"If-Modified-Since": "not a date"}, {"x-amz-metadata-directive": "MOVE", "x-amz-copy-source": "fz/k"},
               {"Content-Type": "\u00e9"}, {"x-amz-copy-source-range": "bytes=5-1"}]
    bodies = [b"", b"<not xml", b"<Delete><Object><Key>k</Key></Object></Delete>", b"\x00\xff" * 10,
              b"<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>",
              b"<!DOCTYPE a [<!ENTITY e 'x'>]><Delete/>"]
    for _ in range(300):
        method, path = rng.choice(methods), rng.choice(paths) + rng.choice(queries)
        resp = signed(cloud, method, path, rng.choice(bodies) if method in ("PUT", "POST") else b"",
                      headers={k: v.encode("utf-8").decode("latin-1") for k, v in rng.choice(headers).items()})
        assert resp.status_code < 500 or resp.status_code == 501, (method, path, resp.status_code, resp.text)
        if resp.status_code >= 400 and method != "HEAD":
            assert error_code(resp), (method, path, resp.text)


def test_replacing_a_multipart_object_drops_its_parts_only(s3: Any, cloud: Any) -> None:
    s3.create_bucket(Bucket="rep")
    up = s3.create_multipart_upload(Bucket="rep", Key="o")["UploadId"]
    etag = s3.upload_part(Bucket="rep", Key="o", PartNumber=1, UploadId=up, Body=b"p" * 10)["ETag"]
    s3.complete_multipart_upload(Bucket="rep", Key="o", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert len(cloud.hub.object.container_list(_owner(), "AUTH_p1", "rep+segments")[1]) == 1
    s3.put_object(Bucket="rep", Key="o", Body=b"plain now")
    assert cloud.hub.object.container_list(_owner(), "AUTH_p1", "rep+segments")[1] == []
    assert s3.get_object(Bucket="rep", Key="o")["Body"].read() == b"plain now"
    # A static large object a Swift client made keeps its segments when S3 deletes it.
    svc = cloud.hub.object
    svc.container_put(_owner(), "AUTH_p1", "swift-segs", {})
    svc.object_put(_owner(), "AUTH_p1", "swift-segs", "s1", [b"seg"], 3, {})
    manifest = b'[{"path": "/swift-segs/s1"}]'
    svc.object_put(_owner(), "AUTH_p1", "rep", "slo", [manifest], len(manifest), {},
                   {"multipart-manifest": "put"})
    assert s3.get_object(Bucket="rep", Key="slo")["Body"].read() == b"seg"
    s3.delete_object(Bucket="rep", Key="slo")
    assert [r["name"] for r in svc.container_list(_owner(), "AUTH_p1", "swift-segs")[1]] == ["s1"]
