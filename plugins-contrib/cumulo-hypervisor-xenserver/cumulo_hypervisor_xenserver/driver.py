"""The ``xenserver`` hypervisor driver: :class:`XenServerDriver`, instances as VMs of a XenServer pool.

The compute area orchestrates; this class maps each step onto XAPI calls
(:mod:`.vm` for records and devices, :mod:`.disks` for VDIs, :mod:`.volumes`,
:mod:`.configdrive`, :mod:`.host`, :mod:`.events`). Every multi-step
operation keeps an undo stack, so a XAPI failure midway (a VBD.create or
VM.start refused) removes what it had made before the error goes up.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import secrets
import threading
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence

from oslo_config import cfg

from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    PROTOCOL_FILE,
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
from cumulo_hypervisor_xenserver import configdrive, disks, events, host, opts, vm, volumes
from cumulo_hypervisor_xenserver.session import XapiClient, XapiError, is_code

LOG = logging.getLogger(__name__)
GiB = 1024 ** 3
TAG_RESIZE_VDIS = "cumulo-resize-vdis"
CONSOLE_TYPES = ("novnc",)


class Undo:
    """What a step made, undone in reverse order when a later step fails."""

    def __init__(self) -> None:
        self._steps: list[Callable[[], object]] = []

    def push(self, step: Callable[[], object]) -> None:
        self._steps.append(step)

    @contextlib.contextmanager
    def on_failure(self) -> Iterator[Undo]:
        try:
            yield self
        except BaseException:
            for step in reversed(self._steps):
                try:
                    step()
                except Exception:  # keep undoing; the first error is the one reported
                    LOG.exception("undoing a failed XenServer operation")
            raise


class XenServerDriver(HypervisorDriver):
    """Instances as XAPI VMs on the pool at ``[xenserver] connection_url`` (options: :mod:`.opts`)."""

    interface_version = "3.1"
    volume_protocols = (PROTOCOL_FILE,)
    graceful_reboot = True

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        opts.register_opts(self.conf)
        self.xs = self.conf.xenserver
        self.x = _client(self.conf)
        self.cache = disks.ImageCache(self.x, self._sr)
        self._sr_ref: str | None = None
        self._sr_guard = threading.Lock()
        self._events: events.PowerEvents | None = None

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        """No connection_url, a login that fails (tried once), or no SR to put disks on."""
        opts.register_opts(conf)
        if not conf.xenserver.connection_url:
            return ["[xenserver] connection_url is not set"]
        client = _client(conf)
        try:
            client.call("pool.get_all")  # logs in: the one session the checks below share
        except HypervisorError as err:
            return [f"[xenserver] cannot log in to {conf.xenserver.connection_url}: {err}"]
        try:
            _find_sr(client, conf.xenserver.sr_name_label)
        except HypervisorError as err:
            return [str(err)]
        finally:
            client.close()
        return []

    def close(self) -> None:
        """Stop the event stream and log the pooled sessions out."""
        if self._events is not None:
            self._events.stop()
        self.x.close()

    def _sr(self) -> str:
        with self._sr_guard:
            if self._sr_ref is None:
                self._sr_ref = _find_sr(self.x, self.xs.sr_name_label)
            return self._sr_ref

    # -- lookups ----------------------------------------------------------------------------------
    def _vm(self, instance: Instance, role: str = vm.INSTANCE) -> str:
        ref = vm.find(self.x, instance, role)
        if ref is None:
            raise InstanceNotFound(f"instance {instance.uuid}: no XenServer VM {vm.name_of(instance, role)}")
        return ref

    def _running_vm(self, instance: Instance) -> str:
        """The VM that runs for the instance now: its rescue VM while rescued, else its own."""
        return vm.find(self.x, instance, vm.RESCUE) or self._vm(instance)

    # -- the host ---------------------------------------------------------------------------------
    def get_host_resources(self) -> HostResources:
        return host.resources(self.x, self._sr())

    def list_power_states(self) -> Mapping[str, PowerState]:
        states: dict[str, PowerState] = {}
        for rec in self.x.call("VM.get_all_records").values():
            other = rec["other_config"]
            role = other.get(vm.TAG_ROLE)
            if other.get(vm.TAG_HOST) != self.host or role not in (vm.INSTANCE, vm.RESCUE) or rec["is_a_snapshot"]:
                continue
            uuid = other[vm.TAG_UUID]
            if role == vm.RESCUE or uuid not in states:
                states[uuid] = vm.POWER_STATES.get(rec["power_state"], PowerState.NOSTATE)
        return states

    def register_power_events(self, callback: Callable[[str, PowerState], None]) -> bool:
        self._events = events.PowerEvents(self.x, self.host, callback)
        self._events.start()
        return True

    # -- lifecycle --------------------------------------------------------------------------------
    def spawn(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
              block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        existing = vm.find(self.x, instance)
        if existing is not None:  # a retried spawn
            self._start(existing)
            return
        undo = Undo()
        with undo.on_failure():
            boot = _boot_volume(block_devices)
            if boot is not None:
                root = volumes.vdi_for(self.x, boot)
                undo.push(lambda: volumes.forget(self.x, root))
            else:
                root = self._root_from_image(image, instance, undo)
            ref = self._assemble(instance, vm.INSTANCE, root, network_info, undo, image.meta.properties,
                                 admin_password=admin_password, block_devices=block_devices)
            self._start(ref)

    def _root_from_image(self, image: ImageReader, instance: Instance, undo: Undo) -> str:
        """A clone of the image's cached base VDI (or a fresh import), grown to the flavor's root size."""
        tags = {disks.TAG_INSTANCE: instance.uuid}
        if self._cached(image.meta):
            root = self.cache.clone(image)
            undo.push(lambda: disks.destroy_vdi(self.x, root))
            self.x.call("VDI.set_name_label", root, f"{instance.name} root")
            self.x.call("VDI.set_other_config", root, tags)
        else:
            root = disks.import_image(self.x, self._sr(), image, f"{instance.name} root", tags)
            undo.push(lambda: disks.destroy_vdi(self.x, root))
        self._fit_root(root, instance.flavor, image.meta.id)
        return root

    def _cached(self, meta: ImageMeta) -> bool:
        mode = self.xs.cache_images
        return mode == "all" or (mode == "some" and meta.properties.get("cache_in_xenserver", "").lower() == "true")

    def _fit_root(self, root: str, flavor: Flavor, image_id: str | None) -> None:
        if not flavor.root_gb:
            return  # root_gb 0: the disk keeps the image's size
        size = int(self.x.call("VDI.get_virtual_size", root))
        if size > flavor.root_gb * GiB:
            raise HypervisorError(f"image {image_id} needs {size} bytes, more than the flavor's {flavor.root_gb} GiB")
        disks.grow(self.x, root, flavor.root_gb * GiB)

    def _assemble(self, instance: Instance, role: str, root: str, network_info: Sequence[VIF], undo: Undo,
                  properties: Mapping[str, str], admin_password: str | None = None,
                  block_devices: Sequence[BlockDevice] = (), ephemeral: str | None = None) -> str:
        """The VM with its root disk, ephemeral disk, config drive, volumes and VIFs (not started)."""
        x = self.x
        ref = str(x.call("VM.create", vm.record(instance, instance.flavor, self.host, role, properties)))
        undo.push(lambda: self._destroy_vm(ref, destroy_disks=False))
        vm.create_vbd(x, ref, root, vm.ROOT, bootable=True)
        if ephemeral is None and instance.ephemeral_gb:
            ephemeral = disks.create_vdi(x, self._sr(), f"{instance.name} ephemeral", instance.ephemeral_gb * GiB,
                                         {disks.TAG_INSTANCE: instance.uuid})
            made = ephemeral
            undo.push(lambda: disks.destroy_vdi(x, made))
        if ephemeral is not None:
            vm.create_vbd(x, ref, ephemeral, vm.EPHEMERAL)
        if instance.config_drive or admin_password or self.xs.force_config_drive:
            self._config_drive(ref, instance, network_info, admin_password, undo)
        for bd in block_devices:
            if bd.destination_type == "volume" and bd.boot_index != 0:
                self._attach(ref, bd, undo)
        for vif in network_info:
            vm.create_vif(x, ref, vif, self.xs.default_network)
        return ref

    def _config_drive(self, ref: str, instance: Instance, network_info: Sequence[VIF], admin_password: str | None,
                      undo: Undo) -> None:
        data = configdrive.build(instance, network_info, admin_password)
        size = -(-len(data) // (1024 * 1024)) * 1024 * 1024
        vdi = disks.create_vdi(self.x, self._sr(), f"{instance.name} config drive", size,
                               {disks.TAG_INSTANCE: instance.uuid})
        undo.push(lambda: disks.destroy_vdi(self.x, vdi))
        disks.upload(self.x, vdi, data)
        vm.create_vbd(self.x, ref, vdi, vm.CONFIG_DRIVE, mode="RO")

    def _start(self, ref: str) -> None:
        """Bring the VM to Running from whatever state it is in."""
        state = self.x.call("VM.get_power_state", ref)
        if state == "Halted":
            self.x.call_async("VM.start", ref, False, False)
        elif state == "Paused":
            self.x.call_async("VM.unpause", ref)
        elif state == "Suspended":
            self.x.call_async("VM.resume", ref, False, False)

    def _stop(self, ref: str, timeout: int) -> None:
        """Halt the VM: a clean shutdown for up to ``timeout`` seconds when it runs, then a hard one."""
        state = self.x.call("VM.get_power_state", ref)
        if state == "Halted":
            return
        if state == "Running" and timeout > 0:
            try:
                task = self.x.call("Async.VM.clean_shutdown", ref)
                self.x.wait_task(task, "VM.clean_shutdown", timeout=timeout)
                return
            except HypervisorError as err:
                LOG.info("clean shutdown of %s did not finish (%s); shutting it down hard", ref, err)
        try:
            self.x.call_async("VM.hard_shutdown", ref)
        except XapiError as err:
            if not (is_code(err, "VM_BAD_POWER_STATE") and self.x.call("VM.get_power_state", ref) == "Halted"):
                raise

    def _destroy_vm(self, ref: str, destroy_disks: bool = True, keep: Sequence[str] = ()) -> None:
        """Halt and destroy ``ref``; then its disks (volumes are forgotten, never destroyed) unless another
        VM still uses them or they are in ``keep``. A VM already gone is fine."""
        x = self.x
        try:
            self._stop(ref, 0)
            attached = vm.disks(x, ref)
            x.call("VM.destroy", ref)
        except XapiError as err:
            if is_code(err, "HANDLE_INVALID"):
                return
            raise
        if not destroy_disks:
            return
        for vdi in attached.values():
            if vdi in keep:
                continue
            try:
                other = x.call("VDI.get_other_config", vdi)
                if other.get(disks.TAG_IMAGE):
                    continue  # a cached base (a rescue VM's root never is, but be safe)
                if other.get(disks.TAG_VOLUME):
                    volumes.forget(x, vdi)
                elif not x.call("VDI.get_VBDs", vdi):
                    disks.destroy_vdi(x, vdi)
            except XapiError as err:
                if not is_code(err, "HANDLE_INVALID"):
                    raise

    def destroy(self, instance: Instance, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), destroy_disks: bool = True) -> None:
        # the rescue VM first: it holds the instance's root disk as its second disk
        for role in (vm.RESCUE, vm.INSTANCE):
            ref = vm.find(self.x, instance, role)
            if ref is not None:
                self._destroy_vm(ref, destroy_disks)

    def reboot(self, instance: Instance, hard: bool) -> None:
        ref = self._running_vm(instance)
        state = self.x.call("VM.get_power_state", ref)
        if state != "Running":
            self._start(ref)
            return
        if not hard:
            try:
                self.x.call_async("VM.clean_reboot", ref)
                return
            except XapiError as err:
                LOG.info("clean reboot of %s failed (%s); rebooting it hard", instance.uuid, err)
        self.x.call_async("VM.hard_reboot", ref)

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        self._stop(self._running_vm(instance), timeout or self.xs.shutdown_timeout)

    def power_on(self, instance: Instance) -> None:
        self._start(self._running_vm(instance))

    def get_power_state(self, instance: Instance) -> PowerState:
        return vm.power_state(self.x, self._running_vm(instance))

    # -- optional operations ----------------------------------------------------------------------
    def pause(self, instance: Instance) -> None:
        self.x.call_async("VM.pause", self._running_vm(instance))

    def unpause(self, instance: Instance) -> None:
        self.x.call_async("VM.unpause", self._running_vm(instance))

    def suspend(self, instance: Instance) -> None:
        self.x.call_async("VM.suspend", self._running_vm(instance))

    def resume(self, instance: Instance) -> None:
        self.x.call_async("VM.resume", self._running_vm(instance), False, False)

    def rescue(self, instance: Instance, image: ImageReader, rescue_password: str) -> None:
        """A ``<name>-rescue`` VM booting ``image``, with the instance's root disk as its second disk."""
        ref = self._vm(instance)
        if vm.find(self.x, instance, vm.RESCUE) is not None:
            return
        self._stop(ref, self.xs.shutdown_timeout)
        undo = Undo()
        with undo.on_failure():
            root = self._root_from_image(image, instance, undo)
            nics = [(self.x.call("VIF.get_record", v)) for v in self.x.call("VM.get_VIFs", ref)]
            rescue = self._assemble(instance, vm.RESCUE, root, [], undo, image.meta.properties,
                                    admin_password=rescue_password)
            vm.create_vbd(self.x, rescue, vm.disks(self.x, ref)[vm.ROOT], vm.RESCUE_OF_ROOT)
            for i, nic in enumerate(nics):  # the instance's own ports, on the rescue VM while it runs
                self.x.call("VIF.create", {**{k: nic[k] for k in ("network", "MAC", "MTU", "other_config",
                                                                  "qos_algorithm_type", "qos_algorithm_params")},
                                           "device": str(i), "VM": rescue})
            self._start(rescue)

    def unrescue(self, instance: Instance) -> None:
        ref = self._vm(instance)
        rescue = vm.find(self.x, instance, vm.RESCUE)
        if rescue is not None:
            self._destroy_vm(rescue, keep=list(vm.disks(self.x, ref).values()))
        self._start(ref)

    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str, flavor: Flavor) -> DiskInfo:
        """Halt the VM, clone its disks for the destination, keep it as ``<name>-orig`` for a revert."""
        x = self.x
        ref = self._vm(instance)
        attached = vm.disks(x, ref)
        root = attached[vm.ROOT]
        if flavor.root_gb and int(x.call("VDI.get_virtual_size", root)) > flavor.root_gb * GiB:
            raise HypervisorError(f"instance {instance.uuid}: XenServer cannot shrink the root disk to "
                                  f"{flavor.root_gb} GiB")
        self._stop(ref, self.xs.shutdown_timeout)
        undo = Undo()
        with undo.on_failure():
            clones = {}
            for device in (vm.ROOT, vm.EPHEMERAL):
                if device in attached:
                    clone = x.call_async("VDI.clone", attached[device], {})
                    undo.push(functools.partial(disks.destroy_vdi, x, clone))
                    x.call("VDI.set_other_config", clone, {disks.TAG_INSTANCE: instance.uuid})
                    clones[device] = str(x.call("VDI.get_uuid", clone))
            vm.set_role(x, ref, instance, vm.RESIZE_ORIG, self.host)
            undo.push(lambda: vm.set_role(x, ref, instance, vm.INSTANCE, self.host))
            x.call("VM.add_to_other_config", ref, TAG_RESIZE_VDIS, ",".join(clones.values()))
        return {"root_vdi": clones[vm.ROOT], "ephemeral_vdi": clones.get(vm.EPHEMERAL, ""),
                "pool": _pool_uuid(x), "source_host": self.host}

    def finish_migration(self, instance: Instance, disk_info: DiskInfo, network_info: Sequence[VIF],
                         image: ImageMeta, resize_instance: bool, block_devices: Sequence[BlockDevice] = (),
                         power_on: bool = True) -> None:
        x = self.x
        if disk_info.get("pool") != _pool_uuid(x):
            raise HypervisorError(f"instance {instance.uuid}: its disks are in another XenServer pool; "
                                  "this driver resizes within one pool only")
        existing = vm.find(x, instance)
        if existing is not None:  # a retried finish
            if power_on:
                self._start(existing)
            return
        root = str(x.call("VDI.get_by_uuid", disk_info["root_vdi"]))
        ephemeral = str(x.call("VDI.get_by_uuid", disk_info["ephemeral_vdi"])) if disk_info.get("ephemeral_vdi") \
            else None
        undo = Undo()
        with undo.on_failure():
            if resize_instance:
                self._fit_root(root, instance.flavor, image.id)
                if ephemeral is not None and instance.ephemeral_gb:
                    disks.grow(x, ephemeral, instance.ephemeral_gb * GiB)
            ref = self._assemble(instance, vm.INSTANCE, root, network_info, undo, image.properties,
                                 block_devices=block_devices, ephemeral=ephemeral)
            if power_on:
                self._start(ref)

    def confirm_migration(self, instance: Instance, network_info: Sequence[VIF]) -> None:
        orig = vm.find(self.x, instance, vm.RESIZE_ORIG)
        if orig is not None:
            self._destroy_vm(orig)

    def finish_revert_migration(self, instance: Instance, network_info: Sequence[VIF],
                                block_devices: Sequence[BlockDevice] = (), power_on: bool = True) -> None:
        x = self.x
        orig = vm.find(x, instance, vm.RESIZE_ORIG)
        if orig is None:
            ref = self._vm(instance)  # a retried revert: it is back already
            if power_on:
                self._start(ref)
            return
        resized = vm.find(x, instance)
        if resized is not None:
            self._destroy_vm(resized)
        for uuid in filter(None, x.call("VM.get_other_config", orig).get(TAG_RESIZE_VDIS, "").split(",")):
            with contextlib.suppress(XapiError):  # UUID_INVALID: destroyed with the resized VM
                clone = x.call("VDI.get_by_uuid", uuid)
                if not x.call("VDI.get_VBDs", clone):
                    disks.destroy_vdi(x, clone)
        vm.set_role(x, orig, instance, vm.INSTANCE, self.host)
        x.call("VM.remove_from_other_config", orig, TAG_RESIZE_VDIS)
        if power_on:
            self._start(orig)

    def snapshot(self, instance: Instance, write_chunk: Callable[[bytes], object]) -> SnapshotResult:
        """VM.snapshot (the root VDI's copy-on-write snapshot), its root exported raw, then dropped."""
        ref = self._vm(instance)
        snap = self.x.call_async("VM.snapshot", ref, f"{instance.name}-snapshot")
        try:
            disks.export(self.x, vm.disks(self.x, snap)[vm.ROOT], write_chunk)
        finally:
            snap_disks = vm.disks(self.x, snap)
            self.x.call("VM.destroy", snap)
            for vdi in snap_disks.values():
                disks.destroy_vdi(self.x, vdi)
        return SnapshotResult(disk_format="raw", container_format="bare")

    def get_console_output(self, instance: Instance) -> str:
        """The console log, from the dom0 plugin ``[xenserver] console_plugin`` (empty while halted)."""
        ref = self._running_vm(instance)
        domid = str(self.x.call("VM.get_domid", ref))
        if domid in ("", "-1"):
            return ""
        resident = self.x.call("VM.get_resident_on", ref)
        encoded = self.x.call("host.call_plugin", resident, self.xs.console_plugin, "get_console_log",
                              {"dom_id": domid})
        text = zlib.decompress(base64.b64decode(encoded)).decode("utf-8", "replace")
        return text[-self.xs.console_log_max_bytes:]

    def get_remote_console(self, instance: Instance, console_type: str) -> RemoteConsole:
        """The VM's VNC console (``rfb``) as XAPI locates it; a proxy must add a XAPI session to reach it."""
        if console_type not in CONSOLE_TYPES:
            raise HypervisorError(f"XenServer offers {', '.join(CONSOLE_TYPES)} consoles, not {console_type}")
        ref = self._running_vm(instance)
        for console in self.x.call("VM.get_consoles", ref):
            rec = self.x.call("console.get_record", console)
            if rec["protocol"] == "rfb":
                where = urllib.parse.urlsplit(rec["location"])
                port = where.port or (443 if where.scheme == "https" else 80)
                return RemoteConsole(console_type=console_type, host=where.hostname or "", port=port,
                                     token=secrets.token_urlsafe(16),
                                     internal_access_path=f"{where.path}?{where.query}")
        raise HypervisorError(f"instance {instance.uuid}: no VNC console (is it running?)")

    # -- volumes and interfaces -------------------------------------------------------------------
    def _attach(self, ref: str, bd: BlockDevice, undo: Undo) -> str:
        vdi = volumes.vdi_for(self.x, bd)
        undo.push(lambda: volumes.forget(self.x, vdi))
        device = vm.free_userdevice(self.x, ref, vm.userdevice_of(bd.device_name))
        vbd = vm.create_vbd(self.x, ref, vdi, device)
        undo.push(lambda: vm.unplug_and_destroy(self.x, "VBD", vbd))
        vm.plug(self.x, "VBD", vbd, ref)
        return device

    def attach_volume(self, instance: Instance, block_device: BlockDevice) -> str | None:
        ref = self._vm(instance)
        current = self._volume_vbd(ref, block_device)
        if current is not None:
            device = str(self.x.call("VBD.get_userdevice", current))
        else:
            with Undo().on_failure() as undo:
                device = self._attach(ref, block_device, undo)
        name = vm.device_name(device)
        return None if name == block_device.device_name else name

    def _volume_vbd(self, ref: str, bd: BlockDevice) -> str | None:
        for vbd in self.x.call("VM.get_VBDs", ref):
            vdi = self.x.call("VBD.get_VDI", vbd)
            if vdi != "OpaqueRef:NULL" and self.x.call("VDI.get_other_config", vdi).get(disks.TAG_VOLUME) \
                    == bd.volume_id:
                return str(vbd)
        return None

    def detach_volume(self, instance: Instance, block_device: BlockDevice) -> None:
        ref = self._vm(instance)
        vbd = self._volume_vbd(ref, block_device)
        if vbd is None:
            return
        vdi = self.x.call("VBD.get_VDI", vbd)
        vm.unplug_and_destroy(self.x, "VBD", vbd)
        volumes.forget(self.x, vdi)

    def attach_interface(self, instance: Instance, vif: VIF) -> None:
        ref = self._running_vm(instance)
        if vif.id in vm.vifs_by_port(self.x, ref):
            return
        made = vm.create_vif(self.x, ref, vif, self.xs.default_network)
        try:
            vm.plug(self.x, "VIF", made, ref)
        except BaseException:
            with contextlib.suppress(HypervisorError):
                self.x.call("VIF.destroy", made)
            raise

    def detach_interface(self, instance: Instance, vif: VIF) -> None:
        ref = self._running_vm(instance)
        made = vm.vifs_by_port(self.x, ref).get(vif.id)
        if made is not None:
            vm.unplug_and_destroy(self.x, "VIF", made)


