"""``etc/policy.yaml.sample`` is what the registered rules generate (regenerate it when a rule changes)."""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERATOR_CONF = os.path.join(ROOT, "etc", "policy-generator.conf")


def test_policy_sample_is_current(tmp_path):
    out = tmp_path / "policy.yaml.sample"
    subprocess.run([sys.executable, "-c", "from oslo_policy.generator import generate_sample; generate_sample()",
                    "--config-file", GENERATOR_CONF, "--output-file", str(out)], check=True, cwd=ROOT,
                   capture_output=True, timeout=120)
    with open(os.path.join(ROOT, "etc", "policy.yaml.sample")) as f:
        committed = f.read()
    assert out.read_text() == committed, (
        "etc/policy.yaml.sample is stale: run oslopolicy-sample-generator --config-file etc/policy-generator.conf")


def test_upstream_admin_only_defaults_are_in_the_sample():
    with open(os.path.join(ROOT, "etc", "policy.yaml.sample")) as f:
        sample = f.read()
    for rule in ("create_floatingip:floating_ip_address", "create_router:external_gateway_info:enable_snat",
                 "update_router:external_gateway_info:enable_snat"):
        assert f'#"{rule}": "rule:admin_required"' in sample, rule
    # Keystone's: administrators, and readers of the system scope.
    for rule in ("identity:list_services", "identity:list_endpoints"):
        assert f'#"{rule}": "rule:admin_required or (role:reader and system_scope:all)"' in sample, rule
