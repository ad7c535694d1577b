"""The smallest hypervisor driver that uses the image reader for real (``DiskImageDriver``).

Each instance gets a disk file, ``<disk_dir>/<instance name>.disk``, copied
from the host's verified cached copy of its image (:meth:`ImageReader.local_path`),
and an attached volume is a file too. Nothing runs: power state is a field.
It exists to prove, in the kernel's own tests, that
:mod:`cumulo.interfaces.hypervisor` alone is enough to put a real, verified
disk image where a hypervisor would boot it; the plugin authoring guide
extends the same shape to a QEMU process.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping, Sequence

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    VIF,
    BlockDevice,
    HostResources,
    HypervisorDriver,
    HypervisorError,
    ImageReader,
    Instance,
    InstanceNotFound,
    PowerState,
)


class DiskImageDriver(HypervisorDriver):
    """Disk files from images, power states in memory; the required methods only."""

    interface_version = "3.0"

    def __init__(self, ctx: PluginContext, disk_dir: str = "") -> None:
        super().__init__(ctx)
        self.disk_dir = disk_dir or os.path.join(ctx.conf.state_path, "disk-driver", ctx.host)
        os.makedirs(self.disk_dir, mode=0o700, exist_ok=True)
        self._power: dict[str, PowerState] = {}
        self._lock = threading.Lock()

    def disk_path(self, instance: Instance) -> str:
        return os.path.join(self.disk_dir, instance.name + ".disk")

    def get_host_resources(self) -> HostResources:
        usage = shutil.disk_usage(self.disk_dir)
        return HostResources(vcpus=os.cpu_count() or 1, memory_mb=1024, local_gb=usage.total // 2**30,
                             hypervisor_type="disk", hypervisor_version=1, hypervisor_hostname=self.host)

    def list_power_states(self) -> Mapping[str, PowerState]:
        with self._lock:
            return dict(self._power)

    def spawn(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
              block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        with self._lock:
            if instance.uuid in self._power:
                return  # a retried spawn
        path = self.disk_path(instance)
        try:
            if image.cache_dir:  # one verified download per image and host, copied per instance
                shutil.copyfile(image.local_path(), path + ".part")
                os.replace(path + ".part", path)
            else:
                image.save_to(path)  # verified before it is renamed into place
        except HypervisorError:
            raise
        except OSError as err:
            raise HypervisorError(f"cannot create the disk of {instance.uuid}: {err}") from err
        finally:
            if os.path.exists(path + ".part"):
                os.unlink(path + ".part")
        with self._lock:
            self._power[instance.uuid] = PowerState.RUNNING

    def destroy(self, instance: Instance, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), destroy_disks: bool = True) -> None:
        with self._lock:
            self._power.pop(instance.uuid, None)
        if destroy_disks and os.path.exists(self.disk_path(instance)):
            os.unlink(self.disk_path(instance))

    def _set(self, instance: Instance, state: PowerState) -> None:
        with self._lock:
            if instance.uuid not in self._power:
                raise InstanceNotFound(f"instance {instance.uuid} is not on {self.host}")
            self._power[instance.uuid] = state

    def reboot(self, instance: Instance, hard: bool) -> None:
        self._set(instance, PowerState.RUNNING)

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        self._set(instance, PowerState.SHUTDOWN)

    def power_on(self, instance: Instance) -> None:
        self._set(instance, PowerState.RUNNING)

    def get_power_state(self, instance: Instance) -> PowerState:
        with self._lock:
            if instance.uuid not in self._power:
                raise InstanceNotFound(f"instance {instance.uuid} is not on {self.host}")
            return self._power[instance.uuid]
