"""Kernel services (the managers): the logic between API frontends and drivers.

One subpackage per area: ``identity``, ``compute``, ``scheduler``, ``image``,
``network``, ``volume``, ``object``. API frontends reach them only through a
:class:`ServiceHub`. Each area module may define

* ``Service(hub)``: the manager frontends call (``hub.<area>``), and
* ``start(hub) -> list[Stoppable]``: what the all-in-one process starts for the
  area (RPC servers, compute hosts, periodic tasks, storage nodes).

``cumulo up`` starts every area in :data:`AREAS` order; an area whose module
does not exist yet is skipped.
"""

from __future__ import annotations

import importlib
import logging
import threading
from typing import Any, Protocol

from oslo_config import cfg

from cumulo.conf import CONF

LOG = logging.getLogger(__name__)

#: Start order: what later areas call must already run.
AREAS = ("identity", "object", "image", "network", "volume", "scheduler", "compute")


class Stoppable(Protocol):
    def stop(self) -> None: ...


class ServiceHub:
    """Lazily built kernel services, shared by every frontend in a process."""

    def __init__(self, conf: cfg.ConfigOpts = CONF, transport: Any = None) -> None:
        self.conf = conf
        self._transport = transport
        self._services: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def transport(self) -> Any:
        if self._transport is None:
            from cumulo import messaging

            self._transport = messaging.get_transport(self.conf.messaging.transport_url)
        return self._transport

    def area_module(self, area: str) -> Any | None:
        try:
            return importlib.import_module(f"cumulo.services.{area}")
        except ModuleNotFoundError as err:
            if err.name in (f"cumulo.services.{area}",):
                return None
            raise

    def get(self, area: str) -> Any:
        with self._lock:
            if area not in self._services:
                module = self.area_module(area)
                if module is None or not hasattr(module, "Service"):
                    raise LookupError(f"The kernel has no {area} service")
                self._services[area] = module.Service(self)
            return self._services[area]

    def __getattr__(self, area: str) -> Any:
        if area in AREAS:
            return self.get(area)
        raise AttributeError(area)

    def token_validator(self) -> Any:
        """What API frontends pass to ``wsgi.middleware.pipeline(validate=...)``.

        ``[api] auth_strategy = keystone`` (default): the identity service's
        ``validate_token(token) -> RequestContext``; ``noauth``: tokens are
        ``user:project[:roles]`` (development and API unit tests only).
        """
        if self.conf.api.auth_strategy == "noauth":
            from cumulo.wsgi.middleware import noauth_validator

            return noauth_validator
        return self.get("identity").validate_token

    def start_all(self, areas: tuple[str, ...] = AREAS) -> list[Stoppable]:
        started: list[Stoppable] = []
        for area in areas:
            module = self.area_module(area)
            if module is not None and hasattr(module, "start"):
                LOG.info("Starting %s", area)
                started.extend(module.start(self) or [])
        return started


def import_areas(areas: tuple[str, ...] = AREAS) -> list[str]:
    """Import every kernel area package that exists; returns the names of those imported.

    What the areas register on import (policy rules) is then known; the
    configuration needs no such step (:mod:`cumulo.conf` declares every
    kernel option). An area whose package does not exist is skipped.
    """
    found = []
    for area in areas:
        try:
            importlib.import_module(f"cumulo.services.{area}")
        except ModuleNotFoundError as err:
            if err.name != f"cumulo.services.{area}":
                raise
            continue
        found.append(area)
    return found
