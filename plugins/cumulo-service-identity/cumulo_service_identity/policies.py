"""The identity area's policy rules (``oslo.policy.policies`` namespace ``cumulo_service_identity``).

Listing them registers nothing: :mod:`cumulo_service_identity.manager`
registers them with the kernel's enforcer (:func:`register`) when the service
is loaded.

Defaults follow Keystone's: administrators (role ``admin``) manage everything;
system readers (``role:reader and system_scope:all``, a system-scoped token)
read everything; a user may see and manage what is theirs (own user, own
credentials and application credentials, own token) and read the projects it
has a role on.
"""

from __future__ import annotations

from oslo_policy import policy

from cumulo import policy as cumulo_policy

ADMIN = "rule:admin_required"
# Keystone's system reader: a reader on the system (a system-scoped token), not on a project.
SYSTEM_READER = "role:reader and system_scope:all"
ADMIN_OR_SYSTEM_READER = f"{ADMIN} or ({SYSTEM_READER})"
OWNER = "user_id:%(target.user_id)s"
ADMIN_OR_OWNER = f"{ADMIN} or {OWNER}"
ADMIN_OR_SYSTEM_READER_OR_OWNER = f"{ADMIN_OR_SYSTEM_READER} or {OWNER}"
ADMIN_OR_MEMBER_OWNER = f"{ADMIN} or (role:member and {OWNER})"
ADMIN_OR_TARGET_PROJECT = f"{ADMIN_OR_SYSTEM_READER} or project_id:%(target.project.id)s"
ADMIN_OR_TARGET_DOMAIN = (f"{ADMIN_OR_SYSTEM_READER} or domain_id:%(target.domain.id)s or "
                          "project_domain_id:%(target.domain.id)s")
TOKEN_SUBJECT = "user_id:%(target.token.user_id)s"
TRUST_PARTY = "user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s"

# Changes to the cloud's identity inventory: administrators only (Keystone: rule:admin_required).
_ADMIN_ONLY = [
    "create_domain", "update_domain", "delete_domain",
    "create_project", "update_project", "delete_project",
    "update_project_tags", "create_project_tag", "delete_project_tags", "delete_project_tag",
    "create_user", "update_user", "delete_user",
    "create_group", "update_group", "delete_group", "add_user_to_group", "remove_user_from_group",
    "create_role", "update_role", "delete_role", "create_implied_role", "delete_implied_role",
    "create_grant", "revoke_grant",
    "create_system_grant_for_user", "revoke_system_grant_for_user",
    "create_system_grant_for_group", "revoke_system_grant_for_group",
    "create_service", "update_service", "delete_service",
    "create_endpoint", "update_endpoint", "delete_endpoint",
    "create_region", "update_region", "delete_region",
    "add_endpoint_to_project", "remove_endpoint_from_project",
    "create_endpoint_group", "update_endpoint_group", "delete_endpoint_group",
    "add_endpoint_group_to_project", "remove_endpoint_group_from_project",
    "create_domain_config", "update_domain_config", "delete_domain_config",
    "create_policy", "update_policy", "delete_policy",
    "create_consumer", "update_consumer", "delete_consumer",
]

# Reading it: administrators or system readers (Keystone: admin_required or role:reader and system_scope:all).
_ADMIN_OR_SYSTEM_READER = [
    "list_domains", "list_projects", "list_users",
    "get_group", "list_groups", "list_users_in_group", "check_user_in_group",
    "list_implied_roles", "get_implied_role", "list_role_inference_rules", "check_implied_role",
    "check_grant", "list_grants", "list_role_assignments",
    "check_system_grant_for_user", "list_system_grants_for_user",
    "check_system_grant_for_group", "list_system_grants_for_group",
    "get_service", "list_services", "get_endpoint", "list_endpoints",
    "list_credentials_all",
    "check_endpoint_in_project", "list_endpoints_for_project", "list_projects_for_endpoint",
    "list_endpoint_groups", "get_endpoint_group", "list_projects_associated_with_endpoint_group",
    "list_endpoints_associated_with_endpoint_group", "get_endpoint_group_in_project",
    "list_endpoint_groups_for_project",
    "get_domain_config", "get_domain_config_default",
    "get_policy", "list_policies", "get_consumer", "list_consumers",
]

