"""The Image API v2 WSGI application: routes, request parsing and Glance-shaped responses.

Thin: every decision (visibility, lifecycle, quotas) is the kernel image
service's (``hub.image``). Image data streams in both directions in
``chunk_size`` pieces; the upload route is exempt from the JSON body limit
and capped by ``[image] image_size_cap`` instead.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import webob

from cumulo import exception
from cumulo.contracts.image import ClientDisconnected
from cumulo.utils.ranges import content_range, unsatisfied_range
from cumulo.wsgi import Request, Router, validate
from cumulo.wsgi.middleware import BodySizeLimit, pipeline
from cumulo_api_image import schemas
from cumulo_api_image.metadefs import MetadefsAPI
from cumulo_api_image.tasks import TasksAPI

CHUNK = 64 * 1024
PATCH_V21 = "application/openstack-images-v2.1-json-patch"
#: The Image API 2.0 patch: each operation names itself by its member, whose value is the path
#: (``{"replace": "/name", "value": "x"}``, JSON Schema draft 4), where 2.1 has ``op`` and ``path``.
PATCH_V20 = "application/openstack-images-v2.0-json-patch"
PATCH_TYPES = (PATCH_V21, PATCH_V20, "application/json-patch+json")
PATCH_OPS = ("add", "remove", "replace")
#: (version, status) pairs published by version discovery, newest first.
VERSIONS = [("2.16", "CURRENT")] + [(f"2.{n}", "SUPPORTED") for n in range(15, -1, -1)]
LIST_PARAMS = ("limit", "marker", "sort_key", "sort_dir", "sort", "tag")
_UPLOAD_PATH = re.compile(r"^/v2/images/[^/]+/(file|stage)/?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def glance_fault(status: int, title: str, message: str, error: BaseException | None) -> dict[str, Any]:
    """Glance's fault body: ``{"code": "404 Not Found", "title": ..., "message": ...}``."""
    return {"code": f"{status} {title}", "title": title, "message": message}


def _time(value: datetime.datetime | str | None) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def image_view(image: dict[str, Any]) -> dict[str, Any]:
    """The v2 representation: base attributes, extra properties flat, links."""
    view = {k: v for k, v in image.items() if k not in ("properties", "store", "location")}
    view["created_at"] = _time(image["created_at"])
    view["updated_at"] = _time(image["updated_at"])
    if image.get("store") and image.get("location"):
        view["stores"] = image["store"]
    view["self"] = f"/v2/images/{image['id']}"
    view["file"] = f"/v2/images/{image['id']}/file"
    view["schema"] = "/v2/schemas/image"
    return view


def member_view(member: dict[str, Any]) -> dict[str, Any]:
    return {**member, "created_at": _time(member["created_at"]), "updated_at": _time(member["updated_at"]),
            "schema": "/v2/schemas/member"}


class SelectiveBodyLimit:
    """The JSON body limit for every route but the data upload and stage (which stream, capped elsewhere)."""

    def __init__(self, app: Callable[..., Any], limit: int) -> None:
        self.app = app
        self.limited = BodySizeLimit(app, limit)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") == "PUT" and _UPLOAD_PATH.match(environ.get("PATH_INFO", "")):
            return self.app(environ, start_response)
        return self.limited(environ, start_response)


def read_body(environ: dict[str, Any], chunk_size: int = CHUNK) -> Iterator[bytes]:
    """The request body as chunks, straight from ``wsgi.input`` (Content-Length or chunked)."""
    stream = environ["wsgi.input"]
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    length_text = environ.get("CONTENT_LENGTH")
    remaining = None if chunked or not length_text else int(length_text)
    while remaining is None or remaining > 0:
        try:
            data = stream.read(chunk_size if remaining is None else min(chunk_size, remaining))
        except (OSError, ValueError) as err:
            raise ClientDisconnected(f"reading the request body failed: {err}") from None
        if not data:
            if remaining:
                raise ClientDisconnected(f"the client sent {int(length_text or 0) - remaining} of "
                                         f"{length_text} bytes")
            return
        if remaining is not None:
            remaining -= len(data)
        yield data


