"""The image proxy (``/images``, below microversion 2.36) and image metadata (below 2.39), as Nova has them.

Nova forwards these to the Image service; Cumulo calls the image area (``hub.image``, whose values
and errors are :mod:`cumulo.contracts.image`'s). Glance's statuses are shown as Nova shows them
(``SAVING`` with a ``progress``), the extra properties as ``metadata``, and a snapshot names its
server.
"""

from __future__ import annotations

import datetime
from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route, ref
from cumulo_api_compute.views import links, v

#: Nova's status of an image for each Glance status (any other is ``UNKNOWN``).
STATUS = {"active": "ACTIVE", "queued": "SAVING", "saving": "SAVING", "deleted": "DELETED",
          "pending_delete": "DELETED", "killed": "ERROR"}
#: Nova's ``progress`` of an image for each Glance status (any other is 0).
PROGRESS = {"queued": 25, "saving": 50, "active": 100}
#: The query parameters Nova passes on, and the image area's filter each one is.
FILTERS = {"name": "name", "status": "status", "server": "instance_uuid", "type": "image_type"}
_META = {"type": "object", "properties": {"metadata": {
    "type": "object", "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False}}, "required": ["metadata"], "additionalProperties": False}
_META_ITEM = {"type": "object", "properties": {"meta": {
    "type": "object", "patternProperties": {"^.{1,255}$": {"type": "string", "maxLength": 255}},
    "additionalProperties": False}}, "required": ["meta"], "additionalProperties": False}


def _time(value: Any) -> str:
    """Nova's time format (``2026-01-02T03:04:05Z``) of the image area's ISO times."""
    if not value:
        return ""
    try:
        when = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def image_links(base: str, image_id: str) -> list[dict[str, str]]:
    """``self`` and ``bookmark`` links of an image in the compute API."""
    return links(base, "images", image_id)


def image_brief(base: str, image: dict[str, Any]) -> dict[str, Any]:
    """An image in a brief list: id, name and links."""
    return {"id": image["id"], "name": image.get("name"), "links": image_links(base, image["id"])}


def image_detail(base: str, image: dict[str, Any]) -> dict[str, Any]:
    """An image in Nova's shape (``GET /images/{id}``, ``/images/detail``)."""
    props = dict(image.get("properties") or {})
    out: dict[str, Any] = {
        "id": image["id"], "name": image.get("name"), "minRam": int(image.get("min_ram") or 0),
        "minDisk": int(image.get("min_disk") or 0), "metadata": props,
        "created": _time(image.get("created_at")), "updated": _time(image.get("updated_at")),
        "status": STATUS.get(image.get("status", ""), "UNKNOWN"), "progress": PROGRESS.get(image.get("status", ""), 0),
        "OS-EXT-IMG-SIZE:size": image.get("size"), "links": image_links(base, image["id"]),
    }
    server = props.get("instance_uuid")
    if server:
        out["server"] = {"id": server, "links": links(base, "servers", server)}
    auto = props.get("auto_disk_config")
    if auto is not None:
        out["OS-DCF:diskConfig"] = "AUTO" if str(auto).strip().lower() in ("1", "true", "yes", "on") else "MANUAL"
    return out


class ImagesController(Controller):
    """``/images``, ``/images/detail``, ``/images/{image_id}`` and ``/images/{image_id}/metadata[/{key}]``."""

    def routes(self) -> list[Route]:
        return [("GET", "/images", self.index),
                ("GET", "/images/detail", self.detail),
                ("GET", "/images/{image_id}", self.show),
                ("DELETE", "/images/{image_id}", self.delete),
                ("GET", "/images/{image_id}/metadata", self.meta_index),
                ("POST", "/images/{image_id}/metadata", self.meta_update),
                ("PUT", "/images/{image_id}/metadata", self.meta_replace),
                ("GET", "/images/{image_id}/metadata/{key}", self.meta_show),
                ("PUT", "/images/{image_id}/metadata/{key}", self.meta_set),
                ("DELETE", "/images/{image_id}/metadata/{key}", self.meta_delete)]

    def _images(self, req: Request, last: str = "2.35") -> Any:
        """``hub.image`` for a request at a microversion up to ``last``.

        :raises NotFound: a later microversion (Nova removed the proxy), or no image service.
        """
        if self.ver(req) > v(last):
            raise exception.NotFound(f"The image proxy API is not available after microversion {last}.")
        try:
            return self.hub.image
        except LookupError:
            raise exception.NotFound("This cloud runs no image service.") from None

    # -- images

    def _list(self, req: Request, brief: bool) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        images = self._images(req)
        filters: dict[str, Any] = {}
        for param, key in FILTERS.items():
            value = req.GET.get(param)
            if value:
                # A server may be given as its URL (Nova takes the last segment); Glance's statuses are lowercase.
                filters[key] = ref(value) if param == "server" else value.lower() if param == "status" else value
        since = req.GET.get("changes-since")
        if since:
            try:
                datetime.datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise exception.ValidationError(field="changes-since", reason=f"{since!r} is not an ISO 8601 time") \
                    from None
            filters["updated_at"] = "gte:" + since
        limit = req.int_param("limit", None, minimum=0)
        found = images.list(req.context, filters, limit=limit, marker=req.GET.get("marker") or None)
        base = self.base(req)
        items = [image_brief(base, i) if brief else image_detail(base, i) for i in found]
        return self.paged(req, items, limit if limit is not None else -1, "images",
                          "images" if brief else "images/detail")

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    def show(self, req: Request, image_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"image": image_detail(self.base(req), self._images(req).get(req.context, image_id))}

    def delete(self, req: Request, image_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        self._images(req).delete(req.context, image_id)
        return 204, None

    # -- metadata (the image's extra properties)

    def _props(self, req: Request, image_id: str) -> tuple[Any, dict[str, Any]]:
        images = self._images(req, "2.38")
        return images, dict(images.get(req.context, image_id).get("properties") or {})

    def _check_count(self, req: Request, count: int) -> None:
        """As Nova: an image's metadata is limited by the project's ``metadata_items`` quota (``maxImageMeta``).

        :raises Forbidden: ``count`` items are more than the limit.
        """
        limit = self.compute.quota_set(req.context, req.context.project_id or "")["metadata_items"]
        if 0 <= limit < count:
            raise exception.Forbidden(f"Quota exceeded for metadata items: at most {limit} per image.")

    def meta_index(self, req: Request, image_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"metadata": self._props(req, image_id)[1]}

    def meta_update(self, req: Request, image_id: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        images, props = self._props(req, image_id)
        meta = self.body(req, _META)["metadata"]
        self._check_count(req, len({**props, **meta}))
        image = images.update(req.context, image_id, meta)
        return {"metadata": dict(image.get("properties") or {})}

    def meta_replace(self, req: Request, image_id: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        images, props = self._props(req, image_id)
        meta = self.body(req, _META)["metadata"]
        self._check_count(req, len(meta))
        image = images.update(req.context, image_id, meta, [k for k in props if k not in meta])
        return {"metadata": dict(image.get("properties") or {})}

    def meta_show(self, req: Request, image_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        props = self._props(req, image_id)[1]
        if key not in props:
            raise exception.NotFound(f"Image {image_id} has no metadata item {key}.")
        return {"meta": {key: props[key]}}

    def meta_set(self, req: Request, image_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        images, props = self._props(req, image_id)
        meta = validate(req.json_body_or_fault(), _META_ITEM)["meta"]
        if len(meta) != 1:
            raise exception.Invalid(reason="Request body contains too many items" if meta else
                                    "Request body is empty")
        if key not in meta:
            raise exception.Invalid(reason="Request body and URI mismatch")
        self._check_count(req, len({**props, **meta}))
        images.update(req.context, image_id, meta)
        return {"meta": meta}

    def meta_delete(self, req: Request, image_id: str, key: str) -> Any:
        self.authorize(req, policies.OWNER)
        images, props = self._props(req, image_id)
        if key not in props:
            raise exception.NotFound(f"Image {image_id} has no metadata item {key}.")
        images.update(req.context, image_id, {}, [key])
        return 204, None
