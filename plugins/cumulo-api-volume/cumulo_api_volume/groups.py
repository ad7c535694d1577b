"""Generic volume groups: ``/group_types`` (3.11, group specs), ``/groups`` (3.13; ``create-from-src`` 3.14,
``reset_status`` 3.20) and ``/group_snapshots`` (3.14; ``reset_status`` 3.19), as Cinder shapes them."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, Router
from cumulo_api_volume.controllers_common import body_object, links, list_args, project_ctx
from cumulo_api_volume.microversion import at_least


def _need(req: Request, version: str, what: str) -> None:
    if not at_least(req.environ, version):
        raise exception.NotFound(f"The resource {req.path_info} could not be found ({what} needs microversion "
                                 f"{version}).")


def _action(req: Request) -> tuple[str, dict[str, Any]]:
    body = req.json_body_or_fault()
    if not isinstance(body, dict) or len(body) != 1:
        raise exception.Invalid(reason="An action body is a JSON object with exactly one action.")
    action, args = next(iter(body.items()))
    if args is None:
        args = {}
    if not isinstance(args, dict):
        raise exception.ValidationError(field=action, reason="must be an object")
    return action, args


class GroupsController:
    def __init__(self, hub: Any) -> None:
        self.hub = hub

    @property
    def svc(self) -> Any:
        return self.hub.volume

    def add_routes(self, r: Router, root: str) -> None:
        t = root + "/group_types"
        r.add("GET", t, self.list_types)
        r.add("POST", t, self.create_type)
        r.add("GET", t + "/{type_id}", self.show_type)
        r.add("PUT", t + "/{type_id}", self.update_type)
        r.add("DELETE", t + "/{type_id}", self.delete_type)
        r.add("GET", t + "/{type_id}/group_specs", self.list_specs)
        r.add("POST", t + "/{type_id}/group_specs", self.create_specs)
        r.add("GET", t + "/{type_id}/group_specs/{key}", self.show_spec)
        r.add("PUT", t + "/{type_id}/group_specs/{key}", self.update_spec)
        r.add("DELETE", t + "/{type_id}/group_specs/{key}", self.delete_spec)
        g = root + "/groups"
        r.add("GET", g, self.list_groups)
        r.add("GET", g + "/detail", self.list_groups_detail)
        r.add("POST", g, self.create_group)
        r.add("POST", g + "/action", self.groups_action)
        r.add("GET", g + "/{group_id}", self.show_group)
        r.add("PUT", g + "/{group_id}", self.update_group)
        r.add("POST", g + "/{group_id}/action", self.group_action)
        s = root + "/group_snapshots"
        r.add("GET", s, self.list_snapshots)
        r.add("GET", s + "/detail", self.list_snapshots_detail)
        r.add("POST", s, self.create_snapshot)
        r.add("GET", s + "/{snapshot_id}", self.show_snapshot)
        r.add("DELETE", s + "/{snapshot_id}", self.delete_snapshot)
        r.add("POST", s + "/{snapshot_id}/action", self.snapshot_action)

    # -- group types (3.11)
    def _types(self, req: Request, project_id: str) -> Any:
        _need(req, "3.11", "group types")
        return project_ctx(req, project_id)

    def list_types(self, req: Request, project_id: str) -> dict[str, Any]:
        ctx = self._types(req, project_id)
        sort = {k: req.GET[k] for k in ("sort", "sort_key", "sort_dir") if k in req.GET}
        return {"group_types": self.svc.list_group_types(ctx, req.GET.get("is_public"), sort)}

    def create_type(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._types(req, project_id)
        f = body_object(req, "group_type")
        made = self.svc.create_group_type(ctx, f.get("name"), f.get("description"), f.get("is_public", True),
                                          f.get("group_specs"))
        return 202, {"group_type": made}

    def show_type(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        return {"group_type": self.svc.get_group_type(self._types(req, project_id), type_id)}

    def update_type(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        ctx = self._types(req, project_id)
        return {"group_type": self.svc.update_group_type(ctx, type_id, body_object(req, "group_type"))}

    def delete_type(self, req: Request, project_id: str, type_id: str) -> tuple[int, None]:
        self.svc.delete_group_type(self._types(req, project_id), type_id)
        return 202, None

    def list_specs(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        return {"group_specs": self.svc.group_specs(self._types(req, project_id), type_id)}

    def create_specs(self, req: Request, project_id: str, type_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._types(req, project_id)
        return 202, {"group_specs": self.svc.set_group_specs(ctx, type_id, body_object(req, "group_specs"))}

    def show_spec(self, req: Request, project_id: str, type_id: str, key: str) -> dict[str, Any]:
        return dict(self.svc.group_spec(self._types(req, project_id), type_id, key))

    def update_spec(self, req: Request, project_id: str, type_id: str, key: str) -> dict[str, Any]:
        ctx = self._types(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or set(body) != {key}:
            raise exception.Invalid(reason="The body must have exactly one key, the one in the URL.")
        return dict(self.svc.set_group_specs(ctx, type_id, body))

    def delete_spec(self, req: Request, project_id: str, type_id: str, key: str) -> tuple[int, None]:
        self.svc.delete_group_spec(self._types(req, project_id), type_id, key)
        return 202, None

    # -- groups (3.13)
    def _groups(self, req: Request, project_id: str, version: str = "3.13") -> Any:
        _need(req, version, "groups")
        return project_ctx(req, project_id)

    @staticmethod
    def _summary(req: Request, project_id: str, g: dict[str, Any], collection: str) -> dict[str, Any]:
        return {"id": g["id"], "name": g["name"], "links": links(req, project_id, collection, g["id"])}

    @staticmethod
    def _group(req: Request, g: dict[str, Any]) -> dict[str, Any]:
        out = {k: g[k] for k in ("id", "name", "description", "status", "availability_zone", "created_at",
                                 "group_type", "volume_types")}
        if at_least(req.environ, "3.14"):
            out.update(group_snapshot_id=g["group_snapshot_id"], source_group_id=g["source_group_id"])
        if at_least(req.environ, "3.25"):
            out["volumes"] = g["volumes"]
        if at_least(req.environ, "3.38"):
            out["replication_status"] = g["replication_status"]
        return out

    def _list(self, req: Request, project_id: str, detail: bool) -> dict[str, Any]:
        ctx = self._groups(req, project_id)
        a = list_args(req, int(self.hub.conf.api.max_limit))
        items, _ = self.svc.list_groups(ctx, a["filters"], a["sort_params"], limit=a["limit"], marker=a["marker"],
                                        offset=a["offset"])
        if detail:
            return {"groups": [self._group(req, g) for g in items]}
        return {"groups": [{"id": g["id"], "name": g["name"]} for g in items]}

    def list_groups(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._list(req, project_id, detail=False)

    def list_groups_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._list(req, project_id, detail=True)

    def create_group(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._groups(req, project_id)
        made = self.svc.create_group(ctx, body_object(req, "group"))
        return 202, {"group": {"id": made["id"], "name": made["name"]}}

    def groups_action(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._groups(req, project_id, "3.14")
        action, args = _action(req)
        if action != "create-from-src":
            raise exception.Invalid(reason=f"There is no such action: {action}")
        made = self.svc.create_group_from_source(ctx, args)
        return 202, {"group": {"id": made["id"], "name": made["name"]}}

    def show_group(self, req: Request, project_id: str, group_id: str) -> dict[str, Any]:
        ctx = self._groups(req, project_id)
        return {"group": self._group(req, self.svc.get_group(ctx, group_id))}

    def update_group(self, req: Request, project_id: str, group_id: str) -> tuple[int, None]:
        ctx = self._groups(req, project_id)
        self.svc.update_group(ctx, group_id, body_object(req, "group"))
        return 202, None

    def group_action(self, req: Request, project_id: str, group_id: str) -> tuple[int, None]:
        ctx = self._groups(req, project_id)
        action, args = _action(req)
        if action == "delete":
            self.svc.delete_group(ctx, group_id, args.get("delete-volumes", False))
        elif action == "reset_status":
            _need(req, "3.20", "reset_status of a group")
            if "status" not in args:
                raise exception.ValidationError(field="reset_status.status", reason="is required")
            self.svc.reset_group_status(ctx, group_id, args["status"])
        else:
            raise exception.Invalid(reason=f"There is no such action: {action}")
        return 202, None

    # -- group snapshots (3.14)
    def _snaps(self, req: Request, project_id: str) -> Any:
        _need(req, "3.14", "group snapshots")
        return project_ctx(req, project_id)

    @staticmethod
    def _snapshot(gs: dict[str, Any]) -> dict[str, Any]:
        return {k: gs[k] for k in ("id", "name", "description", "status", "created_at", "group_id",
                                   "group_type_id")}

    def _list_snaps(self, req: Request, project_id: str, detail: bool) -> dict[str, Any]:
        ctx = self._snaps(req, project_id)
        a = list_args(req, int(self.hub.conf.api.max_limit))
        items, _ = self.svc.list_group_snapshots(ctx, a["filters"], a["sort_params"], limit=a["limit"],
                                                 marker=a["marker"], offset=a["offset"])
        if detail:
            return {"group_snapshots": [self._snapshot(g) for g in items]}
        return {"group_snapshots": [{"id": g["id"], "name": g["name"]} for g in items]}

    def list_snapshots(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._list_snaps(req, project_id, detail=False)

    def list_snapshots_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._list_snaps(req, project_id, detail=True)

    def create_snapshot(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._snaps(req, project_id)
        f = body_object(req, "group_snapshot")
        made = self.svc.create_group_snapshot(ctx, f.get("group_id"), f.get("name"), f.get("description"))
        return 202, {"group_snapshot": {"id": made["id"], "name": made["name"],
                                        "group_type_id": made["group_type_id"]}}

    def show_snapshot(self, req: Request, project_id: str, snapshot_id: str) -> dict[str, Any]:
        ctx = self._snaps(req, project_id)
        return {"group_snapshot": self._snapshot(self.svc.get_group_snapshot(ctx, snapshot_id))}

    def delete_snapshot(self, req: Request, project_id: str, snapshot_id: str) -> tuple[int, None]:
        self.svc.delete_group_snapshot(self._snaps(req, project_id), snapshot_id)
        return 202, None

    def snapshot_action(self, req: Request, project_id: str, snapshot_id: str) -> tuple[int, None]:
        ctx = self._snaps(req, project_id)
        action, args = _action(req)
        if action != "reset_status":
            raise exception.Invalid(reason=f"There is no such action: {action}")
        _need(req, "3.19", "reset_status of a group snapshot")
        if "status" not in args:
            raise exception.ValidationError(field="reset_status.status", reason="is required")
        self.svc.reset_group_snapshot_status(ctx, snapshot_id, args["status"])
        return 202, None
