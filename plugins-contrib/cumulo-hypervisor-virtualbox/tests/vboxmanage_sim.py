#!/usr/bin/env python3
"""A VBoxManage simulator: the subcommands the VirtualBox driver uses, with VirtualBox's formats and exit codes.

The tests put this script on ``[virtualbox] vboxmanage_path``. It keeps its state as VirtualBox keeps its
registry, under ``$VBOX_USER_HOME`` (``simulator.json`` beside a lock file; each invocation holds the lock, as
VBoxSVC serialises its clients), and writes the files VirtualBox writes: a machine folder with a ``.vbox``
settings file, disk images, a ``Snapshots`` folder, the serial port's file.

Formats follow the VBoxManage chapter of the VirtualBox manual and VirtualBox's own messages:
``list vms`` prints ``"name" {uuid}``; ``showvminfo --machinereadable`` prints ``key="value"`` lines
(``VMState="running"``, ``"SATA-0-0"="/path/disk.vdi"``, ``nic1="bridged"``...); errors go to stderr as
``VBoxManage: error: <message>``, ``VBoxManage: error: Details: code VBOX_E_... (0x80bb00..), component ...,
interface ..., callee nsISupports`` and a ``Context:`` line, with exit code 1 (2 for a syntax error);
long operations print ``0%...10%...100%`` on stderr.

What it cannot be: a hypervisor. No guest runs; a started machine writes one line to its serial port file,
and honours the ACPI power button at once. Disk images keep VirtualBox's VDI pre-header, signature and
size field, but store their bytes flat after a 512-byte header (real VirtualBox cannot read them); qcow2
sources give their virtual size only. Messages of rare paths are close to, not copied from, VirtualBox's.

Fault injection: ``$VBOX_USER_HOME/simulator-faults.json``::

    {"fail": [{"command": "storageattach", "times": 1, "code": "VBOX_E_IPRT_ERROR", "message": "..."}],
     "guest_ignores_acpi": false}

``command`` is the subcommand (``controlvm poweroff`` names the action too); ``times`` counts down (absent:
every time). The failing command changes nothing, as a failed VirtualBox call leaves the registry as it was.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import os
import shutil
import struct
import sys
import uuid as uuidlib
from collections.abc import Iterator
from typing import Any

VERSION = "7.0.14r161095"
PROG = "VBoxManage"
VDI_PREHEADER = b"<<< Oracle VM VirtualBox Disk Image >>>\n"
VDI_SIGNATURE = 0xBEDA107F
VDI_HEADER = 512
MB = 1024 * 1024

CODES = {
    "VBOX_E_OBJECT_NOT_FOUND": 0x80BB0001, "VBOX_E_INVALID_VM_STATE": 0x80BB0002, "VBOX_E_VM_ERROR": 0x80BB0003,
    "VBOX_E_FILE_ERROR": 0x80BB0004, "VBOX_E_IPRT_ERROR": 0x80BB0005, "VBOX_E_INVALID_OBJECT_STATE": 0x80BB0007,
    "VBOX_E_OBJECT_IN_USE": 0x80BB000C, "E_INVALIDARG": 0x80070057, "E_FAIL": 0x80004005,
}
STATE_NAMES = {"poweroff": "PoweredOff", "running": "Running", "paused": "Paused", "saved": "Saved",
               "aborted": "Aborted"}


class Fail(Exception):
    """A VBoxManage error: printed as VirtualBox prints it, exit code 1 (2: syntax)."""

    def __init__(self, message: str, code: str | None = None, component: str = "", interface: str = "",
                 context: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.message, self.code, self.component, self.interface = message, code, component, interface
        self.context, self.exit_code = context, exit_code

    def render(self) -> str:
        lines = [f"{PROG}: error: {self.message}"]
        if self.code:
            lines.append(f"{PROG}: error: Details: code {self.code} (0x{CODES.get(self.code, 0x80004005):08x}), "
                         f"component {self.component}, interface {self.interface}, callee nsISupports")
        if self.context:
            lines.append(f"{PROG}: error: Context: {self.context}")
        return "\n".join(lines) + "\n"


def syntax(message: str) -> Fail:
    return Fail(message, exit_code=2)


def progress() -> None:
    sys.stderr.write("0%...10%...20%...30%...40%...50%...60%...70%...80%...90%...100%\n")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000")


# -- state -----------------------------------------------------------------------------------------
def home() -> str:
    path = os.environ.get("VBOX_USER_HOME") or os.path.expanduser("~/.config/VirtualBox")
    os.makedirs(path, exist_ok=True)
    return path


@contextlib.contextmanager
def registry() -> Iterator[dict[str, Any]]:
    """The registry under the global lock; written back only when the command succeeds."""
    with open(os.path.join(home(), "simulator.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(home(), "simulator.json")
        try:
            with open(path) as f:
                state = json.load(f)
        except FileNotFoundError:
            state = {"machines": {}, "media": {}}
        yield state
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=1)
        os.replace(tmp, path)


def inject_faults(argv: list[str]) -> None:
    """Fail as the faults file says (before anything changes)."""
    path = os.path.join(home(), "simulator-faults.json")
    try:
        with open(path) as f:
            faults = json.load(f)
    except (FileNotFoundError, ValueError):
        return
    words = [a for a in argv if not a.startswith("-")]
    for fault in faults.get("fail", []):
        command = str(fault.get("command", "")).split()
        if not command or words[:1] != command[:1]:
            continue
        if len(command) > 1 and command[1] not in words[1:3]:
            continue
        times = fault.get("times")
        if times is not None:
            if times <= 0:
                continue
            fault["times"] = times - 1
            with open(path, "w") as f:
                json.dump(faults, f)
        raise Fail(fault.get("message", f"Simulated failure of {' '.join(command)}"),
                   fault.get("code", "VBOX_E_IPRT_ERROR"), fault.get("component", "SessionMachine"),
                   fault.get("interface", "IMachine"), f'"{command[0]}" (simulated fault)')


def guest_ignores_acpi() -> bool:
    try:
        with open(os.path.join(home(), "simulator-faults.json")) as f:
            return bool(json.load(f).get("guest_ignores_acpi"))
    except (FileNotFoundError, ValueError):
        return False


def find_machine(state: dict[str, Any], ref: str, source: str = "VBoxManageInfo.cpp") -> dict[str, Any]:
    key = ref.strip("{}")
    if key in state["machines"]:
        return state["machines"][key]  # type: ignore[no-any-return]
    for m in state["machines"].values():
        if m["name"] == ref:
            return m  # type: ignore[no-any-return]
    what = f"with UUID {{{key}}}" if _is_uuid(key) else f"named '{ref}'"
    raise Fail(f"Could not find a registered machine {what}", "VBOX_E_OBJECT_NOT_FOUND", "VirtualBoxWrap",
               "IVirtualBox", f'"FindMachine(Bstr(a->argv[0]).raw(), machine.asOutParam())" at line 2647 of file {source}')


def _is_uuid(text: str) -> bool:
    try:
        uuidlib.UUID(text)
        return True
    except ValueError:
        return False


def lock_for_write(m: dict[str, Any], source: str) -> None:
    """A machine with a running session cannot be locked for writing (modifyvm, storagectl, ...)."""
    if m["state"] in ("running", "paused"):
        raise Fail(f"The machine '{m['name']}' is already locked for a session (or being unlocked)",
                   "VBOX_E_INVALID_OBJECT_STATE", "MachineWrap", "IMachine",
                   f'"LockMachine(a->session, LockType_Write)" at line 525 of file {source}')


def find_medium(state: dict[str, Any], ref: str, must_exist: bool = True) -> dict[str, Any] | None:
    key = ref.strip("{}")
    if key in state["media"]:
        return state["media"][key]  # type: ignore[no-any-return]
    location = os.path.abspath(ref)
    for med in state["media"].values():
        if med["location"] == location:
            return med  # type: ignore[no-any-return]
    if must_exist and not os.path.exists(location):
        raise Fail(f"Could not find file for the medium '{location}' (VERR_FILE_NOT_FOUND)", "VBOX_E_FILE_ERROR",
                   "MediumWrap", "IMedium", '"OpenMedium(Bstr(pszFilenameOrUuid).raw(), enmDevType, enmAccessMode, '
                   'fForceNewUuidOnOpen, pMedium.asOutParam())" at line 201 of file VBoxManageDisk.cpp')
    return None


def users_of(state: dict[str, Any], medium_uuid: str) -> list[dict[str, Any]]:
    found = []
    for m in state["machines"].values():
        used = [a["medium"] for c in m["controllers"] for a in c["attachments"].values()]
        used += [u for s in m["snapshots"] for u in s["media"].values()]
        if medium_uuid in used:
            found.append(m)
    return found


def write_locked_media(state: dict[str, Any]) -> set[str]:
    """Media attached to the current state of a running machine: VirtualBox holds them locked for writing."""
    locked = set()
    for m in state["machines"].values():
        if m["state"] in ("running", "paused"):
            locked.update(a["medium"] for c in m["controllers"] for a in c["attachments"].values())
    return locked


# -- disk images ---------------------------------------------------------------------------------------
def read_image(path: str) -> tuple[str, int, bytes]:
    """(format, capacity in bytes, payload) of an image file the simulator can read."""
    with open(path, "rb") as f:
        head = f.read(VDI_HEADER)
        if head.startswith(VDI_PREHEADER) and struct.unpack_from("<I", head, 0x40)[0] == VDI_SIGNATURE:
            return "VDI", struct.unpack_from("<Q", head, 0x170)[0], f.read()
        if head[:4] == b"QFI\xfb":
            return "qcow", struct.unpack_from(">Q", head, 24)[0], b""
    raise Fail(f"Could not get the storage format of the medium '{path}' (VERR_NOT_SUPPORTED)",
               "VBOX_E_IPRT_ERROR", "MediumWrap", "IMedium", '"OpenMedium(...)" at line 201 of file VBoxManageDisk.cpp')


def write_vdi(path: str, capacity: int, payload: bytes, medium_uuid: str, parent: str | None = None) -> None:
    header = bytearray(VDI_HEADER)
    header[:len(VDI_PREHEADER)] = VDI_PREHEADER
    struct.pack_into("<IIIQ", header, 0x40, VDI_SIGNATURE, 0x00010001, 0x190, 0)
    struct.pack_into("<Q", header, 0x170, capacity)
    header[0x188:0x198] = uuidlib.UUID(medium_uuid).bytes
    if parent:
        header[0x1A8:0x1B8] = uuidlib.UUID(parent).bytes
    tmp = path + ".sim-tmp"
    with open(tmp, "wb") as f:
        f.write(bytes(header) + payload[:capacity])
    os.replace(tmp, path)


def register_medium(state: dict[str, Any], location: str, fmt: str, capacity: int, parent: str | None = None,
                    medium_uuid: str | None = None) -> dict[str, Any]:
    med = {"uuid": medium_uuid or str(uuidlib.uuid4()), "location": os.path.abspath(location), "format": fmt,
           "capacity": capacity, "parent": parent, "type": "normal"}
    state["media"][med["uuid"]] = med
    return med


def open_medium(state: dict[str, Any], ref: str) -> dict[str, Any]:
    """A registered medium, or the image file at ``ref`` opened (and registered) as VirtualBox does."""
    med = find_medium(state, ref)
    if med is not None:
        return med
    fmt, capacity, _ = read_image(os.path.abspath(ref))
    return register_medium(state, ref, fmt, capacity)


def payload_of(med: dict[str, Any]) -> bytes:
    return read_image(med["location"])[2]


# -- commands ---------------------------------------------------------------------------------------
def options(args: list[str], flags: set[str] = frozenset(), numbered: tuple[str, ...] = ()) -> dict[str, list[str]]:  # type: ignore[assignment]
    """``--opt value`` pairs (``--opt=value`` too); ``flags`` take no value; ``numbered`` prefixes take one."""
    found: dict[str, list[str]] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-"):
            raise syntax(f"Invalid parameter '{arg}'")
        name, eq, value = arg.partition("=")
        name = "--" + name.lstrip("-")
        if name in flags:
            found.setdefault(name, []).append("")
            i += 1
            continue
        if not eq:
            if i + 1 >= len(args):
                raise syntax(f"Missing argument to '{name}'")
            value = args[i + 1]
            i += 1
        found.setdefault(name, []).append(value)
        i += 1
    return found


def one(opts: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    return opts[name][-1] if name in opts else default


def cmd_version(args: list[str]) -> None:
    print(VERSION)


def cmd_list(args: list[str]) -> None:
    what = [a for a in args if not a.startswith("-")]
    if not what:
        raise syntax("Missing subcommand for 'list' command.")
    with registry() as state:
        kind = what[0]
        if kind in ("vms", "runningvms"):
            for m in state["machines"].values():
                if kind == "vms" or m["state"] in ("running", "paused"):
                    print(f'"{m["name"]}" {{{m["uuid"]}}}')
        elif kind == "hdds":
            for med in state["media"].values():
                print(medium_text(state, med) + "\n")
        elif kind == "hostinfo":
            mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // MB
            cpus = os.cpu_count() or 1
            print(f"Host Information:\n\nHost time: {now()}\nProcessor online count: {cpus}\nProcessor count: {cpus}\n"
                  f"Processor online core count: {cpus}\nProcessor core count: {cpus}\n"
                  f"Processor supports HW virtualization: yes\nProcessor supports PAE: yes\n"
                  f"Processor supports long mode: yes\nMemory size: {mem} MByte\nMemory available: {mem // 2} MByte\n"
                  f"Operating system: Linux\nOperating system version: {os.uname().release}")
        elif kind in ("hostonlyifs", "bridgedifs"):
            names = ["vboxnet0"] if kind == "hostonlyifs" else sorted(os.listdir("/sys/class/net"))
            for name in names:
                print(f"Name:            {name}\nGUID:            {uuidlib.uuid5(uuidlib.NAMESPACE_DNS, name)}\n"
                      f"DHCP:            Disabled\nStatus:          Up\nVBoxNetworkName: "
                      f"{'HostInterfaceNetworking' if kind == 'bridgedifs' else 'HostInterfaceNetworking'}-{name}\n")
        else:
            raise syntax(f"Unknown subcommand '{kind}' for 'list' command.")


def medium_text(state: dict[str, Any], med: dict[str, Any]) -> str:
    users = users_of(state, med["uuid"])
    size = os.path.getsize(med["location"]) if os.path.exists(med["location"]) else 0
    lines = [f"UUID:           {med['uuid']}", f"Parent UUID:    {med['parent'] or 'base'}",
             "State:          " + ("created" if os.path.exists(med["location"]) else "inaccessible"),
             f"Type:           {med['type']} ({'differencing' if med['parent'] else 'base'})",
             f"Location:       {med['location']}", f"Storage format: {med['format']}",
             f"Capacity:       {med['capacity'] // MB} MBytes", f"Size on disk:   {size // MB} MBytes",
             "Encryption:     disabled"]
    if users:
        lines.append("In use by VMs:  " + ", ".join(f"{m['name']} (UUID: {m['uuid']})" for m in users))
    return "\n".join(lines)


def machine_readable(state: dict[str, Any], m: dict[str, Any]) -> str:
    q = json.dumps
    out = [f"name={q(m['name'])}", f"groups={q(m['groups'])}", f"ostype={q(m['ostype'])}", f"UUID={q(m['uuid'])}",
           f"CfgFile={q(m['cfgfile'])}", f"SnapFldr={q(os.path.join(m['folder'], 'Snapshots'))}",
           f"LogFldr={q(os.path.join(m['folder'], 'Logs'))}", f"memory={m['memory']}", f"cpus={m['cpus']}",
           f"acpi={q(m['acpi'])}", f"boot1={q('disk')}", f"VMState={q(m['state'])}",
           f"VMStateChangeTime={q(m['statechange'])}"]
    for i, c in enumerate(m["controllers"]):
        out += [f"storagecontrollername{i}={q(c['name'])}", f"storagecontrollertype{i}={q(c['controller'])}",
                f"storagecontrollerinstance{i}=\"0\"", f"storagecontrollerportcount{i}=\"{c['portcount']}\"",
                f"storagecontrollerbootable{i}={q(c['bootable'])}"]
    for c in m["controllers"]:
        for key in sorted(c["attachments"]):
            att = c["attachments"][key]
            med = state["media"].get(att["medium"])
            out.append(f"\"{c['name']}-{key}\"={q(med['location'] if med else 'none')}")
            if med:
                out.append(f"\"{c['name']}-ImageUUID-{key}\"={q(med['uuid'])}")
    for n in range(1, 9):
        nic = m["nics"].get(str(n), {"mode": "none"})
        out.append(f"nic{n}={q(nic['mode'])}")
        if nic["mode"] == "bridged":
            out.append(f"bridgeadapter{n}={q(nic.get('adapter', ''))}")
        elif nic["mode"] == "hostonly":
            out.append(f"hostonlyadapter{n}={q(nic.get('adapter', ''))}")
        if nic["mode"] != "none":
            out += [f"macaddress{n}={q(nic.get('mac', ''))}", f"cableconnected{n}=\"on\"",
                    f"nictype{n}={q(nic.get('type', '82540EM'))}"]
    for n in range(1, 5):
        uart = m["uarts"].get(str(n))
        if uart:
            out += [f"uart{n}={q(uart['io'] + ',' + uart['irq'])}",
                    f"uartmode{n}={q(uart['mode'] + (',' + uart['path'] if uart.get('path') else ''))}"]
        else:
            out.append(f"uart{n}=\"off\"")
    vrde = m["vrde"]
    out.append(f"vrde={q(vrde['enabled'])}")
    if vrde["enabled"] == "on":
        port = m.get("vrde_active_port") if m["state"] in ("running", "paused") else None
        out += [f"vrdeport={port if port is not None else -1}", f"vrdeports={q(vrde['ports'])}",
                f"vrdeaddress={q(vrde['address'])}", "vrdeauthtype=\"null\""]
        out += [f"vrdeproperty[{k}]={q(v)}" for k, v in sorted(vrde["properties"].items())]
    for i, snap in enumerate(m["snapshots"]):
        suffix = "" if i == 0 else "-" + "-".join(["1"] * i)
        out += [f"SnapshotName{suffix}={q(snap['name'])}", f"SnapshotUUID{suffix}={q(snap['uuid'])}"]
    if m["snapshots"]:
        out += [f"CurrentSnapshotName={q(m['snapshots'][-1]['name'])}",
                f"CurrentSnapshotUUID={q(m['snapshots'][-1]['uuid'])}"]
    return "\n".join(out)


def cmd_showvminfo(args: list[str]) -> None:
    if not args:
        raise syntax("Missing VM name or UUID")
    with registry() as state:
        m = find_machine(state, args[0])
        if "--machinereadable" not in args[1:]:
            raise syntax("the simulator prints --machinereadable output only")
        print(machine_readable(state, m))


def cmd_createvm(args: list[str]) -> None:
    opts = options(args, flags={"--register"})
    name = one(opts, "--name")
    if not name:
        raise syntax("Parameter --name is required")
    with registry() as state:
        base = one(opts, "--basefolder") or os.path.join(os.path.expanduser("~"), "VirtualBox VMs")
        folder = os.path.join(os.path.abspath(base), name)
        cfgfile = os.path.join(folder, name + ".vbox")
        vm_uuid = one(opts, "--uuid") or str(uuidlib.uuid4())
        if os.path.exists(cfgfile):
            raise Fail(f"Machine settings file '{cfgfile}' already exists", "VBOX_E_FILE_ERROR", "MachineWrap",
                       "IMachine", '"CreateMachine(...)" at line 306 of file VBoxManageMisc.cpp')
        if vm_uuid in state["machines"] or any(m["name"] == name for m in state["machines"].values()):
            raise Fail(f"Cannot register the machine '{name}' ({{{vm_uuid}}}) because a machine with the same "
                       "name or UUID already exists", "VBOX_E_OBJECT_IN_USE", "VirtualBoxWrap", "IVirtualBox",
                       '"RegisterMachine(machine)" at line 312 of file VBoxManageMisc.cpp')
        if "--register" not in opts:
            raise syntax("the simulator creates registered machines only (--register)")
        os.makedirs(folder, exist_ok=True)
        m = {"name": name, "uuid": vm_uuid, "ostype": one(opts, "--ostype", "Other"),
             "groups": one(opts, "--groups", "/"), "cfgfile": cfgfile, "folder": folder, "state": "poweroff",
             "statechange": now(), "memory": 128, "cpus": 1, "acpi": "on", "controllers": [], "nics": {},
             "uarts": {}, "vrde": {"enabled": "off", "ports": "3389", "address": "", "properties": {}},
             "snapshots": [], "guestprops": {}, "extradata": {}}
        state["machines"][vm_uuid] = m
        save_settings(m)
        print(f"Virtual machine '{name}' is created and registered.\nUUID: {vm_uuid}\nSettings file: '{cfgfile}'")


def save_settings(m: dict[str, Any]) -> None:
    """The machine's ``.vbox`` file (the simulator's copy of its settings, for people reading the folder)."""
    with open(m["cfgfile"], "w") as f:
        json.dump({k: v for k, v in m.items() if k != "guestprops"}, f, indent=1)


MODIFYVM_NUMBERED = ("--nic", "--bridgeadapter", "--hostonlyadapter", "--macaddress", "--nictype",
                     "--cableconnected", "--uart", "--uartmode", "--uarttype")


def cmd_modifyvm(args: list[str]) -> None:
    if not args:
        raise syntax("Missing VM name or UUID")
    rest = args[1:]
    # --uart<n> takes two values (I/O base and IRQ) or "off"; --uartmode<n> "file <path>" or "disconnected"
    normal: list[str] = []
    uarts: dict[str, dict[str, str]] = {}
    i = 0
    while i < len(rest):
        arg = rest[i]
        for prefix in ("--uartmode", "--uart"):
            if arg.startswith(prefix) and arg[len(prefix):].isdigit():
                n = arg[len(prefix):]
                if prefix == "--uart":
                    if i + 1 < len(rest) and rest[i + 1] == "off":
                        uarts[n] = {"off": "1"}
                        i += 2
                    elif i + 2 < len(rest):
                        uarts.setdefault(n, {}).update({"io": rest[i + 1], "irq": rest[i + 2]})
                        i += 3
                    else:
                        raise syntax(f"Missing argument to '{arg}'")
                elif i + 1 < len(rest) and rest[i + 1] == "file" and i + 2 < len(rest):
                    uarts.setdefault(n, {}).update({"mode": "file", "path": os.path.abspath(rest[i + 2])})
                    i += 3
                elif i + 1 < len(rest) and rest[i + 1] == "disconnected":
                    uarts.setdefault(n, {}).update({"mode": "disconnected", "path": ""})
                    i += 2
                else:
                    raise syntax(f"Invalid argument to '{arg}'")
                break
        else:
            normal.append(arg)
            if i + 1 < len(rest):
                normal.append(rest[i + 1])
            i += 2
    opts = options(normal)
    known = {"--memory", "--cpus", "--ostype", "--acpi", "--ioapic", "--boot1", "--boot2", "--vrde", "--vrdeport",
             "--vrdeaddress", "--vrdeproperty", "--graphicscontroller", "--vram", "--description", "--rtcuseutc"}
    for name in opts:
        base = name.rstrip("0123456789")
        if name not in known and not (base in MODIFYVM_NUMBERED and name[len(base):].isdigit()):
            raise syntax(f"Invalid parameter '{name}'")
    with registry() as state:
        m = find_machine(state, args[0], "VBoxManageModifyVM.cpp")
        lock_for_write(m, "VBoxManageModifyVM.cpp")
        for key in ("--memory", "--cpus"):
            if key in opts:
                value = one(opts, key) or ""
                if not value.isdigit() or int(value) < 1:
                    raise Fail(f"Invalid {key[2:]} value '{value}'", "E_INVALIDARG", "MachineWrap", "IMachine",
                               f'"COMSETTER({key[2:].title()})" at line 700 of file VBoxManageModifyVM.cpp')
                m[key[2:]] = int(value)
        if "--ostype" in opts:
            m["ostype"] = one(opts, "--ostype")
        if "--acpi" in opts:
            m["acpi"] = one(opts, "--acpi")
        for name, values in opts.items():
            base, n = name.rstrip("0123456789"), name[len(name.rstrip("0123456789")):]
            if not n:
                continue
            if not 1 <= int(n) <= 8:
                raise syntax(f"Invalid NIC number {n}")
            nic = m["nics"].setdefault(n, {"mode": "none"})
            value = values[-1]
            if base == "--nic":
                if value not in ("none", "null", "nat", "bridged", "intnet", "hostonly", "generic", "natnetwork"):
                    raise syntax(f"Invalid type '{value}' specfied for NIC {n}")
                nic["mode"] = value
            elif base in ("--bridgeadapter", "--hostonlyadapter"):
                nic["adapter"] = value
            elif base == "--macaddress":
                if len(value) != 12 or any(ch not in "0123456789abcdefABCDEF" for ch in value):
                    raise Fail(f"Invalid MAC address '{value}'", "E_INVALIDARG", "NetworkAdapterWrap",
                               "INetworkAdapter", '"COMSETTER(MACAddress)" at line 1523 of file VBoxManageModifyVM.cpp')
                nic["mac"] = value.upper()
            elif base == "--nictype":
                nic["type"] = value
        for n, uart in uarts.items():
            if "off" in uart:
                m["uarts"].pop(n, None)
            else:
                m["uarts"].setdefault(n, {"io": "0x03f8", "irq": "4", "mode": "disconnected", "path": ""}).update(uart)
        vrde = m["vrde"]
        if "--vrde" in opts:
            vrde["enabled"] = one(opts, "--vrde")
        if "--vrdeport" in opts:
            vrde["ports"] = one(opts, "--vrdeport")
        if "--vrdeaddress" in opts:
            vrde["address"] = one(opts, "--vrdeaddress")
        for prop in opts.get("--vrdeproperty", []):
            key, _, value = prop.partition("=")
            vrde["properties"][key] = value
        save_settings(m)


def cmd_storagectl(args: list[str]) -> None:
    if not args:
        raise syntax("Missing VM name or UUID")
    opts = options(args[1:], flags={"--remove"})
    name = one(opts, "--name")
    if not name:
        raise syntax("Storage controller name not specified")
    with registry() as state:
        m = find_machine(state, args[0], "VBoxManageStorageController.cpp")
        lock_for_write(m, "VBoxManageStorageController.cpp")
        existing = next((c for c in m["controllers"] if c["name"] == name), None)
        if "--remove" in opts:
            if existing is None:
                raise Fail(f"Could not find a storage controller named '{name}'", "VBOX_E_OBJECT_NOT_FOUND",
                           "SessionMachine", "IMachine", '"RemoveStorageController(...)" at line 1063 of file '
                           'VBoxManageStorageController.cpp')
            m["controllers"].remove(existing)
        else:
            bus = one(opts, "--add")
            if existing is not None:
                raise Fail(f"Storage controller named '{name}' already exists", "VBOX_E_OBJECT_IN_USE",
                           "SessionMachine", "IMachine", '"AddStorageController(...)" at line 1085 of file '
                           'VBoxManageStorageController.cpp')
            if bus not in ("ide", "sata", "scsi", "floppy", "sas", "usb", "pcie", "virtio"):
                raise syntax(f"Invalid --add argument '{bus}'")
            m["controllers"].append({"name": name, "bus": bus, "controller": one(opts, "--controller", "IntelAhci"),
                                     "portcount": int(one(opts, "--portcount", "1") or 1),
                                     "bootable": one(opts, "--bootable", "on"), "attachments": {}})
        save_settings(m)


def cmd_storageattach(args: list[str]) -> None:
    if not args:
        raise syntax("Missing VM name or UUID")
    opts = options(args[1:])
    with registry() as state:
        m = find_machine(state, args[0], "VBoxManageStorageController.cpp")
        lock_for_write(m, "VBoxManageStorageController.cpp")
        ctl_name = one(opts, "--storagectl")
        ctl = next((c for c in m["controllers"] if c["name"] == ctl_name), None)
        if ctl is None:
            raise Fail(f"Could not find a controller named '{ctl_name}'", "VBOX_E_OBJECT_NOT_FOUND", "SessionMachine",
                       "IMachine", '"GetStorageControllerByName(...)" at line 390 of file VBoxManageStorageController.cpp')
        port, device = int(one(opts, "--port", "0") or 0), int(one(opts, "--device", "0") or 0)
        if port >= ctl["portcount"]:
            raise Fail(f"The port number {port} specified is out of range (0..{ctl['portcount'] - 1})",
                       "E_INVALIDARG", "SessionMachine", "IMachine",
                       '"AttachDevice(...)" at line 776 of file VBoxManageStorageController.cpp')
        key = f"{port}-{device}"
        ref = one(opts, "--medium")
        if ref in (None, "none", "emptydrive"):
            ctl["attachments"].pop(key, None)
        else:
            med = open_medium(state, ref)
            if one(opts, "--mtype") == "multiattach":
                med["type"] = "multiattach"
            if med["type"] == "multiattach":  # each machine writes to its own differencing image
                diff_uuid = str(uuidlib.uuid4())
                path = os.path.join(m["folder"], "Snapshots", f"{{{diff_uuid}}}.vdi")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                write_vdi(path, med["capacity"], payload_of(med), diff_uuid, med["uuid"])
                med = register_medium(state, path, "VDI", med["capacity"], med["uuid"], diff_uuid)
            elif users_of(state, med["uuid"]):
                raise Fail(f"Medium '{med['location']}' is already attached to another machine",
                           "VBOX_E_OBJECT_IN_USE", "SessionMachine", "IMachine",
                           '"AttachDevice(...)" at line 776 of file VBoxManageStorageController.cpp')
            ctl["attachments"][key] = {"type": one(opts, "--type", "hdd"), "medium": med["uuid"]}
        save_settings(m)


def cmd_startvm(args: list[str]) -> None:
    if not args:
        raise syntax("Missing VM name or UUID")
    opts = options(args[1:])
    with registry() as state:
        m = find_machine(state, args[0], "VBoxManageMisc.cpp")
        if m["state"] in ("running", "paused"):
            raise Fail(f"The machine '{m['name']}' is already locked by a session (or being locked or unlocked)",
                       "VBOX_E_INVALID_OBJECT_STATE", "MachineWrap", "IMachine",
                       '"LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), '
                       'progress.asOutParam())" at line 881 of file VBoxManageMisc.cpp')
        for c in m["controllers"]:
            for att in c["attachments"].values():
                med = state["media"].get(att["medium"])
                if med is None or not os.path.exists(med["location"]):
                    raise Fail(f"Could not open the medium '{med['location'] if med else att['medium']}'.",
                               "VBOX_E_FILE_ERROR", "MediumWrap", "IMedium",
                               '"LaunchVMProcess(...)" at line 881 of file VBoxManageMisc.cpp')
        restored = m["state"] == "saved"
        print(f'Waiting for VM "{m["name"]}" to power on...')
        m["state"], m["statechange"] = "running", now()
        if m["vrde"]["enabled"] == "on":
            m["vrde_active_port"] = vrde_port(state, m)
        uart = m["uarts"].get("1")
        if uart and uart.get("mode") == "file" and uart.get("path"):
            with open(uart["path"], "a") as f:
                f.write(f"VBoxManage simulator: {m['name']} {'restored' if restored else 'powered on'} "
                        f"({one(opts, '--type', 'gui')}); no guest runs here\n")
        m["guestprops"]["/VirtualBox/HostInfo/VBoxVer"] = VERSION.split("r")[0]
        print(f'VM "{m["name"]}" has been successfully started.')


def vrde_port(state: dict[str, Any], m: dict[str, Any]) -> int:
    """The first port of the machine's VRDE range that no other running machine holds, as VRDE binds one."""
    taken = {o.get("vrde_active_port") for o in state["machines"].values()
             if o is not m and o["state"] in ("running", "paused")}
    for part in m["vrde"]["ports"].split(","):
        low, _, high = part.partition("-")
        for port in range(int(low), int(high or low) + 1):
            if port not in taken:
                return port
    return -1


