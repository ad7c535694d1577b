"""The Block Storage API v3 WSGI application: routes, request parsing, Cinder-shaped answers.

Thin: every decision (states, quotas, who may do what) is ``hub.volume``'s.
Paths are ``/v3/{project_id}/...`` below the mount point (``/volume``); the
project in the path must be the token's unless the caller is an admin. The
version documents (``/``, ``/v3``, ``/v3/``) answer without a token
(keystoneauth asks before it has one). Faults are Cinder's
``{"badRequest": {"message", "code"}}``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from cumulo import exception, policy
from cumulo.context import RequestContext
from cumulo.interfaces.volume import Connector
from cumulo.wsgi import Request, Router
from cumulo.wsgi.middleware import pipeline
from cumulo_api_volume.admin import AdminController
from cumulo_api_volume.groups import GroupsController
from cumulo_api_volume.microversion import MAX_VERSION, MIN_VERSION, Negotiate, at_least
from cumulo_api_volume.qos import QosController
from cumulo_api_volume.transfers import TransfersController
from cumulo_api_volume.views import View

ROOT = "/v3/{project_id}"
VERSION_PATHS = ("/", "/v3", "/v3/")
PAGING = ("limit", "marker", "offset", "sort", "sort_key", "sort_dir", "with_count")
_FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound", 405: "badMethod",
                406: "notAcceptable", 409: "conflictingRequest", 413: "overLimit", 415: "badMediaType",
                501: "notImplemented", 503: "serviceUnavailable"}
UPDATED = "2023-09-01T00:00:00Z"
_LEGACY_ACTIONS = ("os-reserve", "os-unreserve", "os-attach", "os-begin_detaching", "os-roll_detaching", "os-detach",
                   "os-force_detach")


def cinder_fault(status: int, title: str, message: str, error: BaseException | None) -> dict[str, Any]:
    """Cinder's fault body: ``{"itemNotFound": {"message": ..., "code": 404}}``."""
    return {_FAULT_NAMES.get(status, "computeFault"): {"message": message, "code": status}}


