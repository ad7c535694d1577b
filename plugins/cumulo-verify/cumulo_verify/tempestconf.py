"""``tempest.conf`` from :class:`~cumulo_verify.probe.CloudFacts`: every value the cloud's, none guessed."""

from __future__ import annotations

import configparser
import dataclasses
import io
import os

from cumulo_verify.probe import SERVICE_OPTIONS, CloudFacts

# Seconds Tempest waits for a server, image or volume: the simulated drivers answer in well under one,
# so a missed transition fails in a minute instead of Tempest's default five.
BUILD_TIMEOUT = 120


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Where a run writes its files, and how it runs (not learnt from the cloud)."""

    workspace: str
    validation: bool = False  # SSH into guests: the simulated hypervisor has none
    build_timeout: int = BUILD_TIMEOUT


def _bool(value: bool) -> str:
    return "True" if value else "False"


def _list(values: tuple[str, ...] | list[str]) -> str:
    return ",".join(values)


def sections(facts: CloudFacts, settings: RunSettings) -> dict[str, dict[str, str]]:
    """The options, section by section (an ordered mapping: the file's order)."""
    creds = facts.credentials
    eps = facts.endpoints
    res = facts.resources
    conf: dict[str, dict[str, str]] = {
        "DEFAULT": {"log_file": os.path.join(settings.workspace, "tempest.log"), "debug": "True"},
        "oslo_concurrency": {"lock_path": os.path.join(settings.workspace, "lock")},
        "auth": {"use_dynamic_credentials": "True", "create_isolated_networks": _bool("network" in eps),
                 "admin_username": creds.username, "admin_password": creds.password,
                 "admin_project_name": creds.project_name, "admin_domain_name": creds.user_domain_name,
                 "default_credentials_domain_name": creds.user_domain_name},
        "identity": {"uri_v3": creds.auth_url, "auth_version": "v3", "region": creds.region,
                     "disable_ssl_certificate_validation": _bool(creds.auth_url.startswith("https"))},
        "identity-feature-enabled": {
            "api_v2": "False", "api_v3": "True",
            "api_extensions": _list(facts.identity_extensions),
            "trust": _bool("OS-TRUST" in facts.identity_extensions),
            "domain_specific_drivers": _bool(facts.domain_config_api)},
        "service_available": {option: "False" for option in sorted(set(SERVICE_OPTIONS.values()))},
    }
    conf["service_available"]["horizon"] = "False"
    for kind, option in SERVICE_OPTIONS.items():
        if kind in eps:
            conf["service_available"][option] = "True"
    if "compute" in eps:
        compute = {"region": creds.region, "min_microversion": facts.compute_min_microversion,
                   "max_microversion": facts.compute_max_microversion,
                   "build_timeout": str(settings.build_timeout),
                   # Multi-node tests (migrations, affinity) run only when the cloud says it has the hosts.
                   "min_compute_nodes": str(max(facts.compute_nodes, 1))}
        if res is not None:
            compute.update({"image_ref": res.image_ref, "image_ref_alt": res.image_ref_alt,
                            "flavor_ref": res.flavor_ref, "flavor_ref_alt": res.flavor_ref_alt})
        conf["compute"] = compute
        features = {k: _bool(v) for k, v in sorted(facts.compute_features.items())}
        # Encrypted volumes need a key manager (Barbican) in the catalog besides the volume service.
        features["attach_encrypted_volume"] = _bool(facts.volume_catalog_type is not None
                                                    and "key-manager" in eps)
        conf["compute-feature-enabled"] = features
    if "network" in eps:
        network = {"region": creds.region, "project_networks_reachable": "False",
                   "build_timeout": str(settings.build_timeout)}
        if res is not None:
            network.update({"public_network_id": res.public_network_id,
                            "floating_network_name": res.public_network_name})
        conf["network"] = network
        ext = facts.network_extensions
        conf["network-feature-enabled"] = {"api_extensions": _list(ext),
                                           "port_security": _bool("port-security" in ext),
                                           "floating_ips": _bool("router" in ext and "external-net" in ext)}
    if "image" in eps:
        conf["image"] = {"region": creds.region, "build_timeout": str(settings.build_timeout),
                         "disk_formats": _list(facts.image_disk_formats),
                         "container_formats": _list(facts.image_container_formats)}
        conf["image-feature-enabled"] = {
            "api_v2": "True",
            "import_image": _bool(bool(facts.image_import_methods)),
            "os_glance_reserved": _bool(facts.image_os_glance_reserved),
            "image_format_enforcement": _bool(facts.image_format_enforcement),
            "do_secure_hash": _bool(facts.image_secure_hash)}
    if "object-store" in eps:
        # Tempest's operator is "member" unless the cloud has Swift's own operator role.
        operator = "SwiftOperator" if "SwiftOperator" in facts.roles else "member"
        conf["object-storage"] = {"region": creds.region, "operator_role": operator}
        if "ResellerAdmin" in facts.roles:
            conf["object-storage"]["reseller_admin_role"] = "ResellerAdmin"
        info = facts.object_info
        conf["object-storage-feature-enabled"] = {
            "discoverability": _bool(bool(info)), "discoverable_apis": _list(info),
            "container_sync": _bool("container_sync" in info),
            "object_versioning": _bool("versioned_writes" in info)}
        for digest in ("sha256", "sha512", "sha1"):  # Tempest's default first, if the cloud allows it
            if digest in facts.tempurl_digests:
                conf["object-storage-feature-enabled"]["tempurl_digest_hashlib"] = digest
                break
    if facts.volume_catalog_type is not None:
        volume = {"region": creds.region, "catalog_type": facts.volume_catalog_type,
                  "build_timeout": str(settings.build_timeout)}
        if facts.volume_min_microversion and facts.volume_max_microversion:
            volume.update({"min_microversion": facts.volume_min_microversion,
                           "max_microversion": facts.volume_max_microversion})
        # Tempest's volume-type tests ask for a backend with these capabilities (iSCSI, "Open Source" by default)
        for key in ("storage_protocol", "vendor_name"):
            if facts.volume_pool.get(key):
                volume[key] = facts.volume_pool[key]
        conf["volume"] = volume
        # manage/unmanage only where the backend does it (the file driver: "source-name": "volume-<id>")
        conf["volume-feature-enabled"] = {"manage_volume": _bool(facts.volume_manage)}
    conf["validation"] = {"run_validation": _bool(settings.validation)}
    return conf


def render(facts: CloudFacts, settings: RunSettings) -> str:
    """The text of ``tempest.conf``."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keep option names as written
    for name, options in sections(facts, settings).items():
        if name != "DEFAULT":
            parser.add_section(name)
        for key, value in options.items():
            parser.set(name, key, value)
    out = io.StringIO()
    out.write("# Written by `cumulo verify` from the running cloud's catalog and probes.\n")
    parser.write(out)
    return out.getvalue()


def write(facts: CloudFacts, settings: RunSettings) -> str:
    """Write ``<workspace>/etc/tempest.conf`` (mode 0600: it holds the admin password); its path."""
    path = os.path.join(settings.workspace, "etc", "tempest.conf")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.makedirs(os.path.join(settings.workspace, "lock"), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(render(facts, settings))
    return path
