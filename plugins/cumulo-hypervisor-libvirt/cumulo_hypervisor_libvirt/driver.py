"""The ``libvirt`` hypervisor driver: :class:`LibvirtDriver`, instances as libvirt domains.

One driver serves one compute host. An instance is the domain ``cumulo-<uuid>``
(uuid = the instance's), whose ``<metadata>`` names the owning host, and the
directory ``<instances_path>/<uuid>`` holding its disks (``disk``: a qcow2
overlay over the host's image cache, ``disk.eph0``, ``disk.config``), its
console log and ``vifs.json`` (what the config drive is rebuilt from). The
domain's persistent definition is the instance's state: power operations keep
it, rescue and resize edit it and keep the previous one beside the disks.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import libvirt
from oslo_config import cfg

from cumulo import exception
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    VIF,
    BlockDevice,
    DiskInfo,
    FileConnection,
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
from cumulo.interfaces.service import Stoppable
from cumulo_hypervisor_libvirt import (
    configdrive,
    console_log,
    console_proxy,
    consoles,
    daemons,
    devices,
    disks,
    events,
    files,
    guest,
    host,
    opts,
)

LOG = logging.getLogger(__name__)

ROOT_DISK, EPHEMERAL_DISK, CONFIG_DRIVE, RESCUE_DISK = "disk", "disk.eph0", "disk.config", "disk.rescue"
RESCUE_CONFIG_DRIVE = "disk.config.rescue"
UNRESCUE_XML, VIFS_FILE, RESIZE_FILE = "unrescue.xml", "vifs.json", "resize.json"
CHUNK = 1024 * 1024

def _not_found(err: libvirt.libvirtError) -> bool:
    return err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN


class LibvirtDriver(HypervisorDriver):
    """QEMU/KVM or LXC domains through libvirt (``[libvirt]`` options, :mod:`.opts`).

    The config drive: every instance gets one unless ``force_config_drive`` is
    false (then only those asking for one or given an admin password), because
    guests here have no metadata service to fall back on and
    :meth:`set_admin_password` goes through it. Remote consoles (``novnc``:
    the domain's VNC server on ``vnc_listen``; ``serial``: libvirt's console
    stream) are reached through the websocket proxy that :meth:`start_local`
    runs in the compute process (:mod:`.console_proxy`) with a short-lived token.
    """

    interface_version = "3.0"
    volume_protocols = guest.VOLUME_TRANSPORTS
    graceful_reboot = True

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        opts.register_opts(self.conf)
        lv = self.conf.libvirt
        self.choice = host.choose_virt_type(lv.virt_type)
        LOG.info("libvirt on %s: %s", self.host, self.choice.reason)
        self.virt_type = self.choice.virt_type
        self.uri = opts.connection_uri(self.conf, self.virt_type)
        self.instances_path = opts.instances_path(self.conf)
        self.cache = disks.ImageCache(opts.images_path(self.conf))
        self.settings = guest.GuestSettings(
            virt_type=self.virt_type, host=self.host, machine_type=lv.machine_type, cpu_mode=lv.cpu_mode,
            cpu_model=lv.cpu_model, vnc_listen=lv.vnc_listen, lxc_init=lv.lxc_init,
            dac_label=files.dac_label(lv.qemu_dac_label, self.instances_path))
        self._conn: Any = None
        self._conn_lock = threading.Lock()
        self._watcher: events.LifecycleWatcher | None = None
        self._closing = threading.Event()
        self._consoles = console_log.ConsoleFollowers()

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return opts.list_opts()

    @classmethod
    def describe_choice(cls, conf: cfg.ConfigOpts) -> str:
        """One line for ``config check``: the virt_type this host runs and why."""
        opts.register_opts(conf)
        return host.describe_choice(conf.libvirt.virt_type)

    @classmethod
    def validate_config(cls, conf: cfg.ConfigOpts) -> list[str]:
        """A wrong virt_type, an unusable /dev/kvm for kvm, no libvirtd socket or an unreachable URI."""
        opts.register_opts(conf)
        try:
            virt_type = conf.libvirt.virt_type
        except (ValueError, cfg.Error) as err:
            return [f"[libvirt] virt_type: {err} (one of {', '.join(opts.VIRT_TYPES)})"]
        return host.config_problems(virt_type, opts.connection_uri(conf, host.choose_virt_type(virt_type).virt_type),
                                    startable=daemons.can_start())

    @classmethod
    def start_local(cls, conf: cfg.ConfigOpts) -> list[Stoppable]:
        """The system's libvirtd when it answers, else virtlogd and libvirtd started here (:mod:`.daemons`);
        then the console proxy (:mod:`.console_proxy`)."""
        opts.register_opts(conf)
        lv = conf.libvirt
        virt_type = host.choose_virt_type(lv.virt_type).virt_type
        started: list[Stoppable] = list(daemons.start_local(opts.connection_uri(conf, virt_type),
                                                            lxc=virt_type == "lxc"))
        try:
            started.append(console_proxy.start(lv.console_proxy_host, lv.console_proxy_port,
                                               base_url=lv.console_proxy_base_url, web=lv.console_proxy_web))
        except BaseException:
            for daemon in reversed(started):
                daemon.stop()
            raise
        return started

    # -- connection and lookup -------------------------------------------------------------------
    def _connection(self) -> Any:
        with self._conn_lock:
            if self._conn is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    if self._conn.isAlive():
                        return self._conn
            host.quiet_libvirt()
            events.ensure_event_loop()  # before open: events are only delivered on connections opened after
            try:
                conn = libvirt.open(self.uri)
            except libvirt.libvirtError as err:
                raise HypervisorError(f"cannot connect to libvirt at {self.uri}: {err.get_error_message()}") from err
            reconnected, self._conn = self._conn is not None, conn
            with contextlib.suppress(libvirt.libvirtError):  # told at once when libvirtd goes away
                conn.registerCloseCallback(self._on_close, None)
            if self._watcher is not None:  # events of the old connection died with it
                self._watcher.rebind(conn)
            if reconnected:
                LOG.info("libvirt at %s: reconnected; power events and container consoles followed again", self.uri)
                self._follow_running_consoles(conn)
            return conn

    def _on_close(self, conn: Any, reason: int, opaque: Any) -> None:
        """libvirt's close callback (its event thread): reconnect from another thread, until it works."""
        def reconnect() -> None:
            while not self._closing.is_set():
                try:
                    self._connection()
                    return
                except HypervisorError as err:
                    LOG.warning("libvirt connection lost; retrying: %s", err)
                    self._closing.wait(2)

        LOG.warning("libvirt at %s closed the connection (reason %d)", self.uri, reason)
        threading.Thread(target=reconnect, name="libvirt-reconnect", daemon=True).start()

    # -- container consoles: libvirt's LXC driver logs no pty console, so a thread reads it ------------
    def _follow_console(self, conn: Any, uuid: str) -> None:
        if self.virt_type != "lxc":
            return
        self._consoles.follow(conn, uuid, guest.console_log_path(os.path.join(self.instances_path, uuid)))

    def _follow_running_consoles(self, conn: Any) -> None:
        if self.virt_type != "lxc":
            return
        with contextlib.suppress(libvirt.libvirtError):
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                if self._owns(dom):
                    self._follow_console(conn, dom.UUIDString())

    def _owns(self, dom: Any) -> bool:
        if not dom.name().startswith(guest.DOMAIN_PREFIX):
            return False
        owner = guest.owner_host(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        return owner in (None, self.host)

    def _find(self, instance: Instance) -> Any | None:
        """The instance's domain (this host's or another's sharing the daemon), None when undefined."""
        try:
            return self._connection().lookupByUUIDString(instance.uuid)
        except libvirt.libvirtError as err:
            if _not_found(err):
                return None
            raise HypervisorError(f"libvirt lookup of {instance.uuid}: {err.get_error_message()}") from err

    def _lookup(self, instance: Instance) -> Any:
        dom = self._find(instance)
        if dom is None or not self._owns(dom):
            raise InstanceNotFound(f"instance {instance.uuid} is not on {self.host}")
        return dom

    @contextlib.contextmanager
    def _errors(self, instance: Instance, action: str) -> Iterator[None]:
        """Map libvirt and file errors of ``action`` to InstanceNotFound / HypervisorError."""
        try:
            yield
        except libvirt.libvirtError as err:
            if _not_found(err):
                raise InstanceNotFound(f"instance {instance.uuid} is not on {self.host}") from err
            raise HypervisorError(f"{action} of {instance.uuid} failed: {err.get_error_message()}") from err
        except OSError as err:
            raise HypervisorError(f"{action} of {instance.uuid} failed: {err}") from err

    def instance_dir(self, instance: Instance) -> str:
        """``<instances_path>/<uuid>``: the instance's disks, config drive and console log."""
        return os.path.join(self.instances_path, instance.uuid)

    def _state(self, dom: Any) -> PowerState:
        state = dom.state()[0]
        return events.power_state(state, state == libvirt.VIR_DOMAIN_SHUTOFF and bool(dom.hasManagedSaveImage(0)))

    def on_power_change(self, callback: events.PowerCallback) -> None:
        """Call ``callback(instance_uuid, power_state)`` from libvirt's event thread on every lifecycle change.

        The watcher follows reconnections (:meth:`_connection`); with ``lxc`` it
        also starts following a container's console when the container starts.
        """
        if self._watcher is None:
            conn = self._connection()
            self._watcher = events.LifecycleWatcher(conn, callback, self._owns)
            if self.virt_type == "lxc":
                self._watcher.add(lambda uuid, state: self._follow_console(self._connection(), uuid)
                                  if state == PowerState.RUNNING else None)
                self._follow_running_consoles(conn)
        else:
            self._watcher.add(callback)

    def register_power_events(self, callback: Callable[[str, PowerState], None]) -> bool:
        """libvirt's lifecycle events (a guest that shuts itself down shows SHUTOFF within a second)."""
        self.on_power_change(callback)
        return True

    # -- the host --------------------------------------------------------------------------------
    def get_host_resources(self) -> HostResources:
        conn = self._connection()
        try:
            return host.host_resources(conn, self.virt_type, self.host, self.instances_path)
        except libvirt.libvirtError as err:
            raise HypervisorError(f"libvirt host report failed: {err.get_error_message()}") from err

    def list_power_states(self) -> Mapping[str, PowerState]:
        found: dict[str, PowerState] = {}
        try:
            for dom in self._connection().listAllDomains(0):
                with contextlib.suppress(libvirt.libvirtError):  # a domain undefined meanwhile
                    if self._owns(dom):
                        found[dom.UUIDString()] = self._state(dom)
        except libvirt.libvirtError as err:
            raise HypervisorError(f"libvirt domain list failed: {err.get_error_message()}") from err
        return found

    def get_power_state(self, instance: Instance) -> PowerState:
        dom = self._lookup(instance)
        with self._errors(instance, "power state"):
            return self._state(dom)

    # -- disks and definition --------------------------------------------------------------------
    def _wants_config_drive(self, instance: Instance, admin_password: str | None) -> bool:
        return bool(self.conf.libvirt.force_config_drive or instance.config_drive or admin_password)

    def _kernel(self, image: ImageReader) -> guest.KernelBoot | None:
        props = image.meta.properties
        if not props.get("kernel_id"):
            return None
        kernel, ramdisk = self.cache.kernel_files(image)
        return guest.KernelBoot(kernel, ramdisk, props.get("os_command_line") or self.conf.libvirt.kernel_cmdline)

    def _build(self, instance: Instance, image: ImageReader, vifs: Sequence[VIF],
               block_devices: Sequence[BlockDevice], admin_password: str | None) -> str:
        """Create the instance's disks (keeping an existing ephemeral disk) and return its domain XML."""
        d = self.instance_dir(instance)
        os.makedirs(d, mode=0o755, exist_ok=True)
        guest.save_vifs(os.path.join(d, VIFS_FILE), vifs)
        volumes = [b for b in block_devices if b.destination_type == "volume" and b.connection_info]
        boot = next((b for b in volumes if b.boot_index == 0), None)
        if self.virt_type == "lxc":
            files.unpack_rootfs(image, os.path.join(d, "rootfs"))
            return guest.domain_xml(instance, image.meta, self.settings, d, (), vifs)
        disk_list: list[guest.Disk] = []
        if boot is not None:
            disk_list.append(guest.volume_disk(boot))
        else:
            disks.create_overlay(self.cache.base_image(image), os.path.join(d, ROOT_DISK), instance.root_gb)
            disk_list.append(guest.Disk(os.path.join(d, ROOT_DISK)))
        if instance.ephemeral_gb:
            eph = os.path.join(d, EPHEMERAL_DISK)
            if not os.path.exists(eph):
                disks.create_blank(eph, instance.ephemeral_gb)
            disk_list.append(guest.Disk(eph))
        disk_list.extend(guest.volume_disk(b) for b in volumes if b is not boot)
        if self._wants_config_drive(instance, admin_password):
            configdrive.build(os.path.join(d, CONFIG_DRIVE), instance, vifs, admin_password)
            disk_list.append(guest.Disk(os.path.join(d, CONFIG_DRIVE), "raw", readonly=True))
        return guest.domain_xml(instance, image.meta, self.settings, d, disk_list, vifs, self._kernel(image))

    def _create(self, dom: Any) -> None:
        """Start ``dom``; a container's console is followed at once (its first lines come within milliseconds)."""
        dom.create()
        with contextlib.suppress(HypervisorError, libvirt.libvirtError):
            self._follow_console(self._connection(), dom.UUIDString())

    def _define_and_start(self, xml: str, start: bool = True) -> Any:
        dom = self._connection().defineXML(xml)
        if start and not dom.isActive():
            self._create(dom)
        return dom

    @staticmethod
    def _stop(dom: Any) -> None:
        """Hard-stop ``dom`` if it runs and drop a managed-save image (the disks' state wins)."""
        if dom.isActive():
            dom.destroy()
        if dom.hasManagedSaveImage(0):
            dom.managedSaveRemove(0)

    def _undefine(self, dom: Any) -> None:
        try:
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        except libvirt.libvirtError as err:
            if _not_found(err):
                return
            if dom.hasManagedSaveImage(0):  # a driver without the flag
                dom.managedSaveRemove(0)
            dom.undefine()

    # -- lifecycle -------------------------------------------------------------------------------
    def spawn(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
              block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        existing = self._find(instance)
        if existing is not None and self._owns(existing):  # a retried spawn: make sure it runs
            with self._errors(instance, "spawn"):
                if not existing.isActive():
                    self._create(existing)
            return
        d = self.instance_dir(instance)
        dom = None
        try:
            with self._errors(instance, "spawn"):
                xml = self._build(instance, image, network_info, block_devices, admin_password)
                dom = self._connection().defineXML(xml)
                self._create(dom)
        except BaseException:
            with contextlib.suppress(Exception):  # leave nothing behind, report the first error
                if dom is not None:
                    self._stop(dom)
                    self._undefine(dom)
            shutil.rmtree(d, ignore_errors=True)
            raise

    def destroy(self, instance: Instance, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), destroy_disks: bool = True) -> None:
        """Stop and undefine the domain, remove its directory (not a resize's ``<uuid>_resize``)."""
        dom = self._find(instance)
        if dom is not None and not self._owns(dom):
            return  # another host's domain on a shared daemon: its disks are not ours either
        with self._errors(instance, "destroy"):
            if dom is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    if dom.isActive():
                        dom.destroy()
                self._undefine(dom)
            if destroy_disks and os.path.isdir(self.instance_dir(instance)):
                shutil.rmtree(self.instance_dir(instance))

    def reboot(self, instance: Instance, hard: bool) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "reboot"):
            if not hard and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING:
                dom.reboot(libvirt.VIR_DOMAIN_REBOOT_DEFAULT)  # ACPI: the guest restarts itself
                return
            self._stop(dom)
            self._create(dom)

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "power off"):
            if not dom.isActive():
                if dom.hasManagedSaveImage(0):  # stopping a suspended instance forgets its memory
                    dom.managedSaveRemove(0)
                return
            if timeout > 0 and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING:
                with contextlib.suppress(libvirt.libvirtError):  # a guest without ACPI: destroy below
                    dom.shutdown()
                deadline = time.monotonic() + timeout
                while dom.isActive() and time.monotonic() < deadline:
                    time.sleep(0.5)
            if dom.isActive():
                dom.destroy()

    def power_on(self, instance: Instance) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "power on"):
            if not dom.isActive():
                self._create(dom)  # restores a managed save, if any

    def pause(self, instance: Instance) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "pause"):
            if dom.state()[0] != libvirt.VIR_DOMAIN_PAUSED:
                dom.suspend()

    def unpause(self, instance: Instance) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "unpause"):
            if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
                dom.resume()

    def suspend(self, instance: Instance) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "suspend"):
            if dom.isActive():
                dom.managedSave(libvirt.VIR_DOMAIN_SAVE_RUNNING)  # memory to disk; resume ends RUNNING

    def resume(self, instance: Instance) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "resume"):
            if not dom.isActive():
                self._create(dom)

    # -- rescue, rebuild, snapshot ---------------------------------------------------------------
    def rescue(self, instance: Instance, image: ImageReader, rescue_password: str) -> None:
        """Boot ``image`` (``vda``, an overlay ``disk.rescue``) with the instance's disks after it.

        The definition before rescue is kept in ``unrescue.xml``. An instance
        with a config drive boots the rescue with a copy of it whose
        ``admin_pass`` is ``rescue_password`` (``disk.config.rescue``), as Nova
        injects it, so the rescue system's root password is the one returned.
        """
        dom = self._lookup(instance)
        d = self.instance_dir(instance)
        saved = os.path.join(d, UNRESCUE_XML)
        if os.path.exists(saved):
            return  # already rescued
        with self._errors(instance, "rescue"):
            original = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            rescue_path = os.path.join(d, RESCUE_DISK)
            disks.create_overlay(self.cache.base_image(image), rescue_path, 0)
            xml = guest.rescue_xml(original, guest.Disk(rescue_path), self._kernel(image))
            config = os.path.join(d, CONFIG_DRIVE)
            if config in guest.disk_files(original):
                rescue_config = os.path.join(d, RESCUE_CONFIG_DRIVE)
                configdrive.build(rescue_config, instance, guest.load_vifs(os.path.join(d, VIFS_FILE)),
                                  rescue_password)
                xml = guest.replace_disk_source(xml, config, rescue_config)
            files.write_atomically(saved, original.encode())
            try:
                self._stop(dom)
                self._define_and_start(xml)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._stop(dom)
                    self._define_and_start(original)
                    os.unlink(saved)
                raise

    def unrescue(self, instance: Instance) -> None:
        dom = self._lookup(instance)
        d = self.instance_dir(instance)
        saved = os.path.join(d, UNRESCUE_XML)
        if not os.path.exists(saved):
            return  # not rescued
        with self._errors(instance, "unrescue"):
            with open(saved, encoding="utf-8") as f:
                original = f.read()
            self._stop(dom)
            self._define_and_start(original)
            os.unlink(saved)
            for name in (RESCUE_DISK, RESCUE_CONFIG_DRIVE):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(d, name))

    def rebuild(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        """A new root overlay (and config drive) from ``image``; the ephemeral disk and identity stay."""
        dom = self._lookup(instance)
        with self._errors(instance, "rebuild"):
            self._stop(dom)
            d = self.instance_dir(instance)
            for name in (ROOT_DISK, CONFIG_DRIVE, RESCUE_DISK, RESCUE_CONFIG_DRIVE, UNRESCUE_XML):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(d, name))
            if self.virt_type == "lxc":
                shutil.rmtree(os.path.join(d, "rootfs"), ignore_errors=True)
            self._define_and_start(self._build(instance, image, network_info, block_devices, admin_password))

    def snapshot(self, instance: Instance, write_chunk: Callable[[bytes], object]) -> SnapshotResult:
        """Stream the root disk flattened to qcow2; a running guest is paused during the copy.

        Pausing drains and flushes QEMU's I/O, so the copy (read without taking
        QEMU's image lock) is consistent; the guest then carries on as it was.
        """
        dom = self._lookup(instance)
        root = os.path.join(self.instance_dir(instance), ROOT_DISK)
        if self.virt_type == "lxc" or not os.path.exists(root):
            raise HypervisorError(f"instance {instance.uuid} has no local root disk to snapshot")
        out = root + ".snapshot"
        with self._errors(instance, "snapshot"):
            pause = dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
            if pause:
                dom.suspend()
            try:
                disks.flatten(root, out, "qcow2")
            finally:
                if pause:
                    dom.resume()
            try:
                with open(out, "rb") as f:
                    while chunk := f.read(CHUNK):
                        write_chunk(chunk)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(out)
        return SnapshotResult(disk_format="qcow2", container_format="bare")

    # -- resize (cold; one host, or hosts sharing instances_path) --------------------------------
    def _resize_dir(self, instance: Instance) -> str:
        return self.instance_dir(instance) + "_resize"

    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str, flavor: Flavor) -> DiskInfo:
        """Stop, move the instance directory to ``<uuid>_resize`` and copy its disks back for the destination."""
        if (flavor.root_gb and flavor.root_gb < instance.root_gb) or flavor.ephemeral_gb < instance.ephemeral_gb:
            raise HypervisorError(f"cannot shrink the disks of {instance.uuid} (flavor {flavor.name})")
        dom = self._lookup(instance)
        d, kept = self.instance_dir(instance), self._resize_dir(instance)
        with self._errors(instance, "resize"):
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            self.power_off(instance, self.conf.libvirt.shutdown_timeout)
            if not os.path.isdir(kept):  # a retried call has moved it already
                os.rename(d, kept)
                files.write_atomically(os.path.join(kept, RESIZE_FILE), json.dumps(
                    {"dest_host": dest_host, "source_host": self.host, "domain_xml": xml}).encode())
            shutil.rmtree(d, ignore_errors=True)
            shutil.copytree(kept, d, ignore=shutil.ignore_patterns(RESIZE_FILE, UNRESCUE_XML, RESCUE_DISK))
        return {"source_host": self.host, "dest_host": dest_host, "instance_dir": d, "domain_xml": xml}

    def finish_migration(self, instance: Instance, disk_info: DiskInfo, network_info: Sequence[VIF],
                         image: ImageMeta, resize_instance: bool, block_devices: Sequence[BlockDevice] = (),
                         power_on: bool = True) -> None:
        d = self.instance_dir(instance)
        with self._errors(instance, "finish resize"):
            if not os.path.isdir(d):
                raise HypervisorError(f"the disks of {instance.uuid} are not in {d} (instances_path not shared?)")
            if resize_instance:
                for name, size in ((ROOT_DISK, instance.root_gb), (EPHEMERAL_DISK, instance.ephemeral_gb)):
                    path = os.path.join(d, name)
                    if size and os.path.exists(path):
                        disks.resize(path, size)  # grows; the same size is a no-op
            guest.save_vifs(os.path.join(d, VIFS_FILE), network_info)
            xml = guest.retarget(str(disk_info["domain_xml"]), instance, self.settings, network_info)
            self._define_and_start(xml, start=power_on)

    def confirm_migration(self, instance: Instance, network_info: Sequence[VIF]) -> None:
        kept = self._resize_dir(instance)
        record = files.read_json(os.path.join(kept, RESIZE_FILE))
        with self._errors(instance, "confirm resize"):
            if record.get("dest_host", self.host) != self.host:
                dom = self._find(instance)  # still this host's on a daemon the destination does not share
                if dom is not None and guest.owner_host(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) == self.host:
                    self._stop(dom)
                    self._undefine(dom)
            shutil.rmtree(kept, ignore_errors=True)

    def finish_revert_migration(self, instance: Instance, network_info: Sequence[VIF],
                                block_devices: Sequence[BlockDevice] = (), power_on: bool = True) -> None:
        d, kept = self.instance_dir(instance), self._resize_dir(instance)
        record = files.read_json(os.path.join(kept, RESIZE_FILE))
        if not record:
            raise HypervisorError(f"the disks kept for reverting {instance.uuid} are gone ({kept})")
        with self._errors(instance, "revert resize"):
            dom = self._find(instance)
            if dom is not None:
                self._stop(dom)
            shutil.rmtree(d, ignore_errors=True)
            os.remove(os.path.join(kept, RESIZE_FILE))
            os.rename(kept, d)
            xml = guest.retarget(str(record["domain_xml"]), instance, self.settings, network_info)
            self._define_and_start(xml, start=power_on)

    # -- consoles, password --------------------------------------------------------------------
    def get_console_output(self, instance: Instance) -> str:
        """The end of ``<instance dir>/console.log`` (``console_log_max_bytes``); empty before the first line."""
        self._lookup(instance)
        return consoles.log_tail(guest.console_log_path(self.instance_dir(instance)),
                                 self.conf.libvirt.console_log_max_bytes, instance.uuid)

    def get_remote_console(self, instance: Instance, console_type: str) -> RemoteConsole:
        """The domain's VNC server (``novnc``/``vnc``) behind this process's console proxy.

        ``url`` is the proxy's noVNC page with a token valid ``console_token_ttl``
        seconds, as Nova's: ``<base>?path=%3Ftoken%3D<token>`` (None when no proxy
        runs in this process); ``host``/``port`` stay the VNC server's (what the
        token opens).
        """
        if console_type == "serial":
            return self._serial_console(instance)
        if console_type not in ("novnc", "vnc"):
            raise exception.Invalid(reason=f"Unsupported console type {console_type!r}; libvirt offers novnc "
                                           "and serial (xvpvnc and spice-html5 have no proxy here)")
        dom = self._lookup(instance)
        with self._errors(instance, "remote console"):
            port = guest.vnc_port(dom.XMLDesc(0))
        return consoles.vnc(instance.uuid, self.settings.vnc_listen, port, self.conf.libvirt.console_token_ttl)

    def _serial_console(self, instance: Instance) -> RemoteConsole:
        """The domain's serial console (libvirt's console stream) as a websocket of the console proxy.

        Each connection opens the console with VIR_DOMAIN_CONSOLE_FORCE: a new
        client takes over from a stale one. The console log is unaffected.
        """
        dom = self._lookup(instance)
        with self._errors(instance, "serial console"):
            if not dom.isActive():
                raise HypervisorError(f"instance {instance.uuid} is not running; its serial console is closed")
        return consoles.serial(self._connection, instance.uuid, self.conf.libvirt.console_token_ttl)

    def set_admin_password(self, instance: Instance, password: str) -> None:
        """Rewrite the config drive with ``password``; the guest reads it at its next boot (no guest agent)."""
        self._lookup(instance)
        d = self.instance_dir(instance)
        path = os.path.join(d, CONFIG_DRIVE)
        if not os.path.exists(path):
            raise HypervisorError(f"instance {instance.uuid} has no config drive to carry a password")
        configdrive.build(path, instance, guest.load_vifs(os.path.join(d, VIFS_FILE)), password)

    # -- volumes and interfaces ------------------------------------------------------------------
    def attach_volume(self, instance: Instance, block_device: BlockDevice) -> str | None:
        """A virtio disk on the volume's file or block device (the ``file`` transport); hot-plugged when running.

        Returns ``/dev/<target>`` when the target differs from the name asked for (the config drive
        holds ``vdb``, say).
        """
        dom = self._lookup(instance)
        disk = guest.volume_disk(block_device)
        with self._errors(instance, "attach volume"):
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            found = guest.find_disk(xml, serial=disk.serial, path=disk.path)
            if found:
                target = guest.ET.fromstring(found).find("target")
                dev = target.get("dev") if target is not None else None
            else:
                dev = guest.free_target(xml, block_device.device_name)
                element = guest.disk_element(disk, dev)
                devices.attach(self._connection(), dom, guest.ET.tostring(element, encoding="unicode"))
        used = f"/dev/{dev}" if dev else None
        return used if used != block_device.device_name else None

    def detach_volume(self, instance: Instance, block_device: BlockDevice) -> None:
        """Unplug the volume's disk (found by serial or path), waiting until a running guest has released it.

        :raises HypervisorError: the guest did not release it in ``[libvirt] device_detach_timeout``
            seconds; it stays attached (live and in the definition) and the detach can be retried.
        """
        dom = self._lookup(instance)
        ci = block_device.connection_info
        serial = block_device.volume_id or (ci.volume_id if ci else None)
        path = ci.data.path if ci and isinstance(ci.data, FileConnection) else None
        with self._errors(instance, "detach volume"):
            found = (guest.find_disk(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), serial=serial, path=path)
                     or guest.find_disk(dom.XMLDesc(0), serial=serial, path=path))
            if found:
                devices.detach(self._connection(), dom, found, self.conf.libvirt.device_detach_timeout)

    def attach_interface(self, instance: Instance, vif: VIF) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "attach interface"):
            if guest.find_interface(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), vif.mac_address) is None:
                devices.attach(self._connection(), dom, guest.ET.tostring(guest.interface_element(vif), encoding="unicode"))
            path = os.path.join(self.instance_dir(instance), VIFS_FILE)
            guest.save_vifs(path, [*(v for v in guest.load_vifs(path) if v.id != vif.id), vif])

    def detach_interface(self, instance: Instance, vif: VIF) -> None:
        dom = self._lookup(instance)
        with self._errors(instance, "detach interface"):
            found = guest.find_interface(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), vif.mac_address)
            if found is not None:
                devices.detach(self._connection(), dom, found, self.conf.libvirt.device_detach_timeout)
            path = os.path.join(self.instance_dir(instance), VIFS_FILE)
            guest.save_vifs(path, [v for v in guest.load_vifs(path) if v.id != vif.id])
