"""Area services: the ``service`` plugin kind (entry points ``cumulo.service``).

An area (identity, compute, scheduler, image, network, volume, object) is a
plugin like any other: an :class:`AreaService` class registered under its area
name. The kernel's :class:`cumulo.services.ServiceHub` finds the installed
areas through the registry, orders them by what each declares, builds each
area's manager on first use (``hub.<area>``) and starts what a node runs for it.
A node runs only the areas installed on it.

Writing one::

    class ImageArea(AreaService):
        interface_version = "1.0"
        area = "image"
        requires = ("identity",)
        after = ("object",)

        def build(self, hub):
            return ImageService(hub)

    # pyproject.toml
    [project.entry-points."cumulo.service"]
    image = "cumulo_service_image.area:ImageArea"

The entry-point name must equal :attr:`AreaService.area`. The area's options
are its ``list_opts`` (registered on the process's configuration when the hub
loads the installed areas, listed by the sample generator through the
distribution's own ``oslo.config.opts`` entry point).
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Protocol

from oslo_config import cfg

from cumulo.interfaces.base import Plugin, resolve


class Hub(Protocol):
    """What an area gets from the kernel's hub (:class:`cumulo.services.ServiceHub`)."""

    conf: cfg.ConfigOpts

    @property
    def transport(self) -> Any:
        """The messaging transport of this process."""

    def get(self, area: str) -> Any:
        """Another area's manager; raises ``LookupError`` when it is not installed."""


class Stoppable(Protocol):
    """Something a node runs (an RPC server, a periodic task, a child process)."""

    def stop(self) -> None: ...


class AreaService(Plugin):
    """One area of the cloud: its manager and what a node runs for it.

    Built as ``cls(ctx)`` by the registry, like every plugin; :meth:`build` and
    :meth:`start` get the hub, through which the area reaches the kernel's
    machinery and the other areas (``hub.<other area>``).
    """

    # 2.1: all_in_one_choices; 2.0: built as cls(ctx); 1.1: plugin_options, list_opts
    INTERFACE_VERSION: ClassVar[str] = "2.1"

    #: The area's name: the hub attribute frontends use (``hub.image``).
    area: ClassVar[str] = ""
    #: Areas this one cannot work without: a node that lacks one refuses to start it.
    requires: ClassVar[tuple[str, ...]] = ()
    #: Areas this one uses when they are installed: they start first.
    after: ClassVar[tuple[str, ...]] = ()
    #: The area's options whose values name plugins, ``(group, option, kind)``:
    #: ``cumulo config check`` loads what they name (``("image", "stores", "image")``).
    plugin_options: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: For ``cumulo up``: options naming one plugin, with the plugins to try in order when the operator
    #: left the option unset, ``(group, option, kind, (first choice, ..., fallback))``. The first
    #: installed one whose ``validate_config`` finds no problem is used (the compute area:
    #: ``("compute", "hypervisor_driver", "hypervisor", ("libvirt", "fake"))``); the option's own
    #: default stays what a library user or a multi-node operator gets.
    all_in_one_choices: ClassVar[tuple[tuple[str, str, str, tuple[str, ...]], ...]] = ()

    @abc.abstractmethod
    def build(self, hub: Hub) -> Any:
        """The area's manager, what frontends call as ``hub.<area>``; built once per hub.

        :raises cumulo.exception.ConfigError: the area's configuration cannot work.
        """

    def start(self, hub: Hub) -> list[Stoppable]:
        """Start what a node runs for this area (RPC servers, hosts, periodic tasks).

        Called once per process, in dependency order, by ``cumulo up`` and the
        per-service commands; the default runs nothing. Returns what to stop, in
        the order it was started.

        :raises cumulo.exception.ConfigError: a required area is missing or misconfigured.
        """
        return []


class ModuleArea(AreaService):
    """An area whose manager and start function are named by import path.

    ``manager`` is ``"package.module:Class"``, called with the hub; ``starter``,
    when set, is ``"package.module:function"``, called with the hub and returning
    what to stop. Neither is imported until the hub needs it.
    """

    manager: ClassVar[str] = ""
    starter: ClassVar[str] = ""

    def build(self, hub: Hub) -> Any:
        return resolve(self.manager, f"{type(self).__name__}.manager")(hub)

    def start(self, hub: Hub) -> list[Stoppable]:
        if not self.starter:
            return []
        return list(resolve(self.starter, f"{type(self).__name__}.starter")(hub) or [])
