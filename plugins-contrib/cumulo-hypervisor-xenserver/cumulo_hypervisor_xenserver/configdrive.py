"""A minimal OpenStack config drive: an ISO 9660 image labelled ``config-2``, built in memory.

The kernel has no config-drive builder (the libvirt plugin has a full one,
which layering forbids importing); this one writes ``openstack/latest/`` and
``openstack/2012-08-10/`` with ``meta_data.json``, ``network_data.json`` and
``user_data``, enough for cloud-init's ConfigDrive source. It becomes a VDI
through the raw import handler.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import pycdlib

from cumulo.interfaces.hypervisor import VIF, Instance

VOLUME_LABEL = "config-2"
VERSIONS = ("2012-08-10", "latest")


def documents(instance: Instance, network_info: Sequence[VIF], admin_password: str | None) -> dict[str, bytes]:
    """Path inside the drive -> content."""
    meta: dict[str, Any] = {"uuid": instance.uuid, "name": instance.hostname or instance.name,
                            "hostname": instance.hostname or instance.name, "launch_index": 0,
                            "availability_zone": instance.availability_zone or "nova",
                            "project_id": instance.project_id, "meta": dict(instance.metadata)}
    if instance.key_data:
        meta["public_keys"] = {"default": instance.key_data}
    if admin_password:
        meta["admin_pass"] = admin_password
    links, networks = [], []
    for i, vif in enumerate(network_info):
        links.append({"id": f"tap{vif.id[:11]}", "type": "phy", "ethernet_mac_address": vif.mac_address,
                      "mtu": vif.mtu, "vif_id": vif.id})
        for j, ip in enumerate(vif.fixed_ips):
            net: dict[str, Any] = {"id": f"network{i}-{j}", "link": f"tap{vif.id[:11]}", "network_id": vif.network_id}
            if ip.dhcp:
                net["type"] = "ipv4_dhcp" if ip.version == 4 else "ipv6_dhcp"
            else:
                net.update(type=f"ipv{ip.version}", ip_address=ip.address,
                           netmask=str(ip.prefixlen) if ip.prefixlen is not None else "")
            networks.append(net)
    files = {}
    for version in VERSIONS:
        files[f"openstack/{version}/meta_data.json"] = json.dumps(meta, sort_keys=True).encode()
        files[f"openstack/{version}/network_data.json"] = json.dumps(
            {"links": links, "networks": networks, "services": []}, sort_keys=True).encode()
        if instance.user_data:
            files[f"openstack/{version}/user_data"] = instance.user_data
    return files


def build(instance: Instance, network_info: Sequence[VIF], admin_password: str | None) -> bytes:
    """The drive's bytes (ISO 9660 with Rock Ridge and Joliet names, so the long lower-case names survive)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, vol_ident=VOLUME_LABEL, rock_ridge="1.09", joliet=3)
    made: set[str] = set()
    try:
        for path, content in sorted(documents(instance, network_info, admin_password).items()):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in made:
                    iso.add_directory(_iso(directory), rr_name=parts[depth - 1],
                                      joliet_path="/" + directory)
                    made.add(directory)
            iso.add_fp(io.BytesIO(content), len(content), _iso(path) + ";1",
                       rr_name=parts[-1], joliet_path="/" + path)
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    finally:
        iso.close()


def _iso(path: str) -> str:
    """The ISO 9660 name of ``path`` (upper case, d-characters); Rock Ridge and Joliet keep the real one."""
    return "/" + path.upper().replace("-", "_")
