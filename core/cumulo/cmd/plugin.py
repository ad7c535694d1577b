"""``cumulo plugin list|show`` (``plugin new`` comes with the cumulo-devtools distribution)."""

from __future__ import annotations

import argparse
from typing import Any

from cliff.lister import Lister
from cliff.show import ShowOne

from cumulo import registry


class PluginList(Lister):
    """List installed plugins with their distribution and version."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--kind", choices=sorted(registry.KINDS), help="Only plugins of this kind.")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        rows = [(p.kind, p.name, p.distribution, p.version, p.target) for p in registry.installed(parsed_args.kind)]
        return ("Kind", "Name", "Distribution", "Version", "Class"), rows


class PluginShow(ShowOne):
    """Show one plugin: class, distribution, interface version and its options."""

    interface_version = "1.0"  # cumulo.interfaces.cli.Command

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("kind", help="Plugin kind, e.g. hypervisor")
        parser.add_argument("name", help="Plugin name, e.g. fake")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> tuple[Any, Any]:
        d = registry.describe(parsed_args.kind, parsed_args.name)
        options = "\n".join(
            f"[{o['group']}] {o['name']} ({o['type']}, default {o['default']!r}): {o['help']}" for o in d["options"]
        ) or "(none)"
        fields = {
            "kind": d["kind"], "name": d["name"], "class": d["class"], "distribution": d["distribution"],
            "version": d["version"], "interface": d["interface"],
            "interface_version": d["interface_version"], "kernel_interface_version": d["kernel_interface_version"],
            "description": d["description"], "options": options,
        }
        return tuple(fields), tuple(fields.values())
