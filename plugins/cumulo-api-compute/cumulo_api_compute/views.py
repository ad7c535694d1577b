"""Rendering: the compute contract's views (:mod:`cumulo.contracts.compute`) -> Nova JSON, by negotiated microversion."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Mapping
from typing import Any

from cumulo.contracts.compute import (
    AggregateView,
    AvailabilityZoneView,
    FlavorView,
    HypervisorServerView,
    HypervisorView,
    InstanceActionView,
    InterfaceAttachmentView,
    KeypairView,
    ServerGroupView,
    ServerSecurityGroupView,
    ServerView,
    ServiceView,
    VmStates,
    VolumeAttachmentView,
)
from cumulo.contracts.compute.servers import AUTO_DISK_CONFIG
from cumulo.wsgi.microversion import APIVersion


def v(text: str) -> APIVersion:
    return APIVersion.parse(text)


def iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def iso_us(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return None if value is None else str(value)


def links(base: str, collection: str, ident: str) -> list[dict[str, str]]:
    root = base.rsplit("/v2.1", 1)[0]
    return [{"rel": "self", "href": f"{base}/{collection}/{ident}"},
            {"rel": "bookmark", "href": f"{root}/{collection}/{ident}"}]


def addresses(ports: list[dict[str, Any]], extended: bool = True) -> dict[str, list[dict[str, Any]]]:
    """A server's addresses by network name; ``extended`` adds the ``OS-EXT-IPS`` type and MAC of each."""
    out: dict[str, list[dict[str, Any]]] = {}
    for p in ports or []:
        name = p.get("network_name") or p.get("network_id") or "network"
        entries = out.setdefault(name, [])
        found = [(ip.get("ip_address"), ip.get("version"), "fixed") for ip in p.get("fixed_ips") or []]
        found += [(fip.get("floating_ip_address"), None, "floating") for fip in p.get("floating_ips") or []]
        for addr, version, kind in found:
            entry: dict[str, Any] = {"version": version or (6 if addr and ":" in addr else 4), "addr": addr}
            if extended:
                entry.update({"OS-EXT-IPS:type": kind, "OS-EXT-IPS-MAC:mac_addr": p.get("mac_address")})
            entries.append(entry)
    return out


def canonical_ip(value: str | None) -> str:
    """An access IP as Nova answers it: canonical (``2001:DB8:0::1`` is ``2001:db8::1``), "" when unset."""
    if not value:
        return ""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:  # a value stored before addresses were validated: shown as it is
        return value


#: The statuses Nova shows a server's ``progress`` in.
PROGRESS_STATUSES = ("ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING")


def disk_config(inst: ServerView) -> str:
    """Nova's ``OS-DCF:diskConfig``: AUTO when set so (create, update, rebuild, resize), MANUAL otherwise."""
    return "AUTO" if (inst.get("system_metadata") or {}).get(AUTO_DISK_CONFIG) == "True" else "MANUAL"


def server_brief(base: str, inst: ServerView) -> dict[str, Any]:
    return {"id": inst["uuid"], "name": inst["display_name"], "links": links(base, "servers", inst["uuid"])}


def flavor_in_server(base: str, inst: ServerView, ver: APIVersion) -> dict[str, Any]:
    f = inst.get("flavor") or {}
    if ver >= v("2.47"):
        out: dict[str, Any] = {"vcpus": f.get("vcpus", inst["vcpus"]), "ram": f.get("ram", inst["memory_mb"]),
               "disk": f.get("disk", inst["root_gb"]), "ephemeral": f.get("ephemeral", 0),
               "swap": f.get("swap", 0), "original_name": f.get("original_name") or f.get("name")}
        out["extra_specs"] = dict(f.get("extra_specs") or {})
        return out
    fid = str(f.get("id", ""))
    root = base.rsplit("/v2.1", 1)[0]
    return {"id": fid, "links": [{"rel": "bookmark", "href": f"{root}/flavors/{fid}"}]}


#: Where a server is rendered: Nova shows less in the update and rebuild answers below 2.75.
SHOW, LIST, UPDATE, REBUILD = "show", "list", "update", "rebuild"


