"""Image service functional tests: the unmodified ``openstack`` CLI and openstacksdk against ``cumulo up``.

Every test runs twice: with the filesystem store and with the object-storage
store (``[image] default_store``), each on its own cloud.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from typing import Any

import pytest
import requests

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud

STORES = ("filesystem", "object")
MiB = 1024 * 1024


def _frontends() -> str:
    installed = set(registry.names("api"))
    return ",".join(f for f in ("identity", "compute", "image", "network", "object-store") if f in installed)


def _config(store: str) -> dict[str, dict[str, Any]]:
    return {"api": {"frontends": _frontends()}, "image": {"default_store": store}}


@pytest.fixture(scope="module", params=STORES)
def image_cloud(request: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    cloud = CumuloCloud(tmp_path_factory.mktemp(f"image-{request.param}"), config=_config(request.param))
    cloud.start()
    cloud.store = request.param  # type: ignore[attr-defined]
    yield cloud
    cloud.stop()


def _file(path: Any, size: int) -> tuple[str, str]:
    """A file of random bytes; returns (path, md5)."""
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, MiB))
            md5.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return str(path), md5.hexdigest()


def _md5_of(path: str) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            md5.update(chunk)
    return md5.hexdigest()


def _vm_hwm(pid: int) -> int:
    """Peak resident memory (VmHWM) of a process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _stored_names(cloud: CumuloCloud) -> list[str]:
    """Files in the filesystem store's directory (the object store keeps its data in Object Storage)."""
    path = os.path.join(cloud.state_path, "images")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


# Runs first on a fresh cloud, so the peak memory measured is the transfer's own.
def test_large_transfer_memory_stays_bounded(image_cloud: CumuloCloud, tmp_path: Any) -> None:
    size = 64 * MiB
    src, md5 = _file(tmp_path / "big.img", size)
    conn = image_cloud.connect()
    before = _vm_hwm(image_cloud.pid)
    image = conn.image.create_image(name="big", filename=src, disk_format="raw", container_format="bare")
    image = conn.image.get_image(image)
    assert image.status == "active" and image.size == size and image.checksum == md5
    resp = conn.image.download_image(image, stream=True)
    out = tmp_path / "big.out"
    with open(out, "wb") as f:
        for chunk in resp.iter_content(MiB):
            f.write(chunk)
    after = _vm_hwm(image_cloud.pid)
    assert _md5_of(str(out)) == md5
    growth = after - before
    print(f"[{image_cloud.store}] 64 MiB up+down: server VmHWM {before / MiB:.1f} -> {after / MiB:.1f} MiB")
    assert growth < 32 * MiB, f"server peak memory grew by {growth / MiB:.1f} MiB for a {size / MiB:.0f} MiB image"
    conn.image.delete_image(image)


def test_osc_image_lifecycle(image_cloud: CumuloCloud, tmp_path: Any) -> None:
    # Random bytes: raw, since an upload is inspected (random bytes declared qcow2 are refused).
    osc = image_cloud.openstack
    conn = image_cloud.connect()
    src, md5 = _file(tmp_path / "cirros.raw", 3 * MiB + 17)
    created = osc("image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare",
                  "--public", "--property", "os_distro=cirros", "--property", "hw_disk_bus=virtio",
                  "--tag", "lifecycle", "--protected", "cirros-lc")
    assert created["status"] == "active"
    assert created["checksum"] == md5
    assert created["size"] == 3 * MiB + 17
    assert created["visibility"] == "public" and created["protected"] is True
    assert created["tags"] == ["lifecycle"]
    props = created["properties"]
    assert props["os_distro"] == "cirros" and props["os_hash_algo"] == "sha512"
    assert props["stores"] == image_cloud.store
    image_id = created["id"]
    other = conn.image.create_image(name="other-lc", disk_format="raw", container_format="bare",
                                    visibility="private")

    shown = osc("image", "show", "cirros-lc")
    assert shown["id"] == image_id and shown["disk_format"] == "raw" and shown["container_format"] == "bare"
    assert {"cirros-lc", "other-lc"} <= {i["Name"] for i in osc("image", "list")}
    filtered = osc("image", "list", "--public", "--tag", "lifecycle", "--property", "os_distro=cirros",
                   "--status", "active", "--name", "cirros-lc")
    assert [i["ID"] for i in filtered] == [image_id]
    assert [i["Name"] for i in osc("image", "list", "--private", "--limit", "5")] == ["other-lc"]

    saved = tmp_path / "saved.img"
    osc("image", "save", "--file", str(saved), "cirros-lc")
    assert _md5_of(str(saved)) == md5

    osc("image", "set", "--name", "cirros-renamed", "--property", "os_version=0.6", "--tag", "second",
        "--min-ram", "64", "--unprotected", "cirros-lc")
    shown = conn.image.get_image(image_id)
    assert shown.name == "cirros-renamed" and shown.min_ram == 64 and shown.is_protected is False
    assert shown.os_version == "0.6" and sorted(shown.tags) == ["lifecycle", "second"]
    osc("image", "unset", "--property", "os_version", "--tag", "second", image_id)
    shown = conn.image.get_image(image_id)
    assert shown.os_version is None and shown.tags == ["lifecycle"]

    conn.image.update_image(image_id, is_protected=True)
    with pytest.raises(CommandFailed) as err:
        osc("image", "delete", image_id)
    assert "protected" in err.value.stderr
    conn.image.update_image(image_id, is_protected=False)
    osc("image", "delete", image_id, other.id)
    assert not {image_id, other.id} & {i.id for i in conn.image.images()}
    assert image_id not in " ".join(_stored_names(image_cloud))


