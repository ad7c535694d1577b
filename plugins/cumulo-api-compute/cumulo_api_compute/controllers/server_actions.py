"""``POST /servers/{server_id}/action``: the dispatcher, and the server lifecycle actions
(power, pause, suspend, lock, rescue, resize, rebuild, snapshot, backup, shelve, password, force delete).

Other controllers contribute actions of their own resource through
:meth:`~cumulo_api_compute.controllers.base.Controller.actions` (consoles, security groups).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import webob

from cumulo import exception
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, ServerAction, ref
from cumulo_api_compute.controllers.servers import server_view
from cumulo_api_compute.views import v


def _key(name: str) -> str:
    # Body keys are matched with '-' and '_' alike ("os-stop" and "os_stop" are one action).
    return name.replace("-", "_")


class ServerActionsController(Controller):
    """Dispatches an action body (exactly one key, the action's name) to the action's handler."""

    def __init__(self, hub: Any, providers: Iterable[Controller] = ()) -> None:
        super().__init__(hub)
        self._handlers: dict[str, ServerAction] = {}
        for provider in (self, *providers):
            for name, handler in provider.actions().items():
                if _key(name) in self._handlers:
                    raise ValueError(f"Server action {name!r} is declared twice "
                                     f"(again by {type(provider).__name__})")
                self._handlers[_key(name)] = handler

    def routes(self) -> list[Route]:
        return [("POST", "/servers/{server_id}/action", self.dispatch)]

    def actions(self) -> dict[str, ServerAction]:
        return {"reboot": self._reboot, "os-stop": self._stop, "os-start": self._start,
                "pause": self._pause, "unpause": self._unpause, "suspend": self._suspend,
                "resume": self._resume, "lock": self._lock, "unlock": self._unlock,
                "rescue": self._rescue, "unrescue": self._unrescue, "resize": self._resize,
                "confirmResize": self._confirm_resize, "revertResize": self._revert_resize,
                "rebuild": self._rebuild, "createImage": self._create_image,
                "changePassword": self._change_password, "forceDelete": self._force_delete,
                "createBackup": self._create_backup, "shelve": self._shelve, "shelveOffload": self._shelve_offload,
                "unshelve": self._unshelve}

    def dispatch(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        body = req.json_body_or_fault()
        if not isinstance(body, dict) or len(body) != 1:
            raise exception.Invalid(reason="An action body has exactly one key: the action name.")
        (name, arg), = body.items()
        handler = self._handlers.get(_key(name))
        if handler is None:
            raise exception.Invalid(reason=f"There is no such action: {name}")
        return handler(req, server_id, arg if arg is not None else {})

    def _reboot(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.REBOOT)
        self.compute.reboot(req.context, sid, hard=arg["type"].upper() == "HARD")
        return 202, None

    def _stop(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.stop(req.context, sid)
        return 202, None

    def _start(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.start(req.context, sid)
        return 202, None

    def _pause(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.pause(req.context, sid)
        return 202, None

    def _unpause(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.unpause(req.context, sid)
        return 202, None

    def _suspend(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.suspend(req.context, sid)
        return 202, None

    def _resume(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.resume(req.context, sid)
        return 202, None

    def _lock(self, req: Request, sid: str, arg: Any) -> Any:
        reason = None
        if isinstance(arg, dict) and arg.get("locked_reason") is not None:
            if self.ver(req) < v("2.73"):
                raise exception.ValidationError(field="lock.locked_reason", reason="needs microversion 2.73")
            validate(arg, schemas.LOCK)
            reason = arg["locked_reason"]
        self.compute.lock(req.context, sid, reason)
        return 202, None

    def _unlock(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.unlock(req.context, sid)
        return 202, None

    def _rescue(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.RESCUE)
        password = self.compute.rescue(req.context, sid, arg.get("adminPass"), ref(arg.get("rescue_image_ref")))
        return 200, {"adminPass": password} if self.hub.conf.compute.enable_instance_password else {}

    def _unrescue(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.unrescue(req.context, sid)
        return 202, None

    def _resize(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.RESIZE)
        self.compute.resize(req.context, sid, ref(arg["flavorRef"]) or "")
        return 202, None

    def _confirm_resize(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.confirm_resize(req.context, sid)
        return 204, None

    def _revert_resize(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.revert_resize(req.context, sid)
        return 202, None

    def _rebuild(self, req: Request, sid: str, arg: Any) -> Any:
        ver = self.ver(req)
        validate(arg, schemas.rebuild(ver))
        kwargs: dict[str, Any] = {}
        if "description" in arg:
            kwargs["description"] = arg["description"]
        if "key_name" in arg:
            kwargs["key_name"] = arg["key_name"]
        if "user_data" in arg:
            kwargs["user_data"] = arg["user_data"]
        inst, password = self.compute.rebuild(req.context, sid, ref(arg["imageRef"]) or "",
                                              admin_password=arg.get("adminPass"), name=arg.get("name"),
                                              metadata=arg.get("metadata"), **kwargs)
        view = server_view(self.compute, req, inst, views.REBUILD)
        if self.hub.conf.compute.enable_instance_password:
            view["adminPass"] = password
        return 202, {"server": view}

    def _create_image(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.CREATE_IMAGE)
        image_id = self.compute.create_image(req.context, sid, arg["name"], arg.get("metadata"))
        root = req.application_url.rstrip("/")
        headers = {"Location": f"{root}/images/{image_id}"}
        if self.ver(req) >= v("2.45"):
            return 202, {"image_id": image_id}, headers
        return webob.Response(status=202, headers=headers)

    def _change_password(self, req: Request, sid: str, arg: Any) -> Any:
        validate(arg, schemas.CHANGE_PASSWORD)
        self.compute.change_password(req.context, sid, arg["adminPass"])
        return 202, None

    def _force_delete(self, req: Request, sid: str, arg: Any) -> Any:
        self.compute.delete_server(req.context, sid, force=True)
        return 202, None

    def _create_backup(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.CREATE_BACKUP)
        validate(arg, CREATE_BACKUP)
        rotation = int(arg["rotation"])
        image_id = self.compute.create_backup(req.context, sid, arg["name"], arg["backup_type"], rotation,
                                              arg.get("metadata"))
        # Named even with rotation 0 (the image is deleted once uploaded): openstacksdk and the CLI read the
        # Location of every backup.
        headers = {"Location": f"{req.application_url.rstrip('/')}/images/{image_id}"}
        if self.ver(req) >= v("2.45"):
            return 202, {"image_id": image_id}, headers
        return webob.Response(status=202, headers=headers)

    def _shelve(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.SHELVE)
        self.compute.shelve(req.context, sid)
        return 202, None

    def _shelve_offload(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.SHELVE_OFFLOAD)
        self.compute.shelve_offload(req.context, sid)
        return 202, None

    def _unshelve(self, req: Request, sid: str, arg: Any) -> Any:
        self.authorize(req, policies.UNSHELVE)
        ver = self.ver(req)
        zone = host = None
        if arg:
            if ver < v("2.77"):
                raise exception.ValidationError(field="unshelve", reason="a body needs microversion 2.77")
            validate(arg, UNSHELVE if ver >= v("2.91") else UNSHELVE_2_77)
            zone, host = arg.get("availability_zone"), arg.get("host")
            if host:
                self.authorize(req, policies.UNSHELVE_TO_HOST)
        self.compute.unshelve(req.context, sid, availability_zone=zone, host=host)
        return 202, None


CREATE_BACKUP = {"type": "object", "properties": {
    "name": schemas.LOOSE_NAME, "backup_type": {"type": "string", "minLength": 1, "maxLength": 255},
    "rotation": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 0},
    "metadata": schemas.METADATA},
    "required": ["name", "backup_type", "rotation"], "additionalProperties": False}
UNSHELVE_2_77 = {"type": "object", "properties": {"availability_zone": {"type": "string", "minLength": 1}},
                 "required": ["availability_zone"], "additionalProperties": False}
UNSHELVE = {"type": "object", "properties": {"availability_zone": {"type": ["string", "null"]},
                                              "host": {"type": "string", "minLength": 1}},
            "minProperties": 1, "additionalProperties": False}
