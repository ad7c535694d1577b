"""The object storage service (``hub.object``): Swift semantics over a pluggable backend.

See :mod:`cumulo.services.object.manager` for the contract and
:mod:`cumulo.interfaces.object` for the backend plugins (``[object] backend``).
"""

from __future__ import annotations

from typing import Any

from cumulo.services.object.constraints import SwiftError  # noqa: F401
from cumulo.services.object.manager import Caller, Resolved, Service  # noqa: F401


def start(hub: Any) -> list[Any]:
    """All-in-one: build the service (loading the backend) and start the backend's local servers."""
    service = hub.object
    if hub.conf.object.start_local_nodes:
        return list(service.backend.start_local() or [])
    return []