def power_down(m: dict[str, Any], state: str = "poweroff") -> None:
    m["state"], m["statechange"] = state, now()
    m.pop("vrde_active_port", None)
    m["guestprops"] = {}


def cmd_controlvm(args: list[str]) -> None:
    if len(args) < 2:
        raise syntax("Not enough parameters")
    action = args[1]
    known = ("poweroff", "acpipowerbutton", "pause", "resume", "savestate", "reset", "vrdeproperty")
    if action not in known:
        raise syntax(f"Invalid parameter '{action}'")
    with registry() as state:
        m = find_machine(state, args[0], "VBoxManageControlVM.cpp")
        s = m["state"]
        if s not in ("running", "paused"):
            raise Fail(f"Machine '{m['name']}' is not currently running")
        human = STATE_NAMES.get(s, s)

        def invalid(message: str, call: str) -> Fail:
            return Fail(message, "VBOX_E_INVALID_VM_STATE", "ConsoleWrap", "IConsole",
                        f'"{call}" at line 219 of file VBoxManageControlVM.cpp')

        if action == "poweroff":
            progress()
            power_down(m)
        elif action == "acpipowerbutton":
            if s != "running":
                raise invalid(f"Invalid machine state {human} (must be Running)", "PowerButton()")
            if m["acpi"] == "on" and not guest_ignores_acpi():
                power_down(m)  # the simulated guest shuts down at once
        elif action == "pause":
            if s != "running":
                raise invalid(f"Cannot pause the machine as it is not running (machine state: {human})", "Pause()")
            m["state"], m["statechange"] = "paused", now()
        elif action == "resume":
            if s != "paused":
                raise invalid(f"Cannot resume the machine as it is not paused (machine state: {human})", "Resume()")
            m["state"], m["statechange"] = "running", now()
        elif action == "savestate":
            progress()
            power_down(m, "saved")
        elif action == "reset":
            uart = m["uarts"].get("1")
            if uart and uart.get("mode") == "file" and uart.get("path"):
                with open(uart["path"], "a") as f:
                    f.write(f"VBoxManage simulator: {m['name']} reset\n")
            m["state"], m["statechange"] = "running", now()
        elif action == "vrdeproperty":
            if len(args) < 3 or "=" not in args[2]:
                raise syntax("Missing or invalid argument to 'vrdeproperty'")
            key, _, value = args[2].partition("=")
            m["vrde"]["properties"][key] = value
        save_settings(m)


