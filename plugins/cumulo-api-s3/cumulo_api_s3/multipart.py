"""Multipart uploads, kept as Swift's s3api keeps them: in the hidden container ``<bucket>+segments``.

* ``<key>/<upload id>``: the upload's marker (empty), holding the object's future Content-Type and
  metadata; it exists exactly while the upload is in progress (NoSuchUpload otherwise);
* ``<key>/<upload id>/<part number, 5 digits>``: the parts;
* completing writes ``<key>`` in the bucket as a static large object manifest of the parts (so Swift
  clients read the whole object), removes the marker and the parts it does not name; its ETag is S3's
  ``<md5 of the parts' binary md5s>-<count>``, computed from the manifest when the object is read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from typing import TYPE_CHECKING, Any, Protocol

import webob

from cumulo.contracts.object import Resolved, strip_swift_bytes
from cumulo_api_s3.errors import S3Error
from cumulo_api_s3.request import S3Request
from cumulo_api_s3.responses import quote_etag, response, to_s3_error, xml
from cumulo_api_s3.xmlio import Node, document, parse, s3_time, text

if TYPE_CHECKING:
    from oslo_config import cfg


class S3App(Protocol):
    """What the multipart calls use of the S3 application (:class:`cumulo_api_s3.app.S3App`)."""

    conf: cfg.ConfigOpts

    @property
    def svc(self) -> Any: ...

    def bucket_info(self, req: S3Request, bucket: str | None = None) -> dict[str, Any]: ...

    def object_error(self, req: S3Request, err: BaseException, bucket: str | None = None) -> S3Error: ...

    def object_headers(self, req: S3Request) -> dict[str, str]: ...

    def check_acl_header(self, req: S3Request) -> None: ...

    def copy_source(self, req: S3Request) -> tuple[str, str]: ...

    def read_source(self, req: S3Request, bucket: str, key: str) -> Resolved: ...

    def max_items(self, req: S3Request, name: str) -> int: ...

MAX_PART_NUMBER = 10000
_MARKER = re.compile(r"^(?P<key>.+)/(?P<upload>[0-9a-f]{32})$")
XML_LIMIT = 4 * 1024 * 1024


def s3_etag(part_etags: list[str]) -> str:
    """S3's multipart ETag: the MD5 of the parts' binary MD5s, ``-`` and how many parts."""
    digest = hashlib.md5(usedforsecurity=False)
    for etag in part_etags:
        try:
            digest.update(binascii.unhexlify(etag.strip('"')))
        except (binascii.Error, ValueError):
            digest.update(etag.encode())
    return f"{digest.hexdigest()}-{len(part_etags)}"


def encode_token(marker: str) -> str:
    """A ListObjectsV2 continuation token for ``marker`` (opaque to clients)."""
    return base64.urlsafe_b64encode(marker.encode("utf-8")).decode("ascii")


def decode_token(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeError):
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      ArgumentName="continuation-token") from None


def segments_container(bucket: str) -> str:
    return bucket + "+segments"


def _upload_id(req: S3Request) -> str:
    upload = req.params.get("uploadId", "")
    if not re.fullmatch(r"[0-9a-f]{32}", upload):
        raise S3Error("NoSuchUpload", UploadId=upload)
    return upload


def _part_number(req: S3Request) -> int:
    raw = req.params.get("partNumber", "")
    try:
        number = int(raw)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, "
                                         "inclusive", ArgumentName="partNumber", ArgumentValue=raw)
    return number


def part_name(key: str, upload: str, number: int) -> str:
    return f"{key}/{upload}/{number:05d}"


def _marker(app: S3App, req: S3Request, upload: str) -> Resolved:
    """The upload's marker object; NoSuchBucket, or NoSuchUpload when the upload is not in progress."""
    app.bucket_info(req)
    try:
        resolved: Resolved = app.svc.object_read(req.caller, req.account, segments_container(req.bucket),
                                                 f"{req.key}/{upload}", head=True)
    except Exception as err:
        if getattr(err, "code", None) == 404:
            raise S3Error("NoSuchUpload", UploadId=upload) from None
            raise to_s3_error(err) from None
    resolved.close()
    return resolved


