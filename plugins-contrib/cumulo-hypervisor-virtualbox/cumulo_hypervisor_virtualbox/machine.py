"""A VirtualBox machine as the driver sees it (:class:`MachineInfo`) and the settings it gives one.

An instance is the machine named ``Instance.name`` with the instance's uuid as the machine's UUID
(``createvm --uuid``), in the group ``/cumulo/<host>`` (``--groups``): the group says which compute host
owns it when several hosts share one VirtualBox. Its root disk is ``disk.vdi`` on the ``SATA`` controller,
port 0; its serial port 1 writes ``console.log``; both live in the machine's folder.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cumulo.interfaces.hypervisor import VIF, HypervisorError, Instance, PowerState

GROUP_PREFIX = "/cumulo/"
CONTROLLER = "SATA"
ROOT_DISK = "disk.vdi"
CONSOLE_LOG = "console.log"
MAX_NICS = 8  # modifyvm --nic1 .. --nic8

#: VirtualBox's machine states (``VMState``) and the power state each is (transient ones: NOSTATE).
POWER_STATES: Mapping[str, PowerState] = {
    "running": PowerState.RUNNING, "paused": PowerState.PAUSED, "poweroff": PowerState.SHUTDOWN,
    "saved": PowerState.SUSPENDED, "aborted": PowerState.CRASHED, "stuck": PowerState.CRASHED,
    "gurumeditation": PowerState.CRASHED,
}
#: States a VM process runs in (controlvm works; modifyvm and unregistervm do not).
LIVE_STATES = frozenset({"running", "paused", "stuck", "starting", "stopping", "saving", "restoring",
                         "teleporting", "livesnapshotting", "onlinesnapshotting"})


@dataclasses.dataclass(frozen=True)
class MachineInfo:
    """What ``showvminfo --machinereadable`` says of one machine."""

    name: str
    uuid: str
    state: str
    groups: tuple[str, ...] = ()
    folder: str = ""
    memory_mb: int = 0
    cpus: int = 0
    root_disk: str | None = None
    vrde_port: int | None = None
    vrde_address: str = ""
    snapshots: tuple[str, ...] = ()

    @property
    def power_state(self) -> PowerState:
        return POWER_STATES.get(self.state, PowerState.NOSTATE)

    @property
    def live(self) -> bool:
        """A VM process runs it (it is running, paused, or between states)."""
        return self.state in LIVE_STATES

    def owner(self) -> str | None:
        """The compute host whose group the machine is in, None for a machine Cumulo did not make."""
        for group in self.groups:
            if group.startswith(GROUP_PREFIX):
                return group[len(GROUP_PREFIX):]
        return None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def machine_info(values: Mapping[str, str]) -> MachineInfo:
    """The record of ``showvminfo --machinereadable``'s parsed ``values``."""
    cfg_file = values.get("CfgFile", "")
    port = _int(values.get("vrdeport"))
    snapshots = tuple(v for k, v in values.items() if k == "SnapshotName" or k.startswith("SnapshotName-"))
    disk = values.get(f"{CONTROLLER}-0-0")
    return MachineInfo(
        name=values.get("name", ""), uuid=values.get("UUID", "").lower(), state=values.get("VMState", ""),
        groups=tuple(g for g in values.get("groups", "").split(",") if g), folder=os.path.dirname(cfg_file),
        memory_mb=_int(values.get("memory")) or 0, cpus=_int(values.get("cpus")) or 0,
        root_disk=disk if disk and disk != "none" else None,
        vrde_port=port if port is not None and port > 0 else None, vrde_address=values.get("vrdeaddress", ""),
        snapshots=snapshots)


def group(host: str) -> str:
    return GROUP_PREFIX + host


def mac(address: str) -> str:
    """``fa:16:3e:00:00:01`` -> ``FA163E000001`` (VirtualBox's form).

    :raises HypervisorError: not a MAC address.
    """
    digits = address.replace(":", "").replace("-", "").upper()
    if len(digits) != 12 or any(c not in "0123456789ABCDEF" for c in digits):
        raise HypervisorError(f"{address!r} is not a MAC address")
    return digits


@dataclasses.dataclass(frozen=True)
class NicSettings:
    """How ports become adapters (``[virtualbox] nic_mode``, ``bridged_adapter``, ``hostonly_adapter``)."""

    mode: str
    bridged_adapter: str = ""
    hostonly_adapter: str = ""
    nic_type: str = "virtio"


def nic_args(vifs: Sequence[VIF], settings: NicSettings) -> list[str]:
    """``modifyvm`` arguments giving adapter N to port N (and none to the other slots).

    :raises HypervisorError: more ports than VirtualBox has adapters, or a bridged port with no host interface.
    """
    if len(vifs) > MAX_NICS:
        raise HypervisorError(f"VirtualBox machines have {MAX_NICS} network adapters; {len(vifs)} ports asked for")
    args: list[str] = []
    for n, vif in enumerate(vifs, start=1):
        if settings.mode == "hostonly":
            args += [f"--nic{n}", "hostonly", f"--hostonlyadapter{n}", settings.hostonly_adapter]
        else:
            adapter = settings.bridged_adapter or vif.bridge
            if not adapter:
                raise HypervisorError(f"port {vif.id} has no host bridge and [virtualbox] bridged_adapter is empty")
            args += [f"--nic{n}", "bridged", f"--bridgeadapter{n}", adapter]
        args += [f"--macaddress{n}", mac(vif.mac_address), f"--nictype{n}", settings.nic_type]
    for n in range(len(vifs) + 1, MAX_NICS + 1):
        args += [f"--nic{n}", "none"]
    return args


def flavor_args(instance: Instance) -> list[str]:
    return ["--memory", str(instance.memory_mb), "--cpus", str(max(instance.vcpus, 1))]


def console_args(folder: str) -> list[str]:
    """Serial port 1 (COM1: 0x3F8, IRQ 4) written to ``<folder>/console.log``."""
    return ["--uart1", "0x3F8", "4", "--uartmode1", "file", os.path.join(folder, CONSOLE_LOG)]


def vrde_args(enabled: bool, ports: str, address: str) -> list[str]:
    if not enabled:
        return ["--vrde", "off"]
    return ["--vrde", "on", "--vrdeport", ports, "--vrdeaddress", address]
