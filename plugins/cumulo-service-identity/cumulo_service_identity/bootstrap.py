"""``bootstrap``: the Default domain, admin and service projects, admin user, the
roles Keystone's bootstrap makes (admin implies manager implies member implies reader;
``service`` implies nothing) plus Swift's ``ResellerAdmin``, the region, and a catalog
service with public/internal/admin endpoints for every API frontend. Idempotent."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from cumulo import exception

LOG = logging.getLogger(__name__)

#: Keystone 2024.2's bootstrap roles, and the reseller admin role of Swift's keystoneauth
#: (``[object] reseller_admin_roles``), which devstack creates and Tempest's object tests use.
ROLES = ("admin", "manager", "member", "reader", "service", "ResellerAdmin")
#: (prior, implied) pairs, as Keystone's bootstrap links its default roles.
IMPLIED = (("admin", "manager"), ("manager", "member"), ("member", "reader"))


def _ensure_domain(svc: Any, domain_id: str) -> dict[str, Any]:
    try:
        return svc.get_domain(domain_id)
    except exception.NotFound:
        try:
            return svc.create_domain({"id": domain_id, "name": "Default", "description": "The default domain"})
        except exception.Conflict:  # another process bootstrapping at the same time
            return svc.get_domain(domain_id)


def _ensure_project(svc: Any, name: str, domain_id: str, description: str) -> dict[str, Any]:
    try:
        return svc.get_project_by_name(name, domain_id)
    except exception.NotFound:
        try:
            return svc.create_project({"name": name, "domain_id": domain_id, "description": description})
        except exception.Conflict:
            return svc.get_project_by_name(name, domain_id)


def _ensure_role(svc: Any, name: str) -> dict[str, Any]:
    try:
        return svc.get_role_by_name(name)
    except exception.NotFound:
        try:
            return svc.create_role({"name": name})
        except exception.Conflict:
            return svc.get_role_by_name(name)


def _ensure_catalog(svc: Any, public_url: str, frontends: list[Any], region: str) -> None:
    services = svc.list_services()
    for fe in frontends:
        stype, sname = getattr(fe, "service_type", ""), getattr(fe, "service_name", "")
        if not stype:
            continue
        url = fe.endpoint_url(public_url.rstrip("/"))
        match = [s for s in services if s["type"] == stype and (s["name"] or "") == sname]
        service = match[0] if match else svc.create_service({"type": stype, "name": sname, "enabled": True})
        endpoints = svc.list_endpoints({"service_id": service["id"]})
        for interface in ("public", "internal", "admin"):
            found = [e for e in endpoints if e["interface"] == interface and e["region_id"] == region]
            if not found:
                svc.create_endpoint({"service_id": service["id"], "interface": interface, "url": url,
                                     "region_id": region, "enabled": True})
            elif found[0]["url"] != url:
                svc.update_endpoint(found[0]["id"], {"url": url})


def bootstrap(svc: Any, admin_password: str | None, public_url: str, frontends: list[Any]) -> dict[str, Any]:
    conf = svc.conf
    svc.ensure_keys()
    svc.credential_keys.ensure()
    domain = _ensure_domain(svc, conf.identity.default_domain_id)
    roles = {name: _ensure_role(svc, name) for name in ROLES}
    implied = {(r["prior_role"]["id"], i["id"]) for r in svc.list_implied_roles() for i in r["implies"]}
    for prior, then in IMPLIED:
        if (roles[prior]["id"], roles[then]["id"]) not in implied:
            svc.create_implied_role(roles[prior]["id"], roles[then]["id"])
    admin_project = _ensure_project(svc, "admin", domain["id"], "Bootstrap project for the cloud administrator")
    _ensure_project(svc, "service", domain["id"], "Project of the service users")

    created = False
    password: str | None = None
    try:
        admin = svc.get_user_by_name("admin", domain["id"])
        if admin_password is not None:
            try:
                svc.backend.authenticate(admin["id"], admin_password)
            except Exception:
                svc.update_user(admin["id"], {"password": admin_password})
            password = admin_password
        if not admin["enabled"]:
            svc.update_user(admin["id"], {"enabled": True})
    except exception.NotFound:
        password = admin_password or secrets.token_urlsafe(18)
        admin = svc.create_user({"name": "admin", "domain_id": domain["id"], "password": password,
                                 "enabled": True, "description": "Cloud administrator"})
        created = True
        LOG.info("Created the admin user in domain %s", domain["name"])
    svc.create_grant(roles["admin"]["id"], user_id=admin["id"], project_id=admin_project["id"])
    svc.create_grant(roles["admin"]["id"], user_id=admin["id"], system="all")

    region = conf.region_name
    try:
        svc.get_region(region)
    except exception.NotFound:
        svc.create_region({"id": region, "description": ""})
    _ensure_catalog(svc, public_url, frontends, region)
    return {
        "auth_url": public_url.rstrip("/") + "/identity/v3",
        "username": "admin",
        "password": password,
        "project_name": admin_project["name"],
        "project_id": admin_project["id"],
        "user_domain_name": domain["name"],
        "project_domain_name": domain["name"],
        "region_name": region,
        "created": created,
    }