def cmd_discardstate(args: list[str]) -> None:
    with registry() as state:
        m = find_machine(state, args[0] if args else "", "VBoxManageMisc.cpp")
        if m["state"] != "saved":
            raise Fail("Cannot delete the machine state as the machine is not in the saved state (machine state: "
                       f"{STATE_NAMES.get(m['state'], m['state'])})", "VBOX_E_INVALID_VM_STATE", "MachineWrap",
                       "IMachine", '"DiscardSavedState(true /* fDeleteFile */)" at line 1073 of file VBoxManageMisc.cpp')
        power_down(m)


def cmd_unregistervm(args: list[str]) -> None:
    if not args:
        raise syntax("Missing VM name or UUID")
    delete = "--delete" in args[1:]
    with registry() as state:
        m = find_machine(state, args[0], "VBoxManageMisc.cpp")
        if m["state"] in ("running", "paused"):
            raise Fail(f"Cannot unregister the machine '{m['name']}' while it is locked", "VBOX_E_INVALID_OBJECT_STATE",
                       "MachineWrap", "IMachine", '"Unregister(CleanupMode_DetachAllReturnHardDisksOnly, '
                       'ComSafeArrayAsOutParam(aMedia))" at line 161 of file VBoxManageMisc.cpp')
        del state["machines"][m["uuid"]]
        if delete:
            progress()
            attached = [a["medium"] for c in m["controllers"] for a in c["attachments"].values()]
            attached += [u for s in m["snapshots"] for u in s["media"].values()]
            for medium_uuid in attached:
                med = state["media"].get(medium_uuid)
                if med is None or med["type"] == "multiattach" or users_of(state, medium_uuid):
                    continue  # a shared base image stays
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(med["location"])
                del state["media"][medium_uuid]
            for name in (m["cfgfile"], m["cfgfile"] + "-prev"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)
            for sub in ("Snapshots", "Logs"):
                shutil.rmtree(os.path.join(m["folder"], sub), ignore_errors=True)
            with contextlib.suppress(OSError):  # VirtualBox keeps a folder holding files it did not make
                os.rmdir(m["folder"])


