"""Image API against what Tempest (and Glance) expect, through the unmodified ``openstack`` CLI and
openstacksdk on a real ``cumulo up``: the 2.0 JSON-patch media type, deactivate/reactivate by the
image's owner, and uploads inspected for their disk format (images made by the real ``qemu-img``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cumulo.testing.cloud import CommandFailed, CumuloCloud
from cumulo.testing.fixtures import unavailable

V20 = "application/openstack-images-v2.0-json-patch"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    c = CumuloCloud(tmp_path_factory.mktemp("image-conformance"), config={
        "api": {"frontends": "identity,image"},
        "auth_sql": {"password_hash_rounds": 4}, "identity": {"password_hash_rounds": 4}})
    c.start()
    yield c
    c.stop()


def _member(cloud: CumuloCloud) -> str:
    """A clouds.yaml entry for a plain member of a project of its own."""
    conn = cloud.connect()
    name = f"imgconf-{uuid.uuid4().hex[:6]}"
    project = conn.identity.create_project(name=name, domain_id="default")
    password = uuid.uuid4().hex
    user = conn.identity.create_user(name=name, password=password, domain_id="default")
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("member"))
    cloud.add_user_cloud(name, name, password, name)
    return name


@pytest.fixture(scope="module")
def member(cloud: CumuloCloud) -> str:
    return _member(cloud)


@pytest.fixture(scope="module")
def other(cloud: CumuloCloud) -> str:
    return _member(cloud)


@pytest.fixture
def qemu_img() -> str:
    path = shutil.which("qemu-img")
    if path is None:
        unavailable("qemu-img is not installed")
    return str(path)


def qcow2(qemu_img: str, path: Path, *options: str) -> Path:
    subprocess.run([qemu_img, "create", "-q", "-f", "qcow2", *options, str(path), "2M"], check=True,
                   capture_output=True)
    return path


def test_json_patch_v20_media_type(cloud: CumuloCloud, member: str) -> None:
    conn = cloud.connect(member)
    image = conn.image.create_image(name="patch-v20", disk_format="raw", container_format="bare")
    r = conn.image.patch(f"/images/{image.id}", json=[{"replace": "/name", "value": "renamed"},
                                                      {"add": "/os_distro", "value": "cirros"}],
                         headers={"Content-Type": V20})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["os_distro"]) == ("renamed", "cirros")
    r = conn.image.patch(f"/images/{image.id}", json=[{"remove": "/os_distro"}], headers={"Content-Type": V20})
    assert r.status_code == 200 and "os_distro" not in r.json()
    r = conn.image.patch(f"/images/{image.id}", json=[{"op": "replace", "path": "/name", "value": "x"}],
                         headers={"Content-Type": V20}, raise_exc=False)
    assert r.status_code == 400, r.text  # the 2.1 shape under the 2.0 type
    r = conn.image.patch(f"/images/{image.id}", json=[], headers={"Content-Type": "application/json"},
                         raise_exc=False)
    assert r.status_code == 415 and V20 in r.headers["Accept-Patch"]
    conn.image.delete_image(image.id)


def test_owner_deactivates_and_reactivates(cloud: CumuloCloud, member: str, other: str, tmp_path: Path) -> None:
    data = tmp_path / "disk.raw"
    data.write_bytes(os.urandom(64 * 1024))
    image = cloud.openstack("image", "create", "--file", str(data), "--disk-format", "raw",
                            "--container-format", "bare", "--community", "owned", os_cloud=member)
    assert image["status"] == "active"
    stranger = cloud.connect(other)  # a member of another project sees it, may not do it
    for action in ("deactivate", "reactivate"):
        r = stranger.image.post(f"/images/{image['id']}/actions/{action}", raise_exc=False)
        assert r.status_code == 403, r.text
    cloud.openstack("image", "set", "--deactivate", image["id"], os_cloud=member)
    assert cloud.openstack("image", "show", image["id"], os_cloud=member)["status"] == "deactivated"
    cloud.openstack("image", "set", "--activate", image["id"], os_cloud=member)
    assert cloud.openstack("image", "show", image["id"], os_cloud=member)["status"] == "active"
    cloud.openstack("image", "delete", image["id"], os_cloud=member)


def test_upload_is_inspected(cloud: CumuloCloud, member: str, qemu_img: str, tmp_path: Path) -> None:
    raw = tmp_path / "random.bin"
    raw.write_bytes(os.urandom(256 * 1024))
    conn = cloud.connect(member)
    # Raw bytes declared qcow2: 400, and the image stays queued.
    lying = conn.image.create_image(name="lying", disk_format="qcow2", container_format="bare")
    r = conn.image.put(f"/images/{lying.id}/file", data=raw.read_bytes(),
                       headers={"Content-Type": "application/octet-stream"}, raise_exc=False)
    assert r.status_code == 400 and "disk_format qcow2" in r.json()["message"], r.text
    assert conn.image.get_image(lying.id).status == "queued"
    # A real qcow2 goes active, with the virtual size its header declares.
    good = qcow2(qemu_img, tmp_path / "good.qcow2")
    image = cloud.openstack("image", "create", "--file", str(good), "--disk-format", "qcow2",
                            "--container-format", "bare", "good", os_cloud=member)
    assert image["status"] == "active"
    assert conn.image.get_image(image["id"]).virtual_size == 2 * 1024 * 1024
    # A qcow2 declared raw, and a qcow2 with a backing file: refused, queued.
    with pytest.raises(CommandFailed, match="400|Bad Request|does not match"):
        cloud.openstack("image", "create", "--file", str(good), "--disk-format", "raw",
                        "--container-format", "bare", "smuggled", os_cloud=member)
    backed = qcow2(qemu_img, tmp_path / "backed.qcow2", "-b", str(good), "-F", "qcow2")
    unsafe = conn.image.create_image(name="backed", disk_format="qcow2", container_format="bare")
    r = conn.image.put(f"/images/{unsafe.id}/file", data=backed.read_bytes(),
                       headers={"Content-Type": "application/octet-stream"}, raise_exc=False)
    assert r.status_code == 400 and "backing_file" in r.json()["message"], r.text
    assert conn.image.get_image(unsafe.id).status == "queued"
    listed = json.loads(cloud.openstack("image", "list", "-f", "json", os_cloud=member, json_out=False))
    statuses = {i["Name"]: i["Status"] for i in listed}
    # (the client deletes the image whose upload failed; if kept, it is queued)
    assert statuses.get("smuggled", "queued") == "queued"
    assert (statuses["lying"], statuses["backed"], statuses["good"]) == ("queued", "queued", "active")
    for image_id in (lying.id, unsafe.id, image["id"]):
        conn.image.delete_image(image_id)
