"""Store selection: the enabled image stores (``cumulo.image`` plugins), which one reads a location,
and removing an image's data from its store.

``[image] default_store`` takes uploads; ``[image] stores`` names the others
enabled (a read-only store such as ``http`` serves locations users add).
Each store plugin is built once, with :func:`cumulo.registry.load_plugin`.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception, registry
from cumulo.interfaces import image as iface
from cumulo.interfaces.base import PluginContext
from cumulo_service_image.models import Image

LOG = logging.getLogger(__name__)


class Stores:
    """The store plugins of ``hub`` (configured by ``hub.conf``), loaded on first use."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self._stores: dict[str, iface.ImageStore] = {}
        self._lock = threading.Lock()

    def enabled_stores(self) -> list[str]:
        """The default store first, then the other ``[image] stores``."""
        names = [self.conf.image.default_store]
        names += [n for n in self.conf.image.stores if n and n not in names]
        return names

    def store(self, name: str | None = None) -> iface.ImageStore:
        """The store plugin ``name`` (default: ``[image] default_store``), loaded once.

        :raises ConfigError: ``name`` is not an enabled store.
        :raises PluginError: no such store plugin is installed (the message names those that are).
        """
        name = name or self.conf.image.default_store
        with self._lock:
            if name not in self._stores:
                if name not in self.enabled_stores():
                    raise exception.ConfigError(
                        reason=f"Image store '{name}' is not enabled; [image] stores has "
                               f"{', '.join(self.enabled_stores())}")
                self._stores[name] = registry.load_plugin(
                    "image", name, PluginContext(self.conf, host=self.conf.host, hub=self.hub))
            return self._stores[name]

    def for_location(self, location: str) -> tuple[str, iface.ImageStore]:
        """The first enabled store (name and plugin) that reads ``location``'s scheme; 400 when none does."""
        scheme = location.split(":", 1)[0].lower()
        for name in self.enabled_stores():
            try:
                st = self.store(name)
            except registry.PluginError:
                continue
            if scheme in st.schemes:
                return name, st
        raise exception.Invalid(reason=f"No enabled image store reads '{scheme}' locations; "
                                       f"enabled stores: {', '.join(self.enabled_stores())}")

    def of_image(self, store_name: str | None, location: str) -> iface.ImageStore:
        """The store that holds an image's data: the one it names, else the one that reads its location."""
        return self.store(store_name) if store_name else self.for_location(location)[1]

    def delete_data(self, image_id: str, store_name: str | None, location: str) -> None:
        """Remove a deleted image's data (a read-only store's is left alone) and forget its location.

        A failure is logged and the location kept, so the cleanup task retries.
        """
        try:
            st = self.of_image(store_name, location)
            if st.writable:
                st.delete(location)
        except Exception:
            LOG.exception("Deleting the data of image %s at %s failed; the cleanup task retries", image_id, location)
            return
        with db.transaction() as s:
            s.execute(sa.update(Image).where(Image.id == image_id, Image.deleted == sa.true())
                      .values(location=None))