def cmd_clonemedium(args: list[str]) -> None:
    positional = [a for a in args if not a.startswith("-")]
    if positional and positional[0] in ("disk", "dvd", "floppy"):
        args = args[1:]
    if len(args) < 2:
        raise syntax("Mandatory input or output parameter missing")
    src, dst = args[0], args[1]
    opts = options(args[2:], flags={"--existing"})
    fmt = (one(opts, "--format", "VDI") or "VDI").upper()
    with registry() as state:
        med = open_medium(state, src)
        if med["uuid"] in write_locked_media(state):
            raise Fail(f"Medium '{med['location']}' is locked for writing by another task",
                       "VBOX_E_INVALID_OBJECT_STATE", "MediumWrap", "IMedium",
                       '"CloneTo(pDstMedium, ComSafeArrayAsInParam(l_variants), NULL, pProgress.asOutParam())" at '
                       'line 1187 of file VBoxManageDisk.cpp')
        target = os.path.abspath(dst)
        if os.path.exists(target) or find_medium(state, target, must_exist=False):
            raise Fail(f"Failed to create the medium '{target}': it already exists (VERR_ALREADY_EXISTS)",
                       "VBOX_E_FILE_ERROR", "MediumWrap", "IMedium",
                       '"CreateMedium(...)" at line 1150 of file VBoxManageDisk.cpp')
        payload = payload_of(med)
        progress()
        new_uuid = str(uuidlib.uuid4())
        if fmt == "VDI":
            write_vdi(target, med["capacity"], payload, new_uuid)
        elif fmt == "RAW":
            with open(target, "wb") as f:
                f.write(payload)
                f.truncate(med["capacity"])
        else:
            raise Fail(f"Cannot create the clone medium in format '{fmt}' (the simulator writes VDI and RAW)",
                       "VBOX_E_OBJECT_NOT_FOUND", "VirtualBoxWrap", "IVirtualBox", '"CreateMedium(...)"')
        if fmt == "VDI":
            register_medium(state, target, fmt, med["capacity"], medium_uuid=new_uuid)
        print(f"Clone medium created in format '{fmt}'. UUID: {new_uuid}")