def _version_doc(base: str) -> dict[str, Any]:
    return {"id": "v3.0", "status": "CURRENT", "version": MAX_VERSION, "min_version": MIN_VERSION,
            "updated": UPDATED,
            "links": [{"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
                      {"rel": "self", "href": base.rstrip("/") + "/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}



def _one_key(meta: dict[str, str], key: str, kind: str, resource_id: str) -> dict[str, Any]:
    """``{"meta": {key: value}}`` of a volume's or snapshot's metadata; 404 without that key."""
    if key not in meta:
        raise exception.NotFound(f"{kind} {resource_id} has no metadata with key {key}.")
    return {"meta": {key: meta[key]}}


def _meta_for_key(req: Request, key: str) -> dict[str, Any]:
    """The ``meta`` of a PUT to one metadata key: exactly that key."""
    meta = _body(req, "meta")
    if set(meta) != {key}:
        raise exception.Invalid(reason="The body's 'meta' must have exactly one key, the one in the URL.")
    return meta

def _body(req: Request, key: str) -> dict[str, Any]:
    body = req.json_body_or_fault()
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise exception.Invalid(reason=f"The request body must be a JSON object with a '{key}' object.")
    return body[key]


def _time_filter(raw: str, field: str) -> tuple[str, datetime.datetime]:
    """``gt:2024-01-01T00:00:00Z`` (3.60): the operator and the time as naive UTC."""
    op, sep, text = raw.partition(":")
    if not sep or op not in ("gt", "gte", "lt", "lte", "eq", "neq"):
        op, text = "eq", raw
    try:
        when = datetime.datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise exception.ValidationError(field=field, reason=f"'{text}' is not an ISO 8601 time") from None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.UTC).replace(tzinfo=None)
    return op, when


_OPS: dict[str, Callable[[datetime.datetime, datetime.datetime], bool]] = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b, "neq": lambda a, b: a != b}


class VolumeAPI:
    """Handlers of the Block Storage API v3, calling ``hub.volume``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.router = Router()
        r, p = self.router, ROOT
        r.add("GET", "/", self.versions_multiple)
        r.add("GET", "/v3", self.version)
        r.add("GET", "/v3/", self.version)
        # volumes
        r.add("GET", p + "/volumes", self.list_volumes)
        r.add("GET", p + "/volumes/detail", self.list_volumes_detail)
        r.add("GET", p + "/volumes/summary", self.volume_summary)
        r.add("POST", p + "/volumes", self.create_volume)
        r.add("GET", p + "/volumes/{volume_id}", self.show_volume)
        r.add("PUT", p + "/volumes/{volume_id}", self.update_volume)
        r.add("DELETE", p + "/volumes/{volume_id}", self.delete_volume)
        r.add("POST", p + "/volumes/{volume_id}/action", self.volume_action)
        r.add("GET", p + "/volumes/{volume_id}/metadata", self.volume_metadata)
        r.add("POST", p + "/volumes/{volume_id}/metadata", self.merge_volume_metadata)
        r.add("PUT", p + "/volumes/{volume_id}/metadata", self.replace_volume_metadata)
        r.add("GET", p + "/volumes/{volume_id}/metadata/{key}", self.volume_metadata_key)
        r.add("PUT", p + "/volumes/{volume_id}/metadata/{key}", self.set_volume_metadata_key)
        r.add("DELETE", p + "/volumes/{volume_id}/metadata/{key}", self.delete_volume_metadata_key)
        # snapshots
        r.add("GET", p + "/snapshots", self.list_snapshots)
        r.add("GET", p + "/snapshots/detail", self.list_snapshots_detail)
        r.add("POST", p + "/snapshots", self.create_snapshot)
        r.add("GET", p + "/snapshots/{snapshot_id}", self.show_snapshot)
        r.add("PUT", p + "/snapshots/{snapshot_id}", self.update_snapshot)
        r.add("DELETE", p + "/snapshots/{snapshot_id}", self.delete_snapshot)
        r.add("POST", p + "/snapshots/{snapshot_id}/action", self.snapshot_action)
        r.add("GET", p + "/snapshots/{snapshot_id}/metadata", self.snapshot_metadata)
        r.add("POST", p + "/snapshots/{snapshot_id}/metadata", self.merge_snapshot_metadata)
        r.add("PUT", p + "/snapshots/{snapshot_id}/metadata", self.replace_snapshot_metadata)
        r.add("GET", p + "/snapshots/{snapshot_id}/metadata/{key}", self.snapshot_metadata_key)
        r.add("PUT", p + "/snapshots/{snapshot_id}/metadata/{key}", self.set_snapshot_metadata_key)
        r.add("DELETE", p + "/snapshots/{snapshot_id}/metadata/{key}", self.delete_snapshot_metadata_key)
        # backups
        r.add("GET", p + "/backups", self.list_backups)
        r.add("GET", p + "/backups/detail", self.list_backups_detail)
        r.add("POST", p + "/backups", self.create_backup)
        r.add("GET", p + "/backups/{backup_id}", self.show_backup)
        r.add("DELETE", p + "/backups/{backup_id}", self.delete_backup)
        r.add("PUT", p + "/backups/{backup_id}", self.update_backup)
        r.add("POST", p + "/backups/{backup_id}/restore", self.restore_backup)
        r.add("POST", p + "/backups/{backup_id}/action", self.backup_action)
        # attachments (3.27)
        r.add("GET", p + "/attachments", self.list_attachments)
        r.add("GET", p + "/attachments/detail", self.list_attachments_detail)
        r.add("POST", p + "/attachments", self.create_attachment)
        r.add("GET", p + "/attachments/{attachment_id}", self.show_attachment)
        r.add("PUT", p + "/attachments/{attachment_id}", self.update_attachment)
        r.add("DELETE", p + "/attachments/{attachment_id}", self.delete_attachment)
        r.add("POST", p + "/attachments/{attachment_id}/action", self.attachment_action)
        # types
        r.add("GET", p + "/types", self.list_types)
        r.add("POST", p + "/types", self.create_type)
        r.add("GET", p + "/types/{type_id}", self.show_type)
        r.add("PUT", p + "/types/{type_id}", self.update_type)
        r.add("DELETE", p + "/types/{type_id}", self.delete_type)
        r.add("POST", p + "/types/{type_id}/action", self.type_action)
        r.add("GET", p + "/types/{type_id}/os-volume-type-access", self.type_access)
        r.add("GET", p + "/types/{type_id}/extra_specs", self.extra_specs)
        r.add("POST", p + "/types/{type_id}/extra_specs", self.create_extra_specs)
        r.add("GET", p + "/types/{type_id}/extra_specs/{key}", self.extra_spec)
        r.add("PUT", p + "/types/{type_id}/extra_specs/{key}", self.update_extra_spec)
        r.add("DELETE", p + "/types/{type_id}/extra_specs/{key}", self.delete_extra_spec)
        # quotas, limits, zones, services, extensions
        r.add("GET", p + "/os-quota-sets/{target}", self.show_quotas)
        r.add("PUT", p + "/os-quota-sets/{target}", self.update_quotas)
        r.add("DELETE", p + "/os-quota-sets/{target}", self.delete_quotas)
        r.add("GET", p + "/os-quota-sets/{target}/defaults", self.default_quotas)
        r.add("GET", p + "/limits", self.limits)
        r.add("GET", p + "/os-availability-zone", self.availability_zones)
        r.add("GET", p + "/os-services", self.services)
        # resources in their own controller modules
        TransfersController(hub).add_routes(r, p)
        AdminController(hub).add_routes(r, p)
        GroupsController(hub).add_routes(r, p)
        QosController(hub).add_routes(r, p)

    @property
    def volumes(self) -> Any:
        return self.hub.volume

    @staticmethod
    def _ctx(req: Request, project_id: str) -> RequestContext:
        ctx = req.context
        if project_id != ctx.project_id and not ctx.is_admin:
            raise exception.Invalid(reason=f"Malformed request url: URL's project_id '{project_id}' doesn't match "
                                           f"Context's project_id '{ctx.project_id}'")
        return ctx

    def _view(self, req: Request) -> View:
        return View(req.environ, req.context, req.application_url)

    # -- versions
    def versions_multiple(self, req: Request) -> tuple[int, dict[str, Any]]:
        return 300, {"versions": [_version_doc(req.application_url)]}

    def version(self, req: Request) -> dict[str, Any]:
        return {"versions": [_version_doc(req.application_url)]}

    # -- listing helpers
    def _list_args(self, req: Request, inexact_version: str = "3.34") -> dict[str, Any]:
        limit = req.int_param("limit", None, minimum=0)
        max_limit = int(self.conf.api.max_limit)
        limit = max_limit if limit is None else min(limit, max_limit)
        offset = req.int_param("offset", None, minimum=0)
        filters: dict[str, Any] = {}
        for key, value in req.GET.items():
            if key in PAGING:
                continue
            if key.endswith("~") and not at_least(req.environ, inexact_version):
                continue
            filters[key] = value
        sort = {k: req.GET[k] for k in ("sort", "sort_key", "sort_dir") if k in req.GET}
        return {"filters": filters, "sort_params": sort, "limit": limit, "marker": req.GET.get("marker") or None,
                "offset": offset}

    @staticmethod
    def _time_filtered(req: Request, args: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
        tests: list[tuple[str, str, datetime.datetime]] = []
        for field in ("created_at", "updated_at"):
            raw = args["filters"].pop(field, None)
            if raw is not None and at_least(req.environ, "3.60"):
                op, when = _time_filter(str(raw), field)
                tests.append((field, op, when))

        def keep(item: dict[str, Any]) -> bool:
            for field, op, when in tests:
                value = item.get(field) or item.get("created_at")
                if value is None or not _OPS[op](datetime.datetime.fromisoformat(value), when):
                    return False
            return True

        return keep

    def _listing(self, req: Request, project_id: str, what: str) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
        ctx = self._ctx(req, project_id)
        args = self._list_args(req)
        keep = self._time_filtered(req, args)
        lister = {"volumes": self.volumes.list, "snapshots": self.volumes.list_snapshots,
                  "backups": self.volumes.list_backups}[what]
        if any(f in req.GET for f in ("created_at", "updated_at")) and at_least(req.environ, "3.60"):
            # time filters apply before paging: list everything, filter, then page here
            every, _ = lister(ctx, args["filters"], args["sort_params"])
            matched = [i for i in every if keep(i)]
            from_marker = matched
            if args["marker"]:
                ids = [i["id"] for i in matched]
                if args["marker"] not in ids:
                    raise exception.Invalid(reason=f"Marker {args['marker']} could not be found.")
                from_marker = matched[ids.index(args["marker"]) + 1:]
            items = from_marker[args["offset"] or 0:][:args["limit"]]
            return items, len(matched), args
        items, count = lister(ctx, args["filters"], args["sort_params"], limit=args["limit"], marker=args["marker"],
                              offset=args["offset"])
        return items, count, args

    def _links(self, req: Request, project_id: str, collection: str, items: list[dict[str, Any]],
               args: dict[str, Any], count: int) -> list[dict[str, str]]:
        if not items or len(items) < args["limit"] or count <= len(items):
            return []
        params = [(k, v) for k, v in req.GET.items() if k not in ("marker",)]
        params.append(("marker", items[-1]["id"]))
        return [{"rel": "next", "href": f"{req.application_url}/v3/{project_id}/{collection}?{urlencode(params)}"}]

    def _collection(self, req: Request, project_id: str, what: str, detail: bool) -> dict[str, Any]:
        items, count, args = self._listing(req, project_id, what)
        view = self._view(req)
        if what == "volumes":
            rendered = [view.volume(v) if detail else view.volume_summary(v) for v in items]
        elif what == "backups":
            rendered = [view.backup(b) if detail else view.backup_summary(b) for b in items]
        else:
            rendered = [view.snapshot(s, extended=detail) for s in items]
        body: dict[str, Any] = {what: rendered}
        path = f"{what}/detail" if detail else what
        links = self._links(req, project_id, path, items, args, count)
        if links:
            body[f"{what}_links"] = links
        if at_least(req.environ, "3.45") and req.bool_param("with_count", False):
            body["count"] = count
        return body

    # -- volumes
    def list_volumes(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._collection(req, project_id, "volumes", detail=False)

    def list_volumes_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._collection(req, project_id, "volumes", detail=True)

    def volume_summary(self, req: Request, project_id: str) -> dict[str, Any]:
        if not at_least(req.environ, "3.12"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found.")
        ctx = self._ctx(req, project_id)
        filters = {k: v for k, v in req.GET.items() if k in ("all_tenants", "project_id")}
        items, _ = self.volumes.list(ctx, filters)
        summary: dict[str, Any] = {"total_size": sum(v["size"] for v in items), "total_count": len(items)}
        if at_least(req.environ, "3.36"):
            meta: dict[str, list[str]] = {}
            for v in items:
                for key, value in v["metadata"].items():
                    meta.setdefault(key, [])
                    if value not in meta[key]:
                        meta[key].append(value)
            summary["metadata"] = meta
        return {"volume-summary": summary}

    def create_volume(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._ctx(req, project_id)
        fields = dict(_body(req, "volume"))
        for legacy, name in (("display_name", "name"), ("display_description", "description")):
            if legacy in fields and name not in fields:
                fields[name] = fields.pop(legacy)
        vol = self.volumes.create(ctx, fields)
        return 202, {"volume": self._view(req).volume(vol, extended=False)}

    def show_volume(self, req: Request, project_id: str, volume_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        return {"volume": self._view(req).volume(self.volumes.get(ctx, volume_id))}

    def update_volume(self, req: Request, project_id: str, volume_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        changes = _body(req, "volume")
        allowed = {"name", "description", "display_name", "display_description", "metadata"}
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise exception.ValidationError(field="volume", reason=f"cannot update {', '.join(unknown)}")
        return {"volume": self._view(req).volume(self.volumes.update(ctx, volume_id, changes), extended=False)}

    def delete_volume(self, req: Request, project_id: str, volume_id: str) -> tuple[int, None]:
        ctx = self._ctx(req, project_id)
        cascade = bool(req.bool_param("cascade", False))
        force = bool(req.bool_param("force", False)) if at_least(req.environ, "3.23") else False
        self.volumes.delete(ctx, volume_id, cascade=cascade, force=force)
        return 202, None

    def volume_action(self, req: Request, project_id: str, volume_id: str) -> tuple[int, Any]:
        ctx = self._ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or len(body) != 1:
            raise exception.Invalid(reason="An action body is a JSON object with exactly one action.")
        action, args = next(iter(body.items()))
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise exception.ValidationError(field=action, reason="must be an object")
        if action == "os-extend":
            if "new_size" not in args:
                raise exception.ValidationError(field="os-extend.new_size", reason="is required")
            self.volumes.extend(ctx, volume_id, args["new_size"], in_use=at_least(req.environ, "3.42"))
        elif action == "os-set_bootable":
            if "bootable" not in args:
                raise exception.ValidationError(field="os-set_bootable.bootable", reason="is required")
            self.volumes.set_bootable(ctx, volume_id, args["bootable"])
            return 200, None
        elif action == "os-update_readonly_flag":
            if "readonly" not in args:
                raise exception.ValidationError(field="os-update_readonly_flag.readonly", reason="is required")
            self.volumes.set_readonly(ctx, volume_id, args["readonly"])
        elif action == "os-reset_status":
            if "status" not in args:
                raise exception.ValidationError(field="os-reset_status.status", reason="is required")
            self.volumes.reset_status(ctx, volume_id, args["status"])
        elif action == "os-force_delete":
            self.volumes.delete(ctx, volume_id, force=True)
        elif action == "os-unmanage":
            self.volumes.unmanage_volume(ctx, volume_id)
        elif action == "os-retype":
            self.volumes.retype(ctx, volume_id, args.get("new_type"), args.get("migration_policy"))
        elif action == "os-set_image_metadata":
            return 200, {"metadata": self.volumes.set_image_metadata(ctx, volume_id, args.get("metadata"))}
        elif action == "os-unset_image_metadata":
            self.volumes.unset_image_metadata(ctx, volume_id, args.get("key"))
            return 200, None
        elif action == "os-show_image_metadata":
            return 200, {"metadata": self.volumes.show_image_metadata(ctx, volume_id)}
        elif action in _LEGACY_ACTIONS:
            self._legacy_action(ctx, volume_id, action, args)
        elif action == "os-volume_upload_image":
            if not at_least(req.environ, "3.1"):
                args = {k: v for k, v in args.items() if k not in ("visibility", "protected")}
            return 202, {"os-volume_upload_image": self.volumes.upload_to_image(ctx, volume_id, args)}
        else:
            raise exception.Invalid(reason=f"There is no such action: {action}")
        return 202, None

    def _legacy_action(self, ctx: RequestContext, volume_id: str, action: str, args: dict[str, Any]) -> None:
        svc = self.volumes
        if action == "os-reserve":
            svc.legacy_reserve(ctx, volume_id)
        elif action == "os-unreserve":
            svc.legacy_unreserve(ctx, volume_id)
        elif action == "os-attach":
            svc.legacy_attach(ctx, volume_id, args)
        elif action == "os-begin_detaching":
            svc.legacy_begin_detaching(ctx, volume_id)
        elif action == "os-roll_detaching":
            svc.legacy_roll_detaching(ctx, volume_id)
        else:
            svc.legacy_detach(ctx, volume_id, args.get("attachment_id"), force=action == "os-force_detach")

    # -- volume metadata
    def volume_metadata(self, req: Request, project_id: str, volume_id: str) -> dict[str, Any]:
        return {"metadata": self.volumes.get_metadata(self._ctx(req, project_id), volume_id)}

    def merge_volume_metadata(self, req: Request, project_id: str, volume_id: str) -> dict[str, Any]:
        meta = _body(req, "metadata")
        return {"metadata": self.volumes.set_metadata(self._ctx(req, project_id), volume_id, meta, replace=False)}

    def replace_volume_metadata(self, req: Request, project_id: str, volume_id: str) -> dict[str, Any]:
        meta = _body(req, "metadata")
        return {"metadata": self.volumes.set_metadata(self._ctx(req, project_id), volume_id, meta, replace=True)}

    def volume_metadata_key(self, req: Request, project_id: str, volume_id: str, key: str) -> dict[str, Any]:
        return _one_key(self.volumes.get_metadata(self._ctx(req, project_id), volume_id), key, "Volume", volume_id)

    def set_volume_metadata_key(self, req: Request, project_id: str, volume_id: str, key: str) -> dict[str, Any]:
        meta = _meta_for_key(req, key)
        self.volumes.set_metadata(self._ctx(req, project_id), volume_id, meta, replace=False)
        return {"meta": meta}

    def delete_volume_metadata_key(self, req: Request, project_id: str, volume_id: str, key: str) -> tuple[int, None]:
        self.volumes.delete_metadata(self._ctx(req, project_id), volume_id, key)
        return 200, None  # Cinder's answer (not 204)

    # -- snapshots
    def list_snapshots(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._collection(req, project_id, "snapshots", detail=False)

    def list_snapshots_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._collection(req, project_id, "snapshots", detail=True)

    def create_snapshot(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._ctx(req, project_id)
        fields = _body(req, "snapshot")
        snap = self.volumes.create_snapshot(ctx, fields.get("volume_id"),
                                            name=fields.get("name", fields.get("display_name")),
                                            description=fields.get("description", fields.get("display_description")),
                                            force=fields.get("force", False), metadata=fields.get("metadata"))
        return 202, {"snapshot": self._view(req).snapshot(snap, extended=False)}

    def show_snapshot(self, req: Request, project_id: str, snapshot_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        return {"snapshot": self._view(req).snapshot(self.volumes.get_snapshot(ctx, snapshot_id))}

    def update_snapshot(self, req: Request, project_id: str, snapshot_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        changes = _body(req, "snapshot")
        unknown = sorted(set(changes) - {"name", "description", "display_name", "display_description"})
        if unknown:
            raise exception.ValidationError(field="snapshot", reason=f"cannot update {', '.join(unknown)}")
        return {"snapshot": self._view(req).snapshot(self.volumes.update_snapshot(ctx, snapshot_id, changes),
                                                     extended=False)}

    def delete_snapshot(self, req: Request, project_id: str, snapshot_id: str) -> tuple[int, None]:
        self.volumes.delete_snapshot(self._ctx(req, project_id), snapshot_id)
        return 202, None

    def snapshot_action(self, req: Request, project_id: str, snapshot_id: str) -> tuple[int, None]:
        ctx = self._ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or len(body) != 1:
            raise exception.Invalid(reason="An action body is a JSON object with exactly one action.")
        action, args = next(iter(body.items()))
        if action == "os-reset_status":
            if not isinstance(args, dict) or "status" not in args:
                raise exception.ValidationError(field="os-reset_status.status", reason="is required")
            self.volumes.reset_snapshot_status(ctx, snapshot_id, args["status"])
        elif action == "os-force_delete":
            self.volumes.delete_snapshot(ctx, snapshot_id, force=True)
        elif action == "os-update_snapshot_status":
            if not isinstance(args, dict) or "status" not in args:
                raise exception.ValidationError(field="os-update_snapshot_status.status", reason="is required")
            self.volumes.update_snapshot_status(ctx, snapshot_id, args["status"], args.get("progress"))
        else:
            raise exception.Invalid(reason=f"There is no such action: {action}")
        return 202, None

    def snapshot_metadata(self, req: Request, project_id: str, snapshot_id: str) -> dict[str, Any]:
        return {"metadata": self.volumes.get_snapshot_metadata(self._ctx(req, project_id), snapshot_id)}

    def merge_snapshot_metadata(self, req: Request, project_id: str, snapshot_id: str) -> dict[str, Any]:
        meta = _body(req, "metadata")
        return {"metadata": self.volumes.set_snapshot_metadata(self._ctx(req, project_id), snapshot_id, meta,
                                                               replace=False)}

    def replace_snapshot_metadata(self, req: Request, project_id: str, snapshot_id: str) -> dict[str, Any]:
        meta = _body(req, "metadata")
        return {"metadata": self.volumes.set_snapshot_metadata(self._ctx(req, project_id), snapshot_id, meta,
                                                               replace=True)}

    def snapshot_metadata_key(self, req: Request, project_id: str, snapshot_id: str, key: str) -> dict[str, Any]:
        return _one_key(self.volumes.get_snapshot_metadata(self._ctx(req, project_id), snapshot_id), key, "Snapshot",
                        snapshot_id)

    def set_snapshot_metadata_key(self, req: Request, project_id: str, snapshot_id: str, key: str) -> dict[str, Any]:
        meta = _meta_for_key(req, key)
        self.volumes.set_snapshot_metadata(self._ctx(req, project_id), snapshot_id, meta, replace=False)
        return {"meta": meta}

    def delete_snapshot_metadata_key(self, req: Request, project_id: str, snapshot_id: str,
                                     key: str) -> tuple[int, None]:
        self.volumes.delete_snapshot_metadata(self._ctx(req, project_id), snapshot_id, key)
        return 200, None  # Cinder's answer (not 204)

    # -- backups
    def list_backups(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._collection(req, project_id, "backups", detail=False)

    def list_backups_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._collection(req, project_id, "backups", detail=True)

    def create_backup(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._ctx(req, project_id)
        fields = _body(req, "backup")
        made = self.volumes.create_backup(ctx, fields.get("volume_id"), name=fields.get("name"),
                                          description=fields.get("description"), container=fields.get("container"),
                                          incremental=fields.get("incremental", False),
                                          force=fields.get("force", False), snapshot_id=fields.get("snapshot_id"),
                                          metadata=fields.get("metadata") if at_least(req.environ, "3.43") else None)
        return 202, {"backup": self._view(req).backup_summary(made)}

    def show_backup(self, req: Request, project_id: str, backup_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        return {"backup": self._view(req).backup(self.volumes.get_backup(ctx, backup_id))}

    def update_backup(self, req: Request, project_id: str, backup_id: str) -> dict[str, Any]:
        if not at_least(req.environ, "3.9"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found (updating a backup needs "
                                     "microversion 3.9).")
        ctx = self._ctx(req, project_id)
        changes = dict(_body(req, "backup"))
        if not at_least(req.environ, "3.43"):
            changes.pop("metadata", None)
        made = self.volumes.update_backup(ctx, backup_id, changes)
        out = self._view(req).backup_summary(made)
        if at_least(req.environ, "3.43"):
            out["metadata"] = made["metadata"]
        return {"backup": out}

    def delete_backup(self, req: Request, project_id: str, backup_id: str) -> tuple[int, None]:
        ctx = self._ctx(req, project_id)
        self.volumes.delete_backup(ctx, backup_id, force=bool(req.bool_param("force", False)))
        return 202, None

    def restore_backup(self, req: Request, project_id: str, backup_id: str) -> tuple[int, dict[str, Any]]:
        ctx = self._ctx(req, project_id)
        body = req.json_body_or_fault()
        args = body.get("restore") if isinstance(body, dict) else None
        if not isinstance(args, dict):
            raise exception.Invalid(reason="The request body must be a JSON object with a 'restore' object.")
        return 202, {"restore": self.volumes.restore_backup(ctx, backup_id, volume_id=args.get("volume_id"),
                                                            name=args.get("name"))}

    def backup_action(self, req: Request, project_id: str, backup_id: str) -> tuple[int, None]:
        ctx = self._ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or len(body) != 1:
            raise exception.Invalid(reason="An action body is a JSON object with exactly one action.")
        action, args = next(iter(body.items()))
        if action == "os-reset_status":
            if not isinstance(args, dict) or "status" not in args:
                raise exception.ValidationError(field="os-reset_status.status", reason="is required")
            self.volumes.reset_backup_status(ctx, backup_id, args["status"])
        elif action == "os-force_delete":
            self.volumes.delete_backup(ctx, backup_id, force=True)
        else:
            raise exception.Invalid(reason=f"There is no such action: {action}")
        return 202, None

    # -- attachments (3.27; the flow compute uses through cumulo.contracts.volume)
    @staticmethod
    def _attachments_version(req: Request) -> None:
        if not at_least(req.environ, "3.27"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found (attachments need "
                                     "microversion 3.27).")

    @staticmethod
    def _connector(value: Any) -> Connector:
        if not isinstance(value, dict) or not isinstance(value.get("host"), str) or not value["host"]:
            raise exception.ValidationError(field="connector", reason="must be an object with a 'host'")
        protocols = value.get("protocols") or ()
        if not isinstance(protocols, (list, tuple)) or not all(isinstance(p, str) for p in protocols):
            raise exception.ValidationError(field="connector.protocols", reason="must be a list of strings")
        ip, initiator = value.get("ip"), value.get("initiator")
        return Connector(host=value["host"], ip=ip if isinstance(ip, str) else None,
                         initiator=initiator if isinstance(initiator, str) else None, protocols=tuple(protocols))

    def list_attachments(self, req: Request, project_id: str) -> dict[str, Any]:
        return self.list_attachments_detail(req, project_id, summary=True)

    def list_attachments_detail(self, req: Request, project_id: str, summary: bool = False) -> dict[str, Any]:
        self._attachments_version(req)
        ctx = self._ctx(req, project_id)
        found = self.volumes.list_attachments(ctx, all_projects=bool(req.bool_param("all_tenants", False)))
        if summary:
            found = [{k: a[k] for k in ("id", "volume_id", "instance", "status")} for a in found]
        return {"attachments": found}

    def create_attachment(self, req: Request, project_id: str) -> dict[str, Any]:
        self._attachments_version(req)
        ctx = self._ctx(req, project_id)
        fields = _body(req, "attachment")
        volume_id, server_id = fields.get("volume_uuid"), fields.get("instance_uuid")
        if not isinstance(volume_id, str) or not volume_id:
            raise exception.ValidationError(field="volume_uuid", reason="is required")
        if server_id is not None and not isinstance(server_id, str):
            raise exception.ValidationError(field="instance_uuid", reason="must be a server id")
        connector = self._connector(fields["connector"]) if fields.get("connector") else None
        policy.authorize(ctx, "volume:attachment_create", {"project_id": ctx.project_id})
        att = self.volumes.reserve(ctx, volume_id, server_id or "")
        if connector is not None:
            self.volumes.attach(ctx, att.id, connector)
        return {"attachment": self.volumes.get_attachment(ctx, att.id)}

    def show_attachment(self, req: Request, project_id: str, attachment_id: str) -> dict[str, Any]:
        self._attachments_version(req)
        return {"attachment": self.volumes.get_attachment(self._ctx(req, project_id), attachment_id)}

    def update_attachment(self, req: Request, project_id: str, attachment_id: str) -> dict[str, Any]:
        self._attachments_version(req)
        ctx = self._ctx(req, project_id)
        fields = _body(req, "attachment")
        connector = self._connector(fields.get("connector"))
        policy.authorize(ctx, "volume:attachment_update", {"project_id": ctx.project_id})
        self.volumes.get_attachment(ctx, attachment_id)  # 404 before anything is exported
        self.volumes.attach(ctx, attachment_id, connector)
        return {"attachment": self.volumes.get_attachment(ctx, attachment_id)}

    def delete_attachment(self, req: Request, project_id: str, attachment_id: str) -> dict[str, Any]:
        self._attachments_version(req)
        ctx = self._ctx(req, project_id)
        policy.authorize(ctx, "volume:attachment_delete", {"project_id": ctx.project_id})
        att = self.volumes.get_attachment(ctx, attachment_id)
        if att["status"] == "reserved":
            self.volumes.unreserve(ctx, attachment_id)
        else:
            self.volumes.detach(ctx, attachment_id)
        return {"attachments": [a for a in self.volumes.list_attachments(ctx) if a["volume_id"] == att["volume_id"]]}

    def attachment_action(self, req: Request, project_id: str, attachment_id: str) -> None:
        if not at_least(req.environ, "3.44"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found (os-complete needs "
                                     "microversion 3.44).")
        ctx = self._ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or set(body) != {"os-complete"}:
            raise exception.Invalid(reason="The only attachment action is os-complete.")
        policy.authorize(ctx, "volume:attachment_complete", {"project_id": ctx.project_id})
        if self.volumes.get_attachment(ctx, attachment_id)["status"] != "attached":
            raise exception.Invalid(reason=f"Attachment {attachment_id} has no connection yet; update it with a "
                                           "connector first.")

    # -- types
    def list_types(self, req: Request, project_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        view = self._view(req)
        return {"volume_types": [view.volume_type(t) for t in self.volumes.list_types(ctx, req.GET.get("is_public"))]}

    def create_type(self, req: Request, project_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        fields = _body(req, "volume_type")
        public = fields.get("os-volume-type-access:is_public", fields.get("is_public", True))
        made = self.volumes.create_type(ctx, fields.get("name"), fields.get("description"), public,
                                        fields.get("extra_specs"))
        return {"volume_type": self._view(req).volume_type(made, answer="create")}

    def show_type(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        return {"volume_type": self._view(req).volume_type(self.volumes.get_type(ctx, type_id))}

    def update_type(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        changes = _body(req, "volume_type")
        if not set(changes) & {"name", "description", "is_public"}:
            raise exception.Invalid(reason="Specify volume type name, description, is_public or a combination "
                                           "thereof.")
        return {"volume_type": self._view(req).volume_type(self.volumes.update_type(ctx, type_id, changes),
                                                           answer="update")}

    def delete_type(self, req: Request, project_id: str, type_id: str) -> tuple[int, None]:
        self.volumes.delete_type(self._ctx(req, project_id), type_id)
        return 202, None

    def type_action(self, req: Request, project_id: str, type_id: str) -> tuple[int, None]:
        ctx = self._ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or len(body) != 1:
            raise exception.Invalid(reason="An action body is a JSON object with exactly one action.")
        action, args = next(iter(body.items()))
        if action not in ("addProjectAccess", "removeProjectAccess"):
            raise exception.Invalid(reason=f"There is no such action: {action}")
        if not isinstance(args, dict) or "project" not in args:
            raise exception.ValidationError(field=f"{action}.project", reason="is required")
        if action == "addProjectAccess":
            self.volumes.add_type_access(ctx, type_id, args["project"])
        else:
            self.volumes.remove_type_access(ctx, type_id, args["project"])
        return 202, None

    def type_access(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        return {"volume_type_access": self.volumes.type_access(self._ctx(req, project_id), type_id)}

    def extra_specs(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        return {"extra_specs": self.volumes.type_extra_specs(self._ctx(req, project_id), type_id)}

    def create_extra_specs(self, req: Request, project_id: str, type_id: str) -> dict[str, Any]:
        specs = _body(req, "extra_specs")
        return {"extra_specs": self.volumes.set_type_extra_specs(self._ctx(req, project_id), type_id, specs)}

    def extra_spec(self, req: Request, project_id: str, type_id: str, key: str) -> dict[str, Any]:
        return self.volumes.type_extra_spec(self._ctx(req, project_id), type_id, key)

    def update_extra_spec(self, req: Request, project_id: str, type_id: str, key: str) -> dict[str, Any]:
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or set(body) != {key}:
            raise exception.Invalid(reason="The body must have exactly one key, the one in the URL.")
        return self.volumes.set_type_extra_specs(self._ctx(req, project_id), type_id, body)

    def delete_extra_spec(self, req: Request, project_id: str, type_id: str, key: str) -> tuple[int, None]:
        self.volumes.delete_type_extra_spec(self._ctx(req, project_id), type_id, key)
        return 202, None

    # -- quotas and limits
    def show_quotas(self, req: Request, project_id: str, target: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        usage = bool(req.bool_param("usage", False))
        return {"quota_set": {"id": target, **self.volumes.show_quotas(ctx, target, usage=usage)}}

    def default_quotas(self, req: Request, project_id: str, target: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        self.volumes.show_quotas(ctx, target)  # the same policy as showing the project's quotas
        return {"quota_set": {"id": target, **self.volumes.default_quotas()}}

    def update_quotas(self, req: Request, project_id: str, target: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        changes = _body(req, "quota_set")
        changes = {k: v for k, v in changes.items() if k not in ("tenant_id", "id")}
        return {"quota_set": self.volumes.update_quotas(ctx, target, changes)}

    def delete_quotas(self, req: Request, project_id: str, target: str) -> tuple[int, None]:
        self.volumes.delete_quotas(self._ctx(req, project_id), target)
        return 200, None  # Cinder's answer (not 204)

    def limits(self, req: Request, project_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        return {"limits": {"rate": [], "absolute": self.volumes.used_limits(ctx)}}

    def availability_zones(self, req: Request, project_id: str) -> dict[str, Any]:
        return {"availabilityZoneInfo": self.volumes.availability_zones(self._ctx(req, project_id))}

    def services(self, req: Request, project_id: str) -> dict[str, Any]:
        ctx = self._ctx(req, project_id)
        found = self.volumes.services(ctx, binary=req.GET.get("binary") or None, host=req.GET.get("host") or None)
        if at_least(req.environ, "3.7"):
            found = [{**s, "cluster": None} for s in found]
        return {"services": found}


class _Versioned:
    """The version documents without a token; everything else through auth and negotiation."""

    def __init__(self, public: Callable[..., Any], protected: Callable[..., Any]) -> None:
        self.public, self.protected = public, protected

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and path in VERSION_PATHS:
            return self.public(environ, start_response)
        return self.protected(environ, start_response)


def build(hub: Any) -> Callable[..., Any]:
    """The whole app (mounted at ``/volume``): version documents open to all, the rest behind auth."""
    api = VolumeAPI(hub)
    limit = hub.conf.api.max_request_body_size
    protected = pipeline(Negotiate(api.router), renderer=cinder_fault, validate=hub.token_validator(),
                         max_body=limit, token_cache_seconds=hub.conf.api.token_cache_time)
    public = pipeline(api.router, renderer=cinder_fault, max_body=limit)
    return _Versioned(public, protected)
