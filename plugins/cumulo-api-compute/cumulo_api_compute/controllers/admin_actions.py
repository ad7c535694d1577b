"""Administrators' and deferred-delete server actions, and a server's diagnostics, as Nova has them.

* ``os-resetState`` (administrators): the vm_state ``active`` or ``error``, no task state.
* ``restore``: Nova restores a soft-deleted server. Cumulo deletes at once (Nova's
  ``reclaim_instance_interval = 0``), so no server is ever soft-deleted and a restore is 409,
  as Nova answers for a server in any other state.
* ``migrate`` (cold, to ``host`` from 2.56), ``os-migrateLive`` and ``evacuate`` (administrators): the
  moves of :class:`cumulo.contracts.compute.ServerMoveService`; ``evacuate`` only from a host whose
  compute service is down (or forced down), its ``adminPass`` answered below 2.14.
* ``GET /servers/{server_id}/diagnostics`` (administrators): no Cumulo hypervisor driver reports
  diagnostics, so a running server answers 501, as Nova for such a driver; a server that is not
  running (or has no host yet) is 409, as in Nova.
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies
from cumulo_api_compute.controllers.base import Controller, Route, ServerAction, as_bool
from cumulo_api_compute.controllers.migrations import MigrationsController
from cumulo_api_compute.views import v

RESET_STATE = {"type": "object", "properties": {"state": {"type": "string", "enum": ["active", "error"]}},
               "required": ["state"], "additionalProperties": False}
MIGRATE = {"type": "object", "properties": {"host": {"type": ["string", "null"], "minLength": 1, "maxLength": 255}},
           "additionalProperties": False}
MIGRATE_LIVE = {"type": "object", "properties": {
    "host": {"type": ["string", "null"], "maxLength": 255},
    "block_migration": {"type": ["boolean", "string"]}, "disk_over_commit": {"type": ["boolean", "string"]},
    "force": {"type": ["boolean", "string"]}}, "additionalProperties": False}
EVACUATE = {"type": "object", "properties": {
    "host": {"type": ["string", "null"], "maxLength": 255}, "adminPass": {"type": ["string", "null"]},
    "onSharedStorage": {"type": ["boolean", "string"]}, "force": {"type": ["boolean", "string"]},
    "targetState": {"type": "string", "enum": ["stopped"]}}, "additionalProperties": False}
#: The power state of a running guest (Nova's ``power_state.RUNNING``).
RUNNING = 1


class AdminActionsController(Controller):
    """``os-resetState`` and ``restore`` (server actions) and ``/servers/{server_id}/diagnostics``."""

    def __init__(self, hub: Any) -> None:
        super().__init__(hub)
        # The migration records' routes are served from here (the controllers list stays as it is).
        self.migrations = MigrationsController(hub)

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/diagnostics", self.diagnostics), *self.migrations.routes()]

    def actions(self) -> dict[str, ServerAction]:
        return {"os-resetState": self._reset_state, "restore": self._restore, "migrate": self._migrate,
                "os-migrateLive": self._migrate_live, "evacuate": self._evacuate}

    def _migrate(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.MIGRATE)
        host = None
        if arg:
            if self.ver(req) < v("2.56"):
                raise exception.ValidationError(field="migrate", reason="a body needs microversion 2.56")
            validate(arg, MIGRATE)
            host = arg.get("host")
            if host:
                self.authorize(req, policies.MIGRATE_HOST)
        self.compute.migrate(req.context, sid, host)
        return 202, None

    def _migrate_live(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.MIGRATE_LIVE)
        validate(arg, MIGRATE_LIVE)
        block = arg.get("block_migration")
        if block == "auto" and self.ver(req) < v("2.25"):
            raise exception.ValidationError(field="block_migration", reason="'auto' needs microversion 2.25")
        self.compute.live_migrate(req.context, sid, arg.get("host"),
                                  None if block in (None, "auto") else as_bool(block))
        return 202, None

    def _evacuate(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.EVACUATE)
        validate(arg, EVACUATE)
        password = self.compute.evacuate(req.context, sid, arg.get("host"), arg.get("adminPass"))
        if self.ver(req) < v("2.14") and self.hub.conf.compute.enable_instance_password:
            return 200, {"adminPass": password}
        return 200, None

    def _reset_state(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.RESET_STATE)
        validate(arg, RESET_STATE)
        self.compute.reset_state(req.context, sid, arg["state"])
        return 202, None

    def _restore(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.RESTORE)
        server = self.compute.get_server(req.context, sid)
        raise exception.Conflict(f"Cannot 'restore' instance {sid} while it is in vm_state {server['vm_state']}"
                                 " (deleted servers are not kept for a restore: reclaim_instance_interval is 0).")

    def diagnostics(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.DIAGNOSTICS)
        server = self.compute.get_server(req.context, server_id)
        if not server["host"] or server["power_state"] != RUNNING:
            raise exception.Conflict(f"Cannot 'get_diagnostics' instance {server_id} while it is in power_state "
                                     f"{server['power_state']} (vm_state {server['vm_state']}).")
        return 501, {"notImplemented": {"code": 501, "message": "Unable to get diagnostics, functionality not "
                                                                "implemented by the hypervisor driver."}}
