"""The compute manager: one per compute host, the RPC endpoint of topic ``compute``.

It owns what happens on its host: resource claims, the hypervisor driver calls,
and moving the instance's state when the work is done. Calls for the same
instance are serialised by a per-instance lock; different instances run in
parallel. :class:`ComputeManager` keeps the RPC methods (what :mod:`.rpc` casts
and calls) and hands each to the component that owns the concern, all sharing
one :class:`~.host.ComputeHost`:

* :class:`~.host_builds.Builds`: build and spawn, delete;
* :class:`~.host_power.PowerActions`: reboot, stop/start, pause, suspend, password;
* :class:`~.host_rebuild.Rebuilds`: rebuild, rescue, snapshot;
* :class:`~.host_resize.Resizes`: resize across hosts, confirm, revert;
* :class:`~.host_moves.Moves`: live migration, evacuation, shelving, backup rotation;
* :class:`~.host_consoles.Consoles`: console log, remote consoles;
* :class:`~.host_interfaces.Interfaces`: hot-plugging ports (interface attach and detach);
* :class:`~.host_volumes.Volumes`: attaching and detaching volumes, a build's volumes;
* :class:`~.host_resources.ResourceReporter`: totals and usage for the scheduler;
* :class:`~.host_reconcile.Reconciler`: start-up reconciliation, power-state sync.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

from cumulo import db
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_builds import Builds
from cumulo_service_compute.host_common import (
    BUILD_TASK_STATES,
    SCHEDULED_BY,
    SYNC_TASK_STATES,
    as_ctx,
    optional,
    release_claims,
)
from cumulo_service_compute.host_consoles import Consoles
from cumulo_service_compute.host_interfaces import Interfaces
from cumulo_service_compute.host_moves import Moves
from cumulo_service_compute.host_power import PowerActions
from cumulo_service_compute.host_rebuild import Rebuilds
from cumulo_service_compute.host_reconcile import Reconciler
from cumulo_service_compute.host_resize import Resizes
from cumulo_service_compute.host_resources import ResourceReporter, ResourceTracker
from cumulo_service_compute.host_volumes import Volumes
from cumulo_service_compute.models import ServerGroupMember

LOG = logging.getLogger(__name__)

# Importers of this module (the service, scheduling, housekeeping) keep finding these here.
__all__ = ["BUILD_TASK_STATES", "SCHEDULED_BY", "SYNC_TASK_STATES", "ComputeManager", "ResourceTracker", "as_ctx",
           "optional", "release_claims"]


class ComputeManager:
    """RPC endpoint for one host. Methods are ``method(ctx, **kwargs)`` with JSON-able kwargs.

    The components are private attributes: the RPC server dispatches public names only.
    """

    def __init__(self, host: str, driver: Any, hub: Any) -> None:
        self._host = ComputeHost(host, driver, hub)
        self.host, self.hub = host, hub
        self._volumes = Volumes(self._host)
        self._builds = Builds(self._host, self._volumes)
        self._power = PowerActions(self._host)
        self._rebuilds = Rebuilds(self._host)
        self._resizes = Resizes(self._host)
        self._moves = Moves(self._host)
        self._consoles = Consoles(self._host)
        self._interfaces = Interfaces(self._host)
        self._reporter = ResourceReporter(host, driver, self._host.tracker)
        self._reconciler = Reconciler(self._host, self._builds, self._volumes)

    @property
    def driver(self) -> Any:
        """This host's hypervisor driver."""
        return self._host.driver

    @property
    def tracker(self) -> ResourceTracker:
        """This host's resource claims."""
        return self._host.tracker

    # -- start-up and periodic work (called by the service, not over RPC) --------
    def init_host(self) -> int:
        """See :meth:`.host_reconcile.Reconciler.init_host`; call before serving RPC."""
        settled = self._reconciler.init_host()
        return settled + self._moves.cleanup_evacuated()

    def report_resources(self) -> None:
        """Write this host's totals and usage to compute_nodes."""
        self._reporter.report_resources()

    def sync_power_states(self) -> None:
        """See :meth:`.host_reconcile.Reconciler.sync_power_states`."""
        self._moves.cleanup_evacuated()
        self._reconciler.sync_power_states()

    def listen_for_power_events(self) -> bool:
        """See :meth:`.host_reconcile.Reconciler.listen_for_power_events`; call once, before serving."""
        return self._reconciler.listen_for_power_events()

    # -- build / delete ------------------------------------------------------
    def build_and_run_instance(self, ctx: Any, instance_uuid: str, admin_password: str | None = None,
                               requested_networks: Any = None, security_groups: list[str] | None = None,
                               attempt: int = 1, ignore_hosts: list[str] | None = None,
                               request_spec: dict[str, Any] | None = None) -> None:
        self._builds.build_and_run_instance(ctx, instance_uuid, admin_password, requested_networks,
                                            security_groups, attempt, ignore_hosts, request_spec)

    def terminate_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._builds.terminate_instance(ctx, instance_uuid)

    def cleanup_resize_source(self, ctx: Any, instance_uuid: str) -> None:
        self._builds.cleanup_resize_source(ctx, instance_uuid)

    # -- power ---------------------------------------------------------------
    def reboot_instance(self, ctx: Any, instance_uuid: str, hard: bool = False) -> None:
        self._power.reboot_instance(ctx, instance_uuid, hard)

    def stop_instance(self, ctx: Any, instance_uuid: str, clean_shutdown: bool = True) -> None:
        self._power.stop_instance(ctx, instance_uuid, clean_shutdown)

    def start_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._power.start_instance(ctx, instance_uuid)

    def pause_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._power.pause_instance(ctx, instance_uuid)

    def unpause_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._power.unpause_instance(ctx, instance_uuid)

    def suspend_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._power.suspend_instance(ctx, instance_uuid)

    def resume_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._power.resume_instance(ctx, instance_uuid)

    def set_admin_password(self, ctx: Any, instance_uuid: str, password: str) -> None:
        self._power.set_admin_password(ctx, instance_uuid, password)

    # -- rebuild, rescue, snapshot --------------------------------------------
    def rescue_instance(self, ctx: Any, instance_uuid: str, rescue_password: str,
                        rescue_image_ref: str | None = None) -> None:
        self._rebuilds.rescue_instance(ctx, instance_uuid, rescue_password, rescue_image_ref)

    def unrescue_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._rebuilds.unrescue_instance(ctx, instance_uuid)

    def rebuild_instance(self, ctx: Any, instance_uuid: str, image_ref: str, admin_password: str | None = None,
                         preserve_power_off: bool = False) -> None:
        self._rebuilds.rebuild_instance(ctx, instance_uuid, image_ref, admin_password, preserve_power_off)

    def snapshot_instance(self, ctx: Any, instance_uuid: str, image_id: str) -> None:
        self._rebuilds.snapshot_instance(ctx, instance_uuid, image_id)

    # -- resize ---------------------------------------------------------------
    def prep_resize(self, ctx: Any, instance_uuid: str, new_flavor: dict[str, Any], source_host: str) -> None:
        self._resizes.prep_resize(ctx, instance_uuid, new_flavor, source_host)

    def resize_instance(self, ctx: Any, instance_uuid: str, dest_host: str, new_flavor: dict[str, Any]) -> None:
        self._resizes.resize_instance(ctx, instance_uuid, dest_host, new_flavor)

    def abort_resize_claim(self, ctx: Any, instance_uuid: str) -> None:
        self._resizes.abort_resize_claim(ctx, instance_uuid)

    def finish_resize(self, ctx: Any, instance_uuid: str, disk_info: dict[str, Any], source_host: str) -> None:
        self._resizes.finish_resize(ctx, instance_uuid, disk_info, source_host)

    def confirm_resize(self, ctx: Any, instance_uuid: str) -> None:
        self._resizes.confirm_resize(ctx, instance_uuid)

    def revert_resize(self, ctx: Any, instance_uuid: str) -> None:
        self._resizes.revert_resize(ctx, instance_uuid)

    def finish_revert_resize(self, ctx: Any, instance_uuid: str) -> None:
        self._resizes.finish_revert_resize(ctx, instance_uuid)

    # -- live migration, evacuation, shelving, backups --------------------------------
    def pre_live_migration(self, ctx: Any, instance_uuid: str, source_host: str, block_migration: bool) -> None:
        self._moves.pre_live_migration(ctx, instance_uuid, source_host, block_migration)

    def live_migration(self, ctx: Any, instance_uuid: str, dest_host: str, block_migration: bool) -> None:
        self._moves.live_migration(ctx, instance_uuid, dest_host, block_migration)

    def rollback_live_migration_at_destination(self, ctx: Any, instance_uuid: str) -> None:
        self._moves.rollback_live_migration_at_destination(ctx, instance_uuid)

    def post_live_migration_at_destination(self, ctx: Any, instance_uuid: str, migrate_data: dict[str, Any],
                                           source_host: str) -> None:
        self._moves.post_live_migration_at_destination(ctx, instance_uuid, migrate_data, source_host)

    def evacuate_instance(self, ctx: Any, instance_uuid: str, source_host: str,
                          admin_password: str | None = None) -> None:
        self._moves.evacuate_instance(ctx, instance_uuid, source_host, admin_password)

    def shelve_instance(self, ctx: Any, instance_uuid: str, image_id: str) -> None:
        self._moves.shelve_instance(ctx, instance_uuid, image_id)

    def shelve_offload_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._moves.shelve_offload_instance(ctx, instance_uuid)

    def unshelve_instance(self, ctx: Any, instance_uuid: str) -> None:
        self._moves.unshelve_instance(ctx, instance_uuid)

    def backup_instance(self, ctx: Any, instance_uuid: str, image_id: str, backup_type: str, rotation: int) -> None:
        """A createBackup: the snapshot, then the rotation of the server's backups of ``backup_type``."""
        self._rebuilds.snapshot_instance(ctx, instance_uuid, image_id)
        try:
            self._moves.rotate_backups(ctx, instance_uuid, backup_type, rotation)
        except Exception:
            LOG.exception("Rotating the %s backups of %s failed", backup_type,
                                                  instance_uuid)

    # -- synchronous calls -------------------------------------------------------
    def get_console_output(self, ctx: Any, instance_uuid: str, length: int | None = None) -> str:
        return self._consoles.get_console_output(ctx, instance_uuid, length)

    def get_remote_console(self, ctx: Any, instance_uuid: str, console_type: str) -> dict[str, Any]:
        return self._consoles.get_remote_console(ctx, instance_uuid, console_type)

    def attach_interface(self, ctx: Any, instance_uuid: str, port_id: str) -> None:
        self._interfaces.attach_interface(ctx, instance_uuid, port_id)

    def detach_interface(self, ctx: Any, instance_uuid: str, port_id: str) -> None:
        self._interfaces.detach_interface(ctx, instance_uuid, port_id)

    def attach_volume(self, ctx: Any, instance_uuid: str, bdm_id: str) -> None:
        self._volumes.attach_volume(ctx, instance_uuid, bdm_id)

    def detach_volume(self, ctx: Any, instance_uuid: str, bdm_id: str) -> None:
        self._volumes.detach_volume(ctx, instance_uuid, bdm_id)

    def group_members(self, group_uuid: str) -> list[str]:
        """The instances of server group ``group_uuid``."""
        with db.transaction() as s:
            return list(s.scalars(sa.select(ServerGroupMember.instance_uuid)
                                  .where(ServerGroupMember.group_uuid == group_uuid)))
