"""A change to a plugin interface or contract version comes with a release note.

``releasenotes/interface-versions.json`` records, for every ``INTERFACE_VERSION``
and ``CONTRACT_VERSION`` in ``core/cumulo/interfaces`` and
``core/cumulo/contracts``, the version and the reno note that introduced it::

    {"cumulo.interfaces.object.ObjectBackend": {"version": "1.1",
                                                "note": "releasenotes/notes/<slug>-<id>.yaml"}}

The key is the module, plus the class when the constant is set in a class
body. To change a version: ``reno new <slug>``, say in the note what changed
for plugin authors, naming the interface and its new version on one line
(``ObjectBackend 1.2: ...``), and update the entry. The test fails when the
code and the file disagree, when a recorded note does not exist, or when the
note does not name that interface and version.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VERSIONS_FILE = ROOT / "releasenotes" / "interface-versions.json"
SCANNED = ("core/cumulo/interfaces", "core/cumulo/contracts")
NAMES = ("INTERFACE_VERSION", "CONTRACT_VERSION")
HOW = ("run `reno new <slug>`, describe the change for plugin authors naming the interface and its new "
       "version on one line, and record version and note in releasenotes/interface-versions.json")


def _string_assignments(body: list[ast.stmt], prefix: str, path: str, found: dict[str, str]) -> None:
    for node in body:
        if isinstance(node, ast.ClassDef):
            _string_assignments(node.body, f"{prefix}.{node.name}", path, found)
            continue
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in NAMES:
                assert isinstance(value, ast.Constant) and isinstance(value.value, str), (
                    f"{path}:{node.lineno}: {target.id} must be a string literal (\"MAJOR.MINOR\")")
                found[prefix] = value.value


def code_versions(root: Path = ROOT) -> dict[str, str]:
    """Every ``INTERFACE_VERSION``/``CONTRACT_VERSION`` literal, by ``module[.Class]``, read without importing."""
    found: dict[str, str] = {}
    for top in SCANNED:
        for path in sorted((root / top).rglob("*.py")):
            rel = path.relative_to(root / "core").with_suffix("")
            module = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            _string_assignments(ast.parse(path.read_text(), str(path)).body, module, str(path), found)
    return found


def recorded(path: Path = VERSIONS_FILE) -> dict[str, dict[str, str]]:
    return json.loads(path.read_text())


def allowed_sections(root: Path = ROOT) -> set[str]:
    config = yaml.safe_load((root / "releasenotes" / "config.yaml").read_text())
    return {section[0] for section in config["sections"]} | {"prelude"}


def version_problems(code: dict[str, str], record: dict[str, dict[str, str]]) -> list[str]:
    """Where the code's versions and the record disagree (empty: they agree)."""
    problems = [f"{key} {code[key]} is not recorded" for key in sorted(set(code) - set(record))]
    problems += [f"{key} is recorded but not in the code" for key in sorted(set(record) - set(code))]
    problems += [f"{key} is {code[key]} in the code, {record[key].get('version')} recorded"
                 for key in sorted(set(code) & set(record)) if code[key] != record[key].get("version")]
    return problems


def note_problems(record: dict[str, dict[str, str]], root: Path = ROOT) -> list[str]:
    """Recorded notes that are missing, malformed, or do not name their interface and version on one line."""
    problems = []
    sections = allowed_sections(root)
    for key, entry in sorted(record.items()):
        if set(entry) != {"version", "note"}:
            problems.append(f"{key}: an entry is {{\"version\": ..., \"note\": ...}}, not {sorted(entry)}")
            continue
        note = root / entry["note"]
        if note.parent != root / "releasenotes" / "notes" or not note.is_file():
            problems.append(f"{key}: release note {entry['note']} does not exist")
            continue
        text = note.read_text()
        content = yaml.safe_load(text)
        if not isinstance(content, dict) or not set(content) <= sections:
            problems.append(f"{key}: {entry['note']} is not a reno note (sections {sorted(sections)})")
            continue
        name = key.rsplit(".", 1)[-1]
        line = re.compile(rf"\b{re.escape(name)}\b.*(?<![\d.]){re.escape(entry['version'])}(?![\d.])")
        if not any(line.search(row) for row in text.splitlines()):
            problems.append(f"{key}: {entry['note']} does not name {name} and {entry['version']} on one line")
    return problems


# -- the tree ------------------------------------------------------------------------------------


def test_the_scan_finds_the_interfaces():
    versions = code_versions()
    assert versions["cumulo.interfaces.hypervisor.HypervisorDriver"] == "3.1"  # a package: __init__.py
    assert versions["cumulo.interfaces.object.ObjectBackend"] == "2.0"
    assert {"cumulo.interfaces.auth.IdentityBackend", "cumulo.interfaces.auth.TokenProvider"} <= set(versions)


def test_every_interface_and_contract_version_is_recorded():
    problems = version_problems(code_versions(), recorded())
    assert problems == [], f"{'; '.join(problems)}: {HOW}"


def test_every_recorded_version_has_its_release_note():
    problems = note_problems(recorded())
    assert problems == [], f"{'; '.join(problems)}: {HOW}"


