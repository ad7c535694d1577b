"""tools/feature_matrix.py: the feature matrix rendered from the map and recorded test outcomes."""

import json
import os
import re
import runpy

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
fm = runpy.run_path(os.path.join(ROOT, "tools", "feature_matrix.py"))

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
 <testcase classname="tests.functional.test_x" name="test_ok"/>
 <testcase classname="tests.functional.test_x" name="test_bad"><failure message="boom">tb</failure></testcase>
 <testcase classname="tests.functional.test_y" name="test_skipped"><skipped message="no kvm"/></testcase>
 <testcase classname="tests.functional.test_z" name="test_other"/>
</testsuite></testsuites>
"""

MAP = """
sections:
  - title: Things
    rows:
      - {feature: proved, claim: "yes", tests: ["tests.functional.test_x::test_ok", "tempest.api.a.B"]}
      - {feature: failing, claim: "yes", tests: [tests.functional.test_x]}
      - {feature: skipped only, claim: "yes", tests: [tests.functional.test_y]}
      - {feature: never run, claim: "yes", tests: [tests.functional.test_never]}
      - {feature: untested, claim: "yes"}
      - {feature: absent, claim: "no"}
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "map.yaml").write_text(MAP)
    (tmp_path / "junit.xml").write_text(JUNIT)
    (tmp_path / "results.json").write_text(json.dumps({"tests": [
        {"id": "tempest.api.a.B.test_one[id-1,smoke]", "status": "success", "reason": ""},
        {"id": "tempest.api.a.C.test_two[id-2]", "status": "fail", "reason": "not mapped"}]}))
    return tmp_path


def test_collect_and_render(files):
    out = files / "out.json"
    assert fm["main"](["collect", "--map", str(files / "map.yaml"), "--results", str(out),
                       "--junit", str(files / "junit.xml"), "--tempest", str(files / "results.json")]) == 0
    tests = json.loads(out.read_text())["tests"]
    # Only tests some row names are kept; Tempest ids lose their attributes.
    assert set(tests) == {"tests.functional.test_x::test_ok", "tests.functional.test_x::test_bad",
                          "tests.functional.test_y::test_skipped", "tempest.api.a.B.test_one"}
    assert tests["tests.functional.test_x::test_bad"]["status"] == "fail"
    inc = files / "matrix.inc"
    fm["main"](["render", "--map", str(files / "map.yaml"), "--results", str(out), "--output", str(inc)])
    rows = dict(re.findall(r"\* - (.+)\n     - .+\n     - (.+)", inc.read_text()))
    assert rows["proved"] == "proved: 2 passed"
    assert rows["failing"].startswith("FAILING: 1 failed (``test_bad``)")
    assert rows["skipped only"] == "not proved: 0 passed, 1 skipped"
    assert rows["never run"] == "not run"
    assert rows["untested"] == "no test named" and rows["absent"] == "declared absent"


def test_newer_outcome_wins_and_fresh_forgets(files):
    out = files / "out.json"
    args = ["collect", "--map", str(files / "map.yaml"), "--results", str(out)]
    fm["main"](args + ["--junit", str(files / "junit.xml")])
    (files / "junit2.xml").write_text(JUNIT.replace('<failure message="boom">tb</failure>', ""))
    fm["main"](args + ["--junit", str(files / "junit2.xml")])
    assert json.loads(out.read_text())["tests"]["tests.functional.test_x::test_bad"]["status"] == "pass"
    fm["main"](args + ["--fresh", "--tempest", str(files / "results.json")])
    assert list(json.loads(out.read_text())["tests"]) == ["tempest.api.a.B.test_one"]


def test_the_map_names_tests_that_exist():
    """Every functional test the real map names is a module (and function) of tests/functional."""
    for section in fm["load_map"]():
        for row in section.rows:
            assert row.tests or row.absent or row.claim, row.feature
            for pattern in row.tests:
                if not pattern.startswith("tests.functional."):
                    continue
                module, _, test = pattern.partition("::")
                path = os.path.join(ROOT, *module.split(".")) + ".py"
                assert os.path.exists(path), f"{row.feature}: no {path}"
                if test:
                    with open(path) as f:
                        assert re.search(rf"def {re.escape(test)}\(", f.read()), f"{row.feature}: no {pattern}"


def test_checked_in_results_render():
    lines = fm["render"](fm["load_map"](), fm["load_results"]())
    assert any(line.startswith("Image (Glance v2)") for line in lines)
