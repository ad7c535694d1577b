"""``cumulo config sample|check``.

The checks behind ``cumulo config check`` live here, in the CLI, because they
import what they check (plugins, every kernel area, the database);
:mod:`cumulo.conf` itself imports nothing but its option modules.
"""

from __future__ import annotations

import argparse
import configparser
import importlib
import importlib.metadata
import re
from typing import Any

from cliff.command import Command
from oslo_config import cfg, generator

from cumulo import exception, registry
from cumulo.conf import CONF

#: Options whose values name plugins: (group, option, kind). An area that is a plugin
#: declares its own (``AreaService.plugin_options``); these are the kernel's and older areas'.
PLUGIN_OPTIONS: list[tuple[str, str, str]] = [
    ("api", "frontends", "api"),
    ("scheduler", "enabled_filters", "scheduler.filters"),
    ("scheduler", "weighers", "scheduler.weighers"),
    ("volume", "driver", "volume"),
]


def import_areas(conf: cfg.ConfigOpts = CONF) -> None:
    """Load every installed area, so that whatever they declare (options, policy rules) is known on ``conf``."""
    import cumulo.db
    import cumulo.messaging
    import cumulo.services

    for area in cumulo.services.installed_areas().values():
        registry.register_plugin_opts(type(area), conf)


def _value(conf: cfg.ConfigOpts, group: str, name: str) -> Any:
    return getattr(conf, name) if group == "DEFAULT" else getattr(getattr(conf, group), name)


def _registered(conf: cfg.ConfigOpts, group: str, name: str) -> bool:
    try:
        _value(conf, group, name)
        return True
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return False
    except cfg.Error:
        return True  # registered, bad value: reported by the value check


def plugin_options() -> list[tuple[str, str, str]]:
    """The kernel's options naming plugins, then each installed area's."""
    import cumulo.services

    found = list(PLUGIN_OPTIONS)
    for area in cumulo.services.installed_areas().values():
        found.extend(o for o in getattr(area, "plugin_options", ()) if o not in found)
    return found


def check_plugins(conf: cfg.ConfigOpts, problems: list[str]) -> None:
    """Each option naming plugins names installed ones that load; their options get registered."""
    for group, name, kind in plugin_options():
        if not _registered(conf, group, name):
            continue
        try:
            value = _value(conf, group, name)
        except cfg.Error:
            continue
        for plugin in [value] if isinstance(value, str) else list(value or []):
            try:
                cls = registry.load_class(kind, plugin)
                registry.register_plugin_opts(cls, conf)
            except registry.PluginError as err:
                problems.append(f"[{group}] {name}: {err}")
                continue
            validate = getattr(cls, "validate_config", None)
            if callable(validate):
                problems.extend(f"[{group}] {name} = {plugin}: {line}" for line in validate(conf))


def check_values(conf: cfg.ConfigOpts, problems: list[str]) -> None:
    """Every registered option parses, and every required one is set."""
    for group_name, opts in _all_opts(conf):
        for opt_name in opts:
            try:
                value = _value(conf, group_name, opt_name)
            except (cfg.ConfigFileValueError, ValueError) as err:
                problems.append(f"[{group_name}] {opt_name}: {_value_error(err)}")
                continue
            opt = _opt(conf, group_name, opt_name)
            if opt is not None and opt.required and value is None:
                problems.append(f"[{group_name}] {opt_name}: required option is not set")


def _value_error(err: Exception) -> str:
    """oslo's message names a LocationInfo repr; keep the file and the reason."""
    text = str(err)
    detail = re.search(r"detail='([^']*)'", text)
    reason = text.rsplit("is not valid: ", 1)[-1]
    return f"invalid value ({reason})" + (f" in {detail.group(1)}" if detail else "")


def _all_opts(conf: cfg.ConfigOpts) -> list[tuple[str, list[str]]]:
    out = [("DEFAULT", [k for k in conf.keys() if not isinstance(getattr(conf, k, None), cfg.ConfigOpts.GroupAttr)])]
    for group in conf.keys():
        attr = getattr(conf, group, None)
        if isinstance(attr, cfg.ConfigOpts.GroupAttr):
            out.append((group, list(attr.keys())))
    return out


