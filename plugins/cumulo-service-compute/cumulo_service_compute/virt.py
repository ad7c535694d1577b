"""From the compute area's rows and the other areas' views to the hypervisor interface's records.

The manager hands a driver only records of :mod:`cumulo.interfaces.hypervisor`:
the instance with its flavor, its VIFs from the network contract's port records, and
an :class:`~cumulo.interfaces.hypervisor.ImageReader` over the image area's
data, verified against the image's checksum.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import Any

from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.network import InstancePort
from cumulo.interfaces.hypervisor import (
    VIF,
    FixedIP,
    Flavor,
    HostResources,
    ImageMeta,
    ImageReader,
    ImageVerificationError,
    Instance,
    StreamImageReader,
)


def flavor(view: Mapping[str, Any]) -> Flavor:
    """A flavor snapshot as the compute area keeps it (``ram``, ``disk``...) as a record."""
    return Flavor(id=str(view.get("id") or ""), name=str(view.get("name") or ""), vcpus=int(view.get("vcpus") or 0),
                  memory_mb=int(view.get("ram") or 0), root_gb=int(view.get("disk") or 0),
                  ephemeral_gb=int(view.get("ephemeral") or 0), swap_mb=int(view.get("swap") or 0),
                  extra_specs={str(k): str(v) for k, v in (view.get("extra_specs") or {}).items()})


def _user_data(text: str | None) -> bytes | None:
    if not text:
        return None
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode()


def instance(inst: Mapping[str, Any], flavor_view: Mapping[str, Any] | None = None) -> Instance:
    """An instance row (``objects.get_instance``) as the record a driver gets; ``flavor_view`` overrides its flavor."""
    size = flavor(flavor_view if flavor_view is not None else (inst.get("flavor") or {}))
    if flavor_view is None and not size.vcpus and inst.get("vcpus"):  # rows from before flavor snapshots
        size = dataclasses.replace(size, vcpus=int(inst.get("vcpus") or 0), memory_mb=int(inst.get("memory_mb") or 0),
                                   root_gb=int(inst.get("root_gb") or 0),
                                   ephemeral_gb=int(inst.get("ephemeral_gb") or 0))
    uuid = str(inst["uuid"])
    return Instance(uuid=uuid, name=str(inst.get("name") or f"instance-{uuid}"), flavor=size,
                    image_ref=inst.get("image_ref") or None, hostname=str(inst.get("hostname") or ""),
                    project_id=str(inst.get("project_id") or ""), user_id=str(inst.get("user_id") or ""),
                    user_data=_user_data(inst.get("user_data")),
                    metadata={str(k): str(v) for k, v in (inst.get("metadata") or {}).items()},
                    key_data=inst.get("key_data") or None,
                    config_drive=str(inst.get("config_drive") or "").lower() in ("true", "1", "yes"),
                    availability_zone=inst.get("availability_zone") or None)


def vifs(ports: Iterable[InstancePort]) -> list[VIF]:
    """The network contract's ports of an instance as the VIFs a driver plugs.

    MAC, fixed IPs, network, MTU (the network's) and the floating addresses come from the
    port; how to plug it from its binding: ``vif_type``, the host bridge (Neutron's
    ``bridge_name`` detail) and the host device (a ``devname`` detail, else Nova's
    ``tap`` + the port id's first 11 characters).
    """
    found = []
    for port in ports:
        details = {str(k): str(v) for k, v in port.vif_details.items()}
        fixed = tuple(FixedIP(address=ip.ip_address, subnet_id=ip.subnet_id, version=ip.version,
                              prefixlen=ip.prefixlen, gateway=ip.gateway, dns_nameservers=ip.dns_nameservers,
                              dhcp=ip.dhcp)
                      for ip in port.fixed_ips if ip.ip_address)
        found.append(VIF(id=port.id, mac_address=port.mac_address, network_id=port.network_id, fixed_ips=fixed,
                         floating_ips=tuple(f.floating_ip_address for f in port.floating_ips), mtu=port.mtu,
                         bridge=details.get("bridge_name"), vif_type=port.vif_type or "bridge",
                         devname=details.get("devname") or "tap" + port.id[:11], details=details))
    return found


def image_meta(image_ref: str | None, view: Mapping[str, Any] | None) -> ImageMeta:
    """The image area's view of an image (or only its id, when the image is gone) as a record."""
    view = view or {}
    props = {str(k): str(v) for k, v in (view.get("properties") or {}).items()}
    return ImageMeta(id=str(view.get("id") or image_ref or ""), name=str(view.get("name") or ""),
                     disk_format=str(view.get("disk_format") or "raw"),
                     container_format=str(view.get("container_format") or "bare"),
                     size=view.get("size"), checksum=view.get("checksum"), os_hash_algo=view.get("os_hash_algo"),
                     os_hash_value=view.get("os_hash_value"), min_disk=int(view.get("min_disk") or 0),
                     min_ram=int(view.get("min_ram") or 0), properties=props)


def image_reader(image_svc: Any, ctx: RequestContext, meta: ImageMeta, cache_dir: str) -> ImageReader:
    """A reader streaming the image's data from the image area (``hub.image.download``), on first use only.

    ``related(id)`` reads another image the same way, as the instance's owner sees it (AKI/ARI kernel and
    ramdisk): an image the owner cannot see is an :class:`ImageVerificationError`.
    """
    def open_stream() -> Iterable[bytes]:
        if image_svc is None:
            return iter(())
        return image_svc.download(ctx, meta.id)

    def open_related(image_id: str) -> ImageReader:
        if image_svc is None:
            raise ImageVerificationError(f"image {image_id}: no image service")
        try:
            view = dict(image_svc.get(ctx, image_id))
        except exception.NotFound:
            raise ImageVerificationError(f"image {image_id} (named by image {meta.id}) is not found") from None
        return image_reader(image_svc, ctx, image_meta(image_id, view), cache_dir)

    return StreamImageReader(meta, open_stream, cache_dir=cache_dir, open_related=open_related)


def image_cache_dir(state_path: str) -> str:
    return os.path.join(state_path, "compute", "images")


def resources(report: HostResources) -> dict[str, Any]:
    """A host's report as the dict the resource tracker and ``compute_nodes`` use."""
    values = dataclasses.asdict(report)
    values["supported_instances"] = [list(t) for t in report.supported_instances]
    return {k: v for k, v in values.items() if v is not None}
