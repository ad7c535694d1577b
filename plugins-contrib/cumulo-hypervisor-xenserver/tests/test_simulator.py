"""The simulator keeps XAPI's documented semantics, checked through the XenAPI package as any client would."""

from __future__ import annotations

import http.client
import struct
import time
import urllib.parse
import xmlrpc.client
from collections.abc import Iterator
from typing import Any

import pytest
import XenAPI
from xapisim import NULL, XapiSimulator, vhd

MiB = 1024 * 1024


@pytest.fixture
def session(sim: XapiSimulator) -> Iterator[Any]:
    s = XenAPI.Session(sim.url)
    s.login_with_password("root", "xenroot", "1.2", "test")
    yield s
    s.xenapi.session.logout()


def failure(call: Any, *args: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(XenAPI.Failure) as caught:
        call(*args, **kwargs)
    return list(caught.value.details)


def new_vm(x: Any, **fields: Any) -> str:
    record = {"name_label": "t", "name_description": "", "user_version": "1", "is_a_template": False,
              "affinity": NULL, "memory_static_max": str(256 * MiB), "memory_dynamic_max": str(256 * MiB),
              "memory_dynamic_min": str(256 * MiB), "memory_static_min": str(256 * MiB), "VCPUs_params": {},
              "VCPUs_max": "1", "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy",
              "actions_after_reboot": "restart", "actions_after_crash": "destroy", "PV_bootloader": "",
              "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "",
              "HVM_boot_policy": "BIOS order", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "",
              "other_config": {}, "recommendations": ""}
    record.update(fields)
    return str(x.VM.create(record))


def new_vdi(x: Any, size: int = MiB) -> str:
    sr = x.pool.get_default_SR(x.pool.get_all()[0])
    return str(x.VDI.create({"name_label": "d", "name_description": "", "SR": sr, "virtual_size": str(size),
                             "type": "user", "sharable": False, "read_only": False, "other_config": {}}))


def test_login_failure_and_invalid_sessions(sim: XapiSimulator) -> None:
    s = XenAPI.Session(sim.url)
    assert failure(s.login_with_password, "root", "nope", "1.2", "t")[0] == "SESSION_AUTHENTICATION_FAILED"
    envelope = xmlrpc.client.ServerProxy(sim.url).VM.get_all("OpaqueRef:bogus")
    assert envelope == {"Status": "Failure", "ErrorDescription": ["SESSION_INVALID", "OpaqueRef:bogus"]}


def test_references_and_generic_errors(session: Any) -> None:
    x = session.xenapi
    refs = x.VM.get_all()
    assert refs and all(r.startswith("OpaqueRef:") for r in refs)
    assert failure(x.VM.get_record, "OpaqueRef:0000") == ["HANDLE_INVALID", "VM", "OpaqueRef:0000"]
    assert failure(x.VM.get_by_uuid, "nope") == ["UUID_INVALID", "VM", "nope"]
    assert failure(x.VM.frobnicate, refs[0]) == ["MESSAGE_METHOD_UNKNOWN", "VM.frobnicate"]
    assert failure(x.VM.start, refs[0])[:2] == ["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start"]
    assert failure(new_vm, x, VCPUs_max=1) == ["FIELD_TYPE_ERROR", "VCPUs_max"]  # int64 travels as a string
    assert failure(new_vm, x, memory_dynamic_max=str(512 * MiB))[0] == "MEMORY_CONSTRAINT_VIOLATION"
    vm = new_vm(x)
    x.VM.add_to_other_config(vm, "k", "v")
    assert failure(x.VM.add_to_other_config, vm, "k", "w")[0] == "MAP_DUPLICATE_KEY"


def test_power_states(session: Any) -> None:
    x = session.xenapi
    vm = new_vm(x)
    assert failure(x.VM.clean_shutdown, vm) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    x.VM.start(vm, False, False)
    assert x.VM.get_power_state(vm) == "Running" and x.VM.get_domid(vm) != "-1"
    assert failure(x.VM.start, vm, False, False) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    assert failure(x.VM.destroy, vm) == ["VM_BAD_POWER_STATE", vm, "halted", "running"]
    x.VM.pause(vm)
    assert failure(x.VM.suspend, vm) == ["VM_BAD_POWER_STATE", vm, "running", "paused"]
    x.VM.hard_shutdown(vm)
    assert x.VM.get_power_state(vm) == "Halted" and x.VM.get_domid(vm) == "-1"


def test_devices_and_what_destroy_takes(session: Any) -> None:
    x = session.xenapi
    vm, vdi = new_vm(x), new_vdi(x)
    vbd_record = {"VM": vm, "VDI": vdi, "userdevice": "0", "bootable": True, "mode": "RW", "type": "Disk",
                  "empty": False, "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}}
    vbd = x.VBD.create(vbd_record)
    assert failure(x.VBD.create, vbd_record) == ["DEVICE_ALREADY_EXISTS", "0"]
    assert failure(x.VBD.plug, vbd) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    x.VM.start(vm, False, False)
    assert x.VBD.get_currently_attached(vbd) is True
    assert failure(x.VDI.destroy, vdi) == ["VDI_IN_USE", vdi, "destroy"]
    assert failure(x.VBD.plug, vbd) == ["DEVICE_ALREADY_ATTACHED", vbd]
    x.VM.hard_shutdown(vm)
    x.VM.destroy(vm)  # takes its VBDs, not its VDIs
    assert failure(x.VBD.get_record, vbd)[0] == "HANDLE_INVALID"
    assert x.VDI.get_VBDs(vdi) == []
    x.VDI.destroy(vdi)


def test_async_calls_are_tasks(session: Any) -> None:
    x = session.xenapi
    vm = new_vm(x)
    task = x.Async.VM.snapshot(vm, "snap")
    deadline = time.monotonic() + 5
    while x.task.get_status(task) == "pending" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert x.task.get_status(task) == "success"
    result = x.task.get_result(task)
    assert result.startswith("<value>OpaqueRef:") and result.endswith("</value>")
    failed = x.Async.VM.clean_shutdown(vm)
    while x.task.get_status(failed) == "pending":
        time.sleep(0.01)
    assert x.task.get_status(failed) == "failure"
    assert x.task.get_error_info(failed) == ["VM_BAD_POWER_STATE", vm, "running", "halted"]
    x.task.destroy(task)


def test_event_from(session: Any) -> None:
    x = session.xenapi
    first = getattr(x.event, "from")(["vm"], "", 0.0)
    assert {e["class"] for e in first["events"]} == {"vm"}
    vm = new_vm(x)
    later = getattr(x.event, "from")(["vm"], first["token"], 5.0)
    assert [(e["operation"], e["ref"]) for e in later["events"]] == [("add", vm)]
    started = time.monotonic()
    quiet = getattr(x.event, "from")(["vm"], later["token"], 0.3)
    assert quiet["events"] == [] and time.monotonic() - started >= 0.25


def _http(sim: XapiSimulator, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    conn.request(method, path, body=body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_import_and_export_handlers(sim: XapiSimulator, session: Any) -> None:
    x = session.xenapi
    vdi = new_vdi(x, 2 * MiB)
    query = urllib.parse.urlencode({"session_id": session.handle, "vdi": vdi, "format": "raw"})
    bad = urllib.parse.urlencode({"session_id": "OpaqueRef:x", "vdi": vdi, "format": "raw"})
    assert _http(sim, "PUT", "/import_raw_vdi?" + bad, b"x")[0] == 403
    assert _http(sim, "PUT", "/import_raw_vdi?" + query, b"\1" * (3 * MiB))[0] == 500  # larger than the VDI
    assert _http(sim, "PUT", "/import_raw_vdi?" + query, b"hello")[0] == 200
    status, data = _http(sim, "GET", "/export_raw_vdi?" + query)
    assert status == 200 and len(data) == 2 * MiB and data.startswith(b"hello") and not any(data[5:])
    task = x.task.create("t", "")
    vhd_query = urllib.parse.urlencode({"session_id": session.handle, "vdi": vdi, "format": "vhd", "task_id": task})
    assert _http(sim, "PUT", "/import_raw_vdi?" + vhd_query, b"not a vhd" * 100)[0] == 500
    assert x.task.get_status(task) == "failure" and x.task.get_error_info(task)[0] == "VDI_IO_ERROR"


def _dynamic_vhd(data: bytes, block_size: int = 2 * MiB) -> bytes:
    """A dynamic VHD holding ``data`` in its first block (footer copy, header, BAT, bitmap + block, footer)."""
    footer = bytearray(vhd.fixed_footer(block_size))
    footer[16:24] = struct.pack(">Q", 512)
    footer[60:64] = struct.pack(">I", vhd.DYNAMIC)
    header = bytearray(1024)
    header[:8] = vhd.SPARSE_COOKIE
    header[16:24] = struct.pack(">Q", 1536)
    header[28:36] = struct.pack(">II", 1, block_size)
    bat = struct.pack(">I", 4).ljust(512, b"\xff")  # block 0 at sector 4
    bitmap = b"\xff" * 512
    return bytes(footer) + bytes(header) + bat + bitmap + data.ljust(block_size, b"\0") + bytes(footer)


def test_a_dynamic_vhd_imports(sim: XapiSimulator, session: Any) -> None:
    vdi = new_vdi(session.xenapi, 2 * MiB)
    query = urllib.parse.urlencode({"session_id": session.handle, "vdi": vdi, "format": "vhd"})
    assert _http(sim, "PUT", "/import_raw_vdi?" + query, _dynamic_vhd(b"dynamic"))[0] == 200
    raw = urllib.parse.urlencode({"session_id": session.handle, "vdi": vdi, "format": "raw"})
    assert _http(sim, "GET", "/export_raw_vdi?" + raw)[1].startswith(b"dynamic")
