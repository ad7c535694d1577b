"""The identity area's policy rules (``oslo.policy.policies`` namespace ``cumulo_service_identity``).

Listing them registers nothing: :mod:`cumulo_service_identity.manager`
registers them with the kernel's enforcer (:func:`register`) when the service
is loaded.

Defaults: administrators (role ``admin``) manage everything; a user may see
and manage what is theirs (own user, own credentials and application
credentials, own token) and read the projects it has a role on.
"""

from __future__ import annotations

from oslo_policy import policy

from cumulo import policy as cumulo_policy

ADMIN = "rule:admin_required"
OWNER = "user_id:%(target.user_id)s"
ADMIN_OR_OWNER = f"{ADMIN} or {OWNER}"
ADMIN_OR_TARGET_PROJECT = f"{ADMIN} or project_id:%(target.project.id)s"
ADMIN_OR_TARGET_DOMAIN = (f"{ADMIN} or domain_id:%(target.domain.id)s or "
                          "project_domain_id:%(target.domain.id)s")
ADMIN_OR_TOKEN_SUBJECT = f"{ADMIN} or user_id:%(target.token.user_id)s"

_ADMIN_ONLY = [
    "create_domain", "update_domain", "delete_domain", "list_domains",
    "list_projects", "create_project", "update_project", "delete_project",
    "list_users", "create_user", "update_user", "delete_user",
    "get_group", "list_groups", "create_group", "update_group", "delete_group",
    "list_users_in_group", "add_user_to_group", "remove_user_from_group", "check_user_in_group",
    "create_role", "update_role", "delete_role",
    "create_implied_role", "delete_implied_role", "list_implied_roles", "get_implied_role",
    "list_role_inference_rules", "check_implied_role",
    "create_grant", "revoke_grant", "check_grant", "list_grants", "list_role_assignments",
    # Keystone's defaults need a system-scoped reader: services and endpoints are the
    # cloud's inventory, not a project's (a project sees the catalog in its token).
    "get_service", "list_services", "create_service", "update_service", "delete_service",
    "get_endpoint", "list_endpoints", "create_endpoint", "update_endpoint", "delete_endpoint",
    "create_region", "update_region", "delete_region",
    "list_credentials_all",
]

_RULES = {
    "get_domain": ADMIN_OR_TARGET_DOMAIN,
    "get_project": ADMIN_OR_TARGET_PROJECT,
    "list_user_projects": ADMIN_OR_OWNER,
    "get_user": ADMIN_OR_OWNER,
    "list_groups_for_user": ADMIN_OR_OWNER,
    "get_role": "rule:admin_required or role:reader",
    "list_roles": "rule:admin_required or role:reader",
    "get_region": "",
    "list_regions": "",
    "get_credential": ADMIN_OR_OWNER,
    "list_credentials": ADMIN_OR_OWNER,
    "create_credential": ADMIN_OR_OWNER,
    "update_credential": ADMIN_OR_OWNER,
    "delete_credential": ADMIN_OR_OWNER,
    "ec2_get_credential": ADMIN_OR_OWNER,
    "ec2_list_credentials": ADMIN_OR_OWNER,
    "ec2_create_credential": ADMIN_OR_OWNER,
    "ec2_delete_credential": ADMIN_OR_OWNER,
    "get_application_credential": OWNER,
    "list_application_credentials": OWNER,
    "create_application_credential": OWNER,
    "delete_application_credential": ADMIN_OR_OWNER,
    "validate_token": ADMIN_OR_TOKEN_SUBJECT,
    "check_token": ADMIN_OR_TOKEN_SUBJECT,
    "revoke_token": ADMIN_OR_TOKEN_SUBJECT,
}


def rules() -> list[policy.RuleDefault]:
    out = [policy.RuleDefault(f"identity:{name}", ADMIN, "Administrators only.") for name in _ADMIN_ONLY]
    out += [policy.RuleDefault(f"identity:{name}", check, "See the identity documentation.")
            for name, check in _RULES.items()]
    return out


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the identity area's rules."""
    return rules()


def register() -> None:
    """Register the rules with the kernel's enforcer (:func:`cumulo.policy.register_rules`)."""
    cumulo_policy.register_rules(rules())
