"""Domain configurations: ``/v3/domains/{domain_id}/config[/{group}[/{option}]]`` and the defaults at
``/v3/domains/config/default``, ``/v3/domains/config/{group}/default`` and
``/v3/domains/config/{group}/{option}/default`` (Keystone's; stored and served, see
:mod:`cumulo_service_identity.extras`)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import DOMAIN_CONFIG

BASE = "/v3/domains/{domain_id}/config"
DEFAULT = "/v3/domains/config"


class DomainConfig(Controller):
    """A domain's ``identity`` and ``ldap`` options (``ldap.password`` is stored, never shown)."""

    def add_routes(self, router: Router) -> None:
        """The whole configuration, a group, an option; the defaults likewise."""
        router.add("PUT", BASE, self.create)
        for path in (BASE, BASE + "/{group}", BASE + "/{group}/{option}"):
            router.add("GET", path, self.show)
            router.add("HEAD", path, self.show)
            router.add("PATCH", path, self.update)
            router.add("DELETE", path, self.delete)
        for path in (DEFAULT + "/default", DEFAULT + "/{group}/default", DEFAULT + "/{group}/{option}/default"):
            router.add("GET", path, self.show_default)

    def create(self, req: Request, domain_id: str) -> Any:
        self.authorize(req, "create_domain_config")
        config = self.body(req, DOMAIN_CONFIG)["config"]
        created, out = self.svc.create_domain_config(domain_id, config)
        return (201 if created else 200), {"config": out}

    def show(self, req: Request, domain_id: str, group: str | None = None, option: str | None = None) -> Any:
        self.authorize(req, "get_domain_config")
        return {"config": self.svc.get_domain_config(domain_id, group, option)}

    def update(self, req: Request, domain_id: str, group: str | None = None, option: str | None = None) -> Any:
        self.authorize(req, "update_domain_config")
        config = self.body(req, DOMAIN_CONFIG)["config"]
        return {"config": self.svc.update_domain_config(domain_id, config, group, option)}

    def delete(self, req: Request, domain_id: str, group: str | None = None, option: str | None = None) -> Any:
        self.authorize(req, "delete_domain_config")
        self.svc.delete_domain_config(domain_id, group, option)

    def show_default(self, req: Request, group: str | None = None, option: str | None = None) -> Any:
        self.authorize(req, "get_domain_config_default")
        return {"config": self.svc.default_domain_config(group, option)}
