"""The OpenStack Compute v2.1 API: routes, request validation, microversions.

Microversions 2.1 to :data:`MAX_VERSION` are negotiated from
``OpenStack-API-Version: compute X.Y`` or the legacy
``X-OpenStack-Nova-API-Version``; behaviour that changed across versions
follows the negotiated one (see :mod:`cumulo_api_compute.views`). The version
documents (``/`` and ``/v2.1``) need no token.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import webob

from cumulo import exception, policy
from cumulo.utils.passwords import generate_password
from cumulo.wsgi import Request, Router, validate
from cumulo.wsgi import microversion as mv
from cumulo.wsgi.middleware import pipeline
from cumulo.wsgi.request import json_response
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.views import v

MIN_VERSION = "2.1"
MAX_VERSION = "2.79"
LEGACY_HEADER = "X-OpenStack-Nova-API-Version"
VERSION_KEY = "cumulo.compute.version"

_FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest", 413: "overLimit",
                415: "badMediaType", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable"}


def nova_fault(status: int, title: str, message: str, error: BaseException | None) -> dict[str, Any]:
    """``{"itemNotFound": {"code": 404, "message": "..."}}``."""
    return {_FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}


def version_doc(base: str) -> dict[str, Any]:
    return {"id": "v2.1", "status": "CURRENT", "version": MAX_VERSION, "min_version": MIN_VERSION,
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": base.rstrip("/") + "/v2.1/"},
                      {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.compute+json;version=2.1"}]}


def _v20_doc(base: str) -> dict[str, Any]:
    return {"id": "v2.0", "status": "DEPRECATED", "version": "", "min_version": "",
            "updated": "2025-07-04T12:00:00Z", "links": [{"rel": "self", "href": base.rstrip("/") + "/v2/"}]}


class API:
    """Handlers; each gets the Request and route parameters, returns what Router accepts."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.router = Router()
        self._routes()

    # -- helpers ---------------------------------------------------------------
    @property
    def compute(self) -> Any:
        return self.hub.compute

    @staticmethod
    def ver(req: Request) -> mv.APIVersion:
        return req.environ.get(VERSION_KEY) or mv.APIVersion.parse(MIN_VERSION)

    @staticmethod
    def base(req: Request) -> str:
        return req.application_url.rstrip("/") + "/v2.1"

    @staticmethod
    def authorize(req: Request, rule: str, target: dict[str, Any] | None = None) -> None:
        policy.authorize(req.context, rule, target or {"project_id": req.context.project_id})

    def body(self, req: Request, schema: dict[str, Any]) -> dict[str, Any]:
        return validate(req.json_body_or_fault(), schema)

    def add(self, method: str | list[str], path: str, handler: Callable[..., Any]) -> None:
        self.router.add(method, "/v2.1" + path, handler)

    # -- routes ----------------------------------------------------------------
    def _routes(self) -> None:
        r = self.add
        r("GET", "/servers", self.list_servers)
        r("GET", "/servers/detail", self.list_servers_detail)
        r("POST", "/servers", self.create_server)
        r("GET", "/servers/{server_id}", self.show_server)
        r("PUT", "/servers/{server_id}", self.update_server)
        r("DELETE", "/servers/{server_id}", self.delete_server)
        r("POST", "/servers/{server_id}/action", self.server_action)
        r("POST", "/servers/{server_id}/remote-consoles", self.remote_console)
        r("GET", "/servers/{server_id}/metadata", self.get_metadata)
        r(["PUT", "POST"], "/servers/{server_id}/metadata", self.set_metadata)
        r("GET", "/servers/{server_id}/metadata/{key}", self.get_metadata_item)
        r("PUT", "/servers/{server_id}/metadata/{key}", self.set_metadata_item)
        r("DELETE", "/servers/{server_id}/metadata/{key}", self.delete_metadata_item)
        r("GET", "/servers/{server_id}/tags", self.get_tags)
        r("PUT", "/servers/{server_id}/tags", self.set_tags)
        r("DELETE", "/servers/{server_id}/tags", self.delete_tags)
        r("GET", "/servers/{server_id}/tags/{tag}", self.check_tag)
        r("PUT", "/servers/{server_id}/tags/{tag}", self.add_tag)
        r("DELETE", "/servers/{server_id}/tags/{tag}", self.delete_tag)
        r("GET", "/servers/{server_id}/ips", self.server_ips)
        r("GET", "/servers/{server_id}/os-security-groups", self.server_security_groups)
        r("GET", "/servers/{server_id}/os-instance-actions", self.list_actions)
        r("GET", "/servers/{server_id}/os-instance-actions/{request_id}", self.show_action)
        r("GET", "/servers/{server_id}/os-server-password", self.server_password)
        r("GET", "/servers/{server_id}/os-volume_attachments", self.volume_attachments)
        r("GET", "/servers/{server_id}/os-interface", self.server_interfaces)
        r("GET", "/flavors", self.list_flavors)
        r("GET", "/flavors/detail", self.list_flavors_detail)
        r("POST", "/flavors", self.create_flavor)
        r("GET", "/flavors/{flavor_id}", self.show_flavor)
        r("PUT", "/flavors/{flavor_id}", self.update_flavor)
        r("DELETE", "/flavors/{flavor_id}", self.delete_flavor)
        r("POST", "/flavors/{flavor_id}/action", self.flavor_action)
        r("GET", "/flavors/{flavor_id}/os-flavor-access", self.flavor_access)
        r("GET", "/flavors/{flavor_id}/os-extra_specs", self.get_extra_specs)
        r("POST", "/flavors/{flavor_id}/os-extra_specs", self.set_extra_specs)
        r("GET", "/flavors/{flavor_id}/os-extra_specs/{key}", self.get_extra_spec)
        r("PUT", "/flavors/{flavor_id}/os-extra_specs/{key}", self.put_extra_spec)
        r("DELETE", "/flavors/{flavor_id}/os-extra_specs/{key}", self.delete_extra_spec)
        r("GET", "/os-keypairs", self.list_keypairs)
        r("POST", "/os-keypairs", self.create_keypair)
        r("GET", "/os-keypairs/{name}", self.show_keypair)
        r("DELETE", "/os-keypairs/{name}", self.delete_keypair)
        r("GET", "/os-server-groups", self.list_server_groups)
        r("POST", "/os-server-groups", self.create_server_group)
        r("GET", "/os-server-groups/{group_id}", self.show_server_group)
        r("DELETE", "/os-server-groups/{group_id}", self.delete_server_group)
        r("GET", "/os-quota-sets/defaults", self.quota_defaults_legacy)
        r("GET", "/os-quota-sets/{project_id}", self.show_quota)
        r("GET", "/os-quota-sets/{project_id}/detail", self.show_quota_detail)
        r("GET", "/os-quota-sets/{project_id}/defaults", self.quota_defaults)
        r("PUT", "/os-quota-sets/{project_id}", self.update_quota)
        r("DELETE", "/os-quota-sets/{project_id}", self.delete_quota)
        r("GET", "/os-quota-class-sets/{name}", self.quota_class)
        r("GET", "/limits", self.limits)
        r("GET", "/os-availability-zone", self.list_zones)
        r("GET", "/os-availability-zone/detail", self.list_zones_detail)
        r("GET", "/os-hypervisors", self.list_hypervisors)
        r("GET", "/os-hypervisors/detail", self.list_hypervisors_detail)
        r("GET", "/os-hypervisors/statistics", self.hypervisor_statistics)
        r("GET", "/os-hypervisors/{hypervisor_id}", self.show_hypervisor)
        r("GET", "/os-hypervisors/{pattern}/search", self.search_hypervisors)
        r("GET", "/os-hypervisors/{pattern}/servers", self.hypervisor_servers)
        r("GET", "/os-services", self.list_services)
        r("PUT", "/os-services/{service_id}", self.update_service)
        r("DELETE", "/os-services/{service_id}", self.delete_service)
        r("GET", "/os-aggregates", self.list_aggregates)
        r("POST", "/os-aggregates", self.create_aggregate)
        r("GET", "/os-aggregates/{agg_id}", self.show_aggregate)
        r("PUT", "/os-aggregates/{agg_id}", self.update_aggregate)
        r("DELETE", "/os-aggregates/{agg_id}", self.delete_aggregate)
        r("POST", "/os-aggregates/{agg_id}/action", self.aggregate_action)
        r("GET", "/extensions", lambda req: {"extensions": []})

    # ========================================================================
    # servers
    # ========================================================================
    def _server_view(self, req: Request, inst: dict[str, Any]) -> dict[str, Any]:
        ver = self.ver(req)
        groups = None
        if ver >= v("2.71"):
            g = self.compute.server_group_of(req.context, inst["uuid"])
            groups = [g] if g else []
        return views.server_detail(self.base(req), inst, ver, req.context.is_admin, groups)

    def _list_args(self, req: Request) -> dict[str, Any]:
        ctx = req.context
        all_projects = req.GET.get("all_tenants") is not None or req.GET.get("all_projects") is not None
        if all_projects:
            raw = req.GET.get("all_tenants", req.GET.get("all_projects", ""))
            all_projects = raw.lower() not in ("0", "false", "off", "no")
        if all_projects:
            self.authorize(req, policies.ADMIN)
        filters: dict[str, Any] = {}
        for key in ("name", "status", "host", "image", "flavor", "key_name", "availability_zone", "reservation_id",
                    "changes-since", "tags", "tags-any", "not-tags", "not-tags-any", "project_id", "tenant_id",
                    "user_id", "node", "vm_state", "task_state"):
            if req.GET.get(key):
                filters[key] = req.GET[key]
        if filters.get("image") and "/" in filters["image"]:
            filters["image"] = filters["image"].rstrip("/").rsplit("/", 1)[-1]
        if filters.get("flavor") and "/" in filters["flavor"]:
            filters["flavor"] = filters["flavor"].rstrip("/").rsplit("/", 1)[-1]
        if filters.get("changes-since"):
            filters["changes-since"] = _parse_time(filters["changes-since"], "changes-since")
        if not ctx.is_admin:
            for admin_only in ("host", "node", "project_id", "tenant_id", "user_id"):
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

    def _paged(self, req: Request, items: list[dict[str, Any]], limit: int, key: str,
               collection_path: str) -> dict[str, Any]:
        out: dict[str, Any] = {key: items}
        if items and len(items) == limit:
            params = [(k, val) for k, val in req.GET.items() if k != "marker"]
            params.append(("marker", items[-1]["id"]))
            out[key + "_links"] = [{"rel": "next", "href": f"{self.base(req)}/{collection_path}?"
                                                          f"{urllib.parse.urlencode(params)}"}]
        return out

    def list_servers(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        args = self._list_args(req)
        insts = self.compute.list_servers(req.context, **args)
        return self._paged(req, [views.server_brief(self.base(req), i) for i in insts], args["limit"], "servers",
                           "servers")

    def list_servers_detail(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        args = self._list_args(req)
        insts = self.compute.list_servers(req.context, **args)
        return self._paged(req, [self._server_view(req, i) for i in insts], args["limit"], "servers",
                           "servers/detail")

    def show_server(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"server": self._server_view(req, self.compute.get_server(req.context, server_id))}

    def create_server(self, req: Request) -> Any:
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
        image_ref = _ref(s.get("imageRef"))
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
            req.context, name=s["name"], image_ref=image_ref, flavor_id=_ref(s["flavorRef"]) or "",
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

    def update_server(self, req: Request, server_id: str) -> dict[str, Any]:
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
        return {"server": self._server_view(req, inst)}

    def delete_server(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_server(req.context, server_id)
        return 204, None

    # -- actions ------------------------------------------------------------------
    def server_action(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or len(body) != 1:
            raise exception.Invalid(reason="An action body has exactly one key: the action name.")
        (name, arg), = body.items()
        handler = getattr(self, "_action_" + name.replace("-", "_"), None)
        if handler is None:
            raise exception.Invalid(reason=f"There is no such action: {name}")
        return handler(req, server_id, arg if arg is not None else {})

    def _action_reboot(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.REBOOT)
        self.compute.reboot(req.context, sid, hard=arg["type"].upper() == "HARD")
        return 202, None

    def _action_os_stop(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.stop(req.context, sid)
        return 202, None

    def _action_os_start(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.start(req.context, sid)
        return 202, None

    def _action_pause(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.pause(req.context, sid)
        return 202, None

    def _action_unpause(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.unpause(req.context, sid)
        return 202, None

    def _action_suspend(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.suspend(req.context, sid)
        return 202, None

    def _action_resume(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.resume(req.context, sid)
        return 202, None

    def _action_lock(self, req: Request, sid: str, arg: Any) -> Any:
        reason = None
        if isinstance(arg, dict) and arg.get("locked_reason") is not None:
            if self.ver(req) < v("2.73"):
                raise exception.ValidationError(field="lock.locked_reason", reason="needs microversion 2.73")
            validate(arg, schemas.LOCK)
            reason = arg["locked_reason"]
        self.compute.lock(req.context, sid, reason)
        return 202, None

    def _action_unlock(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.unlock(req.context, sid)
        return 202, None

    def _action_rescue(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.RESCUE)
        password = self.compute.rescue(req.context, sid, arg.get("adminPass"), _ref(arg.get("rescue_image_ref")))
        return 200, {"adminPass": password} if self.hub.conf.compute.enable_instance_password else {}

    def _action_unrescue(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.unrescue(req.context, sid)
        return 202, None

    def _action_resize(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.RESIZE)
        self.compute.resize(req.context, sid, _ref(arg["flavorRef"]) or "")
        return 202, None

    def _action_confirmResize(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.confirm_resize(req.context, sid)
        return 204, None

    def _action_revertResize(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.revert_resize(req.context, sid)
        return 202, None

    def _action_rebuild(self, req: Request, sid: str, arg: Any) -> Any:
        ver = self.ver(req)
        validate(arg, schemas.rebuild(ver))
        kwargs: dict[str, Any] = {}
        if "description" in arg:
            kwargs["description"] = arg["description"]
        if "key_name" in arg:
            kwargs["key_name"] = arg["key_name"]
        if "user_data" in arg:
            kwargs["user_data"] = arg["user_data"]
        inst, password = self.compute.rebuild(req.context, sid, _ref(arg["imageRef"]) or "",
                                              admin_password=arg.get("adminPass"), name=arg.get("name"),
                                              metadata=arg.get("metadata"), **kwargs)
        view = self._server_view(req, inst)
        if self.hub.conf.compute.enable_instance_password:
            view["adminPass"] = password
        return 202, {"server": view}

    def _action_createImage(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.CREATE_IMAGE)
        image_id = self.compute.create_image(req.context, sid, arg["name"], arg.get("metadata"))
        root = req.application_url.rstrip("/")
        headers = {"Location": f"{root}/images/{image_id}"}
        if self.ver(req) >= v("2.45"):
            return 202, {"image_id": image_id}, headers
        return webob.Response(status=202, headers=headers)

    def _action_os_getConsoleOutput(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.CONSOLE_OUTPUT)
        length = arg.get("length")
        if length is not None:
            try:
                length = int(length)
            except (TypeError, ValueError):
                raise exception.ValidationError(field="os-getConsoleOutput.length",
                                                reason=f"'{length}' is not an integer") from None
            if length < -1:
                raise exception.ValidationError(field="os-getConsoleOutput.length", reason="must be >= -1")
            if length == -1:
                length = None
        return {"output": self.compute.console_output(req.context, sid, length)}

    def _console(self, req: Request, sid: str, protocol: str, ctype: str) -> dict[str, Any]:
        info = self.compute.remote_console(req.context, sid, ctype)
        url = info.get("url") or (f"http://{info.get('host')}:{info.get('port')}"
                                  f"{info.get('internal_access_path') or '/'}?token={info.get('token', '')}")
        return {"protocol": protocol, "type": ctype, "url": url}

    def _action_os_getVNCConsole(self, req: Request, sid: str, arg: Any) -> Any:
        ctype = (arg or {}).get("type", "novnc")
        if ctype not in ("novnc", "xvpvnc"):
            raise exception.ValidationError(field="os-getVNCConsole.type", reason="must be novnc or xvpvnc")
        c = self._console(req, sid, "vnc", ctype)
        return {"console": {"type": ctype, "url": c["url"]}}

    def _action_os_getSPICEConsole(self, req: Request, sid: str, arg: Any) -> Any:
        c = self._console(req, sid, "spice", "spice-html5")
        return {"console": {"type": "spice-html5", "url": c["url"]}}

    def _action_os_getSerialConsole(self, req: Request, sid: str, arg: Any) -> Any:
        c = self._console(req, sid, "serial", "serial")
        return {"console": {"type": "serial", "url": c["url"]}}

    def remote_console(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        if self.ver(req) < v("2.6"):
            raise exception.NotFound("remote-consoles needs microversion 2.6 or later.")
        rc = self.body(req, schemas.REMOTE_CONSOLE)["remote_console"]
        return {"remote_console": self._console(req, server_id, rc["protocol"], rc["type"])}

    def _action_changePassword(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.CHANGE_PASSWORD)
        self.compute.change_password(req.context, sid, arg["adminPass"])
        return 202, None

    def _action_addSecurityGroup(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.SECURITY_GROUP_ACTION)
        self.compute.add_security_group(req.context, sid, arg["name"])
        return 202, None

    def _action_removeSecurityGroup(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.SECURITY_GROUP_ACTION)
        self.compute.remove_security_group(req.context, sid, arg["name"])
        return 202, None

    def _action_forceDelete(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.delete_server(req.context, sid, force=True)
        return 202, None

    # -- metadata, tags, ips, groups, actions ----------------------------------------
    def get_metadata(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"metadata": self.compute.get_metadata(req.context, server_id)}

    def set_metadata(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        md = self.body(req, schemas.METADATA_BODY)["metadata"]
        return {"metadata": self.compute.update_metadata(req.context, server_id, md, replace=req.method == "PUT")}

    def get_metadata_item(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        md = self.compute.get_metadata(req.context, server_id)
        if key not in md:
            raise exception.NotFound(f"Metadata item was not found: {key}")
        return {"meta": {key: md[key]}}

    def set_metadata_item(self, req: Request, server_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        meta = self.body(req, schemas.META_ITEM)["meta"]
        if list(meta) != [key]:
            raise exception.Invalid(reason="Request body and URI mismatch")
        self.compute.update_metadata(req.context, server_id, meta)
        return {"meta": meta}

    def delete_metadata_item(self, req: Request, server_id: str, key: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_metadata(req.context, server_id, key)
        return 204, None

    def _tags_version(self, req: Request) -> None:
        if self.ver(req) < v("2.26"):
            raise exception.NotFound("Server tags need microversion 2.26 or later.")

    def get_tags(self, req: Request, server_id: str) -> dict[str, Any]:
        self._tags_version(req)
        self.authorize(req, policies.READER)
        return {"tags": self.compute.get_tags(req.context, server_id)}

    def set_tags(self, req: Request, server_id: str) -> dict[str, Any]:
        self._tags_version(req)
        self.authorize(req, policies.OWNER)
        tags = self.body(req, schemas.TAGS_BODY)["tags"]
        return {"tags": self.compute.set_tags(req.context, server_id, tags)}

    def delete_tags(self, req: Request, server_id: str) -> Any:
        self._tags_version(req)
        self.authorize(req, policies.OWNER)
        self.compute.delete_tags(req.context, server_id)
        return 204, None

    def check_tag(self, req: Request, server_id: str, tag: str) -> Any:
        self._tags_version(req)
        self.authorize(req, policies.READER)
        if tag not in self.compute.get_tags(req.context, server_id):
            raise exception.NotFound(f"Tag {tag} could not be found for server {server_id}.")
        return 204, None

    def add_tag(self, req: Request, server_id: str, tag: str) -> Any:
        self._tags_version(req)
        self.authorize(req, policies.OWNER)
        validate(tag, schemas.TAG)
        created = self.compute.add_tag(req.context, server_id, tag)
        loc = {"Location": f"{self.base(req)}/servers/{server_id}/tags/{tag}"}
        return webob.Response(status=201 if created else 204, headers=loc)

    def delete_tag(self, req: Request, server_id: str, tag: str) -> Any:
        self._tags_version(req)
        self.authorize(req, policies.OWNER)
        self.compute.delete_tag(req.context, server_id, tag)
        return 204, None

    def server_ips(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        inst = self.compute.get_server(req.context, server_id)
        return {"addresses": {k: [{"version": a["version"], "addr": a["addr"]} for a in vals]
                              for k, vals in views.addresses(inst.get("ports") or []).items()}}

    def server_security_groups(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        groups = self.compute.security_groups(req.context, server_id)
        return {"security_groups": [{"id": g.get("id", ""), "name": g.get("name"), "description":
                                     g.get("description", ""), "tenant_id": g.get("project_id", ""),
                                     "rules": g.get("rules", [])} for g in groups]}

    def server_password(self, req: Request, server_id: str) -> dict[str, Any]:
        self.compute.get_server(req.context, server_id)
        return {"password": ""}

    def volume_attachments(self, req: Request, server_id: str) -> dict[str, Any]:
        self.compute.get_server(req.context, server_id)
        return {"volumeAttachments": []}

    def server_interfaces(self, req: Request, server_id: str) -> dict[str, Any]:
        inst = self.compute.get_server(req.context, server_id)
        return {"interfaceAttachments": [
            {"port_id": p.get("id"), "net_id": p.get("network_id"), "mac_addr": p.get("mac_address"),
             "port_state": p.get("status", "ACTIVE"),
             "fixed_ips": [{"subnet_id": ip.get("subnet_id"), "ip_address": ip.get("ip_address")}
                           for ip in p.get("fixed_ips") or []]} for p in inst.get("ports") or []]}

    def list_actions(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        ver = self.ver(req)
        actions = self.compute.list_instance_actions(req.context, server_id)
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.58") else None
        marker = req.GET.get("marker") if ver >= v("2.58") else None
        if marker is not None:
            idx = next((i for i, a in enumerate(actions) if a["request_id"] == marker), None)
            if idx is None:
                raise exception.Invalid(reason=f"Marker {marker} could not be found.")
            actions = actions[idx + 1:]
        if limit is not None:
            actions = actions[:limit]
        return {"instanceActions": [views.instance_action(a, ver, req.context.is_admin) for a in actions]}

    def show_action(self, req: Request, server_id: str, request_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        a = self.compute.get_instance_action(req.context, server_id, request_id)
        return {"instanceAction": views.instance_action(a, self.ver(req), req.context.is_admin, events=True)}

    # ========================================================================
    # flavors
    # ========================================================================
    def _flavor_list(self, req: Request, brief: bool) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        raw = req.GET.get("is_public")
        is_public: bool | None = True
        if raw is not None:
            low = raw.lower()
            is_public = None if low == "none" else req.bool_param("is_public")
        limit = req.int_param("limit", None, minimum=0)
        flavors = self.compute.list_flavors(
            req.context, is_public=is_public, min_ram=req.int_param("minRam", None),
            min_disk=req.int_param("minDisk", None), sort_key=req.GET.get("sort_key", "flavorid"),
            sort_dir=req.GET.get("sort_dir", "asc"), limit=limit, marker=req.GET.get("marker"))
        items = [views.flavor(self.base(req), f, self.ver(req), brief) for f in flavors]
        return self._paged(req, items, limit if limit is not None else -1, "flavors",
                           "flavors" if brief else "flavors/detail")

    def list_flavors(self, req: Request) -> dict[str, Any]:
        return self._flavor_list(req, True)

    def list_flavors_detail(self, req: Request) -> dict[str, Any]:
        return self._flavor_list(req, False)

    def show_flavor(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"flavor": views.flavor(self.base(req), self.compute.get_flavor(req.context, flavor_id),
                                       self.ver(req))}

    def create_flavor(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        f = self.body(req, schemas.flavor_create(self.ver(req)))["flavor"]
        flavor = self.compute.create_flavor(
            req.context, name=f["name"].strip(), vcpus=int(f["vcpus"]), ram=int(f["ram"]), disk=int(f["disk"]),
            flavorid=f.get("id"), ephemeral=int(f.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0),
            swap=int(f.get("swap", 0) or 0), rxtx_factor=float(f.get("rxtx_factor", 1.0)),
            is_public=_bool(f.get("os-flavor-access:is_public", True)), description=f.get("description"))
        return {"flavor": views.flavor(self.base(req), flavor, self.ver(req))}

    def update_flavor(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        if self.ver(req) < v("2.55"):
            raise exception.NotFound("Updating a flavor needs microversion 2.55 or later.")
        f = self.body(req, schemas.FLAVOR_UPDATE)["flavor"]
        flavor = self.compute.update_flavor(req.context, flavor_id, f["description"])
        return {"flavor": views.flavor(self.base(req), flavor, self.ver(req))}

    def delete_flavor(self, req: Request, flavor_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_flavor(req.context, flavor_id)
        return 202, None

    def flavor_action(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        body = self.body(req, schemas.FLAVOR_ACTION)
        if "addTenantAccess" in body:
            access = self.compute.add_flavor_access(req.context, flavor_id, body["addTenantAccess"]["tenant"])
        else:
            access = self.compute.remove_flavor_access(req.context, flavor_id, body["removeTenantAccess"]["tenant"])
        return {"flavor_access": access}

    def flavor_access(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        return {"flavor_access": self.compute.flavor_access(req.context, flavor_id)}

    def get_extra_specs(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"extra_specs": self.compute.get_extra_specs(req.context, flavor_id)}

    def set_extra_specs(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        specs = self.body(req, schemas.EXTRA_SPECS)["extra_specs"]
        return {"extra_specs": self.compute.set_extra_specs(req.context, flavor_id,
                                                            {k: str(x) for k, x in specs.items()})}

    def get_extra_spec(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        specs = self.compute.get_extra_specs(req.context, flavor_id)
        if key not in specs:
            raise exception.NotFound(f"Flavor {flavor_id} has no extra specs with key {key}.")
        return {key: specs[key]}

    def put_extra_spec(self, req: Request, flavor_id: str, key: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        body = self.body(req, schemas.EXTRA_SPEC_ITEM)
        if list(body) != [key]:
            raise exception.Invalid(reason="Request body and URI mismatch")
        self.compute.set_extra_specs(req.context, flavor_id, {key: str(body[key])})
        return {key: str(body[key])}

    def delete_extra_spec(self, req: Request, flavor_id: str, key: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_extra_spec(req.context, flavor_id, key)
        return 202, None

    # ========================================================================
    # key pairs
    # ========================================================================
    def _kp_user(self, req: Request) -> str | None:
        user = req.GET.get("user_id")
        if user and user != req.context.user_id:
            if self.ver(req) < v("2.10"):
                raise exception.ValidationError(field="user_id", reason="needs microversion 2.10")
            self.authorize(req, policies.ADMIN)
        return user

    def list_keypairs(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        ver = self.ver(req)
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.35") else None
        kps = self.compute.list_keypairs(req.context, self._kp_user(req), limit=limit,
                                         marker=req.GET.get("marker") if ver >= v("2.35") else None)
        out: dict[str, Any] = {"keypairs": [{"keypair": views.keypair(k, ver)} for k in kps]}
        if limit is not None and len(kps) == limit and kps:
            out["keypairs_links"] = [{"rel": "next",
                                      "href": f"{self.base(req)}/os-keypairs?limit={limit}&marker={kps[-1]['name']}"}]
        return out

    def create_keypair(self, req: Request) -> Any:
        self.authorize(req, policies.OWNER)
        ver = self.ver(req)
        k = self.body(req, schemas.keypair_create(ver))["keypair"]
        user_id = k.get("user_id")
        if user_id and user_id != req.context.user_id:
            self.authorize(req, policies.ADMIN)
        if ver >= v("2.92") and not k.get("public_key"):
            raise exception.ValidationError(field="keypair.public_key", reason="is required")
        kp = self.compute.create_keypair(req.context, k["name"], k.get("public_key"), k.get("type", "ssh"),
                                         user_id=user_id)
        body = {"keypair": {**views.keypair(kp, ver), "user_id": kp["user_id"]}}
        return (201 if ver >= v("2.2") else 200), body

    def show_keypair(self, req: Request, name: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        kp = self.compute.get_keypair(req.context, name, self._kp_user(req))
        return {"keypair": views.keypair(kp, self.ver(req), full=True)}

    def delete_keypair(self, req: Request, name: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_keypair(req.context, name, self._kp_user(req))
        return (204 if self.ver(req) >= v("2.2") else 202), None

    # ========================================================================
    # server groups
    # ========================================================================
    def list_server_groups(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        all_projects = req.bool_param("all_projects", False)
        if all_projects:
            self.authorize(req, policies.ADMIN)
        groups = self.compute.list_server_groups(req.context, bool(all_projects))
        offset = req.int_param("offset", 0) or 0
        limit = req.int_param("limit", None, minimum=0)
        groups = groups[offset:offset + limit] if limit is not None else groups[offset:]
        return {"server_groups": [views.server_group(g, self.ver(req)) for g in groups]}

    def create_server_group(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        ver = self.ver(req)
        g = self.body(req, schemas.server_group_create(ver))["server_group"]
        policy_name = g["policy"] if ver >= v("2.64") else g["policies"][0]
        group = self.compute.create_server_group(req.context, g["name"], policy_name, g.get("rules"))
        return {"server_group": views.server_group(group, ver)}

    def show_server_group(self, req: Request, group_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"server_group": views.server_group(self.compute.get_server_group(req.context, group_id),
                                                   self.ver(req))}

    def delete_server_group(self, req: Request, group_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.delete_server_group(req.context, group_id)
        return 204, None

    # ========================================================================
    # quotas, limits
    # ========================================================================
    def _quota_target(self, req: Request, project_id: str) -> None:
        if project_id != req.context.project_id:
            self.authorize(req, policies.ADMIN)
        else:
            self.authorize(req, policies.READER)

    def show_quota(self, req: Request, project_id: str) -> dict[str, Any]:
        self._quota_target(req, project_id)
        return {"quota_set": views.quota_set(project_id, self.compute.quota_set(req.context, project_id),
                                             self.ver(req))}

    def show_quota_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        self._quota_target(req, project_id)
        values = self.compute.quota_set(req.context, project_id, detail=True, user_id=req.GET.get("user_id"))
        return {"quota_set": views.quota_set(project_id, values, self.ver(req))}

    def quota_defaults(self, req: Request, project_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"quota_set": views.quota_set(project_id, self.compute.quota_defaults(req.context), self.ver(req))}

    def quota_defaults_legacy(self, req: Request) -> dict[str, Any]:
        return self.quota_defaults(req, "defaults")

    def update_quota(self, req: Request, project_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        q = dict(self.body(req, schemas.quota_update(self.ver(req)))["quota_set"])
        force = _bool(q.pop("force", False))
        for legacy in views.LEGACY_QUOTAS:
            q.pop(legacy, None)
        values = self.compute.update_quota_set(req.context, project_id, {k: int(x) for k, x in q.items()}, force)
        return {"quota_set": views.quota_set(project_id, values, self.ver(req), with_id=False)}

    def delete_quota(self, req: Request, project_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_quota_set(req.context, project_id)
        return 202, None

    def quota_class(self, req: Request, name: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"quota_class_set": views.quota_set(name, self.compute.quota_defaults(req.context), self.ver(req))}

    def limits(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        project = req.GET.get("tenant_id") or req.context.project_id
        if project != req.context.project_id:
            self.authorize(req, policies.ADMIN)
        q = self.compute.quota_set(req.context, project, detail=True)
        ver = self.ver(req)
        absolute = {"maxTotalInstances": q["instances"]["limit"], "maxTotalCores": q["cores"]["limit"],
                    "maxTotalRAMSize": q["ram"]["limit"], "maxTotalKeypairs": q["key_pairs"]["limit"],
                    "maxServerMeta": q["metadata_items"]["limit"], "maxServerGroups": q["server_groups"]["limit"],
                    "maxServerGroupMembers": q["server_group_members"]["limit"],
                    "totalInstancesUsed": q["instances"]["in_use"], "totalCoresUsed": q["cores"]["in_use"],
                    "totalRAMUsed": q["ram"]["in_use"], "totalServerGroupsUsed": q["server_groups"]["in_use"]}
        if ver < v("2.57"):
            absolute.update({"maxPersonality": q["injected_files"]["limit"],
                             "maxPersonalitySize": q["injected_file_content_bytes"]["limit"]})
        if ver < v("2.36"):
            absolute.update({"maxSecurityGroups": -1, "maxSecurityGroupRules": -1, "maxTotalFloatingIps": -1,
                             "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0})
        return {"limits": {"rate": [], "absolute": absolute}}

    # ========================================================================
    # zones, hypervisors, services, aggregates
    # ========================================================================
    def list_zones(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"availabilityZoneInfo": self.compute.availability_zones(req.context)}

    def list_zones_detail(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        zones = self.compute.availability_zones(req.context, detail=True)
        for z in zones:
            for services in (z["hosts"] or {}).values():
                for s in services.values():
                    s["updated_at"] = views.iso_us(s["updated_at"])
        return {"availabilityZoneInfo": zones}

    def _hypervisors(self, req: Request, detail: bool, pattern: str | None = None) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        pattern = pattern or (req.GET.get("hypervisor_hostname_pattern") if ver >= v("2.53") else None)
        hvs = self.compute.list_hypervisors(req.context, pattern)
        with_servers = ver >= v("2.53") and req.bool_param("with_servers", False)
        items = []
        for i, h in enumerate(hvs):
            servers = self.compute.hypervisor_servers(req.context, h["host"]) if with_servers else None
            items.append(views.hypervisor(h, ver, detail, servers, index=i + 1))
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.33") else None
        marker = req.GET.get("marker") if ver >= v("2.33") else None
        if marker is not None:
            idx = next((i for i, h in enumerate(items) if str(h["id"]) == marker), None)
            if idx is None:
                raise exception.Invalid(reason=f"marker [{marker}] not found")
            items = items[idx + 1:]
        if limit is not None:
            items = items[:limit]
        return self._paged(req, items, limit if limit is not None else -1, "hypervisors",
                           "os-hypervisors/detail" if detail else "os-hypervisors")

    def list_hypervisors(self, req: Request) -> dict[str, Any]:
        return self._hypervisors(req, False)

    def list_hypervisors_detail(self, req: Request) -> dict[str, Any]:
        return self._hypervisors(req, True)

    def search_hypervisors(self, req: Request, pattern: str) -> dict[str, Any]:
        out = self._hypervisors(req, False, pattern)
        if not out["hypervisors"]:
            raise exception.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return out

    def hypervisor_servers(self, req: Request, pattern: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        hvs = self.compute.list_hypervisors(req.context, pattern)
        if not hvs:
            raise exception.NotFound(f"No hypervisor matching '{pattern}' could be found.")
        return {"hypervisors": [views.hypervisor(h, ver, False, self.compute.hypervisor_servers(req.context, h["host"]),
                                                 index=i + 1) for i, h in enumerate(hvs)]}

    def show_hypervisor(self, req: Request, hypervisor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        hvs = self.compute.list_hypervisors(req.context)
        for i, h in enumerate(hvs):
            if (ver >= v("2.53") and h["id"] == hypervisor_id) or (ver < v("2.53") and str(i + 1) == hypervisor_id):
                servers = None
                if ver >= v("2.53") and req.bool_param("with_servers", False):
                    servers = self.compute.hypervisor_servers(req.context, h["host"])
                return {"hypervisor": views.hypervisor(h, ver, True, servers, index=i + 1)}
        if ver >= v("2.53") and not re.match(r"^[0-9a-fA-F-]{32,36}$", hypervisor_id):
            raise exception.Invalid(reason=f"Invalid uuid {hypervisor_id}")
        raise exception.NotFound(f"Hypervisor with ID {hypervisor_id} could not be found.")

    def hypervisor_statistics(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        hvs = self.compute.list_hypervisors(req.context)
        keys = ("vcpus", "memory_mb", "local_gb", "vcpus_used", "memory_mb_used", "local_gb_used", "running_vms")
        stats = {k: sum(h[k] for h in hvs) for k in keys}
        stats.update({"count": len(hvs), "free_ram_mb": stats["memory_mb"] - stats["memory_mb_used"],
                      "free_disk_gb": stats["local_gb"] - stats["local_gb_used"], "current_workload": 0,
                      "disk_available_least": stats["local_gb"] - stats["local_gb_used"]})
        return {"hypervisor_statistics": stats}

    def list_services(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        rows = self.compute.list_services(req.context, req.GET.get("host"), req.GET.get("binary"))
        return {"services": [views.service(s, self.ver(req)) for s in rows]}

    def update_service(self, req: Request, service_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        ver = self.ver(req)
        if ver >= v("2.53"):
            body = self.body(req, schemas.SERVICE_UPDATE)
            status = body.get("status")
            if body.get("disabled_reason") and status != "disabled":
                raise exception.Invalid(reason="disabled_reason is only allowed with status 'disabled'")
            row = self.compute.set_service(req.context, service_id,
                                           disabled=None if status is None else status == "disabled",
                                           reason=body.get("disabled_reason"), forced_down=body.get("forced_down"))
            return {"service": views.service({**row, "availability_zone": "nova"}, ver)}
        body = self.body(req, schemas.SERVICE_LEGACY)
        action = service_id
        if action not in ("enable", "disable", "disable-log-reason", "force-down"):
            raise exception.NotFound(f"Unknown service action {action}")
        kwargs: dict[str, Any] = {}
        if action == "force-down":
            kwargs["forced_down"] = _bool(body.get("forced_down", True))
        else:
            kwargs["disabled"] = action != "enable"
            kwargs["reason"] = body.get("disabled_reason")
        row = self.compute.set_service(req.context, None, host=body["host"], binary=body["binary"], **kwargs)
        out: dict[str, Any] = {"host": row["host"], "binary": row["binary"], "status": row["status"]}
        if action == "disable-log-reason":
            out["disabled_reason"] = row.get("disabled_reason")
        if action == "force-down":
            out = {"host": row["host"], "binary": row["binary"], "forced_down": row["forced_down"]}
        return {"service": out}

    def delete_service(self, req: Request, service_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_service(req.context, service_id)
        return 204, None

    def list_aggregates(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        return {"aggregates": [views.aggregate(a, self.ver(req)) for a in self.compute.list_aggregates(req.context)]}

    def create_aggregate(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        a = self.body(req, schemas.AGGREGATE_CREATE)["aggregate"]
        agg = self.compute.create_aggregate(req.context, a["name"], a.get("availability_zone"))
        return {"aggregate": views.aggregate(agg, self.ver(req))}

    def show_aggregate(self, req: Request, agg_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        return {"aggregate": views.aggregate(self.compute.get_aggregate(req.context, agg_id), self.ver(req))}

    def update_aggregate(self, req: Request, agg_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        a = self.body(req, schemas.AGGREGATE_UPDATE)["aggregate"]
        agg = self.compute.update_aggregate(req.context, agg_id, a.get("name"), a.get("availability_zone"))
        return {"aggregate": views.aggregate(agg, self.ver(req))}

    def delete_aggregate(self, req: Request, agg_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_aggregate(req.context, agg_id)
        return 200, None

    def aggregate_action(self, req: Request, agg_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        body = self.body(req, schemas.AGGREGATE_ACTION)
        if "add_host" in body:
            agg = self.compute.aggregate_add_host(req.context, agg_id, body["add_host"]["host"])
        elif "remove_host" in body:
            agg = self.compute.aggregate_remove_host(req.context, agg_id, body["remove_host"]["host"])
        else:
            agg = self.compute.set_aggregate_metadata(req.context, agg_id, body["set_metadata"]["metadata"])
        return {"aggregate": views.aggregate(agg, self.ver(req))}


# -- helpers ------------------------------------------------------------------------

def _ref(value: Any) -> str | None:
    """An id, or the last path segment of a URL reference (``flavorRef``/``imageRef``)."""
    if value in (None, ""):
        return None
    text = str(value)
    return text.rstrip("/").rsplit("/", 1)[-1] if "/" in text else text


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _parse_time(text: str, field: str) -> Any:
    import datetime

    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"'{text}' is not an ISO 8601 time") from None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def _network_request(n: dict[str, Any]) -> dict[str, Any]:
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


class VersionedApp:
    """Serves the version documents and negotiates the microversion of every other request."""

    def __init__(self, public: Any, protected: Any) -> None:
        self.public, self.protected = public, protected

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if path in ("/", "/v2.1", "/v2.1/", "/v2", "/v2/"):
            return self.public(environ, start_response)
        return self.protected(environ, start_response)


def _versions_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    req = Request(environ)
    base = req.application_url
    path = req.path_info
    if path in ("/v2.1", "/v2.1/"):
        body: dict[str, Any] = {"version": version_doc(base)}
        status = 200
    elif path in ("/v2", "/v2/"):
        body = {"version": _v20_doc(base)}
        status = 200
    else:
        body = {"versions": [_v20_doc(base), version_doc(base)]}
        status = 200
    return json_response(body, status=status)(environ, start_response)


class Negotiate:
    """Microversion middleware: 406 out of range; response headers on every answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req = webob.Request(environ)
        version = mv.negotiate(req.headers, "compute", MIN_VERSION, MAX_VERSION, legacy_header=LEGACY_HEADER)
        environ[VERSION_KEY] = version
        extra = mv.response_headers("compute", version, LEGACY_HEADER)

        def _start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            names = {k.lower() for k in extra}
            headers = [h for h in headers if h[0].lower() not in names] + list(extra.items())
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, _start)


def build(hub: Any) -> Any:
    """The WSGI app of the compute frontend (mounted at ``/compute``)."""
    policies.register()
    api = API(hub)
    limit = hub.conf.api.max_request_body_size
    from cumulo_api_compute import metadata

    protected = pipeline(Negotiate(api.router), renderer=nova_fault, validate=hub.token_validator(),
                         max_body=limit, token_cache_seconds=hub.conf.api.token_cache_time)
    public = pipeline(_versions_app, renderer=nova_fault)
    meta = metadata.build(hub)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if path == "/metadata" or path.startswith("/metadata/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/metadata"
            environ["PATH_INFO"] = path[len("/metadata"):]
            return meta(environ, start_response)
        return VersionedApp(public, protected)(environ, start_response)

    return app

