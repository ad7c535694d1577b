"""What every action module shares: the request an action gets (:class:`Call`) and its table."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo_api_ec2 import errors, ids
from cumulo_api_ec2.params import Params


@dataclasses.dataclass
class Call:
    """One authenticated EC2 request: the hub, the caller's context, its parameters and region."""

    hub: Any
    ctx: RequestContext
    params: Params
    region: str
    request_id: str
    #: The URL the client reached this API at (scheme, host and the ``/ec2`` mount).
    endpoint: str = ""

    @property
    def project_id(self) -> str:
        return self.ctx.project_id or ""


Handler = Callable[[Call], Mapping[str, Any]]


class ActionTable(dict[str, Handler]):
    """An action module's actions by EC2 name; the app merges every module's table."""

    def register(self, name: str) -> Callable[[Handler], Handler]:
        def add(fn: Handler) -> Handler:
            if name in self:
                raise ValueError(f"EC2 action {name} registered twice")
            self[name] = fn
            return fn
        return add


@contextlib.contextmanager
def lookup(kind: str, ec2_id: str, quota_code: str = "ResourceLimitExceeded",
           state_code: str = "IncorrectState") -> Iterator[None]:
    """Platform errors inside become EC2's: a NotFound names ``ec2_id`` as ``kind``'s ``.NotFound``."""
    try:
        yield
    except exception.NotFound:
        raise ids.not_found(kind, ec2_id) from None
    except exception.CumuloError as err:
        raise errors.from_platform(err, quota_code, state_code) from None


def ok() -> dict[str, Any]:
    """The answer of an action that only says it worked."""
    return {"return": True}
