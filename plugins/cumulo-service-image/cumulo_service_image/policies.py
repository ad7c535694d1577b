"""The image area's policy rules (``oslo.policy.policies`` namespace ``cumulo_service_image``).

Listing them registers nothing: :mod:`cumulo_service_image.manager` registers
them with the kernel's enforcer when the service is loaded.
"""

from __future__ import annotations

from oslo_policy import policy

RULES = [
    policy.RuleDefault("image:publicize_image", "rule:admin_required",
                       "Make an image public (visible to every project)."),
    policy.RuleDefault("image:deactivate", "rule:admin_required", "Deactivate an image."),
    policy.RuleDefault("image:reactivate", "rule:admin_required", "Reactivate an image."),
    policy.RuleDefault("image:set_owner", "rule:admin_required", "Give an image to another project."),
]


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the image area's rules."""
    return list(RULES)