def server_detail(base: str, inst: ServerView, ver: APIVersion, admin: bool,
                  groups: list[str] | None = None, kind: str = SHOW) -> dict[str, Any]:
    """One server as Nova renders it for ``kind`` (:data:`SHOW`, :data:`LIST`, :data:`UPDATE`, :data:`REBUILD`).

    Below 2.75 the update and rebuild answers carry only the common server keys and the
    microversion additions every view has (Nova's ``show`` with its extensions off: no
    ``OS-EXT-*``, ``OS-SRV-USG:*``, ``key_name``, ``security_groups``, extended addresses);
    rebuild adds ``key_name`` from 2.54 and ``user_data`` from 2.57. ``server_groups`` (2.71)
    is in show, update and rebuild, not in the detailed list.
    """
    root = base.rsplit("/v2.1", 1)[0]
    image = ({"id": inst["image_ref"], "links": [{"rel": "bookmark", "href": f"{root}/images/{inst['image_ref']}"}]}
             if inst.get("image_ref") else "")
    full = kind in (SHOW, LIST) or ver >= v("2.75")
    out: dict[str, Any] = {
        "id": inst["uuid"], "name": inst["display_name"], "status": inst["status"],
        "tenant_id": inst["project_id"], "user_id": inst["user_id"], "metadata": inst.get("metadata") or {},
        "hostId": inst.get("host_id", ""), "image": image, "flavor": flavor_in_server(base, inst, ver),
        "created": iso(inst["created_at"]), "updated": iso(inst.get("updated_at") or inst["created_at"]),
        "addresses": addresses(inst.get("ports") or [], extended=full),
        "accessIPv4": canonical_ip(inst.get("access_ip_v4")), "accessIPv6": canonical_ip(inst.get("access_ip_v6")),
        "links": links(base, "servers", inst["uuid"]), "OS-DCF:diskConfig": disk_config(inst),
    }
    if inst["status"] in PROGRESS_STATUSES:  # as Nova: progress only while it means something
        out["progress"] = inst.get("progress") or 0
    if full:
        out.update({
            "OS-EXT-AZ:availability_zone": inst.get("availability_zone") or "",
            "config_drive": inst.get("config_drive") or "", "key_name": inst.get("key_name"),
            "OS-SRV-USG:launched_at": iso_us(inst.get("launched_at")),
            "OS-SRV-USG:terminated_at": iso_us(inst.get("terminated_at")),
            "OS-EXT-STS:task_state": inst.get("task_state"), "OS-EXT-STS:vm_state": inst["vm_state"],
            "OS-EXT-STS:power_state": inst.get("power_state") or 0,
            "os-extended-volumes:volumes_attached": volumes_attached(inst, ver),
        })
        if inst.get("security_groups"):  # as Nova: no key for a server in no group
            out["security_groups"] = [{"name": n} for n in inst.get("security_groups") or []]
    if full and admin:
        out["OS-EXT-SRV-ATTR:host"] = inst.get("host")
        out["OS-EXT-SRV-ATTR:instance_name"] = inst.get("name") or ""
        out["OS-EXT-SRV-ATTR:hypervisor_hostname"] = inst.get("node")
        if ver >= v("2.3"):
            out.update({"OS-EXT-SRV-ATTR:reservation_id": inst.get("reservation_id"),
                        "OS-EXT-SRV-ATTR:launch_index": inst.get("launch_index", 0),
                        "OS-EXT-SRV-ATTR:hostname": inst.get("hostname") or "", "OS-EXT-SRV-ATTR:kernel_id": "",
                        "OS-EXT-SRV-ATTR:ramdisk_id": "", "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                        "OS-EXT-SRV-ATTR:user_data": inst.get("user_data")})
    if ver >= v("2.9"):
        out["locked"] = bool(inst.get("locked"))
    if ver >= v("2.16") and admin and full:
        out["host_status"] = inst.get("host_status", "")
    if ver >= v("2.19"):
        out["description"] = inst.get("display_description")
    if ver >= v("2.26"):
        out["tags"] = list(inst.get("tags") or [])
    if kind == REBUILD and ver >= v("2.54"):
        out["key_name"] = inst.get("key_name")
    if kind == REBUILD and ver >= v("2.57"):
        # the rebuild answer's own key (2.75 drops the admin's OS-EXT-SRV-ATTR:user_data from it)
        out.pop("OS-EXT-SRV-ATTR:user_data", None)
        out["user_data"] = inst.get("user_data")
    if ver >= v("2.63"):
        out["trusted_image_certificates"] = None
    if ver >= v("2.71") and kind != LIST:
        out["server_groups"] = list(groups or [])
    if ver >= v("2.73"):
        out["locked_reason"] = inst.get("locked_reason")
    fault = inst.get("fault")
    if fault and inst["vm_state"] in (VmStates.ERROR, VmStates.DELETED):
        f = {"code": fault["code"], "created": iso(fault["created"]), "message": fault["message"]}
        if admin or fault["code"] != 500:
            f["details"] = fault.get("details") or ""
        out["fault"] = f
    return out


def flavor(base: str, f: FlavorView, ver: APIVersion, brief: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"id": f["id"], "name": f["name"], "links": links(base, "flavors", f["id"])}
    if ver >= v("2.55"):
        out["description"] = f.get("description")
    if brief:
        return out
    out.update({"ram": f["ram"], "disk": f["disk"], "vcpus": f["vcpus"], "OS-FLV-EXT-DATA:ephemeral": f["ephemeral"],
                "OS-FLV-DISABLED:disabled": f["disabled"], "rxtx_factor": f["rxtx_factor"],
                "swap": f["swap"] if (f["swap"] or ver >= v("2.75")) else "",
                "os-flavor-access:is_public": f["is_public"]})
    if ver >= v("2.61"):
        out["extra_specs"] = dict(f.get("extra_specs") or {})
    return out


def keypair(k: KeypairView, ver: APIVersion, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"]}
    if ver >= v("2.2"):
        out["type"] = k["type"]
    if full:
        out.update({"user_id": k["user_id"], "created_at": iso_us(k["created_at"]), "deleted": False,
                    "deleted_at": None, "updated_at": iso_us(k.get("updated_at")), "id": k["id"]})
    if "private_key" in k:
        out["private_key"] = k["private_key"]
        out["user_id"] = k["user_id"]
    return out


def server_group(g: ServerGroupView, ver: APIVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"id": g["id"], "name": g["name"], "members": g["members"]}
    if ver >= v("2.64"):
        out["policy"] = g["policy"]
        out["rules"] = g["rules"] or {}
    else:
        out["policies"] = [g["policy"]]
        out["metadata"] = {}
    if ver >= v("2.13"):
        out["project_id"] = g["project_id"]
        out["user_id"] = g["user_id"]
    return out


LEGACY_QUOTAS = {"fixed_ips": -1, "floating_ips": -1, "security_group_rules": -1, "security_groups": -1}
FILE_QUOTAS = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def quota_set(project_id: str, values: Mapping[str, Any], ver: APIVersion, with_id: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": project_id} if with_id else {}
    for k, val in values.items():
        if k in FILE_QUOTAS and ver >= v("2.57"):
            continue
        out[k] = val
    if ver < v("2.36"):
        detail = any(isinstance(x, dict) for x in values.values())
        for k, lim in LEGACY_QUOTAS.items():
            out[k] = {"limit": lim, "in_use": 0, "reserved": 0} if detail else lim
    return out


def volumes_attached(inst: ServerView, ver: APIVersion) -> list[dict[str, Any]]:
    """A server's ``os-extended-volumes:volumes_attached``: each volume's id (``delete_on_termination`` from 2.3)."""
    out = []
    for a in inst.get("volumes_attached") or []:
        item: dict[str, Any] = {"id": a["volume_id"]}
        if ver >= v("2.3"):
            item["delete_on_termination"] = a["delete_on_termination"]
        out.append(item)
    return out


def volume_attachment(a: VolumeAttachmentView, ver: APIVersion, created: bool = False) -> dict[str, Any]:
    """A volume attachment (``os-volume_attachments``) as Nova renders it at ``ver``.

    ``tag`` from 2.70, ``delete_on_termination`` from 2.79; from 2.89 the list and show drop ``id``
    (the volume's id again) for ``attachment_id`` and ``bdm_uuid``; the answer to an attach
    (``created``) keeps ``id``.
    """
    out: dict[str, Any] = {"device": a["device"], "serverId": a["server_id"], "volumeId": a["volume_id"]}
    if created or ver < v("2.89"):
        out["id"] = a["volume_id"]
    if ver >= v("2.70"):
        out["tag"] = a["tag"]
    if ver >= v("2.79"):
        out["delete_on_termination"] = a["delete_on_termination"]
    if ver >= v("2.89") and not created:
        out["attachment_id"] = a["attachment_id"]
        out["bdm_uuid"] = a["id"]
    return out


def interface_attachment(i: InterfaceAttachmentView, ver: APIVersion) -> dict[str, Any]:
    """An interface attachment (``os-interface``); its device ``tag`` from microversion 2.70."""
    out: dict[str, Any] = {"port_id": i["port_id"], "net_id": i["net_id"], "mac_addr": i["mac_addr"],
                           "port_state": i["port_state"],
                           "fixed_ips": [{"subnet_id": ip["subnet_id"], "ip_address": ip["ip_address"]}
                                         for ip in i["fixed_ips"]]}
    if ver >= v("2.70"):
        out["tag"] = i["tag"]
    return out


def server_security_groups(groups: list[ServerSecurityGroupView]) -> list[dict[str, Any]]:
    """A server's security groups as Nova shows them: Neutron's ingress rules in Nova's rule shape."""
    names = {g["id"]: g for g in groups if "id" in g}
    return [{"id": g.get("id", ""), "name": g["name"], "description": g.get("description", ""),
             "tenant_id": g.get("project_id", ""),
             "rules": [security_group_rule(r, names) for r in g.get("security_group_rules", [])
                       if r.get("direction") == "ingress"]}
            for g in groups]


def security_group_rule(rule: Mapping[str, Any], groups: Mapping[str, ServerSecurityGroupView]) -> dict[str, Any]:
    """One Neutron rule as Nova's ``os-security-groups`` shows it (Nova's own conversion, as its neutron driver).

    A peer group is named only when it is one of the server's (``groups`` by id): the frontend
    reaches the network area through ``hub.compute`` only.
    """
    protocol = rule.get("protocol")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if protocol and low is None and high is None:  # a whole protocol: Nova spells out its range
        low, high = (1, 65535) if str(protocol).upper() in ("TCP", "UDP") else (-1, -1)
    out: dict[str, Any] = {"id": rule["id"], "parent_group_id": rule.get("security_group_id"),
                           "ip_protocol": protocol, "from_port": low, "to_port": high, "group": {}, "ip_range": {}}
    peer_id = rule.get("remote_group_id")
    if peer_id:
        peer = groups.get(peer_id)
        out["group"] = {"name": peer["name"] if peer else None,
                        "tenant_id": peer.get("project_id") if peer else rule.get("project_id")}
    else:
        out["ip_range"] = {"cidr": rule.get("remote_ip_prefix") or "0.0.0.0/0"}
    return out


#: The service binaries the compute area registers, by the name Nova gives them (``os-services``, zones).
NOVA_BINARIES = {"cumulo-compute": "nova-compute", "cumulo-scheduler": "nova-scheduler",
                 "cumulo-conductor": "nova-conductor"}
_CUMULO_BINARIES = {nova: ours for ours, nova in NOVA_BINARIES.items()}


def nova_binary(binary: str) -> str:
    """A service binary as Nova names it (``cumulo-compute`` is ``nova-compute``; others as they are)."""
    return NOVA_BINARIES.get(binary, binary)


def cumulo_binary(binary: str) -> str:
    """The binary a client names (Nova's name or ours) as the service records hold it."""
    return _CUMULO_BINARIES.get(binary, binary)


def availability_zone(z: AvailabilityZoneView) -> dict[str, Any]:
    """A zone with its hosts' services (the detailed list), their times as strings."""
    hosts = z["hosts"]
    if hosts is None:
        return dict(z)
    return {**z, "hosts": {host: {nova_binary(binary): {**svc, "updated_at": iso_us(svc["updated_at"])}
                                  for binary, svc in services.items()}
                           for host, services in hosts.items()}}


def hypervisor(h: HypervisorView, ver: APIVersion, detail: bool, servers: list[HypervisorServerView] | None = None,
               index: int | None = None) -> dict[str, Any]:
    hid: Any = h["id"] if ver >= v("2.53") else index
    out: dict[str, Any] = {"id": hid, "hypervisor_hostname": h["hypervisor_hostname"], "state": h["state"],
                           "status": h["status"]}
    if detail:
        out.update({"hypervisor_type": h["hypervisor_type"], "hypervisor_version": h["hypervisor_version"],
                    "host_ip": h["host_ip"],
                    "service": {"host": h["host"], "id": h["service"]["id"] if ver >= v("2.53") else index,
                                "disabled_reason": h["service"]["disabled_reason"]}})
        if ver < v("2.88"):
            import json

            cpu = h.get("cpu_info")
            if ver >= v("2.28"):
                try:
                    cpu = json.loads(cpu) if isinstance(cpu, str) else cpu
                except ValueError:
                    pass
            out.update({"vcpus": h["vcpus"], "memory_mb": h["memory_mb"], "local_gb": h["local_gb"],
                        "vcpus_used": h["vcpus_used"], "memory_mb_used": h["memory_mb_used"],
                        "local_gb_used": h["local_gb_used"], "free_ram_mb": h["memory_mb"] - h["memory_mb_used"],
                        "free_disk_gb": h["local_gb"] - h["local_gb_used"], "current_workload": 0,
                        "running_vms": h["running_vms"], "disk_available_least": h["local_gb"] - h["local_gb_used"],
                        "cpu_info": cpu})
        else:
            out["uptime"] = None
    if servers is not None:
        out["servers"] = servers
    return out


def service(s: ServiceView, ver: APIVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"id": s["uuid"] if ver >= v("2.53") else s["id"], "binary": nova_binary(s["binary"]),
                           "host": s["host"],
           "zone": s.get("availability_zone", "nova"), "status": s["status"], "state": s["state"],
           "updated_at": iso_us(s.get("last_seen_up") or s.get("updated_at")),
           "disabled_reason": s.get("disabled_reason")}
    if ver >= v("2.11"):
        out["forced_down"] = bool(s.get("forced_down"))
    return out


def aggregate(a: AggregateView, ver: APIVersion) -> dict[str, Any]:
    out: dict[str, Any] = {"id": a["id"], "name": a["name"], "availability_zone": a["availability_zone"], "hosts": a["hosts"],
           "metadata": a["metadata"], "created_at": iso_us(a["created_at"]), "updated_at": iso_us(a["updated_at"]),
           "deleted": False, "deleted_at": None}
    if ver >= v("2.41"):
        out["uuid"] = a["uuid"]
    return out


def instance_action(a: InstanceActionView, ver: APIVersion, admin: bool, events: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"action": a["action"], "instance_uuid": a["instance_uuid"], "request_id": a["request_id"],
           "user_id": a["user_id"], "project_id": a["project_id"], "start_time": iso_us(a["start_time"]),
           "message": a["message"]}
    if ver >= v("2.58"):
        out["updated_at"] = iso_us(a["updated_at"])
    if events:
        evs: list[dict[str, Any]] = []
        for e in a.get("events", []):
            ev: dict[str, Any] = {"event": e["event"], "start_time": iso_us(e["start_time"]),
                  "finish_time": iso_us(e["finish_time"]), "result": e["result"]}
            if admin:
                ev["traceback"] = e["traceback"]
            if ver >= v("2.62"):
                import hashlib

                ev["hostId"] = hashlib.sha224(((a["project_id"] or "") + (e["host"] or "")).encode()).hexdigest() \
                    if e["host"] else ""
                if admin:
                    ev["host"] = e["host"]
            if ver >= v("2.84"):
                ev["details"] = e.get("details")
            evs.append(ev)
        out["events"] = evs
    return out
