"""The EC2 actions, one module per group, each with its :class:`~cumulo_api_ec2.actions.base.ActionTable`."""

from __future__ import annotations

import importlib

from cumulo_api_ec2.actions.base import ActionTable, Handler

#: The action modules whose tables the app serves.
MODULES: tuple[str, ...] = ("regions", "images", "keypairs", "instances", "security_groups", "addresses",
                            "vpcs", "volumes", "tags")


def collect() -> dict[str, Handler]:
    """Every action of every module. :raises ValueError: two modules register one name."""
    merged: dict[str, Handler] = {}
    for name in MODULES:
        table: ActionTable = importlib.import_module(f"cumulo_api_ec2.actions.{name}").ACTIONS
        for action, handler in table.items():
            if action in merged:
                raise ValueError(f"EC2 action {action} registered by two modules")
            merged[action] = handler
    return merged
