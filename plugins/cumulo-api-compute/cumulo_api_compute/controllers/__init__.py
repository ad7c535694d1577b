"""The compute API's controllers, one module per resource (as Nova's ``api/openstack/compute``).

:func:`create` makes one of each for a hub; the app's router is assembled from their
:meth:`~cumulo_api_compute.controllers.base.Controller.routes`, in this order.
"""

from __future__ import annotations

from typing import Any

from cumulo_api_compute.controllers.admin_actions import AdminActionsController
from cumulo_api_compute.controllers.aggregates import AggregatesController
from cumulo_api_compute.controllers.assisted_volume_snapshots import AssistedVolumeSnapshotsController
from cumulo_api_compute.controllers.availability_zones import AvailabilityZonesController
from cumulo_api_compute.controllers.base import Controller
from cumulo_api_compute.controllers.consoles import ConsolesController
from cumulo_api_compute.controllers.disk_config import DiskConfigActions
from cumulo_api_compute.controllers.extension_info import ExtensionInfoController
from cumulo_api_compute.controllers.flavor_access import FlavorAccessController
from cumulo_api_compute.controllers.flavor_extra_specs import FlavorExtraSpecsController
from cumulo_api_compute.controllers.flavors import FlavorsController
from cumulo_api_compute.controllers.floating_ips import FloatingIPsController
from cumulo_api_compute.controllers.hosts import HostsController
from cumulo_api_compute.controllers.hypervisors import HypervisorsController
from cumulo_api_compute.controllers.images import ImagesController
from cumulo_api_compute.controllers.instance_actions import InstanceActionsController
from cumulo_api_compute.controllers.instance_usage_audit_log import InstanceUsageAuditLogController
from cumulo_api_compute.controllers.ips import IPsController
from cumulo_api_compute.controllers.keypairs import KeypairsController
from cumulo_api_compute.controllers.limits import LimitsController
from cumulo_api_compute.controllers.networks import NetworksController
from cumulo_api_compute.controllers.os_security_groups import OSSecurityGroupsController
from cumulo_api_compute.controllers.os_volumes import OSVolumesController
from cumulo_api_compute.controllers.quota_sets import QuotaClassSetsController, QuotaSetsController
from cumulo_api_compute.controllers.security_groups import ServerSecurityGroupsController
from cumulo_api_compute.controllers.server_actions import ServerActionsController
from cumulo_api_compute.controllers.server_attachments import (
    InterfacesController,
    ServerPasswordController,
    VolumeAttachmentsController,
)
from cumulo_api_compute.controllers.server_external_events import ServerExternalEventsController
from cumulo_api_compute.controllers.server_groups import ServerGroupsController
from cumulo_api_compute.controllers.server_metadata import ServerMetadataController
from cumulo_api_compute.controllers.server_tags import ServerTagsController
from cumulo_api_compute.controllers.servers import ServersController
from cumulo_api_compute.controllers.services import ServicesController
from cumulo_api_compute.controllers.usage import UsageController

#: Every controller but the server actions one (which dispatches to their actions), in route order.
RESOURCES: tuple[type[Controller], ...] = (
    ServersController, ConsolesController, ServerMetadataController, ServerTagsController, IPsController,
    ServerSecurityGroupsController, InstanceActionsController, ServerPasswordController,
    VolumeAttachmentsController, InterfacesController,
    FlavorsController, FlavorAccessController, FlavorExtraSpecsController,
    KeypairsController, ServerGroupsController, QuotaSetsController, QuotaClassSetsController, LimitsController,
    AvailabilityZonesController, HypervisorsController, ServicesController, AggregatesController,
    UsageController, ExtensionInfoController,
    ImagesController, HostsController, OSSecurityGroupsController, FloatingIPsController,
    AdminActionsController, InstanceUsageAuditLogController, NetworksController, OSVolumesController,
    ServerExternalEventsController, AssistedVolumeSnapshotsController,
)


def create(hub: Any) -> list[Controller]:
    """One controller of each kind for ``hub``; the server actions controller gets the others' actions
    (and is routed through :class:`DiskConfigActions`, which keeps the disk configuration a rebuild or
    resize names)."""
    resources = [cls(hub) for cls in RESOURCES]
    return [resources[0], DiskConfigActions(hub, ServerActionsController(hub, resources)), *resources[1:]]


__all__ = ["RESOURCES", "Controller", "create"]
