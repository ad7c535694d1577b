"""Administrators' views of the backends: ``os-services`` actions (enable, disable, disable-log-reason,
freeze, thaw), ``os-hosts``, ``scheduler-stats/get_pools``, ``capabilities/{host}`` and ``extensions``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, Router
from cumulo_api_volume.controllers_common import body_object, links, project_ctx
from cumulo_api_volume.microversion import at_least
from cumulo_api_volume.views import View

UPDATED = "2012-01-01T00:00:00+00:00"

#: The API extensions Cinder lists and this frontend serves (name, alias, what).
EXTENSIONS = (
    ("AdminActions", "os-admin-actions", "Enable admin actions."),
    ("AvailabilityZones", "os-availability-zone", "Describe Availability Zones."),
    ("BackupsAdminActions", "os-backups-admin-actions", "Enable admin actions on backups."),
    ("Backups", "backups", "Backups support."),
    ("Capabilities", "capabilities", "Capabilities support."),
    ("ExtendedServices", "os-extended-services", "Extended services support."),
    ("ExtendedSnapshotAttributes", "os-extended-snapshot-attributes", "Extended SnapshotAttributes support."),
    ("Hosts", "os-hosts", "Admin-only host administration."),
    ("Qos_specs_manage", "qos-specs", "QoS specs support."),
    ("QuotaClasses", "os-quota-class-sets", "Quota classes management support."),
    ("Quotas", "os-quota-sets", "Quota management support."),
    ("SchedulerStats", "scheduler-stats", "Scheduler stats support."),
    ("Services", "os-services", "Services support."),
    ("SnapshotActions", "os-snapshot-actions", "Enable snapshot manager actions."),
    ("TypesExtraSpecs", "os-types-extra-specs", "Type extra specs support."),
    ("TypesManage", "os-types-manage", "Types manage support."),
    ("UsedLimits", "os-used-limits", "Provide data on limited resources that are being used."),
    ("VolumeActions", "os-volume-actions", "Enable volume actions."),
    ("VolumeManage", "os-volume-manage", "Manage existing backend storage by Cinder."),
    ("VolumeUnmanage", "os-volume-unmanage", "Enable volume unmanage operation."),
    ("VolumeHostAttribute", "os-vol-host-attr", "Expose host as an attribute of a volume."),
    ("VolumeImageMetadata", "os-vol-image-meta", "Show image metadata associated with the volume."),
    ("VolumeTenantAttribute", "os-vol-tenant-attr", "Expose the internal project_id as an attribute of a "
                                                    "volume."),
    ("VolumeTransfer", "os-volume-transfer", "Volume transfer management support."),
    ("VolumeTypeAccess", "os-volume-type-access", "Volume type access support."),
)


class AdminController:
    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def add_routes(self, router: Router, root: str) -> None:
        router.add("PUT", root + "/os-services/{verb}", self.service_action)  # not {action}: Routes reserves it
        router.add("GET", root + "/os-hosts", self.list_hosts)
        router.add("GET", root + "/os-hosts/{host}", self.show_host)
        router.add("GET", root + "/scheduler-stats/get_pools", self.pools)
        router.add("GET", root + "/capabilities/{host}", self.capabilities)
        router.add("GET", root + "/extensions", self.extensions)
        router.add("POST", root + "/os-volume-manage", self.manage)
        router.add("POST", root + "/manageable_volumes", self.manage_38)
        router.add("GET", root + "/manageable_volumes", self.manageable)
        router.add("GET", root + "/manageable_volumes/detail", self.manageable_detail)
        router.add("GET", root + "/messages", self.list_messages)
        router.add("GET", root + "/messages/{message_id}", self.show_message)
        router.add("DELETE", root + "/messages/{message_id}", self.delete_message)
        router.add("GET", root + "/os-quota-class-sets/{class_name}", self.show_quota_class)
        router.add("PUT", root + "/os-quota-class-sets/{class_name}", self.update_quota_class)

    def service_action(self, req: Request, project_id: str, verb: str) -> dict[str, Any]:
        ctx = project_ctx(req, project_id)
        body = req.json_body_or_fault()
        if not isinstance(body, dict):
            raise exception.Invalid(reason="The request body must be a JSON object.")
        svc, action = self.hub.volume, verb
        if action == "enable":
            return svc.enable_service(ctx, body.get("binary"), body.get("host"))
        if action == "disable":
            answer = svc.disable_service(ctx, body.get("binary"), body.get("host"))
            return {k: v for k, v in answer.items() if k != "disabled_reason"}
        if action == "disable-log-reason":
            return svc.disable_service(ctx, body.get("binary"), body.get("host"), body.get("disabled_reason"),
                                       reason_required=True)
        if action in ("freeze", "thaw"):
            svc.freeze_backend(ctx, body.get("host"), frozen=action == "freeze")
            return {}
        raise exception.NotFound(f"The resource {req.path_info} could not be found.")

    def list_hosts(self, req: Request, project_id: str) -> dict[str, Any]:
        return {"hosts": self.hub.volume.hosts(project_ctx(req, project_id))}

    def show_host(self, req: Request, project_id: str, host: str) -> dict[str, Any]:
        return {"host": self.hub.volume.host(project_ctx(req, project_id), host)}

    def pools(self, req: Request, project_id: str) -> dict[str, Any]:
        ctx = project_ctx(req, project_id)
        return {"pools": self.hub.volume.pools(ctx, detail=bool(req.bool_param("detail", False)))}

    def capabilities(self, req: Request, project_id: str, host: str) -> dict[str, Any]:
        return dict(self.hub.volume.backend_capabilities(project_ctx(req, project_id), host))

    def manage(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        ctx = project_ctx(req, project_id)
        made = self.hub.volume.manage_volume(ctx, body_object(req, "volume"))
        return 202, {"volume": View(req.environ, ctx, req.application_url).volume(made)}

    def manage_38(self, req: Request, project_id: str) -> tuple[int, dict[str, Any]]:
        """Cinder 3.8's other route to manage (``POST manageable_volumes``)."""
        if not at_least(req.environ, "3.8"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found.")
        return self.manage(req, project_id)

    def _manageable(self, req: Request, project_id: str, detail: bool) -> dict[str, Any]:
        if not at_least(req.environ, "3.8"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found (manageable_volumes "
                                     "needs microversion 3.8).")
        found = self.hub.volume.manageable_volumes(project_ctx(req, project_id))
        if not detail:
            found = [{k: m[k] for k in ("reference", "size", "safe_to_manage")} for m in found]
        return {"manageable-volumes": found}

    def manageable(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._manageable(req, project_id, detail=False)

    def manageable_detail(self, req: Request, project_id: str) -> dict[str, Any]:
        return self._manageable(req, project_id, detail=True)

    @staticmethod
    def _message(req: Request, project_id: str, m: dict[str, Any]) -> dict[str, Any]:
        if not at_least(req.environ, "3.3"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found (messages need "
                                     "microversion 3.3).")
        return {**{k: v for k, v in m.items() if k != "project_id"},
                "links": links(req, project_id, "messages", m["id"])}

    def list_messages(self, req: Request, project_id: str) -> dict[str, Any]:
        if not at_least(req.environ, "3.3"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found (messages need "
                                     "microversion 3.3).")
        found = self.hub.volume.list_messages(project_ctx(req, project_id))
        return {"messages": [self._message(req, project_id, m) for m in found]}

    def show_message(self, req: Request, project_id: str, message_id: str) -> dict[str, Any]:
        found = self.hub.volume.get_message(project_ctx(req, project_id), message_id)
        return {"message": self._message(req, project_id, found)}

    def delete_message(self, req: Request, project_id: str, message_id: str) -> tuple[int, None]:
        if not at_least(req.environ, "3.3"):
            raise exception.NotFound(f"The resource {req.path_info} could not be found.")
        self.hub.volume.delete_message(project_ctx(req, project_id), message_id)
        return 204, None

    def show_quota_class(self, req: Request, project_id: str, class_name: str) -> dict[str, Any]:
        values = self.hub.volume.show_quota_class(project_ctx(req, project_id), class_name)
        return {"quota_class_set": {"id": class_name, **values}}

    def update_quota_class(self, req: Request, project_id: str, class_name: str) -> dict[str, Any]:
        ctx = project_ctx(req, project_id)
        changes = body_object(req, "quota_class_set")
        return {"quota_class_set": self.hub.volume.update_quota_class(ctx, class_name, changes)}

    def extensions(self, req: Request, project_id: str) -> dict[str, Any]:
        project_ctx(req, project_id)
        return {"extensions": [{"name": name, "alias": alias, "description": what, "updated": UPDATED,
                                "links": [], "namespace": ""} for name, alias, what in EXTENSIONS]}
