"""The config drive: an ISO 9660 disk, labelled ``config-2``, carrying the instance's metadata.

A guest configures itself from it with no metadata server (cloud-init's
ConfigDrive data source, the tiny guest's init). The layout is the one Nova
writes: ``openstack/<version>/`` for every OpenStack metadata version and
``latest``, each holding ``meta_data.json``, ``user_data`` (when the server
has some), ``vendor_data.json``, ``network_data.json`` and
``vendor_data2.json`` from the versions that introduced them.
:func:`metadata_documents` builds the documents (pure); :func:`build` writes
the disk with pycdlib (ISO 9660 with Joliet and Rock Ridge names, so any guest
OS reads the lower-case, long file names).
"""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
from collections.abc import Sequence
from typing import Any

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from cumulo.interfaces.hypervisor import VIF, FixedIP, HypervisorError, Instance

__all__ = ["OPENSTACK_VERSIONS", "VOLUME_LABEL", "build", "metadata_documents"]

VOLUME_LABEL = "config-2"

_FOLSOM, _GRIZZLY, _HAVANA, _LIBERTY = "2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15"
_NEWTON_ONE, _NEWTON_TWO, _OCATA, _ROCKY, _VICTORIA = (
    "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27", "2020-10-14")

#: The dated OpenStack metadata versions, oldest first; ``latest`` follows them on the drive.
OPENSTACK_VERSIONS = (_FOLSOM, _GRIZZLY, _HAVANA, _LIBERTY, _NEWTON_ONE, _NEWTON_TWO, _OCATA, _ROCKY, _VICTORIA)

#: The availability zone a server reports when it was given none (Nova's default zone name).
_DEFAULT_ZONE = "nova"
#: VIF types a guest is told as such in network_data.json (Nova's LEGACY_EXPOSED_VIF_TYPES); others are ``phy``.
_EXPOSED_VIF_TYPES = ("bridge", "dvs", "hw_veb", "hyperv", "ovs", "tap", "vhostuser", "vif")
#: A VIF detail listing DNS servers (comma or space separated): the VIF record has no field for them.
DNS_DETAIL = "dns_nameservers"
#: The key pair's name is not part of the instance record; the key is published under this one.
_KEY_NAME = "default"


def metadata_documents(instance: Instance, network_info: Sequence[VIF],
                       admin_password: str | None) -> dict[str, bytes]:
    """Every file of the config drive: its path inside the drive -> its content.

    ``meta_data.json`` carries ``uuid``, ``name``, ``hostname``,
    ``launch_index``, ``availability_zone``, ``meta`` (the server's metadata,
    when it has some), ``public_keys`` and ``keys`` (when it has a key pair),
    ``admin_pass`` (when given), and from the versions that added them
    ``project_id`` and ``devices``. ``network_data.json`` describes each VIF
    (see :func:`network_data`). Nova's ``random_seed`` is left out: the
    documents are a pure function of their inputs.
    """
    network = _json(network_data(network_info))
    docs: dict[str, bytes] = {}
    for version in (*OPENSTACK_VERSIONS, "latest"):
        base = f"openstack/{version}/"
        docs[base + "meta_data.json"] = _json(_meta_data(instance, admin_password, version))
        if instance.user_data is not None:
            docs[base + "user_data"] = bytes(instance.user_data)
        if _since(_HAVANA, version):
            docs[base + "vendor_data.json"] = _json({})
        if _since(_LIBERTY, version):
            docs[base + "network_data.json"] = network
        if _since(_NEWTON_TWO, version):
            docs[base + "vendor_data2.json"] = _json({})
    return docs


def network_data(network_info: Sequence[VIF]) -> dict[str, Any]:
    """``network_data.json``: ``links`` (one per VIF), ``networks`` and ``services``, as Nova renders them.

    Each VIF's first IPv4 and first IPv6 fixed address become a network of
    type ``ipv4``/``ipv6`` with its netmask and a default route through the
    gateway; an address whose prefix length is unknown becomes ``ipv4_dhcp``
    (``ipv6_dhcp``), since the guest cannot configure it statically. DNS
    servers are the subnets' (or the VIF's ``dns_nameservers`` detail).
    """
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, str]] = []
    for vif in network_info:
        link_id = vif.tap_name
        links.append({"id": link_id, "vif_id": vif.id,
                      "type": vif.vif_type if vif.vif_type in _EXPOSED_VIF_TYPES else "phy",
                      "mtu": vif.mtu, "ethernet_mac_address": vif.mac_address})
        dns = [{"type": "dns", "address": address} for address in _dns_servers(vif)]
        for version in (4, 6):
            fixed = next((ip for ip in vif.fixed_ips if ip.version == version), None)
            if fixed is None:
                continue
            networks.append(_network(f"network{len(networks)}", link_id, vif, fixed, dns))
            services.extend(entry for entry in dns if entry not in services)
    return {"links": links, "networks": networks, "services": services}


