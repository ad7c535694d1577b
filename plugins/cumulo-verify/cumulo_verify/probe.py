"""What a running cloud has, learnt from its catalog, its version documents and harmless probes.

Every fact Tempest's configuration needs comes from the cloud itself: the endpoints from the catalog,
the microversion range from the compute version document, the extensions from the extension lists,
and features that no document lists from requests that cannot change anything (an action on a
server that does not exist is refused as unknown or as "no such server"). The images and flavors
Tempest boots with are created when missing (:func:`ensure_resources`).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

# Tempest's [service_available] option for each catalog type it knows.
SERVICE_OPTIONS = {"compute": "nova", "image": "glance", "network": "neutron", "object-store": "swift",
                   "volumev3": "cinder", "block-storage": "cinder"}

# [compute-feature-enabled] option -> the server action (POST /servers/{id}/action) it needs.
COMPUTE_ACTIONS = {"pause": "pause", "suspend": "suspend", "rescue": "rescue", "resize": "resize",
                   "shelve": "shelve", "cold_migration": "migrate", "live_migration": "os-migrateLive",
                   "snapshot": "createImage", "change_password": "changePassword",
                   "console_output": "os-getConsoleOutput", "vnc_console": "os-getVNCConsole",
                   "spice_console": "os-getSPICEConsole", "serial_console": "os-getSerialConsole"}

# Identity extension -> a GET (relative to /v3, {user} the caller) that answers 2xx only where it exists.
IDENTITY_EXTENSIONS = {"OS-EC2": "/users/{user}/credentials/OS-EC2",
                       "OS-INHERIT": "/OS-INHERIT/domains/{domain}/users/{user}/roles/inherited_to_projects",
                       "OS-EP-FILTER": "/OS-EP-FILTER/endpoint_groups",
                       "OS-TRUST": "/OS-TRUST/trusts",
                       "OS-OAUTH1": "/OS-OAUTH1/consumers",
                       "OS-FEDERATION": "/OS-FEDERATION/identity_providers",
                       "OS-REVOKE": "/OS-REVOKE/events"}

IMAGE_NAMES = ("cumulo-verify", "cumulo-verify-alt")
# Two flavors with a disk: a zero-disk flavor cannot boot from an image for a non-admin (Nova policy).
FLAVORS = (("cumulo-verify-nano", 128, 1, 1), ("cumulo-verify-micro", 192, 1, 1))  # name, MiB, GiB, vCPUs
IMAGE_BYTES = 1024 * 1024  # a 1 MiB raw disk of zeros: valid raw, boots nothing, costs nothing


class ProbeError(Exception):
    """The cloud could not be reached or answered a probe in a way no OpenStack cloud would."""


@dataclasses.dataclass(frozen=True)
class Credentials:
    """The admin credentials of a clouds.yaml entry."""

    auth_url: str
    username: str
    password: str
    project_name: str
    user_domain_name: str
    project_domain_name: str
    region: str


@dataclasses.dataclass(frozen=True)
class Resources:
    """What Tempest boots with: two images and two flavors (ids), and the external network."""

    image_ref: str
    image_ref_alt: str
    flavor_ref: str
    flavor_ref_alt: str
    public_network_id: str
    public_network_name: str


@dataclasses.dataclass(frozen=True)
class CloudFacts:
    """Everything ``tempest.conf`` is written from."""

    credentials: Credentials
    endpoints: dict[str, str]  # catalog type -> public URL in the region
    identity_version: str  # "v3.14"
    identity_extensions: tuple[str, ...]
    domain_config_api: bool
    compute_min_microversion: str
    compute_max_microversion: str
    compute_features: dict[str, bool]  # [compute-feature-enabled] option -> value
    compute_nodes: int  # nova-compute services enabled and up
    volume_catalog_type: str | None  # block-storage or volumev3, None without a volume service
    volume_min_microversion: str | None
    volume_max_microversion: str | None
    network_extensions: tuple[str, ...]
    image_disk_formats: tuple[str, ...]
    image_container_formats: tuple[str, ...]
    image_import_methods: tuple[str, ...]
    image_os_glance_reserved: bool
    image_format_enforcement: bool
    image_secure_hash: bool
    object_info: tuple[str, ...]  # the middleware sections /info lists, "swift" excluded
    tempurl_digests: tuple[str, ...]  # /info's tempurl allowed_digests
    roles: tuple[str, ...]
    resources: Resources | None
    #: The first volume pool's capabilities Tempest writes into volume types' extra specs
    #: (``storage_protocol``, ``vendor_name``, ``volume_backend_name``); empty when not reported.
    volume_pool: dict[str, str] = dataclasses.field(default_factory=dict)
    #: The backend manages existing data (``manageable_volumes`` answers at 3.8): Tempest's manage tests run.
    volume_manage: bool = False


def connect(cloud: str, clouds_yaml: str | None = None, fallback: str | None = None) -> Any:
    """An openstacksdk connection to ``cloud`` from ``clouds_yaml`` (else the standard places, else ``fallback``).

    :raises ProbeError: no such cloud, or its configuration is unreadable.
    """
    import openstack
    import openstack.exceptions
    from openstack.config import loader

    candidates: list[list[str] | None] = [[clouds_yaml]] if clouds_yaml else [None]
    if fallback and not clouds_yaml:
        candidates.append([fallback])
    error: Exception | None = None
    for files in candidates:
        try:
            region = loader.OpenStackConfig(config_files=files).get_one(cloud=cloud)
        except openstack.exceptions.ConfigException as err:
            error = error or err
            continue
        return openstack.connection.Connection(config=region)
    raise ProbeError(f"cloud {cloud!r}: {error}")


def credentials(conn: Any) -> Credentials:
    """The password credentials ``conn`` was made from (Tempest's admin).

    :raises ProbeError: the cloud entry does not authenticate with a user name and password.
    """
    auth = conn.config.config.get("auth", {})
    missing = [k for k in ("auth_url", "username", "password", "project_name") if not auth.get(k)]
    if missing:
        raise ProbeError(f"the cloud entry has no {', '.join(missing)}: Tempest needs password credentials")
    domain = auth.get("user_domain_name") or auth.get("domain_name") or "Default"
    auth_url = auth["auth_url"].rstrip("/")
    if not auth_url.endswith("/v3"):
        auth_url += "/v3"
    return Credentials(auth_url=auth_url, username=auth["username"], password=auth["password"],
                       project_name=auth["project_name"], user_domain_name=domain,
                       project_domain_name=auth.get("project_domain_name") or domain,
                       region=conn.config.get_region_name() or "RegionOne")


def _get(conn: Any, url: str, **kw: Any) -> Any:
    return conn.session.get(url, raise_exc=False, **kw)


def _json(conn: Any, url: str) -> Any:
    """The JSON document at ``url`` (authenticated).

    :raises ProbeError: not a 2xx JSON answer.
    """
    resp = _get(conn, url)
    if not 200 <= resp.status_code < 300:
        raise ProbeError(f"GET {url}: {resp.status_code} {resp.text[:200]}")
    try:
        return resp.json()
    except ValueError:
        raise ProbeError(f"GET {url}: not JSON: {resp.text[:200]}") from None


def endpoints(conn: Any, region: str) -> dict[str, str]:
    """Catalog type -> public URL in ``region``, from the token's catalog."""
    out: dict[str, str] = {}
    for service in conn.session.auth.get_access(conn.session).service_catalog.catalog:
        for ep in service.get("endpoints", []):
            if ep.get("interface") == "public" and ep.get("region_id", ep.get("region")) in (region, None):
                out.setdefault(service["type"], ep["url"])
    return out


def _root(url: str, marker: str) -> str:
    """``url`` cut before ``marker`` (``/v2.1`` of a compute endpoint: the unversioned root)."""
    i = url.find(marker)
    return url[:i] if i >= 0 else url.rstrip("/")


def _identity(conn: Any, creds: Credentials) -> tuple[str, tuple[str, ...], bool]:
    doc = _json(conn, creds.auth_url)
    version = doc.get("version", {}).get("id", "v3")
    user = conn.current_user_id
    found = []
    for name, path in IDENTITY_EXTENSIONS.items():
        url = creds.auth_url + path.format(user=user, domain="default")
        if 200 <= _get(conn, url).status_code < 300:
            found.append(name)
    domain_config = 200 <= _get(conn, creds.auth_url + "/domains/config/default").status_code < 300
    return version, tuple(found), domain_config


def _compute(conn: Any, url: str) -> tuple[str, str, dict[str, bool]]:
    doc = _json(conn, _root(url, "/v2.1") + "/v2.1")["version"]
    nobody = f"{url.rstrip('/')}/servers/{uuid.uuid4()}"
    features: dict[str, bool] = {}
    for option, action in COMPUTE_ACTIONS.items():
        resp = conn.session.post(nobody + "/action", json={action: {}}, raise_exc=False)
        # Unknown actions are "There is no such action" (400); a known one is 404 (no such server) or
        # 400 for its body: either way it exists.
        features[option] = not (resp.status_code == 400 and "no such action" in resp.text.lower())
    features["block_migration_for_live_migration"] = features["live_migration"]  # one path in Cumulo's drivers
    resp = conn.session.post(nobody + "/os-interface", json={"interfaceAttachment": {}}, raise_exc=False)
    features["interface_attach"] = resp.status_code not in (404, 405) or "could not be found" in resp.text
    return doc.get("min_version") or "2.1", doc.get("version") or "2.1", features


def _image(conn: Any, url: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], bool, bool]:
    v2 = _root(url, "/v2") + "/v2"
    schema = _json(conn, v2 + "/schemas/image")["properties"]
    disk = tuple(f for f in schema.get("disk_format", {}).get("enum", []) if f)
    container = tuple(f for f in schema.get("container_format", {}).get("enum", []) if f)
    resp = _get(conn, v2 + "/info/import")
    methods: tuple[str, ...] = ()
    if resp.status_code == 200:
        methods = tuple(resp.json().get("import-methods", {}).get("value", []))
    # Glance refuses os_glance_* properties (403) on create; a cloud that takes one does not reserve them.
    name = f"cumulo-verify-probe-{uuid.uuid4().hex[:8]}"
    resp = conn.session.post(v2 + "/images", json={"name": name, "os_glance_verify_probe": "1"}, raise_exc=False)
    reserved = resp.status_code == 403
    if resp.status_code == 201:
        conn.session.delete(f"{v2}/images/{resp.json()['id']}", raise_exc=False)
    # Format enforcement: data that is not qcow2 uploaded as qcow2 must be refused.
    resp = conn.session.post(v2 + "/images", json={"name": name, "disk_format": "qcow2",
                                                   "container_format": "bare"}, raise_exc=False)
    if resp.status_code != 201:
        raise ProbeError(f"POST {v2}/images: {resp.status_code} {resp.text[:200]}")
    image_id = resp.json()["id"]
    try:
        put = conn.session.put(f"{v2}/images/{image_id}/file", data=b"\0" * 4096,
                               headers={"Content-Type": "application/octet-stream"}, raise_exc=False)
        status = _json(conn, f"{v2}/images/{image_id}").get("status")
        enforced = put.status_code >= 400 or status != "active"
    finally:
        conn.session.delete(f"{v2}/images/{image_id}", raise_exc=False)
    return disk, container, methods, reserved, enforced


