"""The volume service (``hub.volume``) and what a node starts for it.

* :class:`Service` is ``hub.volume``: what the Block Storage API frontend
  calls (dicts, as the other areas' services return them) and, through
  :class:`cumulo.contracts.volume.VolumeContract`, what other areas call
  (typed records). Every method takes the caller's :class:`RequestContext`
  first and enforces what it may see and do (a volume it may not see is a
  404, one it may see but not change a 403). Components:

  * :mod:`~cumulo_service_volume.volumes` (volumes, metadata, actions, attachments),
    :mod:`~cumulo_service_volume.snapshots`, :mod:`~cumulo_service_volume.voltypes`
    (types, extra specs, access), :mod:`~cumulo_service_volume.quotas`;
  * :mod:`~cumulo_service_volume.backend` (the driver, per-volume locks),
    :mod:`~cumulo_service_volume.housekeeping` (the start sweep).
* :func:`start` is what ``cumulo up`` runs: it loads the driver (a wrong
  ``[volume] driver`` stops the node with the names installed) and sweeps what
  a stopped process left transitional.
"""

from __future__ import annotations

import logging
from typing import Any

from cumulo import exception, policy
from cumulo.context import RequestContext
from cumulo.contracts.volume import VolumeRecord
from cumulo_service_volume.attach_actions import AttachActions
from cumulo_service_volume.backend import Backend
from cumulo_service_volume.backups import Backups, sweep_backups
from cumulo_service_volume.contract_proxy import ContractProxy
from cumulo_service_volume.groups import Groups, GroupTypes
from cumulo_service_volume.housekeeping import sweep
from cumulo_service_volume.image_metadata import ImageMetadata
from cumulo_service_volume.manage import Manage
from cumulo_service_volume.messages import Messages
from cumulo_service_volume.policies import RULES
from cumulo_service_volume.qos import Qos
from cumulo_service_volume.quotas import Quotas
from cumulo_service_volume.services import Services
from cumulo_service_volume.snapshots import Snapshots
from cumulo_service_volume.transfers import Transfers
from cumulo_service_volume.voltypes import VolumeTypes
from cumulo_service_volume.volumes import Volumes

LOG = logging.getLogger(__name__)

policy.register_rules(RULES)


