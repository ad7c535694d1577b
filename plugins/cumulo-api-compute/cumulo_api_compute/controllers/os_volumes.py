"""The volume proxies ``/os-volumes`` and ``/os-snapshots`` (below 2.36), as Nova has them.

Nova's volumes extension forwards these to Cinder; Cumulo calls the volume area through its contract
(:class:`cumulo.contracts.volume.VolumeContract`, 1.1). Nova's legacy view spells the keys in camel
case (``displayName``, ``availabilityZone``, ``createdAt``...) and shows a volume attached to no
server with ``attachments: [{}]``. From microversion 2.36 these paths are 404.
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.contracts import volume as vol
from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v

_TEXT = {"type": ["string", "null"]}
#: Nova's ``volumes.create`` body (additional properties refused).
VOLUME_CREATE = {"type": "object", "properties": {"volume": {
    "type": "object", "properties": {
        "volume_type": _TEXT, "metadata": {"type": "object", "additionalProperties": {"type": "string",
                                                                                      "maxLength": 255}},
        "snapshot_id": _TEXT,
        "size": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1, "maximum": 2147483647},
        "availability_zone": _TEXT, "display_name": _TEXT, "display_description": _TEXT},
    "required": ["size"], "additionalProperties": False}},
    "required": ["volume"], "additionalProperties": False}
#: Nova's ``snapshots.create`` body.
SNAPSHOT_CREATE = {"type": "object", "properties": {"snapshot": {
    "type": "object", "properties": {
        "volume_id": {"type": "string"}, "force": {"type": ["boolean", "string"]},
        "display_name": _TEXT, "display_description": _TEXT},
    "required": ["volume_id"], "additionalProperties": False}},
    "required": ["snapshot"], "additionalProperties": False}

_TRUE, _FALSE = ("1", "t", "true", "on", "y", "yes"), ("0", "f", "false", "off", "n", "no")


def volume_view(record: vol.VolumeRecord) -> dict[str, Any]:
    """A volume in Nova's legacy shape (the same in the list, the detail list and show)."""
    attached = [a for a in record.attachments if a.attach_status == "attached"]
    attachments: list[dict[str, Any]] = []
    for a in attached:
        item = {"id": record.id, "volumeId": record.id, "serverId": a.server_id}
        if a.mountpoint:
            item["device"] = a.mountpoint
        attachments.append(item)
    return {"id": record.id, "status": record.status, "size": record.size_gib,
            "availabilityZone": record.availability_zone, "createdAt": record.created_at,
            "attachments": attachments or [{}], "displayName": record.name or None,
            "displayDescription": record.description, "volumeType": record.volume_type,
            "snapshotId": record.snapshot_id, "metadata": dict(record.metadata)}


def snapshot_view(record: vol.SnapshotRecord) -> dict[str, Any]:
    """A snapshot in Nova's legacy shape."""
    return {"id": record.id, "volumeId": record.volume_id, "status": record.status, "size": record.size_gib,
            "createdAt": record.created_at, "displayName": record.name or None,
            "displayDescription": record.description}


