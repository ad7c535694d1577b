"""The selection regexes and the reading of Tempest's results (no Tempest run: the lead decides on CI time)."""

from __future__ import annotations

import re

import pytest
from cumulo_verify import runner, subunit_summary

SMOKE_ID = "tempest.api.identity.v3.test_domains.DefaultDomainTestJSON.test_default_domain_exists[id-17a5de24,smoke]"
PLAIN_ID = "tempest.api.compute.servers.test_servers.ServersTestJSON.test_update_access_server_address[id-89b90870]"
OBJECT_ID = "tempest.api.object_storage.test_container_services.ContainerTest.test_create_container[id-92139d73,smoke]"


def test_smoke_selection_takes_the_services_smoke_tests_only() -> None:
    regex = re.compile(runner.selection(["identity", "object-storage"], smoke=True, regex=None))
    assert regex.search(SMOKE_ID) and regex.search(OBJECT_ID)
    assert not regex.search(PLAIN_ID)
    assert not regex.search(SMOKE_ID.replace(",smoke", ""))


def test_full_selection_takes_every_api_test_of_the_services() -> None:
    regex = re.compile(runner.selection(["compute"], smoke=False, regex=None))
    assert regex.search(PLAIN_ID) and not regex.search(SMOKE_ID)
    assert not regex.search("tempest.scenario.test_minimum_basic.TestMinimumBasicScenario.test_minimum_basic")


def test_regex_is_used_as_given_and_unknown_services_are_refused() -> None:
    assert runner.selection(["compute"], smoke=True, regex="test_domains") == "test_domains"
    with pytest.raises(runner.VerifyError, match="unknown service dns"):
        runner.selection(["dns"], smoke=False, regex=None)


def test_results_are_counted_per_service_with_class_setups() -> None:
    tests = [runner.TestResult(SMOKE_ID, "success", "", 0.1),
             runner.TestResult("setUpClass (tempest.api.identity.admin.v3.test_trusts.TrustsV3TestJSON)", "skip",
                               "Trusts aren't enabled", 0.0),
             runner.TestResult(OBJECT_ID, "fail", "AssertionError: x", 0.2),
             runner.TestResult(PLAIN_ID, "xfail", "", 0.1)]
    result = runner.RunResult("47.0.0", "2026-01-01T00:00:00+00:00", 1.0, [], "", 1, tests)
    assert result.summary() == [runner.ServiceSummary("compute", 1, 0, 0),
                                runner.ServiceSummary("identity", 1, 0, 1),
                                runner.ServiceSummary("object-storage", 0, 1, 0)]
    assert [t.name for t in result.failures()] == [OBJECT_ID.split("[")[0]]


TRACEBACK = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/tempest/api/object_storage/base.py", line 112, in setUpClass
    raise exceptions.InvalidHTTPResponseHeader()
tempest.lib.exceptions.InvalidHTTPResponseHeader: HTTP response header is invalid
Details: x-trans-id: req-1234 does not match tx[0-9a-f]{21}-[0-9a-f]{10}.*
"""


def test_a_failure_reads_as_its_exception_line_and_details() -> None:
    reason = subunit_summary.reason_of({"traceback": TRACEBACK}, "fail")
    assert reason.startswith("tempest.lib.exceptions.InvalidHTTPResponseHeader: HTTP response header is invalid")
    assert "x-trans-id" in reason and "\n" not in reason


def test_a_skip_reads_as_its_reason() -> None:
    assert subunit_summary.reason_of({"reason": "Volume service\n not enabled."}, "skip") == \
        "Volume service not enabled."


def test_a_class_set_up_counts_for_each_of_its_tests() -> None:
    trusts = "tempest.api.identity.admin.v3.test_trusts.TrustsV3TestJSON"
    selected = [f"{trusts}.test_get_trusts_all[id-4773ebd5]", f"{trusts}.test_trust_expire[id-0ed14b66]", SMOKE_ID]
    results = [runner.TestResult(f"setUpClass ({trusts})", "skip", "Trusts aren't enabled", 0.0),
               runner.TestResult(SMOKE_ID, "success", "", 0.1),
               runner.TestResult("tearDownClass (tempest.api.compute.x.Y)", "fail", "boom", 0.0)]
    expanded = runner.expand_class_setups(results, selected)
    by_id = {r.id: r for r in expanded}
    assert set(by_id) == {*selected, "tearDownClass (tempest.api.compute.x.Y)"}
    assert by_id[selected[0]].status == by_id[selected[1]].status == "skip"
    assert by_id[selected[1]].reason == "(class set-up) Trusts aren't enabled"
    assert by_id[SMOKE_ID].status == "success"


SCHEMA_TRACEBACK = """Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/tempest/lib/common/rest_client.py", line 977, in validate_response
    jsonschema.validate(body, schema, cls=JSONSCHEMA_VALIDATOR, format_checker=FORMAT_CHECKER)
jsonschema.exceptions.ValidationError: 'maxImageMeta' is a required property

Failed validating 'required' in schema['properties']['limits']['properties']['absolute']:
    {'type': 'object',
     'required': ['maxImageMeta']}

On instance['limits']['absolute']:
    {'maxTotalInstances': 10}
"""


def test_a_schema_failure_reads_as_the_property_not_the_dump() -> None:
    assert subunit_summary.reason_of({"traceback": SCHEMA_TRACEBACK}, "fail") == (
        "jsonschema.exceptions.ValidationError: 'maxImageMeta' is a required property "
        "Failed validating 'required' in schema['properties']['limits']['properties']['absolute']:")
