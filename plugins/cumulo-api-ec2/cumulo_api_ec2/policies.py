"""Policy rules of the EC2 API (defaults in code, as OpenStack's: readers describe, members change).

Every action is checked against one of two rules before it runs: ``ec2:read``
for ``Describe*`` and ``Get*`` actions, ``ec2:write`` for the others. The areas
still decide what the caller can see (its project's resources).
"""

from __future__ import annotations

from oslo_policy import policy

from cumulo import policy as cumulo_policy

READ = "ec2:read"
WRITE = "ec2:write"

RULES = [
    policy.RuleDefault(READ, "rule:admin_or_reader or rule:admin_or_member",
                       "EC2 actions that read: Describe* and GetConsoleOutput."),
    policy.RuleDefault(WRITE, "rule:admin_or_member",
                       "EC2 actions that change something: RunInstances, CreateVolume, AuthorizeSecurityGroupIngress..."),
]


def rule_for(action: str) -> str:
    """The rule an action is checked against."""
    return READ if action.startswith(("Describe", "Get")) else WRITE


def register() -> None:
    cumulo_policy.register_rules(RULES)


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point."""
    return list(RULES)
