"""``GET /extensions`` and ``GET /extensions/{alias}``: the legacy (v2) extension names, for old clients.

Microversions replaced extensions; Nova still answers with a fixed list of the v2 extension names.
Cumulo lists those of Nova's names whose feature it serves (every microversion's).
"""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request
from cumulo_api_compute.controllers.base import Controller, Route

#: ``(alias, name, what it is)`` of the v2 extensions Cumulo serves, by Nova's alias and name.
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("NMN", "Multinic", "The addFixedIp and removeFixedIp server actions."),
    ("OS-DCF", "DiskConfig", "The OS-DCF:diskConfig attribute of servers and images."),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "The availability zone of a server."),
    ("OS-EXT-IMG-SIZE", "ImageSize", "The size of an image in the image proxy."),
    ("OS-EXT-IPS", "ExtendedIps", "The type of each address of a server."),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "The MAC address of each address of a server."),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "A server's host and hypervisor attributes."),
    ("OS-EXT-STS", "ExtendedStatus", "A server's vm, task and power states."),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Whether a flavor is disabled."),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "A flavor's ephemeral disk."),
    ("OS-SCH-HNT", "SchedulerHints", "Scheduler hints given with a new server."),
    ("OS-SRV-USG", "ServerUsage", "When a server was launched and terminated."),
    ("os-access-ips", "AccessIPs", "A server's access addresses."),
    ("os-admin-actions", "AdminActions", "Administrators' server actions (os-resetState)."),
    ("os-aggregates", "Aggregates", "Host aggregates."),
    ("os-attach-interfaces", "AttachInterfaces", "Attaching and detaching a server's ports."),
    ("os-availability-zone", "AvailabilityZone", "Availability zones."),
    ("os-block-device-mapping", "BlockDeviceMapping", "Block devices of a new server."),
    ("os-config-drive", "ConfigDrive", "A server's config drive."),
    ("os-console-output", "ConsoleOutput", "A server's console log."),
    ("os-consoles", "Consoles", "Interactive consoles of servers."),
    ("os-remote-consoles", "RemoteConsoles", "Interactive consoles of servers."),
    ("os-deferred-delete", "DeferredDelete", "The restore and forceDelete server actions."),
    ("os-extended-volumes", "ExtendedVolumes", "The volumes attached to a server."),
    ("os-flavor-access", "FlavorAccess", "Private flavors and the projects that may use them."),
    ("os-flavor-extra-specs", "FlavorExtraSpecs", "A flavor's extra specs."),
    ("os-flavor-manage", "FlavorManage", "Creating and deleting flavors."),
    ("os-flavor-rxtx", "FlavorRxtx", "A flavor's rxtx factor."),
    ("os-floating-ip-pools", "FloatingIpPools", "The floating IP pools (proxy)."),
    ("os-floating-ips", "FloatingIps", "Floating IPs (proxy) and their server actions."),
    ("os-hosts", "Hosts", "The compute hosts."),
    ("os-hypervisors", "Hypervisors", "The hypervisors of the compute hosts."),
    ("os-instance-actions", "InstanceActions", "The actions taken on a server."),
    ("os-instance_usage_audit_log", "OSInstanceUsageAuditLog", "The instance usage audit."),
    ("os-ips", "Ips", "A server's addresses."),
    ("os-keypairs", "Keypairs", "Key pairs."),
    ("os-lock-server", "LockServer", "Locking and unlocking servers."),
    ("os-multiple-create", "MultipleCreate", "Creating several servers at once."),
    ("os-networks", "Networks", "Networks (proxy)."),
    ("os-pause-server", "PauseServer", "Pausing and unpausing servers."),
    ("os-quota-class-sets", "QuotaClasses", "Quota classes."),
    ("os-quota-sets", "Quotas", "Quotas."),
    ("os-rescue", "Rescue", "Rescuing and unrescuing servers."),
    ("os-security-groups", "SecurityGroups", "Security groups (proxy) and a server's."),
    ("os-server-diagnostics", "ServerDiagnostics", "A server's diagnostics."),
    ("os-server-group-quotas", "ServerGroupQuotas", "Quotas of server groups."),
    ("os-server-groups", "ServerGroups", "Server groups."),
    ("os-server-password", "ServerPassword", "A server's encrypted password."),
    ("os-server-start-stop", "ServerStartStop", "Starting and stopping servers."),
    ("os-server-tags", "ServerTags", "A server's tags."),
    ("os-services", "Services", "The compute services."),
    ("os-simple-tenant-usage", "SimpleTenantUsage", "Usage of projects."),
    ("os-suspend-server", "SuspendServer", "Suspending and resuming servers."),
    ("os-tenant-networks", "OSTenantNetworks", "A project's networks (proxy)."),
    ("os-used-limits", "UsedLimits", "What a project uses of its limits."),
    ("os-user-data", "UserData", "A server's user data."),
    ("os-volume-attachment-update", "VolumeAttachmentUpdate", "Swapping a server's volume."),
)


def _view(alias: str, name: str, description: str) -> dict[str, Any]:
    # Nova's fixed values for every legacy extension (there is no XML namespace any more).
    return {"alias": alias, "name": name, "description": description, "links": [],
            "namespace": "http://docs.openstack.org/compute/ext/fake_xml", "updated": "2014-12-03T00:00:00Z"}


class ExtensionInfoController(Controller):
    """The legacy extension list, kept for old clients that still ask."""

    def routes(self) -> list[Route]:
        return [("GET", "/extensions", self.index),
                ("GET", "/extensions/{alias}", self.show)]

    def index(self, req: Request) -> dict[str, Any]:
        return {"extensions": [_view(*e) for e in EXTENSIONS]}

    def show(self, req: Request, alias: str) -> dict[str, Any]:
        for e in EXTENSIONS:
            if e[0] == alias:
                return {"extension": _view(*e)}
        raise exception.NotFound(f"Extension {alias} could not be found.")
