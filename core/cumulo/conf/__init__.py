"""Kernel configuration (oslo.config).

``CONF`` is the process's one ConfigOpts. Kernel options are declared in the
option modules of this package, one per area (:data:`OPTION_MODULES`:
``cumulo.conf.default``, ``.database``, ``.messaging``, ``.api``,
``.service``, ``.metadata``); an area's options are its own (``AreaService.list_opts``). Each imports nothing but oslo.config and the
standard library, and this package imports nothing else of Cumulo: reading
the configuration, or listing it for the sample generator, never imports a
service, the database or a messaging driver. Plugins declare their options
through ``Plugin.list_opts`` and the registry registers them on load.

:func:`list_opts` is the ``oslo.config.opts`` entry point that the sample
generator and ``cumulo config sample`` read. ``cumulo config check`` lives
in the CLI (:mod:`cumulo.cmd.config`), which may import everything.
"""

from __future__ import annotations

from types import ModuleType

from oslo_config import cfg

from cumulo.conf import (
    api,
    database,
    default,
    messaging,
    metadata,
    service,
)

CONF = cfg.ConfigOpts()

#: The option modules, in the order their groups are registered.
OPTION_MODULES: tuple[ModuleType, ...] = (
    default, database, messaging, api, service, metadata,
)

# Kept for callers that read these lists by their old names.
default_opts = default.default_opts
database_opts = database.database_opts
messaging_opts = messaging.messaging_opts
api_opts = api.api_opts
service_opts = service.service_opts


def _declared() -> dict[str, list[cfg.Opt]]:
    groups: dict[str, list[cfg.Opt]] = {}
    for module in OPTION_MODULES:
        for group, opts in module.list_opts():
            groups.setdefault(group, []).extend(opts)
    groups["oslo_policy"] = []  # oslo.policy registers its own options in this group
    return groups


#: Every kernel option by group: the option modules' declarations plus any
#: option a kernel module added with :func:`extend`.
GROUPS: dict[str, list[cfg.Opt]] = _declared()


def register(conf: cfg.ConfigOpts = CONF) -> None:
    """Register every kernel option on ``conf``."""
    for group, opts in GROUPS.items():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``oslo.config.opts`` entry point: every kernel option, by group.

    Imports nothing: the option modules are already loaded with this package.
    """
    return [(g, list(o)) for g, o in GROUPS.items() if o]


#: ``(group, option)`` pairs that :func:`extend` was given with a declaration
#: different from the one already registered (kept, the new one ignored).
CONFLICTS: list[tuple[str, str]] = []


def extend(group: str, opts: list[cfg.Opt]) -> None:
    """Register options from a kernel module on ``CONF`` (and list them).

    New options belong in an option module of this package, so that the
    sample generator sees them without importing the module that reads them;
    this remains for modules that still call it with options already declared
    there (a no-op for an identical option). An option whose name is taken by
    a different declaration is skipped and recorded in :data:`CONFLICTS`.
    """
    GROUPS.setdefault(group, [])
    known = {o.dest: o for o in GROUPS[group]}
    for opt in opts:
        if opt.dest not in known:
            GROUPS[group].append(opt)
        elif known[opt.dest] != opt:
            CONFLICTS.append((group, opt.dest))
    for opt in opts:
        try:
            CONF.register_opt(opt, group=None if group == "DEFAULT" else group)
        except cfg.DuplicateOptError:
            pass


def load(args: list[str] | None = None, config_files: list[str] | None = None,
         conf: cfg.ConfigOpts = CONF) -> cfg.ConfigOpts:
    """Parse layered config files: later files override earlier ones."""
    files = list(config_files or [])
    conf(args=args or [], project="cumulo", default_config_files=files, validate_default_values=True)
    return conf


register()
