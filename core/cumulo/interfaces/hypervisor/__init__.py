"""Hypervisor drivers (``cumulo.hypervisor``), interface 3.1: run instances on one compute host.

This package is all a driver author needs: :class:`HypervisorDriver`, the
records it is handed (:mod:`.records`: :class:`Instance`, :class:`Flavor`,
:class:`ImageMeta`, :class:`VIF`, :class:`BlockDevice`,
:class:`ConnectionInfo`...) and the :class:`ImageReader` that gives it an
image's bytes (:mod:`.image`).

Volumes. A volume reaches the driver as the volume driver exported it: the
:class:`ConnectionInfo` of :mod:`cumulo.interfaces.volume` (re-exported here), whose
``data`` is a :class:`FileConnection` (a raw or qcow2 file on this host, qcow2
with its backing chain) or an :class:`NbdConnection` (an NBD export, TLS-PSK).
The driver names the transports it can open, in the order it prefers them, in
``volume_protocols``; the compute area asks the volume area for one of those.

Threads. One driver instance serves one compute host (``self.host``). The
compute area calls it from worker threads: calls for *different* instances may
run at the same time, calls for the same instance never do.

Idempotence. ``spawn``, ``destroy``, ``power_off`` and ``power_on`` may be
called again for the same instance after a crash or a retried message; they
must then succeed without doing the work twice.

Capabilities. The optional operations (pause, snapshot, volumes...) default to
raising :class:`cumulo.exception.NotImplementedByDriver`. A driver's
``capabilities`` are derived from what its class overrides (see
:data:`CAPABILITY_METHODS`); the compute area refuses the others with 409
before calling. ``soft_reboot`` is declared with ``graceful_reboot = True``.

Errors. Raise :class:`InstanceNotFound` for an instance the hypervisor does
not know and :class:`HypervisorError` (or a subclass) for any other failure;
the message ends up in the server's fault, the ``error_code`` in the logs.

Construction. ``cls(ctx)`` with a :class:`~cumulo.interfaces.base.PluginContext`
(``ctx.host``, ``ctx.conf``). :meth:`HypervisorDriver.host_names` says which
hosts a process runs; :meth:`~cumulo.interfaces.base.Plugin.validate_config` checks
the driver's options at start and in ``cumulo config check``.

Version history: 1.0 took plain dicts and no image bytes; 2.0 takes
records, an image reader and the block-device mapping; 2.1 adds
:meth:`ImageReader.related`, the images an image names (AKI/ARI kernel and ramdisk),
:meth:`HypervisorDriver.register_power_events` and :meth:`HypervisorDriver.start_local`;
3.0 hands volumes over as the volume interface's :class:`ConnectionInfo`
(typed ``data`` instead of ``device_path``/iSCSI fields), adds ``volume_protocols``, and
``attach_volume`` returns the device name it used; 3.1 (this) adds the optional
``live_migration`` capability (:meth:`HypervisorDriver.live_migration` on the source,
:meth:`HypervisorDriver.post_live_migration_at_destination` on the destination).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import ClassVar

from oslo_config import cfg

from cumulo import exception
from cumulo.interfaces.base import Plugin, PluginContext
from cumulo.interfaces.hypervisor.errors import HypervisorError, ImageVerificationError, InstanceNotFound
from cumulo.interfaces.hypervisor.image import ImageReader, StreamImageReader
from cumulo.interfaces.hypervisor.records import (
    PROTOCOL_FILE,
    PROTOCOL_NBD,
    VIF,
    BlockDevice,
    ConnectionInfo,
    Connector,
    DiskInfo,
    FileConnection,
    FixedIP,
    Flavor,
    HostResources,
    ImageMeta,
    Instance,
    NbdConnection,
    PowerState,
    RemoteConsole,
    SnapshotResult,
    TlsPsk,
)
from cumulo.interfaces.service import Stoppable

__all__ = [
    "CAPABILITIES", "CAPABILITY_METHODS", "PROTOCOL_FILE", "PROTOCOL_NBD", "VIF", "BlockDevice", "ConnectionInfo",
    "Connector", "DiskInfo", "FileConnection", "FixedIP", "Flavor", "HostResources", "HypervisorDriver",
    "HypervisorError", "ImageMeta", "ImageReader", "ImageVerificationError", "Instance", "InstanceNotFound",
    "NbdConnection", "PowerState", "RemoteConsole", "SnapshotResult", "StreamImageReader", "TlsPsk",
]

#: Each optional capability and the methods a driver overrides to have it.
CAPABILITY_METHODS: Mapping[str, tuple[str, ...]] = {
    "pause": ("pause", "unpause"),
    "suspend": ("suspend", "resume"),
    "rescue": ("rescue", "unrescue"),
    "resize": ("migrate_disk_and_power_off", "finish_migration", "confirm_migration", "finish_revert_migration"),
    "snapshot": ("snapshot",),
    "rebuild": ("rebuild",),
    "console_output": ("get_console_output",),
    "remote_console": ("get_remote_console",),
    "attach_volume": ("attach_volume", "detach_volume"),
    "attach_interface": ("attach_interface", "detach_interface"),
    "set_admin_password": ("set_admin_password",),
    "live_migration": ("live_migration", "post_live_migration_at_destination"),
}

#: Every capability name: the optional operations and ``soft_reboot``.
CAPABILITIES: tuple[str, ...] = (*CAPABILITY_METHODS, "soft_reboot")


class HypervisorDriver(Plugin):
    """The contract between the compute area and a hypervisor (see the module docstring)."""

    INTERFACE_VERSION = "3.1"  # 3.0: volumes as ConnectionInfo, volume_protocols; 3.1: live_migration
    #: Derived at class creation from the overridden methods (:data:`CAPABILITY_METHODS`);
    #: do not set it by hand.
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: True when ``reboot(hard=False)`` asks the guest to restart (ACPI) rather than power-cycling it.
    graceful_reboot: ClassVar[bool] = False
    #: The volume transports ``attach_volume`` and ``spawn`` can open, preferred first
    #: (:data:`PROTOCOL_FILE`, :data:`PROTOCOL_NBD`); the compute area puts them in the
    #: :class:`Connector` it hands the volume area. Empty: no volumes (and no ``attach_volume``).
    volume_protocols: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.capabilities = supported_capabilities(cls)

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self.host = ctx.host

    @classmethod
    def host_names(cls, conf: cfg.ConfigOpts) -> list[str]:
        """The compute hosts a process runs with this driver; one driver instance is built per name.

        Default: one host, ``[DEFAULT] host``. A driver that presents many hosts
        from one process (the fake one) returns their names.
        """
        return [conf.host]

    @classmethod
    def start_local(cls, conf: cfg.ConfigOpts) -> list[Stoppable]:
        """All-in-one hook: start the local daemons this driver needs, unless the system runs them.

        Called once per process by the compute area before any driver instance
        is built (``cumulo up``, ``cumulo service compute``), after
        :meth:`~cumulo.interfaces.base.Plugin.validate_config`. Returns what to
        stop when the process ends, in start order; the default starts nothing.

        :raises HypervisorError: a daemon could not be started.
        """
        return []

    # -- the host ------------------------------------------------------------------------------
    @abc.abstractmethod
    def get_host_resources(self) -> HostResources:
        """This host's capacity and what the hypervisor sees in use.

        :raises HypervisorError: the hypervisor cannot be reached.
        """

    @abc.abstractmethod
    def list_power_states(self) -> Mapping[str, PowerState]:
        """Instance uuid -> power state, for every instance the hypervisor has (the sync task).

        :raises HypervisorError: the hypervisor cannot be reached.
        """

    def register_power_events(self, callback: Callable[[str, PowerState], None]) -> bool:
        """Be told when an instance's power state changes by itself (a guest that shuts itself down).

        Return True when the driver will call ``callback(instance_uuid, new_state)``,
        from a thread of its own, on each such change: the compute host then syncs
        at once instead of at its next poll. The default returns False (the host
        only polls :meth:`list_power_states`). Called once, before the host serves.

        :raises HypervisorError: the hypervisor's event stream cannot be opened.
        """
        return False

    # -- lifecycle -----------------------------------------------------------------------------
    @abc.abstractmethod
    def spawn(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
              block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        """Create the instance's disks and domain, plug its VIFs and start it.

        The root disk comes from ``image`` unless ``block_devices`` has a boot
        volume (``boot_index == 0`` and ``destination_type == "volume"``);
        volumes in ``block_devices`` are attached by their ``connection_info``.
        If the instance already runs (a retried spawn), do nothing. On failure,
        leave nothing behind.

        :raises HypervisorError: the instance could not be created (it is rescheduled or put in ERROR).
        :raises ImageVerificationError: the image's bytes do not match its checksum.
        """

    @abc.abstractmethod
    def destroy(self, instance: Instance, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), destroy_disks: bool = True) -> None:
        """Power off and remove the instance, unplug its VIFs, detach its volumes.

        Local disks are removed when ``destroy_disks``; volumes are never
        deleted here. Idempotent: no error when the instance is already gone.

        :raises HypervisorError: the hypervisor failed to remove it.
        """

    @abc.abstractmethod
    def reboot(self, instance: Instance, hard: bool) -> None:
        """Reboot: soft asks the guest (when ``graceful_reboot``), hard power-cycles; ends RUNNING.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises HypervisorError: the reboot failed.
        """

    @abc.abstractmethod
    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        """Stop the instance, asking the guest first for up to ``timeout`` seconds. Idempotent.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises HypervisorError: it could not be stopped.
        """

    @abc.abstractmethod
    def power_on(self, instance: Instance) -> None:
        """Start a stopped instance. Idempotent.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises HypervisorError: it could not be started.
        """

    @abc.abstractmethod
    def get_power_state(self, instance: Instance) -> PowerState:
        """The instance's power state now.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        """

    # -- optional operations (capabilities follow from the overrides) ---------------------------
    def _unsupported(self, capability: str) -> exception.NotImplementedByDriver:
        return exception.NotImplementedByDriver(driver=type(self).__name__, capability=capability)

    def pause(self, instance: Instance) -> None:
        """Freeze the instance in memory (PAUSED).

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot pause.
        """
        raise self._unsupported("pause")

    def unpause(self, instance: Instance) -> None:
        """Resume a paused instance (RUNNING).

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot pause.
        """
        raise self._unsupported("pause")

    def suspend(self, instance: Instance) -> None:
        """Save the instance's memory to disk and stop it (SUSPENDED).

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot suspend.
        """
        raise self._unsupported("suspend")

    def resume(self, instance: Instance) -> None:
        """Restore a suspended instance (RUNNING).

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot suspend.
        """
        raise self._unsupported("suspend")

    def rescue(self, instance: Instance, image: ImageReader, rescue_password: str) -> None:
        """Boot the instance from ``image`` with its own root disk attached as a second disk.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot rescue.
        """
        raise self._unsupported("rescue")

    def unrescue(self, instance: Instance) -> None:
        """Boot the instance from its own root disk again.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot rescue.
        """
        raise self._unsupported("rescue")

    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str, flavor: Flavor) -> DiskInfo:
        """Resize step 1, on the source host: stop the instance and ready its disks for ``dest_host``.

        :returns: what :meth:`finish_migration` needs on the destination (JSON-serialisable).
        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot resize.
        """
        raise self._unsupported("resize")

    def finish_migration(self, instance: Instance, disk_info: DiskInfo, network_info: Sequence[VIF],
                         image: ImageMeta, resize_instance: bool, block_devices: Sequence[BlockDevice] = (),
                         power_on: bool = True) -> None:
        """Resize step 2, on the destination: run the instance (already carrying the new flavor).

        :raises HypervisorError: the instance could not be set up here.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot resize.
        """
        raise self._unsupported("resize")

    def confirm_migration(self, instance: Instance, network_info: Sequence[VIF]) -> None:
        """Resize confirmed, on the source host: drop what was kept for a revert.

        :raises cumulo.exception.NotImplementedByDriver: the driver cannot resize.
        """
        raise self._unsupported("resize")

    def finish_revert_migration(self, instance: Instance, network_info: Sequence[VIF],
                                block_devices: Sequence[BlockDevice] = (), power_on: bool = True) -> None:
        """Resize reverted, on the source host: run the instance again with the old flavor.

        :raises HypervisorError: the kept disks are gone or cannot start.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot resize.
        """
        raise self._unsupported("resize")

    def live_migration(self, instance: Instance, dest_host: str, network_info: Sequence[VIF],
                       block_migration: bool) -> DiskInfo:
        """Live migration, on the source host: move the running instance to ``dest_host`` (interface 3.1).

        When it returns, the instance runs on the destination (or is ready to, with what is returned)
        and no longer here; :meth:`post_live_migration_at_destination` is then called there.

        :returns: what the destination needs (JSON-serialisable).
        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises HypervisorError: the move failed; the instance still runs here.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot live-migrate.
        """
        raise self._unsupported("live_migration")

    def post_live_migration_at_destination(self, instance: Instance, migrate_data: DiskInfo,
                                           network_info: Sequence[VIF],
                                           block_devices: Sequence[BlockDevice] = ()) -> None:
        """Live migration, on the destination: take over the instance :meth:`live_migration` moved here
        (interface 3.1). It keeps running.

        :raises HypervisorError: the instance could not be taken over here.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot live-migrate.
        """
        raise self._unsupported("live_migration")

    def snapshot(self, instance: Instance, write_chunk: Callable[[bytes], object]) -> SnapshotResult:
        """Stream a point-in-time copy of the root disk to ``write_chunk``; the instance keeps its state.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot snapshot.
        """
        raise self._unsupported("snapshot")

    def rebuild(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        """Re-create the root disk from ``image``, keeping the instance's identity, VIFs and volumes.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot rebuild.
        """
        raise self._unsupported("rebuild")

    def get_console_output(self, instance: Instance) -> str:
        """The instance's serial console log so far.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver keeps no console log.
        """
        raise self._unsupported("console_output")

    def get_remote_console(self, instance: Instance, console_type: str) -> RemoteConsole:
        """Where a proxy reaches the instance's ``console_type`` (novnc, spice-html5, serial...) console.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver offers no remote console.
        """
        raise self._unsupported("remote_console")

    def set_admin_password(self, instance: Instance, password: str) -> None:
        """Set the guest's administrator password (through a guest agent).

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot reach a guest agent.
        """
        raise self._unsupported("set_admin_password")

    def attach_volume(self, instance: Instance, block_device: BlockDevice) -> str | None:
        """Attach the volume ``block_device.connection_info`` reaches, as ``block_device.device_name``.

        The instance may be running (hot-plug) or stopped (the volume is there at its next start).
        Idempotent: attaching the same volume again changes nothing. Returns the guest device the
        volume got (``/dev/vdc``) when it is not the one asked for (a name the driver cannot honour:
        taken by a config drive, or none asked), so the APIs report where it really is; None means
        ``block_device.device_name``.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises HypervisorError: the volume could not be attached.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot attach volumes.
        """
        raise self._unsupported("attach_volume")

    def detach_volume(self, instance: Instance, block_device: BlockDevice) -> None:
        """Detach the volume. Idempotent: no error when it is not attached.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot attach volumes.
        """
        raise self._unsupported("attach_volume")

    def attach_interface(self, instance: Instance, vif: VIF) -> None:
        """Hot-plug ``vif`` into the running instance.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot hot-plug interfaces.
        """
        raise self._unsupported("attach_interface")

    def detach_interface(self, instance: Instance, vif: VIF) -> None:
        """Unplug ``vif`` from the instance. Idempotent.

        :raises InstanceNotFound: the hypervisor does not know the instance.
        :raises cumulo.exception.NotImplementedByDriver: the driver cannot hot-plug interfaces.
        """
        raise self._unsupported("attach_interface")


def supported_capabilities(cls: type) -> frozenset[str]:
    """The capabilities ``cls`` has: those whose every method it overrides, plus ``soft_reboot``
    when it declares ``graceful_reboot``.

    A duck-typed driver (not a subclass) has the capabilities whose methods it defines.
    """
    found = set()
    for capability, methods in CAPABILITY_METHODS.items():
        if all(_overrides(cls, m) for m in methods):
            found.add(capability)
    if getattr(cls, "graceful_reboot", False):
        found.add("soft_reboot")
    return frozenset(found)


def _overrides(cls: type, method: str) -> bool:
    impl = getattr(cls, method, None)
    if impl is None:
        return False
    return impl is not HypervisorDriver.__dict__.get(method)
