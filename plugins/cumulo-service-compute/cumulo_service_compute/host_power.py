"""Power actions on one host's instances: reboot, stop and start, pause, suspend, and the guest's password.

Each is a :func:`.host.run_state_op`: the API has set the task state, the driver
acts, the instance lands in its new vm state (or keeps its old one with a fault).
"""

from __future__ import annotations

from typing import Any

import cumulo_service_compute.states as st
from cumulo.conf import CONF
from cumulo_service_compute.host import ComputeHost, run_state_op


class PowerActions:
    """The power state changes a user asks for, on the instances of ``host``."""

    def __init__(self, host: ComputeHost) -> None:
        self.host = host

    def reboot_instance(self, ctx: Any, instance_uuid: str, hard: bool = False) -> None:
        driver = self.host.driver
        task = st.REBOOTING_HARD if hard else st.REBOOTING
        soft = not hard and "soft_reboot" in driver.capabilities
        run_state_op(self.host, ctx, instance_uuid, "compute_reboot_instance", task,
                     lambda i: driver.reboot(i, hard=not soft), {"vm_state": st.ACTIVE})

    def stop_instance(self, ctx: Any, instance_uuid: str, clean_shutdown: bool = True) -> None:
        driver = self.host.driver
        run_state_op(self.host, ctx, instance_uuid, "compute_stop_instance", st.POWERING_OFF,
                     lambda i: driver.power_off(i, CONF.compute.shutdown_timeout if clean_shutdown else 0),
                     {"vm_state": st.STOPPED})

    def start_instance(self, ctx: Any, instance_uuid: str) -> None:
        run_state_op(self.host, ctx, instance_uuid, "compute_start_instance", st.POWERING_ON,
                     self.host.driver.power_on, {"vm_state": st.ACTIVE})

    def pause_instance(self, ctx: Any, instance_uuid: str) -> None:
        run_state_op(self.host, ctx, instance_uuid, "compute_pause_instance", st.PAUSING, self.host.driver.pause,
                     {"vm_state": st.PAUSED})

    def unpause_instance(self, ctx: Any, instance_uuid: str) -> None:
        run_state_op(self.host, ctx, instance_uuid, "compute_unpause_instance", st.UNPAUSING,
                     self.host.driver.unpause, {"vm_state": st.ACTIVE})

    def suspend_instance(self, ctx: Any, instance_uuid: str) -> None:
        run_state_op(self.host, ctx, instance_uuid, "compute_suspend_instance", st.SUSPENDING,
                     self.host.driver.suspend, {"vm_state": st.SUSPENDED})

    def resume_instance(self, ctx: Any, instance_uuid: str) -> None:
        run_state_op(self.host, ctx, instance_uuid, "compute_resume_instance", st.RESUMING,
                     self.host.driver.resume, {"vm_state": st.ACTIVE})

    def set_admin_password(self, ctx: Any, instance_uuid: str, password: str) -> None:
        driver = self.host.driver
        run_state_op(self.host, ctx, instance_uuid, "compute_set_admin_password", st.UPDATING_PASSWORD,
                     lambda i: driver.set_admin_password(i, password), {"vm_state": st.ACTIVE})
