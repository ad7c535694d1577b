"""Roles, implied roles and role assignments (grants of a role to a user or group on a target)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.interfaces import auth as iauth
from cumulo_service_identity.models import NO_DOMAIN, Assignment, ImpliedRole, Role
from cumulo_service_identity.rows import RowStore, duplicate
from cumulo_service_identity.util import MISS, new_id, not_found

USER_PROJECT, GROUP_PROJECT = "UserProject", "GroupProject"
USER_DOMAIN, GROUP_DOMAIN = "UserDomain", "GroupDomain"
USER_SYSTEM, GROUP_SYSTEM = "UserSystem", "GroupSystem"
SYSTEM_ALL = "all"



def role_dict(r: Role) -> dict[str, Any]:
    return {"id": r.id, "name": r.name, "domain_id": None if r.domain_id == NO_DOMAIN else r.domain_id,
            "description": r.description, "options": {}}




def delete_role_rows(s: Any, role_id: str) -> None:
    """Delete a role with its assignments and implication rules (in the caller's transaction ``s``)."""
    s.execute(sa.delete(Assignment).where(Assignment.role_id == role_id))
    s.execute(sa.delete(ImpliedRole).where(sa.or_(ImpliedRole.prior_role_id == role_id,
                                                  ImpliedRole.implied_role_id == role_id)))
    s.execute(sa.delete(Role).where(Role.id == role_id))


class RoleMixin(RowStore):
    """Roles, implied roles and assignments of the Service; users, groups and projects are its other mixins'."""

    backend: iauth.IdentityBackend

    if TYPE_CHECKING:  # from the Service's other mixins; mypy checks these agree with them
        def get_user(self, user_id: str) -> dict[str, Any]: ...
        def get_group(self, group_id: str) -> dict[str, Any]: ...
        def get_domain(self, domain_id: str) -> dict[str, Any]: ...
        def get_project(self, project_id: str) -> dict[str, Any]: ...
        def list_projects(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...
        def project_ancestors(self, project_id: str) -> list[str]: ...
        def project_subtree(self, project_id: str) -> list[str]: ...

    # -- roles -------------------------------------------------------------
    def create_role(self, data: dict[str, Any]) -> dict[str, Any]:
        row = Role(id=data.get("id") or new_id(), name=data["name"], domain_id=data.get("domain_id") or NO_DOMAIN,
                   description=data.get("description"), extra="{}")
        out = self._insert(row, role_dict, f"role {data['name']}")
        self._invalidate()  # the cached role names and domain-role ids
        return out

    def get_role(self, role_id: str) -> dict[str, Any]:
        with db.reader() as s:
            row = s.get(Role, role_id)
            if row is None:
                raise not_found("role", role_id)
            return role_dict(row)

    def get_role_by_name(self, name: str, domain_id: str | None = None) -> dict[str, Any]:
        with db.transaction() as s:
            row = s.scalar(sa.select(Role).where(Role.name == name, Role.domain_id == (domain_id or NO_DOMAIN)))
            if row is None:
                raise not_found("role", name)
            return role_dict(row)

    def list_roles(self, filters: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        filters = filters or {}
        q = sa.select(Role).order_by(Role.name)
        if filters.get("name") is not None:
            q = q.where(Role.name == filters["name"])
        q = q.where(Role.domain_id == (filters.get("domain_id") or NO_DOMAIN))
        with db.reader() as s:
            return [role_dict(r) for r in s.scalars(q)]

    def _role_names(self) -> dict[str, str]:
        hit = self._cache.get("role_names")
        if hit is not MISS:
            return hit
        with db.reader() as s:
            out = {r.id: r.name for r in s.scalars(sa.select(Role))}
        self._cache.put("role_names", out)
        return out

    def update_role(self, role_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        try:
            with db.transaction() as s:
                row = s.get(Role, role_id)
                if row is None:
                    raise not_found("role", role_id)
                for key in ("name", "description"):
                    if key in changes:
                        setattr(row, key, changes[key])
                s.flush()
                out = role_dict(row)
        except sa.exc.IntegrityError as err:
            raise duplicate(err, f"role {changes.get('name')}") from None
        self._invalidate()
        return out

    def delete_role(self, role_id: str) -> None:
        with db.transaction() as s:
            if s.get(Role, role_id) is None:
                raise not_found("role", role_id)
            delete_role_rows(s, role_id)
        self._invalidate()

    # -- implied roles -----------------------------------------------------
    def _implications(self) -> dict[str, set[str]]:
        hit = self._cache.get("implications")
        if hit is not MISS:
            return hit
        out: dict[str, set[str]] = {}
        with db.transaction() as s:
            for row in s.scalars(sa.select(ImpliedRole)):
                out.setdefault(row.prior_role_id, set()).add(row.implied_role_id)
        self._cache.put("implications", out)
        return out

    def expand_implied(self, role_ids: set[str] | list[str]) -> set[str]:
        """The roles and all they imply, without domain-specific roles: as in Keystone, those only
        stand for the global roles they imply, and never reach a token or an effective listing."""
        return self._closure(role_ids) - self._domain_role_ids()

    def _closure(self, role_ids: set[str] | list[str]) -> set[str]:
        rules = self._implications()
        out = set(role_ids)
        frontier = list(out)
        while frontier:
            for implied in rules.get(frontier.pop(), ()):
                if implied not in out:
                    out.add(implied)
                    frontier.append(implied)
        return out

    def _domain_role_ids(self) -> set[str]:
        hit = self._cache.get("domain_roles")
        if hit is not MISS:
            return hit
        with db.reader() as s:
            out = set(s.scalars(sa.select(Role.id).where(Role.domain_id != NO_DOMAIN)))
        self._cache.put("domain_roles", out)
        return out

    def create_implied_role(self, prior_id: str, implied_id: str) -> dict[str, Any]:
        """Make ``prior_id`` imply ``implied_id``, with Keystone's limits.

        :raises NotFound: either role does not exist.
        :raises Forbidden: the implied role is ``admin`` (Keystone's ``prohibited_implied_role``),
            or a global role would imply a domain-specific one.
        :raises Invalid: the rule would make a cycle.
        """
        prior, implied = self.get_role(prior_id), self.get_role(implied_id)
        if implied["name"] == "admin" and implied["domain_id"] is None:
            raise exception.Forbidden("The admin role cannot be implied by another role.")
        if prior["domain_id"] is None and implied["domain_id"] is not None:
            raise exception.Forbidden("A global role cannot imply a domain-specific role.")
        if prior_id == implied_id or prior_id in self._closure({implied_id}):
            raise exception.Invalid(reason=f"Role {implied['name']} implying {prior['name']} would make a cycle.")
        with db.transaction() as s:
            if s.get(ImpliedRole, (prior_id, implied_id)) is None:
                s.add(ImpliedRole(prior_role_id=prior_id, implied_role_id=implied_id))
        self._invalidate()
        return {"prior_role": prior, "implies": implied}

    def get_implied_role(self, prior_id: str, implied_id: str) -> dict[str, Any]:
        prior, implied = self.get_role(prior_id), self.get_role(implied_id)
        if implied_id not in self._implications().get(prior_id, set()):
            raise not_found("implied role", f"{prior_id} -> {implied_id}")
        return {"prior_role": prior, "implies": implied}

    def delete_implied_role(self, prior_id: str, implied_id: str) -> None:
        self.get_implied_role(prior_id, implied_id)
        with db.transaction() as s:
            s.execute(sa.delete(ImpliedRole).where(ImpliedRole.prior_role_id == prior_id,
                                                   ImpliedRole.implied_role_id == implied_id))
        self._invalidate()

    def list_implied_roles(self, prior_id: str | None = None) -> list[dict[str, Any]]:
        """``[{"prior_role": role, "implies": [roles]}]`` for one role or all."""
        rules = self._implications()
        priors = [prior_id] if prior_id else sorted(rules)
        out = []
        for pid in priors:
            prior = self.get_role(pid)
            implies = [self.get_role(i) for i in sorted(rules.get(pid, ()))]
            out.append({"prior_role": prior, "implies": implies})
        return out

    # -- assignments -------------------------------------------------------
    @staticmethod
    def _grant_key(role_id: str, user_id: str | None, group_id: str | None, project_id: str | None,
                   domain_id: str | None, system: str | None) -> tuple[str, str, str]:
        if user_id and not group_id:
            actor, actor_id = "User", user_id
        elif group_id and not user_id:
            actor, actor_id = "Group", group_id
        else:
            raise exception.Invalid(reason="A grant needs exactly one of user or group.")
        if sum(1 for t in (project_id, domain_id, system) if t) != 1:
            raise exception.Invalid(reason="A grant needs exactly one of project, domain or system.")
        if project_id:
            return actor + "Project", actor_id, project_id
        if domain_id:
            return actor + "Domain", actor_id, domain_id
        return actor + "System", actor_id, SYSTEM_ALL

    def _check_grant_parts(self, role_id: str, user_id: str | None, group_id: str | None,
                           project_id: str | None, domain_id: str | None) -> None:
        self.get_role(role_id)
        if user_id:
            self.get_user(user_id)
        if group_id:
            self.get_group(group_id)
        if project_id:
            self.get_project(project_id)
        if domain_id:
            self.get_domain(domain_id)

    def create_grant(self, role_id: str, *, user_id: str | None = None, group_id: str | None = None,
                     project_id: str | None = None, domain_id: str | None = None, system: str | None = None,
                     inherited: bool = False) -> None:
        kind, actor, target = self._grant_key(role_id, user_id, group_id, project_id, domain_id, system)
        self._check_grant_parts(role_id, user_id, group_id, project_id, domain_id)
        with db.transaction() as s:
            if s.get(Assignment, (kind, actor, target, role_id, inherited)) is None:
                s.add(Assignment(type=kind, actor_id=actor, target_id=target, role_id=role_id, inherited=inherited))
        self._invalidate()

    def check_grant(self, role_id: str, *, user_id: str | None = None, group_id: str | None = None,
                    project_id: str | None = None, domain_id: str | None = None, system: str | None = None,
                    inherited: bool = False) -> None:
        kind, actor, target = self._grant_key(role_id, user_id, group_id, project_id, domain_id, system)
        self._check_grant_parts(role_id, user_id, group_id, project_id, domain_id)
        with db.reader() as s:
            if s.get(Assignment, (kind, actor, target, role_id, inherited)) is None:
                raise not_found("role assignment", f"{role_id} for {actor} on {target}")

    def delete_grant(self, role_id: str, *, user_id: str | None = None, group_id: str | None = None,
                     project_id: str | None = None, domain_id: str | None = None, system: str | None = None,
                     inherited: bool = False) -> None:
        kind, actor, target = self._grant_key(role_id, user_id, group_id, project_id, domain_id, system)
        with db.transaction() as s:
            row = s.get(Assignment, (kind, actor, target, role_id, inherited))
            if row is None:
                raise not_found("role assignment", f"{role_id} for {actor} on {target}")
            s.delete(row)
        self._invalidate()

    def list_grants(self, *, user_id: str | None = None, group_id: str | None = None,
                    project_id: str | None = None, domain_id: str | None = None, system: str | None = None,
                    inherited: bool = False) -> list[dict[str, Any]]:
        kind, actor, target = self._grant_key("", user_id, group_id, project_id, domain_id, system)
        self._check_grant_parts_targets(user_id, group_id, project_id, domain_id)
        with db.reader() as s:
            ids = list(s.scalars(sa.select(Assignment.role_id).where(
                Assignment.type == kind, Assignment.actor_id == actor, Assignment.target_id == target,
                Assignment.inherited == inherited)))
        return [self.get_role(i) for i in sorted(set(ids))]

    def _check_grant_parts_targets(self, user_id: str | None, group_id: str | None, project_id: str | None,
                                   domain_id: str | None) -> None:
        if user_id:
            self.get_user(user_id)
        if group_id:
            self.get_group(group_id)
        if project_id:
            self.get_project(project_id)
        if domain_id:
            self.get_domain(domain_id)

    def _raw_assignments(self, **where: Any) -> list[dict[str, Any]]:
        q = sa.select(Assignment)
        if where.get("types"):
            q = q.where(Assignment.type.in_(where["types"]))
        if where.get("actor_ids") is not None:
            q = q.where(Assignment.actor_id.in_(list(where["actor_ids"])))
        if where.get("target_ids") is not None:
            q = q.where(Assignment.target_id.in_(list(where["target_ids"])))
        if where.get("role_id"):
            q = q.where(Assignment.role_id == where["role_id"])
        if where.get("inherited") is not None:
            q = q.where(Assignment.inherited == where["inherited"])
        with db.reader() as s:
            return [{"type": a.type, "actor_id": a.actor_id, "target_id": a.target_id, "role_id": a.role_id,
                     "inherited": bool(a.inherited)} for a in s.scalars(q)]

    def _user_group_ids(self, user_id: str) -> list[str]:
        key = ("groups_of", user_id)
        hit = self._cache.get(key)
        if hit is not MISS:
            return hit
        out = [g["id"] for g in self.backend.list_groups_for_user(user_id)]
        self._cache.put(key, out)
        return out

    def effective_role_ids(self, user_id: str, *, project_id: str | None = None, domain_id: str | None = None,
                           system: str | None = None, expand: bool = True) -> set[str]:
        """Role ids the user holds on one target: direct, through groups, inherited, and implied."""
        key = ("roles", user_id, project_id, domain_id, system, expand)
        hit = self._cache.get(key)
        if hit is not MISS:
            return hit
        actors = [user_id, *self._user_group_ids(user_id)]
        if project_id:
            project = self.get_project(project_id)
            rows = self._raw_assignments(types=(USER_PROJECT, GROUP_PROJECT), actor_ids=actors,
                                         target_ids=[project_id], inherited=False)
            parents = self.project_ancestors(project_id)
            rows += self._raw_assignments(types=(USER_PROJECT, GROUP_PROJECT), actor_ids=actors,
                                          target_ids=parents, inherited=True) if parents else []
            rows += self._raw_assignments(types=(USER_DOMAIN, GROUP_DOMAIN), actor_ids=actors,
                                          target_ids=[project["domain_id"]], inherited=True)
        elif domain_id:
            rows = self._raw_assignments(types=(USER_DOMAIN, GROUP_DOMAIN), actor_ids=actors,
                                         target_ids=[domain_id], inherited=False)
        elif system:
            rows = self._raw_assignments(types=(USER_SYSTEM, GROUP_SYSTEM), actor_ids=actors,
                                         target_ids=[SYSTEM_ALL])
        else:
            rows = []
        ids = {r["role_id"] for r in rows}
        out = self.expand_implied(ids) if expand else ids
        self._cache.put(key, out)
        return out

    def role_names(self, role_ids: set[str] | list[str]) -> list[dict[str, str]]:
        names = self._role_names()
        return sorted(({"id": i, "name": names[i]} for i in role_ids if i in names), key=lambda r: r["name"])

    def list_user_projects(self, user_id: str) -> list[dict[str, Any]]:
        """Enabled projects where the user holds any role (directly, through groups or inherited)."""
        actors = [user_id, *self._user_group_ids(user_id)]
        rows = self._raw_assignments(actor_ids=actors)
        ids = {r["target_id"] for r in rows if r["type"] in (USER_PROJECT, GROUP_PROJECT) and not r["inherited"]}
        for r in rows:
            if r["inherited"] and r["type"] in (USER_PROJECT, GROUP_PROJECT):
                ids.update(self.project_subtree(r["target_id"]))
            if r["inherited"] and r["type"] in (USER_DOMAIN, GROUP_DOMAIN):
                ids.update(p["id"] for p in self.list_projects({"domain_id": r["target_id"]}))
        return [p for p in self.list_projects({"ids": ids}) if p["enabled"]] if ids else []

    def list_user_domains(self, user_id: str) -> list[dict[str, Any]]:
        actors = [user_id, *self._user_group_ids(user_id)]
        rows = self._raw_assignments(types=(USER_DOMAIN, GROUP_DOMAIN), actor_ids=actors, inherited=False)
        out = []
        for did in sorted({r["target_id"] for r in rows}):
            try:
                d = self.get_domain(did)
            except exception.NotFound:
                continue
            if d["enabled"]:
                out.append(d)
        return out

    def list_role_assignments(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Keystone's ``GET /v3/role_assignments``: filters ``user_id``, ``group_id``, ``project_id``,
        ``domain_id``, ``system``, ``role_id``, ``effective``, ``include_names``, ``inherited_to``
        ("projects"), ``include_subtree``. Returns the API's assignment dicts (without links)."""
        effective = bool(filters.get("effective"))
        rows = self._raw_assignments(role_id=filters.get("role_id"))
        if filters.get("inherited_to") == "projects":
            rows = [r for r in rows if r["inherited"]]
        if effective:
            rows = self._expand_effective(rows)
        out = []
        project_filter = filters.get("project_id")
        project_ids = None
        if project_filter:
            project_ids = {project_filter}
            if filters.get("include_subtree"):
                project_ids.update(self.project_subtree(project_filter))
        for r in rows:
            actor_kind = "user" if r["type"].startswith("User") else "group"
            target_kind = r["type"][4:].lower() if actor_kind == "user" else r["type"][5:].lower()
            if filters.get("user_id") and (actor_kind != "user" or r["actor_id"] != filters["user_id"]):
                continue
            if filters.get("group_id") and (actor_kind != "group" or r["actor_id"] != filters["group_id"]):
                continue
            if project_ids is not None and (target_kind != "project" or r["target_id"] not in project_ids):
                continue
            if filters.get("domain_id") and (target_kind != "domain" or r["target_id"] != filters["domain_id"]):
                continue
            if filters.get("system") and target_kind != "system":
                continue
            out.append(self._assignment_entity(r, actor_kind, target_kind, bool(filters.get("include_names"))))
        return out

    def _expand_effective(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        expanded: list[dict[str, Any]] = []
        for r in rows:
            targets: list[tuple[str, str]] = []  # (kind suffix, target id)
            target_kind = r["type"].replace("User", "").replace("Group", "")
            if r["inherited"]:
                if target_kind == "Domain":
                    targets = [("Project", p["id"]) for p in self.list_projects({"domain_id": r["target_id"]})]
                elif target_kind == "Project":
                    targets = [("Project", pid) for pid in self.project_subtree(r["target_id"])]
            else:
                targets = [(target_kind, r["target_id"])]
            if r["type"].startswith("Group"):
                try:
                    users = [u["id"] for u in self.backend.list_users_in_group(r["actor_id"])]
                except Exception:
                    users = []
                actors = [(u, r["actor_id"]) for u in users]
            else:
                actors = [(r["actor_id"], None)]
            for tkind, tid in targets:
                for uid, via_group in actors:
                    for role_id in self.expand_implied({r["role_id"]}):
                        expanded.append({"type": "User" + tkind, "actor_id": uid, "target_id": tid,
                                         "role_id": role_id, "inherited": False, "via_group": via_group,
                                         "prior_role_id": r["role_id"] if role_id != r["role_id"] else None,
                                         "source": r})
        seen, unique = set(), []
        for e in expanded:
            k = (e["type"], e["actor_id"], e["target_id"], e["role_id"])
            if k not in seen:
                seen.add(k)
                unique.append(e)
        return unique

    def _assignment_entity(self, r: dict[str, Any], actor_kind: str, target_kind: str,
                           names: bool) -> dict[str, Any]:
        role: dict[str, Any] = {"id": r["role_id"]}
        actor: dict[str, Any] = {"id": r["actor_id"]}
        scope: dict[str, Any]
        if target_kind == "system":
            scope = {"system": {"all": True}}
        else:
            scope = {target_kind: {"id": r["target_id"]}}
        if r.get("inherited"):
            scope["OS-INHERIT:inherited_to"] = "projects"
        if names:
            try:
                rr = self.get_role(r["role_id"])
                role.update(name=rr["name"])
                if rr["domain_id"]:
                    role["domain"] = self._domain_ref(rr["domain_id"])
            except exception.NotFound:
                pass
            try:
                a = self.get_user(r["actor_id"]) if actor_kind == "user" else self.get_group(r["actor_id"])
                actor.update(name=a["name"], domain=self._domain_ref(a["domain_id"]))
            except exception.NotFound:
                pass
            if target_kind == "project":
                try:
                    p = self.get_project(r["target_id"])
                    scope["project"].update(name=p["name"], domain=self._domain_ref(p["domain_id"]))
                except exception.NotFound:
                    pass
            elif target_kind == "domain":
                scope["domain"] = self._domain_ref(r["target_id"])
        out = {"role": role, actor_kind: actor, "scope": scope}
        out["_raw"] = r
        return out

    def _domain_ref(self, domain_id: str) -> dict[str, Any]:
        try:
            return {"id": domain_id, "name": self.get_domain(domain_id)["name"]}
        except exception.NotFound:
            return {"id": domain_id}
