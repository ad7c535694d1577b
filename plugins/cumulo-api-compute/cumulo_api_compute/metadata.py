"""The instance metadata service (OpenStack and EC2 formats).

Mounted at ``/compute/metadata`` (and, with the ``metadata`` frontend, at
``/metadata``). No token: the caller is an instance, and which one is decided
by something it cannot forge (Nova's rules, see
:mod:`cumulo.utils.metadata_proxy`):

* a metadata proxy's ``X-Instance-ID`` **with** a valid
  ``X-Instance-ID-Signature`` (HMAC-SHA256 keyed with ``[metadata]
  proxy_shared_secret``); a missing or wrong signature, or no secret
  configured, is 403. ``X-Tenant-ID``, when sent, must be the instance's
  project (else 404, as Nova). ``X-Forwarded-For`` is believed only here;
* otherwise the request's source address, looked up through the network
  service (the port that owns that fixed IP); no such port is 404.

* OpenStack: ``/openstack``, ``/openstack/latest/meta_data.json``,
  ``/openstack/latest/user_data``, ``/openstack/latest/network_data.json``,
  ``/openstack/latest/vendor_data.json`` (also under dated versions).
* EC2: ``/latest/meta-data/`` (``instance-id``, ``hostname``, ``local-ipv4``,
  ``public-keys/0/openssh-key``, ``placement/availability-zone``...),
  ``/latest/user-data``.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import webob

from cumulo import exception
from cumulo.conf import CONF
from cumulo.utils import metadata_proxy as proxy_auth
from cumulo.wsgi.middleware import pipeline

LOG = logging.getLogger(__name__)

OPENSTACK_VERSIONS = ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06",
                      "2017-02-22", "2018-08-27", "2020-10-14", "latest"]
EC2_VERSIONS = ["1.0", "2007-01-19", "2009-04-04", "latest"]


def _text(body: str, content_type: str = "text/plain") -> webob.Response:
    resp = webob.Response(content_type=content_type, charset="UTF-8")
    resp.text = body
    return resp


def _json(body: Any) -> webob.Response:
    return _text(json.dumps(body), "application/json")


def _user_data(inst: dict[str, Any]) -> bytes | None:
    raw = inst.get("user_data")
    if not raw:
        return None
    try:
        return base64.b64decode(raw, validate=False)
    except ValueError:
        return raw.encode()


def meta_data(inst: dict[str, Any]) -> dict[str, Any]:
    keys = {}
    if inst.get("key_name"):
        keys = {inst["key_name"]: inst.get("key_data") or ""}
    return {"uuid": inst["uuid"], "name": inst["display_name"], "hostname": inst.get("hostname") or "",
            "launch_index": inst.get("launch_index", 0), "availability_zone": inst.get("availability_zone") or "",
            "project_id": inst["project_id"], "meta": inst.get("metadata") or {},
            "public_keys": keys,
            "keys": [{"name": k, "type": "ssh", "data": d} for k, d in keys.items()],
            "devices": [], "random_seed": base64.b64encode(inst["uuid"].encode() * 8).decode()}


def network_data(inst: dict[str, Any]) -> dict[str, Any]:
    links, networks = [], []
    for i, p in enumerate(inst.get("ports") or []):
        link_id = f"tap{str(p.get('id', i))[:11]}"
        links.append({"id": link_id, "vif_id": p.get("id"), "type": "ovs", "mtu": p.get("mtu") or 1500,
                      "ethernet_mac_address": p.get("mac_address")})
        for j, ip in enumerate(p.get("fixed_ips") or []):
            v6 = ":" in (ip.get("ip_address") or "")
            networks.append({"id": f"network{i}-{j}", "link": link_id, "network_id": p.get("network_id"),
                             "type": "ipv6_dhcp" if v6 else "ipv4_dhcp", "ip_address": ip.get("ip_address")})
    return {"links": links, "networks": networks, "services": []}


def _fixed_ips(inst: dict[str, Any]) -> list[str]:
    return [ip.get("ip_address") for p in inst.get("ports") or [] for ip in p.get("fixed_ips") or []
            if ip.get("ip_address")]


def _floating_ips(inst: dict[str, Any]) -> list[str]:
    return [f.get("floating_ip_address") for p in inst.get("ports") or [] for f in p.get("floating_ips") or []]


def ec2_tree(inst: dict[str, Any]) -> dict[str, Any]:
    fixed, floating = _fixed_ips(inst), _floating_ips(inst)
    flavor = (inst.get("flavor") or {}).get("name", "")
    tree: dict[str, Any] = {
        "ami-id": inst.get("image_ref") or "", "ami-launch-index": str(inst.get("launch_index", 0)),
        "ami-manifest-path": "FIXME", "hostname": inst.get("hostname") or "",
        "instance-action": "none", "instance-id": inst["uuid"], "instance-type": flavor,
        "local-hostname": inst.get("hostname") or "", "local-ipv4": fixed[0] if fixed else "",
        "public-hostname": inst.get("hostname") or "", "public-ipv4": floating[0] if floating else "",
        "reservation-id": inst.get("reservation_id") or "",
        "security-groups": "\n".join(inst.get("security_groups") or []),
        "placement": {"availability-zone": inst.get("availability_zone") or ""},
        "block-device-mapping": {"ami": "vda", "root": "/dev/vda"},
    }
    if inst.get("key_name"):
        tree["public-keys"] = {"0": {"_name": inst["key_name"], "openssh-key": inst.get("key_data") or ""}}
    return tree


def _walk(tree: Any, parts: list[str]) -> webob.Response:
    node = tree
    for p in parts:
        if not p:
            continue
        if isinstance(node, dict) and p in node:
            node = node[p]
        elif isinstance(node, dict) and p.split("=")[0] in node:
            node = node[p.split("=")[0]]
        else:
            raise exception.NotFound(f"Metadata path {'/'.join(parts)} could not be found.")
    if isinstance(node, dict):
        lines = []
        for k, val in node.items():
            if k == "_name":
                continue
            if isinstance(val, dict) and "_name" in val:
                lines.append(f"{k}={val['_name']}")
            else:
                lines.append(k + "/" if isinstance(val, dict) else k)
        return _text("\n".join(lines))
    return _text(str(node))


class MetadataApp:
    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def _instance(self, req: webob.Request) -> dict[str, Any]:
        """The instance asking (see the module docstring); 403 or 404 when it cannot be told."""
        instance_id = req.headers.get(proxy_auth.INSTANCE_ID_HEADER)
        signature = req.headers.get(proxy_auth.SIGNATURE_HEADER)
        if instance_id is not None or signature is not None:
            if not proxy_auth.verify(instance_id, signature, proxy_auth.shared_secret(CONF)):
                LOG.warning("Metadata request from %s with an unsigned or badly signed %s header refused",
                            req.remote_addr, proxy_auth.INSTANCE_ID_HEADER)
                raise exception.Forbidden("Invalid proxy request signature.")
            inst = self.hub.compute.instance_for_metadata(instance_uuid=instance_id)
            tenant = req.headers.get(proxy_auth.TENANT_HEADER)
            if tenant is not None and tenant != inst["project_id"]:
                LOG.warning("Metadata proxy request: tenant %s does not own instance %s", tenant, instance_id)
                raise exception.NotFound("The metadata service cannot tell which instance is asking.")
            forwarded = req.headers.get(proxy_auth.FORWARDED_HEADER, "").split(",")[0].strip()
            LOG.debug("Metadata for %s through a signed proxy request (instance address %s)", instance_id,
                      forwarded or req.remote_addr)
            return inst
        # No proxy headers: the connection's own source address. An X-Forwarded-For here is
        # whatever the client wrote, so it is not believed.
        return self.hub.compute.instance_for_metadata(remote_address=req.remote_addr)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        req = webob.Request(environ)
        if req.method not in ("GET", "HEAD"):
            raise exception.Invalid(reason="The metadata service is read-only.")
        parts = [p for p in req.path_info.split("/") if p]
        if not parts:
            return _text("\n".join(EC2_VERSIONS + ["openstack"]))(environ, start_response)
        if parts[0] == "openstack":
            return self._openstack(req, parts[1:])(environ, start_response)
        if parts[0] in EC2_VERSIONS:
            return self._ec2(req, parts[1:])(environ, start_response)
        raise exception.NotFound(f"Metadata path {req.path_info} could not be found.")

    def _openstack(self, req: webob.Request, parts: list[str]) -> webob.Response:
        if not parts:
            return _text("\n".join(OPENSTACK_VERSIONS))
        if parts[0] not in OPENSTACK_VERSIONS:
            raise exception.NotFound(f"Metadata version {parts[0]} could not be found.")
        inst = self._instance(req)
        if len(parts) == 1:
            files = ["meta_data.json", "network_data.json", "vendor_data.json", "vendor_data2.json"]
            if inst.get("user_data"):
                files.append("user_data")
            return _text("\n".join(files))
        name = parts[1]
        if name == "meta_data.json":
            return _json(meta_data(inst))
        if name == "network_data.json":
            return _json(network_data(inst))
        if name in ("vendor_data.json", "vendor_data2.json"):
            return _json({})
        if name == "user_data":
            data = _user_data(inst)
            if data is None:
                raise exception.NotFound("This instance has no user data.")
            resp = webob.Response(content_type="application/octet-stream")
            resp.body = data
            return resp
        raise exception.NotFound(f"Metadata path {name} could not be found.")

    def _ec2(self, req: webob.Request, parts: list[str]) -> webob.Response:
        inst = self._instance(req)
        if not parts:
            return _text("meta-data/\nuser-data" if inst.get("user_data") else "meta-data/")
        if parts[0] == "user-data":
            data = _user_data(inst)
            if data is None:
                raise exception.NotFound("This instance has no user data.")
            resp = webob.Response(content_type="application/octet-stream")
            resp.body = data
            return resp
        if parts[0] == "meta-data":
            return _walk(ec2_tree(inst), parts[1:])
        raise exception.NotFound(f"Metadata path {'/'.join(parts)} could not be found.")


def build(hub: Any) -> Any:
    return pipeline(MetadataApp(hub))
