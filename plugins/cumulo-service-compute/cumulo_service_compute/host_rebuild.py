"""What replaces or copies an instance's disk on its host: rebuild, rescue and unrescue, snapshot.

Each is a :func:`.host.run_state_op`. A rebuild plugs the instance's ports again
(its VIFs from the network contract); a snapshot streams the driver's copy of
the disk to the image area.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Any

import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo.db.models.base import utcnow
from cumulo.interfaces import hypervisor as hv
from cumulo_service_compute.host import ComputeHost, run_state_op
from cumulo_service_compute.host_common import as_ctx


def _chunks(f: Any, size: int = 1024 * 1024) -> Iterator[bytes]:
    while True:
        data = f.read(size)
        if not data:
            return
        yield data


class Rebuilds:
    """Rebuild, rescue, unrescue and snapshot of the instances of ``host``."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def rebuild_instance(self, ctx: Any, instance_uuid: str, image_ref: str, admin_password: str | None = None,
                         preserve_power_off: bool = False) -> None:
        ctx = as_ctx(ctx)
        host = self.host
        # As Nova: a server rebuilt while stopped is stopped again (its new disk is not left running).
        stopped = objects.get_instance(instance_uuid)["vm_state"] == st.STOPPED

        def work(i: hv.Instance) -> None:
            image = host.image(ctx, image_ref)
            vifs = host.network.vifs(ctx, instance_uuid)
            host.driver.rebuild(i, image, vifs, (), admin_password=admin_password)
            if stopped:
                host.driver.power_off(i, 0)

        run_state_op(host, ctx, instance_uuid, "compute_rebuild_instance", st.REBUILDING, work,
                     {"vm_state": st.STOPPED if stopped else st.ACTIVE, "launched_at": utcnow()})

    def rescue_instance(self, ctx: Any, instance_uuid: str, rescue_password: str,
                        rescue_image_ref: str | None = None) -> None:
        ctx = as_ctx(ctx)
        host = self.host

        def work(i: hv.Instance) -> None:
            image = host.image(ctx, rescue_image_ref or i.image_ref)
            host.driver.rescue(i, image, rescue_password)

        run_state_op(host, ctx, instance_uuid, "compute_rescue_instance", st.RESCUING, work,
                     {"vm_state": st.RESCUED})

    def unrescue_instance(self, ctx: Any, instance_uuid: str) -> None:
        run_state_op(self.host, ctx, instance_uuid, "compute_unrescue_instance", st.UNRESCUING,
                     self.host.driver.unrescue, {"vm_state": st.ACTIVE})

    def snapshot_instance(self, ctx: Any, instance_uuid: str, image_id: str) -> None:
        ctx = as_ctx(ctx)
        host = self.host

        def work(i: hv.Instance) -> None:
            image_svc = host.image_service()
            # Spooled: a small disk stays in memory, a large one goes to a temporary file.
            with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
                host.driver.snapshot(i, spool.write)
                spool.seek(0)
                if image_svc is not None:
                    image_svc.upload(ctx, image_id, _chunks(spool))

        inst_state = objects.get_instance(instance_uuid)["vm_state"]
        run_state_op(host, ctx, instance_uuid, "compute_snapshot_instance", st.IMAGE_SNAPSHOT, work,
                     {"vm_state": inst_state})
