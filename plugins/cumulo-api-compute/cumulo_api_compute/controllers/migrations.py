"""Migration records, as Nova has them (administrators by default):

* ``GET /os-migrations``: every move (resizes, cold and live migrations, evacuations), newest first,
  filtered by ``host``, ``status``, ``instance_uuid``, ``source_compute``, ``migration_type`` (2.23),
  ``changes-since``, ``limit`` and ``marker`` (2.59, a migration uuid), ``project_id``/``user_id`` (2.80);
* ``GET /servers/{server_id}/migrations[/{migration_id}]`` (2.23): a server's live migrations in
  progress; ``force_complete`` and ``DELETE`` (abort) are 400 unless one is running (the fake
  driver's live migrations finish at once, so there is none to force or abort).
"""

from __future__ import annotations

import datetime
from typing import Any

from cumulo import exception
from cumulo.contracts.compute import MigrationView
from cumulo.wsgi import Request
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import iso_us, v

#: Live-migration statuses that mean it is under way (what a server's migrations list shows).
IN_PROGRESS = ("queued", "accepted", "preparing", "running", "post-migrating")
_TYPES = ("live-migration", "migration", "resize", "evacuation")


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _parse_since(value: str) -> datetime.datetime:
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise exception.ValidationError(field="changes-since", reason=f"{value!r} is not an ISO 8601 time") from None


