"""A real ``cumulo up`` with ``[compute] hypervisor_driver = xenserver`` on the XAPI simulator,
driven by the unmodified ``openstack`` CLI.

The simulator runs in this process; the cloud (a subprocess) logs in to it over
XML-RPC and moves image and snapshot bytes through its HTTP handlers. Each
step is checked on both sides: the server's status through the API, and the
VMs and VDIs the simulated pool holds.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from xapisim import XapiSimulator

from cumulo.testing.cloud import CumuloCloud

MiB = 1024 ** 2


@pytest.fixture(scope="module")
def pool() -> Iterator[XapiSimulator]:
    simulator = XapiSimulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def xen_cloud(pool: XapiSimulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CumuloCloud]:
    from cumulo import registry

    if "xenserver" not in registry.names("hypervisor"):
        pytest.fail("the cumulo-hypervisor-xenserver plugin is not installed in this environment")
    workdir = tmp_path_factory.mktemp("xen-cloud")
    cloud = CumuloCloud(workdir, config={
        "compute": {"hypervisor_driver": "xenserver", "max_attempts": 1},
        "xenserver": {"connection_url": pool.url, "connection_username": "root", "connection_password": "xenroot",
                      "default_network": "xenbr0", "task_poll_interval": 0.05, "shutdown_timeout": 2},
    })
    cloud.start(timeout=180)
    try:
        image = os.path.join(str(workdir), "disk.raw")
        with open(image, "wb") as f:
            f.write(os.urandom(2 * MiB))
        cloud.openstack("image", "create", "--disk-format", "raw", "--container-format", "bare", "--file", image,
                        "xen-raw")
        cloud.openstack("flavor", "create", "--ram", "256", "--vcpus", "1", "--disk", "0", "x1.small")
        cloud.openstack("flavor", "create", "--ram", "512", "--vcpus", "2", "--disk", "1", "x1.medium")
        yield cloud
    finally:
        try:
            for server in cloud.openstack("server", "list", "--all-projects"):
                cloud.openstack("server", "delete", "--wait", server["ID"], check=False)
        finally:
            cloud.stop()


def _show(cloud: CumuloCloud, name: str) -> dict[str, Any]:
    result: dict[str, Any] = cloud.openstack("server", "show", name)
    return result


def _wait(cloud: CumuloCloud, name: str, status: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    server = _show(cloud, name)
    while time.monotonic() < deadline:
        server = _show(cloud, name)
        if server["status"] == status and not server.get("OS-EXT-STS:task_state"):
            return server
        if server["status"] == "ERROR" and status != "ERROR":
            pytest.fail(f"{name} went to ERROR: {server.get('fault')}\n{cloud.log_tail(80)}")
        time.sleep(0.5)
    pytest.fail(f"{name} is {server['status']}/{server.get('OS-EXT-STS:task_state')}, not {status}, "
                f"after {timeout:.0f} s\n{cloud.log_tail(80)}")


def _vms(pool: XapiSimulator, uuid: str) -> dict[str, dict[str, Any]]:
    """The simulated pool's VMs (not snapshots) of instance ``uuid``, by name_label."""
    return {rec["name_label"]: rec for rec in pool.records("VM").values()
            if rec["other_config"].get("cumulo-instance-uuid") == uuid and not rec["is_a_snapshot"]}


def _instance_vdis(pool: XapiSimulator, uuid: str) -> list[str]:
    return [rec["name_label"] for rec in pool.records("VDI").values()
            if rec["other_config"].get("cumulo-instance-uuid") == uuid]