def cmd_convertfromraw(args: list[str]) -> None:
    if len(args) < 2:
        raise syntax("Incorrect number of parameters")
    src, dst = args[0], args[1]
    opts = options(args[2:])
    fmt = (one(opts, "--format", "VDI") or "VDI").upper()
    source = os.path.abspath(src)
    target = os.path.abspath(dst)
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError as err:
        raise Fail(f"Cannot open file '{source}': {err.strerror}") from None
    print(f'Converting from raw image file="{source}" to file="{target}"...')
    if len(data) % 512:
        raise Fail(f"Cannot create the disk image \"{target}\": VERR_INVALID_PARAMETER")
    if fmt != "VDI":
        raise Fail(f"Cannot create the disk image \"{target}\": VERR_NOT_SUPPORTED (the simulator writes VDI)")
    if os.path.exists(target):
        raise Fail(f"Cannot create the disk image \"{target}\": VERR_ALREADY_EXISTS")
    print(f"Creating dynamic image with size {len(data)} bytes ({len(data) // MB}MB)...")
    write_vdi(target, len(data), data, one(opts, "--uuid") or str(uuidlib.uuid4()))


def cmd_modifymedium(args: list[str]) -> None:
    if args and args[0] in ("disk", "dvd", "floppy"):
        args = args[1:]
    if not args:
        raise syntax("Missing medium")
    opts = options(args[1:])
    with registry() as state:
        med = open_medium(state, args[0])
        if "--type" in opts:
            if users_of(state, med["uuid"]):
                raise Fail(f"Cannot change the type of medium '{med['location']}' because it is attached to "
                           "virtual machines", "VBOX_E_INVALID_OBJECT_STATE", "MediumWrap", "IMedium",
                           '"COMSETTER(Type)(enmMediumType)" at line 816 of file VBoxManageDisk.cpp')
            med["type"] = one(opts, "--type")
        if "--resize" in opts:
            if med["uuid"] in write_locked_media(state):
                raise Fail(f"Medium '{med['location']}' is locked for writing by another task",
                           "VBOX_E_INVALID_OBJECT_STATE", "MediumWrap", "IMedium",
                           '"Resize(cbNewSize, pProgress.asOutParam())" at line 840 of file VBoxManageDisk.cpp')
            size = int(one(opts, "--resize", "0") or 0) * MB
            if size < med["capacity"]:
                raise Fail(f"Shrinking is not yet supported for medium '{med['location']}'", "VBOX_E_NOT_SUPPORTED",
                           "MediumWrap", "IMedium", '"Resize(...)" at line 840 of file VBoxManageDisk.cpp')
            progress()
            write_vdi(med["location"], size, payload_of(med), med["uuid"], med["parent"])
            med["capacity"] = size


