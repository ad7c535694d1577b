"""Volume transfers: ``/os-volume-transfer`` (3.0) and ``/volume-transfers`` (3.55, with ``no_snapshots``;
3.57 adds ``source_project_id``, ``destination_project_id`` and ``accepted``)."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, Router
from cumulo_api_volume.controllers_common import body_object, links, list_args, project_ctx
from cumulo_api_volume.microversion import at_least

LEGACY = "os-volume-transfer"
CURRENT = "volume-transfers"


class TransfersController:
    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def add_routes(self, router: Router, root: str) -> None:
        for collection in (LEGACY, CURRENT):
            base = f"{root}/{collection}"
            router.add("GET", base, self._bind(self.index, collection))
            router.add("GET", base + "/detail", self._bind(self.detail, collection))
            router.add("POST", base, self._bind(self.create, collection))
            router.add("GET", base + "/{transfer_id}", self._bind(self.show, collection))
            router.add("DELETE", base + "/{transfer_id}", self._bind(self.delete, collection))
            router.add("POST", base + "/{transfer_id}/accept", self._bind(self.accept, collection))

    @staticmethod
    def _bind(handler: Any, collection: str) -> Any:
        def route(req: Request, **kwargs: Any) -> Any:
            if collection == CURRENT and not at_least(req.environ, "3.55"):
                raise exception.NotFound(f"The resource {req.path_info} could not be found (volume-transfers "
                                         "needs microversion 3.55).")
            return handler(req, collection=collection, **kwargs)
        return route

    @staticmethod
    def _view(req: Request, project_id: str, collection: str, t: dict[str, Any], detail: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"id": t["id"], "volume_id": t["volume_id"], "name": t["name"],
                               "links": links(req, project_id, collection, t["id"])}
        if detail:
            out["created_at"] = t["created_at"]
            if collection == CURRENT and at_least(req.environ, "3.55"):
                out["no_snapshots"] = t["no_snapshots"]
            if collection == CURRENT and at_least(req.environ, "3.57"):
                out.update(source_project_id=t["source_project_id"],
                           destination_project_id=t["destination_project_id"], accepted=t["accepted"])
        return out

    def _list(self, req: Request, project_id: str, collection: str, detail: bool) -> dict[str, Any]:
        ctx = project_ctx(req, project_id)
        args = list_args(req, int(self.hub.conf.api.max_limit))
        items, _ = self.hub.volume.list_transfers(ctx, args["filters"], args["sort_params"], limit=args["limit"],
                                                  marker=args["marker"], offset=args["offset"])
        return {"transfers": [self._view(req, project_id, collection, t, detail) for t in items]}

    def index(self, req: Request, project_id: str, collection: str) -> dict[str, Any]:
        return self._list(req, project_id, collection, detail=False)

    def detail(self, req: Request, project_id: str, collection: str) -> dict[str, Any]:
        return self._list(req, project_id, collection, detail=True)

    def create(self, req: Request, project_id: str, collection: str) -> tuple[int, dict[str, Any]]:
        ctx = project_ctx(req, project_id)
        fields = body_object(req, "transfer")
        no_snapshots = fields.get("no_snapshots", False) if collection == CURRENT else False
        made = self.hub.volume.create_transfer(ctx, fields.get("volume_id"), name=fields.get("name"),
                                               no_snapshots=no_snapshots)
        view = self._view(req, project_id, collection, made, detail=True)
        return 202, {"transfer": {**view, "auth_key": made["auth_key"]}}

    def show(self, req: Request, project_id: str, collection: str, transfer_id: str) -> dict[str, Any]:
        ctx = project_ctx(req, project_id)
        found = self.hub.volume.get_transfer(ctx, transfer_id)
        return {"transfer": self._view(req, project_id, collection, found, detail=True)}

    def delete(self, req: Request, project_id: str, collection: str, transfer_id: str) -> tuple[int, None]:
        self.hub.volume.delete_transfer(project_ctx(req, project_id), transfer_id)
        return 202, None

    def accept(self, req: Request, project_id: str, collection: str, transfer_id: str) -> tuple[int, dict[str, Any]]:
        ctx = project_ctx(req, project_id)
        fields = body_object(req, "accept")
        done = self.hub.volume.accept_transfer(ctx, transfer_id, fields.get("auth_key"))
        return 202, {"transfer": self._view(req, project_id, collection, done, detail=False)}
