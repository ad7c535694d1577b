"""Regions, catalog services and endpoints, and the catalog a token carries."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo_service_identity.models import CatalogService, Endpoint, ProjectEndpoint, Region
from cumulo_service_identity.util import MISS, loads, new_id, not_found

INTERFACES = ("public", "internal", "admin")


def region_dict(r: Region) -> dict[str, Any]:
    return {"id": r.id, "description": r.description or "", "parent_region_id": r.parent_region_id,
            **loads(r.extra, {})}


def service_dict(s: CatalogService) -> dict[str, Any]:
    return {"id": s.id, "type": s.type, "name": s.name, "description": s.description,
            "enabled": bool(s.enabled), **loads(s.extra, {})}


def endpoint_dict(e: Endpoint) -> dict[str, Any]:
    return {"id": e.id, "service_id": e.service_id, "interface": e.interface, "url": e.url,
            "region_id": e.region_id, "region": e.region_id, "enabled": bool(e.enabled), **loads(e.extra, {})}


class CatalogMixin:
    _cache: Any

    if TYPE_CHECKING:  # from the Service's EndpointFilterMixin
        def project_endpoint_ids(self, project_id: str) -> set[str] | None: ...

    def _invalidate(self) -> None:
        pass

    # -- regions -----------------------------------------------------------
    def create_region(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("parent_region_id"):
            self.get_region(data["parent_region_id"])
        row = Region(id=data.get("id") or new_id(), description=data.get("description"),
                     parent_region_id=data.get("parent_region_id"), extra=json.dumps(data.get("extra") or {}))
        try:
            with db.transaction() as s:
                s.add(row)
                s.flush()
                out = region_dict(row)
        except sa.exc.IntegrityError as err:
            if db.is_duplicate(err):
                raise exception.Conflict(reason=f"Duplicate ID, {row.id}.") from None
            raise
        self._invalidate()
        return out

    def get_region(self, region_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(Region, region_id)
            if row is None:
                raise not_found("region", region_id)
            return region_dict(row)

    def list_regions(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(Region).order_by(Region.id)
        if filters.get("parent_region_id"):
            q = q.where(Region.parent_region_id == filters["parent_region_id"])
        with db.transaction() as s:
            return [region_dict(r) for r in s.scalars(q)]

    def update_region(self, region_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        if changes.get("parent_region_id"):
            if changes["parent_region_id"] == region_id:
                raise exception.Invalid(reason="A region cannot be its own parent.")
            self.get_region(changes["parent_region_id"])
        with db.transaction() as s:
            row = s.get(Region, region_id)
            if row is None:
                raise not_found("region", region_id)
            for key in ("description", "parent_region_id"):
                if key in changes:
                    setattr(row, key, changes[key])
            s.flush()
            out = region_dict(row)
        self._invalidate()
        return out

    def delete_region(self, region_id: str) -> None:
        with db.transaction() as s:
            row = s.get(Region, region_id)
            if row is None:
                raise not_found("region", region_id)
            if s.scalar(sa.select(Region.id).where(Region.parent_region_id == region_id).limit(1)):
                raise exception.Forbidden(f"Cannot delete region {region_id}: it has child regions.")
            s.delete(row)
            s.execute(sa.update(Endpoint).where(Endpoint.region_id == region_id).values(region_id=None))
        self._invalidate()

    # -- services ----------------------------------------------------------
    def create_service(self, data: dict[str, Any]) -> dict[str, Any]:
        row = CatalogService(id=data.get("id") or new_id(), type=data["type"], name=data.get("name"),
                             description=data.get("description"), enabled=bool(data.get("enabled", True)),
                             extra=json.dumps(data.get("extra") or {}))
        with db.transaction() as s:
            s.add(row)
            s.flush()
            out = service_dict(row)
        self._invalidate()
        return out

    def get_service(self, service_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(CatalogService, service_id)
            if row is None:
                raise not_found("service", service_id)
            return service_dict(row)

    def list_services(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(CatalogService).order_by(CatalogService.type, CatalogService.name)
        if filters.get("type"):
            q = q.where(CatalogService.type == filters["type"])
        if filters.get("name"):
            q = q.where(CatalogService.name == filters["name"])
        with db.transaction() as s:
            return [service_dict(x) for x in s.scalars(q)]

    def update_service(self, service_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(CatalogService, service_id)
            if row is None:
                raise not_found("service", service_id)
            for key in ("type", "name", "description", "enabled"):
                if key in changes:
                    setattr(row, key, changes[key])
            s.flush()
            out = service_dict(row)
        self._invalidate()
        return out

    def delete_service(self, service_id: str) -> None:
        with db.transaction() as s:
            row = s.get(CatalogService, service_id)
            if row is None:
                raise not_found("service", service_id)
            s.execute(sa.delete(Endpoint).where(Endpoint.service_id == service_id))
            s.delete(row)
        self._invalidate()

    # -- endpoints ---------------------------------------------------------
    def _check_endpoint(self, data: dict[str, Any]) -> None:
        if "interface" in data and data["interface"] not in INTERFACES:
            raise exception.ValidationError(field="interface", reason=f"must be one of {', '.join(INTERFACES)}")
        if data.get("service_id"):
            try:
                self.get_service(data["service_id"])
            except exception.NotFound:
                raise exception.ValidationError(field="service_id",
                                                reason=f"service {data['service_id']} does not exist") from None
        if data.get("region_id"):
            try:
                self.get_region(data["region_id"])
            except exception.NotFound:
                raise exception.ValidationError(field="region_id",
                                                reason=f"region {data['region_id']} does not exist") from None

    def create_endpoint(self, data: dict[str, Any]) -> dict[str, Any]:
        self._check_endpoint(data)
        row = Endpoint(id=data.get("id") or new_id(), service_id=data["service_id"], interface=data["interface"],
                       url=data["url"], region_id=data.get("region_id"), enabled=bool(data.get("enabled", True)),
                       extra=json.dumps(data.get("extra") or {}))
        with db.transaction() as s:
            s.add(row)
            s.flush()
            out = endpoint_dict(row)
        self._invalidate()
        return out

    def get_endpoint(self, endpoint_id: str) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.get(Endpoint, endpoint_id)
            if row is None:
                raise not_found("endpoint", endpoint_id)
            return endpoint_dict(row)

    def list_endpoints(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(Endpoint).order_by(Endpoint.service_id, Endpoint.interface)
        for key in ("service_id", "interface", "region_id"):
            if filters.get(key):
                q = q.where(getattr(Endpoint, key) == filters[key])
        with db.transaction() as s:
            return [endpoint_dict(e) for e in s.scalars(q)]

    def update_endpoint(self, endpoint_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        self._check_endpoint(changes)
        with db.transaction() as s:
            row = s.get(Endpoint, endpoint_id)
            if row is None:
                raise not_found("endpoint", endpoint_id)
            for key in ("service_id", "interface", "url", "region_id", "enabled"):
                if key in changes:
                    setattr(row, key, changes[key])
            s.flush()
            out = endpoint_dict(row)
        self._invalidate()
        return out

    def delete_endpoint(self, endpoint_id: str) -> None:
        with db.transaction() as s:
            row = s.get(Endpoint, endpoint_id)
            if row is None:
                raise not_found("endpoint", endpoint_id)
            s.delete(row)
            s.execute(sa.delete(ProjectEndpoint).where(ProjectEndpoint.endpoint_id == endpoint_id))
        self._invalidate()

    # -- the catalog -------------------------------------------------------
    def _catalog_rows(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        hit = self._cache.get("catalog")
        if hit is not MISS:
            return hit
        with db.reader() as s:
            services = [service_dict(x) for x in s.scalars(
                sa.select(CatalogService).where(CatalogService.enabled.is_(True)).order_by(CatalogService.type))]
            endpoints = [endpoint_dict(e) for e in s.scalars(sa.select(Endpoint).where(Endpoint.enabled.is_(True)))]
        out = [(svc, [e for e in endpoints if e["service_id"] == svc["id"]]) for svc in services]
        self._cache.put("catalog", out)
        return out

    def get_catalog(self, project_id: str | None = None) -> list[dict[str, Any]]:
        """The v3 catalog; ``$(project_id)s``/``%(project_id)s`` URLs are filled in, or left out
        when there is no project. A project with OS-EP-FILTER associations sees only its endpoints
        (and the services that have one of them)."""
        only = self.project_endpoint_ids(project_id) if project_id else None
        catalog = []
        for svc, endpoints in self._catalog_rows():
            if only is not None:
                endpoints = [e for e in endpoints if e["id"] in only]
                if not endpoints:
                    continue
            eps = []
            for e in endpoints:
                url = e["url"]
                if "(project_id)s" in url or "(tenant_id)s" in url:
                    if not project_id:
                        continue
                    for token in ("$(project_id)s", "%(project_id)s", "$(tenant_id)s", "%(tenant_id)s"):
                        url = url.replace(token, project_id)
                eps.append({"id": e["id"], "interface": e["interface"], "region": e["region_id"],
                            "region_id": e["region_id"], "url": url})
            catalog.append({"id": svc["id"], "type": svc["type"], "name": svc["name"] or "", "endpoints": eps})
        return catalog
