"""The service hub: the installed areas, built from the registry.

Areas (identity, compute, scheduler, image, network, volume, object) are
plugins of the ``service`` kind (:class:`cumulo.interfaces.service.AreaService`,
entry points ``cumulo.service``). The hub lists the installed ones, orders them
by what each ``requires`` and starts ``after``, builds each area's manager on
first use (``hub.<area>``, shared by every frontend in a process) and starts
what a node runs for an area (:meth:`ServiceHub.start_all`). A node runs only
the areas installed on it; ``hub.<area>`` for one that is not installed raises
:class:`AreaNotInstalled`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from oslo_config import cfg

from cumulo import exception, registry
from cumulo.conf import CONF
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.service import AreaService, Stoppable

LOG = logging.getLogger(__name__)

__all__ = ["AreaNotInstalled", "ServiceHub", "Stoppable", "choose_all_in_one_plugins", "import_areas",
           "installed_areas", "start_order"]


class AreaNotInstalled(LookupError, AttributeError):
    """``hub.<area>`` for an area no installed plugin provides."""


def _area_plugins() -> dict[str, AreaService]:
    plugins: dict[str, AreaService] = {}
    for name in registry.names("service"):
        plugin = registry.load_plugin("service", name, PluginContext(CONF))  # registers the area's options
        if plugin.area != name:
            raise registry.PluginError(f"service plugin '{name}' declares area '{plugin.area}'; "
                                       "the entry-point name must be the area")
        plugins[name] = plugin
    return plugins


def installed_areas() -> dict[str, AreaService]:
    """The installed area plugins by area, their options registered on ``CONF``."""
    return _area_plugins()


def start_order(plugins: dict[str, AreaService]) -> tuple[str, ...]:
    """Areas ordered so that each comes after what it requires or names in ``after``.

    :raises cumulo.exception.ConfigError: a required area is not installed, or the
        declarations form a cycle.
    """
    for name, plugin in plugins.items():
        missing = [r for r in plugin.requires if r not in plugins]
        if missing:
            raise exception.ConfigError(
                reason=f"The {name} area requires {', '.join(missing)}, which is not installed "
                       f"(installed areas: {', '.join(sorted(plugins))})")
    before = {n: {d for d in (*p.requires, *p.after) if d in plugins} for n, p in plugins.items()}
    order: list[str] = []
    while before:
        ready = sorted(n for n, deps in before.items() if not deps)
        if not ready:
            raise exception.ConfigError(reason=f"Areas wait on each other: {', '.join(sorted(before))}")
        for n in ready:
            order.append(n)
            del before[n]
        for deps in before.values():
            deps.difference_update(ready)
    return tuple(order)


def import_areas(areas: Iterable[str] | None = None) -> list[str]:
    """Import the installed areas (or those named); returns their names in start order.

    What the areas register on import (policy rules) is then known.
    """
    plugins = _area_plugins()
    wanted = set(plugins) if areas is None else set(areas) & set(plugins)
    return [a for a in start_order(plugins) if a in wanted]


def _set_by_operator(conf: cfg.ConfigOpts, group: str, option: str) -> bool:
    try:
        where = conf.get_location(option, group)
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return False
    return where is not None and where.location != cfg.Locations.opt_default


def choose_all_in_one_plugins(plugins: dict[str, AreaService], conf: cfg.ConfigOpts = CONF) -> list[str]:
    """Apply each area's :attr:`~AreaService.all_in_one_choices` the operator left unset; what was chosen, as lines.

    A candidate is skipped when it is not installed or its ``validate_config``
    names a problem (the line says which, so the operator learns why, say, the
    fake hypervisor runs); the last candidate is taken whatever it says.
    """
    lines: list[str] = []
    for plugin in plugins.values():
        for group, option, kind, candidates in plugin.all_in_one_choices:
            if _set_by_operator(conf, group, option) or not candidates:
                continue
            installed = set(registry.names(kind))
            passed_over: list[str] = []
            chosen = candidates[-1]
            for name in candidates:
                if name not in installed:
                    passed_over.append(f"{name}: not installed")
                    continue
                cls = registry.load_class(kind, name)
                registry.register_plugin_opts(cls, conf)
                problems = cls.validate_config(conf) if name != candidates[-1] else []
                if not problems:
                    chosen = name
                    break
                passed_over.append(f"{name}: {'; '.join(problems)}")
            conf.set_override(option, chosen, group=group)
            why = f" (passed over {' | '.join(passed_over)})" if passed_over else ""
            lines.append(f"[{group}] {option} = {chosen}{why}")
    return lines


class ServiceHub:
    """The installed areas of this process, each manager built once and shared by every frontend."""

    def __init__(self, conf: cfg.ConfigOpts = CONF, transport: Any = None) -> None:
        self.conf = conf
        self._transport = transport
        self._services: dict[str, Any] = {}
        self._plugins: dict[str, AreaService] | None = None
        self._lock = threading.RLock()

    @property
    def transport(self) -> Any:
        if self._transport is None:
            from cumulo import messaging

            self._transport = messaging.get_transport(self.conf.messaging.transport_url)
        return self._transport

    def plugins(self) -> dict[str, AreaService]:
        """The installed area plugins, by area (loaded once per hub)."""
        with self._lock:
            if self._plugins is None:
                self._plugins = _area_plugins()
            return self._plugins

    def areas(self) -> tuple[str, ...]:
        """The installed areas in start order."""
        return start_order(self.plugins())

    def has(self, area: str) -> bool:
        return area in self._services or area in self.plugins()

    def get(self, area: str) -> Any:
        """The area's manager (``hub.<area>``).

        :raises AreaNotInstalled: no installed plugin provides the area.
        """
        with self._lock:
            if area not in self._services:
                plugin = self.plugins().get(area)
                if plugin is None:
                    installed = ", ".join(sorted(self.plugins())) or "none"
                    raise AreaNotInstalled(f"No {area} service is installed (installed areas: {installed})")
                self._services[area] = plugin.build(self)
            return self._services[area]

    def __getattr__(self, area: str) -> Any:
        if area.startswith("_"):
            raise AttributeError(area)
        return self.get(area)

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

    def start_all(self, areas: Iterable[str] | None = None) -> list[Stoppable]:
        """Start what this node runs for the installed areas (or those named), in start order."""
        wanted = None if areas is None else set(areas)
        started: list[Stoppable] = []
        plugins = self.plugins()
        for area in self.areas():
            if wanted is None or area in wanted:
                LOG.info("Starting %s", area)
                started.extend(plugins[area].start(self) or [])
        return started
