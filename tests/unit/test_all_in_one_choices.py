"""``cumulo up``'s choice of drivers the operator left unset (``AreaService.all_in_one_choices``)."""

from __future__ import annotations

from typing import Any

import pytest
from oslo_config import cfg

from cumulo import registry
from cumulo.interfaces.service import AreaService
from cumulo.services import choose_all_in_one_plugins


class _Area(AreaService):
    interface_version = "2.1"
    area = "pretend"
    all_in_one_choices = (("pretend", "driver", "network", ("absent", "linuxbridge", "noop")),)

    def build(self, hub: Any) -> Any:
        return None


def _conf(value: str | None = None) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.StrOpt("driver", default="noop"), group="pretend")
    conf.register_opt(cfg.StrOpt("state_path", default="/nonexistent"))
    conf([])
    if value is not None:
        conf.set_override("driver", value, group="pretend")
    return conf


def _area() -> dict[str, AreaService]:
    return {"pretend": object.__new__(_Area)}


def test_the_first_usable_candidate_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    linuxbridge = registry.load_class("network", "linuxbridge")
    monkeypatch.setattr(linuxbridge, "validate_config", classmethod(lambda cls, conf: []))
    conf = _conf()
    lines = choose_all_in_one_plugins(_area(), conf)
    assert conf.pretend.driver == "linuxbridge"
    assert lines == ["[pretend] driver = linuxbridge (passed over absent: not installed)"]


def test_a_candidate_with_problems_is_passed_over_saying_why(monkeypatch: pytest.MonkeyPatch) -> None:
    linuxbridge = registry.load_class("network", "linuxbridge")
    monkeypatch.setattr(linuxbridge, "validate_config", classmethod(lambda cls, conf: ["needs root"]))
    conf = _conf()
    lines = choose_all_in_one_plugins(_area(), conf)
    assert conf.pretend.driver == "noop"  # the fallback is taken whatever it would say
    assert lines == ["[pretend] driver = noop (passed over absent: not installed | linuxbridge: needs root)"]


def test_what_the_operator_set_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    linuxbridge = registry.load_class("network", "linuxbridge")
    monkeypatch.setattr(linuxbridge, "validate_config", classmethod(lambda cls, conf: []))
    conf = _conf("noop")  # set, even if to the default
    assert choose_all_in_one_plugins(_area(), conf) == []
    assert conf.pretend.driver == "noop"
