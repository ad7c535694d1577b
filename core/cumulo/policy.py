"""Policy enforcement (oslo.policy): rules with defaults in code, overridable in a file.

Each frontend or service registers its rules (``DocumentedRuleDefault``) with
:func:`register_rules`; :func:`authorize` raises :class:`Forbidden` when the
context may not act. The base rules give the reader/member/admin defaults::

    admin_required     role:admin
    project_member     role:member and project_id:%(project_id)s
    project_reader     role:reader and project_id:%(project_id)s
"""

from __future__ import annotations

import threading
from typing import Any

from oslo_config import cfg
from oslo_policy import policy

from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext

BASE_RULES = [
    policy.RuleDefault("admin_required", "role:admin or is_admin:True", "Cloud administrator."),
    policy.RuleDefault("project_member", "role:member and project_id:%(project_id)s",
                       "A member of the target's project."),
    policy.RuleDefault("project_reader", "role:reader and project_id:%(project_id)s",
                       "A reader of the target's project."),
    policy.RuleDefault("admin_or_member", "rule:admin_required or rule:project_member",
                       "An administrator or a member of the target's project."),
    policy.RuleDefault("admin_or_reader", "rule:admin_required or rule:project_reader",
                       "An administrator or a reader of the target's project."),
    policy.RuleDefault("admin_or_owner", "rule:admin_required or user_id:%(user_id)s",
                       "An administrator or the user the target belongs to."),
]

_rules: list[policy.RuleDefault] = list(BASE_RULES)
_enforcer: policy.Enforcer | None = None
_lock = threading.Lock()


def register_rules(rules: list[policy.RuleDefault]) -> None:
    global _enforcer
    with _lock:
        known = {r.name for r in _rules}
        _rules.extend(r for r in rules if r.name not in known)
        if _enforcer is not None:
            _enforcer.register_defaults([r for r in rules if r.name not in _enforcer.registered_rules])


def get_enforcer(conf: cfg.ConfigOpts = CONF) -> policy.Enforcer:
    global _enforcer
    with _lock:
        if _enforcer is None:
            _enforcer = policy.Enforcer(conf)
            _enforcer.register_defaults(_rules)
        return _enforcer


def reset() -> None:
    global _enforcer
    with _lock:
        _enforcer = None


def check(context: RequestContext, action: str, target: dict[str, Any] | None = None) -> bool:
    target = dict(target or {})
    target.setdefault("project_id", context.project_id)
    target.setdefault("user_id", context.user_id)
    return bool(get_enforcer().enforce(action, target, context.to_policy_values()))


def authorize(context: RequestContext, action: str, target: dict[str, Any] | None = None) -> None:
    """Raise Forbidden unless ``context`` may perform ``action`` on ``target``."""
    if not check(context, action, target):
        raise exception.Forbidden(action=action)


def list_rules() -> list[policy.RuleDefault]:
    """``oslo.policy.policies`` entry point: the base rules and every kernel area's."""
    import cumulo.services

    cumulo.services.import_areas()  # areas register their rules on import
    return list(_rules)