def cmd_closemedium(args: list[str]) -> None:
    if args and args[0] in ("disk", "dvd", "floppy"):
        args = args[1:]
    if not args:
        raise syntax("Missing medium")
    with registry() as state:
        med = find_medium(state, args[0], must_exist=False)
        if med is None:
            raise Fail(f"Could not find file for the medium '{os.path.abspath(args[0])}' (VERR_FILE_NOT_FOUND)",
                       "VBOX_E_FILE_ERROR", "MediumWrap", "IMedium", '"OpenMedium(...)" at line 201 of file '
                       'VBoxManageDisk.cpp')
        users = users_of(state, med["uuid"])
        if users:
            raise Fail(f"Medium '{med['location']}' cannot be closed because it is still attached to 1 virtual "
                       "machines", "VBOX_E_OBJECT_IN_USE", "MediumWrap", "IMedium",
                       '"Close()" at line 1836 of file VBoxManageDisk.cpp')
        del state["media"][med["uuid"]]
        if "--delete" in args[1:]:
            progress()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(med["location"])


def cmd_showmediuminfo(args: list[str]) -> None:
    if args and args[0] in ("disk", "dvd", "floppy"):
        args = args[1:]
    with registry() as state:
        med = open_medium(state, args[0] if args else "")
        print(medium_text(state, med))


