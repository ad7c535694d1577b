"""The S3 REST API: AWS-signed HTTP in, ``hub.object`` calls, S3-shaped XML out.

Addressing (below the ``/s3`` mount): path style ``/<bucket>/<key>`` always; virtual-host style
``Host: <bucket>.<domain>`` for the domains of ``[s3] virtual_host_domains``, then the path is the key.
A bucket is a container of the signing credential's project account (``AUTH_<project id>``, the
account the Swift API shows), an object an object. Multipart uploads keep their parts in the hidden
container ``<bucket>+segments`` (as Swift's s3api does) and complete as a static large object.

Every answer is S3's: errors are ``<Error>`` documents with S3's codes, never a 500 for a client's
mistake; what is not implemented is ``NotImplemented`` (501).
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, unquote_to_bytes

import webob
from oslo_config import cfg

from cumulo.conf import CONF
from cumulo.contracts.identity import AwsAuthError
from cumulo.contracts.object import Caller, Resolved, strip_swift_bytes
from cumulo.utils.http import evaluate_conditions, http_date, parse_http_date
from cumulo.utils.ranges import Unsatisfiable, content_range, parse_ranges
from cumulo.wsgi.middleware import pipeline
from cumulo_api_s3 import auth, multipart, opts
from cumulo_api_s3.errors import S3Error
from cumulo_api_s3.request import S3Request
from cumulo_api_s3.responses import error_response, quote_etag, response, to_s3_error, xml
from cumulo_api_s3.xmlio import Node, document, parse, s3_time, text

LOG = logging.getLogger(__name__)

SEGMENTS_SUFFIX = "+segments"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
MAX_KEY_BYTES = 1024
#: Object headers S3 keeps besides x-amz-meta-* (stored as the object area keeps them, for Swift clients too).
KEPT_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding", "Content-Language", "Expires")
_KEPT_LOWER = {h.lower(): h for h in KEPT_HEADERS}
#: ``response-*`` query parameters of GetObject and the header each overrides.
RESPONSE_OVERRIDES = {"response-content-type": "Content-Type", "response-content-language": "Content-Language",
                      "response-expires": "Expires", "response-cache-control": "Cache-Control",
                      "response-content-disposition": "Content-Disposition",
                      "response-content-encoding": "Content-Encoding"}
#: Sub-resources this frontend does not implement (S3 answers them; here they are NotImplemented).
UNSUPPORTED = frozenset({
    "accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering", "inventory",
    "legal-hold", "lifecycle", "logging", "metrics", "notification", "object-lock", "ownershipControls",
    "policy", "policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore", "retention",
    "select", "tagging", "torrent", "versions", "website", "versionId"})
CANNED_BUCKET_ACLS = {"private": "", "public-read": ".r:*,.rlistings"}
CANNED_OBJECT_ACLS = ("private", "bucket-owner-read", "bucket-owner-full-control")
XML_LIMIT = 2 * 1024 * 1024


def build(services: Any) -> Callable[..., Any]:
    opts.register(CONF)
    return pipeline(S3App(services, CONF))


def valid_bucket(name: str) -> bool:
    """S3's (DNS-compatible) bucket naming rules."""
    return bool(_BUCKET.match(name)) and ".." not in name and not _IP.match(name) \
        and ".-" not in name and "-." not in name


