"""The identity service (``hub.identity``), composed of one mixin per kind of resource.

:mod:`~cumulo_service_identity.users` (users and groups, through the backend
plugin), :mod:`~cumulo_service_identity.credentials` (credentials and
application credentials), :mod:`~cumulo_service_identity.projects` (domains and
projects), :mod:`~cumulo_service_identity.roles` (roles, implied roles and
assignments), :mod:`~cumulo_service_identity.catalog` (regions, services,
endpoints), :mod:`~cumulo_service_identity.endpoint_filter` (OS-EP-FILTER),
:mod:`~cumulo_service_identity.extras` (domain configurations, policy blobs, OAuth1
consumers), :mod:`~cumulo_service_identity.trusts` (OS-TRUST), :mod:`~cumulo_service_identity.tokens` (authentication, tokens,
revocation) and :mod:`~cumulo_service_identity.aws_signatures` (``authenticate_aws``: AWS-signed requests of the
EC2 and S3 frontends). Every other API validates tokens with
``hub.identity.validate_token(token) -> RequestContext``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa
from oslo_config import cfg

from cumulo import db, exception, registry
from cumulo.conf import CONF
from cumulo.interfaces import auth as iauth
from cumulo.interfaces.base import PluginContext
from cumulo_service_identity import policies
from cumulo_service_identity.access_rules import AccessRuleMixin
from cumulo_service_identity.aws_signatures import AwsSignatureMixin
from cumulo_service_identity.catalog import CatalogMixin
from cumulo_service_identity.credentials import CredentialMixin
from cumulo_service_identity.endpoint_filter import EndpointFilterMixin
from cumulo_service_identity.extras import ExtrasMixin
from cumulo_service_identity.models import DomainConfigOption
from cumulo_service_identity.projects import ProjectMixin
from cumulo_service_identity.roles import RoleMixin
from cumulo_service_identity.tokens import RevocationList, TokenMixin
from cumulo_service_identity.trusts import TrustMixin
from cumulo_service_identity.users import UserMixin
from cumulo_service_identity.util import TTLCache

LOG = logging.getLogger(__name__)

policies.register()  # the rules are known (listings, overrides) from the moment the service loads


class Service(UserMixin, CredentialMixin, AccessRuleMixin, ProjectMixin, RoleMixin, CatalogMixin, EndpointFilterMixin, ExtrasMixin,
              TrustMixin, TokenMixin, AwsSignatureMixin):
    """The identity manager. Every method raises :class:`cumulo.exception.CumuloError` subclasses
    (NotFound, Conflict, Invalid, Forbidden, NotAuthenticated) for the API to render."""

    def __init__(self, hub: Any = None, conf: cfg.ConfigOpts = CONF) -> None:
        self.hub = hub
        self.conf = conf
        ctx = PluginContext(conf, host=conf.host, hub=hub)
        self.backend: iauth.IdentityBackend = registry.load_plugin("auth", conf.identity.backend, ctx)
        self.provider: iauth.TokenProvider = registry.load_plugin("token", conf.identity.token_provider, ctx)
        self._provider_ready = False
        self._ready_lock = threading.Lock()
        self._cache = TTLCache(conf.identity.cache_time)
        self.revocations = RevocationList(conf.identity.cache_time)

    def _invalidate(self) -> None:
        self._cache.clear()

    def ensure_keys(self) -> None:
        """Create the token provider's keys if there are none yet."""
        with self._ready_lock:
            if not self._provider_ready:
                self.provider.initialize()
                self._provider_ready = True

    def authenticate(self, auth: Any) -> tuple[str, dict[str, Any]]:
        self.ensure_keys()
        return super().authenticate(auth)

    def rotate_keys(self) -> None:
        self.provider.rotate_keys()

    def delete_domain(self, domain_id: str) -> None:
        """Delete a disabled domain with its projects, roles, assignments, and (when the
        backend is writable) its users and groups."""
        if self.get_domain(domain_id)["enabled"]:
            raise exception.Forbidden("Cannot delete a domain that is enabled, please disable it first.")
        if self.backend.writable:
            for user in self.list_users({"domain_id": domain_id}):
                self.delete_user(user["id"])
            for group in self.list_groups({"domain_id": domain_id}):
                self.delete_group(group["id"])
        super().delete_domain(domain_id)
        with db.transaction() as s:  # its configuration goes with it
            s.execute(sa.delete(DomainConfigOption).where(DomainConfigOption.domain_id == domain_id))

    def bootstrap(self, admin_password: str | None, public_url: str, frontends: list[Any]) -> dict[str, Any]:
        """Create (idempotently) the Default domain, admin user and project, roles, region and catalog.

        See :func:`cumulo_service_identity.bootstrap.bootstrap`.
        """
        from cumulo_service_identity.bootstrap import bootstrap

        return bootstrap(self, admin_password, public_url, frontends)
