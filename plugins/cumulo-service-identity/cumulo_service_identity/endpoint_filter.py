"""Keystone's OS-EP-FILTER: endpoints associated with projects, directly or through endpoint groups.

A project with associations sees only those endpoints in its catalog; a project without any sees
the whole catalog (Keystone's ``[endpoint_filter] return_all_endpoints_if_no_filter``, default true).
An endpoint group chooses endpoints by ``filters``: any of ``interface``, ``service_id`` and
``region_id``, all of which an endpoint must match.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.db.models.base import utcnow
from cumulo_service_identity.models import EndpointGroup, ProjectEndpoint, ProjectEndpointGroup
from cumulo_service_identity.util import MISS, loads, new_id, not_found

FILTER_KEYS = ("interface", "service_id", "region_id")


def endpoint_group_dict(g: EndpointGroup) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "description": g.description or "", "filters": loads(g.filters, {})}


def check_filters(filters: Any) -> dict[str, str]:
    """An endpoint group's filters: a non-empty object of the known keys with string values.

    :raises ValidationError: anything else.
    """
    if not isinstance(filters, dict) or not filters:
        raise exception.ValidationError(field="endpoint_group.filters", reason="must be a non-empty object")
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise exception.ValidationError(field="endpoint_group.filters",
                                        reason=f"unknown keys {unknown}; known: {', '.join(FILTER_KEYS)}")
    if not all(isinstance(v, str) and v for v in filters.values()):
        raise exception.ValidationError(field="endpoint_group.filters", reason="values must be non-empty strings")
    return dict(filters)


class EndpointFilterMixin:
    """Needs from the Service: ``_cache``, ``_invalidate``, projects and endpoints."""

    _cache: Any

    if TYPE_CHECKING:  # from the Service and its other mixins; mypy checks these agree with them
        def _invalidate(self) -> None: ...
        def get_project(self, project_id: str) -> dict[str, Any]: ...
        def list_projects(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...
        def get_endpoint(self, endpoint_id: str) -> dict[str, Any]: ...
        def list_endpoints(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...

    # -- project <-> endpoint ----------------------------------------------
    def add_endpoint_to_project(self, project_id: str, endpoint_id: str) -> None:
        """Associate (idempotently); :raises NotFound: no such project or endpoint."""
        self.get_project(project_id)
        self.get_endpoint(endpoint_id)
        with db.transaction() as s:
            if s.get(ProjectEndpoint, (endpoint_id, project_id)) is None:
                s.add(ProjectEndpoint(endpoint_id=endpoint_id, project_id=project_id))
        self._invalidate()

    def check_endpoint_in_project(self, project_id: str, endpoint_id: str) -> None:
        """:raises NotFound: the project, the endpoint or their association does not exist."""
        self.get_project(project_id)
        self.get_endpoint(endpoint_id)
        with db.reader() as s:
            if s.get(ProjectEndpoint, (endpoint_id, project_id)) is None:
                raise not_found("project endpoint", f"{endpoint_id} in {project_id}")

    def remove_endpoint_from_project(self, project_id: str, endpoint_id: str) -> None:
        """:raises NotFound: no such association."""
        with db.transaction() as s:
            row = s.get(ProjectEndpoint, (endpoint_id, project_id))
            if row is None:
                raise not_found("project endpoint", f"{endpoint_id} in {project_id}")
            s.delete(row)
        self._invalidate()

    def list_projects_for_endpoint(self, endpoint_id: str) -> list[dict[str, Any]]:
        """The projects the endpoint is directly associated with."""
        self.get_endpoint(endpoint_id)
        with db.reader() as s:
            ids = set(s.scalars(sa.select(ProjectEndpoint.project_id).where(ProjectEndpoint.endpoint_id == endpoint_id)))
        return self.list_projects({"ids": ids}) if ids else []

    def list_endpoints_for_project(self, project_id: str) -> list[dict[str, Any]]:
        """The endpoints associated with the project, directly or through its endpoint groups."""
        self.get_project(project_id)
        ids = self.project_endpoint_ids(project_id) or set()
        return [e for e in self.list_endpoints() if e["id"] in ids]

    def project_endpoint_ids(self, project_id: str) -> set[str] | None:
        """The ids of the endpoints the project's catalog is limited to, or None when it has no
        association (then it sees every endpoint)."""
        key = ("ep_filter", project_id)
        hit = self._cache.get(key)
        if hit is not MISS:
            return hit
        with db.reader() as s:
            direct = set(s.scalars(sa.select(ProjectEndpoint.endpoint_id).where(ProjectEndpoint.project_id == project_id)))
            groups = [endpoint_group_dict(g) for g in s.scalars(
                sa.select(EndpointGroup).join(ProjectEndpointGroup, ProjectEndpointGroup.endpoint_group_id == EndpointGroup.id)
                .where(ProjectEndpointGroup.project_id == project_id))]
        out: set[str] | None = None
        if direct or groups:
            out = set(direct)
            endpoints = self.list_endpoints() if groups else []
            for g in groups:
                out.update(e["id"] for e in endpoints if _matches(e, g["filters"]))
        self._cache.put(key, out)
        return out

    # -- endpoint groups -----------------------------------------------------
    def create_endpoint_group(self, data: dict[str, Any]) -> dict[str, Any]:
        """:raises ValidationError: bad filters."""
        filters = check_filters(data.get("filters"))
        row = EndpointGroup(id=new_id(), name=data["name"], description=data.get("description"),
                            filters=json.dumps(filters))
        with db.transaction() as s:
            s.add(row)
            s.flush()
            out = endpoint_group_dict(row)
        self._invalidate()
        return out

    def get_endpoint_group(self, group_id: str) -> dict[str, Any]:
        """:raises NotFound: no such endpoint group."""
        with db.reader() as s:
            row = s.get(EndpointGroup, group_id)
            if row is None:
                raise not_found("endpoint group", group_id)
            return endpoint_group_dict(row)

    def list_endpoint_groups(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        q = sa.select(EndpointGroup).order_by(EndpointGroup.name)
        if (filters or {}).get("name"):
            q = q.where(EndpointGroup.name == (filters or {})["name"])
        with db.reader() as s:
            return [endpoint_group_dict(g) for g in s.scalars(q)]

    def update_endpoint_group(self, group_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """:raises NotFound: no such group. :raises ValidationError: bad filters."""
        with db.transaction() as s:
            row = s.get(EndpointGroup, group_id)
            if row is None:
                raise not_found("endpoint group", group_id)
            if "filters" in changes:
                row.filters = json.dumps(check_filters(changes["filters"]))
            for key in ("name", "description"):
                if key in changes:
                    setattr(row, key, changes[key])
            row.updated_at = utcnow()
            s.flush()
            out = endpoint_group_dict(row)
        self._invalidate()
        return out

    def delete_endpoint_group(self, group_id: str) -> None:
        """Delete the group and its project associations; :raises NotFound: no such group."""
        with db.transaction() as s:
            row = s.get(EndpointGroup, group_id)
            if row is None:
                raise not_found("endpoint group", group_id)
            s.execute(sa.delete(ProjectEndpointGroup).where(ProjectEndpointGroup.endpoint_group_id == group_id))
            s.delete(row)
        self._invalidate()

    def list_endpoints_for_endpoint_group(self, group_id: str) -> list[dict[str, Any]]:
        filters = self.get_endpoint_group(group_id)["filters"]
        return [e for e in self.list_endpoints() if _matches(e, filters)]

    def add_endpoint_group_to_project(self, group_id: str, project_id: str) -> None:
        """:raises NotFound: no such group or project."""
        self.get_endpoint_group(group_id)
        self.get_project(project_id)
        with db.transaction() as s:
            if s.get(ProjectEndpointGroup, (group_id, project_id)) is None:
                s.add(ProjectEndpointGroup(endpoint_group_id=group_id, project_id=project_id))
        self._invalidate()

    def get_endpoint_group_in_project(self, group_id: str, project_id: str) -> dict[str, Any]:
        """The project, when the group is associated with it; :raises NotFound: otherwise."""
        self.get_endpoint_group(group_id)
        project = self.get_project(project_id)
        with db.reader() as s:
            if s.get(ProjectEndpointGroup, (group_id, project_id)) is None:
                raise not_found("project endpoint group", f"{group_id} in {project_id}")
        return project

    def remove_endpoint_group_from_project(self, group_id: str, project_id: str) -> None:
        """:raises NotFound: no such association."""
        with db.transaction() as s:
            row = s.get(ProjectEndpointGroup, (group_id, project_id))
            if row is None:
                raise not_found("project endpoint group", f"{group_id} in {project_id}")
            s.delete(row)
        self._invalidate()

    def list_projects_for_endpoint_group(self, group_id: str) -> list[dict[str, Any]]:
        self.get_endpoint_group(group_id)
        with db.reader() as s:
            ids = set(s.scalars(sa.select(ProjectEndpointGroup.project_id)
                                .where(ProjectEndpointGroup.endpoint_group_id == group_id)))
        return self.list_projects({"ids": ids}) if ids else []

    def list_endpoint_groups_for_project(self, project_id: str) -> list[dict[str, Any]]:
        self.get_project(project_id)
        with db.reader() as s:
            return [endpoint_group_dict(g) for g in s.scalars(
                sa.select(EndpointGroup).join(ProjectEndpointGroup, ProjectEndpointGroup.endpoint_group_id == EndpointGroup.id)
                .where(ProjectEndpointGroup.project_id == project_id).order_by(EndpointGroup.name))]


def _matches(endpoint: dict[str, Any], filters: dict[str, str]) -> bool:
    return all(endpoint.get(k) == v for k, v in filters.items())
