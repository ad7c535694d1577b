"""Nova's fault bodies: the renderer the compute pipeline uses for every error."""

from __future__ import annotations

from typing import Any

_FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
                405: "badMethod", 406: "notAcceptable", 409: "conflictingRequest", 413: "overLimit",
                415: "badMediaType", 429: "overLimit", 501: "notImplemented", 503: "serviceUnavailable"}


def nova_fault(status: int, title: str, message: str, error: BaseException | None) -> dict[str, Any]:
    """``{"itemNotFound": {"code": 404, "message": "..."}}``."""
    return {_FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}
