"""Policy rules of the compute API (defaults in code; override in the policy file)."""

from __future__ import annotations

from oslo_policy import policy

from cumulo import policy as cumulo_policy

ADMIN = "compute:admin"
OWNER = "compute:owner"
READER = "compute:reader"
#: Nova's names: choosing the host of a new server is for administrators.
FORCED_HOST = "os_compute_api:servers:create:forced_host"
REQUESTED_DESTINATION = "compute:servers:create:requested_destination"

RULES = [
    policy.RuleDefault(ADMIN, "rule:admin_required",
                       "Administrative compute APIs: flavors manage, quotas update, hypervisors, services, "
                       "aggregates, other projects' servers."),
    policy.RuleDefault(OWNER, "rule:admin_or_member", "Create and change servers, key pairs and server groups."),
    policy.RuleDefault(READER, "rule:admin_or_reader or rule:admin_or_member", "Read servers, flavors, limits."),
    policy.RuleDefault(FORCED_HOST, "rule:admin_required",
                       "Create a server on a chosen host, bypassing the scheduler's choice: "
                       "availability_zone 'zone:host' or 'zone:host:node'."),
    policy.RuleDefault(REQUESTED_DESTINATION, "rule:admin_required",
                       "Create a server on a requested host (the 'host' field, microversion 2.74)."),
]


def register() -> None:
    cumulo_policy.register_rules(RULES)


def list_rules() -> list[policy.RuleDefault]:
    return list(RULES)
