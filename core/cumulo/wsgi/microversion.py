"""Microversion negotiation (OpenStack-API-Version and the legacy per-service header)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

from cumulo import exception


@functools.total_ordering
@dataclasses.dataclass(frozen=True)
class APIVersion:
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> APIVersion:
        try:
            major, minor = text.strip().split(".")
            return cls(int(major), int(minor))
        except ValueError:
            raise exception.Invalid(reason=f"Invalid API version '{text}': use MAJOR.MINOR or 'latest'.") from None

    def __lt__(self, other: APIVersion) -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


def negotiate(headers: Any, service_type: str, min_version: str, max_version: str,
              legacy_header: str | None = None) -> APIVersion:
    """The version a request asked for, checked against [min, max].

    No header means the minimum; "latest" means the maximum; a version out of
    range is a 406 that says the supported range.
    """
    low, high = APIVersion.parse(min_version), APIVersion.parse(max_version)
    requested = None
    for value in headers.getall("OpenStack-API-Version") if hasattr(headers, "getall") else [headers.get("OpenStack-API-Version")]:
        if not value:
            continue
        for item in value.split(","):
            svc, _, ver = item.strip().partition(" ")
            if svc.lower() == service_type.lower():
                requested = ver.strip()
    if requested is None and legacy_header:
        requested = headers.get(legacy_header)
    if not requested:
        return low
    if requested.strip().lower() == "latest":
        return high
    version = APIVersion.parse(requested)
    if not low <= version <= high:
        raise exception.NotAcceptable(
            reason=f"Version {version} is not supported by the API. Minimum is {low} and maximum is {high}.")
    return version


def response_headers(service_type: str, version: APIVersion, legacy_header: str | None = None) -> dict[str, str]:
    headers = {"OpenStack-API-Version": f"{service_type} {version}",
               "Vary": "OpenStack-API-Version" + (f", {legacy_header}" if legacy_header else "")}
    if legacy_header:
        headers[legacy_header] = str(version)
    return headers