def _list_all(app: S3App, req: S3Request, container: str, prefix: str) -> list[dict[str, Any]]:
    """Every object row under ``prefix`` in ``container`` (none when the container does not exist)."""
    rows: list[dict[str, Any]] = []
    marker = ""
    while True:
        try:
            _info, page = app.svc.container_list(req.caller, req.account, container, prefix=prefix, marker=marker,
                                                 limit=10000)
        except Exception as err:
            if getattr(err, "code", None) == 404:
                return rows
            raise
        rows.extend(r for r in page if "name" in r)
        if len(page) < 10000:
            return rows
        marker = str(page[-1].get("name") or page[-1].get("subdir") or "")


def _delete_quietly(app: S3App, req: S3Request, container: str, name: str) -> None:
    try:
        app.svc.object_delete(req.caller, req.account, container, name, {})
    except Exception as err:
        if getattr(err, "code", None) != 404:
            raise


def _initiator(req: S3Request) -> list[Node]:
    return [("Initiator", [("ID", req.owner), ("DisplayName", req.owner)]),
            ("Owner", [("ID", req.owner), ("DisplayName", req.owner)])]


# ---------------------------------------------------------------------- the calls
def initiate(app: S3App, req: S3Request) -> webob.Response:
    """CreateMultipartUpload (POST ?uploads)."""
    app.check_acl_header(req)
    app.bucket_info(req)
    headers = app.object_headers(req)
    upload = uuid.uuid4().hex
    seg = segments_container(req.bucket)
    try:
        app.svc.container_put(req.caller, req.account, seg, {})
        app.svc.object_put(req.caller, req.account, seg, f"{req.key}/{upload}", [b""], 0, headers, {})
    except Exception as err:
        raise to_s3_error(err) from None
    return xml(document("InitiateMultipartUploadResult", [("Bucket", req.bucket), ("Key", req.key),
                                                           ("UploadId", upload)]))


def upload_part(app: S3App, req: S3Request) -> webob.Response:
    """UploadPart (PUT ?partNumber&uploadId), and UploadPartCopy with ``x-amz-copy-source``."""
    if "uploadId" not in req.params or "partNumber" not in req.params:
        raise S3Error("InvalidRequest", "UploadPart needs both partNumber and uploadId")
    number = _part_number(req)
    upload = _upload_id(req)
    _marker(app, req, upload)
    seg = segments_container(req.bucket)
    name = part_name(req.key, upload, number)
    if req.header("x-amz-copy-source"):
        src_bucket, src_key = app.copy_source(req)
        source = app.read_source(req, src_bucket, src_key)
        try:
            start, end = 0, source.size
            wanted = req.header("x-amz-copy-source-range")
            if wanted:
                m = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted.strip())
                if not m or int(m.group(1)) > int(m.group(2)) or int(m.group(2)) >= source.size:
                    raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                                                     "bytes=first-last where first and last are the zero-based "
                                                     "offsets of the first and last bytes to copy",
                                  ArgumentName="x-amz-copy-source-range", ArgumentValue=wanted)
                start, end = int(m.group(1)), int(m.group(2)) + 1
            info, _src = app.svc.object_put(req.caller, req.account, seg, name, source.reader(start, end),
                                            end - start, {}, {})
        except S3Error:
            raise
        except Exception as err:
            raise to_s3_error(err) from None
        finally:
            source.close()
        return xml(document("CopyPartResult", [("LastModified", s3_time(info.last_modified)),
                                                ("ETag", quote_etag(info.etag))]))
    body = req.body()
    try:
        info, _src = app.svc.object_put(req.caller, req.account, seg, name, body, body.length, {}, {})
    except Exception as err:
        raise to_s3_error(err) from None
    return response(200, headers={"ETag": quote_etag(info.etag)})


