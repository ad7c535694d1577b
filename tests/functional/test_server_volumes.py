"""Volumes of servers with the unmodified ``openstack`` CLI (and openstacksdk) against ``cumulo up``:
Compute and Block Storage together, the fake hypervisor, the ``file`` volume driver.

The fake hypervisor's hosts (``fake-1``...) are not the volume backend's host, so the volume
area exports each attached volume over NBD (TLS-PSK), as it would to a remote compute host.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cumulo import registry
from cumulo.testing.cloud import CommandFailed, CumuloCloud
from cumulo.testing.fixtures import stop_volume_exports, unavailable

FRONTENDS = ("identity", "compute", "image", "network", "volumev3")


def _name(prefix: str) -> str:
    return f"cvol-{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    import shutil

    missing = [t for t in ("qemu-img", "qemu-io", "qemu-nbd") if not shutil.which(t)]
    if missing:
        unavailable(f"{', '.join(missing)} not installed (tools/system-packages.sh installs qemu-utils)")
    if not set(FRONTENDS) <= set(registry.names("api")) or "volume" not in registry.names("service"):
        unavailable("needs the identity, compute, image, network and volumev3 frontends and the volume area")
    c = CumuloCloud(tmp_path_factory.mktemp("cvol-cloud"),
                    config={"api": {"frontends": ",".join(FRONTENDS)}, "volume": {"driver": "file"}})
    c.start()
    try:
        yield c
    finally:
        c.stop()
        stop_volume_exports(c.state_path)


@pytest.fixture(scope="module")
def osc(cloud: CumuloCloud) -> Callable[..., Any]:
    return cloud.openstack


@pytest.fixture(scope="module")
def image(osc: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("cvol-img") / "disk.raw"
    path.write_bytes(uuid.uuid4().bytes * 4096)
    made: dict[str, Any] = osc("image", "create", "--public", "--disk-format", "raw", "--container-format", "bare",
                               "--file", str(path), _name("img"))
    return made


def _until(what: Callable[[], Any], timeout: float = 60, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, message or "timed out"
        time.sleep(0.3)


def _volume_status(osc: Callable[..., Any], volume: str, status: str) -> dict[str, Any]:
    def seen() -> dict[str, Any] | None:
        shown: dict[str, Any] = osc("volume", "show", volume)
        return shown if shown["status"] == status else None
    return _until(seen, message=f"volume {volume} never became {status}")


def _server(osc: Callable[..., Any], image: dict[str, Any], *extra: str, name: str | None = None) -> dict[str, Any]:
    args = ["server", "create", "--flavor", "c1.nano", "--nic", "none", *extra]
    if image:
        args += ["--image", image["id"]]
    server: dict[str, Any] = osc(*args, "--wait", name or _name("vm"))
    assert server["status"] == "ACTIVE", server
    return server


def _fails(osc: Callable[..., Any], *args: str) -> str:
    with pytest.raises(CommandFailed) as err:
        osc(*args)
    return err.value.stderr + err.value.stdout


def test_add_and_remove_a_volume(osc: Callable[..., Any], image: dict[str, Any]) -> None:
    vname = _name("v1")
    vol = osc("volume", "create", "--size", "1", vname)
    _volume_status(osc, vol["id"], "available")
    server = _server(osc, image)

    osc("server", "add", "volume", server["id"], vname)
    shown = _volume_status(osc, vol["id"], "in-use")
    assert [a["server_id"] for a in shown["attachments"]] == [server["id"]]
    assert shown["attachments"][0]["device"] == "/dev/vdb"
    listed = osc("server", "volume", "list", server["id"])
    assert [(v["Volume ID"], v["Device"]) for v in listed] == [(vol["id"], "/dev/vdb")]
    details = osc("server", "show", server["id"])
    assert [v["id"] for v in details["volumes_attached"]] == [vol["id"]]

    # an in-use volume cannot go to another server: Nova's "Invalid volume" (400)
    other = _server(osc, image)
    out = _fails(osc, "server", "add", "volume", other["id"], vname)
    assert "Invalid volume" in out and "400" in out, out

    osc("server", "remove", "volume", server["id"], vname)
    shown = _volume_status(osc, vol["id"], "available")
    assert shown["attachments"] == []
    assert osc("server", "volume", "list", server["id"]) == []
    assert osc("server", "show", server["id"])["volumes_attached"] == []
    osc("server", "delete", "--wait", server["id"], other["id"])
    osc("volume", "delete", vol["id"])


def test_boot_from_a_new_volume_deleted_with_the_server(osc: Callable[..., Any], image: dict[str, Any]) -> None:
    server = _server(osc, image, "--boot-from-volume", "1", "--delete-on-termination")
    shown = osc("server", "show", server["id"])
    assert shown["image"] == "N/A (booted from volume)"  # the API's "" image, as the CLI prints it
    [root] = shown["volumes_attached"]
    volume = osc("volume", "show", root["id"])
    assert volume["status"] == "in-use" and str(volume["bootable"]).lower() == "true"
    assert volume["attachments"][0]["server_id"] == server["id"]
    assert volume["attachments"][0]["device"] == "/dev/vda"
    # the root volume cannot be detached (Nova's 400)
    out = _fails(osc, "server", "remove", "volume", server["id"], root["id"])
    assert "root device" in out, out

    osc("server", "delete", "--wait", server["id"])
    _until(lambda: root["id"] not in {v["ID"] for v in osc("volume", "list")},
           message="the delete_on_termination volume outlived its server")


def test_boot_from_an_existing_volume_keeps_it(osc: Callable[..., Any], image: dict[str, Any]) -> None:
    vol = osc("volume", "create", "--size", "1", "--image", image["id"], _name("boot"))
    _volume_status(osc, vol["id"], "available")
    server = _server(osc, {}, "--volume", vol["id"])
    assert osc("volume", "show", vol["id"])["status"] == "in-use"
    assert osc("server", "show", server["id"])["image"] == "N/A (booted from volume)"
    osc("server", "delete", "--wait", server["id"])
    _volume_status(osc, vol["id"], "available")
    osc("volume", "delete", vol["id"])


def test_an_unknown_boot_volume_is_a_400_and_no_server(osc: Callable[..., Any]) -> None:
    name = _name("nope")
    made_up = str(uuid.uuid4())
    out = _fails(osc, "server", "create", "--flavor", "c1.nano", "--nic", "none", "--block-device",
                 f"source_type=volume,uuid={made_up},destination_type=volume,boot_index=0", name)
    assert "Block Device Mapping is Invalid" in out and made_up in out and "400" in out, out
    assert name not in {s["Name"] for s in osc("server", "list")}


def test_openstacksdk_attaches_and_detaches(cloud: CumuloCloud, osc: Callable[..., Any],
                                            image: dict[str, Any]) -> None:
    conn = cloud.connect()
    vol = osc("volume", "create", "--size", "1", _name("sdk"))
    _volume_status(osc, vol["id"], "available")
    server = _server(osc, image)
    made = conn.compute.create_volume_attachment(server["id"], volume=vol["id"])
    assert made.volume_id == vol["id"] and made.device == "/dev/vdb"
    _volume_status(osc, vol["id"], "in-use")
    assert [a.volume_id for a in conn.compute.volume_attachments(server["id"])] == [vol["id"]]
    conn.compute.delete_volume_attachment(server["id"], vol["id"])
    _volume_status(osc, vol["id"], "available")
    osc("server", "delete", "--wait", server["id"])
    osc("volume", "delete", vol["id"])


def _alive_exports(state_path: str) -> list[int]:
    import glob
    import os

    alive = []
    for pidfile in glob.glob(os.path.join(state_path, "volumes", "exports", "*.pid")):
        try:
            with open(pidfile) as f:
                pid = int(f.read().strip())
            os.kill(pid, 0)
            alive.append(pid)
        except (OSError, ValueError):
            continue
    return alive


def test_a_crash_during_an_attach_leaves_nothing_attaching(tmp_path_factory: pytest.TempPathFactory) -> None:
    # The hypervisor takes 20 s to attach: the cloud is killed while the volume is exported to the
    # host but not yet in the guest. After the restart the volume is available again, the server has
    # no volume, and the export is gone.
    c = CumuloCloud(tmp_path_factory.mktemp("cvol-crash"),
                    config={"api": {"frontends": ",".join(FRONTENDS)}, "volume": {"driver": "file"},
                            "hypervisor_fake": {"operation_latency": "attach_volume:20"}})
    c.start()
    try:
        osc = c.openstack
        path = tmp_path_factory.mktemp("cvol-crash-img") / "disk.raw"
        path.write_bytes(uuid.uuid4().bytes * 4096)
        img = osc("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", str(path),
                  _name("img"))
        server = _server(osc, img)
        vol = osc("volume", "create", "--size", "1", _name("crash"))
        _volume_status(osc, vol["id"], "available")
        osc("server", "add", "volume", server["id"], vol["id"])
        _volume_status(osc, vol["id"], "in-use")  # exported; the hypervisor is still attaching
        assert osc("server", "volume", "list", server["id"])  # the mapping exists, attaching
        c.kill()
        c.start()
        shown = _volume_status(osc, vol["id"], "available")
        assert shown["attachments"] == []
        assert osc("server", "volume", "list", server["id"]) == []
        assert osc("server", "show", server["id"])["status"] == "ACTIVE"
        assert _until(lambda: not _alive_exports(c.state_path), timeout=20, message="an export outlived the crash")
        # and the volume attaches again normally (the hypervisor is slow, not broken)
        osc("server", "add", "volume", server["id"], vol["id"])
        _until(lambda: osc("server", "volume", "list", server["id"]), message="no attachment")
    finally:
        c.stop()
        stop_volume_exports(c.state_path)
