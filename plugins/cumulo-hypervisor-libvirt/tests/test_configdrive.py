"""Tests of :mod:`cumulo_hypervisor_libvirt.configdrive`: the documents, and the ISO read back with pycdlib."""

from __future__ import annotations

import io
import json
import os
import stat
from typing import Any

import pycdlib
import pytest
from cumulo_hypervisor_libvirt import configdrive

from cumulo.interfaces.hypervisor import VIF, FixedIP, Flavor, HypervisorError, Instance

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0ZyHs0e0eh2ZvxwQ3u3H7hQ7f8L5v8kqF1cQ2z9q3p alice@laptop"
UUID = "0b5b1b34-8c38-4d7e-9a77-5d1c6a2b9f10"

INSTANCE = Instance(uuid=UUID, name=f"instance-{UUID}", flavor=Flavor(id="1", name="m1.tiny", vcpus=1,
                                                                      memory_mb=256, root_gb=1),
                    hostname="web-1", project_id="p-42", user_id="u-7", user_data=b"#!/bin/sh\necho hi\n\x00\xff",
                    metadata={"role": "web"}, key_data=KEY, config_drive=True, availability_zone="zone-a")

VIFS = (
    VIF(id="port-aaaaaaaaaaaa-1", mac_address="fa:16:3e:00:00:01", network_id="net-1", mtu=1450,
        fixed_ips=(FixedIP(address="10.0.0.5", subnet_id="sub-1", prefixlen=24, gateway="10.0.0.1"),
                   FixedIP(address="fd00::5", subnet_id="sub-6", version=6, prefixlen=64, gateway="fd00::1")),
        details={"dns_nameservers": "10.0.0.2, 10.0.0.3"}),
    VIF(id="port-bbbbbbbbbbbb-2", mac_address="fa:16:3e:00:00:02", network_id="net-2", vif_type="ovs",
        devname="tapcustom", fixed_ips=(FixedIP(address="192.168.7.9", prefixlen=28),)),
)


def read_iso(path: str) -> tuple[str, dict[str, bytes]]:
    """The volume label and every file (by its Rock Ridge path) of an ISO, as pycdlib reads it."""
    iso = pycdlib.PyCdlib()
    iso.open(path)
    try:
        assert iso.has_rock_ridge() and iso.has_joliet()
        label = iso.pvd.volume_identifier.decode().strip()
        files: dict[str, bytes] = {}
        for root, _dirs, names in iso.walk(rr_path="/"):
            for name in names:
                full = f"{root.rstrip('/')}/{name}"
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, rr_path=full)
                files[full.lstrip("/")] = out.getvalue()
                joliet = io.BytesIO()
                iso.get_file_from_iso_fp(joliet, joliet_path=full)
                assert joliet.getvalue() == out.getvalue()
        return label, files
    finally:
        iso.close()