def list_parts(app: S3App, req: S3Request) -> webob.Response:
    """ListParts (GET ?uploadId)."""
    upload = _upload_id(req)
    _marker(app, req, upload)
    max_parts = app.max_items(req, "max-parts")
    raw_marker = req.params.get("part-number-marker", "0") or "0"
    try:
        after = int(raw_marker)
    except ValueError:
        raise S3Error("InvalidArgument", "Provided part-number-marker not an integer",
                      ArgumentName="part-number-marker", ArgumentValue=raw_marker) from None
    rows = _list_all(app, req, segments_container(req.bucket), f"{req.key}/{upload}/")
    parts = []
    for row in rows:
        tail = str(row["name"]).rsplit("/", 1)[-1]
        if tail.isdigit() and int(tail) > after:
            parts.append((int(tail), row))
    truncated = len(parts) > max_parts
    parts = parts[:max_parts]
    out: list[Node] = [("Bucket", req.bucket), ("Key", req.key), ("UploadId", upload), *_initiator(req),
                       ("StorageClass", "STANDARD"), ("PartNumberMarker", after)]
    if parts:
        out.append(("NextPartNumberMarker", parts[-1][0]))
    out += [("MaxParts", max_parts), ("IsTruncated", truncated)]
    for number, row in parts:
        modified = row.get("last_modified")
        out.append(("Part", [("PartNumber", number),
                             ("LastModified", s3_time(float(modified) if isinstance(modified, (int, float))
                                                      else 0.0)),
                             ("ETag", quote_etag(str(row.get("hash") or ""))), ("Size", int(row.get("bytes") or 0))]))
    return xml(document("ListPartsResult", out))


def list_uploads(app: S3App, req: S3Request) -> webob.Response:
    """ListMultipartUploads (GET ?uploads on the bucket)."""
    app.bucket_info(req)
    params = req.params
    prefix, delimiter = params.get("prefix", ""), params.get("delimiter", "")
    key_marker, upload_marker = params.get("key-marker", ""), params.get("upload-id-marker", "")
    max_uploads = app.max_items(req, "max-uploads")
    uploads: list[tuple[str, str, dict[str, Any]]] = []
    for row in _list_all(app, req, segments_container(req.bucket), prefix):
        m = _MARKER.match(str(row["name"]))
        if not m:
            continue
        key, upload = m.group("key"), m.group("upload")
        if key_marker and (key < key_marker or (key == key_marker and (not upload_marker or upload <= upload_marker))):
            continue
        uploads.append((key, upload, row))
    entries: list[Node] = []
    prefixes: list[str] = []
    count = 0
    truncated = False
    last_key, last_upload = "", ""
    for key, upload, row in uploads:
        if delimiter and delimiter in key[len(prefix):]:
            common = key[:len(prefix) + key[len(prefix):].index(delimiter) + len(delimiter)]
            if common in prefixes:
                continue
            if count >= max_uploads:
                truncated = True
                break
            prefixes.append(common)
            count += 1
            last_key, last_upload = key, upload
            continue
        if count >= max_uploads:
            truncated = True
            break
        modified = row.get("last_modified")
        entries.append(("Upload", [("Key", key), ("UploadId", upload), *_initiator(req),
                                   ("StorageClass", "STANDARD"),
                                   ("Initiated", s3_time(float(modified) if isinstance(modified, (int, float))
                                                         else 0.0))]))
        count += 1
        last_key, last_upload = key, upload
    out: list[Node] = [("Bucket", req.bucket), ("KeyMarker", key_marker), ("UploadIdMarker", upload_marker)]
    if truncated:
        out += [("NextKeyMarker", last_key), ("NextUploadIdMarker", last_upload)]
    if prefix:
        out.append(("Prefix", prefix))
    if delimiter:
        out.append(("Delimiter", delimiter))
    out += [("MaxUploads", max_uploads), ("IsTruncated", truncated), *entries]
    out += [("CommonPrefixes", [("Prefix", p)]) for p in prefixes]
    return xml(document("ListMultipartUploadsResult", out))


def _requested_parts(req: S3Request) -> list[tuple[int, str]]:
    tree = parse(req.body().read_all(XML_LIMIT), "CompleteMultipartUpload")
    wanted = []
    for part in tree.findall("Part"):
        number, etag = text(part, "PartNumber"), text(part, "ETag")
        if number is None or etag is None:
            raise S3Error("MalformedXML")
        try:
            wanted.append((int(number.strip()), etag.strip().strip('"')))
        except ValueError:
            raise S3Error("MalformedXML") from None
    if not wanted:
        raise S3Error("MalformedXML", "The XML you provided did not name any part")
    numbers = [n for n, _e in wanted]
    if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
        raise S3Error("InvalidPartOrder", UploadId=req.params.get("uploadId", ""))
    return wanted


