"""Cinder-shaped representations of what ``hub.volume`` returns, by microversion and caller."""

from __future__ import annotations

from typing import Any

from cumulo import policy
from cumulo.context import RequestContext
from cumulo_api_volume.microversion import at_least


def _with_pool(host: str | None) -> str | None:
    """``host@backend#pool`` as Cinder shows it: a backend without pools is its own single pool."""
    if not host or "#" in host or "@" not in host:
        return host
    return f"{host}#{host.rsplit('@', 1)[1]}"


class View:
    """Renders for one request: its microversion (``environ``), its caller (``ctx``) and its base URL."""

    def __init__(self, environ: dict[str, Any], ctx: RequestContext, base: str) -> None:
        self.environ, self.ctx, self.base = environ, ctx, base.rstrip("/")

    def _links(self, collection: str, item_id: str, project_id: str) -> list[dict[str, str]]:
        root = self.base.rsplit("/v3", 1)[0]
        return [{"href": f"{self.base}/v3/{project_id}/{collection}/{item_id}", "rel": "self"},
                {"href": f"{root}/{project_id}/{collection}/{item_id}", "rel": "bookmark"}]

    def volume_summary(self, vol: dict[str, Any]) -> dict[str, Any]:
        return {"id": vol["id"], "name": vol["name"], "links": self._links("volumes", vol["id"], vol["project_id"])}

    def volume(self, vol: dict[str, Any], extended: bool = True) -> dict[str, Any]:
        """One volume; ``extended`` adds what Cinder's extensions add to show and detail only.

        Create and update answers carry the base view alone (Cinder's tenant, host, migration-status and
        image-metadata extensions extend ``show`` and ``detail``, nothing else), and the admin attributes
        appear only for the callers their policies allow.
        """
        out: dict[str, Any] = {
            "id": vol["id"], "name": vol["name"], "description": vol["description"], "size": vol["size"],
            "status": vol["status"], "availability_zone": vol["availability_zone"],
            "created_at": vol["created_at"], "updated_at": vol["updated_at"],
            "attachments": vol["attachments"], "links": self._links("volumes", vol["id"], vol["project_id"]),
            "volume_type": vol["volume_type"], "snapshot_id": vol["snapshot_id"],
            "source_volid": vol["source_volid"], "metadata": vol["metadata"], "user_id": vol["user_id"],
            "bootable": "true" if vol["bootable"] else "false", "encrypted": False, "replication_status": None,
            "consistencygroup_id": None, "multiattach": vol["multiattach"], "migration_status": None,
        }
        admin = policy.check(self.ctx, "volume_extension:volume_host_attribute", {"project_id": vol["project_id"]})
        if extended:
            self._extend(out, vol, admin)
        if at_least(self.environ, "3.13"):
            out["group_id"] = vol.get("group_id")
        if at_least(self.environ, "3.21") and admin:
            out["provider_id"] = None
        if at_least(self.environ, "3.48"):
            out["shared_targets"] = False
            out["service_uuid"] = None
        return out

    def _extend(self, out: dict[str, Any], vol: dict[str, Any], admin: bool) -> None:
        if vol.get("volume_image_metadata"):
            out["volume_image_metadata"] = vol["volume_image_metadata"]
        if policy.check(self.ctx, "volume_extension:volume_tenant_attribute", {"project_id": vol["project_id"]}):
            out["os-vol-tenant-attr:tenant_id"] = vol["project_id"]
        if admin:  # Cinder's migration-status attributes are admin-only as the host is
            out["os-vol-host-attr:host"] = _with_pool(vol["host"])
            out["os-vol-mig-status-attr:migstat"] = None
            out["os-vol-mig-status-attr:name_id"] = None

    def snapshot(self, snap: dict[str, Any], extended: bool = True) -> dict[str, Any]:
        """One snapshot; ``extended`` (show and detail only, as Cinder's extension) adds the project and progress."""
        out: dict[str, Any] = {
            "id": snap["id"], "name": snap["name"], "description": snap["description"],
            "volume_id": snap["volume_id"], "status": snap["status"], "size": snap["size"],
            "metadata": snap["metadata"], "created_at": snap["created_at"], "updated_at": snap["updated_at"],
        }
        if extended and policy.check(self.ctx, "volume_extension:volume_tenant_attribute",
                                     {"project_id": snap["project_id"]}):
            out["os-extended-snapshot-attributes:project_id"] = snap["project_id"]
            out["os-extended-snapshot-attributes:progress"] = snap["progress"]
        if at_least(self.environ, "3.14"):
            out["group_snapshot_id"] = snap.get("group_snapshot_id")
        if at_least(self.environ, "3.41"):
            out["user_id"] = snap["user_id"]
        return out

    def backup_summary(self, backup: dict[str, Any]) -> dict[str, Any]:
        return {"id": backup["id"], "name": backup["name"],
                "links": self._links("backups", backup["id"], backup["project_id"])}

    def backup(self, backup: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            key: backup[key] for key in ("id", "name", "description", "status", "size", "object_count", "container",
                                         "availability_zone", "created_at", "updated_at", "volume_id", "fail_reason",
                                         "is_incremental", "has_dependent_backups", "snapshot_id", "data_timestamp")}
        out["links"] = self._links("backups", backup["id"], backup["project_id"])
        if at_least(self.environ, "3.18") and policy.check(self.ctx, "backup:backup_project_attribute",
                                                           {"project_id": backup["project_id"]}):
            out["os-backup-project-attr:project_id"] = backup["project_id"]
        if at_least(self.environ, "3.43"):
            out["metadata"] = backup["metadata"]
        if at_least(self.environ, "3.56"):
            out["user_id"] = backup["user_id"]
        return out

    def volume_type(self, vtype: dict[str, Any], answer: str = "show") -> dict[str, Any]:
        """A volume type as ``show`` and ``list`` render it; ``create`` has no ``qos_specs_id`` and ``update``
        neither that nor the access extension's ``is_public`` (Cinder's views of each)."""
        out: dict[str, Any] = {"id": vtype["id"], "name": vtype["name"], "description": vtype["description"],
                               "is_public": vtype["is_public"]}
        if answer != "update":
            out["os-volume-type-access:is_public"] = vtype["is_public"]
        if answer == "show":
            out["qos_specs_id"] = vtype.get("qos_specs_id")
        if vtype.get("extra_specs") is not None:
            out["extra_specs"] = vtype["extra_specs"]
        return out
