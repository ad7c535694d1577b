"""``OS-DCF:diskConfig`` given to the rebuild and resize actions, kept with the server (Nova's ``auto_disk_config``).

The server actions are dispatched by :class:`~cumulo_api_compute.controllers.server_actions.ServerActionsController`;
this controller stands in for it in the router (its routes are the dispatcher's, the action route
handled here): it lets the dispatcher run the action (its validation, policy and answer unchanged),
then, when the action was accepted, records the disk
configuration the body named (``update_server(auto_disk_config=...)``, compute contract 1.5) and shows
it in a rebuild's answer. Create and update keep theirs in
:class:`~cumulo_api_compute.controllers.servers.ServersController`.
"""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Request
from cumulo_api_compute.controllers.base import Controller, Route

#: The actions whose body may carry ``OS-DCF:diskConfig``.
ACTIONS = ("rebuild", "resize")
KEY = "OS-DCF:diskConfig"


def _accepted(result: Any) -> bool:
    status = result[0] if isinstance(result, tuple) else getattr(result, "status_int", 200)
    return isinstance(status, int) and 200 <= status < 300


class DiskConfigActions(Controller):
    """The routes of the actions dispatcher ``actions``, ``POST /servers/{server_id}/action`` through :meth:`dispatch`."""

    PATH = "/servers/{server_id}/action"

    def __init__(self, hub: Any, actions: Controller) -> None:
        super().__init__(hub)
        self.wrapped = actions
        self._dispatch = next(h for m, p, h in actions.routes() if p == self.PATH and m == "POST")

    def routes(self) -> list[Route]:
        return [(m, p, self.dispatch if (p, m) == (self.PATH, "POST") else h) for m, p, h in self.wrapped.routes()]

    def dispatch(self, req: Request, server_id: str) -> Any:
        body = req.json_body_or_fault()
        wanted = None
        if isinstance(body, dict) and len(body) == 1:
            (name, arg), = body.items()
            if name in ACTIONS and isinstance(arg, dict) and arg.get(KEY) in ("AUTO", "MANUAL"):
                wanted = arg[KEY]
        result = self._dispatch(req, server_id)
        if wanted is not None and _accepted(result):
            self.compute.update_server(req.context, server_id, {"auto_disk_config": wanted == "AUTO"})
            if isinstance(result, tuple) and len(result) > 1 and isinstance(result[1], dict) \
                    and isinstance(result[1].get("server"), dict):
                result[1]["server"][KEY] = wanted
        return result
