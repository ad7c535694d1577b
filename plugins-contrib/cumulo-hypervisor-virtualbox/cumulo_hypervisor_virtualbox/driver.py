"""The ``virtualbox`` hypervisor driver: :class:`VirtualBoxDriver`, instances as VirtualBox machines.

Everything goes through ``VBoxManage`` (:mod:`.vboxmanage`); the machine's registration is the instance's
state (:mod:`.machine` says how a machine is named, grouped and set up), its folder holds the root disk
cloned from the host's base VDI of the image (:mod:`.media`) and the serial console log (:mod:`.consoles`).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    VIF,
    BlockDevice,
    DiskInfo,
    Flavor,
    HostResources,
    HypervisorDriver,
    HypervisorError,
    ImageMeta,
    ImageReader,
    Instance,
    InstanceNotFound,
    PowerState,
    RemoteConsole,
    SnapshotResult,
)
from cumulo_hypervisor_virtualbox import consoles, machine, media, opts, output
from cumulo_hypervisor_virtualbox.machine import MachineInfo
from cumulo_hypervisor_virtualbox.vboxmanage import VBoxManage, VBoxManageError

RESIZE_DIR, RESIZE_FILE = "_resize", "resize.json"


class VirtualBoxDriver(HypervisorDriver):
    """VirtualBox machines through VBoxManage (``[virtualbox]`` options, :mod:`.opts`).

    A soft reboot presses the ACPI power button and starts the machine again once the guest has powered off
    (reset after ``shutdown_timeout``): VirtualBox has no ACPI reboot. Suspend is ``savestate``. Snapshots
    take a VirtualBox snapshot, so the disk they copy is frozen while the guest runs on, then delete it.
    Resize copies the root disk aside (``<machine_folder>/_resize/<uuid>``) for a revert.
    """

    interface_version = "3.1"
    graceful_reboot = True

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        opts.register_opts(self.conf)
        vb = self.conf.virtualbox
        self.vbox = VBoxManage(shutil.which(vb.vboxmanage_path) or vb.vboxmanage_path, vb.user_home,
                               vb.command_timeout)
        self.machine_folder = opts.machine_folder(self.conf)
        self.disk_timeout = vb.disk_timeout
        self.cache = media.ImageCache(self.vbox, opts.images_path(self.conf), vb.disk_timeout)
        self.nics = machine.NicSettings(vb.nic_mode, vb.bridged_adapter, vb.hostonly_adapter, vb.nic_type)

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        """No VBoxManage program, a malformed VRDE port range, hostonly mode without an adapter."""
        opts.register_opts(conf)
        return opts.problems(conf)

    # -- lookup ----------------------------------------------------------------------------------------
    def _info(self, ref: str) -> MachineInfo | None:
        """The machine ``ref`` (uuid or name) as VirtualBox reports it; None when it is not registered."""
        try:
            return machine.machine_info(output.machinereadable(self.vbox("showvminfo", ref, "--machinereadable")))
        except VBoxManageError as err:
            if err.machine_not_found:
                return None
            raise

    def _lookup(self, instance: Instance) -> MachineInfo:
        info = self._info(instance.uuid)
        if info is None or info.owner() != self.host:
            raise InstanceNotFound(f"instance {instance.uuid} is not on {self.host}")
        return info

    @contextlib.contextmanager
    def _errors(self, instance: Instance, action: str) -> Iterator[None]:
        """VirtualBox's and the file system's errors of ``action``, with VirtualBox's message kept."""
        try:
            yield
        except VBoxManageError as err:
            if err.machine_not_found:
                raise InstanceNotFound(f"instance {instance.uuid} is not on {self.host}") from err
            raise VBoxManageError(f"{action} of {instance.uuid} failed: {err.message}", err.code, err.command,
                                  err.exit_code, err.component, err.interface) from err
        except OSError as err:
            raise HypervisorError(f"{action} of {instance.uuid} failed: {err}") from err

    def _folder(self, instance: Instance) -> str:
        return os.path.join(self.machine_folder, instance.name)

    # -- the host --------------------------------------------------------------------------------------
    def get_host_resources(self) -> HostResources:
        # "Host Information:" heads the report, a blank line before its fields
        host = {k: v for block in output.fields(self.vbox("list", "hostinfo")) for k, v in block.items()}
        try:
            version = output.version_number(self.vbox("--version"))
        except ValueError as err:
            raise HypervisorError(f"VBoxManage --version: {err}") from err
        os.makedirs(self.machine_folder, exist_ok=True)
        disk = os.statvfs(self.machine_folder)
        return HostResources(
            vcpus=int(host.get("Processor count", "0") or 0), memory_mb=output.megabytes(host.get("Memory size", "")),
            local_gb=disk.f_blocks * disk.f_frsize // 1024 ** 3, hypervisor_type="vbox", hypervisor_version=version,
            hypervisor_hostname=self.host, cpu_info={"arch": os.uname().machine},
            supported_instances=(("x86_64", "vbox", "hvm"), ("i686", "vbox", "hvm")))

    def list_power_states(self) -> Mapping[str, PowerState]:
        found: dict[str, PowerState] = {}
        for _name, uuid in output.machine_list(self.vbox("list", "vms")):
            info = self._info(uuid)  # None: unregistered meanwhile
            if info is not None and info.owner() == self.host:
                found[info.uuid] = info.power_state
        return found

    def get_power_state(self, instance: Instance) -> PowerState:
        return self._lookup(instance).power_state

    # -- building and removing machines -----------------------------------------------------------------
    def _create(self, instance: Instance, source_disk: str, vifs: Sequence[VIF], close_source: bool = False) -> None:
        """Register the instance's machine with a root disk cloned from ``source_disk``, powered off."""
        vb = self.conf.virtualbox
        folder = self._folder(instance)
        nic_args = machine.nic_args(vifs, self.nics)  # before anything exists: a bad port changes nothing
        self.vbox("createvm", "--name", instance.name, "--uuid", instance.uuid, "--ostype", vb.ostype,
                  "--basefolder", self.machine_folder, "--groups", machine.group(self.host), "--register")
        disk = os.path.join(folder, machine.ROOT_DISK)
        media.clone(self.vbox, source_disk, disk, self.disk_timeout, close_source=close_source)
        media.grow(self.vbox, disk, instance.root_gb, self.disk_timeout)
        self.vbox("modifyvm", instance.uuid, *machine.flavor_args(instance), "--acpi", "on", "--boot1", "disk",
                  *nic_args, *machine.console_args(folder), *machine.vrde_args(vb.vrde, vb.vrde_ports, vb.vrde_address))
        self.vbox("storagectl", instance.uuid, "--name", machine.CONTROLLER, "--add", "sata", "--controller",
                  "IntelAhci", "--portcount", "1", "--bootable", "on")
        self.vbox("storageattach", instance.uuid, "--storagectl", machine.CONTROLLER, "--port", "0", "--device", "0",
                  "--type", "hdd", "--medium", disk)

    def _stop(self, info: MachineInfo) -> None:
        """Power the machine off now (a saved state is discarded)."""
        if info.live:
            try:
                self.vbox("controlvm", info.uuid, "poweroff")
            except VBoxManageError as err:  # it stopped meanwhile
                if "not currently running" not in err.message:
                    raise
        elif info.state == "saved":
            self.vbox("discardstate", info.uuid)

    def _remove(self, instance: Instance, delete_files: bool = True) -> None:
        """Stop and unregister the machine (``--delete``: its disks and settings too) and remove its folder."""
        info = self._info(instance.uuid)
        folder = self._folder(instance)
        if info is not None:
            self._stop(info)
            self.vbox("unregistervm", instance.uuid, *(["--delete"] if delete_files else []))
        if delete_files:
            media.close(self.vbox, os.path.join(folder, machine.ROOT_DISK), delete=True)  # cloned, never attached
            shutil.rmtree(folder, ignore_errors=True)

    def _start(self, uuid: str) -> None:
        self.vbox("startvm", uuid, "--type", "headless")

    def _wait_stopped(self, uuid: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            info = self._info(uuid)
            if info is None or not info.live:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.5)

    # -- lifecycle -------------------------------------------------------------------------------------
    def spawn(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
              block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        """Clone the image's base VDI, create and start the machine; on any failure remove all of it.

        Volumes are not supported (``volume_protocols`` is empty): a block-device mapping with one fails.
        """
        existing = self._info(instance.uuid)
        if existing is not None:
            if existing.owner() != self.host:
                raise HypervisorError(f"a VirtualBox machine with the uuid {instance.uuid} belongs to "
                                      f"{existing.owner() or 'no Cumulo host'}")
            with self._errors(instance, "spawn"):  # a retried spawn: make sure it runs
                if not existing.live:
                    self._start(instance.uuid)
            return
        if any(b.destination_type == "volume" for b in block_devices):
            raise HypervisorError("the VirtualBox driver attaches no volumes (boot from volume included)")
        base = self.cache.base_vdi(image)
        try:
            with self._errors(instance, "spawn"):
                self._create(instance, base, network_info)
                self._start(instance.uuid)
        except BaseException:
            with contextlib.suppress(Exception):  # leave nothing behind, report the first error
                self._remove(instance)
            raise

    def destroy(self, instance: Instance, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), destroy_disks: bool = True) -> None:
        """Power off and unregister the machine; with ``destroy_disks`` its folder goes (not ``_resize``)."""
        info = self._info(instance.uuid)
        if info is not None and info.owner() != self.host:
            return  # another host's machine on a shared VirtualBox
        with self._errors(instance, "destroy"):
            if info is not None or destroy_disks:
                self._remove(instance, delete_files=destroy_disks)

    def reboot(self, instance: Instance, hard: bool) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "reboot"):
            if not hard and info.state == "running":
                self.vbox("controlvm", instance.uuid, "acpipowerbutton")
                if self._wait_stopped(instance.uuid, self.conf.virtualbox.shutdown_timeout):
                    self._start(instance.uuid)
                else:
                    self.vbox("controlvm", instance.uuid, "reset")
                return
            self._stop(info)
            self._start(instance.uuid)

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "power off"):
            if timeout > 0 and info.state == "running":
                with contextlib.suppress(VBoxManageError):  # no ACPI in the guest: powered off below
                    self.vbox("controlvm", instance.uuid, "acpipowerbutton")
                self._wait_stopped(instance.uuid, timeout)
                info = self._info(instance.uuid) or info
            self._stop(info)

    def power_on(self, instance: Instance) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "power on"):
            if info.state == "paused":
                self.vbox("controlvm", instance.uuid, "resume")
            elif not info.live:
                self._start(instance.uuid)  # restores a saved state, if any

    def pause(self, instance: Instance) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "pause"):
            if info.state != "paused":
                self.vbox("controlvm", instance.uuid, "pause")

    def unpause(self, instance: Instance) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "unpause"):
            if info.state == "paused":
                self.vbox("controlvm", instance.uuid, "resume")

    def suspend(self, instance: Instance) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "suspend"):
            if info.live:
                self.vbox("controlvm", instance.uuid, "savestate")

    def resume(self, instance: Instance) -> None:
        info = self._lookup(instance)
        with self._errors(instance, "resume"):
            if info.state == "saved":
                self._start(instance.uuid)

    # -- snapshot --------------------------------------------------------------------------------------
    def snapshot(self, instance: Instance, write_chunk: Callable[[bytes], object]) -> SnapshotResult:
        """Stream the root disk as a VDI; the guest keeps running (or paused, or off) as it was.

        A VirtualBox snapshot freezes the disk (the machine writes to a differencing image meanwhile); the
        frozen disk is cloned to a standalone VDI, streamed, and the snapshot is deleted (merged back).
        """
        info = self._lookup(instance)
        if info.root_disk is None:
            raise HypervisorError(f"instance {instance.uuid} has no root disk to snapshot")
        name = f"cumulo-export-{secrets.token_hex(4)}"
        copy = os.path.join(info.folder, f"{name}.vdi")
        with self._errors(instance, "snapshot"):
            self.vbox("snapshot", instance.uuid, "take", name, *(["--live"] if info.state == "running" else []))
            try:
                media.export(self.vbox, info.root_disk, copy, write_chunk, self.disk_timeout)
            finally:
                self.vbox("snapshot", instance.uuid, "delete", name, timeout=self.disk_timeout)
        return SnapshotResult(disk_format="vdi", container_format="bare")

    # -- resize (cold; one host, or hosts sharing machine_folder) --------------------------------------
    def _kept(self, instance: Instance) -> str:
        return os.path.join(self.machine_folder, RESIZE_DIR, instance.uuid)

    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str, flavor: Flavor) -> DiskInfo:
        """Power off and copy the root disk to ``_resize/<uuid>/disk.vdi``, what a revert starts from."""
        if (flavor.root_gb and flavor.root_gb < instance.root_gb) or flavor.ephemeral_gb < instance.ephemeral_gb:
            raise HypervisorError(f"cannot shrink the disks of {instance.uuid} (flavor {flavor.name})")
        info = self._lookup(instance)
        kept = self._kept(instance)
        kept_disk = os.path.join(kept, machine.ROOT_DISK)
        with self._errors(instance, "resize"):
            self.power_off(instance, self.conf.virtualbox.shutdown_timeout)
            if info.root_disk is None:
                raise HypervisorError(f"instance {instance.uuid} has no root disk to resize")
            if not os.path.exists(kept_disk):  # a retried call has copied it already
                os.makedirs(kept, exist_ok=True)
                media.clone(self.vbox, info.root_disk, kept_disk, self.disk_timeout)
                media.close(self.vbox, kept_disk)
            record = {"source_host": self.host, "dest_host": dest_host, "kept_disk": kept_disk}
            with open(os.path.join(kept, RESIZE_FILE), "w", encoding="utf-8") as f:
                json.dump(record, f)
        return record

    def finish_migration(self, instance: Instance, disk_info: DiskInfo, network_info: Sequence[VIF],
                         image: ImageMeta, resize_instance: bool, block_devices: Sequence[BlockDevice] = (),
                         power_on: bool = True) -> None:
        """Give the machine the new flavor (here, or rebuilt from the kept disk on another host) and start it."""
        info = self._info(instance.uuid)
        with self._errors(instance, "finish resize"):
            if info is not None and info.owner() == self.host:
                self.vbox("modifyvm", instance.uuid, *machine.flavor_args(instance))
                if resize_instance and info.root_disk:
                    media.grow(self.vbox, info.root_disk, instance.root_gb, self.disk_timeout)
            else:
                kept_disk = str(disk_info.get("kept_disk", ""))
                if not os.path.exists(kept_disk):
                    raise HypervisorError(f"the disk of {instance.uuid} is not at {kept_disk} "
                                          "(machine_folder not shared?)")
                try:
                    self._create(instance, kept_disk, network_info, close_source=True)
                except BaseException:
                    with contextlib.suppress(Exception):
                        self._remove(instance)
                    raise
            if power_on:
                self._start(instance.uuid)

    def confirm_migration(self, instance: Instance, network_info: Sequence[VIF]) -> None:
        kept = self._kept(instance)
        with self._errors(instance, "confirm resize"):
            try:
                with open(os.path.join(kept, RESIZE_FILE), encoding="utf-8") as f:
                    record = json.load(f)
            except FileNotFoundError:
                record = {}
            if record.get("dest_host", self.host) != self.host:  # the machine now runs elsewhere
                info = self._info(instance.uuid)
                if info is not None and info.owner() == self.host:
                    self._remove(instance)
            shutil.rmtree(kept, ignore_errors=True)

    def finish_revert_migration(self, instance: Instance, network_info: Sequence[VIF],
                                block_devices: Sequence[BlockDevice] = (), power_on: bool = True) -> None:
        """Rebuild the machine from the kept disk with the old flavor; the kept copy goes once it runs."""
        kept = self._kept(instance)
        kept_disk = os.path.join(kept, machine.ROOT_DISK)
        if not os.path.exists(kept_disk):
            raise HypervisorError(f"the disk kept for reverting {instance.uuid} is gone ({kept_disk})")
        with self._errors(instance, "revert resize"):
            self._remove(instance)
            try:
                self._create(instance, kept_disk, network_info, close_source=True)
                if power_on:
                    self._start(instance.uuid)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._remove(instance)
                raise
            shutil.rmtree(kept, ignore_errors=True)

    # -- consoles --------------------------------------------------------------------------------------
    def get_console_output(self, instance: Instance) -> str:
        """The end of the serial port's ``console.log`` in the machine folder; empty before the first line."""
        info = self._lookup(instance)
        return consoles.log_tail(os.path.join(info.folder, machine.CONSOLE_LOG),
                                 self.conf.virtualbox.console_log_max_bytes, instance.uuid)

    def get_remote_console(self, instance: Instance, console_type: str) -> RemoteConsole:
        """The machine's VRDE server: ``novnc`` with the VNC extension pack, ``rdp-html5`` with RDP."""
        vb = self.conf.virtualbox
        info = self._lookup(instance)
        if not vb.vrde:
            raise HypervisorError("[virtualbox] vrde is off: machines have no remote display")
        with self._errors(instance, "remote console"):
            return consoles.vrde_console(self.vbox, info, vb.vrde_protocol, console_type, vb.vrde_address)

