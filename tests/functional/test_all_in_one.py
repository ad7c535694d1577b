"""``cumulo up``: endpoints, credentials, clean stop, and state that survives restarts and crashes."""

from __future__ import annotations

import json
import os
import socket
import urllib.request

import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_index_lists_every_enabled_api(cloud):
    with urllib.request.urlopen(cloud.url + "/") as resp:
        apis = json.loads(resp.read())["cumulo"]["apis"]
    assert {a["service_type"] for a in apis} >= {"identity"}
    assert all(a["url"].startswith(cloud.url) for a in apis)


def test_credentials_written_and_private(cloud):
    mode = os.stat(cloud.clouds_yaml).st_mode & 0o777
    assert mode == 0o600
    with open(cloud.clouds_yaml) as f:
        entry = yaml.safe_load(f)["clouds"]["cumulo"]
    assert entry["auth"]["auth_url"] == cloud.url + "/identity/v3"
    assert entry["auth"]["username"] == "admin" and len(entry["auth"]["password"]) >= 16


def test_catalog_through_the_openstack_client(cloud):
    catalog = cloud.openstack("catalog", "list")
    assert "identity" in {c["Type"] for c in catalog}


def test_services_register_and_show_up(cloud):
    proc = cloud.run("cumulo", "--config-file", cloud.config_path, "service", "list", "-f", "json")
    services = json.loads(proc.stdout)
    assert services and all(s["State"] == "up" for s in services)


def test_clean_stop_then_restart_keeps_state(make_cloud):
    port = _free_port()
    c = make_cloud(port=port)
    c.start()
    password = c.admin_password
    c.openstack("project", "create", "kept-project")
    assert c.stop() == 0  # SIGTERM is a clean stop
    c.start()
    assert c.admin_password == password  # the same credentials still work
    assert "kept-project" in {p["Name"] for p in c.openstack("project", "list")}


def test_crash_then_restart_keeps_acknowledged_writes(make_cloud):
    c = make_cloud()
    c.start()
    c.openstack("project", "create", "acknowledged")
    c.kill()  # SIGKILL: no clean-up at all
    c.start()  # a new port: the stored credentials follow
    assert "acknowledged" in {p["Name"] for p in c.openstack("project", "list")}
