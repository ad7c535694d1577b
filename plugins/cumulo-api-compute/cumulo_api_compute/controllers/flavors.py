"""Flavors: list (brief and detail, filtered, paged), show, create, update (2.55+), delete."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute import policies, schemas, views
from cumulo_api_compute.controllers.base import Controller, Route, as_bool
from cumulo_api_compute.views import v

_TRUE, _FALSE = ("1", "t", "true", "on", "y", "yes"), ("0", "f", "false", "off", "n", "no")


def _is_public(raw: str | None) -> bool | None:
    """Nova's ``is_public`` filter: absent is True, ``none`` is every flavor, else a strict boolean string.

    :raises ValidationError: neither (``oslo_utils.strutils.bool_from_string(strict=True)`` words).
    """
    if raw is None:
        return True
    low = raw.strip().lower()
    if low == "none":
        return None
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise exception.ValidationError(field="is_public", reason=f"'{raw}' is not a boolean")


class FlavorsController(Controller):
    """``/flavors`` and ``/flavors/{flavor_id}`` (reading for everyone, managing for administrators)."""

    def routes(self) -> list[Route]:
        return [("GET", "/flavors", self.index),
                ("GET", "/flavors/detail", self.detail),
                ("POST", "/flavors", self.create),
                ("GET", "/flavors/{flavor_id}", self.show),
                ("PUT", "/flavors/{flavor_id}", self.update),
                ("DELETE", "/flavors/{flavor_id}", self.delete)]

    def _list(self, req: Request, brief: bool) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        is_public = _is_public(req.GET.get("is_public"))
        limit = req.int_param("limit", None, minimum=0)
        flavors = self.compute.list_flavors(
            req.context, is_public=is_public, min_ram=req.int_param("minRam", None),
            min_disk=req.int_param("minDisk", None), sort_key=req.GET.get("sort_key", "flavorid"),
            sort_dir=req.GET.get("sort_dir", "asc"), limit=limit, marker=req.GET.get("marker"))
        items = [views.flavor(self.base(req), f, self.ver(req), brief) for f in flavors]
        return self.paged(req, items, limit if limit is not None else -1, "flavors",
                          "flavors" if brief else "flavors/detail")

    def index(self, req: Request) -> dict[str, Any]:
        return self._list(req, True)

    def detail(self, req: Request) -> dict[str, Any]:
        return self._list(req, False)

    def show(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.READER)
        return {"flavor": views.flavor(self.base(req), self.compute.get_flavor(req.context, flavor_id),
                                       self.ver(req))}

    def create(self, req: Request) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        f = self.body(req, schemas.flavor_create(self.ver(req)))["flavor"]
        flavor = self.compute.create_flavor(
            req.context, name=f["name"].strip(), vcpus=int(f["vcpus"]), ram=int(f["ram"]), disk=int(f["disk"]),
            flavorid=f.get("id"), ephemeral=int(f.get("OS-FLV-EXT-DATA:ephemeral", 0) or 0),
            swap=int(f.get("swap", 0) or 0), rxtx_factor=float(f.get("rxtx_factor", 1.0)),
            is_public=as_bool(f.get("os-flavor-access:is_public", True)), description=f.get("description"))
        return {"flavor": views.flavor(self.base(req), flavor, self.ver(req))}

    def update(self, req: Request, flavor_id: str) -> dict[str, Any]:
        self.authorize(req, policies.ADMIN)
        if self.ver(req) < v("2.55"):
            raise exception.NotFound("Updating a flavor needs microversion 2.55 or later.")
        f = self.body(req, schemas.FLAVOR_UPDATE)["flavor"]
        flavor = self.compute.update_flavor(req.context, flavor_id, f["description"])
        return {"flavor": views.flavor(self.base(req), flavor, self.ver(req))}

    def delete(self, req: Request, flavor_id: str) -> Any:
        self.authorize(req, policies.ADMIN)
        self.compute.delete_flavor(req.context, flavor_id)
        return 202, None
