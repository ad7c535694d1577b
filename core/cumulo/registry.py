"""The plugin registry: the one table of plugin kinds, and loading through stevedore.

The kernel reaches plugins only through this module. Each kind names an
entry-point namespace and the interface class its plugins implement::

    driver = registry.load_plugin("hypervisor", "fake", PluginContext(CONF, host="node1"))
    filters = registry.load_plugins("scheduler.filters", ["ram", "az"], PluginContext(CONF))
    for info in registry.installed("hypervisor"): ...

Every failure raises a :class:`PluginError` whose message is one line that
says what to do: an unknown name lists the names available for the kind; an
import failure names the distribution and the cause; a class that misses
interface methods or declares an incompatible interface version is refused.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
from collections.abc import Iterable
from typing import Any

import stevedore
from oslo_config import cfg
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from cumulo import exception
from cumulo.interfaces.base import Plugin, PluginContext, parse_version, signature_problems


@dataclasses.dataclass(frozen=True)
class PluginKind:
    """One row of the kinds table."""

    name: str
    namespace: str
    interface: str  # "module:Class", imported on first use
    description: str

    def interface_class(self) -> type[Plugin]:
        module, _, attr = self.interface.partition(":")
        iface = getattr(importlib.import_module(module), attr)
        if not (inspect.isclass(iface) and issubclass(iface, Plugin)):
            raise PluginError(f"The interface of kind '{self.name}', {self.interface}, is not a Plugin class")
        return iface


def _kind(name: str, namespace: str, interface: str, description: str) -> PluginKind:
    return PluginKind(name, namespace, f"cumulo.interfaces.{interface}", description)


#: The plugin kinds. Adding a kind is adding a row here and an interface module.
KINDS: dict[str, PluginKind] = {
    k.name: k
    for k in (
        _kind("service", "cumulo.service", "service:AreaService", "area services (identity, compute, ...)"),
        _kind("api", "cumulo.api", "api:APIFrontend", "REST API frontends"),
        _kind("auth", "cumulo.auth", "auth:IdentityBackend", "identity backends"),
        _kind("token", "cumulo.auth.token", "auth:TokenProvider", "token providers"),
        _kind("scheduler", "cumulo.scheduler", "scheduler:Scheduler", "schedulers"),
        _kind("scheduler.filters", "cumulo.scheduler.filters", "scheduler:HostFilter", "scheduler host filters"),
        _kind("scheduler.weighers", "cumulo.scheduler.weighers", "scheduler:HostWeigher", "scheduler host weighers"),
        _kind("hypervisor", "cumulo.hypervisor", "hypervisor:HypervisorDriver", "hypervisor drivers"),
        _kind("network", "cumulo.network", "network:NetworkDriver", "network drivers"),
        _kind("volume", "cumulo.volume", "volume:VolumeDriver", "volume drivers"),
        _kind("image", "cumulo.image", "image:ImageStore", "image stores"),
        _kind("object", "cumulo.object", "object:ObjectBackend", "object storage backends"),
        _kind("cli", "cumulo.cli", "cli:Command", "operator CLI commands"),
        _kind("transport", "cumulo.messaging.transport", "transport:MessagingTransport",
              "messaging transports, by URL scheme (rabbit://...)"),
    )
}


class PluginError(exception.CumuloError):
    """A plugin cannot be found, imported or accepted."""

    msg_fmt = "%(reason)s"


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    """What is installed: one entry point of one kind."""

    kind: str
    name: str
    target: str
    distribution: str
    version: str


def refresh() -> None:
    """Forget cached entry points (after installing a plugin into a running process)."""
    stevedore.ExtensionManager.ENTRY_POINT_CACHE.clear()
    importlib.invalidate_caches()


def get_kind(kind: str) -> PluginKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise PluginError(f"Unknown plugin kind '{kind}'; kinds are: {', '.join(sorted(KINDS))}") from None


def _entry_points(kind: PluginKind) -> list[Any]:
    # importlib's entry points know their distribution (stevedore's cache does not).
    seen: dict[str, Any] = {}
    for ep in importlib.metadata.entry_points(group=kind.namespace):
        seen.setdefault(ep.name, ep)  # first on sys.path wins, as stevedore does
    return list(seen.values())


def _dist_of(ep: Any) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "unknown", "unknown"
    return dist.metadata["Name"] or dist.name, dist.version


def installed(kind: str | None = None) -> list[PluginInfo]:
    """Every installed plugin of a kind (or of all kinds), without importing any."""
    kinds = [get_kind(kind)] if kind else list(KINDS.values())
    found = []
    for k in kinds:
        for ep in _entry_points(k):
            dist, version = _dist_of(ep)
            found.append(PluginInfo(k.name, ep.name, ep.value, dist, version))
    return sorted(found, key=lambda p: (p.kind, p.name))


def names(kind: str) -> list[str]:
    return sorted({ep.name for ep in _entry_points(get_kind(kind))})


def _unknown(kind: PluginKind, name: str) -> PluginError:
    available = names(kind.name)
    listing = ", ".join(available) if available else "none installed"
    return PluginError(f"No {kind.name} plugin named '{name}'; available: {listing}")


def check_class(kind: str, cls: object, name: str = "?") -> None:
    """Refuse a class that does not implement the kind's interface or version.

    The class need not subclass the interface: one that has every abstract
    method and declares a compatible ``interface_version`` is accepted.
    """
    k = get_kind(kind)
    iface = k.interface_class()
    label = f"{k.name} plugin '{name}' ({getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls)})"
    if not inspect.isclass(cls):
        raise PluginError(f"{label} is not a class")
    required = sorted(iface.__abstractmethods__)
    missing = [m for m in required if not callable(getattr(cls, m, None)) or m in getattr(cls, "__abstractmethods__", ())]
    if missing:
        raise PluginError(f"{label} does not implement {iface.__name__}: missing {', '.join(missing)}")
    declared = cls.__dict__.get("interface_version") or getattr(cls, "interface_version", None)
    if declared is None:
        raise PluginError(f"{label} does not declare interface_version (kernel has {iface.__name__} {iface.INTERFACE_VERSION})")
    try:
        want = parse_version(declared)
    except ValueError:
        raise PluginError(f"{label} declares an unreadable interface_version {declared!r}") from None
    have = parse_version(iface.INTERFACE_VERSION)
    if want[0] != have[0] or want[1] > have[1]:
        raise PluginError(
            f"{label} was written for {iface.__name__} {declared}, "
            f"but this kernel provides {iface.INTERFACE_VERSION}"
        )
    mismatched = signature_problems(iface, cls)
    if mismatched:
        raise PluginError(f"{label} does not match {iface.__name__} {iface.INTERFACE_VERSION}: "
                          + "; ".join(mismatched))
    check_contracts(label, getattr(cls, "contracts", None) or {})


def check_contracts(label: str, wanted: dict[str, str]) -> None:
    """Refuse a plugin that names a kernel contract this kernel lacks or offers in another major version.

    ``wanted`` maps an area to the contract version the plugin was written
    for (:attr:`cumulo.interfaces.base.Plugin.contracts`).
    """
    for area, declared in wanted.items():
        try:
            module = importlib.import_module(f"cumulo.contracts.{area}")
        except ImportError:
            raise PluginError(f"{label} needs the kernel contract cumulo.contracts.{area}, "
                              "which this kernel does not have") from None
        have_text = str(getattr(module, "CONTRACT_VERSION", "0.0"))
        try:
            want, have = parse_version(declared), parse_version(have_text)
        except ValueError:
            raise PluginError(f"{label} declares an unreadable version {declared!r} "
                              f"for contract {area}") from None
        if want[0] != have[0] or want[1] > have[1]:
            raise PluginError(f"{label} was written for contract {area} {declared}, "
                              f"but this kernel provides {have_text}")


def check_kernel_range(kind: str, name: str, distribution: Any) -> None:
    """Refuse a plugin whose distribution declares a ``cumulo`` range this kernel is outside.

    pip enforces the range at install time; this catches ``--no-deps`` installs,
    ``PYTHONPATH`` and stale editable installs, with one line naming both versions.
    A distribution that does not name ``cumulo`` in its requirements is not checked.
    """
    import cumulo

    for line in distribution.requires or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != "cumulo" or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        if not req.specifier.contains(cumulo.__version__, prereleases=True):
            dist_name = distribution.metadata["Name"] or distribution.name
            raise PluginError(
                f"{kind} plugin '{name}' from {dist_name} {distribution.version} supports cumulo{req.specifier}; "
                f"this kernel is {cumulo.__version__}")


def _load_entry_point(kind: PluginKind, name: str) -> type[Any]:
    entry = next((e for e in _entry_points(kind) if e.name == name), None)
    if entry is not None and getattr(entry, "dist", None) is not None:
        check_kernel_range(kind.name, name, entry.dist)
    failures: list[tuple[Any, BaseException]] = []
    manager: stevedore.NamedExtensionManager[Any] = stevedore.NamedExtensionManager(
        kind.namespace,
        names=[name],
        invoke_on_load=False,
        on_load_failure_callback=lambda _mgr, ep, err: failures.append((ep, err)),
    )
    if failures:
        ep, err = failures[0]
        dist, version = next(
            (_dist_of(e) for e in _entry_points(kind) if e.name == name), ("unknown", "unknown")
        )
        cause = f"{type(err).__name__}: {err}".splitlines()[0]
        raise PluginError(
            f"{kind.name} plugin '{name}' from {dist} {version} failed to import ({ep.value}): {cause}"
        ) from err
    if name not in manager.names():
        raise _unknown(kind, name)
    return manager[name].plugin


def load_class(kind: str, name: str) -> type[Any]:
    """Import and check one plugin class, without instantiating it.

    The class implements the kind's interface (see :func:`check_class`); it is
    typed ``type[Any]`` because a duck-typed plugin need not subclass it.
    """
    k = get_kind(kind)
    cls = _load_entry_point(k, name)
    check_class(kind, cls, name)
    return cls


def plugin_opts(cls: type) -> list[tuple[str, list[cfg.Opt]]]:
    """``cls.list_opts()``, or none for a duck-typed plugin that has no ``list_opts``."""
    list_opts = getattr(cls, "list_opts", None)
    if not callable(list_opts):
        return []
    return [(group, list(opts)) for group, opts in list_opts()]


def register_plugin_opts(cls: type, conf: cfg.ConfigOpts) -> None:
    for group, opts in plugin_opts(cls):
        for opt in opts:
            try:
                conf.register_opt(opt, group=None if group == "DEFAULT" else group)
            except cfg.DuplicateOptError:
                pass  # a same-named opt with other settings is the plugin's bug; keep first


def load_plugin(kind: str, name: str, ctx: PluginContext) -> Any:
    """Load one plugin by name and build it the one way every plugin is built: ``cls(ctx)``.

    The plugin's options are registered on ``ctx.conf`` first; ``ctx`` is
    passed with ``kind`` and ``name`` filled in.

    :raises PluginError: the plugin is unknown, cannot be imported or does not implement its interface.
    """
    cls = load_class(kind, name)
    register_plugin_opts(cls, ctx.conf)
    return cls(dataclasses.replace(ctx, kind=kind, name=name))


def load_plugins(kind: str, names_: Iterable[str], ctx: PluginContext) -> list[Any]:
    """:func:`load_plugin` for each name, in the order named (filters, weighers, frontends...).

    :raises PluginError: as :func:`load_plugin`, for the first name that fails.
    """
    return [load_plugin(kind, n, ctx) for n in names_]


def describe(kind: str, name: str) -> dict[str, Any]:
    """What ``cumulo plugin show`` prints: class, distribution, interface version, options."""
    k = get_kind(kind)
    info = next((p for p in installed(kind) if p.name == name), None)
    if info is None:
        raise _unknown(k, name)
    cls = load_class(kind, name)
    opts = [
        {"group": group, "name": o.dest, "type": type(o.type).__name__ if o.type else "str",
         "default": o.default, "help": o.help or ""}
        for group, group_opts in plugin_opts(cls) for o in group_opts
    ]
    return {
        "kind": kind,
        "name": name,
        "class": info.target,
        "distribution": info.distribution,
        "version": info.version,
        "interface": k.interface,
        "interface_version": getattr(cls, "interface_version", None),
        "kernel_interface_version": k.interface_class().INTERFACE_VERSION,
        "description": (inspect.getdoc(cls) or "").split("\n")[0],
        "options": opts,
    }
