"""What every plugin interface shares: a version contract and its options.

Every plugin kind has one interface: an abstract base class in its own module
under :mod:`cumulo.interfaces`. The class docstring and the abstract methods'
docstrings are the contract.

Versioning
----------
An interface carries ``INTERFACE_VERSION`` (``"MAJOR.MINOR"``), the version
the kernel implements now. A plugin declares ``interface_version``, the version
it was written for. The registry accepts a plugin when the majors are equal and
the plugin's minor is not newer than the kernel's: minors only add optional
methods with defaults, majors change or remove something. The registry also
compares each method a plugin overrides with the interface's signature (a
plugin must accept every argument the kernel passes), and checks the kernel
contracts a plugin names in ``contracts`` (:mod:`cumulo.contracts`).

Construction
------------
Every plugin is built the same way: ``cls(ctx)``, one :class:`PluginContext`
argument carrying the configuration, the host, the plugin's own name and kind,
and the hub for plugins that reach an area (an image store on Object Storage).
:meth:`Plugin.validate_config` checks a plugin's own configuration without building
it (``cumulo config check`` and start-up call it).

Errors
------
A driver's errors derive from :class:`DriverError`, which carries a stable
machine-readable ``error_code`` (``"hypervisor.instance_not_found"``) that the
kernel logs; each interface defines its subclasses. (``code`` is left to the
kernel's :class:`cumulo.exception.CumuloError`, where it is the HTTP status.)
"""

from __future__ import annotations

import abc
import dataclasses
import importlib
import inspect
from collections.abc import Mapping
from typing import Any, ClassVar

from oslo_config import cfg


def resolve(path: str, owner: str = "plugin") -> Any:
    """Import ``"package.module:attribute"`` and return the attribute.

    Lets a plugin class name its heavy parts (an app factory, a manager) without
    importing them until they are used. ``owner`` names the class attribute in errors.

    :raises TypeError: ``path`` is not of the form ``package.module:attribute``.
    """
    module, _, name = path.partition(":")
    if not module or not name:
        raise TypeError(f"{owner} must name 'package.module:attribute', not {path!r}")
    return getattr(importlib.import_module(module), name)


def parse_version(text: str) -> tuple[int, int]:
    """``"1.2"`` -> ``(1, 2)``; raises ValueError for anything else."""
    major, _, minor = str(text).partition(".")
    return int(major), int(minor or 0)


@dataclasses.dataclass(frozen=True)
class PluginContext:
    """What every plugin is built with: ``cls(ctx)``.

    :ivar conf: the process's configuration, with the plugin's options registered.
    :ivar kind: the plugin kind (``"hypervisor"``).
    :ivar name: the entry-point name it was loaded under (``"libvirt"``).
    :ivar host: the host this instance serves (a compute host's name; ``[DEFAULT] host`` otherwise).
    :ivar hub: the area hub (:class:`cumulo.interfaces.service.Hub`) for plugins that
        reach an area, None where there is none (unit tests, tools).
    :ivar url: what a plugin built per address serves (a messaging transport's URL).
    """

    conf: cfg.ConfigOpts
    kind: str = ""
    name: str = ""
    host: str = ""
    hub: Any = None
    url: str = ""

    def with_host(self, host: str) -> PluginContext:
        """The same context for another host (a driver instance per compute host)."""
        return dataclasses.replace(self, host=host)


class DriverError(Exception):
    """Base of the errors a plugin raises, with a stable ``error_code``.

    ``error_code`` is dotted and machine-readable (``"hypervisor.error"``); each
    interface's error classes set their own. ``str(err)`` is the message shown
    to operators (and, for compute, in the server's fault).
    """

    error_code: ClassVar[str] = "driver.error"


class Plugin(abc.ABC):  # noqa: B024 - the interfaces below declare the abstract methods
    """Base of every interface.

    Subclasses of an interface set ``interface_version`` in their own class
    body; the registry refuses a plugin that does not. The registry builds a
    plugin as ``cls(ctx)``; the default ``__init__`` keeps ``ctx`` as
    ``self.ctx`` and its configuration as ``self.conf``.
    """

    #: Set by each interface: the version the kernel implements.
    INTERFACE_VERSION: ClassVar[str] = "1.0"
    #: Set by each plugin: the interface version it was written for.
    interface_version: ClassVar[str | None] = None
    #: Kernel contracts the plugin uses, ``{"image": "1.0"}`` for
    #: :mod:`cumulo.contracts.image` 1.0; the registry refuses a plugin whose
    #: contract major differs from the kernel's or whose minor is newer.
    contracts: ClassVar[Mapping[str, str]] = {}

    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx
        self.conf = ctx.conf

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        """Problems with this plugin's own configuration, one line each; empty when it can work.

        Called by ``cumulo config check`` and before the plugin is built, with
        the plugin's options registered. Check what can be checked without side
        effects (values, files, reachable devices); never raise for a problem.
        """
        return []

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        """Options this plugin reads, as ``[(group, [opts])]``.

        The registry registers them before the plugin is instantiated, and
        ``cumulo plugin show`` and the sample-config generator list them.
        Group names are the plugin's own (by convention ``<kind>_<name>``).
        """
        return []


def signature_problems(interface: type, cls: type) -> list[str]:
    """Methods of ``cls`` that cannot take the arguments the kernel passes to ``interface``'s.

    As pluggy checks hook implementations: for every public method of the
    interface that ``cls`` overrides, each parameter of the interface's method
    must be accepted by the plugin's (by name, in the same position for
    positional ones, or through ``*args``/``**kwargs``), and a parameter the
    plugin adds must have a default. ``__init__`` is compared too: every plugin
    must be buildable as ``cls(ctx)``. Returns one line per mismatch.
    """
    problems: list[str] = []
    for name, spec in inspect.getmembers(interface, callable):
        if (name.startswith("_") and name != "__init__") or inspect.isclass(spec):
            continue
        impl = getattr(cls, name, None)
        if impl is None or impl is spec or not callable(impl):
            continue
        try:
            want = list(inspect.signature(spec).parameters.values())
            have = list(inspect.signature(impl).parameters.values())
        except (TypeError, ValueError):  # builtins without a signature: nothing to compare
            continue
        if not isinstance(inspect.getattr_static(interface, name), staticmethod | classmethod):
            want, have = want[1:], have[1:]  # both unbound: drop self
        problem = _mismatch(want, have)
        if problem:
            problems.append(f"{name}(): {problem}")
    return problems


def _mismatch(want: list[inspect.Parameter], have: list[inspect.Parameter]) -> str | None:
    var_pos = any(p.kind is p.VAR_POSITIONAL for p in have)
    var_kw = any(p.kind is p.VAR_KEYWORD for p in have)
    by_name = {p.name: p for p in have}
    positional = [p for p in have if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for i, p in enumerate(want):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            if i < len(positional) and positional[i].name == p.name:
                continue
            if i >= len(positional) and var_pos:
                continue
            return f"parameter {i + 1} must be '{p.name}'"
        if p.name not in by_name and not var_kw:
            return f"does not accept keyword '{p.name}'"
    known = {p.name for p in want}
    extra = [p.name for p in have if p.name not in known and p.default is p.empty
             and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if extra:
        return f"adds required parameter(s) {', '.join(extra)} the kernel does not pass"
    return None
