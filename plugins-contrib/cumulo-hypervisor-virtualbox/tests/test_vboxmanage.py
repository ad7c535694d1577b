"""Reading VBoxManage: its error messages and output formats, as real VirtualBox prints them."""

from __future__ import annotations

import pytest
from cumulo_hypervisor_virtualbox import machine, output
from cumulo_hypervisor_virtualbox.vboxmanage import parse_error

from cumulo.interfaces.hypervisor import PowerState

# stderr of real VirtualBox installations, as users reported them
NOT_FOUND = """VBoxManage: error: Could not find a registered machine named 'al2023'
VBoxManage: error: Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, interface IVirtualBox, callee nsISupports
VBoxManage: error: Context: "FindMachine(Bstr(VMName).raw(), machine.asOutParam())" at line 228 of file VBoxManageMisc.cpp
"""
LOCKED = """VBoxManage.exe: error: The machine 'scriptbox' is already locked by a session (or being locked or unlocked)
VBoxManage.exe: error: Details: code VBOX_E_INVALID_OBJECT_STATE (0x80bb0007), component MachineWrap, interface IMachine, callee IUnknown
VBoxManage.exe: error: Context: "LaunchVMProcess(a->session, sessionType.raw(), ComSafeArrayAsInParam(aBstrEnv), progress.asOutParam())" at line 881 of file VBoxManageMisc.cpp
"""
CONVERT = """Converting from raw image file="big.vmdk" to file="out.vdi"...
Creating fixed image with size 1825370588160 bytes (1740810MB)...
VBoxManage: error: Cannot create the disk image "out.vdi": VERR_VD_INVALID_TYPE
"""


def test_not_found() -> None:
    report = parse_error(NOT_FOUND)
    assert report.message == "Could not find a registered machine named 'al2023'"
    assert (report.code, report.component, report.interface) == ("VBOX_E_OBJECT_NOT_FOUND", "VirtualBoxWrap",
                                                                 "IVirtualBox")


def test_locked_session_on_windows() -> None:
    report = parse_error(LOCKED)
    assert report.code == "VBOX_E_INVALID_OBJECT_STATE"
    assert report.message.startswith("The machine 'scriptbox' is already locked by a session")


def test_an_error_without_details() -> None:
    report = parse_error(CONVERT)
    assert report.message == 'Cannot create the disk image "out.vdi": VERR_VD_INVALID_TYPE' and report.code is None


def test_no_error_lines_at_all() -> None:
    assert parse_error("0%...10%...\nsomething broke\n").message == "something broke"
    assert parse_error("").message == "(no message)"


MACHINE = r'''name="web \"one\""
groups="/cumulo/node-1,/other"
UUID="5BC88AA7-3372-4122-9d67-52b62310fdc4"
CfgFile="/vms/web/web.vbox"
memory=8192
cpus=6
VMState="saved"
"SATA-0-0"="/vms/web/disk.vdi"
"SATA-ImageUUID-0-0"="9d8a6b7b-118a-4657-9d69-656ab6f3967f"
vrde="on"
vrdeport=5003
vrdeaddress="10.0.0.1"
SnapshotName="base"
SnapshotName-1="later"
'''


def test_machinereadable() -> None:
    values = output.machinereadable(MACHINE)
    assert values["name"] == 'web "one"' and values["SATA-0-0"] == "/vms/web/disk.vdi" and values["memory"] == "8192"
    info = machine.machine_info(values)
    assert (info.uuid, info.folder, info.root_disk, info.vrde_port) == (
        "5bc88aa7-3372-4122-9d67-52b62310fdc4", "/vms/web", "/vms/web/disk.vdi", 5003)
    assert info.owner() == "node-1" and info.snapshots == ("base", "later")
    assert info.power_state == PowerState.SUSPENDED and not info.live


@pytest.mark.parametrize(("state", "power"), [("running", PowerState.RUNNING), ("paused", PowerState.PAUSED),
                                              ("poweroff", PowerState.SHUTDOWN), ("aborted", PowerState.CRASHED),
                                              ("starting", PowerState.NOSTATE)])
def test_power_states(state: str, power: PowerState) -> None:
    assert machine.machine_info({"VMState": state}).power_state == power


def test_a_machine_outside_cumulo_has_no_owner() -> None:
    assert machine.machine_info(output.machinereadable('groups="/"\nvrdeport=-1')).owner() is None


def test_list_vms() -> None:
    text = '"Sailfish OS Build Engine" {5bc88aa7-3372-4122-9d67-52b62310fdc4}\n"<inaccessible>" {0f0a}\n'
    assert output.machine_list(text) == [("Sailfish OS Build Engine", "5bc88aa7-3372-4122-9d67-52b62310fdc4")]


def test_version_and_sizes() -> None:
    assert output.version_number("7.0.14r161095\n") == 7_000_014
    assert output.version_number("6.1.50_Debianr161033") == 6_001_050
    with pytest.raises(ValueError):
        output.version_number("Oracle VM VirtualBox")
    assert output.megabytes("24000 MByte") == 24000 and output.megabytes("unknown") == 0


def test_mac_and_nics() -> None:
    assert machine.mac("fa:16:3e:0a:0b:0c") == "FA163E0A0B0C"
    with pytest.raises(Exception, match="not a MAC address"):
        machine.mac("fa:16:3e")
