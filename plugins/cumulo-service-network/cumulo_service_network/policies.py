"""Networking policy rules that restrict attributes, with Neutron's names and defaults.

Most of the network service's authorisation is ownership (a project sees and
changes its own resources, admins everything). These rules cover the
attributes Neutron reserves for administrators even on a project's own
resource: choosing a floating IP address, turning SNAT off, choosing the
router gateway's fixed IPs. They are overridable in the policy file like any
other rule (``oslo.policy.policies`` namespace ``cumulo_service_network``:
:func:`list_rules`; the manager registers them with the kernel's enforcer when
it is loaded).
"""

from __future__ import annotations

from oslo_policy import policy

import cumulo.contracts.network as nexc
from cumulo import policy as cumulo_policy
from cumulo.context import RequestContext

ADMIN = "rule:admin_required"

CREATE_FIP_ADDRESS = "create_floatingip:floating_ip_address"
ROUTER_GW_SNAT = "%s_router:external_gateway_info:enable_snat"
ROUTER_GW_FIXED_IPS = "%s_router:external_gateway_info:external_fixed_ips"

RULES: list[policy.RuleDefault] = [
    policy.DocumentedRuleDefault(
        CREATE_FIP_ADDRESS, ADMIN, "Choose the address of a new floating IP.",
        [{"method": "POST", "path": "/v2.0/floatingips"}]),
    *(policy.DocumentedRuleDefault(
        ROUTER_GW_SNAT % op, ADMIN, "Set enable_snat on a router's external gateway.",
        [{"method": method, "path": path}])
      for op, method, path in (("create", "POST", "/v2.0/routers"), ("update", "PUT", "/v2.0/routers/{id}"))),
    *(policy.DocumentedRuleDefault(
        ROUTER_GW_FIXED_IPS % op, ADMIN, "Choose the fixed IPs of a router's external gateway.",
        [{"method": method, "path": path}])
      for op, method, path in (("create", "POST", "/v2.0/routers"), ("update", "PUT", "/v2.0/routers/{id}"))),
]


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the network area's rules (listing registers nothing)."""
    return list(RULES)


def register() -> None:
    """Register the rules with the kernel's enforcer (done once, when the manager is loaded)."""
    cumulo_policy.register_rules(RULES)


def enforce(ctx: RequestContext, action: str) -> None:
    """Raise Neutron's PolicyNotAuthorized (403) unless ``ctx`` may use ``action``."""
    if not cumulo_policy.check(ctx, action):
        raise nexc.PolicyNotAuthorized(action=action)
