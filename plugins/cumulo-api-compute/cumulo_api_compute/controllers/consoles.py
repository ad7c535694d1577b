"""Consoles of a server: ``POST /servers/{server_id}/remote-consoles`` (2.6+), and the older
``os-getVNCConsole``, ``os-getSPICEConsole``, ``os-getSerialConsole`` and
``os-getConsoleOutput`` server actions."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies, schemas
from cumulo_api_compute.controllers.base import Controller, Route, ServerAction
from cumulo_api_compute.views import v


class ConsolesController(Controller):
    """Remote console URLs and the console log."""

    def routes(self) -> list[Route]:
        return [("POST", "/servers/{server_id}/remote-consoles", self.create)]

    def actions(self) -> dict[str, ServerAction]:
        return {"os-getConsoleOutput": self._console_output, "os-getVNCConsole": self._vnc,
                "os-getSPICEConsole": self._spice, "os-getSerialConsole": self._serial}

    def create(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        if self.ver(req) < v("2.6"):
            raise exception.NotFound("remote-consoles needs microversion 2.6 or later.")
        rc = self.body(req, schemas.REMOTE_CONSOLE)["remote_console"]
        return {"remote_console": self._console(req, server_id, rc["protocol"], rc["type"])}

    def _console(self, req: Request, sid: str, protocol: str, ctype: str) -> dict[str, Any]:
        info = self.compute.remote_console(req.context, sid, ctype)
        url = info.get("url") or (f"http://{info.get('host')}:{info.get('port')}"
                                  f"{info.get('internal_access_path') or '/'}?token={info.get('token', '')}")
        return {"protocol": protocol, "type": ctype, "url": url}

    def _vnc(self, req: Request, sid: str, arg: Any) -> Any:
        ctype = (arg or {}).get("type", "novnc")
        if ctype not in ("novnc", "xvpvnc"):
            raise exception.ValidationError(field="os-getVNCConsole.type", reason="must be novnc or xvpvnc")
        c = self._console(req, sid, "vnc", ctype)
        return {"console": {"type": ctype, "url": c["url"]}}

    def _spice(self, req: Request, sid: str, arg: Any) -> Any:
        c = self._console(req, sid, "spice", "spice-html5")
        return {"console": {"type": "spice-html5", "url": c["url"]}}

    def _serial(self, req: Request, sid: str, arg: Any) -> Any:
        c = self._console(req, sid, "serial", "serial")
        return {"console": {"type": "serial", "url": c["url"]}}

    def _console_output(self, req: Request, sid: str, arg: Any) -> Any:
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
