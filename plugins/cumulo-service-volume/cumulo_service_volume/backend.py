"""The volume driver this node's volumes live on, and the per-volume locks around calls into it.

The driver is loaded on first use from ``[volume] driver`` through the
registry (a wrong name is a :class:`~cumulo.registry.PluginError` naming the
installed ones). The interface promises a driver that calls changing the same
volume never overlap: :meth:`Backend.locked` serialises them per id here.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from cumulo import exception, registry
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.volume import VolumeDriver


class Backend:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self._driver: VolumeDriver | None = None
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._backend_name: str | None = None

    @property
    def driver(self) -> VolumeDriver:
        with self._guard:
            if self._driver is None:
                ctx = PluginContext(self.conf, host=self.node, hub=self.hub)
                self._driver = registry.load_plugin("volume", self.conf.volume.driver, ctx)
            return self._driver

    @property
    def node(self) -> str:
        return str(self.conf.volume.backend_host or self.conf.host)

    @property
    def host(self) -> str:
        """``<node>@<backend name>``, what a volume's ``host`` is (os-vol-host-attr:host)."""
        if self._backend_name is None:
            try:
                self._backend_name = self.driver.get_stats().volume_backend_name or self.conf.volume.driver
            except Exception:  # a backend that cannot report yet: its plugin name
                self._backend_name = str(self.conf.volume.driver)
        return f"{self.node}@{self._backend_name}"

    def unmatched(self, extra_specs: dict[str, str]) -> str | None:
        """Why this backend cannot take a volume of a type with ``extra_specs`` (None: it can).

        As Cinder's capabilities filter: ``volume_backend_name`` must be the backend's, and an unscoped
        or ``capabilities:`` key the backend reports must match (``<is> True`` for booleans, else the
        value as text). Other scopes and keys the backend does not report are not its business.
        """
        stats = self.driver.get_stats()
        wanted = extra_specs.get("volume_backend_name")
        if wanted and wanted != stats.volume_backend_name:
            return f"volume_backend_name '{wanted}' is not this backend's ('{stats.volume_backend_name}')"
        reported: dict[str, object] = {"storage_protocol": ",".join(stats.storage_protocols),
                                       **dict(stats.capabilities)}
        for key, value in extra_specs.items():
            scope, _, name = key.rpartition(":")
            if scope not in ("", "capabilities") or name not in reported:
                continue
            have = reported[name]
            text = value.strip()
            if text.lower().startswith("<is>"):
                ok = str(have).lower() == text[4:].strip().lower()
            elif text.lower().startswith("<in>"):
                ok = text[4:].strip().lower() in str(have).lower()
            else:
                ok = str(have).lower() == text.lower()
            if not ok:
                return f"extra spec {key}={value!r} does not match the backend's {name}={have!r}"
        return None

    def unavailable(self) -> str | None:
        """Why this node's ``cinder-volume`` takes no new volumes: disabled or frozen by an administrator
        (``os-services``); None when it takes them."""
        import sqlalchemy as sa

        from cumulo import db
        from cumulo_service_volume.models import ServiceState

        with db.reader() as s:
            row = s.execute(sa.select(ServiceState).where(ServiceState.binary == "cinder-volume",
                                                          ServiceState.host == self.host)).scalar_one_or_none()
            if row is not None and row.disabled:
                return f"the cinder-volume service on {self.host} is disabled"
            if row is not None and row.frozen:
                return f"the backend {self.host} is frozen"
        return None

    def require(self, capability: str) -> None:
        """Refuse (409) before anything is recorded when the driver lacks ``capability``."""
        driver = self.driver
        if capability not in driver.capabilities:
            raise exception.NotImplementedByDriver(driver=type(driver).__name__, capability=capability)

    @contextlib.contextmanager
    def locked(self, *ids: str | None) -> Iterator[None]:
        """Hold the locks of ``ids`` (volumes, snapshots), always taken in the same order."""
        keys = sorted({i for i in ids if i})
        with self._guard:
            locks = [self._locks.setdefault(k, threading.Lock()) for k in keys]
        with contextlib.ExitStack() as stack:
            for lock in locks:
                stack.enter_context(lock)
            yield
