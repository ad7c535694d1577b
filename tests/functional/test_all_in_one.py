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


def test_announcement_names_real_urls_and_how_to_use_them(cloud):
    """`cumulo up` prints the admin project's object-store URL, not the catalog's template; with
    --no-user-clouds-yaml (as here) it says which clouds.yaml the client must be pointed at."""
    with open(cloud.log_path, errors="replace") as f:
        announced = f.read()
    project_id = cloud.openstack("project", "show", "admin")["id"]
    object_lines = [line for line in announced.splitlines() if line.strip().startswith("object-store")]
    assert object_lines and object_lines[-1].rstrip().endswith(f"/AUTH_{project_id}"), object_lines
    assert "project_id)s" not in announced
    assert f"OS_CLIENT_CONFIG_FILE={cloud.clouds_yaml} openstack --os-cloud cumulo catalog list" in announced


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


def _open_paths(root: str) -> list[str]:
    """Files and directories under ``root`` that group or others may read, write or enter."""
    found = [root] if os.stat(root).st_mode & 0o077 else []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path) and os.lstat(path).st_mode & 0o077:
                found.append(f"{path} {oct(os.lstat(path).st_mode & 0o777)}")
    return found


def test_state_files_are_private(cloud):
    # put data in every store first: database rows, an object on the storage nodes, an image
    conn = cloud.connect()
    conn.object_store.create_container("private-check")
    conn.object_store.upload_object(container="private-check", name="o", data=b"secret bytes")
    image = conn.image.create_image(name="private-check", disk_format="raw", container_format="bare",
                                    data=b"x" * 1024)
    try:
        assert os.path.exists(os.path.join(cloud.state_path, "cumulo.sqlite"))
        assert _open_paths(cloud.state_path) == []
    finally:
        conn.image.delete_image(image)
        conn.object_store.delete_object("o", container="private-check")
        conn.object_store.delete_container("private-check")


def test_open_state_path_is_tightened_and_said(make_cloud):
    c = make_cloud(name="loose")
    os.makedirs(c.state_path, mode=0o755)
    os.chmod(c.state_path, 0o755)
    leftover = os.path.join(c.state_path, "old-notes.txt")
    with open(leftover, "w") as f:
        f.write("from an older version")
    os.chmod(leftover, 0o644)
    c.start()
    assert os.stat(c.state_path).st_mode & 0o777 == 0o700
    assert os.stat(leftover).st_mode & 0o777 == 0o600
    with open(c.log_path) as f:
        assert "Tightened permissions of" in f.read()
    assert _open_paths(c.state_path) == []


def test_unknown_path_is_a_json_404(cloud):
    import urllib.error

    for path in ("/nope", "/latest/meta-data", "/?Action=DescribeInstances", "/bucket/key"):  # EC2, S3 shapes
        try:
            urllib.request.urlopen(cloud.url + path)
            raise AssertionError(f"{path} answered 2xx")
        except urllib.error.HTTPError as err:
            assert err.code == 404, (path, err.code)
            assert json.loads(err.read())["error"]["code"] == 404
    request = urllib.request.Request(cloud.url + "/", data=b"Action=DescribeRegions", method="POST")
    try:
        urllib.request.urlopen(request)
        raise AssertionError("POST / answered 2xx")
    except urllib.error.HTTPError as err:
        assert err.code == 404