def patch_v20(operations: Any) -> Any:
    """A 2.0 patch (``{"<op>": "<path>", "value": ...}``) as the 2.1 operations the service reads.

    Anything but a list of objects is passed on for the service to refuse.

    :raises Invalid: an operation with no, or more than one, of add/remove/replace (400, as Glance).
    """
    if not isinstance(operations, list):
        return operations
    out: list[Any] = []
    for op in operations:
        if not isinstance(op, dict):
            out.append(op)
            continue
        named = [k for k in PATCH_OPS if k in op]
        if len(named) != 1:
            raise exception.Invalid(reason="Operation objects must contain exactly one member named "
                                           "\"add\", \"remove\", or \"replace\".")
        kind = named[0]
        out.append({"op": kind, "path": op[kind], **{k: v for k, v in op.items() if k != kind}})
    return out


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(offset, length) of a single ``bytes=`` range; None for no/unusable Range (whole image).

    Not :func:`cumulo.utils.ranges.parse_range`: Glance answers 416 to a range
    whose last byte precedes its first (``bytes=5-3``) where RFC 7233 and the
    shared parser ignore the header (200), and it takes no multi-range header.
    """
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # multiple or malformed ranges: serve the whole image (RFC 9110 allows ignoring)
    if m.group(1):
        start = int(m.group(1))
        end = int(m.group(2)) if m.group(2) else size - 1
    else:
        start, end = max(0, size - int(m.group(2))), size - 1
    if start >= size or start > end:
        raise _Unsatisfiable(size)
    return start, min(end, size - 1) - start + 1


class _Unsatisfiable(Exception):
    def __init__(self, size: int) -> None:
        self.size = size


class ImageAPI:
    """Handlers of the Image API v2, calling ``hub.image``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.router = Router()
        r = self.router
        r.add("GET", "/", self.versions_multiple)
        r.add("GET", "/versions", self.versions)
        r.add("GET", "/v2", self.versions)
        r.add("GET", "/v2/", self.versions)
        r.add("GET", "/v2/schemas/image", lambda req: schemas.image_schema())
        r.add("GET", "/v2/schemas/images", lambda req: schemas.images_schema())
        r.add("GET", "/v2/schemas/member", lambda req: schemas.member_schema())
        r.add("GET", "/v2/schemas/members", lambda req: schemas.members_schema())
        r.add("GET", "/v2/info/import", self.import_info)
        r.add("GET", "/v2/info/stores", self.stores_info)
        r.add("GET", "/v2/images", self.list_images)
        r.add("POST", "/v2/images", self.create_image)
        r.add("GET", "/v2/images/{image_id}", self.show_image)
        r.add("PATCH", "/v2/images/{image_id}", self.update_image)
        r.add("DELETE", "/v2/images/{image_id}", self.delete_image)
        r.add("PUT", "/v2/images/{image_id}/file", self.upload)
        r.add("GET", "/v2/images/{image_id}/file", self.download)
        r.add("PUT", "/v2/images/{image_id}/stage", self.stage)
        r.add("POST", "/v2/images/{image_id}/import", self.import_image)
        r.add("GET", "/v2/images/{image_id}/tasks", self.image_tasks)
        r.add("DELETE", "/v2/stores/{store_id}/{image_id}", self.delete_from_store)
        r.add("POST", "/v2/images/{image_id}/actions/deactivate", self.deactivate)
        r.add("POST", "/v2/images/{image_id}/actions/reactivate", self.reactivate)
        r.add("PUT", "/v2/images/{image_id}/tags/{tag}", self.add_tag)
        r.add("DELETE", "/v2/images/{image_id}/tags/{tag}", self.delete_tag)
        r.add("GET", "/v2/images/{image_id}/members", self.list_members)
        r.add("POST", "/v2/images/{image_id}/members", self.add_member)
        r.add("GET", "/v2/images/{image_id}/members/{member_id}", self.show_member)
        r.add("PUT", "/v2/images/{image_id}/members/{member_id}", self.update_member)
        r.add("DELETE", "/v2/images/{image_id}/members/{member_id}", self.delete_member)
        r.add("POST", "/v2/images/{image_id}/locations", self.add_location)
        MetadefsAPI(hub).add_routes(r)
        TasksAPI(hub).add_routes(r)

    @property
    def images(self) -> Any:
        return self.hub.image

    # -- discovery
    def _versions_doc(self, req: Request) -> dict[str, Any]:
        href = req.application_url.rstrip("/") + "/v2/"
        return {"versions": [{"id": f"v{v}", "status": s, "links": [{"rel": "self", "href": href}]}
                             for v, s in VERSIONS]}

    def versions_multiple(self, req: Request) -> tuple[int, dict[str, Any]]:
        return 300, self._versions_doc(req)

    def versions(self, req: Request) -> dict[str, Any]:
        return self._versions_doc(req)

    def import_info(self, req: Request) -> dict[str, Any]:
        return {"import-methods": {"description": "Import methods available.", "type": "array",
                                   "value": self.images.import_methods()}}

    def stores_info(self, req: Request) -> dict[str, Any]:
        default = self.conf.image.default_store
        return {"stores": [{"id": name, "description": f"Cumulo '{name}' image store",
                            **({"default": True} if name == default else {}),
                            **({} if self._writable(name) else {"read-only": "true"})}
                           for name in self.images.enabled_stores()]}

    def _writable(self, name: str) -> bool:
        """Whether the store takes data (Glance marks the others, http, ``read-only``)."""
        try:
            return bool(self.images.store(name).writable)
        except Exception:  # a store that does not load takes nothing either
            return False

    # -- images
    def list_images(self, req: Request) -> dict[str, Any]:
        max_limit = self.conf.api.max_limit
        limit = req.int_param("limit", 25, minimum=0)
        limit = min(limit if limit is not None else 25, max_limit)
        marker = req.GET.get("marker") or None
        sort = self._sort(req)
        filters: dict[str, Any] = {}
        for key, value in req.GET.items():
            if key in LIST_PARAMS:
                continue
            filters[key] = value
        tags = req.GET.getall("tag")
        if tags:
            filters["tag"] = tags
        found = self.images.list(req.context, filters, limit=limit, marker=marker, sort=sort)
        body: dict[str, Any] = {"images": [image_view(i) for i in found], "first": "/v2/images",
                                "schema": "/v2/schemas/images"}
        if found and len(found) == limit:
            params = [(k, v) for k, v in req.GET.items() if k not in ("marker", "limit")]
            params += [("limit", str(limit)), ("marker", found[-1]["id"])]
            body["next"] = "/v2/images?" + urlencode(params)
        if req.GET:
            body["first"] = "/v2/images?" + urlencode([(k, v) for k, v in req.GET.items() if k != "marker"])
        return body

    @staticmethod
    def _sort(req: Request) -> list[tuple[str, str]]:
        if "sort" in req.GET:
            if "sort_key" in req.GET or "sort_dir" in req.GET:
                raise exception.Invalid(reason="The 'sort' parameter cannot be combined with sort_key/sort_dir.")
            out = []
            for item in req.GET["sort"].split(","):
                key, _, direction = item.strip().partition(":")
                out.append((key.strip(), (direction or "desc").strip().lower()))
            return out
        keys = req.GET.getall("sort_key") or ["created_at"]
        dirs = [d.lower() for d in req.GET.getall("sort_dir")]
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise exception.Invalid(reason="Give one sort_dir, or one per sort_key.")
        if not dirs:
            dirs = ["desc"]
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        return list(zip(keys, dirs, strict=True))

    def create_image(self, req: Request) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = req.json_body_or_fault()
        if not isinstance(body, dict):
            raise exception.Invalid(reason="The request body must be a JSON object of image attributes.")
        image = self.images.create(req.context, body)
        headers = {"Location": f"{req.application_url}/v2/images/{image['id']}"}
        methods = self.images.import_methods()
        if methods:  # what clients read to choose an import method (openstacksdk's image_import_methods)
            headers["OpenStack-image-import-methods"] = ",".join(methods)
        return 201, image_view(image), headers

    def show_image(self, req: Request, image_id: str) -> dict[str, Any]:
        return image_view(self.images.get(req.context, image_id))

    def update_image(self, req: Request, image_id: str) -> dict[str, Any] | webob.Response:
        ctype = (req.content_type or "").lower()
        if ctype not in PATCH_TYPES:
            # Glance's 415 names the patch media types it takes in Accept-Patch (RFC 5789).
            message = (f"Content type '{ctype or 'none'}' is not supported for PATCH; use "
                       f"{PATCH_V21} or {PATCH_V20}.")
            resp = webob.Response(status=415, content_type="application/json", charset="UTF-8",
                                  json_body=glance_fault(415, "Unsupported Media Type", message, None))
            resp.headers["Accept-Patch"] = ", ".join(sorted((PATCH_V20, PATCH_V21)))
            return resp
        ops = req.json_body_or_fault()
        if ctype == PATCH_V20:
            ops = patch_v20(ops)
        return image_view(self.images.patch(req.context, image_id, ops))

    def delete_image(self, req: Request, image_id: str) -> None:
        self.images.delete(req.context, image_id)

    def deactivate(self, req: Request, image_id: str) -> None:
        self.images.deactivate(req.context, image_id)

    def reactivate(self, req: Request, image_id: str) -> None:
        self.images.reactivate(req.context, image_id)

    def add_location(self, req: Request, image_id: str) -> tuple[int, None]:
        body = validate(req.json_body_or_fault(), schemas.ADD_LOCATION)
        self.images.add_location(req.context, image_id, body["url"], body.get("validation_data"))
        return 202, None

    # -- data
    @staticmethod
    def _data_size(req: Request) -> int | None:
        """The declared size of image data sent (415 unless octet-stream): X-OpenStack-Image-Size, else
        Content-Length unless chunked."""
        ctype = (req.content_type or "").lower()
        if ctype != "application/octet-stream":
            raise exception.UnsupportedMediaType(
                reason=f"Content type '{ctype or 'none'}' is not supported for image data; "
                       "use application/octet-stream.")
        chunked = "chunked" in req.headers.get("Transfer-Encoding", "").lower()
        declared = req.headers.get("X-OpenStack-Image-Size")
        if declared is None and not chunked:
            declared = req.headers.get("Content-Length")
        if declared is not None and not declared.strip().isdigit():
            raise exception.ValidationError(field="X-OpenStack-Image-Size", reason=f"'{declared}' is not a size in bytes")
        return int(declared) if declared is not None else None

    def upload(self, req: Request, image_id: str) -> None:
        size = self._data_size(req)
        checksum = self._content_md5(req.headers.get("Content-MD5"))
        try:
            self.images.upload(req.context, image_id, read_body(req.environ), size=size, checksum=checksum)
        except ClientDisconnected as err:
            raise exception.Invalid(reason=f"The upload was incomplete: {err}") from None

    # -- interoperable import
    def stage(self, req: Request, image_id: str) -> None:
        """``PUT /v2/images/{id}/stage``: the data for a glance-direct import (204)."""
        size = self._data_size(req)
        try:
            self.images.stage(req.context, image_id, read_body(req.environ), size=size)
        except ClientDisconnected as err:
            raise exception.Invalid(reason=f"The staged data was incomplete: {err}") from None

    def import_image(self, req: Request, image_id: str) -> tuple[int, None]:
        """``POST /v2/images/{id}/import``: 202, the import runs in the background."""
        self.images.import_image(req.context, image_id, req.json_body_or_fault())
        return 202, None

    def delete_from_store(self, req: Request, store_id: str, image_id: str) -> None:
        """``DELETE /v2/stores/{store_id}/{image_id}`` (Image API 2.10): never the last copy."""
        self.images.delete_from_store(req.context, store_id, image_id)

    def image_tasks(self, req: Request, image_id: str) -> dict[str, Any]:
        """``GET /v2/images/{id}/tasks`` (Image API 2.12): the image's import tasks."""
        return {"tasks": self.images.image_tasks(req.context, image_id)}

    @staticmethod
    def _content_md5(value: str | None) -> str | None:
        if not value:
            return None
        value = value.strip()
        if re.fullmatch(r"[0-9a-fA-F]{32}", value):
            return value.lower()
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 16:
            raise exception.ValidationError(field="Content-MD5", reason="is neither a hex nor a base64 md5 digest")
        return raw.hex()

    def download(self, req: Request, image_id: str) -> webob.Response:
        image = self.images.get(req.context, image_id)
        size = image.get("size") or 0
        try:
            rng = _parse_range(req.headers.get("Range"), size) if image.get("location") else None
        except _Unsatisfiable as err:
            return webob.Response(status=416, headers={"Content-Range": unsatisfied_range(err.size)},
                                  content_type="application/octet-stream", body=b"")
        offset, length = rng if rng else (0, None)
        image, data = self.images.open_data(req.context, image_id, offset, length)
        if data is None:
            return webob.Response(status=204, content_type=None, body=b"")
        resp = webob.Response(status=206 if rng else 200, content_type="application/octet-stream")
        resp.headers["Accept-Ranges"] = "bytes"
        resp.app_iter = data
        if rng:
            offset, length = rng
            resp.content_length = length
            resp.headers["Content-Range"] = content_range(offset, offset + length, size)
        else:
            if image.get("size") is not None:
                resp.content_length = image["size"]
            if image.get("checksum"):
                resp.headers["Content-MD5"] = image["checksum"]
        return resp

    # -- tags
    def add_tag(self, req: Request, image_id: str, tag: str) -> None:
        if not 0 < len(tag) <= 255:
            raise exception.ValidationError(field="tag", reason="must be 1 to 255 characters")
        self.images.add_tag(req.context, image_id, tag)

    def delete_tag(self, req: Request, image_id: str, tag: str) -> None:
        self.images.delete_tag(req.context, image_id, tag)

    # -- members
    def list_members(self, req: Request, image_id: str) -> dict[str, Any]:
        return {"members": [member_view(m) for m in self.images.list_members(req.context, image_id)],
                "schema": "/v2/schemas/members"}

    def add_member(self, req: Request, image_id: str) -> dict[str, Any]:
        body = validate(req.json_body_or_fault(), schemas.CREATE_MEMBER)
        return member_view(self.images.add_member(req.context, image_id, body["member"]))

    def show_member(self, req: Request, image_id: str, member_id: str) -> dict[str, Any]:
        return member_view(self.images.get_member(req.context, image_id, member_id))

    def update_member(self, req: Request, image_id: str, member_id: str) -> dict[str, Any]:
        body = validate(req.json_body_or_fault(), schemas.UPDATE_MEMBER)
        return member_view(self.images.update_member(req.context, image_id, member_id, body["status"]))

    def delete_member(self, req: Request, image_id: str, member_id: str) -> None:
        self.images.delete_member(req.context, image_id, member_id)


class _DiscoveryWithoutAuth:
    """Version discovery answers without a token (keystoneauth asks before it has one)."""

    def __init__(self, public: Callable[..., Any], protected: Callable[..., Any]) -> None:
        self.public, self.protected = public, protected

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and path in ("/", "/versions", "/v2", "/v2/"):
            return self.public(environ, start_response)
        return self.protected(environ, start_response)


def build(hub: Any) -> Callable[..., Any]:
    """The whole app: discovery open to all, the rest behind auth, faults in Glance's shape."""
    api = ImageAPI(hub)
    limit = hub.conf.api.max_request_body_size
    protected = pipeline(SelectiveBodyLimit(api.router, limit), renderer=glance_fault,
                         validate=hub.token_validator(), token_cache_seconds=hub.conf.api.token_cache_time)
    public = pipeline(api.router, renderer=glance_fault, max_body=limit)
    return _DiscoveryWithoutAuth(public, protected)
