"""The Identity v3 app: one router carrying every controller's routes.

Each resource's handlers and URLs live in its module under :mod:`cumulo_api_identity.controllers`;
the frontend (:mod:`cumulo_api_identity.frontend`) wraps this router in the kernel's pipeline, whose
fault wrapper renders the errors handlers raise.
"""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo_api_identity.controllers.access_rules import AccessRules
from cumulo_api_identity.controllers.application_credentials import ApplicationCredentials
from cumulo_api_identity.controllers.auth import Auth
from cumulo_api_identity.controllers.aws_tokens import AwsTokens
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.controllers.credentials import Credentials
from cumulo_api_identity.controllers.domain_config import DomainConfig
from cumulo_api_identity.controllers.domains import Domains
from cumulo_api_identity.controllers.ec2_credentials import EC2Credentials
from cumulo_api_identity.controllers.endpoint_filter import EndpointFilter
from cumulo_api_identity.controllers.endpoints import Endpoints
from cumulo_api_identity.controllers.grants import Grants
from cumulo_api_identity.controllers.groups import Groups
from cumulo_api_identity.controllers.oauth_consumers import OAuthConsumers
from cumulo_api_identity.controllers.policy_blobs import PolicyBlobs
from cumulo_api_identity.controllers.projects import Projects
from cumulo_api_identity.controllers.regions import Regions
from cumulo_api_identity.controllers.role_assignments import RoleAssignments
from cumulo_api_identity.controllers.roles import Roles
from cumulo_api_identity.controllers.services import Services
from cumulo_api_identity.controllers.trusts import Trusts
from cumulo_api_identity.controllers.users import Users
from cumulo_api_identity.controllers.versions import Versions

# No two controllers' URL templates match the same path, so this order is only the reading order.
CONTROLLERS: tuple[type[Controller], ...] = (
    Versions, Auth, Domains, Projects, Users, Groups, Roles, Grants, RoleAssignments,
    Services, Endpoints, Regions, Credentials, EC2Credentials, ApplicationCredentials, AccessRules,
    EndpointFilter, DomainConfig, PolicyBlobs, OAuthConsumers, Trusts, AwsTokens,
)


def build_router(svc: Any) -> Router:
    """The Identity v3 router on ``svc`` (``hub.identity``): every controller's routes."""
    router = Router()
    for controller in CONTROLLERS:
        controller(svc).add_routes(router)
    return router