def test_osc_share_with_another_project(image_cloud: CumuloCloud, tmp_path: Any) -> None:
    osc = image_cloud.openstack
    conn = image_cloud.connect()
    project = conn.identity.create_project(name="image-demo", domain_id="default")
    user = conn.identity.create_user(name="image-demo", password="demo-secret", default_project_id=project.id,
                                     domain_id="default")
    conn.identity.assign_project_role_to_user(project, user, conn.identity.find_role("member"))
    image_cloud.add_user_cloud("image-demo", "image-demo", "demo-secret", "image-demo")
    demo = image_cloud.connect("image-demo")
    src, md5 = _file(tmp_path / "share.img", 100_000)
    image = osc("image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare", "to-share")
    assert image["visibility"] == "shared"
    assert image["id"] not in {i.id for i in demo.image.images()}

    member = osc("image", "add", "project", "to-share", "image-demo", json_out=True)
    assert member["status"] == "pending" and member["member_id"] == project.id
    osc("image", "set", "--accept", image["id"], os_cloud="image-demo")
    assert image["id"] in {i["ID"] for i in osc("image", "list", os_cloud="image-demo")}
    assert [(m.member_id, m.status) for m in conn.image.members(image["id"])] == [(project.id, "accepted")]

    saved = tmp_path / "member.img"
    osc("image", "save", "--file", str(saved), image["id"], os_cloud="image-demo")
    assert _md5_of(str(saved)) == md5
    with pytest.raises(Exception, match="403|not permitted"):  # members use an image, they do not change it
        demo.image.update_image(image["id"], name="mine")

    demo.image.update_member(project.id, image["id"], status="rejected")
    assert image["id"] not in {i.id for i in demo.image.images()}
    conn.image.remove_member(project.id, image["id"])
    with pytest.raises(Exception, match="could not be found"):
        demo.image.get_image(image["id"])
    conn.image.delete_image(image["id"])


def test_sdk_create_and_download(image_cloud: CumuloCloud, tmp_path: Any) -> None:
    src, md5 = _file(tmp_path / "sdk.img", 2 * MiB)
    conn = image_cloud.connect()
    image = conn.create_image("sdk-image", filename=src, disk_format="raw", container_format="bare",
                              wait=True, validate_checksum=True, tags=["sdk"], meta={"os_distro": "sdk"})
    assert image.status == "active" and image.checksum == md5
    out = tmp_path / "sdk.out"
    conn.download_image("sdk-image", output_file=str(out))
    assert _md5_of(str(out)) == md5
    full = conn.image.get_image(image.id)
    assert full.hash_algo == "sha512"
    with open(src, "rb") as f:
        assert full.hash_value == hashlib.sha512(f.read()).hexdigest()
    assert conn.delete_image("sdk-image", wait=True)


def test_bad_upload_fails_cleanly(image_cloud: CumuloCloud) -> None:
    conn = image_cloud.connect()
    image = conn.image.create_image(name="bad-upload", disk_format="raw", container_format="bare")
    url = f"/images/{image.id}/file"
    resp = conn.image.put(url, data=b"x" * 1000, headers={"Content-Type": "application/octet-stream",
                                                          "Content-MD5": hashlib.md5(b"other").hexdigest()},
                          raise_exc=False)
    assert resp.status_code == 400
    assert "checksum" in resp.json()["message"]
    assert conn.image.get_image(image.id).status == "killed"
    assert image.id not in " ".join(_stored_names(image_cloud))

    sized = conn.image.create_image(name="bad-size", disk_format="raw", container_format="bare")
    resp = conn.image.put(f"/images/{sized.id}/file", data=b"y" * 1000,
                          headers={"Content-Type": "application/octet-stream", "X-OpenStack-Image-Size": "999"},
                          raise_exc=False)
    assert resp.status_code == 400 and "size" in resp.json()["message"]
    assert conn.image.get_image(sized.id).status == "killed"
    resp = conn.image.put(f"/images/{sized.id}/file", data=b"z", raise_exc=False,
                          headers={"Content-Type": "application/octet-stream"})
    assert resp.status_code == 409
    for i in (image, sized):
        conn.image.delete_image(i)


