"""What is attached to a server: ``os-interface`` (its ports, attached and detached, with Nova's
``os_compute_api:os-attach-interfaces:*`` policies), ``os-volume_attachments`` (its volumes,
attached and detached, with Nova's ``os_compute_api:os-volumes-attachments:*`` policies) and
``os-server-password`` (always empty).

What the caller may see is the compute service's to decide (its ``get_server`` rules).
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, validate
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, ServerAction
from cumulo_api_compute.views import v


class InterfacesController(Controller):
    """``/servers/{server_id}/os-interface[/{port_id}]``: a server's port interfaces, attached and detached,
    and the legacy ``addFixedIp`` / ``removeFixedIp`` actions (microversions 2.1 to 2.43, as Nova).

    Attaching answers once the host has plugged the port (200 with the attachment);
    detaching once it has unplugged it (202).
    """

    def routes(self) -> list[Route]:
        path = "/servers/{server_id}/os-interface"
        return [("GET", path, self.index), ("POST", path, self.create),
                ("GET", path + "/{port_id}", self.show), ("DELETE", path + "/{port_id}", self.delete)]

    def actions(self) -> dict[str, ServerAction]:
        return {"addFixedIp": self._add_fixed_ip, "removeFixedIp": self._remove_fixed_ip}

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.INTERFACES_LIST)
        ver = self.ver(req)
        return {"interfaceAttachments": [views.interface_attachment(i, ver)
                                         for i in self.compute.list_interfaces(req.context, server_id)]}

    def show(self, req: Request, server_id: str, port_id: str) -> dict[str, Any]:
        self.authorize(req, policies.INTERFACES_SHOW)
        return {"interfaceAttachment": views.interface_attachment(
            self.compute.get_interface(req.context, server_id, port_id), self.ver(req))}

    def create(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.INTERFACES_CREATE)
        ver = self.ver(req)
        body = self.body(req, schemas.interface_create(ver)).get("interfaceAttachment") or {}
        fixed_ips = body.get("fixed_ips") or []
        attached = self.compute.attach_interface(
            req.context, server_id, port_id=body.get("port_id") or None, network_id=body.get("net_id") or None,
            fixed_ip=fixed_ips[0]["ip_address"] if fixed_ips else None, tag=body.get("tag"))
        return {"interfaceAttachment": views.interface_attachment(attached, ver)}

    def delete(self, req: Request, server_id: str, port_id: str) -> Any:
        self.authorize(req, policies.INTERFACES_DELETE)
        self.compute.detach_interface(req.context, server_id, port_id)
        return 202, None

    def _legacy(self, req: Request, action: str) -> None:
        if self.ver(req) > v("2.43"):
            raise exception.NotFound(f"The {action} server action was removed in microversion 2.44; "
                                     "use os-interface (openstack server add/remove port).")

    def _add_fixed_ip(self, req: Request, sid: str, arg: Any) -> Any:
        self._legacy(req, "addFixedIp")
        self.authorize(req, policies.MULTINIC_ADD)
        validate(arg, schemas.ADD_FIXED_IP)
        self.compute.add_fixed_ip(req.context, sid, str(arg["networkId"]))
        return 202, None

    def _remove_fixed_ip(self, req: Request, sid: str, arg: Any) -> Any:
        self._legacy(req, "removeFixedIp")
        self.authorize(req, policies.MULTINIC_REMOVE)
        validate(arg, schemas.REMOVE_FIXED_IP)
        self.compute.remove_fixed_ip(req.context, sid, arg["address"])
        return 202, None


class VolumeAttachmentsController(Controller):
    """``/servers/{server_id}/os-volume_attachments[/{volume_id}]``: a server's volumes.

    Attaching answers 200 with the attachment once the volume is reserved (the host attaches it:
    the volume goes ``attaching`` -> ``in-use``); detaching answers 202 and the host finishes it.
    Updating changes ``delete_on_termination`` (2.85); swapping to another volume is refused
    with 409 (not supported), after the swap policy.
    """

    def routes(self) -> list[Route]:
        path = "/servers/{server_id}/os-volume_attachments"
        return [("GET", path, self.index), ("POST", path, self.create),
                ("GET", path + "/{volume_id}", self.show), ("PUT", path + "/{volume_id}", self.update),
                ("DELETE", path + "/{volume_id}", self.delete)]

    def index(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.VOLUMES_LIST)
        ver = self.ver(req)
        items = self.compute.list_volume_attachments(req.context, server_id)
        offset = req.int_param("offset", 0, minimum=0) or 0
        limit = req.int_param("limit", None, minimum=0)
        items = items[offset:] if limit is None else items[offset:offset + limit]
        return {"volumeAttachments": [views.volume_attachment(a, ver) for a in items]}

    def show(self, req: Request, server_id: str, volume_id: str) -> dict[str, Any]:
        self.authorize(req, policies.VOLUMES_SHOW)
        return {"volumeAttachment": views.volume_attachment(
            self.compute.get_volume_attachment(req.context, server_id, volume_id), self.ver(req))}

    def create(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.VOLUMES_CREATE)
        ver = self.ver(req)
        body = self.body(req, schemas.volume_attachment_create(ver))["volumeAttachment"]
        attached = self.compute.attach_volume(
            req.context, server_id, body["volumeId"], device=body.get("device") or None, tag=body.get("tag"),
            delete_on_termination=bool(body.get("delete_on_termination", False)))
        return {"volumeAttachment": views.volume_attachment(attached, ver, created=True)}

    def update(self, req: Request, server_id: str, volume_id: str) -> Any:
        ver = self.ver(req)
        body = self.body(req, schemas.volume_attachment_update(ver))["volumeAttachment"]
        new_volume = body["volumeId"]
        if new_volume != volume_id or ver < v("2.85"):
            self.authorize(req, policies.VOLUMES_SWAP)
        else:
            self.authorize(req, policies.VOLUMES_UPDATE)
            current = self.compute.get_volume_attachment(req.context, server_id, volume_id)
            for key, have in (("device", current["device"]), ("id", current["volume_id"]),
                              ("serverId", current["server_id"]), ("tag", current["tag"]),
                              ("attachment_id", current["attachment_id"]), ("bdm_uuid", current["id"])):
                if key in body and body[key] != have:
                    raise exception.Invalid(reason=f"The '{key}' of the attachment cannot be changed.")
        self.compute.update_volume_attachment(req.context, server_id, volume_id, new_volume,
                                              delete_on_termination=body.get("delete_on_termination"))
        return 202, None

    def delete(self, req: Request, server_id: str, volume_id: str) -> Any:
        self.authorize(req, policies.VOLUMES_DELETE)
        self.compute.detach_volume(req.context, server_id, volume_id)
        return 202, None


class ServerPasswordController(Controller):
    """``GET`` and ``DELETE /servers/{server_id}/os-server-password``: no encrypted password is kept,
    so there is always none to show, and clearing it (Nova's 204) only checks that the server exists."""

    def routes(self) -> list[Route]:
        return [("GET", "/servers/{server_id}/os-server-password", self.show),
                ("DELETE", "/servers/{server_id}/os-server-password", self.clear)]

    def show(self, req: Request, server_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        self.compute.get_server(req.context, server_id)
        return {"password": ""}

    def clear(self, req: Request, server_id: str) -> Any:
        self.authorize(req, policies.OWNER)
        self.compute.get_server(req.context, server_id)
        return 204, None