_RULES = {
    "get_domain": ADMIN_OR_TARGET_DOMAIN,
    "get_project": ADMIN_OR_TARGET_PROJECT,
    "list_project_tags": ADMIN_OR_TARGET_PROJECT,
    "get_project_tag": ADMIN_OR_TARGET_PROJECT,
    "list_user_projects": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    "get_user": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    "list_groups_for_user": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    # Wider than Keystone's (admin or system reader): a project reader may look roles up by name.
    "get_role": "rule:admin_required or role:reader",
    "list_roles": "rule:admin_required or role:reader",
    "get_region": "",
    "list_regions": "",
    "get_credential": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    "list_credentials": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    "create_credential": ADMIN_OR_OWNER,
    "update_credential": ADMIN_OR_OWNER,
    "delete_credential": ADMIN_OR_OWNER,
    "ec2_get_credential": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    "ec2_list_credentials": ADMIN_OR_SYSTEM_READER_OR_OWNER,
    "ec2_create_credential": ADMIN_OR_MEMBER_OWNER,
    "ec2_delete_credential": ADMIN_OR_MEMBER_OWNER,
    "get_application_credential": f"{ADMIN_OR_SYSTEM_READER} or {OWNER}",
    "list_application_credentials": f"{ADMIN_OR_SYSTEM_READER} or {OWNER}",
    "create_application_credential": OWNER,
    "delete_application_credential": ADMIN_OR_OWNER,
    "list_access_rules": f"{ADMIN_OR_SYSTEM_READER} or {OWNER}",
    "get_access_rule": f"{ADMIN_OR_SYSTEM_READER} or {OWNER}",
    "delete_access_rule": ADMIN_OR_OWNER,
    "validate_token": f"{ADMIN_OR_SYSTEM_READER} or role:service or {TOKEN_SUBJECT}",
    "check_token": f"{ADMIN_OR_SYSTEM_READER} or {TOKEN_SUBJECT}",
    "revoke_token": f"{ADMIN} or {TOKEN_SUBJECT}",
    "create_trust": "user_id:%(target.trust.trustor_user_id)s",
    "list_trusts": ADMIN_OR_SYSTEM_READER,
    "list_trusts_for_trustor": f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.trust.trustor_user_id)s",
    "list_trusts_for_trustee": f"{ADMIN_OR_SYSTEM_READER} or user_id:%(target.trust.trustee_user_id)s",
    "get_trust": f"{ADMIN_OR_SYSTEM_READER} or {TRUST_PARTY}",
    "list_roles_for_trust": f"{ADMIN_OR_SYSTEM_READER} or {TRUST_PARTY}",
    "get_role_for_trust": f"{ADMIN_OR_SYSTEM_READER} or {TRUST_PARTY}",
    "delete_trust": f"{ADMIN} or user_id:%(target.trust.trustor_user_id)s",
}


def rules() -> list[policy.RuleDefault]:
    out = [policy.RuleDefault(f"identity:{name}", ADMIN, "Administrators only.") for name in _ADMIN_ONLY]
    out += [policy.RuleDefault(f"identity:{name}", ADMIN_OR_SYSTEM_READER, "Administrators and system readers.")
            for name in _ADMIN_OR_SYSTEM_READER]
    out += [policy.RuleDefault(f"identity:{name}", check, "See the identity documentation.")
            for name, check in _RULES.items()]
    return out


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the identity area's rules."""
    return rules()


def register() -> None:
    """Register the rules with the kernel's enforcer (:func:`cumulo.policy.register_rules`)."""
    cumulo_policy.register_rules(rules())
