"""The VBoxManage simulator answers as VirtualBox does: formats, messages, exit codes, locked sessions."""

from __future__ import annotations

from typing import Any

Sim = Any  # conftest.Sim

ERROR = "VBoxManage: error: "


def created(sim: Sim, name: str = "vm1") -> str:
    out = sim("createvm", "--name", name, "--basefolder", str(sim.machines), "--register").stdout
    assert out.startswith(f"Virtual machine '{name}' is created and registered.\nUUID: ")
    return str(out.split("UUID: ")[1].split()[0])


def test_list_and_showvminfo(sim: Sim) -> None:
    uuid = created(sim)
    assert sim("list", "vms").stdout == f'"vm1" {{{uuid}}}\n'
    lines = sim("showvminfo", "vm1", "--machinereadable").stdout.splitlines()
    assert 'VMState="poweroff"' in lines and f'UUID="{uuid}"' in lines and "memory=128" in lines
    assert sim("list", "runningvms").stdout == ""


def test_an_unknown_machine(sim: Sim) -> None:
    proc = sim("showvminfo", "ghost", "--machinereadable", check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert lines[0] == f"{ERROR}Could not find a registered machine named 'ghost'"
    assert lines[1] == (f"{ERROR}Details: code VBOX_E_OBJECT_NOT_FOUND (0x80bb0001), component VirtualBoxWrap, "
                        "interface IVirtualBox, callee nsISupports")
    assert lines[2].startswith(f"{ERROR}Context: ")


def test_syntax_errors_exit_2(sim: Sim) -> None:
    assert sim("frobnicate", check=False).returncode == 2
    created(sim)
    assert sim("modifyvm", "vm1", "--warp-drive", "on", check=False).returncode == 2


def test_sessions_lock_a_running_machine(sim: Sim) -> None:
    created(sim)
    sim("startvm", "vm1", "--type", "headless")
    modify = sim("modifyvm", "vm1", "--memory", "256", check=False)
    assert modify.returncode == 1 and "is already locked for a session (or being unlocked)" in modify.stderr
    assert "VBOX_E_INVALID_OBJECT_STATE (0x80bb0007)" in modify.stderr
    start = sim("startvm", "vm1", check=False)
    assert "is already locked by a session (or being locked or unlocked)" in start.stderr
    assert "while it is locked" in sim("unregistervm", "vm1", "--delete", check=False).stderr


def test_machine_states(sim: Sim) -> None:
    created(sim)
    proc = sim("controlvm", "vm1", "pause", check=False)
    assert (proc.returncode, proc.stderr) == (1, f"{ERROR}Machine 'vm1' is not currently running\n")
    sim("startvm", "vm1", "--type", "headless")
    sim("controlvm", "vm1", "pause")
    again = sim("controlvm", "vm1", "pause", check=False)
    assert "VBOX_E_INVALID_VM_STATE (0x80bb0002)" in again.stderr and "machine state: Paused" in again.stderr
    sim("controlvm", "vm1", "savestate")
    assert 'VMState="saved"' in sim("showvminfo", "vm1", "--machinereadable").stdout


def test_media_and_faults(sim: Sim, tmp_path: Any) -> None:
    raw = tmp_path / "disk.raw"
    raw.write_bytes(b"\0" * 1024)
    out = sim("convertfromraw", str(raw), str(tmp_path / "disk.vdi"), "--format", "VDI").stdout
    assert out.startswith(f'Converting from raw image file="{raw}" to file="{tmp_path / "disk.vdi"}"...')
    assert "Creating dynamic image with size 1024 bytes (0MB)..." in out
    odd = tmp_path / "odd.raw"
    odd.write_bytes(b"\0" * 1000)
    assert sim("convertfromraw", str(odd), str(tmp_path / "odd.vdi"), check=False).returncode == 1
    assert "VERR_NOT_SUPPORTED" in sim("clonemedium", "disk", str(raw), str(tmp_path / "x.vdi"), check=False).stderr
    clone = sim("clonemedium", "disk", str(tmp_path / "disk.vdi"), str(tmp_path / "copy.vdi"), "--format", "VDI")
    assert clone.stdout.startswith("Clone medium created in format 'VDI'. UUID: ") and "100%" in clone.stderr
    sim.fail("closemedium", times=1, code="VBOX_E_FILE_ERROR", message="Simulated")
    assert "VBOX_E_FILE_ERROR (0x80bb0004)" in sim("closemedium", "disk", str(tmp_path / "copy.vdi"),
                                                   check=False).stderr
    sim("closemedium", "disk", str(tmp_path / "copy.vdi"), "--delete")
    assert not (tmp_path / "copy.vdi").exists()
