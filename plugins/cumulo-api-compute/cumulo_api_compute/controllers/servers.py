"""Servers: list (brief and detail, filtered, sorted, paged), show, create, update, delete."""

from __future__ import annotations

import datetime
from typing import Any

from cumulo import exception
from cumulo.contracts.compute import BlockDeviceRequest, ServerGroupService, ServerView
from cumulo.contracts.volume import VolumeContract
from cumulo.utils.passwords import generate_password
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, access_ip, as_bool, ref
from cumulo_api_compute.views import v

_FILTERS = ("name", "status", "host", "image", "flavor", "key_name", "availability_zone", "reservation_id",
            "changes-since", "tags", "tags-any", "not-tags", "not-tags-any", "project_id", "tenant_id",
            "user_id", "node", "vm_state", "task_state", "ip", "ip6")
_ADMIN_FILTERS = ("host", "node", "project_id", "tenant_id", "user_id")


def server_view(compute: ServerGroupService, req: Request, inst: ServerView, kind: str = views.SHOW) -> dict[str, Any]:
    """One server at the request's microversion, as ``kind`` shows it (2.71 adds its server group but in lists)."""
    ver = Controller.ver(req)
    groups = None
    if ver >= v("2.71") and kind != views.LIST:
        g = compute.server_group_of(req.context, inst["uuid"])
        groups = [g] if g else []
    return views.server_detail(Controller.base(req), inst, ver, req.context.is_admin, groups, kind)


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
        return self.paged(req, [server_view(self.compute, req, i, views.LIST) for i in insts], args["limit"], "servers",
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
        block_devices = [_block_device(b) for b in s.get("block_device_mapping_v2") or []]
        block_devices += [_legacy_block_device(b) for b in s.get("block_device_mapping") or []]
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
        self._check_bootable(req, [b for b in block_devices if b is not None])
        insts = self.compute.create_servers(
            req.context, name=s["name"], image_ref=image_ref, flavor_id=ref(s["flavorRef"]) or "",
            min_count=min_count, max_count=max_count, key_name=s.get("key_name"), user_data=s.get("user_data"),
            metadata=s.get("metadata"), networks=networks, security_groups=sgs, availability_zone=az,
            scheduler_hints=hints, admin_password=admin_pass, description=s.get("description"),
            tags=s.get("tags"), config_drive=bool(s.get("config_drive")),
            access_ip_v4=access_ip(s.get("accessIPv4"), 4, "server.accessIPv4"),
            access_ip_v6=access_ip(s.get("accessIPv6"), 6, "server.accessIPv6"), hostname=s.get("hostname"),
            block_devices=[b for b in block_devices if b is not None],
            auto_disk_config=(s["OS-DCF:diskConfig"] == "AUTO") if "OS-DCF:diskConfig" in s else None)
        disk_config = s.get("OS-DCF:diskConfig", "MANUAL")
        if s.get("return_reservation_id"):
            return 202, {"reservation_id": insts[0]["reservation_id"]}
        first = insts[0]
        out = {"id": first["uuid"], "links": views.links(self.base(req), "servers", first["uuid"]),
               "OS-DCF:diskConfig": disk_config,
               "security_groups": [{"name": n} for n in first.get("security_groups") or []]}
        if self.hub.conf.compute.enable_instance_password:
            out["adminPass"] = admin_pass
        return 202, {"server": out}, {"Location": f"{self.base(req)}/servers/{first['uuid']}"}

    def _check_bootable(self, req: Request, devices: list[BlockDeviceRequest]) -> None:
        """As Nova's API: a volume given as the boot device must be bootable.

        :raises Invalid: it is not (400, before any server is made). A volume the caller cannot see
            is left to the compute service (its 400), as is a cloud without a volume service.
        """
        for b in devices:
            if b.source_type != "volume" or b.boot_index != 0 or not b.uuid:
                continue
            try:
                volumes: VolumeContract = self.hub.volume
                found = volumes.get_volume(req.context, b.uuid)
            except (LookupError, exception.NotFound):
                continue
            if not found.bootable:
                raise exception.Invalid(reason=f"Block Device Mapping is Invalid: Block Device {b.uuid} is not "
                                               "bootable.")

    def update(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.OWNER)
        s = self.body(req, schemas.SERVER_UPDATE)["server"]
        values: dict[str, Any] = {}
        mapping = {"name": "display_name", "accessIPv4": "access_ip_v4", "accessIPv6": "access_ip_v6",
                   "hostname": "hostname"}
        for k, col in mapping.items():
            if k in s:
                values[col] = s[k]
        for k, version in (("accessIPv4", 4), ("accessIPv6", 6)):
            if k in s:
                values[mapping[k]] = access_ip(s[k], version, f"server.{k}")
        if "description" in s:
            if self.ver(req) < v("2.19"):
                raise exception.ValidationError(field="server.description",
                                                reason="needs microversion 2.19 or later")
            values["display_description"] = s["description"]
        if "OS-DCF:diskConfig" in s:
            values["auto_disk_config"] = s["OS-DCF:diskConfig"] == "AUTO"
        inst = self.compute.update_server(req.context, server_id, values)
        return {"server": server_view(self.compute, req, inst, views.UPDATE)}

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


def _int(value: Any, field: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise exception.ValidationError(field=field, reason=f"'{value}' is not an integer") from None


def _block_device(b: dict[str, Any]) -> BlockDeviceRequest | None:
    """One ``block_device_mapping_v2`` item as the compute service takes it (None: ``no_device``).

    Nova's defaults: ``destination_type`` volume for a volume or snapshot source, local otherwise;
    the legacy ``image_id``/``volume_id``/``snapshot_id`` keys stand for ``uuid``.
    """
    if b.get("no_device"):
        return None
    source = b.get("source_type")
    if not source:
        raise exception.ValidationError(field="server.block_device_mapping_v2",
                                        reason="each block device needs a source_type")
    dest = b.get("destination_type") or ("volume" if source in ("volume", "snapshot") else "local")
    uuid = b.get("uuid") or b.get(f"{source}_id")
    return BlockDeviceRequest(
        source_type=source, destination_type=dest, uuid=uuid,
        boot_index=_int(b.get("boot_index"), "boot_index"),
        volume_size=_int(b.get("volume_size"), "volume_size"), device_name=b.get("device_name") or None,
        delete_on_termination=as_bool(b.get("delete_on_termination", False)), tag=b.get("tag"),
        disk_bus=b.get("disk_bus"), device_type=b.get("device_type"), guest_format=b.get("guest_format"),
        volume_type=b.get("volume_type"))


def _legacy_block_device(b: dict[str, Any]) -> BlockDeviceRequest | None:
    """A legacy ``block_device_mapping`` item (a volume or a snapshot at a device name)."""
    if b.get("no_device"):
        return None
    source, uuid = ("snapshot", b["snapshot_id"]) if b.get("snapshot_id") else ("volume", b.get("volume_id"))
    device = b.get("device_name") or None
    root = bool(device) and str(device).rsplit("/", 1)[-1] in ("vda", "sda", "xvda", "hda")
    return BlockDeviceRequest(source_type=source, destination_type="volume", uuid=uuid, device_name=device,
                              boot_index=0 if root else None, volume_size=_int(b.get("volume_size"), "volume_size"),
                              delete_on_termination=as_bool(b.get("delete_on_termination", False)))


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
