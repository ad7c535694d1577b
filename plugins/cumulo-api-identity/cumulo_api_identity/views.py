"""The Identity API's views of the records ``hub.identity`` returns (the frontend translates, the area stores)."""

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