def _opt(conf: cfg.ConfigOpts, group: str, name: str) -> cfg.Opt | None:
    try:
        return conf._get_opt_info(name, None if group == "DEFAULT" else group)["opt"]
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        return None


def declared_by_plugins() -> dict[str, set[str]]:
    """Options every installed Cumulo distribution declares (``oslo.config.opts``), by group.

    An option of a plugin the configuration does not select (the filter
    scheduler's, with ``[scheduler] driver = chance``) is unused, not unknown.
    """
    declared: dict[str, set[str]] = {}
    for ep in importlib.metadata.entry_points(group="oslo.config.opts"):
        if not ep.name.startswith("cumulo"):
            continue
        try:
            listed = ep.load()()
        except Exception:  # a broken plugin is reported by check_plugins when it is selected
            continue
        for group, opts in listed:
            declared.setdefault(group or "DEFAULT", set()).update(o.dest for o in opts)
    return declared


def check_unknown(conf: cfg.ConfigOpts, problems: list[str]) -> None:
    """Options in the files that no installed plugin or kernel module declares: usually a typo."""
    known = {g: set(o) for g, o in _all_opts(conf)}
    for group, names in declared_by_plugins().items():
        known.setdefault(group, set()).update(names)
    for path in conf.config_file or []:
        parser = configparser.RawConfigParser(strict=False, interpolation=None)
        try:
            parser.read(path)
        except configparser.Error as err:
            problems.append(f"{path}: {str(err).splitlines()[0]}")
            continue
        sections = [("DEFAULT", parser.defaults())] + [(s, parser[s]) for s in parser.sections()]
        for section, items in sections:
            keys = items.keys() if section == "DEFAULT" else [k for k in items if k not in parser.defaults()]
            if section != "DEFAULT" and section not in known:
                problems.append(f"{path}: unknown section [{section}]")
                continue
            for key in keys:
                if key not in known.get(section, set()):
                    problems.append(f"{path}: unknown option '{key}' in [{section}]")


def check_db(problems: list[str]) -> None:
    """Connect to ``[database] connection`` once."""
    from cumulo import db

    try:
        engine = db.create_engine()
        with engine.connect():
            pass
        engine.dispose()
    except Exception as err:  # any driver error: report it, one line
        problems.append(f"[database] connection: cannot connect: {str(err).splitlines()[0]}")


def run_checks(conf: cfg.ConfigOpts, check_database: bool = True) -> list[str]:
    """Every problem of ``conf`` (one line each): plugins, values, unknown options, then the database."""
    import_areas(conf)
    problems: list[str] = []
    check_plugins(conf, problems)
    check_values(conf, problems)
    check_unknown(conf, problems)
    if check_database and not problems:
        check_db(problems)
    return problems


def cumulo_namespaces() -> list[str]:
    """Every ``oslo.config.opts`` namespace contributed by the kernel or a Cumulo plugin."""
    eps = importlib.metadata.entry_points(group="oslo.config.opts")
    names = sorted({ep.name for ep in eps if ep.name == "cumulo" or ep.name.startswith("cumulo")})
    return names + ["oslo.policy"]


class ConfigSample(Command):
    """Print a complete, commented sample configuration (kernel and every installed plugin)."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--output-file", help="Write here instead of standard output")
        parser.add_argument("--format", choices=["ini", "yaml", "json"], default="ini")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        gconf = cfg.ConfigOpts()
        generator.register_cli_opts(gconf)
        args = ["--format", parsed_args.format, "--wrap-width", "79"]
        for ns in cumulo_namespaces():
            args += ["--namespace", ns]
        if parsed_args.output_file:
            args += ["--output-file", parsed_args.output_file]
        gconf(args=args, default_config_files=[])
        generator.generate(gconf, output_file=None if parsed_args.output_file else self.app.stdout)


class ConfigCheck(Command):
    """Validate the configuration before start: bad values, unknown plugins and options, missing ones."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--no-database", action="store_true", help="Do not try to connect to the database")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> None:
        problems = run_checks(CONF, check_database=not parsed_args.no_database)
        for line in problems:
            self.app.stdout.write(f"ERROR: {line}\n")
        if problems:
            raise exception.ConfigError(reason=f"{len(problems)} problem(s) in the configuration")
        self.app.stdout.write(f"Configuration OK ({', '.join(CONF.config_file) or 'defaults only'})\n")