def _object_info(conn: Any, url: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    resp = _get(conn, _root(url, "/v1") + "/info", authenticated=False)
    if resp.status_code != 200:
        return (), ()
    info = resp.json()
    digests = tuple(info.get("tempurl", {}).get("allowed_digests", []))
    return tuple(sorted(k for k in info if k != "swift")), digests


def _volume(conn: Any, eps: dict[str, str]) -> tuple[str | None, str | None, str | None]:
    kind = next((k for k in ("block-storage", "volumev3") if k in eps), None)
    if kind is None:
        return None, None, None
    # The unversioned root lists the versions (GET /volume/ without a token, as Cinder's).
    resp = _get(conn, _root(eps[kind], "/v3") + "/", authenticated=False)
    versions = resp.json().get("versions", []) if resp.status_code in (200, 300) else []
    v3: dict[str, Any] = next((v for v in versions if str(v.get("id", "")).startswith("v3")), {})
    return kind, v3.get("min_version") or None, v3.get("version") or None


def _volume_pool(conn: Any, url: str) -> dict[str, str]:
    """The first pool's capabilities (``scheduler-stats/get_pools?detail=true``, an admin call)."""
    resp = _get(conn, url.rstrip("/") + "/scheduler-stats/get_pools?detail=true")
    pools = resp.json().get("pools", []) if resp.status_code == 200 else []
    caps = (pools[0].get("capabilities") or {}) if pools else {}
    return {k: str(caps[k]) for k in ("storage_protocol", "vendor_name", "volume_backend_name") if caps.get(k)}


def _volume_manage(conn: Any, url: str) -> bool:
    resp = _get(conn, url.rstrip("/") + "/manageable_volumes", headers={"OpenStack-API-Version": "volume 3.8"})
    return bool(resp.status_code == 200)


def _compute_nodes(conn: Any, url: str) -> int:
    doc = _json(conn, url.rstrip("/") + "/os-services?binary=nova-compute")
    return sum(1 for s in doc.get("services", []) if s.get("state") == "up" and s.get("status") == "enabled")


def ensure_resources(conn: Any, image_ids: tuple[str, str] | None = None,
                     flavor_ids: tuple[str, str] | None = None) -> Resources:
    """Tempest's two images, two flavors and external network: the ones given, else ours, created if missing.

    :raises ProbeError: the cloud has no external network, or creating an image or a flavor failed.
    """
    import openstack.exceptions

    try:
        if image_ids is None:
            ids = []
            for name in IMAGE_NAMES:
                found = [i for i in conn.image.images(name=name) if i.status == "active"]
                image = found[0] if found else conn.image.create_image(
                    name=name, data=b"\0" * IMAGE_BYTES, disk_format="raw", container_format="bare",
                    visibility="public", allow_duplicates=True, wait=True)
                ids.append(image.id)
            image_ids = (ids[0], ids[1])
        if flavor_ids is None:
            fids = []
            existing = {f.name: f for f in conn.compute.flavors(is_public=None)}
            for name, ram, disk, vcpus in FLAVORS:
                flavor = existing.get(name) or conn.compute.create_flavor(name=name, ram=ram, disk=disk,
                                                                          vcpus=vcpus, is_public=True)
                fids.append(flavor.id)
            flavor_ids = (fids[0], fids[1])
        external = [n for n in conn.network.networks(is_router_external=True)]
    except openstack.exceptions.SDKException as err:
        raise ProbeError(f"creating Tempest's images and flavors: {err}") from None
    if not external:
        raise ProbeError("the cloud has no external network (router:external): Tempest's routers need one")
    external.sort(key=lambda n: (not n.is_default, n.name))
    return Resources(image_ref=image_ids[0], image_ref_alt=image_ids[1], flavor_ref=flavor_ids[0],
                     flavor_ref_alt=flavor_ids[1], public_network_id=external[0].id,
                     public_network_name=external[0].name)


def probe(conn: Any, resources: Resources | None = None) -> CloudFacts:
    """Learn what the cloud behind ``conn`` has (``resources`` from :func:`ensure_resources`).

    :raises ProbeError: the cloud cannot be reached, or a version document or schema is missing.
    """
    import keystoneauth1.exceptions

    try:
        creds = credentials(conn)
        eps = endpoints(conn, creds.region)
        identity = _identity(conn, creds)
        compute = _compute(conn, eps["compute"]) if "compute" in eps else ("2.1", "2.1", {})
        network: tuple[str, ...] = ()
        if "network" in eps:
            doc = _json(conn, _root(eps["network"], "/v2.0") + "/v2.0/extensions")
            network = tuple(sorted(e["alias"] for e in doc.get("extensions", [])))
        image = _image(conn, eps["image"]) if "image" in eps else ((), (), (), False, False)
        objects = _object_info(conn, eps["object-store"]) if "object-store" in eps else ((), ())
        nodes = _compute_nodes(conn, eps["compute"]) if "compute" in eps else 0
        volume = _volume(conn, eps)
        pool = _volume_pool(conn, eps[volume[0]]) if volume[0] is not None else {}
        manage = _volume_manage(conn, eps[volume[0]]) if volume[0] is not None else False
        roles = tuple(sorted(r["name"] for r in _json(conn, creds.auth_url + "/roles").get("roles", [])))
    except keystoneauth1.exceptions.ClientException as err:
        raise ProbeError(f"probing the cloud: {err}") from None
    secure_hash = False
    if resources is not None and "image" in eps:
        doc = _json(conn, f"{_root(eps['image'], '/v2')}/v2/images/{resources.image_ref}")
        secure_hash = bool(doc.get("os_hash_algo") and doc.get("os_hash_value"))
    return CloudFacts(credentials=creds, endpoints=eps, identity_version=identity[0],
                      identity_extensions=identity[1], domain_config_api=identity[2],
                      compute_min_microversion=compute[0], compute_max_microversion=compute[1],
                      compute_features=compute[2], compute_nodes=nodes,
                      volume_catalog_type=volume[0], volume_min_microversion=volume[1],
                      volume_max_microversion=volume[2], network_extensions=network,
                      image_disk_formats=image[0], image_container_formats=image[1],
                      image_import_methods=image[2], image_os_glance_reserved=image[3],
                      image_format_enforcement=image[4], image_secure_hash=secure_hash,
                      object_info=objects[0], tempurl_digests=objects[1], roles=roles, resources=resources,
                      volume_pool=pool, volume_manage=manage)