class MigrationsController(Controller):
    """``/os-migrations`` and a server's ``/migrations``."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-migrations", self.index),
                ("GET", "/servers/{server_id}/migrations", self.server_index),
                ("GET", "/servers/{server_id}/migrations/{migration_id}", self.server_show),
                ("POST", "/servers/{server_id}/migrations/{migration_id}/action", self.server_action),
                ("DELETE", "/servers/{server_id}/migrations/{migration_id}", self.server_abort)]

    def index(self, req: Request) -> Any:
        self.authorize(req, policies.MIGRATIONS_INDEX)
        ver = self.ver(req)
        mtype = req.GET.get("migration_type") if ver >= v("2.23") else None
        if mtype and mtype not in _TYPES:
            raise exception.ValidationError(field="migration_type", reason=f"{mtype!r} is not one of "
                                                                           f"{', '.join(_TYPES)}")
        since = req.GET.get("changes-since")
        limit = req.int_param("limit", None, minimum=0) if ver >= v("2.59") else None
        marker = (req.GET.get("marker") or None) if ver >= v("2.59") else None
        found = self.compute.list_migrations(
            req.context, instance_uuid=req.GET.get("instance_uuid") or None, host=req.GET.get("host") or None,
            status=req.GET.get("status") or None, migration_type=mtype,
            source_compute=req.GET.get("source_compute") or None,
            changes_since=_parse_since(since) if since else None, limit=limit, marker=marker)
        if ver >= v("2.80"):
            for key in ("project_id", "user_id"):
                wanted = req.GET.get(key)
                if wanted:
                    found = [m for m in found if m[key] == wanted]
        out: dict[str, Any] = {"migrations": [self._view(req, m) for m in found]}
        if ver >= v("2.59") and limit and len(found) == limit:
            out["migrations_links"] = [{"rel": "next", "href": f"{self.base(req)}/os-migrations?limit={limit}"
                                                               f"&marker={found[-1]['uuid']}"}]
        return out

    def _view(self, req: Request, m: MigrationView) -> dict[str, Any]:
        ver = self.ver(req)
        out: dict[str, Any] = {
            "id": m["id"], "status": m["status"], "instance_uuid": m["instance_uuid"],
            "source_node": m["source_compute"], "source_compute": m["source_compute"],
            "dest_node": m["dest_compute"], "dest_compute": m["dest_compute"], "dest_host": m["dest_host"],
            "old_instance_type_id": _int_or_none(m["old_flavor_id"]),
            "new_instance_type_id": _int_or_none(m["new_flavor_id"]),
            "created_at": iso_us(m["created_at"]), "updated_at": iso_us(m["updated_at"])}
        if ver >= v("2.23"):
            out["migration_type"] = m["migration_type"]
            if m["migration_type"] == "live-migration" and m["status"] in IN_PROGRESS:
                out["links"] = [{"rel": "self", "href": f"{self.base(req)}/servers/{m['instance_uuid']}/migrations/"
                                                        f"{m['id']}"}]
        if ver >= v("2.59"):
            out["uuid"] = m["uuid"]
        if ver >= v("2.80"):
            out["project_id"], out["user_id"] = m["project_id"], m["user_id"]
        return out

    def _server_view(self, req: Request, m: MigrationView) -> dict[str, Any]:
        ver = self.ver(req)
        out: dict[str, Any] = {
            "id": m["id"], "server_uuid": m["instance_uuid"], "status": m["status"],
            "source_compute": m["source_compute"], "source_node": m["source_compute"],
            "dest_compute": m["dest_compute"], "dest_node": m["dest_compute"], "dest_host": m["dest_host"],
            "created_at": iso_us(m["created_at"]), "updated_at": iso_us(m["updated_at"]),
            "memory_total_bytes": None, "memory_processed_bytes": None, "memory_remaining_bytes": None,
            "disk_total_bytes": None, "disk_processed_bytes": None, "disk_remaining_bytes": None}
        if ver >= v("2.59"):
            out["uuid"] = m["uuid"]
        if ver >= v("2.80"):
            out["project_id"], out["user_id"] = m["project_id"], m["user_id"]
        return out

    def _require_version(self, req: Request) -> None:
        if self.ver(req) < v("2.23"):
            raise exception.NotFound("The resource could not be found (server migrations need microversion 2.23).")

    def _live_in_progress(self, req: Request, server_id: str) -> list[MigrationView]:
        self.compute.get_server(req.context, server_id)
        return [m for m in self.compute.list_migrations(req.context, instance_uuid=server_id,
                                                        migration_type="live-migration")
                if m["status"] in IN_PROGRESS]

    def server_index(self, req: Request, server_id: str) -> Any:
        self._require_version(req)
        self.authorize(req, policies.SERVER_MIGRATIONS["index"])
        return {"migrations": [self._server_view(req, m) for m in self._live_in_progress(req, server_id)]}

    def _one(self, req: Request, server_id: str, migration_id: str) -> MigrationView:
        if not migration_id.isdigit():
            raise exception.NotFound(f"Migration {migration_id} for instance {server_id} could not be found.")
        return self.compute.get_migration(req.context, server_id, int(migration_id))

    def server_show(self, req: Request, server_id: str, migration_id: str) -> Any:
        self._require_version(req)
        self.authorize(req, policies.SERVER_MIGRATIONS["show"])
        m = self._one(req, server_id, migration_id)
        if m["migration_type"] != "live-migration" or m["status"] not in IN_PROGRESS:
            raise exception.NotFound(f"In-progress live migration {migration_id} is not found for server "
                                     f"{server_id}.")
        return {"migration": self._server_view(req, m)}

    def server_action(self, req: Request, server_id: str, migration_id: str) -> Any:
        self.authorize(req, policies.SERVER_MIGRATIONS["force_complete"])
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or "force_complete" not in body:
            raise exception.Invalid(reason="The only migration action is force_complete.")
        m = self._one(req, server_id, migration_id)
        raise exception.Invalid(reason=f"Migration {migration_id} of server {server_id} is {m['status']}: only a "
                                       "running live migration can be forced to complete.")

    def server_abort(self, req: Request, server_id: str, migration_id: str) -> Any:
        self._require_version(req)
        self.authorize(req, policies.SERVER_MIGRATIONS["delete"])
        m = self._one(req, server_id, migration_id)
        raise exception.Invalid(reason=f"Migration {migration_id} of server {server_id} is {m['status']}: only a "
                                       "live migration under way can be aborted.")