def build(path: str, instance: Instance, network_info: Sequence[VIF], admin_password: str | None) -> None:
    """Write the config drive of ``instance`` to ``path``, replaced atomically (mode 0600: it may hold a password).

    :raises HypervisorError: the drive cannot be written.
    """
    documents = metadata_documents(instance, network_info, admin_password)
    part = path + ".part"
    iso = pycdlib.PyCdlib()
    try:
        # Interchange level 4 (ISO 9660:1999) keeps the real names in the primary tree too.
        iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=VOLUME_LABEL)
        made: set[str] = set()
        for name, content in sorted(documents.items()):
            parts = name.split("/")
            for depth in range(1, len(parts)):
                folder = "/" + "/".join(parts[:depth])
                if folder not in made:
                    iso.add_directory(folder, rr_name=parts[depth - 1], joliet_path=folder)
                    made.add(folder)
            iso.add_fp(io.BytesIO(content), len(content), "/" + name, rr_name=parts[-1], joliet_path="/" + name)
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            iso.write_fp(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, path)
    except (OSError, PyCdlibException) as err:
        raise HypervisorError(f"cannot write the config drive of {instance.uuid} to {path}: {err}") from err
    finally:
        iso.close()
        if os.path.exists(part):
            os.unlink(part)


def _meta_data(instance: Instance, admin_password: str | None, version: str) -> dict[str, Any]:
    hostname = instance.hostname or instance.name
    meta: dict[str, Any] = {"uuid": instance.uuid}
    if instance.metadata:
        meta["meta"] = dict(instance.metadata)
    if instance.key_data:
        meta["public_keys"] = {_KEY_NAME: instance.key_data}
        meta["keys"] = [{"name": _KEY_NAME, "type": _key_type(instance.key_data), "data": instance.key_data}]
    if admin_password is not None:
        meta["admin_pass"] = admin_password
    meta.update(hostname=hostname, name=hostname, launch_index=0,
                availability_zone=instance.availability_zone or _DEFAULT_ZONE)
    if _since(_LIBERTY, version):
        meta["project_id"] = instance.project_id
    if _since(_NEWTON_ONE, version):
        meta["devices"] = []  # device role tags: none are known to the driver
    if _since(_VICTORIA, version):
        meta["dedicated_cpus"] = []
    return meta


def _network(net_id: str, link_id: str, vif: VIF, fixed: FixedIP, dns: list[dict[str, str]]) -> dict[str, Any]:
    kind = f"ipv{fixed.version}"
    if fixed.prefixlen is None:
        return {"id": net_id, "type": kind + "_dhcp", "link": link_id, "network_id": vif.network_id}
    iface = ipaddress.ip_interface(f"{fixed.address}/{fixed.prefixlen}")
    anywhere = "0.0.0.0" if fixed.version == 4 else "::"
    routes = [{"network": anywhere, "netmask": anywhere, "gateway": fixed.gateway}] if fixed.gateway else []
    return {"id": net_id, "type": kind, "link": link_id, "ip_address": fixed.address,
            "netmask": str(iface.network.netmask), "routes": routes, "network_id": vif.network_id,
            "services": dns}


def _dns_servers(vif: VIF) -> list[str]:
    """The subnets' DNS servers (FixedIP.dns_nameservers), else a ``dns_nameservers`` detail of the VIF."""
    found = [d for ip in vif.fixed_ips for d in ip.dns_nameservers]
    found += [s for s in re.split(r"[,\s]+", vif.details.get(DNS_DETAIL, "")) if s]
    return list(dict.fromkeys(found))


def _key_type(key: str) -> str:
    return "x509" if key.lstrip().startswith("-----BEGIN CERTIFICATE") else "ssh"


def _since(introduced: str, version: str) -> bool:
    return version == "latest" or version >= introduced  # ISO dates compare as strings


def _json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True).encode()
