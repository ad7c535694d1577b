#!/usr/bin/env python3
"""The feature matrix (doc/source/feature-matrix.rst), generated from what the tests prove.

Three files:

* ``doc/source/data/feature-map.yaml`` (written by hand): each row of the matrix, what it claims, and
  the tests that prove it (patterns of test ids, see the file's header);
* ``doc/source/data/feature-results.json`` (written by ``collect``, checked in): the outcome of each
  test the map names, from the runs it was collected from;
* ``doc/source/data/feature-matrix.inc`` (written by ``render``, which the docs build runs; not
  checked in): the tables, one per API, with each row's evidence.

Recording results::

    ./dev test tests/functional --junitxml=/tmp/functional.xml           # or any pytest run
    cumulo verify --service image --workspace /tmp/ws                    # Tempest: /tmp/ws/results.json
    python tools/feature_matrix.py collect --junit /tmp/functional.xml --tempest /tmp/ws/results.json

``collect`` merges into the results file (a test's newest outcome wins; ``--fresh`` starts over), so
runs of parts of the suites add up. A row's evidence is what its tests did: "proved" when at least one
passed and none failed, "FAILING" when one failed, "not run" when no result names them, "no test
named" when the map names none; a row claiming "no" is a declared absence.

A section with ``columns`` (the hypervisor drivers) is a grid instead: each column names the test
class that runs a conformance kit against one driver, each row the kit's test (``kit``) and the
optional capability it exercises (``capability``). A cell says "yes" when that test passed and the
driver declares the capability (the kit records the declared ones in the junit report), "refuses"
when it passed because the driver refuses an operation it does not declare, "FAILING", "skipped" or
"not run"; a row's ``cells`` may name other tests for a column without a kit class.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "doc", "source", "data")
MAP = os.path.join(DATA, "feature-map.yaml")
RESULTS = os.path.join(DATA, "feature-results.json")
OUTPUT = os.path.join(DATA, "feature-matrix.inc")

#: Tempest's subunit statuses and pytest's outcomes, as the three the matrix knows.
_STATUS = {"success": "pass", "xfail": "pass", "fail": "fail", "uxsuccess": "fail", "skip": "skip"}


@dataclasses.dataclass(frozen=True)
class Row:
    feature: str
    claim: str
    tests: tuple[str, ...]
    kit: str = ""  # in a grid section: the conformance kit's test
    capability: str = ""  # ... and the optional capability it exercises
    cells: tuple[tuple[str, tuple[str, ...]], ...] = ()  # column -> tests, where a column has no kit class

    @property
    def absent(self) -> bool:
        return self.claim.strip().lower().startswith("no")


@dataclasses.dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]
    columns: tuple[tuple[str, str], ...] = ()  # a grid: column name -> the kit's test class ("" for none)

    def patterns(self) -> list[str]:
        """Every test id pattern the section names (a grid's kit classes, whole)."""
        found = [p for r in self.rows for p in r.tests] + [p for r in self.rows for _, ps in r.cells for p in ps]
        return found + [cls for _, cls in self.columns if cls]


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str  # pass, fail or skip
    source: str  # "tempest" or "pytest", and the day it was collected
    reason: str = ""
    properties: dict[str, str] = dataclasses.field(default_factory=dict)  # junit <property>s


def load_map(path: str = MAP) -> list[Section]:
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    return [Section(s["title"], tuple(_row(r) for r in s["rows"]),
                    tuple((str(k), str(v or "")) for k, v in (s.get("columns") or {}).items()))
            for s in doc["sections"]]


def _row(r: dict[str, Any]) -> Row:
    return Row(" ".join(str(r["feature"]).split()), " ".join(str(r.get("claim", "")).split()),
               tuple(r.get("tests") or ()), kit=str(r.get("kit") or ""), capability=str(r.get("capability") or ""),
               cells=tuple((str(k), tuple(v)) for k, v in (r.get("cells") or {}).items()))


def matches(pattern: str, test_id: str) -> bool:
    """A test id is proved by a pattern equal to it or naming a module, class or test it is under."""
    return test_id == pattern or any(test_id.startswith(pattern + sep) for sep in ("::", ".", "["))


def _bare(test_id: str) -> str:
    """A Tempest id without its ``[id-...,smoke]`` attributes."""
    return re.sub(r"\[[^\]]*\]$", "", test_id)


def read_tempest(path: str) -> dict[str, Outcome]:
    """The tests of a ``cumulo verify`` results.json (``tests[]``: id, status, reason)."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    name = f"tempest {datetime.date.today().isoformat()}"
    out = {}
    for test in doc.get("tests", []):
        status = _STATUS.get(str(test.get("status")))
        if status is not None:
            out[_bare(str(test["id"]))] = Outcome(status, name, str(test.get("reason") or "")[:200])
    return out


def read_junit(path: str) -> dict[str, Outcome]:
    """The tests of a pytest junit xml file, as ``<classname>::<name>`` (a parametrized test's
    ``[param]`` kept)."""
    name = f"pytest {datetime.date.today().isoformat()}"
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        skipped = case.find("skipped")
        props = {str(p.get("name")): str(p.get("value")) for p in case.iter("property")}
        if bad is not None:
            out[test_id] = Outcome("fail", name, (bad.get("message") or "")[:200])
        elif skipped is not None:
            out[test_id] = Outcome("skip", name, (skipped.get("message") or "")[:200])
        else:
            out[test_id] = Outcome("pass", name, properties=props)
    return out


def load_results(path: str = RESULTS) -> dict[str, Outcome]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    return {k: Outcome(**v) for k, v in doc.get("tests", {}).items()}


def collect(sections: list[Section], inputs: Iterable[dict[str, Outcome]], previous: dict[str, Outcome],
            ) -> dict[str, Outcome]:
    """``previous`` updated with the outcomes in ``inputs`` of every test some row's pattern names."""
    patterns = [p for s in sections for p in s.patterns()]
    merged = dict(previous)
    for results in inputs:
        for test_id, outcome in results.items():
            if any(matches(p, test_id) for p in patterns):
                merged[test_id] = outcome
    return merged


def write_results(results: dict[str, Outcome], path: str = RESULTS) -> None:
    doc = {"note": "Written by tools/feature_matrix.py collect; rendered into the feature matrix.",
           "updated": datetime.date.today().isoformat(),
           "tests": {k: {f: v for f, v in dataclasses.asdict(o).items() if v or f != "properties"}
                     for k, o in sorted(results.items())}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=False)
        f.write("\n")


def evidence(row: Row, results: dict[str, Outcome]) -> str:
    """What the row's tests did, in words."""
    if not row.tests:
        return "declared absent" if row.absent else "no test named"
    found = {t: o for t, o in results.items() if any(matches(p, t) for p in row.tests)}
    unrun = [p for p in row.tests if not any(matches(p, t) for t in found)]
    counts = {s: sum(1 for o in found.values() if o.status == s) for s in ("pass", "fail", "skip")}
    if not found:
        return "not run"
    parts = [f"{counts['pass']} passed"]
    if counts["skip"]:
        parts.append(f"{counts['skip']} skipped")
    if unrun:
        parts.append(f"{len(unrun)} of {len(row.tests)} named not run")
    if counts["fail"]:
        failed = sorted(t for t, o in found.items() if o.status == "fail")
        return f"FAILING: {counts['fail']} failed ({', '.join(_short(t) for t in failed[:3])}); " + ", ".join(parts)
    if not counts["pass"]:
        return "not proved: " + ", ".join(parts)
    return "proved: " + ", ".join(parts)


def _short(test_id: str) -> str:
    return "``" + test_id.rsplit("::", 1)[-1].rsplit(".", 1)[-1] + "``"


def cell(column_class: str, row: Row, results: dict[str, Outcome]) -> str:
    """A grid cell: what the kit's ``row.kit`` test did against the column's driver."""
    found = [o for t, o in results.items() if matches(f"{column_class}::{row.kit}", t)]
    if not found:
        return "not run"
    if any(o.status == "fail" for o in found):
        return "FAILING"
    if all(o.status == "skip" for o in found):
        return "skipped"
    if not row.capability:
        return "yes"
    declared = [o.properties["capabilities"] for t, o in results.items()
                if matches(f"{column_class}::test_capabilities_are_known", t) and "capabilities" in o.properties]
    if not declared:
        return "passed"
    return "yes" if row.capability in declared[0].split() else "refuses"


def _grid(section: Section, results: dict[str, Outcome]) -> list[str]:
    lines = [".. list-table::", "   :header-rows: 1", "", "   * - feature", *[f"     - {n}" for n, _ in section.columns]]
    for row in section.rows:
        lines.append(f"   * - {row.feature}")
        overrides = dict(row.cells)
        for name, cls in section.columns:
            if name in overrides:
                said = evidence(Row(row.feature, "yes", overrides[name]), results).split(":")[0]
                text = {"proved": "yes", "not proved": "skipped"}.get(said, said)
            elif cls and row.kit:
                text = cell(cls, row, results)
            else:
                text = "not run"
            lines.append(f"     - {text}")
    return lines


def render(sections: list[Section], results: dict[str, Outcome]) -> list[str]:
    """The reStructuredText of the tables (a heading and a list-table per API)."""
    lines: list[str] = []
    for section in sections:
        if section.columns:
            lines += [section.title, "-" * len(section.title), "", *_grid(section, results), ""]
            continue
        lines += [section.title, "-" * len(section.title), "",
                  ".. list-table::", "   :header-rows: 1", "   :widths: 45 30 25", "",
                  "   * - feature", "     - status", "     - evidence"]
        for row in section.rows:
            lines += [f"   * - {row.feature}", f"     - {row.claim}", f"     - {evidence(row, results)}"]
        lines.append("")
    return lines


def write_rendered(path: str = OUTPUT, map_path: str = MAP, results_path: str = RESULTS) -> str:
    """Render the map and the results into ``path`` (rewritten only when its text changes)."""
    text = "\n".join(render(load_map(map_path), load_results(results_path))).rstrip("\n") + "\n"
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return path
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def summary(sections: list[Section], results: dict[str, Outcome]) -> list[str]:
    """A line per section (rows proved, failing, not run, declared absent), then each failing row."""
    lines, failing = [], []
    for section in sections:
        if section.columns:
            cells = [(row, name, cell(cls, row, results) if cls and row.kit else "not run")
                     for row in section.rows for name, cls in section.columns if name not in dict(row.cells)]
            counts = {k: sum(1 for _, _, c in cells if c == k) for k in ("yes", "refuses", "FAILING", "not run")}
            failing += [f"{section.title}: {row.feature} ({name})" for row, name, c in cells if c == "FAILING"]
        else:
            said = [(row, evidence(row, results).split(":")[0]) for row in section.rows]
            counts = {k: sum(1 for _, e in said if e == k) for k in ("proved", "FAILING", "not run",
                                                                     "declared absent")}
            failing += [f"{section.title}: {row.feature}" for row, e in said if e == "FAILING"]
        lines.append(f"{section.title}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return lines + [f"FAILING: {f}" for f in failing]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect", help="record test outcomes into the results file")
    c.add_argument("--tempest", action="append", default=[], help="a cumulo verify results.json (repeatable)")
    c.add_argument("--junit", action="append", default=[], help="a pytest junit xml file (repeatable)")
    c.add_argument("--fresh", action="store_true", help="forget the results recorded before")
    c.add_argument("--results", default=RESULTS)
    sub.add_parser("summary", help="print what the recorded results prove, a line per section").add_argument(
        "--results", default=RESULTS)
    r = sub.add_parser("render", help="write the tables the feature matrix page includes")
    r.add_argument("--output", default=OUTPUT)
    r.add_argument("--results", default=RESULTS)
    for p in (c, r, sub.choices["summary"]):
        p.add_argument("--map", default=MAP)
    args = parser.parse_args(argv)
    sections = load_map(args.map)
    if args.command == "collect":
        if not args.tempest and not args.junit:
            parser.error("collect needs --tempest or --junit")
        inputs = [read_tempest(p) for p in args.tempest] + [read_junit(p) for p in args.junit]
        merged = collect(sections, inputs, {} if args.fresh else load_results(args.results))
        write_results(merged, args.results)
        print(f"feature_matrix: {len(merged)} test outcomes in {args.results}")
        return 0
    if args.command == "summary":
        print("\n".join(summary(sections, load_results(args.results))))
        return 0
    print(write_rendered(args.output, args.map, args.results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
