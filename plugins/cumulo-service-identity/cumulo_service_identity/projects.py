"""Domains and projects (the project hierarchy under a domain)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo_service_identity.models import (
    ApplicationCredential,
    Assignment,
    Credential,
    Domain,
    Project,
    ProjectEndpoint,
    ProjectEndpointGroup,
    Role,
)
from cumulo_service_identity.roles import GROUP_DOMAIN, GROUP_PROJECT, USER_DOMAIN, USER_PROJECT, delete_role_rows
from cumulo_service_identity.rows import RowStore, duplicate
from cumulo_service_identity.util import loads, new_id, not_found


def domain_dict(d: Domain) -> dict[str, Any]:
    extra = loads(d.extra, {})
    return {"id": d.id, "name": d.name, "description": d.description or "", "enabled": bool(d.enabled),
            "tags": extra.get("tags", []), "options": {}}


def project_dict(p: Project) -> dict[str, Any]:
    return {"id": p.id, "name": p.name, "domain_id": p.domain_id, "parent_id": p.parent_id or p.domain_id,
            "description": p.description or "", "enabled": bool(p.enabled), "is_domain": False,
            "tags": loads(p.tags, []), "options": {}, **loads(p.extra, {})}




class ProjectMixin(RowStore):
    """Domains and projects of the Service (``hub.identity``)."""

    # -- domains -----------------------------------------------------------
    def create_domain(self, data: dict[str, Any]) -> dict[str, Any]:
        row = Domain(id=data.get("id") or new_id(), name=data["name"], description=data.get("description"),
                     enabled=bool(data.get("enabled", True)), extra=json.dumps({"tags": data.get("tags") or []}))
        return self._insert(row, domain_dict, f"domain {data['name']}")

    def get_domain(self, domain_id: str) -> dict[str, Any]:
        return self._cached_get("domain", Domain, domain_id, domain_dict)

    def get_domain_by_name(self, name: str) -> dict[str, Any]:
        with db.reader() as s:
            row = s.scalar(sa.select(Domain).where(Domain.name == name))
            if row is None:
                raise not_found("domain", name)
            return domain_dict(row)

    def list_domains(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(Domain).order_by(Domain.name)
        if filters.get("name") is not None:
            q = q.where(Domain.name == filters["name"])
        if filters.get("enabled") is not None:
            q = q.where(Domain.enabled == filters["enabled"])
        with db.transaction() as s:
            return [domain_dict(d) for d in s.scalars(q)]

    def update_domain(self, domain_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            with db.transaction() as s:
                row = s.get(Domain, domain_id)
                if row is None:
                    raise not_found("domain", domain_id)
                for key in ("name", "description", "enabled"):
                    if key in changes:
                        setattr(row, key, changes[key])
                if "tags" in changes:
                    row.extra = json.dumps({**loads(row.extra, {}), "tags": changes["tags"] or []})
                s.flush()
                out = domain_dict(row)
        except sa.exc.IntegrityError as err:
            raise duplicate(err, f"domain {changes.get('name')}") from None
        self._invalidate()
        return out

    def delete_domain(self, domain_id: str) -> None:
        domain = self.get_domain(domain_id)
        if domain["enabled"]:
            raise exception.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
        for project in self.list_projects({"domain_id": domain_id}):
            self._delete_project_rows(project["id"])
        with db.transaction() as s:
            role_ids = list(s.scalars(sa.select(Role.id).where(Role.domain_id == domain_id)))
            for rid in role_ids:
                delete_role_rows(s, rid)
            s.execute(sa.delete(Assignment).where(Assignment.target_id == domain_id,
                                                  Assignment.type.in_((USER_DOMAIN, GROUP_DOMAIN))))
            s.execute(sa.delete(Domain).where(Domain.id == domain_id))
        self._invalidate()

    # -- projects ----------------------------------------------------------
    def create_project(self, data: dict[str, Any]) -> dict[str, Any]:
        domain_id = data.get("domain_id")
        parent_id = data.get("parent_id")
        if parent_id:
            parent = self.get_project(parent_id) if parent_id != domain_id else None
            if parent is None:
                try:
                    self.get_domain(parent_id)
                except exception.NotFound:
                    raise exception.Invalid(reason=f"Parent project {parent_id} does not exist.") from None
                domain_id = domain_id or parent_id
                parent_id = None
            else:
                domain_id = domain_id or parent["domain_id"]
                if parent["domain_id"] != domain_id:
                    raise exception.Invalid(reason="A project must be in the domain of its parent.")
        if not domain_id:
            raise exception.Invalid(reason="A project needs a domain_id.")
        try:
            self.get_domain(domain_id)
        except exception.NotFound:
            raise exception.Invalid(reason=f"Domain {domain_id} does not exist.") from None
        row = Project(id=data.get("id") or new_id(), name=data["name"], domain_id=domain_id,
                      parent_id=parent_id, description=data.get("description"),
                      enabled=bool(data.get("enabled", True)), tags=json.dumps(data.get("tags") or []),
                      extra=json.dumps(data.get("extra") or {}))
        return self._insert(row, project_dict, f"project {data['name']}")

    def get_project(self, project_id: str) -> dict[str, Any]:
        return self._cached_get("project", Project, project_id, project_dict)

    def get_project_by_name(self, name: str, domain_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = s.scalar(sa.select(Project).where(Project.name == name, Project.domain_id == domain_id))
            if row is None:
                raise not_found("project", name)
            return project_dict(row)

    def list_projects(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(Project).order_by(Project.name, Project.id)
        for key in ("name", "domain_id"):
            if filters.get(key) is not None:
                q = q.where(getattr(Project, key) == filters[key])
        if filters.get("enabled") is not None:
            q = q.where(Project.enabled == filters["enabled"])
        if filters.get("parent_id") is not None:
            pid = filters["parent_id"]
            q = q.where(sa.or_(Project.parent_id == pid, sa.and_(Project.parent_id.is_(None), Project.domain_id == pid)))
        if filters.get("ids") is not None:
            q = q.where(Project.id.in_(list(filters["ids"])))
        with db.reader() as s:
            out = [project_dict(p) for p in s.scalars(q)]
        tags = filters.get("tags")
        if tags:
            out = [p for p in out if set(tags) <= set(p["tags"])]
        tags_any = filters.get("tags-any")
        if tags_any:
            out = [p for p in out if set(tags_any) & set(p["tags"])]
        return out

    def update_project(self, project_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        if "domain_id" in changes and changes["domain_id"] != self.get_project(project_id)["domain_id"]:
            raise exception.Invalid(reason="Cannot change the domain_id of a project.")
        try:
            with db.transaction() as s:
                row = s.get(Project, project_id)
                if row is None:
                    raise not_found("project", project_id)
                for key in ("name", "description", "enabled"):
                    if key in changes:
                        setattr(row, key, changes[key])
                if "tags" in changes:
                    row.tags = json.dumps(changes["tags"] or [])
                if "extra" in changes:
                    row.extra = json.dumps({**loads(row.extra, {}), **changes["extra"]})
                s.flush()
                out = project_dict(row)
        except sa.exc.IntegrityError as err:
            raise duplicate(err, f"project {changes.get('name')}") from None
        self._invalidate()
        return out

    def delete_project(self, project_id: str) -> None:
        self.get_project(project_id)
        with db.transaction() as s:
            child = s.scalar(sa.select(Project.id).where(Project.parent_id == project_id).limit(1))
        if child:
            raise exception.Forbidden(f"Cannot delete project {project_id}: it has child projects.")
        self._delete_project_rows(project_id)
        self._invalidate()

    def _delete_project_rows(self, project_id: str) -> None:
        with db.transaction() as s:
            s.execute(sa.delete(Assignment).where(Assignment.target_id == project_id,
                                                  Assignment.type.in_((USER_PROJECT, GROUP_PROJECT))))
            s.execute(sa.delete(ApplicationCredential).where(ApplicationCredential.project_id == project_id))
            s.execute(sa.delete(Credential).where(Credential.project_id == project_id))
            s.execute(sa.delete(ProjectEndpoint).where(ProjectEndpoint.project_id == project_id))
            s.execute(sa.delete(ProjectEndpointGroup).where(ProjectEndpointGroup.project_id == project_id))
            s.execute(sa.delete(Project).where(Project.id == project_id))

    def project_ancestors(self, project_id: str) -> list[str]:
        out: list[str] = []
        current = self.get_project(project_id)["parent_id"]
        while current and current not in out:
            try:
                p = self.get_project(current)
            except exception.NotFound:
                break  # the domain (top level)
            out.append(p["id"])
            current = p["parent_id"]
        return out

    def project_subtree(self, project_id: str) -> list[str]:
        out: list[str] = []
        frontier = [project_id]
        with db.transaction() as s:
            while frontier:
                children = list(s.scalars(sa.select(Project.id).where(Project.parent_id.in_(frontier))))
                children = [c for c in children if c not in out]
                out.extend(children)
                frontier = children
        return out