def complete(app: S3App, req: S3Request) -> webob.Response:
    """CompleteMultipartUpload (POST ?uploadId): the parts named become the object, a static large object."""
    upload = _upload_id(req)
    wanted = _requested_parts(req)
    marker = _marker(app, req, upload)
    seg = segments_container(req.bucket)
    stored: dict[int, dict[str, Any]] = {}
    for row in _list_all(app, req, seg, f"{req.key}/{upload}/"):
        tail = str(row["name"]).rsplit("/", 1)[-1]
        if tail.isdigit():
            stored[int(tail)] = row
    manifest = []
    min_size = app.conf.s3.min_part_size
    for index, (number, etag) in enumerate(wanted):
        found = stored.get(number)
        if found is None or str(found.get("hash") or "") != etag:
            raise S3Error("InvalidPart", UploadId=upload, PartNumber=str(number), ETag=etag)
        size = int(found.get("bytes") or 0)
        if index < len(wanted) - 1 and size < min_size:
            raise S3Error("EntityTooSmall", ProposedSize=str(size), MinSizeAllowed=str(min_size),
                          PartNumber=str(number), ETag=etag)
        manifest.append({"path": f"/{seg}/{part_name(req.key, upload, number)}", "etag": etag, "size_bytes": size})
    headers = {"Content-Type": strip_swift_bytes(marker.info.content_type)[0] or "binary/octet-stream"}
    headers.update(marker.headers)
    old_segments = _old_segments(app, req, seg)
    data = json.dumps(manifest).encode()
    try:
        app.svc.object_put(req.caller, req.account, req.bucket, req.key, [data], len(data), headers,
                           {"multipart-manifest": "put"})
    except Exception as err:
        raise app.object_error(req, err) from None
    used = {part_name(req.key, upload, n) for n, _e in wanted}
    for row in stored.values():
        if str(row["name"]) not in used:
            _delete_quietly(app, req, seg, str(row["name"]))
    _delete_quietly(app, req, seg, f"{req.key}/{upload}")
    for name in old_segments - used:
        _delete_quietly(app, req, seg, name)
    etag = s3_etag([e for _n, e in wanted])
    location = f"/{req.bucket}/{req.key}"
    return xml(document("CompleteMultipartUploadResult", [("Location", location), ("Bucket", req.bucket),
                                                           ("Key", req.key), ("ETag", f'"{etag}"')]))


def _old_segments(app: S3App, req: S3Request, seg: str) -> set[str]:
    """The parts of the multipart object ``req.key`` replaces (deleted once the new one is stored)."""
    try:
        resolved: Resolved = app.svc.object_read(req.caller, req.account, req.bucket, req.key, head=True)
    except Exception:
        return set()
    resolved.close()
    names = set()
    for item in resolved.manifest or []:
        container, _, name = str(item.get("name", "")).lstrip("/").partition("/")
        if container == seg and name.startswith(req.key + "/"):
            names.add(name)
    return names


def abort(app: S3App, req: S3Request) -> webob.Response:
    """AbortMultipartUpload (DELETE ?uploadId): the parts and the marker removed."""
    upload = _upload_id(req)
    _marker(app, req, upload)
    seg = segments_container(req.bucket)
    for row in _list_all(app, req, seg, f"{req.key}/{upload}/"):
        _delete_quietly(app, req, seg, str(row["name"]))
    _delete_quietly(app, req, seg, f"{req.key}/{upload}")
    return response(204)


def drop_segments(app: S3App, req: S3Request) -> None:
    """After a bucket is deleted: its segments container (uploads in progress) goes too."""
    seg = segments_container(req.bucket)
    for row in _list_all(app, req, seg, ""):
        _delete_quietly(app, req, seg, str(row["name"]))
    try:
        app.svc.container_delete(req.caller, req.account, seg)
    except Exception as err:
        if getattr(err, "code", None) not in (404, 409):
            raise
