"""A host's side of volumes: attaching and detaching on its instances (RPC casts from
:mod:`.server_volumes`), the volumes of a build, and what a restart left half done.

Attaching: under the instance lock, the volume area exports the reserved volume to this host
(``hub.volume.attach`` with a :class:`Connector` naming this host and the transports its
hypervisor opens, ``driver.volume_protocols``), then the driver attaches it
(``driver.attach_volume``); the mapping becomes ``attached`` and keeps the connection info.
When either fails the volume is given back (detached or unreserved) and the mapping dropped:
the volume returns to ``available``. Detaching is the reverse: the driver first, then
``hub.volume.detach``; a driver that fails leaves the volume attached (the mapping goes back
to ``attached``).
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.block_devices as bdms
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.volume import NoSuchVolume, VolumeContract
from cumulo.interfaces import hypervisor as hv
from cumulo.interfaces.volume.records import Connector
from cumulo_service_compute.host import ComputeHost
from cumulo_service_compute.host_common import as_ctx
from cumulo_service_compute.models import BlockDeviceMapping, Instance

LOG = logging.getLogger(__name__)


class BlockDeviceSetupFailed(exception.CumuloError):
    """A build could not make or attach its volumes (Nova's BuildAbortException: not rescheduled)."""

    code = 500
    msg_fmt = "Block device setup of instance %(uuid)s failed: %(reason)s"


class Volumes:
    """The volumes of the instances of ``host``."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def _service(self) -> VolumeContract:
        svc = bdms.volume_service(self.host.hub)
        if svc is None:
            raise exception.Conflict("This cloud runs no block storage service.")
        return svc

    def connector(self) -> Connector:
        """This host as the volume area sees it: its name and the transports its hypervisor opens."""
        return Connector(host=self.host.name, protocols=tuple(getattr(self.host.driver, "volume_protocols", ())))

    def _export(self, svc: VolumeContract, ctx: RequestContext, m: dict[str, Any]) -> hv.BlockDevice:
        """Have the volume area export the mapping's reserved volume here; the row becomes ``attached``."""
        info = svc.attach(ctx, m["attachment_id"], self.connector(), m["device_name"])
        m = bdms.update(m["id"], {"connection_info_json": bdms.dump_connection(info)})
        return bdms.driver_block_device(m, info)

    # -- attach and detach on a live instance (RPC casts) ------------------------------
    def attach_volume(self, ctx: Any, instance_uuid: str, bdm_id: str) -> None:
        """Attach the reserved volume of mapping ``bdm_id``; on failure give it back (never raises)."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            try:
                m = bdms.get(bdm_id)
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            svc = bdms.volume_service(host.hub)
            exported = False
            try:
                with objects.action_event(ctx, instance_uuid, "compute_attach_volume", host.name):
                    if svc is None:
                        raise exception.Conflict("This cloud runs no block storage service.")
                    device = self._export(svc, ctx, m)
                    exported = True
                    used = host.driver.attach_volume(host.driver_instance(inst), device)
                    # the name the guest really sees (the driver could not honour the one asked for)
                    bdms.update(bdm_id, {"status": bdms.ATTACHED, **({"device_name": used} if used else {})})
            except Exception as err:
                LOG.warning("Instance %s: attaching volume %s on %s failed: %s", instance_uuid, m["volume_id"],
                            host.name, err)
                if svc is not None:
                    try:
                        bdms.give_back(svc, ctx, m)  # detach when exported, else drop the reservation
                    except Exception:
                        LOG.exception("Instance %s: giving back volume %s (exported: %s) failed", instance_uuid,
                                      m["volume_id"], exported)
                bdms.remove(bdm_id)
            finally:
                objects.finish_action(ctx, instance_uuid)

    def detach_volume(self, ctx: Any, instance_uuid: str, bdm_id: str) -> None:
        """Detach the volume of mapping ``bdm_id`` from the guest, then give it back (never raises)."""
        ctx = as_ctx(ctx)
        host = self.host
        with host.locks.lock(instance_uuid):
            try:
                m = bdms.get(bdm_id)
                inst = objects.get_instance(instance_uuid)
            except exception.NotFound:
                return
            try:
                with objects.action_event(ctx, instance_uuid, "compute_detach_volume", host.name):
                    self._detach(ctx, inst, m)
            except Exception as err:
                LOG.warning("Instance %s: detaching volume %s on %s failed: %s", instance_uuid, m["volume_id"],
                            host.name, err)
                bdms.update(bdm_id, {"status": bdms.ATTACHED})  # still attached: detach again
            finally:
                objects.finish_action(ctx, instance_uuid)

    def _detach(self, ctx: RequestContext, inst: dict[str, Any], m: dict[str, Any]) -> None:
        """The driver lets go of the volume, then the volume area stops the export; the row goes."""
        host = self.host
        try:
            host.driver.detach_volume(host.driver_instance(inst), bdms.driver_block_device(m))
        except hv.InstanceNotFound:
            pass  # nothing holds it on this host
        svc = bdms.volume_service(host.hub)
        if svc is not None:
            bdms.give_back(svc, ctx, m)
        bdms.remove(m["id"])

    # -- a build's volumes --------------------------------------------------------------
    def prepare(self, ctx: RequestContext, inst: dict[str, Any]) -> list[hv.BlockDevice]:
        """Make (from an image), reserve and export the build's volumes; returns them for ``spawn``.

        :raises BlockDeviceSetupFailed: a volume could not be made, reserved or exported (the
            build is not rescheduled: another host would fail the same way).
        """
        ms = [m for m in bdms.mappings(inst["uuid"]) if m["destination_type"] == "volume"]
        if not ms:
            return []
        uuid = inst["uuid"]
        devices: list[hv.BlockDevice] = []
        try:
            svc = self._service()
            for m in ms:
                if not m["volume_id"]:  # image -> volume: the volume is made now
                    made = svc.create_from_image(ctx, m["image_id"], int(m["volume_size"] or 0),
                                                 name=f"{inst['display_name']}-{(m['device_name'] or '').rsplit('/', 1)[-1]}",
                                                 volume_type=m["volume_type"])
                    m = bdms.update(m["id"], {"volume_id": made.id})
                if not m["attachment_id"]:
                    m = bdms.update(m["id"], {"attachment_id": svc.reserve(ctx, m["volume_id"], uuid).id})
                try:
                    devices.append(self._export(svc, ctx, m))
                except NoSuchVolume:
                    # the reservation was dropped (a restart of the volume area): reserve again
                    m = bdms.update(m["id"], {"attachment_id": svc.reserve(ctx, m["volume_id"], uuid).id})
                    devices.append(self._export(svc, ctx, m))
                bdms.update(m["id"], {"status": bdms.ATTACHED})
        except Exception as err:
            raise BlockDeviceSetupFailed(uuid=uuid, reason=str(err) or type(err).__name__) from err
        return devices

    def undo_build(self, ctx: RequestContext, instance_uuid: str) -> None:
        """A build failed here: stop the exports to this host, keep each volume reserved for the server.

        The hypervisor has let go of them already (``destroy``). Never raises.
        """
        svc = bdms.volume_service(self.host.hub)
        if svc is None:
            return
        for m in bdms.mappings(instance_uuid):
            if m["status"] != bdms.ATTACHED or not m["attachment_id"]:
                continue
            values: dict[str, Any] = {"status": bdms.ATTACHING, "connection_info_json": None, "attachment_id": None}
            try:
                bdms.give_back(svc, ctx, m)
                values["attachment_id"] = svc.reserve(ctx, m["volume_id"], instance_uuid).id
            except Exception:
                LOG.exception("Instance %s: giving back volume %s after a failed build failed", instance_uuid,
                              m["volume_id"])
            bdms.update(m["id"], values)

    # -- after a restart -----------------------------------------------------------------
    def reconcile(self) -> int:
        """Settle the mappings a previous run of this host left ``attaching`` or ``detaching``; returns how many.

        Builds are not touched (their reconciliation cleans them up). An attach cut short is undone
        (the driver lets go, the volume is given back: ``available``); a detach cut short is finished.
        """
        ctx = RequestContext(roles=["admin"], is_admin=True)
        with db.reader() as s:
            rows = s.execute(sa.select(BlockDeviceMapping.id, BlockDeviceMapping.instance_uuid).join(
                Instance, Instance.uuid == BlockDeviceMapping.instance_uuid).where(
                Instance.host == self.host.name, Instance.deleted.is_(False), Instance.vm_state.not_in([st.BUILDING, st.ERROR]),
                BlockDeviceMapping.status.in_([bdms.ATTACHING, bdms.DETACHING]))).all()
        settled = 0
        for r in rows:
            try:
                with self.host.locks.lock(r.instance_uuid):
                    m = bdms.get(r.id)
                    inst = objects.get_instance(r.instance_uuid, with_tags=False)
                    LOG.warning("Instance %s: volume %s was left %s by the previous run; %s", r.instance_uuid,
                                m["volume_id"], m["status"],
                                "detaching it" if m["status"] == bdms.DETACHING else "giving it back")
                    self._detach(ctx, inst, m)
                    settled += 1
            except Exception:
                LOG.exception("Host %s: settling volume mapping %s failed", self.host.name, r.id)
        return settled