def test_build_writes_the_openstack_layout(tmp_path: Any) -> None:
    path = str(tmp_path / "inst" / "disk.config")
    configdrive.build(path, INSTANCE, VIFS, "s3cret")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert not os.path.exists(path + ".part")
    label, files = read_iso(path)
    assert label == "config-2"
    assert files == configdrive.metadata_documents(INSTANCE, VIFS, "s3cret")
    assert {"openstack/latest/meta_data.json", "openstack/latest/user_data", "openstack/latest/network_data.json",
            "openstack/latest/vendor_data.json", "openstack/latest/vendor_data2.json",
            "openstack/2012-08-10/meta_data.json", "openstack/2012-08-10/user_data"} <= set(files)
    assert files["openstack/latest/user_data"] == INSTANCE.user_data

    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta == {
        "uuid": UUID, "name": "web-1", "hostname": "web-1", "launch_index": 0, "availability_zone": "zone-a",
        "project_id": "p-42", "meta": {"role": "web"}, "admin_pass": "s3cret",
        "public_keys": {"default": KEY}, "keys": [{"name": "default", "type": "ssh", "data": KEY}],
        "devices": [], "dedicated_cpus": [],
    }
    assert json.loads(files["openstack/latest/vendor_data.json"]) == {}

    network = json.loads(files["openstack/latest/network_data.json"])
    assert network["links"] == [
        {"id": "tapport-aaaaaa", "vif_id": "port-aaaaaaaaaaaa-1", "type": "bridge", "mtu": 1450,
         "ethernet_mac_address": "fa:16:3e:00:00:01"},
        {"id": "tapcustom", "vif_id": "port-bbbbbbbbbbbb-2", "type": "ovs", "mtu": None,
         "ethernet_mac_address": "fa:16:3e:00:00:02"},
    ]
    dns = [{"type": "dns", "address": "10.0.0.2"}, {"type": "dns", "address": "10.0.0.3"}]
    assert network["networks"] == [
        {"id": "network0", "type": "ipv4", "link": "tapport-aaaaaa", "ip_address": "10.0.0.5",
         "netmask": "255.255.255.0", "network_id": "net-1", "services": dns,
         "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]},
        {"id": "network1", "type": "ipv6", "link": "tapport-aaaaaa", "ip_address": "fd00::5",
         "netmask": "ffff:ffff:ffff:ffff::", "network_id": "net-1", "services": dns,
         "routes": [{"network": "::", "netmask": "::", "gateway": "fd00::1"}]},
        {"id": "network2", "type": "ipv4", "link": "tapcustom", "ip_address": "192.168.7.9",
         "netmask": "255.255.255.240", "network_id": "net-2", "services": [], "routes": []},
    ]
    assert network["services"] == dns


def test_versions_carry_what_they_introduced() -> None:
    docs = configdrive.metadata_documents(INSTANCE, VIFS, None)
    versions = {name.split("/")[1] for name in docs}
    assert versions == {*configdrive.OPENSTACK_VERSIONS, "latest"}
    assert "openstack/2012-08-10/vendor_data.json" not in docs
    assert "openstack/2013-10-17/vendor_data.json" in docs
    assert "openstack/2013-10-17/network_data.json" not in docs
    assert "openstack/2015-10-15/network_data.json" in docs
    assert "openstack/2016-06-30/vendor_data2.json" not in docs
    assert "openstack/2016-10-06/vendor_data2.json" in docs
    folsom = json.loads(docs["openstack/2012-08-10/meta_data.json"])
    assert "project_id" not in folsom and "devices" not in folsom and "admin_pass" not in folsom
    assert json.loads(docs["openstack/2015-10-15/meta_data.json"])["project_id"] == "p-42"


def test_a_bare_instance() -> None:
    bare = Instance(uuid=UUID, name=f"instance-{UUID}", flavor=INSTANCE.flavor)
    docs = configdrive.metadata_documents(bare, (), None)
    assert not any(name.endswith("user_data") for name in docs)
    meta = json.loads(docs["openstack/latest/meta_data.json"])
    assert meta["hostname"] == meta["name"] == f"instance-{UUID}"
    assert meta["availability_zone"] == "nova"
    assert not {"meta", "public_keys", "keys", "admin_pass"} & set(meta)
    assert json.loads(docs["openstack/latest/network_data.json"]) == {"links": [], "networks": [], "services": []}


def test_an_address_without_a_prefix_is_dhcp() -> None:
    vif = VIF(id="port-c", mac_address="fa:16:3e:00:00:03", network_id="net-3", vif_type="midonet",
              fixed_ips=(FixedIP(address="10.1.0.4"),))
    network = configdrive.network_data([vif])
    assert network["links"][0]["type"] == "phy"
    assert network["networks"] == [{"id": "network0", "type": "ipv4_dhcp", "link": "tapport-c",
                                    "network_id": "net-3"}]


def test_an_unwritable_place_is_a_hypervisor_error(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(HypervisorError, match="config drive"):
        configdrive.build(str(blocker / "disk.config"), INSTANCE, VIFS, None)


def test_build_replaces_an_old_drive(tmp_path: Any) -> None:
    path = str(tmp_path / "disk.config")
    configdrive.build(path, INSTANCE, VIFS, "first")
    configdrive.build(path, INSTANCE, VIFS, None)
    _label, files = read_iso(path)
    assert "admin_pass" not in json.loads(files["openstack/latest/meta_data.json"])
    assert os.listdir(tmp_path) == ["disk.config"]
