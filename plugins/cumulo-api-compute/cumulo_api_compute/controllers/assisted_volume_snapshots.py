"""``/os-assisted-volume-snapshots``: Cinder's file-based drivers asking Nova to snapshot an attached volume.

As Nova's API: the volume must be attached to a server (400 otherwise on create, 404 on delete);
the answer does not wait for the compute host, which Nova only casts to, and a host whose driver does
not do assisted snapshots (every Cumulo driver: the volume area snapshots its volumes itself) leaves
it at that. So an accepted call is answered as Nova answers it and changes nothing.
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.contracts import volume as vol
from cumulo.wsgi import Request
from cumulo.wsgi.request import parse_json
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route

#: Nova's create body.
CREATE = {"type": "object", "properties": {"snapshot": {
    "type": "object", "properties": {
        "volume_id": {"type": "string", "minLength": 1},
        "create_info": {"type": "object", "properties": {
            "snapshot_id": {"type": "string", "minLength": 1}, "type": {"type": "string", "enum": ["qcow2"]},
            "new_file": {"type": "string", "minLength": 1}, "id": {"type": "string", "minLength": 1}},
            "required": ["snapshot_id", "type", "new_file"], "additionalProperties": False}},
    "required": ["volume_id", "create_info"], "additionalProperties": False}},
    "required": ["snapshot"], "additionalProperties": False}


class AssistedVolumeSnapshotsController(Controller):
    """``POST /os-assisted-volume-snapshots`` and ``DELETE /os-assisted-volume-snapshots/{snapshot_id}``."""

    def routes(self) -> list[Route]:
        return [("POST", "/os-assisted-volume-snapshots", self.create),
                ("DELETE", "/os-assisted-volume-snapshots/{snapshot_id}", self.delete)]

    def _server_of(self, req: Request, volume_id: str) -> str | None:
        """The server the volume is attached to (None: attached to none, or no such volume)."""
        try:
            volumes: vol.VolumeContract = self.hub.volume
            found = volumes.get_volume(req.context.elevated(), volume_id)
        except (LookupError, exception.NotFound):
            return None
        attached = [a.server_id for a in found.attachments if a.attach_status == "attached" and a.server_id]
        return attached[0] if attached else None

    def create(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ASSISTED_SNAPSHOTS["create"])
        body = self.body(req, CREATE)["snapshot"]
        if self._server_of(req, body["volume_id"]) is None:
            raise exception.Invalid(reason=f"Volume {body['volume_id']} is not attached to any server.")
        return {"snapshot": {"id": body["create_info"]["snapshot_id"], "volumeId": body["volume_id"]}}

    def delete(self, req: Request, snapshot_id: str) -> Any:
        self.authorize(req, policies.ASSISTED_SNAPSHOTS["delete"])
        raw = req.GET.get("delete_info")
        if not raw:
            raise exception.ValidationError(field="delete_info", reason="is required")
        info = parse_json(raw)  # 400 naming what is wrong
        if not isinstance(info, dict) or not isinstance(info.get("volume_id"), str):
            raise exception.ValidationError(field="delete_info", reason="must name the volume_id")
        if self._server_of(req, info["volume_id"]) is None:
            raise exception.NotFound(f"Volume {info['volume_id']} is not attached to any server.")
        return 204, None
