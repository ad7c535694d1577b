"""The request context: who is asking, for which project, with which roles."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any


def new_request_id() -> str:
    return "req-" + str(uuid.uuid4())


@dataclasses.dataclass
class RequestContext:
    user_id: str | None = None
    user_name: str | None = None
    user_domain_id: str | None = None
    project_id: str | None = None
    project_name: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None  # set for domain-scoped tokens
    system_scope: str | None = None  # "all" for system-scoped tokens
    roles: list[str] = dataclasses.field(default_factory=list)
    auth_token: str | None = None
    token_info: dict[str, Any] | None = None
    request_id: str = dataclasses.field(default_factory=new_request_id)
    global_request_id: str | None = None
    is_admin: bool = False
    read_deleted: str = "no"

    def __post_init__(self) -> None:
        if "admin" in self.roles:
            self.is_admin = True

    def to_policy_values(self) -> dict[str, Any]:
        """The credentials dict oslo.policy rules are evaluated against."""
        return {
            "user_id": self.user_id,
            "project_id": self.project_id,
            "domain_id": self.domain_id,
            "user_domain_id": self.user_domain_id,
            "project_domain_id": self.project_domain_id,
            "system_scope": self.system_scope,
            "roles": list(self.roles),
            "is_admin": self.is_admin,
        }

    def to_dict(self) -> dict[str, Any]:
        """What travels with an RPC message (no token body beyond the id)."""
        d = dataclasses.asdict(self)
        d.pop("token_info", None)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RequestContext:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})

    def elevated(self) -> RequestContext:
        """A copy with admin rights, for the service's own housekeeping."""
        c = dataclasses.replace(self, roles=list(set(self.roles) | {"admin"}))
        c.is_admin = True
        return c


def admin_context() -> RequestContext:
    """The context of the cloud itself (periodic tasks, bootstrap)."""
    return RequestContext(roles=["admin", "member", "reader"], is_admin=True, system_scope="all")