def test_chunked_upload_through_the_server(image_cloud: CumuloCloud) -> None:
    """A body without Content-Length (Transfer-Encoding: chunked) streams through cheroot's wsgi.input."""
    conn = image_cloud.connect()
    image = conn.image.create_image(name="chunked", disk_format="raw", container_format="bare")
    pieces = [os.urandom(100_000) for _ in range(30)]
    url = conn.image.get_endpoint().rstrip("/") + f"/images/{image.id}/file"
    resp = requests.put(url, data=iter(pieces), timeout=60,
                        headers={"X-Auth-Token": conn.auth_token, "Content-Type": "application/octet-stream"})
    assert resp.status_code == 204, resp.text
    got = conn.image.get_image(image.id)
    data = b"".join(pieces)
    assert got.status == "active" and got.size == len(data) and got.checksum == hashlib.md5(data).hexdigest()
    ranged = requests.get(url, headers={"X-Auth-Token": conn.auth_token, "Range": "bytes=150000-150009"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == data[150_000:150_010]
    conn.image.delete_image(image)


def test_version_discovery(image_cloud: CumuloCloud) -> None:
    body = requests.get(image_cloud.url + "/image/versions", timeout=10).json()
    assert body["versions"][0]["status"] == "CURRENT"
    assert body["versions"][0]["links"][0]["href"] == image_cloud.url + "/image/v2/"
    root = requests.get(image_cloud.url + "/image/", timeout=10)
    assert root.status_code == 300
    conn = image_cloud.connect()
    assert conn.image.get_endpoint().rstrip("/").endswith("/image/v2")


@pytest.mark.parametrize("store", STORES)
def test_upload_interrupted_by_crash_is_recovered(make_cloud: Any, store: str) -> None:
    cloud = make_cloud(_config(store), name=f"crash-{store}")
    cloud.start()
    conn = cloud.connect()
    image = conn.image.create_image(name="crashy", disk_format="raw", container_format="bare")
    url = conn.image.get_endpoint().rstrip("/") + f"/images/{image.id}/file"
    release = threading.Event()

    def body() -> Any:
        yield b"a" * MiB
        release.wait(30)
        yield b"b" * MiB

    def send() -> None:
        try:
            requests.put(url, data=body(), timeout=30, headers={"X-Auth-Token": conn.auth_token,
                                                                "Content-Type": "application/octet-stream"})
        except requests.RequestException:
            pass  # the server died under it

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    deadline = time.monotonic() + 20
    while conn.image.get_image(image.id).status != "saving":
        assert time.monotonic() < deadline, "the upload never started"
        time.sleep(0.05)
    cloud.kill()
    release.set()
    sender.join(10)
    cloud.start()
    conn = cloud.connect()
    assert conn.image.get_image(image.id).status == "queued"
    assert not [n for n in _stored_names(cloud) if n.startswith(image.id)]
    resp = conn.image.put(f"/images/{image.id}/file", data=b"whole",
                          headers={"Content-Type": "application/octet-stream"}, raise_exc=False)
    assert resp.status_code == 204
    assert conn.image.get_image(image.id).status == "active"
    assert conn.image.download_image(image.id).content == b"whole"


@pytest.mark.skipif("compute" not in registry.names("api") or "hypervisor" not in registry.KINDS
                    or "fake" not in registry.names("hypervisor"),
                    reason="needs the compute API frontend and the fake hypervisor")
def test_boot_server_from_uploaded_image(image_cloud: CumuloCloud, tmp_path: Any) -> None:
    osc = image_cloud.openstack
    src, _ = _file(tmp_path / "boot.img", 1 * MiB)
    image = osc("image", "create", "--file", src, "--disk-format", "raw", "--container-format", "bare", "bootable")
    flavor = osc("flavor", "create", "--ram", "64", "--disk", "1", "--vcpus", "1", f"img-{image['id'][:8]}")
    server = osc("server", "create", "--image", image["id"], "--flavor", flavor["id"], "--wait", "from-image")
    assert server["status"] == "ACTIVE"
    shown = osc("server", "show", server["id"])
    assert image["id"] in json.dumps(shown["image"])
    osc("server", "delete", "--wait", server["id"])
    osc("image", "delete", image["id"])
