"""A server's volumes (``hub.compute`` volume methods), API side: list, show, attach, update, detach;
and a new server's block-device mapping, checked and reserved before the 202.

Attaching checks the server (lock, state, host, the hypervisor's ``attach_volume`` capability),
reserves the volume in the volume area (``hub.volume.reserve``: the volume goes ``attaching``),
records the mapping and casts ``attach_volume`` to the server's host, which exports the volume
to itself and hands it to the hypervisor (:mod:`.host_volumes`; the volume is then ``in-use``).
Detaching marks the mapping ``detaching`` and casts ``detach_volume``; the host takes the volume
off the hypervisor, then gives it back (``available``). As Nova: the server must be ACTIVE,
SHUTOFF, PAUSED or RESIZED with no task under way; an unknown or unavailable volume is a 400
("Invalid volume"), the root device cannot be detached (400), swapping volumes is not supported
(409).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import cumulo_service_compute.block_devices as bdms
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import exception
from cumulo.context import RequestContext
from cumulo.contracts.compute import BlockDeviceRequest
from cumulo.contracts.volume import NoSuchVolume, VolumeContract, VolumeNotAvailable, VolumeRecord
from cumulo_service_compute.common import Plumbing, check_locked, instance_for, ready_to_plug
from cumulo_service_compute.hosts import Hosts

LOG = logging.getLogger(__name__)

#: The vm_states a volume may be attached or detached in (Nova's, those Cumulo has).
VOLUME_STATES = (st.ACTIVE, st.STOPPED, st.PAUSED, st.RESIZED)


@dataclasses.dataclass(frozen=True)
class BootPlan:
    """A new server's block-device mapping once checked: the volume rows to write, and the image to boot.

    ``volumes`` are the requests with a volume destination (their volume checked when they name one);
    ``volume_backed`` when the boot device is a volume (the server's ``image_ref`` is then "");
    ``image_id`` is the image the server is built from (the root volume's, for a volume-backed one).
    """

    volumes: tuple[BlockDeviceRequest, ...] = ()
    volume_backed: bool = False
    image_id: str | None = None


def _invalid_bdm(reason: str) -> exception.Invalid:
    return exception.Invalid(reason=f"Block Device Mapping is Invalid: {reason}")


class ServerVolumes:
    """The volumes of servers (``plumbing``: the volume service, RPC to the server's host)."""

    def __init__(self, plumbing: Plumbing, hosts: Hosts) -> None:
        self.plumbing, self.hosts = plumbing, hosts

    def _volumes(self) -> VolumeContract:
        svc = bdms.volume_service(self.plumbing.hub)
        if svc is None:
            raise exception.Conflict("Volumes need the block storage service, which this cloud does not run.")
        return svc

    # -- reading -----------------------------------------------------------------
    def list_volume_attachments(self, ctx: RequestContext, uuid: str) -> list[dict[str, Any]]:
        instance_for(ctx, uuid)
        return [bdms.view(m) for m in bdms.mappings(uuid) if m["volume_id"]]

    def get_volume_attachment(self, ctx: RequestContext, uuid: str, volume_id: str) -> dict[str, Any]:
        return bdms.view(self._mapping(ctx, uuid, volume_id))

    def _mapping(self, ctx: RequestContext, uuid: str, volume_id: str) -> dict[str, Any]:
        instance_for(ctx, uuid)
        for m in bdms.mappings(uuid):
            if m["volume_id"] == volume_id:
                return m
        raise exception.NotFound(f"Volume {volume_id} is not attached to instance {uuid}.")

    # -- attach, update, detach ----------------------------------------------------
    def _ready(self, ctx: RequestContext, uuid: str, action: str) -> dict[str, Any]:
        """The server, if a volume may be attached or detached now (409 else: lock, state, host, hypervisor)."""
        return ready_to_plug(ctx, self.hosts, uuid, action, VOLUME_STATES, bdms.CAPABILITY)

    def attach_volume(self, ctx: RequestContext, uuid: str, volume_id: str, *, device: str | None = None,
                      tag: str | None = None, delete_on_termination: bool = False) -> dict[str, Any]:
        inst = self._ready(ctx, uuid, "attach_volume")
        volumes = self._volumes()
        try:
            volume = volumes.get_volume(ctx, volume_id)
        except NoSuchVolume:
            raise exception.NotFound(f"Volume {volume_id} could not be found.") from None
        current = bdms.mappings(uuid)
        if any(m["volume_id"] == volume_id for m in current):
            raise exception.Invalid(reason=f"Invalid volume: volume {volume_id} is already attached to "
                                           f"instance {uuid}.")
        used = [m["device_name"] for m in current]
        if device and device.rsplit("/", 1)[-1] in {(d or "").rsplit("/", 1)[-1] for d in used} | {"vda"}:
            raise exception.Invalid(reason=f"The supplied device path ({device}) is in use.")
        device = device or bdms.next_device(used)
        # Nova's [cinder] cross_az_attach is True by default: a volume of any zone may be attached.
        try:
            attachment = volumes.reserve(ctx, volume_id, uuid)
        except VolumeNotAvailable as err:
            raise exception.Invalid(reason=f"Invalid volume: {err.message}") from None
        objects.start_action(ctx, uuid, "attach_volume")
        try:
            m = bdms.add(uuid, source_type="volume", status=bdms.ATTACHING, volume_id=volume_id,
                         device_name=device, delete_on_termination=delete_on_termination, tag=tag,
                         attachment_id=attachment.id, volume_size=volume.size_gib)
            self.plumbing.rpc.cast(ctx, "attach_volume", server=inst["host"], instance_uuid=uuid, bdm_id=m["id"])
        except Exception:
            objects.finish_action(ctx, uuid, "Error")
            try:
                volumes.unreserve(ctx, attachment.id)
            except Exception:
                LOG.exception("Instance %s: giving back the reservation of volume %s failed", uuid, volume_id)
            raise
        return bdms.view(m)

    def update_volume_attachment(self, ctx: RequestContext, uuid: str, volume_id: str, new_volume_id: str, *,
                                 delete_on_termination: bool | None = None) -> None:
        m = self._mapping(ctx, uuid, volume_id)
        check_locked(ctx, instance_for(ctx, uuid))
        if new_volume_id != volume_id:
            raise exception.Conflict(f"Swapping volume {volume_id} of instance {uuid} for {new_volume_id} is not "
                                     "supported by this cloud.")
        if delete_on_termination is not None:
            bdms.update(m["id"], {"delete_on_termination": bool(delete_on_termination)})

    def detach_volume(self, ctx: RequestContext, uuid: str, volume_id: str) -> None:
        m = self._mapping(ctx, uuid, volume_id)
        if m["boot_index"] == 0:
            raise exception.Invalid(reason="Cannot detach a root device volume")
        inst = self._ready(ctx, uuid, "detach_volume")
        if m["status"] != bdms.ATTACHED:
            raise exception.Conflict(f"Volume {volume_id} of instance {uuid} is {m['status']}; it cannot be "
                                     "detached now.")
        objects.start_action(ctx, uuid, "detach_volume")
        bdms.update(m["id"], {"status": bdms.DETACHING})
        try:
            self.plumbing.rpc.cast(ctx, "detach_volume", server=inst["host"], instance_uuid=uuid, bdm_id=m["id"])
        except Exception:
            bdms.update(m["id"], {"status": bdms.ATTACHED})
            objects.finish_action(ctx, uuid, "Error")
            raise

    # -- a new server's block-device mapping ------------------------------------------
    def plan(self, ctx: RequestContext, requests: Sequence[BlockDeviceRequest], image_ref: str | None,
             count: int) -> BootPlan:
        """Check a new server's block-device mapping before anything is made (400 with Nova's reasons).

        An ``image`` -> ``local`` boot device is the ordinary image boot (``image_ref`` when the
        API gave none). Volumes named must exist and be ``available``; one made from an image needs
        a size; a named volume cannot go to several servers.
        """
        volumes_wanted = tuple(r for r in requests if r.is_volume)
        for r in requests:
            if r.source_type not in ("image", "volume", "blank", "snapshot"):
                raise _invalid_bdm(f"unknown source_type {r.source_type}.")
            if r.is_volume and r.source_type in ("snapshot", "blank"):
                raise _invalid_bdm(f"source_type {r.source_type} with destination_type volume is not supported.")
        roots = [r for r in requests if r.is_root]
        if len(roots) > 1:
            raise _invalid_bdm("Boot sequence for the instance and image/block device mapping combination is not "
                               "valid.")
        root = roots[0] if roots else None
        if root is not None and not root.is_volume and root.source_type == "image" and not image_ref:
            image_ref = root.uuid
        if not volumes_wanted:
            return BootPlan(image_id=image_ref)
        svc = bdms.volume_service(self.plumbing.hub)
        if svc is None:
            raise _invalid_bdm("volumes need the block storage service, which this cloud does not run.")
        image_id = image_ref
        for r in volumes_wanted:
            if r.source_type == "volume":
                if not r.uuid:
                    raise _invalid_bdm("a volume source needs the volume's uuid.")
                if count > 1:
                    raise _invalid_bdm(f"volume {r.uuid} cannot be attached to {count} servers.")
                volume = self._volume_for_boot(svc, ctx, r.uuid)
                if r.is_root and not image_id:
                    image_id = volume.image_id
            else:  # image -> volume: made by the build
                if not r.uuid:
                    raise _invalid_bdm("an image source needs the image's uuid.")
                if not r.volume_size or r.volume_size <= 0:
                    raise _invalid_bdm(f"Images with destination_type 'volume' need to have a non-zero size "
                                       f"specified (image {r.uuid}).")
                if r.is_root:
                    image_id = r.uuid
        if len({r.uuid for r in volumes_wanted if r.source_type == "volume"}) < \
                len([r for r in volumes_wanted if r.source_type == "volume"]):
            raise _invalid_bdm("a volume is mapped twice.")
        return BootPlan(volumes=volumes_wanted, volume_backed=bool(root is not None and root.is_volume),
                        image_id=image_id)

    @staticmethod
    def _volume_for_boot(svc: VolumeContract, ctx: RequestContext, volume_id: str) -> VolumeRecord:
        try:
            volume = svc.get_volume(ctx, volume_id)
        except NoSuchVolume:
            raise _invalid_bdm(f"failed to get volume {volume_id}.") from None
        if volume.status != "available":
            raise exception.Invalid(reason=f"Invalid volume: volume '{volume_id}' status must be 'available'. "
                                           f"Currently in '{volume.status}'")
        return volume

    def reserve_for_boot(self, ctx: RequestContext, plan: BootPlan, uuids: Sequence[str]) -> dict[str, str]:
        """Reserve the named volumes of ``plan`` for the (single) new server; returns volume id -> attachment id.

        Reservations already made are given back when one fails (400: the volume was taken meanwhile).
        """
        named = [r for r in plan.volumes if r.source_type == "volume" and r.uuid]
        if not named:
            return {}
        svc = self._volumes()
        made: dict[str, str] = {}
        try:
            for r in named:
                assert r.uuid is not None
                try:
                    made[r.uuid] = svc.reserve(ctx, r.uuid, uuids[0]).id
                except VolumeNotAvailable as err:
                    raise exception.Invalid(reason=f"Invalid volume: {err.message}") from None
                except NoSuchVolume:
                    raise _invalid_bdm(f"failed to get volume {r.uuid}.") from None
        except Exception:
            self.unreserve(ctx, made)
            raise
        return made

    def unreserve(self, ctx: RequestContext, reservations: dict[str, str]) -> None:
        """Give back reservations made by :meth:`reserve_for_boot` (a create that failed later). Never raises."""
        svc = bdms.volume_service(self.plumbing.hub)
        for volume_id, attachment_id in reservations.items():
            try:
                if svc is not None:
                    svc.unreserve(ctx, attachment_id)
            except Exception:
                LOG.exception("Giving back the reservation of volume %s failed", volume_id)

    @staticmethod
    def record(session: Any, uuid: str, plan: BootPlan, reservations: dict[str, str]) -> None:
        """Write a new server's volume rows (in the create's transaction): named ones reserved, others to make."""
        used: list[str | None] = []
        for r in sorted(plan.volumes, key=lambda x: (not x.is_root, x.device_name or "")):
            device = r.device_name or (bdms.ROOT_DEVICE if r.is_root else bdms.next_device(used))
            used.append(device)
            named = r.source_type == "volume"
            bdms.add(uuid, source_type=r.source_type, status=bdms.ATTACHING,
                     volume_id=r.uuid if named else None,
                     image_id=(plan.image_id if r.is_root else None) if named else r.uuid,
                     volume_size=r.volume_size, volume_type=r.volume_type, boot_index=r.boot_index,
                     device_name=device, disk_bus=r.disk_bus, device_type=r.device_type,
                     delete_on_termination=r.delete_on_termination, tag=r.tag,
                     attachment_id=reservations.get(r.uuid or "") if named else None, session=session)