def test_a_server_through_its_life(xen_cloud: CumuloCloud, pool: XapiSimulator) -> None:
    cloud = xen_cloud
    cloud.openstack("server", "create", "--image", "xen-raw", "--flavor", "x1.small", "--nic", "none", "xs-one")
    server = _wait(cloud, "xs-one", "ACTIVE")
    uuid = server["id"]
    vms = _vms(pool, uuid)
    assert [rec["power_state"] for rec in vms.values()] == ["Running"], vms
    (vm_rec,) = vms.values()
    assert vm_rec["memory_static_max"] == str(256 * MiB) and vm_rec["VCPUs_max"] == "1"
    bases = [rec for rec in pool.records("VDI").values() if rec["other_config"].get("cumulo-image-id")]
    assert len(bases) == 1  # the image's cached base; the root disk is its copy-on-write clone
    root = next(rec for rec in pool.records("VDI").values() if rec["name_label"] == f"{vm_rec['name_label']} root")
    assert root["sm_config"].get("vhd-parent") == bases[0]["uuid"]
    assert "config drive" in " ".join(_instance_vdis(pool, uuid))
    assert "Linux version" in str(cloud.openstack("console", "log", "show", "xs-one", json_out=False))

    cloud.openstack("server", "reboot", "xs-one")
    _wait(cloud, "xs-one", "ACTIVE")
    cloud.openstack("server", "reboot", "--hard", "xs-one")
    _wait(cloud, "xs-one", "ACTIVE")
    assert "VM.hard_reboot" in pool.calls and "VM.clean_reboot" in pool.calls

    cloud.openstack("server", "stop", "xs-one")
    _wait(cloud, "xs-one", "SHUTOFF")
    assert [rec["power_state"] for rec in _vms(pool, uuid).values()] == ["Halted"]
    cloud.openstack("server", "start", "xs-one")
    _wait(cloud, "xs-one", "ACTIVE")
    assert [rec["power_state"] for rec in _vms(pool, uuid).values()] == ["Running"]

    cloud.openstack("server", "image", "create", "--name", "xs-snap", "--wait", "xs-one")
    snap = cloud.openstack("image", "show", "xs-snap")
    assert snap["status"] == "active" and snap["disk_format"] == "raw" and snap["size"] == 2 * MiB
    assert not [rec for rec in pool.records("VM").values() if rec["is_a_snapshot"]]  # exported, then dropped

    cloud.openstack("server", "resize", "--flavor", "x1.medium", "xs-one")
    _wait(cloud, "xs-one", "VERIFY_RESIZE")
    assert sorted(_vms(pool, uuid)) == [vm_rec["name_label"], vm_rec["name_label"] + "-orig"]
    cloud.openstack("server", "resize", "confirm", "xs-one")
    server = _wait(cloud, "xs-one", "ACTIVE")
    assert "x1.medium" in str(server["flavor"])
    (resized,) = _vms(pool, uuid).values()
    assert resized["VCPUs_max"] == "2" and resized["memory_static_max"] == str(512 * MiB)
    assert resized["power_state"] == "Running"
    roots = [rec for rec in pool.records("VDI").values()
             if rec["other_config"].get("cumulo-instance-uuid") == uuid and rec["virtual_size"] == str(1024 * MiB)]
    assert len(roots) == 1  # the root disk grew to the new flavor's 1 GiB

    # the snapshot boots: imported through the raw handler into a base VDI of its own
    cloud.openstack("server", "create", "--image", "xs-snap", "--flavor", "x1.small", "--nic", "none", "xs-two")
    two = _wait(cloud, "xs-two", "ACTIVE")

    for name, ident in (("xs-one", uuid), ("xs-two", two["id"])):
        cloud.openstack("server", "delete", "--wait", name)
        assert _vms(pool, ident) == {} and _instance_vdis(pool, ident) == []


def test_a_xapi_failure_mid_spawn_puts_the_server_in_error_and_leaves_nothing(xen_cloud: CumuloCloud,
                                                                               pool: XapiSimulator) -> None:
    cloud = xen_cloud
    vdis_before = set(pool.records("VDI"))
    pool.inject("VM.start", ["HOST_NOT_ENOUGH_FREE_MEMORY", "268435456", "0"])
    cloud.openstack("server", "create", "--image", "xen-raw", "--flavor", "x1.small", "--nic", "none", "xs-fail")
    server = _wait(cloud, "xs-fail", "ERROR")
    assert "HOST_NOT_ENOUGH_FREE_MEMORY" in str(server.get("fault")), server.get("fault")
    assert _vms(pool, server["id"]) == {}
    left = {ref: rec for ref, rec in pool.records("VDI").items() if ref not in vdis_before}
    assert all(rec["other_config"].get("cumulo-image-id") for rec in left.values()), left  # only a cached base
    cloud.openstack("server", "delete", "--wait", "xs-fail")
