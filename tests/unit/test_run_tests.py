"""tools/run_tests.py (``./dev test``): the type check runs before the whole suite, and either failing fails the run."""

from __future__ import annotations

import importlib.util
import os
from types import ModuleType
from typing import Any

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cumulo_run_tests", os.path.join(ROOT, "tools", "run_tests.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_tests(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, list[list[str]], dict[str, int]]:
    """The module with ``subprocess.call`` recorded; ``codes`` sets what "mypy" and "pytest" return."""
    module = _load()
    calls: list[list[str]] = []
    codes = {"mypy": 0, "pytest": 0}

    def call(args: list[str], **_: Any) -> int:
        calls.append(args)
        return codes[args[2]]  # [python, -m, tool, ...]

    monkeypatch.setattr(module.subprocess, "call", call)
    monkeypatch.delenv("CUMULO_SKIP_TYPECHECK", raising=False)
    monkeypatch.chdir(ROOT)
    return module, calls, codes


def test_whole_run_type_checks_first_then_tests(run_tests: Any, capsys: pytest.CaptureFixture[str]) -> None:
    module, calls, _ = run_tests
    assert module.main([]) == 0
    assert [c[2] for c in calls] == ["mypy", "pytest"]
    assert calls[0][3:] == []  # mypy.ini's `files`, nothing else
    assert "type check" in capsys.readouterr().out


@pytest.mark.parametrize("mypy, pytest_code, expected", [(1, 0, 1), (0, 1, 1), (1, 1, 1), (0, 5, 5), (1, 5, 5)])
def test_either_failure_fails_the_run(run_tests: Any, mypy: int, pytest_code: int, expected: int) -> None:
    module, calls, codes = run_tests
    codes.update(mypy=mypy, pytest=pytest_code)
    assert module.main([]) == expected
    assert [c[2] for c in calls] == ["mypy", "pytest"]  # the tests run even when the type check failed


def test_explicit_path_runs_only_pytest(run_tests: Any) -> None:
    module, calls, _ = run_tests
    assert module.main(["tests/unit/test_registry.py", "-k", "kind"]) == 0
    assert [c[2] for c in calls] == ["pytest"]


def test_type_check_can_be_skipped(run_tests: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module, calls, _ = run_tests
    monkeypatch.setenv("CUMULO_SKIP_TYPECHECK", "1")
    assert module.main(["-k", "kind"]) == 0
    assert [c[2] for c in calls] == ["pytest"]