def _client(conf: cfg.ConfigOpts) -> XapiClient:
    xs = conf.xenserver
    return XapiClient(xs.connection_url, xs.connection_username, xs.connection_password,
                      concurrent=xs.connection_concurrent, timeout=xs.login_timeout, verify_tls=xs.verify_tls,
                      task_timeout=xs.task_timeout, poll_interval=xs.task_poll_interval)


def _find_sr(x: XapiClient, name_label: str) -> str:
    """The SR named ``name_label``, or the pool's default SR.

    :raises HypervisorError: there is none.
    """
    if name_label:
        found = x.call("SR.get_by_name_label", name_label)
        if not found:
            raise HypervisorError(f"[xenserver] sr_name_label: the pool has no SR named {name_label!r}")
        return str(found[0])
    pool = x.call("pool.get_all")[0]
    sr = x.call("pool.get_default_SR", pool)
    if sr == "OpaqueRef:NULL":
        raise HypervisorError("[xenserver] sr_name_label is empty and the pool has no default SR")
    return str(sr)


def _pool_uuid(x: XapiClient) -> str:
    return str(x.call("pool.get_uuid", x.call("pool.get_all")[0]))


def _boot_volume(block_devices: Sequence[BlockDevice]) -> BlockDevice | None:
    for bd in block_devices:
        if bd.boot_index == 0 and bd.destination_type == "volume":
            return bd
    return None
