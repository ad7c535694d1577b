"""The controllers' declarations: every route once, every server action once."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from cumulo_api_compute import app, controllers
from cumulo_api_compute.controllers.base import Controller, ServerAction
from cumulo_api_compute.controllers.server_actions import ServerActionsController


def test_every_route_is_declared_by_one_controller() -> None:
    seen: dict[tuple[str, str], str] = {}
    for controller in controllers.create(mock.MagicMock()):
        for methods, path, _handler in controller.routes():
            for method in [methods] if isinstance(methods, str) else methods:
                assert (method, path) not in seen, f"{method} {path}: {seen.get((method, path))} and {controller}"
                seen[(method, path)] = type(controller).__name__
    assert sorted((m, app.ROOT + p) for m, p in seen) == app.router(mock.MagicMock()).routes()


def test_a_server_action_declared_twice_is_refused() -> None:
    class Again(Controller):
        def actions(self) -> dict[str, ServerAction]:
            return {"os_stop": lambda req, sid, arg: (202, None)}

    hub: Any = mock.MagicMock()
    with pytest.raises(ValueError, match="'os_stop' is declared twice"):
        ServerActionsController(hub, [Again(hub)])