class Service:
    """``hub.volume``: the volume manager (implements :class:`cumulo.contracts.volume.VolumeContract`).

    The components are attributes (``volumes``, ``snapshots``, ``types``, ``quotas``, ``backend``); each
    method below is one of theirs, documented there.
    """

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.conf = hub.conf
        self.backend = Backend(hub)
        self.quotas = Quotas(self.conf)
        self.types = VolumeTypes(self.conf)
        self.volumes = Volumes(hub, self.backend, self.types, self.quotas)
        self.snapshots = Snapshots(self.backend, self.quotas)
        self.backups = Backups(hub, self.backend, self.quotas, self.volumes)
        self.attach_actions = AttachActions(self.volumes)
        self.image_metadata = ImageMetadata()
        self.transfers = Transfers(self.quotas)
        self.block_services = Services(self.conf, self.backend)
        self.group_types = GroupTypes()
        self.qos = Qos()
        self.messages = Messages()
        self.manage = Manage(self.conf, self.backend, self.types, self.quotas, self.volumes)
        self.groups = Groups(self.conf, self.group_types, self.types, self.volumes, self.snapshots, self.quotas)

        # volumes
        self.create = self.volumes.create
        self.get = self.volumes.get
        self.list = self.volumes.list
        self.update = self.volumes.update
        self.delete = self.volumes.delete
        self.extend = self.volumes.extend
        self.get_metadata = self.volumes.get_metadata
        self.set_metadata = self.volumes.set_metadata
        self.delete_metadata = self.volumes.delete_metadata
        self.set_bootable = self.volumes.set_bootable
        self.set_readonly = self.volumes.set_readonly
        self.reset_status = self.volumes.reset_status
        self.upload_to_image = self.volumes.upload_to_image
        self.retype = self.volumes.retype
        # the legacy attach actions (os-reserve, os-attach, os-detach...)
        self.legacy_reserve = self.attach_actions.reserve
        self.legacy_unreserve = self.attach_actions.unreserve
        self.legacy_attach = self.attach_actions.attach
        self.legacy_begin_detaching = self.attach_actions.begin_detaching
        self.legacy_roll_detaching = self.attach_actions.roll_detaching
        self.legacy_detach = self.attach_actions.detach
        self.show_image_metadata = self.image_metadata.show
        self.set_image_metadata = self.image_metadata.set
        self.unset_image_metadata = self.image_metadata.unset
        # snapshots
        self.create_snapshot = self.snapshots.create
        self.get_snapshot = self.snapshots.get
        self.list_snapshots = self.snapshots.list
        self.update_snapshot = self.snapshots.update
        self.delete_snapshot = self.snapshots.delete
        self.get_snapshot_metadata = self.snapshots.get_metadata
        self.set_snapshot_metadata = self.snapshots.set_metadata
        self.delete_snapshot_metadata = self.snapshots.delete_metadata
        self.reset_snapshot_status = self.snapshots.reset_status
        self.update_snapshot_status = self.snapshots.update_status
        # backups
        self.create_backup = self.backups.create
        self.get_backup = self.backups.get
        self.list_backups = self.backups.list
        self.delete_backup = self.backups.delete
        self.restore_backup = self.backups.restore
        self.reset_backup_status = self.backups.reset_status
        self.update_backup = self.backups.update
        # services, hosts, pools, capabilities (administrators)
        self.services = self.block_services.index
        self.enable_service = self.block_services.enable
        self.disable_service = self.block_services.disable
        self.freeze_backend = self.block_services.freeze
        self.hosts = self.block_services.hosts
        self.host = self.block_services.host
        self.pools = self.block_services.pools
        self.backend_capabilities = self.block_services.capabilities
        # generic volume groups, group types, group snapshots
        self.create_group_type = self.group_types.create
        self.list_group_types = self.group_types.list
        self.get_group_type = self.group_types.get
        self.update_group_type = self.group_types.update
        self.delete_group_type = self.group_types.delete
        self.group_specs = self.group_types.specs
        self.group_spec = self.group_types.spec
        self.set_group_specs = self.group_types.set_specs
        self.delete_group_spec = self.group_types.delete_spec
        self.create_group = self.groups.create
        self.create_group_from_source = self.groups.create_from_source
        self.get_group = self.groups.get
        self.list_groups = self.groups.list
        self.update_group = self.groups.update
        self.delete_group = self.groups.delete
        self.reset_group_status = self.groups.reset_status
        self.create_group_snapshot = self.groups.create_snapshot
        self.get_group_snapshot = self.groups.get_snapshot
        self.list_group_snapshots = self.groups.list_snapshots
        self.delete_group_snapshot = self.groups.delete_snapshot
        self.reset_group_snapshot_status = self.groups.reset_snapshot_status
        # manage and unmanage (administrators)
        self.manage_volume = self.manage.manage
        self.unmanage_volume = self.manage.unmanage
        self.manageable_volumes = self.manage.manageable
        # user messages (3.3)
        self.list_messages = self.messages.list
        self.get_message = self.messages.get
        self.delete_message = self.messages.delete
        # QoS specs
        self.create_qos = self.qos.create
        self.list_qos = self.qos.list
        self.get_qos = self.qos.get
        self.set_qos_keys = self.qos.set_keys
        self.unset_qos_keys = self.qos.unset_keys
        self.delete_qos = self.qos.delete
        self.qos_associations = self.qos.associations
        self.associate_qos = self.qos.associate
        self.disassociate_all_qos = self.qos.disassociate_all
        # transfers
        self.create_transfer = self.transfers.create
        self.get_transfer = self.transfers.get
        self.list_transfers = self.transfers.list
        self.delete_transfer = self.transfers.delete
        self.accept_transfer = self.transfers.accept
        # types
        self.list_types = self.types.list
        self.get_type = self.types.get
        self.create_type = self.types.create
        self.update_type = self.types.update
        self.delete_type = self.types.delete
        self.type_extra_specs = self.types.extra_specs
        self.type_extra_spec = self.types.extra_spec
        self.set_type_extra_specs = self.types.set_extra_specs
        self.delete_type_extra_spec = self.types.delete_extra_spec
        self.type_access = self.types.access
        self.add_type_access = self.types.add_access
        self.remove_type_access = self.types.remove_access
        # quotas and limits
        self.show_quotas = self.quotas.show
        self.default_quotas = self.quotas.defaults
        self.update_quotas = self.quotas.update
        self.delete_quotas = self.quotas.delete
        self.used_limits = self.quotas.used_limits
        self.show_quota_class = self.quotas.show_class
        self.update_quota_class = self.quotas.update_class
        # the contract other areas call
        self.reserve = self.volumes.reserve
        self.unreserve = self.volumes.unreserve
        self.attach = self.volumes.attach
        self.detach = self.volumes.detach
        self.list_attachments = self.volumes.list_attachments
        self.get_attachment = self.volumes.get_attachment
        # ... and its 1.1 calls (the compute API's /os-volumes and /os-snapshots)
        self.proxy = ContractProxy(self.volumes, self.snapshots)
        self.list_volumes = self.proxy.list_volumes
        self.create_volume = self.proxy.create_volume
        self.list_volume_snapshots = self.proxy.list_volume_snapshots
        self.get_volume_snapshot = self.proxy.get_volume_snapshot
        self.create_volume_snapshot = self.proxy.create_volume_snapshot
        self.delete_volume_snapshot = self.proxy.delete_volume_snapshot

    # -- VolumeContract
    def get_volume(self, ctx: RequestContext, volume_id: str) -> VolumeRecord:
        """See :meth:`cumulo.contracts.volume.VolumeContract.get_volume`."""
        return self.proxy.get_volume(ctx, volume_id)

    def create_from_image(self, ctx: RequestContext, image_id: str, size_gib: int, name: str = "",
                          volume_type: str | None = None,
                          availability_zone: str | None = None) -> VolumeRecord:
        """See :meth:`cumulo.contracts.volume.VolumeContract.create_from_image`."""
        made = self.volumes.create(ctx, {"imageRef": image_id, "size": size_gib, "name": name,
                                         "volume_type": volume_type, "availability_zone": availability_zone})
        if made["status"] != "available":
            raise exception.ServiceUnavailable(reason=f"Volume {made['id']} from image {image_id} could not be "
                                                      f"written (status {made['status']}).")
        return self.volumes.record(ctx, made["id"])

    def delete_volume(self, ctx: RequestContext, volume_id: str) -> None:
        """See :meth:`cumulo.contracts.volume.VolumeContract.delete_volume`."""
        from cumulo.contracts.volume import NoSuchVolume, VolumeNotAvailable

        try:
            self.volumes.delete(ctx, volume_id)
        except NoSuchVolume:
            return
        except exception.Invalid as err:
            raise VolumeNotAvailable(reason=err.message) from None

    # -- zones and services
    def availability_zones(self, ctx: RequestContext) -> list[dict[str, Any]]:
        policy.authorize(ctx, "volume:get_all_availability_zones")
        return [{"zoneName": self.conf.volume.storage_availability_zone, "zoneState": {"available": True}}]

    def capacity(self) -> dict[str, Any]:
        """The backend's stats (for the scheduler-stats style views and tests)."""
        stats = self.backend.driver.get_stats()
        return {"name": self.backend.host, "total_capacity_gb": stats.total_gib, "free_capacity_gb": stats.free_gib,
                "volume_backend_name": stats.volume_backend_name, "storage_protocol": ",".join(stats.storage_protocols)}


def start(hub: Any) -> list[Any]:
    """At start: load the driver (a wrong name stops ``cumulo up``), then sweep what a stopped process left."""
    service: Service = hub.volume
    service.backend.driver  # noqa: B018  (loads it: a misconfiguration fails the start)
    moved = sweep(service.backend.host)
    backups = sweep_backups(service.backend.host)
    if backups:
        moved["backups and volumes backing up or restoring"] = backups
    if moved:
        LOG.warning("Volume start sweep: %s", moved)
    return []


__all__ = ["Service", "start"]
