"""The ``fake`` hypervisor driver: instances are records in memory.

See :class:`FakeDriver` for the behaviour and the options.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from oslo_config import cfg

from cumulo import exception
from cumulo.interfaces.base import PluginContext
from cumulo.interfaces.hypervisor import (
    PROTOCOL_FILE,
    PROTOCOL_NBD,
    VIF,
    BlockDevice,
    ConnectionInfo,
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

LOG = logging.getLogger(__name__)

GROUP = "hypervisor_fake"

OPERATIONS = (
    "spawn", "destroy", "reboot", "power_off", "power_on", "pause", "unpause", "suspend", "resume",
    "rescue", "unrescue", "migrate_disk_and_power_off", "finish_migration", "confirm_migration",
    "finish_revert_migration", "snapshot", "rebuild", "get_console_output", "get_remote_console",
    "set_admin_password", "attach_volume", "detach_volume", "attach_interface", "detach_interface",
)

opts = [
    cfg.IntOpt("host_count", default=4, min=1,
               help="Compute hosts an all-in-one process presents with the fake driver "
                    "(named <host_prefix>-1 .. <host_prefix>-N)."),
    cfg.StrOpt("host_prefix", default="fake", help="Prefix of the fake compute host names."),
    cfg.IntOpt("vcpus", default=64, min=0, help="Physical CPUs each fake host reports."),
    cfg.IntOpt("memory_mb", default=262144, min=0, help="RAM (MiB) each fake host reports."),
    cfg.IntOpt("local_gb", default=4096, min=0, help="Local disk (GiB) each fake host reports."),
    cfg.StrOpt("hypervisor_type", default="fake", help="hypervisor_type the fake hosts report."),
    cfg.IntOpt("hypervisor_version", default=1000, min=0, help="hypervisor_version the fake hosts report."),
    cfg.StrOpt("cpu_arch", default="x86_64", help="CPU architecture the fake hosts report."),
    cfg.ListOpt("supported_instances", default=["x86_64:fake:hvm", "x86_64:qemu:hvm", "x86_64:kvm:hvm"],
                help="arch:hypervisor_type:vm_mode triples the hosts accept (image properties filter)."),
    cfg.FloatOpt("default_latency", default=0.0, min=0.0,
                 help="Seconds every operation takes (sleeps before acting)."),
    cfg.FloatOpt("spawn_latency", min=0.0, help="Seconds a spawn takes; default: default_latency."),
    cfg.DictOpt("operation_latency", default={},
                help="Seconds per operation, e.g. 'reboot:0.5,snapshot:1'; others use default_latency."),
    cfg.ListOpt("fail_spawn_hosts", default=[],
                help="Hosts whose spawn always raises HypervisorError (to exercise rescheduling)."),
    cfg.ListOpt("fail_operations", default=[],
                help="Operations that raise HypervisorError: 'op' (every host) or 'op@host', e.g. 'reboot@fake-2'."),
    cfg.IntOpt("snapshot_size", default=256 * 1024, min=1,
               help="Bytes of the fake disk a snapshot streams (deterministic content)."),
    cfg.IntOpt("console_port_base", default=5900, min=1, max=65535,
               help="First port number handed out in fake remote consoles."),
    cfg.StrOpt("console_proxy_host", default="127.0.0.1", help="Host name in fake console URLs."),
    cfg.BoolOpt("persist", default=True,
                help="Keep the instances in state_dir (one JSON file per host) so they survive a restart."),
    cfg.StrOpt("state_dir", default="$state_path/hypervisor_fake", help="Where persist writes."),
]

_CONSOLE_URLS = {
    "novnc": ("vnc", "http://{host}:6080/vnc_lite.html?path=%3Ftoken%3D{token}"),
    "xvpvnc": ("vnc", "http://{host}:6081/console?token={token}"),
    "spice-html5": ("spice", "http://{host}:6082/spice_auto.html?token={token}"),
    "rdp-html5": ("rdp", "http://{host}:6083/?token={token}"),
    "serial": ("serial", "ws://{host}:6083/?token={token}"),
    "webmks": ("mks", "http://{host}:6090/?token={token}"),
}
_PROTOCOL_DEFAULT = {"vnc": "novnc", "spice": "spice-html5", "rdp": "rdp-html5", "mks": "webmks"}

CHUNK = 64 * 1024


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    return [(GROUP, list(opts))]


def register_opts(conf: cfg.ConfigOpts) -> None:
    try:
        conf.register_opts(opts, group=GROUP)
    except cfg.DuplicateOptError:
        pass


class FakeDriver(HypervisorDriver):
    """In-memory hypervisor implementing every capability.

    **Hosts.** One driver instance is one compute host (``ctx.host``, e.g.
    ``fake-17``); instances are records in that object. In all-in-one, the
    compute service asks :meth:`host_names` (``[hypervisor_fake] host_count``
    names ``<host_prefix>-1`` .. ``<host_prefix>-N``, default ``fake-1`` ..
    ``fake-4``) and builds one driver per name, so one process presents many
    compute hosts. Each host reports ``vcpus``/``memory_mb``/``local_gb`` from
    the options.

    **States.** spawn, reboot, power_on, unpause, resume, unrescue, rebuild and
    finish_migration leave the instance RUNNING; power_off SHUTDOWN, pause
    PAUSED, suspend SUSPENDED; rescue RUNNING with ``rescued`` set. Repeating
    an operation that is already done is a no-op (spawn of an existing uuid,
    destroy of an unknown one, power_off of a stopped one...). Impossible
    transitions (pause a stopped instance) raise HypervisorError; an unknown
    instance raises InstanceNotFound.

    **Resize.** ``migrate_disk_and_power_off`` moves the record aside on the
    source (and returns it in ``disk_info``), ``finish_migration`` creates it on
    the destination with the new flavor, ``confirm_migration`` drops the copy
    on the source, ``finish_revert_migration`` brings it back. Works with the
    source and destination in one driver (same-host resize) or two.

    **Live migration.** ``live_migration`` takes the running record off the source (keeping its power
    state, console and boots: the guest did not restart) and hands it over in ``migrate_data``;
    ``post_live_migration_at_destination`` puts it on the destination.

    **Interfaces.** The VIFs plugged at spawn, attached later (``attach_interface``) or
    plugged again by a resize are the record's ``interfaces`` (port id -> the VIF's fields),
    which the compute area's view of the server's ports must match.

    **Testing aids.** Latency per operation (``default_latency``,
    ``spawn_latency``, ``operation_latency``), failure injection
    (``fail_spawn_hosts``, ``fail_operations``), :meth:`get_instance` to look at
    a record, and optional persistence (``persist``) across restarts.
    """

    interface_version = "3.1"
    volume_protocols = (PROTOCOL_FILE, PROTOCOL_NBD)
    graceful_reboot = True

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        register_opts(self.conf)
        self._lock = threading.RLock()
        self._instances: dict[str, dict[str, Any]] = {}
        self._resize_source: dict[str, dict[str, Any]] = {}  # records moved aside by a resize
        self._console_ports: dict[str, int] = {}
        self._power_events: Callable[[str, PowerState], None] | None = None
        if self._opts.persist:
            self._load()

    @classmethod
    def list_opts(cls) -> list[tuple[str, list[cfg.Opt]]]:
        return list_opts()

    @classmethod
    def host_names(cls, conf: cfg.ConfigOpts) -> list[str]:
        """``<host_prefix>-1`` .. ``<host_prefix>-<host_count>`` (``[hypervisor_fake]``)."""
        register_opts(conf)
        o = conf[GROUP]
        return [f"{o.host_prefix}-{i}" for i in range(1, o.host_count + 1)]

    @property
    def _opts(self) -> Any:
        return self.conf[GROUP]

    # -- helpers ---------------------------------------------------------------
    def _act(self, op: str) -> None:
        """Sleep the configured latency, then raise if the operation is set to fail here."""
        o = self._opts
        latency = (o.operation_latency or {}).get(op)
        if latency is None and op == "spawn":
            latency = o.spawn_latency
        try:
            delay = float(latency if latency is not None else o.default_latency)
        except (TypeError, ValueError):
            delay = float(o.default_latency)
        if delay > 0:
            time.sleep(delay)
        failing = o.fail_operations or []
        if op in failing or f"{op}@{self.host}" in failing or (op == "spawn" and self.host in (o.fail_spawn_hosts or [])):
            raise HypervisorError(f"Injected failure: {op} on fake host {self.host}")

    @staticmethod
    def _uuid(instance: Instance) -> str:
        if not instance.uuid:
            raise HypervisorError("The instance has no uuid")
        return instance.uuid

    def _get(self, instance: Instance) -> dict[str, Any]:
        """The live record (call with the lock held)."""
        uuid = self._uuid(instance)
        rec = self._instances.get(uuid)
        if rec is None:
            raise InstanceNotFound(f"Instance {uuid} is not on fake host {self.host}")
        return rec

    def _log(self, rec: dict[str, Any], line: str) -> None:
        stamp = time.time() - rec["created"]
        rec["console"].append(f"[{stamp:12.6f}] {line}")
        del rec["console"][:-500]  # keep the tail

    def _boot_log(self, rec: dict[str, Any]) -> None:
        rec["boots"] += 1
        for line in (
            "Linux version 6.1.0-cumulo-fake (cumulo@fake) #1 SMP",
            f"Command line: root=/dev/vda1 console=ttyS0 (boot {rec['boots']})",
            f"Memory: {rec['memory_mb']}MB available, {rec['vcpus']} CPU(s)",
            "cloud-init: running modules for config",
            f"cloud-init: hostname set to {rec['name']}",
            f"Cumulo fake hypervisor: {rec['name']} ({rec['uuid']}) is up on {self.host}",
            f"{rec['name']} login:",
        ):
            self._log(rec, line)

    def _new_record(self, instance: Instance, image_id: str | None) -> dict[str, Any]:
        return {
            "uuid": self._uuid(instance),
            "name": instance.name or f"instance-{self._uuid(instance)[:8]}",
            "vcpus": instance.vcpus,
            "memory_mb": instance.memory_mb,
            "root_gb": instance.root_gb,
            "ephemeral_gb": instance.ephemeral_gb,
            "image_ref": str(image_id or instance.image_ref or ""),
            "power_state": int(PowerState.RUNNING),
            "rescued": False,
            "admin_password": None,
            "volumes": {},
            "interfaces": {},
            "console": [],
            "boots": 0,
            "created": time.time(),
        }

    @staticmethod
    def _update_flavor(rec: dict[str, Any], instance: Instance) -> None:
        for key in ("vcpus", "memory_mb", "root_gb", "ephemeral_gb"):
            rec[key] = int(getattr(instance, key))

    @staticmethod
    def _plugged(network_info: Sequence[VIF]) -> dict[str, Any]:
        return {vif.id: dataclasses.asdict(vif) for vif in network_info if vif.id}

    # -- persistence -------------------------------------------------------------
    def _state_file(self) -> str:
        return os.path.join(self._opts.state_dir, f"{self.host}.json")

    def _load(self) -> None:
        try:
            with open(self._state_file(), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as err:
            LOG.warning("Ignoring unreadable fake hypervisor state %s: %s", self._state_file(), err)
            return
        self._instances = dict(data.get("instances") or {})
        self._resize_source = dict(data.get("resize_source") or {})

    def _save(self) -> None:
        """Write the state (lock held). Atomic: a crash leaves the old or the new file."""
        if not self._opts.persist:
            return
        path = self._state_file()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"instances": self._instances, "resize_source": self._resize_source}, f)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise

    def get_instance(self, uuid: str) -> dict[str, Any] | None:
        """A copy of an instance's record (tests and debugging), or None."""
        with self._lock:
            rec = self._instances.get(uuid)
            return copy.deepcopy(rec) if rec is not None else None

    # -- host ------------------------------------------------------------------
    def get_host_resources(self) -> HostResources:
        o = self._opts
        with self._lock:
            recs = list(self._instances.values()) + list(self._resize_source.values())
            vcpus_used = sum(r["vcpus"] for r in recs)
            mem_used = sum(r["memory_mb"] for r in recs)
            disk_used = sum(r["root_gb"] + r["ephemeral_gb"] for r in recs)
        supported = []
        for triple in o.supported_instances or []:
            arch, hv_type, mode = (str(triple).split(":") + ["", "", ""])[:3]
            supported.append((arch, hv_type, mode))
        return HostResources(
            vcpus=o.vcpus, memory_mb=o.memory_mb, local_gb=o.local_gb,
            vcpus_used=vcpus_used, memory_mb_used=mem_used, local_gb_used=disk_used,
            hypervisor_type=o.hypervisor_type, hypervisor_version=o.hypervisor_version,
            hypervisor_hostname=self.host,
            cpu_info={"arch": o.cpu_arch, "model": "fake", "vendor": "Cumulo",
                      "topology": {"sockets": 1, "cores": o.vcpus, "threads": 1}, "features": []},
            supported_instances=tuple(supported),
        )

    def list_power_states(self) -> Mapping[str, PowerState]:
        with self._lock:
            return {u: PowerState(r["power_state"]) for u, r in self._instances.items()}

    def register_power_events(self, callback: Callable[[str, PowerState], None]) -> bool:
        self._power_events = callback
        return True

    def guest_power_change(self, uuid: str, state: PowerState) -> None:
        """What a guest does by itself (shuts down, crashes): the state changes and the event is sent."""
        with self._lock:
            rec = self._instances[uuid]
            rec["power_state"] = int(state)
            self._save()
        if self._power_events is not None:
            self._power_events(uuid, state)

    # -- lifecycle -------------------------------------------------------------
    def spawn(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
              block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        uuid = self._uuid(instance)
        self._act("spawn")
        with self._lock:
            rec = self._instances.get(uuid)
            if rec is None:
                rec = self._new_record(instance, image.meta.id)
                rec["admin_password"] = admin_password
                rec["interfaces"] = self._plugged(network_info)
                for bdm in block_devices:
                    if bdm.destination_type == "volume" and bdm.device_name and bdm.connection_info:
                        rec["volumes"][bdm.device_name] = _volume_record(bdm.connection_info)
                self._boot_log(rec)
                self._instances[uuid] = rec
            else:
                rec["power_state"] = int(PowerState.RUNNING)
            self._save()

    def destroy(self, instance: Instance, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), destroy_disks: bool = True) -> None:
        uuid = self._uuid(instance)
        self._act("destroy")
        with self._lock:
            if self._instances.pop(uuid, None) is None:
                self._resize_source.pop(uuid, None)  # the source copy of a resize in flight
            self._console_ports.pop(uuid, None)
            self._save()

    def reboot(self, instance: Instance, hard: bool) -> None:
        with self._lock:
            self._get(instance)
        self._act("reboot")
        with self._lock:
            rec = self._get(instance)
            self._log(rec, f"reboot: {'hard' if hard else 'soft'} reboot requested")
            rec["power_state"] = int(PowerState.RUNNING)
            self._boot_log(rec)
            self._save()

    def power_off(self, instance: Instance, timeout: int = 0) -> None:
        with self._lock:
            self._get(instance)
        self._act("power_off")
        with self._lock:
            rec = self._get(instance)
            if rec["power_state"] != PowerState.SHUTDOWN:
                rec["power_state"] = int(PowerState.SHUTDOWN)
                self._log(rec, "reboot: Power down")
                self._save()

    def power_on(self, instance: Instance) -> None:
        with self._lock:
            self._get(instance)
        self._act("power_on")
        with self._lock:
            rec = self._get(instance)
            if rec["power_state"] != PowerState.RUNNING:
                rec["power_state"] = int(PowerState.RUNNING)
                self._boot_log(rec)
                self._save()

    def get_power_state(self, instance: Instance) -> PowerState:
        with self._lock:
            return PowerState(self._get(instance)["power_state"])

    def _transition(self, op: str, instance: Instance, allowed: tuple[PowerState, ...],
                    target: PowerState, line: str) -> None:
        with self._lock:
            self._get(instance)
        self._act(op)
        with self._lock:
            rec = self._get(instance)
            state = PowerState(rec["power_state"])
            if state == target:
                return
            if state not in allowed:
                raise HypervisorError(f"Cannot {op} instance {rec['uuid']}: it is {state.name}")
            rec["power_state"] = int(target)
            self._log(rec, line)
            self._save()

    def pause(self, instance: Instance) -> None:
        self._transition("pause", instance, (PowerState.RUNNING,), PowerState.PAUSED, "fake: vCPUs paused")

    def unpause(self, instance: Instance) -> None:
        self._transition("unpause", instance, (PowerState.PAUSED,), PowerState.RUNNING, "fake: vCPUs resumed")

    def suspend(self, instance: Instance) -> None:
        self._transition("suspend", instance, (PowerState.RUNNING, PowerState.PAUSED), PowerState.SUSPENDED,
                         "PM: suspend to disk")

    def resume(self, instance: Instance) -> None:
        self._transition("resume", instance, (PowerState.SUSPENDED,), PowerState.RUNNING, "PM: resumed from disk")

    def rescue(self, instance: Instance, image: ImageReader, rescue_password: str) -> None:
        with self._lock:
            self._get(instance)
        self._act("rescue")
        with self._lock:
            rec = self._get(instance)
            if rec["rescued"]:
                return
            rec["rescued"] = True
            rec["rescue_image_ref"] = image.meta.id or rec["image_ref"]
            rec["rescue_password"] = rescue_password
            rec["power_state_before_rescue"] = rec["power_state"]
            rec["power_state"] = int(PowerState.RUNNING)
            self._log(rec, f"rescue: booted rescue image {rec['rescue_image_ref']}")
            self._save()

    def unrescue(self, instance: Instance) -> None:
        with self._lock:
            self._get(instance)
        self._act("unrescue")
        with self._lock:
            rec = self._get(instance)
            if not rec["rescued"]:
                return
            rec["rescued"] = False
            rec.pop("rescue_password", None)
            rec["power_state"] = int(PowerState.RUNNING)
            self._boot_log(rec)
            self._save()

    # -- resize ---------------------------------------------------------------
    def migrate_disk_and_power_off(self, instance: Instance, dest_host: str, flavor: Flavor) -> DiskInfo:
        uuid = self._uuid(instance)
        with self._lock:
            if uuid not in self._instances and uuid in self._resize_source:  # retried
                return {"source_host": self.host, "fake_record": copy.deepcopy(self._resize_source[uuid])}
            self._get(instance)
        self._act("migrate_disk_and_power_off")
        with self._lock:
            if uuid not in self._instances and uuid in self._resize_source:  # a retry raced us
                return {"source_host": self.host, "fake_record": copy.deepcopy(self._resize_source[uuid])}
            rec = self._get(instance)
            root = flavor.root_gb
            if root and root < rec["root_gb"]:
                raise HypervisorError(f"Cannot shrink the root disk from {rec['root_gb']} to {root} GiB")
            rec["power_state"] = int(PowerState.SHUTDOWN)
            self._log(rec, f"reboot: Power down (migrating to {dest_host})")
            self._resize_source[uuid] = self._instances.pop(uuid)
            self._save()
            return {"source_host": self.host, "dest_host": dest_host, "fake_record": copy.deepcopy(rec)}

    def finish_migration(self, instance: Instance, disk_info: DiskInfo, network_info: Sequence[VIF],
                         image: ImageMeta, resize_instance: bool, block_devices: Sequence[BlockDevice] = (),
                         power_on: bool = True) -> None:
        uuid = self._uuid(instance)
        self._act("finish_migration")
        with self._lock:
            rec = copy.deepcopy((disk_info or {}).get("fake_record") or self._new_record(instance, image.id))
            rec["uuid"] = uuid
            self._update_flavor(rec, instance)
            if network_info:
                rec["interfaces"] = self._plugged(network_info)
            rec["power_state"] = int(PowerState.RUNNING if power_on else PowerState.SHUTDOWN)
            if power_on:
                self._boot_log(rec)
            self._instances[uuid] = rec
            self._save()

    def confirm_migration(self, instance: Instance, network_info: Sequence[VIF]) -> None:
        uuid = self._uuid(instance)
        self._act("confirm_migration")
        with self._lock:
            self._resize_source.pop(uuid, None)
            self._save()

    def finish_revert_migration(self, instance: Instance, network_info: Sequence[VIF],
                                block_devices: Sequence[BlockDevice] = (), power_on: bool = True) -> None:
        uuid = self._uuid(instance)
        self._act("finish_revert_migration")
        with self._lock:
            rec = self._resize_source.pop(uuid, None) or self._instances.get(uuid)
            if rec is None:
                rec = self._new_record(instance, None)
            rec["power_state"] = int(PowerState.RUNNING if power_on else PowerState.SHUTDOWN)
            if power_on:
                self._boot_log(rec)
            self._instances[uuid] = rec
            self._save()

    # -- live migration ---------------------------------------------------------
    def live_migration(self, instance: Instance, dest_host: str, network_info: Sequence[VIF],
                       block_migration: bool) -> DiskInfo:
        uuid = self._uuid(instance)
        with self._lock:
            self._get(instance)
        self._act("live_migration")
        with self._lock:
            rec = self._get(instance)
            if rec["power_state"] not in (int(PowerState.RUNNING), int(PowerState.PAUSED)):
                raise HypervisorError(f"Instance {uuid} is not running: it cannot be live-migrated")
            self._log(rec, f"migration: live to {dest_host} (block migration: {block_migration})")
            moved = self._instances.pop(uuid)
            self._save()
            return {"source_host": self.host, "dest_host": dest_host, "fake_record": copy.deepcopy(moved)}

    def post_live_migration_at_destination(self, instance: Instance, migrate_data: DiskInfo,
                                           network_info: Sequence[VIF],
                                           block_devices: Sequence[BlockDevice] = ()) -> None:
        uuid = self._uuid(instance)
        self._act("post_live_migration_at_destination")
        with self._lock:
            rec = copy.deepcopy((migrate_data or {}).get("fake_record") or self._new_record(instance, None))
            rec["uuid"] = uuid
            if network_info:
                rec["interfaces"] = self._plugged(network_info)
            self._log(rec, f"migration: running on {self.host}")
            self._instances[uuid] = rec
            self._save()

    # -- images, console, password -------------------------------------------
    def snapshot(self, instance: Instance, write_chunk: Callable[[bytes], object]) -> SnapshotResult:
        with self._lock:
            rec = self._get(instance)
            seed = f"{rec['uuid']}:{rec['image_ref']}".encode()
        self._act("snapshot")
        size = int(self._opts.snapshot_size)
        written = 0
        block = 0
        while written < size:
            pattern = hashlib.sha256(seed + block.to_bytes(8, "big")).digest()
            chunk = (pattern * (CHUNK // len(pattern) + 1))[: min(CHUNK, size - written)]
            write_chunk(chunk)
            written += len(chunk)
            block += 1
        return SnapshotResult(disk_format="raw", container_format="bare")

    def rebuild(self, instance: Instance, image: ImageReader, network_info: Sequence[VIF],
                block_devices: Sequence[BlockDevice] = (), admin_password: str | None = None) -> None:
        with self._lock:
            self._get(instance)
        self._act("rebuild")
        with self._lock:
            rec = self._get(instance)
            rec["image_ref"] = image.meta.id or instance.image_ref or rec["image_ref"]
            self._update_flavor(rec, instance)
            if admin_password is not None:
                rec["admin_password"] = admin_password
            rec["rescued"] = False
            rec["console"] = []
            rec["power_state"] = int(PowerState.RUNNING)
            self._log(rec, f"rebuild: root disk re-created from image {rec['image_ref']}")
            self._boot_log(rec)
            self._save()

    def get_console_output(self, instance: Instance) -> str:
        with self._lock:
            self._get(instance)
        self._act("get_console_output")
        with self._lock:
            return "\n".join(self._get(instance)["console"]) + "\n"

    def get_remote_console(self, instance: Instance, console_type: str) -> RemoteConsole:
        kind = _PROTOCOL_DEFAULT.get(console_type, console_type)
        if kind not in _CONSOLE_URLS:
            raise exception.Invalid(reason=f"Unsupported console type {console_type!r}; "
                                           f"the fake driver offers {', '.join(sorted(_CONSOLE_URLS))}")
        with self._lock:
            uuid = self._get(instance)["uuid"]
        self._act("get_remote_console")
        with self._lock:
            self._get(instance)
            port = self._console_ports.get(uuid)
            if port is None:
                port = self._opts.console_port_base + len(self._console_ports)
                self._console_ports[uuid] = port
        token = secrets.token_urlsafe(24)
        _protocol, url = _CONSOLE_URLS[kind]
        host = self._opts.console_proxy_host
        return RemoteConsole(console_type=kind, host=host, port=port, token=token,
                             url=url.format(host=host, token=token))

    def set_admin_password(self, instance: Instance, password: str) -> None:
        with self._lock:
            self._get(instance)
        self._act("set_admin_password")
        with self._lock:
            rec = self._get(instance)
            if rec["power_state"] != PowerState.RUNNING:
                raise HypervisorError(f"Cannot set the password of instance {rec['uuid']}: it is not running")
            rec["admin_password"] = password
            self._save()

    # -- volumes and interfaces ------------------------------------------------
    def attach_volume(self, instance: Instance, block_device: BlockDevice) -> str | None:
        mountpoint = block_device.device_name or f"/dev/vd{block_device.volume_id or ''}"
        info = _volume_record(block_device.connection_info) if block_device.connection_info else {}
        with self._lock:
            self._get(instance)
        self._act("attach_volume")
        with self._lock:
            rec = self._get(instance)
            current = rec["volumes"].get(mountpoint)
            if current is not None and current != info:
                raise HypervisorError(f"{mountpoint} of instance {rec['uuid']} is already in use")
            rec["volumes"][mountpoint] = info
            self._log(rec, f"virtio_blk: {mountpoint} attached")
            self._save()
        return None if mountpoint == block_device.device_name else mountpoint

    def detach_volume(self, instance: Instance, block_device: BlockDevice) -> None:
        mountpoint = block_device.device_name or f"/dev/vd{block_device.volume_id or ''}"
        with self._lock:
            self._get(instance)
        self._act("detach_volume")
        with self._lock:
            rec = self._get(instance)
            if rec["volumes"].pop(mountpoint, None) is not None:
                self._log(rec, f"virtio_blk: {mountpoint} detached")
                self._save()

    def attach_interface(self, instance: Instance, vif: VIF) -> None:
        port_id = vif.id
        if not port_id:
            raise HypervisorError("The port has no id")
        with self._lock:
            self._get(instance)
        self._act("attach_interface")
        with self._lock:
            rec = self._get(instance)
            rec["interfaces"][port_id] = dataclasses.asdict(vif)
            self._log(rec, f"virtio_net: interface {vif.mac_address or port_id} attached")
            self._save()

    def detach_interface(self, instance: Instance, vif: VIF) -> None:
        port_id = vif.id
        with self._lock:
            self._get(instance)
        self._act("detach_interface")
        with self._lock:
            rec = self._get(instance)
            if rec["interfaces"].pop(port_id, None) is not None:
                self._log(rec, f"virtio_net: interface {port_id} detached")
                self._save()


def _volume_record(info: ConnectionInfo) -> dict[str, str]:
    """What the fake keeps of an attached volume: its transport and id (never the export's secrets)."""
    return {"driver_volume_type": info.driver_volume_type, "volume_id": info.volume_id}
