"""``/os-hosts`` (administrators, below microversion 2.43), as Nova has it.

The hosts are the service records (every binary; a compute host's zone is its aggregate's, the
others' ``internal``); a host's detail is its compute node's resources. Enabling or disabling a
host sets its compute service; maintenance mode and the power actions are the hypervisor's in
Nova, and no Cumulo hypervisor driver offers them: 501, as Nova answers for such a driver.
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.contracts.compute.views import ServiceView
from cumulo.wsgi import Request
from cumulo_api_compute import policies, views
from cumulo_api_compute.controllers.base import Controller, Route
from cumulo_api_compute.views import v

_ON_OFF = ["enable", "disable", "Enable", "Disable", "ENABLE", "DISABLE"]
#: ``PUT /os-hosts/{host_name}``: a status, a maintenance mode, or both.
HOST_UPDATE = {"type": "object", "properties": {"status": {"type": "string", "enum": _ON_OFF},
                                                "maintenance_mode": {"type": "string", "enum": _ON_OFF}},
               "anyOf": [{"required": ["status"]}, {"required": ["maintenance_mode"]}],
               "additionalProperties": False}
_POWER = {"startup": "start", "shutdown": "shutdown", "reboot": "reboot"}


def _not_implemented(message: str) -> tuple[int, dict[str, Any]]:
    return 501, {"notImplemented": {"code": 501, "message": message}}


class HostsController(Controller):
    """``/os-hosts``, ``/os-hosts/{host_name}`` and its ``startup``/``shutdown``/``reboot``."""

    def routes(self) -> list[Route]:
        return [("GET", "/os-hosts", self.index),
                ("GET", "/os-hosts/{host_name}", self.show),
                ("PUT", "/os-hosts/{host_name}", self.update),
                ("GET", "/os-hosts/{host_name}/startup", self.startup),
                ("GET", "/os-hosts/{host_name}/shutdown", self.shutdown),
                ("GET", "/os-hosts/{host_name}/reboot", self.reboot)]

    def _check(self, req: Request, action: str) -> None:
        """The policy of ``action``, then the microversion (Nova removed the resource in 2.43).

        :raises Forbidden: the policy refuses.
        :raises NotFound: microversion 2.43 or later.
        """
        self.authorize(req, policies.HOSTS[action])
        if self.ver(req) >= v("2.43"):
            raise exception.NotFound("os-hosts is not available from microversion 2.43 (use os-services, "
                                     "os-hypervisors).")

    def _compute_service(self, req: Request, host: str) -> ServiceView:
        """The compute service of ``host``. :raises NotFound: ``host`` runs no compute service."""
        rows = self.compute.list_services(req.context, host, "cumulo-compute")
        if not rows:
            raise exception.NotFound(f"Compute host {host} could not be found.")
        return rows[0]

    def index(self, req: Request) -> dict[str, Any]:
        self._check(req, "list")
        zone = req.GET.get("zone")
        hosts = [{"host_name": s["host"], "service": views.nova_binary(s["binary"]).removeprefix("nova-"),
                  "zone": s["availability_zone"]} for s in self.compute.list_services(req.context)]
        return {"hosts": [h for h in hosts if not zone or h["zone"] == zone]}

    def show(self, req: Request, host_name: str) -> dict[str, Any]:
        self._check(req, "show")
        self._compute_service(req, host_name)
        nodes = [h for h in self.compute.list_hypervisors(req.context) if h["host"] == host_name]
        total = {"cpu": sum(n["vcpus"] for n in nodes), "memory_mb": sum(n["memory_mb"] for n in nodes),
                 "disk_gb": sum(n["local_gb"] for n in nodes)}
        used = {"cpu": sum(n["vcpus_used"] for n in nodes), "memory_mb": sum(n["memory_mb_used"] for n in nodes),
                "disk_gb": sum(n["local_gb_used"] for n in nodes)}
        # Nova's used_max sums the servers' flavors, which is what the nodes count as used here.
        return {"host": [{"resource": {"host": host_name, "project": project, **values}}
                         for project, values in (("(total)", total), ("(used_now)", used), ("(used_max)", used))]}

    def update(self, req: Request, host_name: str) -> Any:
        self._check(req, "update")
        body = self.body(req, HOST_UPDATE)
        service = self._compute_service(req, host_name)
        if body.get("maintenance_mode") is not None:
            return _not_implemented("Virt driver does not implement host maintenance mode.")
        enable = body["status"].lower() == "enable"
        row = self.compute.set_service(req.context, str(service["uuid"]), disabled=not enable)
        return {"host": host_name, "status": "disabled" if row["disabled"] else "enabled"}

    def _power(self, req: Request, host_name: str, action: str) -> Any:
        self._check(req, _POWER[action])
        self._compute_service(req, host_name)
        return _not_implemented("Virt driver does not implement host power management.")

    def startup(self, req: Request, host_name: str) -> Any:
        return self._power(req, host_name, "startup")

    def shutdown(self, req: Request, host_name: str) -> Any:
        return self._power(req, host_name, "shutdown")

    def reboot(self, req: Request, host_name: str) -> Any:
        return self._power(req, host_name, "reboot")