class S3App:
    """The WSGI application (inside the kernel pipeline for request ids and the access log)."""

    def __init__(self, services: Any, conf: cfg.ConfigOpts) -> None:
        self.services = services
        self.conf = conf

    @property
    def svc(self) -> Any:
        return self.services.object

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req: S3Request | None = None
        request_id = uuid.uuid4().hex[:16].upper()
        try:
            req = S3Request(environ, self.conf)
            request_id = req.request_id
            resp = self.handle(req)
        except Exception as err:  # every error is S3's <Error>, a client's mistake never a 500
            s3err = to_s3_error(err)
            if s3err.status >= 500 and s3err.code == "InternalError":
                LOG.error("S3 request %s %s failed: %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                          err, exc_info=(type(err), err, err.__traceback__))
            resp = error_response(s3err, req, request_id)
        resp.headers["x-amz-request-id"] = request_id
        resp.headers["x-amz-id-2"] = request_id
        if any(not v.isascii() for _k, v in resp.headerlist):
            resp.headerlist = [(k, v.encode("utf-8").decode("latin-1")) for k, v in resp.headerlist]
        return resp(environ, start_response)

    # ------------------------------------------------------------------ authentication
    def authenticate(self, req: S3Request) -> None:
        if not auth.signed(req.headers, req.query):
            raise S3Error("AccessDenied", "Anonymous access is not allowed: sign the request")
        sigv4_header = req.header("authorization").startswith("AWS4-") and not auth.presigned(req.query)
        if sigv4_header and not req.header("x-amz-content-sha256"):
            raise S3Error("InvalidRequest", "Missing required header for this request: x-amz-content-sha256")
        identity = self.services.identity
        try:
            verdict = identity.authenticate_aws(auth.aws_request(req.environ, req.method, req.headers, req.pairs,
                                                                 req.resource_path))
        except AwsAuthError as err:
            raise auth.s3_error(err, auth.presigned(req.query)) from None
        ctx = verdict.context
        if not ctx.project_id:
            raise S3Error("AccessDenied", "The credential is not for a project")
        prefix = "AUTH_"
        try:
            prefix = self.conf.object.reseller_prefix
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError, AttributeError):
            pass
        req.caller = Caller(ctx=ctx, remote_addr=req.environ.get("REMOTE_ADDR"))
        req.account = prefix + ctx.project_id
        req.owner = ctx.project_id

    # ------------------------------------------------------------------ routing
    def handle(self, req: S3Request) -> webob.Response:
        self.authenticate(req)
        params = req.params
        if not req.bucket:
            if req.method in ("GET", "HEAD"):
                return self.list_buckets(req)
            raise S3Error("MethodNotAllowed", Method=req.method, ResourceType="SERVICE")
        unsupported = sorted(UNSUPPORTED & set(params))
        if unsupported:
            raise S3Error("NotImplemented", f"The {unsupported[0]} sub-resource is not implemented here",
                          Header=unsupported[0])
        if not req.key:
            return self.bucket_request(req)
        if len(req.key.encode("utf-8")) > MAX_KEY_BYTES:
            raise S3Error("KeyTooLongError")
        return self.object_request(req)

    def bucket_request(self, req: S3Request) -> webob.Response:
        params, method = req.params, req.method
        if method == "PUT":
            if "acl" in params:
                return self.put_bucket_acl(req)
            if "versioning" in params:
                raise S3Error("NotImplemented", "Bucket versioning is not implemented here")
            return self.create_bucket(req)
        if method == "GET":
            if "location" in params:
                return self.bucket_location(req)
            if "acl" in params:
                return self.get_acl(req, None)
            if "uploads" in params:
                return multipart.list_uploads(self, req)
            if "versioning" in params:
                self.bucket_info(req)
                return xml(document("VersioningConfiguration", []))
            return self.list_objects(req)
        if method == "HEAD":
            self.bucket_info(req)
            return response(200, headers={"x-amz-bucket-region": self.conf.s3.location})
        if method == "DELETE":
            return self.delete_bucket(req)
        if method == "POST" and "delete" in params:
            return self.delete_objects(req)
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="BUCKET")

    def object_request(self, req: S3Request) -> webob.Response:
        params, method = req.params, req.method
        if method == "PUT":
            if "acl" in params:
                return self.put_object_acl(req)
            if "uploadId" in params or "partNumber" in params:
                return multipart.upload_part(self, req)
            if req.header("x-amz-copy-source"):
                return self.copy_object(req)
            return self.put_object(req)
        if method in ("GET", "HEAD"):
            if "acl" in params and method == "GET":
                return self.get_acl(req, req.key)
            if "uploadId" in params and method == "GET":
                return multipart.list_parts(self, req)
            return self.get_object(req)
        if method == "DELETE":
            if "uploadId" in params:
                return multipart.abort(self, req)
            return self.delete_object(req)
        if method == "POST":
            if "uploads" in params:
                return multipart.initiate(self, req)
            if "uploadId" in params:
                return multipart.complete(self, req)
        raise S3Error("MethodNotAllowed", Method=method, ResourceType="OBJECT")

    # ------------------------------------------------------------------ helpers
    def bucket_info(self, req: S3Request, bucket: str | None = None) -> dict[str, Any]:
        """The bucket's container info; NoSuchBucket when there is none (or it is no bucket)."""
        name = bucket or req.bucket
        if name.endswith(SEGMENTS_SUFFIX) or not name:
            raise S3Error("NoSuchBucket", BucketName=name)
        try:
            info: dict[str, Any] = self.svc.container_head(req.caller, req.account, name)
        except Exception as err:
            raise to_s3_error(err, "NoSuchBucket") from None
        return info

    def object_error(self, req: S3Request, err: BaseException, bucket: str | None = None) -> S3Error:
        """An object call's error: NoSuchBucket or NoSuchKey for a 404, as the bucket's existence says."""
        if getattr(err, "code", None) == 404 and not isinstance(err, S3Error):
            self.bucket_info(req, bucket)
            return S3Error("NoSuchKey", Key=req.key)
        return to_s3_error(err)

    def owner_nodes(self, req: S3Request) -> list[Node]:
        return [("ID", req.owner), ("DisplayName", req.owner)]

    # ------------------------------------------------------------------ service and buckets
    def list_buckets(self, req: S3Request) -> webob.Response:
        buckets: list[Node] = []
        marker = ""
        while True:
            _info, rows = self.svc.account_list(req.caller, req.account, marker=marker, limit=10000)
            for row in rows:
                name = row.get("name") or ""
                if name.endswith(SEGMENTS_SUFFIX):
                    continue
                modified = row.get("last_modified")
                when = float(modified) if isinstance(modified, (int, float)) else 0.0
                buckets.append(("Bucket", [("Name", name), ("CreationDate", s3_time(when))]))
            if len(rows) < 10000:
                break
            marker = rows[-1].get("name") or ""
        return xml(document("ListAllMyBucketsResult", [("Owner", self.owner_nodes(req)), ("Buckets", buckets)]))

    def create_bucket(self, req: S3Request) -> webob.Response:
        if not valid_bucket(req.bucket):
            raise S3Error("InvalidBucketName", BucketName=req.bucket)
        raw = req.body().read_all(XML_LIMIT)
        if raw.strip():
            config = parse(raw, "CreateBucketConfiguration")
            location = text(config, "LocationConstraint")
            if location is None:
                raise S3Error("MalformedXML")
        headers: dict[str, str] = {}
        acl = req.header("x-amz-acl")
        if acl:
            if acl not in CANNED_BUCKET_ACLS:
                raise S3Error("NotImplemented", f"The canned ACL {acl} is not implemented here", Header="x-amz-acl")
            if CANNED_BUCKET_ACLS[acl]:
                headers["X-Container-Read"] = CANNED_BUCKET_ACLS[acl]
        if any(h.startswith("x-amz-grant-") for h in req.headers):
            raise S3Error("NotImplemented", "x-amz-grant-* headers are not implemented here")
        try:
            created = self.svc.container_put(req.caller, req.account, req.bucket, headers)
        except Exception as err:
            raise to_s3_error(err, "NoSuchBucket") from None
        if not created:
            raise S3Error("BucketAlreadyOwnedByYou", BucketName=req.bucket)
        return response(200, headers={"Location": "/" + req.bucket})

    def bucket_location(self, req: S3Request) -> webob.Response:
        self.bucket_info(req)
        location = self.conf.s3.location
        return xml(document("LocationConstraint", []).replace(
            b"></LocationConstraint>", b">" + (b"" if location == "us-east-1" else location.encode()) +
            b"</LocationConstraint>"))

    def delete_bucket(self, req: S3Request) -> webob.Response:
        self.bucket_info(req)
        try:
            self.svc.container_delete(req.caller, req.account, req.bucket)
        except Exception as err:
            if getattr(err, "code", None) == 409:
                raise S3Error("BucketNotEmpty", BucketName=req.bucket) from None
            raise to_s3_error(err, "NoSuchBucket") from None
        multipart.drop_segments(self, req)
        return response(204)

    # ------------------------------------------------------------------ ACLs
    def _read_acl(self, req: S3Request) -> str:
        info = self.bucket_info(req)
        meta = info.get("metadata") or {}
        for k, v in meta.items():
            if k.lower() == "x-container-read":
                return str(v)
        return ""

    def get_acl(self, req: S3Request, key: str | None) -> webob.Response:
        read = self._read_acl(req)
        if key is not None:
            self.head(req)
        grants: list[Node] = [("Grant", [("Grantee", self.owner_nodes(req)), ("Permission", "FULL_CONTROL")])]
        if ".r:*" in read.replace(" ", "").split(","):
            grants.append(("Grant", [("Grantee", [("URI", "http://acs.amazonaws.com/groups/global/AllUsers")]),
                                     ("Permission", "READ")]))
        body = document("AccessControlPolicy", [("Owner", self.owner_nodes(req)), ("AccessControlList", grants)])
        # The grantee's type is an attribute: CanonicalUser for the owner, Group for AllUsers.
        body = body.replace(b"<Grantee><ID>", b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                                              b'xsi:type="CanonicalUser"><ID>')
        body = body.replace(b"<Grantee><URI>", b'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                                               b'xsi:type="Group"><URI>')
        return xml(body)

    def _canned_from_body(self, req: S3Request) -> str:
        """The canned ACL an AccessControlPolicy document amounts to (owner FULL_CONTROL, maybe AllUsers READ)."""
        raw = req.body().read_all(XML_LIMIT)
        acl = req.header("x-amz-acl")
        if not raw.strip():
            return acl or "private"
        policy = parse(raw, "AccessControlPolicy")
        public = False
        for grant in policy.iter("Grant"):
            permission = text(grant, "Permission") or ""
            grantee = grant.find("Grantee")
            uri = text(grantee, "URI") if grantee is not None else None
            if uri is not None:
                if uri.endswith("/AllUsers") and permission == "READ":
                    public = True
                    continue
                raise S3Error("NotImplemented", "Only the owner's and AllUsers READ grants are implemented here")
            ident = text(grantee, "ID") if grantee is not None else None
            if ident != req.owner or permission != "FULL_CONTROL":
                raise S3Error("NotImplemented", "Only the owner's and AllUsers READ grants are implemented here")
        return "public-read" if public else "private"

    def put_bucket_acl(self, req: S3Request) -> webob.Response:
        canned = self._canned_from_body(req)
        if canned not in CANNED_BUCKET_ACLS:
            raise S3Error("NotImplemented", f"The canned ACL {canned} is not implemented here", Header="x-amz-acl")
        self.bucket_info(req)
        try:
            self.svc.container_post(req.caller, req.account, req.bucket,
                                    {"X-Container-Read": CANNED_BUCKET_ACLS[canned]})
        except Exception as err:
            raise to_s3_error(err, "NoSuchBucket") from None
        return response(200)

    def put_object_acl(self, req: S3Request) -> webob.Response:
        canned = self._canned_from_body(req)
        self.head(req)
        if canned not in CANNED_OBJECT_ACLS:
            raise S3Error("NotImplemented", "Objects take the bucket's ACL here: only private is implemented",
                          Header="x-amz-acl")
        return response(200)

    # ------------------------------------------------------------------ listings
    def max_items(self, req: S3Request, name: str) -> int:
        value = req.params.get(name)
        limit = self.conf.s3.max_keys
        if value in (None, ""):
            return limit
        try:
            wanted = int(value)
            if wanted < 0:
                raise ValueError
        except ValueError:
            raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer range",
                          ArgumentName=name, ArgumentValue=value) from None
        return min(wanted, limit)

    def s3_etag(self, req: S3Request, bucket: str, name: str, row: dict[str, Any]) -> tuple[str, int]:
        """The S3 ETag and size of a listed object (a completed multipart upload's ``<md5 of md5s>-N``)."""
        ctype, content_size = strip_swift_bytes(str(row.get("content_type") or ""))
        size = int(row.get("bytes") or 0)
        if content_size is None:
            return quote_etag(str(row.get("hash") or "")), size
        try:
            resolved = self.svc.object_read(req.caller, req.account, bucket, name, head=True)
        except Exception:
            return quote_etag(str(row.get("hash") or "")), content_size
        resolved.close()
        return self.etag_of(resolved), content_size

    @staticmethod
    def etag_of(resolved: Resolved) -> str:
        if resolved.kind == "slo" and resolved.manifest:
            return quote_etag(multipart.s3_etag([str(item.get("hash", "")) for item in resolved.manifest]))
        return quote_etag(resolved.etag)

    def list_objects(self, req: S3Request) -> webob.Response:
        params = req.params
        v2 = params.get("list-type") == "2"
        if params.get("list-type") not in (None, "1", "2"):
            raise S3Error("InvalidArgument", "Invalid list-type", ArgumentName="list-type",
                          ArgumentValue=params["list-type"])
        encoding = params.get("encoding-type")
        if encoding not in (None, "url"):
            raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request",
                          ArgumentName="encoding-type", ArgumentValue=encoding or "")
        enc: Callable[[str], str] = (lambda s: quote(s, safe="/")) if encoding == "url" else (lambda s: s)
        max_keys = self.max_items(req, "max-keys")
        prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
        token = params.get("continuation-token")
        if v2:
            if token is not None:
                marker = multipart.decode_token(token)
            else:
                marker = params.get("start-after", "")
        else:
            marker = params.get("marker", "")
        self.bucket_info(req)
        rows = self._list(req, req.bucket, prefix, delimiter, marker, max_keys + 1) if max_keys else []
        truncated = len(rows) > max_keys
        rows = rows[:max_keys]
        contents: list[Node] = []
        prefixes: list[Node] = []
        for row in rows:
            if "subdir" in row and "name" not in row:
                prefixes.append(("CommonPrefixes", [("Prefix", enc(row["subdir"]))]))
                continue
            name = str(row["name"])
            etag, size = self.s3_etag(req, req.bucket, name, row)
            modified = row.get("last_modified")
            item: list[Node] = [("Key", enc(name)),
                                ("LastModified", s3_time(float(modified) if isinstance(modified, (int, float))
                                                         else 0.0)),
                                ("ETag", etag), ("Size", size), ("StorageClass", "STANDARD")]
            if not v2 or params.get("fetch-owner") == "true":
                item.append(("Owner", self.owner_nodes(req)))
            contents.append(("Contents", item))
        last = ""
        if rows:
            last = str(rows[-1].get("name") or rows[-1].get("subdir") or "")
        out: list[Node] = [("Name", req.bucket), ("Prefix", enc(prefix))]
        if v2:
            if token is not None:
                out.append(("ContinuationToken", token))
            if "start-after" in params:
                out.append(("StartAfter", enc(params["start-after"])))
            out.append(("KeyCount", len(rows)))
            if truncated:
                out.append(("NextContinuationToken", multipart.encode_token(last)))
        else:
            out.append(("Marker", enc(marker)))
            if truncated and delimiter:
                out.append(("NextMarker", enc(last)))
        out.append(("MaxKeys", max_keys))
        if delimiter:
            out.append(("Delimiter", enc(delimiter)))
        if encoding:
            out.append(("EncodingType", encoding))
        out.append(("IsTruncated", truncated))
        return xml(document("ListBucketResult", out + contents + prefixes))

    def _list(self, req: S3Request, bucket: str, prefix: str, delimiter: str, marker: str,
              limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` rows after ``marker``: objects and (with a delimiter) common prefixes, each once."""
        if delimiter and marker.startswith(prefix) and marker.endswith(delimiter) \
                and delimiter not in marker[len(prefix):-len(delimiter)]:
            # The marker is a common prefix: skip everything under it.
            marker = marker[:-1] + chr(ord(marker[-1]) + 1) if len(delimiter) == 1 else marker
        out: list[dict[str, Any]] = []
        while len(out) < limit:
            wanted = limit - len(out)
            try:
                _info, rows = self.svc.container_list(req.caller, req.account, bucket, prefix=prefix,
                                                      delimiter=delimiter, marker=marker, limit=wanted)
            except Exception as err:
                raise to_s3_error(err, "NoSuchBucket") from None
            for row in rows:
                name = str(row.get("name") or row.get("subdir") or "")
                if "subdir" in row and "name" not in row and name <= marker:
                    continue
                out.append(row)
            if len(rows) < wanted or not rows:
                break
            last = rows[-1]
            marker = str(last.get("name") or last.get("subdir") or "")
            if "subdir" in last and "name" not in last and len(delimiter) == 1:
                marker = marker[:-1] + chr(ord(marker[-1]) + 1)
        return out[:limit]

    # ------------------------------------------------------------------ objects
    def head(self, req: S3Request) -> Resolved:
        """The object (for HEAD-like checks), closed; NoSuchBucket / NoSuchKey."""
        try:
            resolved: Resolved = self.svc.object_read(req.caller, req.account, req.bucket, req.key, head=True)
        except Exception as err:
            raise self.object_error(req, err) from None
        resolved.close()
        return resolved

    def object_headers(self, req: S3Request) -> dict[str, str]:
        """The write's headers in the object area's terms: Content-Type, kept headers, user metadata."""
        headers: dict[str, str] = {}
        ctype = req.text_header("content-type")
        if ctype:
            headers["Content-Type"] = ctype
        for name in KEPT_HEADERS:
            value = req.text_header(name)
            if name == "Content-Encoding" and value:
                value = ",".join(p for p in value.split(",") if p.strip().lower() != "aws-chunked").strip()
            if value:
                headers[name] = value
        for key in req.headers:
            if key.startswith("x-amz-meta-"):
                headers["X-Object-Meta-" + key[len("x-amz-meta-"):]] = req.text_header(key) or ""
        return headers

    def check_acl_header(self, req: S3Request) -> None:
        acl = req.header("x-amz-acl")
        if acl and acl not in CANNED_OBJECT_ACLS:
            raise S3Error("NotImplemented", "Objects take the bucket's ACL here: only private is implemented",
                          Header="x-amz-acl")

    def put_object(self, req: S3Request) -> webob.Response:
        self.check_acl_header(req)
        body = req.body()
        headers = self.object_headers(req)
        if req.header("if-none-match"):
            headers["If-None-Match"] = req.header("if-none-match")
        self.bucket_info(req)
        replaced = self.replaced_parts(req)
        try:
            info, _src = self.svc.object_put(req.caller, req.account, req.bucket, req.key, body, body.length,
                                             headers, {})
        except Exception as err:
            raise self.object_error(req, err) from None
        self.drop_parts(req, replaced)
        return response(200, headers={"ETag": quote_etag(info.etag)})

    def get_object(self, req: S3Request) -> webob.Response:
        head = req.method == "HEAD"
        try:
            resolved: Resolved = self.svc.object_read(req.caller, req.account, req.bucket, req.key, head=head)
        except Exception as err:
            raise self.object_error(req, err) from None
        try:
            return self._objectresponse(req, resolved)
        except BaseException:
            resolved.close()
            raise

    def _objectresponse(self, req: S3Request, resolved: Resolved) -> webob.Response:
        info = resolved.info
        etag = self.etag_of(resolved)
        headers = {"ETag": etag, "Last-Modified": http_date(info.last_modified), "Accept-Ranges": "bytes",
                   "Content-Type": strip_swift_bytes(info.content_type)[0] or "binary/octet-stream"}
        for key, value in resolved.headers.items():
            low = key.lower()
            if low.startswith("x-object-meta-"):
                headers["x-amz-meta-" + low[len("x-object-meta-"):]] = value
            elif low in _KEPT_LOWER:
                headers[_KEPT_LOWER[low]] = value
        if resolved.kind == "slo" and resolved.manifest:
            headers["x-amz-mp-parts-count"] = str(len(resolved.manifest))
        for param, header in RESPONSE_OVERRIDES.items():
            if param in req.params:
                headers[header] = req.params[param]
        condition = evaluate_conditions(_conditions(req.headers), etag, info.last_modified, req.method)
        if condition == 304:
            resolved.close()
            return response(304, headers={k: headers[k] for k in ("ETag", "Last-Modified")})
        if condition == 412:
            resolved.close()
            raise S3Error("PreconditionFailed", Condition="If-Match" if req.header("if-match")
                          else "If-Unmodified-Since")
        size = resolved.size
        get = req.method == "GET"
        ranges = None
        range_header = req.header("range")
        if range_header:
            try:
                ranges = parse_ranges(range_header, size)
            except Unsatisfiable:
                resolved.close()
                raise S3Error("InvalidRange", headers={"Content-Range": f"bytes */{size}"},
                              ActualObjectSize=str(size), RangeRequested=range_header) from None
            if ranges is not None and len(ranges) != 1:
                ranges = None  # S3 serves one range; several mean the whole object
        if not get:
            resolved.close()
        if ranges is None:
            headers["Content-Length"] = str(size)
            return response(200, headers=headers, app_iter=resolved.reader(0, size) if get else [])
        start, end = ranges[0]
        headers["Content-Range"] = content_range(start, end, size)
        headers["Content-Length"] = str(end - start)
        return response(206, headers=headers, app_iter=resolved.reader(start, end) if get else [])

    def own_parts(self, bucket: str, resolved: Resolved) -> bool:
        """Whether ``resolved`` is a completed multipart upload of ``bucket`` (its parts in the segments container).

        Only those take their parts along when deleted or replaced: a static large object a Swift
        client made keeps the segments it names.
        """
        if resolved.kind != "slo" or not resolved.manifest:
            return False
        prefix = f"/{bucket}{SEGMENTS_SUFFIX}/"
        return all(str(item.get("name", "")).startswith(prefix) for item in resolved.manifest)

    def delete_key(self, req: S3Request, bucket: str, key: str) -> None:
        """Delete one key (a completed multipart upload with its parts); a missing key is no error (S3)."""
        try:
            resolved: Resolved = self.svc.object_read(req.caller, req.account, bucket, key, head=True)
        except Exception as err:
            if getattr(err, "code", None) == 404:
                return
            raise to_s3_error(err) from None
        resolved.close()
        params = {"multipart-manifest": "delete"} if self.own_parts(bucket, resolved) else {}
        try:
            self.svc.object_delete(req.caller, req.account, bucket, key, params)
        except Exception as err:
            if getattr(err, "code", None) != 404:
                raise to_s3_error(err) from None

    def replaced_parts(self, req: S3Request) -> list[str]:
        """The parts of the multipart object at ``req.key`` that a write replaces (removed after it)."""
        try:
            resolved: Resolved = self.svc.object_read(req.caller, req.account, req.bucket, req.key, head=True)
        except Exception:
            return []
        resolved.close()
        if not self.own_parts(req.bucket, resolved):
            return []
        return [str(item.get("name", "")).split("/", 2)[2] for item in resolved.manifest or []]

    def drop_parts(self, req: S3Request, names: list[str]) -> None:
        for name in names:
            try:
                self.svc.object_delete(req.caller, req.account, req.bucket + SEGMENTS_SUFFIX, name, {})
            except Exception as err:
                if getattr(err, "code", None) != 404:
                    LOG.warning("Could not remove the replaced part %s of %s/%s: %s", name, req.bucket, req.key, err)

    def delete_object(self, req: S3Request) -> webob.Response:
        self.bucket_info(req)
        self.delete_key(req, req.bucket, req.key)
        return response(204)

    def delete_objects(self, req: S3Request) -> webob.Response:
        raw = req.body().read_all(XML_LIMIT)
        tree = parse(raw, "Delete")
        quiet = (text(tree, "Quiet") or "").strip().lower() == "true"
        objects = tree.findall("Object")
        if len(objects) > 1000:
            raise S3Error("MalformedXML", "You have attempted to delete more objects than allowed (1000)")
        self.bucket_info(req)
        out: list[Node] = []
        for element in objects:
            key = text(element, "Key")
            if not key:
                raise S3Error("MalformedXML")
            version = text(element, "VersionId")
            try:
                if version not in (None, "", "null"):
                    raise S3Error("NotImplemented", "Object versions are not implemented here")
                self.delete_key(req, req.bucket, key)
            except S3Error as err:
                out.append(("Error", [("Key", key), ("Code", err.code), ("Message", err.message)]))
                continue
            if not quiet:
                out.append(("Deleted", [("Key", key)]))
        return xml(document("DeleteResult", out))

    # ------------------------------------------------------------------ copies
    def copy_source(self, req: S3Request) -> tuple[str, str]:
        """``x-amz-copy-source`` (``[/]bucket/key``, URL-encoded, maybe ``?versionId=``) -> (bucket, key)."""
        value = req.header("x-amz-copy-source")
        path, _, query = value.partition("?")
        if query and not query.startswith("versionId=null"):
            raise S3Error("NotImplemented", "Copying an object version is not implemented here")
        try:
            path = unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            raise S3Error("InvalidArgument", "x-amz-copy-source is not valid UTF-8",
                          ArgumentName="x-amz-copy-source") from None
        bucket, _, key = path.lstrip("/").partition("/")
        if not bucket or not key:
            raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and key: "
                                             "sourcebucket/sourcekey", ArgumentName="x-amz-copy-source",
                          ArgumentValue=value)
        return bucket, key

    def read_source(self, req: S3Request, bucket: str, key: str) -> Resolved:
        """The copy's source, its ``x-amz-copy-source-if-*`` conditions checked; NoSuchBucket / NoSuchKey."""
        if bucket.endswith(SEGMENTS_SUFFIX):
            raise S3Error("NoSuchBucket", BucketName=bucket)
        try:
            resolved: Resolved = self.svc.object_read(req.caller, req.account, bucket, key)
        except Exception as err:
            if getattr(err, "code", None) == 404:
                self.bucket_info(req, bucket)
                raise S3Error("NoSuchKey", Key=key) from None
            raise to_s3_error(err) from None
        etag = self.etag_of(resolved).strip('"')
        modified = resolved.info.last_modified
        match = req.header("x-amz-copy-source-if-match")
        none_match = req.header("x-amz-copy-source-if-none-match")
        since = parse_http_date(req.header("x-amz-copy-source-if-modified-since"))
        unmodified = parse_http_date(req.header("x-amz-copy-source-if-unmodified-since"))
        failed = (match and etag not in [t.strip().strip('"') for t in match.split(",")] and match != "*") \
            or (none_match and (etag in [t.strip().strip('"') for t in none_match.split(",")] or none_match == "*")) \
            or (not match and unmodified is not None and int(modified) > unmodified) \
            or (not none_match and since is not None and int(modified) <= since)
        if failed:
            resolved.close()
            raise S3Error("PreconditionFailed")
        return resolved

    def copy_object(self, req: S3Request) -> webob.Response:
        self.check_acl_header(req)
        src_bucket, src_key = self.copy_source(req)
        directive = req.header("x-amz-metadata-directive", "COPY").upper()
        if directive not in ("COPY", "REPLACE"):
            raise S3Error("InvalidArgument", "Unknown metadata directive.", ArgumentName="x-amz-metadata-directive",
                          ArgumentValue=directive)
        if (src_bucket, src_key) == (req.bucket, req.key) and directive == "COPY":
            raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to copy an object "
                                            "to itself without changing the object's metadata, storage class, "
                                            "website redirect location or encryption attributes.")
        self.bucket_info(req)
        source = self.read_source(req, src_bucket, src_key)
        replaced = self.replaced_parts(req)
        try:
            if directive == "REPLACE":
                headers = self.object_headers(req)
                headers.setdefault("Content-Type", "binary/octet-stream")
            else:
                headers = {"Content-Type": strip_swift_bytes(source.info.content_type)[0]}
                for key, value in source.headers.items():
                    low = key.lower()
                    if low.startswith("x-object-meta-") or low in _KEPT_LOWER:
                        headers[key] = value
            stream = source.reader(0, source.size)
            md5 = hashlib.md5(usedforsecurity=False)

            def counted() -> Iterator[bytes]:
                for chunk in stream:
                    md5.update(chunk)
                    yield chunk

            info, _src = self.svc.object_put(req.caller, req.account, req.bucket, req.key, counted(), source.size,
                                             headers, {})
        except S3Error:
            raise
        except Exception as err:
            raise self.object_error(req, err) from None
        finally:
            source.close()
        self.drop_parts(req, replaced)
        return xml(document("CopyObjectResult", [("LastModified", s3_time(info.last_modified)),
                                                  ("ETag", quote_etag(info.etag))]))


def _conditions(headers: dict[str, str]) -> dict[str, str]:
    """The conditional headers as ``evaluate_conditions`` reads them."""
    names = ("If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
    return {name: headers[name.lower()] for name in names if name.lower() in headers}