def test_every_release_note_is_valid_yaml_in_known_sections():
    sections = allowed_sections()
    notes = sorted((ROOT / "releasenotes" / "notes").glob("*"))
    assert notes
    for note in notes:
        assert note.suffix == ".yaml", f"{note.name}: reno reads only .yaml notes"
        content = yaml.safe_load(note.read_text())
        assert isinstance(content, dict) and content, note.name
        assert set(content) <= sections, f"{note.name}: unknown sections {set(content) - sections}"
        for section, items in content.items():
            entries = [items] if section == "prelude" else items
            assert isinstance(entries, list) and all(isinstance(i, str) and i.strip() for i in entries), (
                f"{note.name}: {section} must be a list of non-empty strings")


# -- the checks fail when they should: a small tree checked by the same functions ----------------


def make_tree(root: Path, version: str = "1.0", note_text: str | None = None) -> dict[str, dict[str, str]]:
    """An interface module, a contract module, reno's config, and a record of both with a note."""
    (root / "core" / "cumulo" / "interfaces").mkdir(parents=True)
    (root / "core" / "cumulo" / "interfaces" / "volume.py").write_text(
        f'class VolumeDriver:\n    INTERFACE_VERSION = "{version}"\n')
    (root / "core" / "cumulo" / "contracts").mkdir()
    (root / "core" / "cumulo" / "contracts" / "__init__.py").write_text('CONTRACT_VERSION: str = "2.0"\n')
    (root / "releasenotes" / "notes").mkdir(parents=True)
    (root / "releasenotes" / "config.yaml").write_text((ROOT / "releasenotes" / "config.yaml").read_text())
    (root / "releasenotes" / "notes" / "first-0123456789abcdef.yaml").write_text(note_text or (
        "---\nupgrade:\n  - |\n    VolumeDriver 1.0 and the contracts 2.0 (``cumulo.contracts``).\n"))
    note = "releasenotes/notes/first-0123456789abcdef.yaml"
    return {"cumulo.interfaces.volume.VolumeDriver": {"version": "1.0", "note": note},
            "cumulo.contracts": {"version": "2.0", "note": note}}


def test_a_recorded_tree_passes(tmp_path):
    record = make_tree(tmp_path)
    assert code_versions(tmp_path) == {"cumulo.interfaces.volume.VolumeDriver": "1.0", "cumulo.contracts": "2.0"}
    assert version_problems(code_versions(tmp_path), record) == []
    assert note_problems(record, tmp_path) == []


def test_a_version_bump_without_a_new_record_fails(tmp_path):
    record = make_tree(tmp_path, version="1.1")
    assert version_problems(code_versions(tmp_path), record) == [
        "cumulo.interfaces.volume.VolumeDriver is 1.1 in the code, 1.0 recorded"]


def test_a_new_or_removed_interface_fails(tmp_path):
    record = make_tree(tmp_path)
    (tmp_path / "core" / "cumulo" / "interfaces" / "disk.py").write_text('class Disk:\n    INTERFACE_VERSION = "1.0"\n')
    del record["cumulo.contracts"]
    (tmp_path / "core" / "cumulo" / "contracts" / "__init__.py").write_text("")
    record["cumulo.contracts.gone"] = {"version": "1.0", "note": record["cumulo.interfaces.volume.VolumeDriver"]["note"]}
    assert version_problems(code_versions(tmp_path), record) == [
        "cumulo.interfaces.disk.Disk 1.0 is not recorded", "cumulo.contracts.gone is recorded but not in the code"]


def test_a_bump_recorded_against_a_missing_note_fails(tmp_path):
    record = make_tree(tmp_path, version="1.1")
    record["cumulo.interfaces.volume.VolumeDriver"] = {"version": "1.1", "note": "releasenotes/notes/nope.yaml"}
    assert version_problems(code_versions(tmp_path), record) == []
    assert note_problems(record, tmp_path) == [
        "cumulo.interfaces.volume.VolumeDriver: release note releasenotes/notes/nope.yaml does not exist"]


def test_a_bump_recorded_against_the_old_note_fails(tmp_path):
    """Reusing the note of the previous version is caught: it does not name the new one (1.1 is not 1.10 nor 11.1)."""
    record = make_tree(tmp_path, version="1.1", note_text=(
        "---\nupgrade:\n  - |\n    VolumeDriver 1.0 (was 11.1, then 1.10).\n    contracts 2.0\n"))
    record["cumulo.interfaces.volume.VolumeDriver"]["version"] = "1.1"
    assert note_problems(record, tmp_path) == [
        "cumulo.interfaces.volume.VolumeDriver: releasenotes/notes/first-0123456789abcdef.yaml "
        "does not name VolumeDriver and 1.1 on one line"]


def test_a_version_that_is_not_a_literal_is_refused(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "core" / "cumulo" / "interfaces" / "volume.py").write_text(
        'V = "1.0"\nclass VolumeDriver:\n    INTERFACE_VERSION = V\n')
    with pytest.raises(AssertionError, match="must be a string literal"):
        code_versions(tmp_path)


if __name__ == "__main__":  # the record for the code as it is; fill in the note of what changed
    current = recorded() if VERSIONS_FILE.exists() else {}
    print(json.dumps({k: {"version": v, "note": current.get(k, {}).get("note", "releasenotes/notes/?.yaml")}
                      for k, v in sorted(code_versions().items())}, indent=2))