def cmd_snapshot(args: list[str]) -> None:
    if len(args) < 2:
        raise syntax("Missing snapshot command")
    vm, action, rest = args[0], args[1], args[2:]
    with registry() as state:
        m = find_machine(state, vm, "VBoxManageSnapshot.cpp")
        if action == "take":
            if not rest:
                raise syntax("Missing snapshot name")
            name = rest[0]
            snap = {"name": name, "uuid": str(uuidlib.uuid4()), "media": {}}
            for c in m["controllers"]:
                for key, att in c["attachments"].items():
                    if att["type"] != "hdd":
                        continue
                    base = state["media"][att["medium"]]
                    diff_uuid = str(uuidlib.uuid4())
                    path = os.path.join(m["folder"], "Snapshots", f"{{{diff_uuid}}}.vdi")
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    write_vdi(path, base["capacity"], payload_of(base), diff_uuid, base["uuid"])
                    register_medium(state, path, "VDI", base["capacity"], base["uuid"], diff_uuid)
                    snap["media"][f"{c['name']}-{key}"] = base["uuid"]
                    att["medium"] = diff_uuid
            progress()
            m["snapshots"].append(snap)
            save_settings(m)
            print(f"Snapshot taken. UUID: {snap['uuid']}")
        elif action == "delete":
            if not rest:
                raise syntax("Missing snapshot name")
            snap = next((s for s in m["snapshots"] if rest[0] in (s["name"], s["uuid"])), None)
            if snap is None:
                raise Fail(f"Could not find a snapshot named '{rest[0]}'", "VBOX_E_OBJECT_NOT_FOUND", "MachineWrap",
                           "IMachine", '"FindSnapshot(Bstr(a->argv[2]).raw(), pSnapshot.asOutParam())" at line 766 '
                           'of file VBoxManageSnapshot.cpp')
            progress()
            for c in m["controllers"]:  # merge each differencing image back into its parent
                for key, att in c["attachments"].items():
                    parent_uuid = snap["media"].get(f"{c['name']}-{key}")
                    diff = state["media"].get(att["medium"])
                    if parent_uuid is None or diff is None or diff["parent"] != parent_uuid:
                        continue
                    parent = state["media"][parent_uuid]
                    write_vdi(parent["location"], diff["capacity"], payload_of(diff), parent["uuid"], parent["parent"])
                    parent["capacity"] = diff["capacity"]
                    os.unlink(diff["location"])
                    del state["media"][diff["uuid"]]
                    att["medium"] = parent_uuid
            m["snapshots"].remove(snap)
            save_settings(m)
        else:
            raise syntax(f"Invalid parameter '{action}' (the simulator knows take and delete)")