def _bool(value: Any, field: str) -> bool:
    """Nova's strict ``bool_from_string``. :raises ValidationError: neither a boolean nor one spelled as a string."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise exception.ValidationError(field=field, reason=f"'{value}' is not a boolean")


class OSVolumesController(Controller):
    """``/os-volumes[/detail|/{id}]`` and ``/os-snapshots[/detail|/{id}]``."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-volumes", self.index),
                ("GET", "/os-volumes/detail", self.index),
                ("POST", "/os-volumes", self.create),
                ("GET", "/os-volumes/{volume_id}", self.show),
                ("DELETE", "/os-volumes/{volume_id}", self.delete),
                ("GET", "/os-snapshots", self.snapshots),
                ("GET", "/os-snapshots/detail", self.snapshots),
                ("POST", "/os-snapshots", self.create_snapshot),
                ("GET", "/os-snapshots/{snapshot_id}", self.show_snapshot),
                ("DELETE", "/os-snapshots/{snapshot_id}", self.delete_snapshot)]

    def _vol(self, req: Request, rule: str) -> vol.VolumeContract:
        """The volume area, for ``rule`` at a microversion below 2.36.

        :raises Forbidden: the policy refuses.
        :raises NotFound: microversion 2.36 or later, or no volume service.
        """
        if self.ver(req) >= v("2.36"):
            raise exception.NotFound("The volume proxies are not available from microversion 2.36.")
        self.authorize(req, rule)
        try:
            service: vol.VolumeContract = self.hub.volume
        except LookupError:
            raise exception.NotFound("This cloud runs no volume service.") from None
        return service

    @staticmethod
    def _limited(req: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Nova's ``common.limited``: ``offset`` then ``limit`` (400 for a negative or non-integer one)."""
        offset = req.int_param("offset", 0, minimum=0) or 0
        limit = req.int_param("limit", None, minimum=0)
        items = items[offset:]
        return items if limit is None else items[:limit]

    # -- volumes

    def index(self, req: Request) -> dict[str, Any]:
        detail = req.path_info.rstrip("/").endswith("/detail")
        service = self._vol(req, policies.OS_VOLUMES["detail" if detail else "list"])
        items = [volume_view(r) for r in service.list_volumes(req.context)]
        return {"volumes": self._limited(req, items)}

    def show(self, req: Request, volume_id: str) -> dict[str, Any]:
        service = self._vol(req, policies.OS_VOLUMES["show"])
        return {"volume": volume_view(service.get_volume(req.context, volume_id))}

    def create(self, req: Request) -> dict[str, Any]:
        service = self._vol(req, policies.OS_VOLUMES["create"])
        body = self.body(req, VOLUME_CREATE)["volume"]
        size = int(body["size"])
        if size < 1:
            raise exception.ValidationError(field="size", reason="must be at least 1")
        spec = vol.NewVolume(size_gib=size, name=body.get("display_name") or "",
                             description=body.get("display_description"), volume_type=body.get("volume_type"),
                             availability_zone=body.get("availability_zone"), snapshot_id=body.get("snapshot_id"),
                             metadata=dict(body.get("metadata") or {}))
        try:
            made = service.create_volume(req.context, spec)
        except exception.QuotaExceeded as err:  # Nova answers an over-quota volume with 403
            raise exception.Forbidden(err.message) from None
        return {"volume": volume_view(made)}

    def delete(self, req: Request, volume_id: str) -> Any:
        service = self._vol(req, policies.OS_VOLUMES["delete"])
        service.get_volume(req.context, volume_id)  # 404 for an unknown one (delete_volume ignores it)
        try:
            service.delete_volume(req.context, volume_id)
        except vol.VolumeNotAvailable as err:  # attached, or with snapshots: Nova's 400
            raise exception.Invalid(reason=err.message) from None
        return 202, None

    # -- snapshots

    def snapshots(self, req: Request) -> dict[str, Any]:
        detail = req.path_info.rstrip("/").endswith("/detail")
        service = self._vol(req, policies.OS_SNAPSHOTS["detail" if detail else "list"])
        items = [snapshot_view(r) for r in service.list_volume_snapshots(req.context)]
        return {"snapshots": self._limited(req, items)}

    def show_snapshot(self, req: Request, snapshot_id: str) -> dict[str, Any]:
        service = self._vol(req, policies.OS_SNAPSHOTS["show"])
        return {"snapshot": snapshot_view(service.get_volume_snapshot(req.context, snapshot_id))}

    def create_snapshot(self, req: Request) -> dict[str, Any]:
        service = self._vol(req, policies.OS_SNAPSHOTS["create"])
        body = self.body(req, SNAPSHOT_CREATE)["snapshot"]
        force = _bool(body.get("force", False), "force")
        try:
            made = service.create_volume_snapshot(req.context, body["volume_id"], name=body.get("display_name") or "",
                                                  description=body.get("display_description"), force=force)
        except exception.QuotaExceeded as err:
            raise exception.Forbidden(err.message) from None
        return {"snapshot": snapshot_view(made)}

    def delete_snapshot(self, req: Request, snapshot_id: str) -> Any:
        service = self._vol(req, policies.OS_SNAPSHOTS["delete"])
        try:
            service.delete_volume_snapshot(req.context, snapshot_id)
        except vol.VolumeNotAvailable as err:
            raise exception.Invalid(reason=err.message) from None
        return 202, None
