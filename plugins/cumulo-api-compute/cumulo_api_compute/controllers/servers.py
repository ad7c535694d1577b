"""Servers: list (brief and detail, filtered, sorted, paged), show, create, update, delete."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo import exception
from cumulo.contracts.compute import ServerGroupService, ServerView
from cumulo.utils.passwords import generate_password
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, ref
from cumulo_api_compute.views import v

_FILTERS = ("name", "status", "host", "image", "flavor", "key_name", "availability_zone", "reservation_id",
            "changes-since", "tags", "tags-any", "not-tags", "not-tags-any", "project_id", "tenant_id",
            "user_id", "node", "vm_state", "task_state")
_ADMIN_FILTERS = ("host", "node", "project_id", "tenant_id", "user_id")


def server_view(compute: ServerGroupService, req: Request, inst: ServerView) -> dict[str, Any]:
    """One server in detail at the request's microversion (2.71 adds its server group)."""
    ver = Controller.ver(req)
    groups = None
    if ver >= v("2.71"):
        g = compute.server_group_of(req.context, inst["uuid"])
        groups = [g] if g else []
    return views.server_detail(Controller.base(req), inst, ver, req.context.is_admin, groups)


class ServersController(Controller):
    """``/servers`` and ``/servers/{server_id}``."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers", self.index),
                ("GET", "/servers/detail", self.detail),
                ("POST", "/servers", self.create),
                ("GET", "/servers/{server_id}", self.show),
                ("PUT", "/servers/{server_id}", self.update),
                ("DELETE", "/servers/{server_id}", self.delete)]

    def _list_args(self, req: Request) -> dict[str, Any]:
        ctx = req.context
        all_projects = req.GET.get("all_tenants") is not None or req.GET.get("all_projects") is not None
        if all_projects:
            raw = req.GET.get("all_tenants", req.GET.get("all_projects", ""))
            all_projects = raw.lower() not in ("0", "false", "off", "no")
        if all_projects:
            self.authorize(req, policies.ADMIN)
        filters: dict[str, Any] = {}
        for key in _FILTERS:
            if req.GET.get(key):
                filters[key] = req.GET[key]
        if filters.get("image") and "/" in filters["image"]:
            filters["image"] = filters["image"].rstrip("/").rsplit("/", 1)[-1]
        if filters.get("flavor") and "/" in filters["flavor"]:
            filters["flavor"] = filters["flavor"].rstrip("/").rsplit("/", 1)[-1]
        if filters.get("changes-since"):
            filters["changes-since"] = _parse_time(filters["changes-since"], "changes-since")
        if not ctx.is_admin:
            for admin_only in _ADMIN_FILTERS:
                filters.pop(admin_only, None)
        keys = req.GET.getall("sort_key")
        dirs = req.GET.getall("sort_dir")
        sort = [(k, dirs[i] if i < len(dirs) else "desc") for i, k in enumerate(keys)] or None
        for _k, d in sort or []:
            if d not in ("asc", "desc"):
                raise exception.ValidationError(field="sort_dir", reason=f"'{d}' is not asc or desc")
        limit = req.int_param("limit", None, minimum=0)
        max_limit = self.hub.conf.api.max_limit
        limit = max_limit if limit is None else min(limit, max_limit)
        deleted = req.GET.get("deleted", "").lower() in ("true", "1", "yes") and ctx.is_admin
        return {"filters": filters, "all_projects": bool(all_projects), "limit": limit,
                "marker": req.GET.get("marker"), "sort": sort, "deleted": deleted}

    def index(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        args = self._list_args(req)
        insts = self.compute.list_servers(req.context, **args)
        return self.paged(req, [views.server_brief(self.base(req), i) for i in insts], args["limit"], "servers",
                          "servers")

    def detail(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        args = self._list_args(req)
        insts = self.compute.list_servers(req.context, **args)
        return self.paged(req, [server_view(self.compute, req, i) for i in insts], args["limit"], "servers",
                          "servers/detail")

    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"server": server_view(self.compute, req, self.compute.get_server(req.context, server_id))}

    def create(self, req: Request) -> Any:
        self.authorize(req, policies.OWNER)
        ver = self.ver(req)
        body = self.body(req, schemas.server_create(ver))
        s = body["server"]
        networks = s.get("networks")
        if networks is None:
            if ver >= v("2.37"):
                raise exception.ValidationError(field="server.networks", reason="'networks' is a required property")
            networks = "auto"
        if isinstance(networks, list):
            networks = [_network_request(n) for n in networks]
            if not networks:
                networks = "auto"
        image_ref = ref(s.get("imageRef"))
        if not image_ref:
            bdm = s.get("block_device_mapping_v2") or []
            image_ref = next((b.get("uuid") for b in bdm if b.get("source_type") == "image"), None)
        min_count = int(s.get("min_count", 1))
        max_count = int(s.get("max_count", min_count))
        if max_count < min_count:
            raise exception.ValidationError(field="server.max_count", reason="min_count must be <= max_count")
        hints = dict(body.get("os:scheduler_hints") or body.get("OS-SCH-HNT:scheduler_hints") or {})
        host = s.get("host")
        az = s.get("availability_zone")
        if az and ":" in az:
            # 'zone:host[:node]' forces the host: administrators only. The 403 names the policy and
            # nothing else (no host is confirmed or listed to someone who may not choose one).
            self.authorize(req, policies.FORCED_HOST)
        if host:
            self.authorize(req, policies.REQUESTED_DESTINATION)
            az = f"{(az or '').split(':', 1)[0]}:{host}"
        admin_pass = s.get("adminPass")
        if admin_pass is None and self.hub.conf.compute.enable_instance_password:
            admin_pass = generate_password()
        sgs = [g["name"] for g in s.get("security_groups") or []] or None
        insts = self.compute.create_servers(
            req.context, name=s["name"], image_ref=image_ref, flavor_id=ref(s["flavorRef"]) or "",
            min_count=min_count, max_count=max_count, key_name=s.get("key_name"), user_data=s.get("user_data"),
            metadata=s.get("metadata"), networks=networks, security_groups=sgs, availability_zone=az,
            scheduler_hints=hints, admin_password=admin_pass, description=s.get("description"),
            tags=s.get("tags"), config_drive=bool(s.get("config_drive")), access_ip_v4=s.get("accessIPv4"),
            access_ip_v6=s.get("accessIPv6"), hostname=s.get("hostname"))
        if s.get("return_reservation_id"):
            return 202, {"reservation_id": insts[0]["reservation_id"]}
        first = insts[0]
        out = {"id": first["uuid"], "links": views.links(self.base(req), "servers", first["uuid"]),
               "OS-DCF:diskConfig": "MANUAL",
               "security_groups": [{"name": n} for n in first.get("security_groups") or []]}
        if self.hub.conf.compute.enable_instance_password:
            out["adminPass"] = admin_pass
        return 202, {"server": out}, {"Location": f"{self.base(req)}/servers/{first['uuid']}"}

    def update(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        s = self.body(req, schemas.SERVER_UPDATE)["server"]
        values: dict[str, Any] = {}
        mapping = {"name": "display_name", "accessIPv4": "access_ip_v4", "accessIPv6": "access_ip_v6",
                   "hostname": "hostname"}
        for k, col in mapping.items():
            if k in s:
                values[col] = s[k]
        if "description" in s:
            if self.ver(req) < v("2.19"):
                raise exception.ValidationError(field="server.description",
                                                reason="needs microversion 2.19 or later")
            values["display_description"] = s["description"]
        inst = self.compute.update_server(req.context, server_id, values)
        return {"server": server_view(self.compute, req, inst)}

    def delete(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_server(req.context, server_id)
        return 204, None


def _parse_time(text: str, field: str) -> Any:
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"'{text}' is not an ISO 8601 time") from None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _network_request(n: dict[str, Any]) -> dict[str, Any]:
    """One ``networks`` entry as the compute service takes it; 400 without a uuid or a port."""
    out = {}
    if n.get("uuid"):
        out["uuid"] = n["uuid"]
    if n.get("port"):
        out["port"] = n["port"]
    if n.get("fixed_ip"):
        out["fixed_ip"] = n["fixed_ip"]
    if n.get("tag"):
        out["tag"] = n["tag"]
    if not out.get("uuid") and not out.get("port"):
        raise exception.ValidationError(field="server.networks", reason="each network needs a uuid or a port")
    return out