def cmd_guestproperty(args: list[str]) -> None:
    if len(args) < 2:
        raise syntax("Incorrect parameters")
    action, vm, rest = args[0], args[1], args[2:]
    with registry() as state:
        m = find_machine(state, vm, "VBoxManageGuestProp.cpp")
        props = m["guestprops"]
        if action == "get":
            if not rest:
                raise syntax("Incorrect parameters")
            value = props.get(rest[0])
            print(f"Value: {value}" if value is not None else "No value set!")
        elif action == "set":
            if not rest:
                raise syntax("Incorrect parameters")
            if len(rest) > 1:
                props[rest[0]] = rest[1]
            else:
                props.pop(rest[0], None)
        elif action == "enumerate":
            for key, value in sorted(props.items()):
                print(f"Name: {key}, value: {value}, timestamp: 0, flags: ")
        else:
            raise syntax(f"Unknown subcommand '{action}'")


COMMANDS = {
    "--version": cmd_version, "-v": cmd_version, "list": cmd_list, "showvminfo": cmd_showvminfo,
    "createvm": cmd_createvm, "modifyvm": cmd_modifyvm, "storagectl": cmd_storagectl,
    "storageattach": cmd_storageattach, "startvm": cmd_startvm, "controlvm": cmd_controlvm,
    "discardstate": cmd_discardstate, "unregistervm": cmd_unregistervm, "clonemedium": cmd_clonemedium,
    "clonehd": cmd_clonemedium, "convertfromraw": cmd_convertfromraw, "convertdd": cmd_convertfromraw,
    "modifymedium": cmd_modifymedium, "modifyhd": cmd_modifymedium, "closemedium": cmd_closemedium,
    "showmediuminfo": cmd_showmediuminfo, "showhdinfo": cmd_showmediuminfo, "snapshot": cmd_snapshot,
    "guestproperty": cmd_guestproperty,
}


def main(argv: list[str]) -> int:
    args = [a for a in argv if a not in ("-q", "--nologo")]
    if not args:
        sys.stderr.write(f"{PROG}: error: missing command\n")
        return 2
    command = COMMANDS.get(args[0])
    try:
        if command is None:
            raise syntax(f"Unknown command '{args[0]}'")
        if args[0] not in ("--version", "-v"):
            inject_faults(args)
        command(args[1:])
    except Fail as err:
        sys.stdout.flush()
        sys.stderr.write(err.render())
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
