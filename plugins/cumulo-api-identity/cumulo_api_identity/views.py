"""The Identity API's views of the records ``hub.identity`` returns (the frontend translates, the area stores).

The ``*_doc`` views add Keystone's ``links`` given ``base``, the ``.../v3`` URL of the request; more than one
controller renders these resources (a user's groups, a group's users, the roles of a grant).
"""

from __future__ import annotations

from typing import Any

from cumulo.utils.timeutils import isotime


def user_view(u: dict[str, Any]) -> dict[str, Any]:
    """Keystone's user document (without links): the fixed fields, the optional ones it has, then its extras."""
    out = {"id": u["id"], "name": u["name"], "domain_id": u["domain_id"], "enabled": bool(u.get("enabled", True)),
           "password_expires_at": isotime(u.get("password_expires_at")), "options": {}}
    for key in ("email", "description", "default_project_id"):
        if u.get(key) is not None:
            out[key] = u[key]
    out.update({k: v for k, v in (u.get("extra") or {}).items() if k not in out})
    return out


def group_view(g: dict[str, Any]) -> dict[str, Any]:
    """Keystone's group document (without links)."""
    return {"id": g["id"], "name": g["name"], "domain_id": g["domain_id"], "description": g.get("description") or ""}


def self_link(base: str, path: str) -> dict[str, Any]:
    """Keystone's ``links`` of one resource at ``base``/``path``."""
    return {"self": f"{base}/{path}"}


def domain_doc(base: str, d: dict[str, Any]) -> dict[str, Any]:
    """A domain with its links."""
    return {**d, "links": self_link(base, f"domains/{d['id']}")}


def project_doc(base: str, p: dict[str, Any]) -> dict[str, Any]:
    """A project with its links."""
    return {**p, "links": self_link(base, f"projects/{p['id']}")}


def user_doc(base: str, u: dict[str, Any]) -> dict[str, Any]:
    """A user (:func:`user_view`) with its links."""
    return {**user_view(u), "links": self_link(base, f"users/{u['id']}")}


def group_doc(base: str, g: dict[str, Any]) -> dict[str, Any]:
    """A group (:func:`group_view`) with its links."""
    return {**group_view(g), "links": self_link(base, f"groups/{g['id']}")}


def role_doc(base: str, r: dict[str, Any]) -> dict[str, Any]:
    """A role with its links."""
    return {**r, "links": self_link(base, f"roles/{r['id']}")}
