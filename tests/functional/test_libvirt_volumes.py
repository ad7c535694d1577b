"""A volume in real guests, end to end: ``cumulo up`` with the libvirt driver (QEMU, TCG here), the
``linuxbridge`` network driver and the ``file`` volume driver, driven by the unmodified ``openstack`` CLI.

The cloud is ``test_libvirt_guests``'s ``lv_cloud`` (the same fixture, loaded from that module, not
copied: its own cloud for this module); the volume area's default driver is ``file``, and since the
volume backend and the compute host are one host, a volume reaches the guest as its qcow2 file.

A server on a tenant network behind a router, with a floating IP, gets a new 1 GiB volume with
``server add volume``; inside the guest (its serial console, as an operator would type: the tiny
guest has no ssh) the disk with the volume's id as its serial is written and read back into the
guest's web root, which the host fetches through the floating IP. ``server remove volume`` lets it go,
a second server gets it and finds the data, and shows it through the same floating IP, moved to it.

Needs what ``test_libvirt_guests`` needs; skips (fails under ``CI``) the same way.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cumulo.testing.cloud import CumuloCloud
from cumulo.testing.fixtures import wait_for


def _guests_module() -> Any:
    path = os.path.join(os.path.dirname(__file__), "test_libvirt_guests.py")
    spec = importlib.util.spec_from_file_location("cumulo_functional_libvirt_guests", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_lv = _guests_module()
lv_cloud = _lv.lv_cloud  # a fixture: this module's own libvirt + linuxbridge cloud


def _volume_status(cloud: CumuloCloud, name: str) -> str:
    return str(cloud.openstack("volume", "show", name)["status"])


def _wait_volume(cloud: CumuloCloud, name: str, status: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        volume: dict[str, Any] = cloud.openstack("volume", "show", name)
        if volume["status"] == status:
            return volume
        if volume["status"] in ("error", "error_attaching", "error_detaching"):
            pytest.fail(f"volume {name} is {volume['status']}\n{cloud.log_tail(80)}")
        time.sleep(1)
    pytest.fail(f"volume {name} is {_volume_status(cloud, name)}, not {status}, after {timeout:.0f} s\n"
                f"{cloud.log_tail(80)}")


class Console:
    """The serial console of a cloud's server, through the machine's libvirtd (the cloud's)."""

    def __init__(self, server_id: str, name: str, password: str) -> None:
        import libvirt
        from cumulo_hypervisor_libvirt import events
        from cumulo_hypervisor_libvirt.serial_shell import SerialShell

        events.ensure_event_loop()
        self.conn = libvirt.open("qemu:///system")
        self.shell = SerialShell(self.conn, self.conn.lookupByUUIDString(server_id), name)
        self.shell.login(password=password)  # the adminPass the create returned, set from the config drive

    def close(self) -> None:
        self.shell.close()
        self.conn.close()


@pytest.fixture
def consoles() -> Iterator[list[Console]]:
    opened: list[Console] = []
    yield opened
    for console in opened:
        console.close()


def _fetch(address: str, path: str = "") -> str | None:
    """``http://<address>/<path>`` fetched from the outside namespace (where the external network's gateway is)."""
    proc = _lv._from_outside("curl", "-sf", "--max-time", "2", f"http://{address}/{path}")
    return proc.stdout if proc.returncode == 0 else None


def _publish(shell: Any, disk: str, length: int) -> None:
    """Put the first ``length`` bytes of ``disk`` in the guest's web root (its busybox httpd serves it)."""
    shell.run(f"head -c {length} /dev/{disk} > /var/www/volume.txt")


def test_a_volume_in_a_guest_behind_a_floating_ip_moves_to_another_guest(lv_cloud: CumuloCloud,
                                                                          consoles: list[Console]) -> None:
    cloud = lv_cloud
    osc = cloud.openstack
    osc("network", "create", "lvv-net")
    osc("subnet", "create", "--network", "lvv-net", "--subnet-range", "10.79.0.0/24", "lvv-sub")
    osc("router", "create", "lvv-router")
    osc("router", "set", "--external-gateway", "public", "lvv-router")
    osc("router", "add", "subnet", "lvv-router", "lvv-sub")
    osc("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80", "--remote-ip", "0.0.0.0/0",
        "default")
    passwords = {name: osc("server", "create", "--image", "tiny", "--flavor", "t1.tiny", "--network", "lvv-net",
                           name)["adminPass"] for name in ("lvv-a", "lvv-b")}
    volume = osc("volume", "create", "--size", "1", "lvv-vol")
    a = _lv._wait(cloud, "lvv-a", "ACTIVE")
    b = _lv._wait(cloud, "lvv-b", "ACTIVE")
    _wait_volume(cloud, "lvv-vol", "available")
    _lv._wait_marker(cloud, "lvv-a")
    _lv._wait_marker(cloud, "lvv-b")
    fip = osc("floating", "ip", "create", "public")["floating_ip_address"]
    osc("server", "add", "floating", "ip", "lvv-a", fip)
    assert wait_for(lambda: _fetch(fip), timeout=20)  # the guest answers through its floating IP

    # Attached to A: the guest finds the disk by its serial (the volume id) and writes to it.
    osc("server", "add", "volume", "lvv-a", "lvv-vol")
    attached = _wait_volume(cloud, "lvv-vol", "in-use")
    assert [x["server_id"] for x in attached["attachments"]] == [a["id"]]
    console = Console(a["id"], "lvv-a", passwords["lvv-a"])
    consoles.append(console)
    disk = console.shell.disk_with_serial(volume["id"])
    # the API names the device the guest has it as (the config drive holds vdb: the driver said so)
    listed = osc("server", "volume", "list", "lvv-a")
    assert wait_for(lambda: [v["Device"] for v in osc("server", "volume", "list", "lvv-a")] == [f"/dev/{disk}"],
                    timeout=20), (listed, disk)
    pattern = f"lvv-{secrets.token_hex(12)}"
    console.shell.run(f"printf '{pattern}' | dd of=/dev/{disk} bs=512 conv=sync 2>/dev/null; sync")
    _publish(console.shell, disk, len(pattern))
    assert _fetch(fip, "volume.txt") == pattern

    # Removed from A: the guest lets the disk go before the volume is available again.
    osc("server", "remove", "volume", "lvv-a", "lvv-vol")
    _wait_volume(cloud, "lvv-vol", "available")
    console.shell.run(f"[ ! -e /sys/block/{disk} ]")

    # Attached to B: the data is there; B shows it through the floating IP, moved to it.
    osc("server", "add", "volume", "lvv-b", "lvv-vol")
    attached = _wait_volume(cloud, "lvv-vol", "in-use")
    assert [x["server_id"] for x in attached["attachments"]] == [b["id"]]
    console = Console(b["id"], "lvv-b", passwords["lvv-b"])
    consoles.append(console)
    disk = console.shell.disk_with_serial(volume["id"])
    _publish(console.shell, disk, len(pattern))
    osc("server", "remove", "floating", "ip", "lvv-a", fip)
    osc("server", "add", "floating", "ip", "lvv-b", fip)
    assert wait_for(lambda: _fetch(fip, "volume.txt"), timeout=20) == pattern

    # Deleting B detaches the volume; nothing of the volume stays in libvirt.
    for name in ("lvv-a", "lvv-b"):
        osc("server", "delete", "--wait", name)
    _wait_volume(cloud, "lvv-vol", "available")
    osc("volume", "delete", "lvv-vol")
    wait_for(lambda: "lvv-vol" not in {v["Name"] for v in osc("volume", "list")}, timeout=60)
    osc("floating", "ip", "delete", fip)
    osc("router", "remove", "subnet", "lvv-router", "lvv-sub")
    osc("router", "delete", "lvv-router")
    osc("network", "delete", "lvv-net")
