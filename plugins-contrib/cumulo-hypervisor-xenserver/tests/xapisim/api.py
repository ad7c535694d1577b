"""The XAPI calls the simulator answers, with XAPI's semantics (XenAPI reference, xen-api's datamodel).

A call ``VM.start`` is the method ``VM__start(session, vm, start_paused, force)``;
every class also answers the generated accessors XAPI has for each field
(``get_all``, ``get_all_records``, ``get_record``, ``get_by_uuid``,
``get_by_name_label``, ``get_<field>``, and for writable fields
``set_<field>``, ``add_to_<map>``, ``remove_from_<map>``). Errors are XAPI's:
HANDLE_INVALID for an unknown reference, VM_BAD_POWER_STATE with the expected
and actual state in lower case, MESSAGE_PARAMETER_COUNT_MISMATCH,
MESSAGE_METHOD_UNKNOWN, SESSION_INVALID, FIELD_TYPE_ERROR for an int64 that is
not a string...
"""

from __future__ import annotations

import base64
import copy
import inspect
import os
import uuid as uuidlib
import zlib
from typing import Any

from .state import NULL, Database, Failure, GiB, now

#: Fields each class's record must carry in ``<class>.create`` (the XenAPI reference's "required" fields).
CREATE_FIELDS = {
    "VM": ("name_label", "name_description", "user_version", "is_a_template", "affinity", "memory_static_max",
           "memory_dynamic_max", "memory_dynamic_min", "memory_static_min", "VCPUs_params", "VCPUs_max",
           "VCPUs_at_startup", "actions_after_shutdown", "actions_after_reboot", "actions_after_crash",
           "PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args", "PV_bootloader_args", "PV_legacy_args",
           "HVM_boot_policy", "HVM_boot_params", "platform", "PCI_bus", "other_config", "recommendations"),
    "VDI": ("name_label", "name_description", "SR", "virtual_size", "type", "sharable", "read_only",
            "other_config"),
    "VBD": ("VM", "VDI", "userdevice", "bootable", "mode", "type", "empty", "other_config",
            "qos_algorithm_type", "qos_algorithm_params"),
    "VIF": ("device", "network", "VM", "MAC", "MTU", "other_config", "qos_algorithm_type", "qos_algorithm_params"),
    "PBD": ("host", "SR", "device_config", "other_config"),
}
#: int64 fields: XAPI marshals them as strings.
INT_FIELDS = {"memory_static_max", "memory_dynamic_max", "memory_dynamic_min", "memory_static_min", "VCPUs_max",
              "VCPUs_at_startup", "virtual_size", "MTU"}
#: Fields with generated setters (the subset of XAPI's read-write fields the simulator lets change).
WRITABLE = {"name_label", "name_description", "other_config", "xenstore_data", "sm_config", "tags", "bootable",
            "mode", "userdevice", "PV_args", "HVM_boot_params", "platform", "actions_after_shutdown"}
#: XAPI's power_state values and the lower-case spelling VM_BAD_POWER_STATE uses.
HALTED, RUNNING, PAUSED, SUSPENDED = "Halted", "Running", "Paused", "Suspended"

DOM0_MEMORY = 1 * GiB


def _int(field: str, value: Any) -> int:
    if not isinstance(value, str):
        raise Failure("FIELD_TYPE_ERROR", field)
    try:
        return int(value)
    except ValueError:
        raise Failure("FIELD_TYPE_ERROR", field) from None


class Api:
    """The methods. ``db`` is shared with the HTTP handlers; ``host`` is the only host (the pool master)."""

    def __init__(self, db: Database, username: str, password: str, host_name: str, address: str) -> None:
        self.db, self.username, self.password = db, username, password
        self.address = address
        self.sessions: set[str] = set()
        self.domid = 0
        self.console_logs: dict[str, str] = {}  # domid -> console text
        #: A test sets this to make the guest ignore clean shutdown requests (no PV drivers, a hung guest).
        self.guest_ignores_shutdown = False
        self._populate(host_name)

    # -- the initial pool ---------------------------------------------------------------------------
    def _populate(self, host_name: str) -> None:
        db = self.db
        self.metrics = db.create("host_metrics", {"memory_total": str(16 * GiB), "memory_free": str(15 * GiB),
                                                  "live": True, "last_updated": now(), "other_config": {}})
        self.host = db.create("host", {
            "name_label": host_name, "name_description": "simulated XenServer host", "hostname": host_name,
            "address": self.address, "enabled": True, "API_version_major": "2", "API_version_minor": "21",
            "API_version_vendor": "XenSource", "software_version": {
                "product_brand": "XenServer", "product_version": "8.2.1", "platform_version": "3.2.1",
                "xen": "4.13.5", "xapi": "1.249"},
            "cpu_info": {"cpu_count": "8", "socket_count": "1", "vendor": "GenuineIntel",
                         "modelname": "Intel(R) Xeon(R) CPU E5-2650 v4 @ 2.20GHz", "speed": "2194.916",
                         "family": "6", "model": "79", "stepping": "1", "flags": "fpu vme de pse tsc msr pae"},
            "capabilities": ["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_32p", "hvm-3.0-x86_64"],
            "metrics": self.metrics, "resident_VMs": [], "PBDs": [], "other_config": {}})
        self.dom0 = db.create("VM", self._vm_defaults({
            "name_label": f"Control domain on host: {host_name}", "is_control_domain": True,
            "power_state": RUNNING, "domid": "0", "memory_static_max": str(DOM0_MEMORY),
            "memory_dynamic_max": str(DOM0_MEMORY), "VCPUs_max": "8", "VCPUs_at_startup": "8",
            "resident_on": self.host}))
        db.create("VM", self._vm_defaults({"name_label": "Other install media", "is_a_template": True}))
        self.local_sr = db.create("SR", self._sr("Local storage", "ext", "user", 100 * GiB))
        db.create("SR", self._sr("XenServer Tools", "iso", "iso", 0))
        self.pool = db.create("pool", {"name_label": "", "name_description": "", "master": self.host,
                                       "default_SR": self.local_sr, "suspend_image_SR": self.local_sr,
                                       "crash_dump_SR": self.local_sr, "other_config": {}})
        db.create("network", {"name_label": "Pool-wide network associated with eth0", "name_description": "",
                              "bridge": "xenbr0", "MTU": "1500", "VIFs": [], "PIFs": [], "other_config": {}})
        db.create("network", {"name_label": "Host internal management network", "name_description": "",
                              "bridge": "xenapi", "MTU": "1500", "VIFs": [], "PIFs": [],
                              "other_config": {"is_guest_installer_network": "true", "is_host_internal_management_network": "true"}})

    def _sr(self, name: str, type_: str, content: str, size: int) -> dict[str, Any]:
        return {"name_label": name, "name_description": "", "type": type_, "content_type": content,
                "physical_size": str(size), "physical_utilisation": "0", "virtual_allocation": "0",
                "shared": False, "VDIs": [], "PBDs": [], "other_config": {}, "sm_config": {}}

    def _vm_defaults(self, fields: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = {
            "name_label": "", "name_description": "", "user_version": "1", "is_a_template": False,
            "is_a_snapshot": False, "snapshot_of": NULL, "snapshots": [], "is_control_domain": False,
            "power_state": HALTED, "domid": "-1", "resident_on": NULL, "affinity": NULL,
            "memory_static_max": str(256 * 1024 * 1024), "memory_dynamic_max": str(256 * 1024 * 1024),
            "memory_dynamic_min": str(256 * 1024 * 1024), "memory_static_min": str(256 * 1024 * 1024),
            "VCPUs_params": {}, "VCPUs_max": "1", "VCPUs_at_startup": "1", "actions_after_shutdown": "destroy",
            "actions_after_reboot": "restart", "actions_after_crash": "restart", "PV_bootloader": "",
            "PV_kernel": "", "PV_ramdisk": "", "PV_args": "", "PV_bootloader_args": "", "PV_legacy_args": "",
            "HVM_boot_policy": "", "HVM_boot_params": {}, "platform": {}, "PCI_bus": "", "other_config": {},
            "recommendations": "", "VBDs": [], "VIFs": [], "consoles": [], "suspend_VDI": NULL,
            "xenstore_data": {}, "tags": [], "blocked_operations": {}}
        record.update(fields)
        return record

    # -- dispatch -------------------------------------------------------------------------------------
    def dispatch(self, method: str, params: tuple[Any, ...]) -> Any:
        """Run ``method`` (already stripped of ``Async.``); raise :class:`Failure` for XAPI errors."""
        if method == "session.login_with_password":
            return self._call(self.session__login_with_password, method, params)
        if not params or params[0] not in self.sessions:
            raise Failure("SESSION_INVALID", params[0] if params else "")
        cls, _, op = method.partition(".")
        handler = getattr(self, f"{cls}__{op}", None)
        if handler is not None:
            return self._call(handler, method, params)
        return self._generated(cls, op, method, params[1:])

    def _call(self, handler: Any, method: str, params: tuple[Any, ...]) -> Any:
        expected = len(inspect.signature(handler).parameters)
        if len(params) != expected:
            raise Failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, expected, len(params))
        self.db.check_fault(method)
        with self.db.lock:
            return handler(*params)

    def _generated(self, cls: str, op: str, method: str, args: tuple[Any, ...]) -> Any:
        db = self.db
        if cls not in db.objects:
            raise Failure("MESSAGE_METHOD_UNKNOWN", method)

        def count(n: int) -> None:
            if len(args) != n:
                raise Failure("MESSAGE_PARAMETER_COUNT_MISMATCH", method, n + 1, len(args) + 1)

        with db.lock:
            table = db.table(cls)
            if op == "get_all":
                count(0)
                return [r for r, rec in table.items() if not rec.get("_hidden")]
            if op == "get_all_records":
                count(0)
                return {r: self._public(rec) for r, rec in table.items() if not rec.get("_hidden")}
            if op == "get_record":
                count(1)
                return self._public(db.get(cls, args[0]))
            if op == "get_by_uuid":
                count(1)
                for ref, rec in table.items():
                    if rec["uuid"] == args[0]:
                        return ref
                raise Failure("UUID_INVALID", cls, args[0])
            if op == "get_by_name_label":
                count(1)
                return [r for r, rec in table.items() if rec.get("name_label") == args[0]]
            for prefix in ("get_", "set_", "add_to_", "remove_from_"):
                if op.startswith(prefix):
                    field = op[len(prefix):]
                    break
            else:
                raise Failure("MESSAGE_METHOD_UNKNOWN", method)
            sample = next(iter(table.values()), None)
            if sample is not None and field not in sample:
                raise Failure("MESSAGE_METHOD_UNKNOWN", method)
            if prefix == "get_":
                count(1)
                return copy.deepcopy(db.get(cls, args[0])[field])
            if field not in WRITABLE:
                raise Failure("MESSAGE_METHOD_UNKNOWN", method)
            db.check_fault(method)
            record = db.get(cls, args[0])
            if prefix == "set_":
                count(2)
                db.update(cls, args[0], **{field: args[1]})
            elif prefix == "add_to_":
                count(3)
                if args[1] in record[field]:
                    raise Failure("MAP_DUPLICATE_KEY", cls, field, args[0], args[1])
                db.update(cls, args[0], **{field: {**record[field], args[1]: args[2]}})
            else:
                count(2)
                db.update(cls, args[0], **{field: {k: v for k, v in record[field].items() if k != args[1]}})
            return ""

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}

    def _check_record(self, cls: str, record: Any) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise Failure("FIELD_TYPE_ERROR", "args")
        for field in CREATE_FIELDS[cls]:
            if field not in record:
                raise Failure("FIELD_TYPE_ERROR", field)
        for field in INT_FIELDS & set(record):
            _int(field, record[field])
        return dict(record)

    # -- session, pool, host ----------------------------------------------------------------------------
    def session__login_with_password(self, uname: str, pwd: str, version: str, originator: str) -> str:
        if (uname, pwd) != (self.username, self.password):
            raise Failure("SESSION_AUTHENTICATION_FAILED", uname, "Authentication failure")
        ref = self.db.create("session", {"this_host": self.host, "originator": originator, "last_active": now()})
        self.sessions.add(ref)
        return ref

    def session__logout(self, s: str) -> str:
        self.sessions.discard(s)
        if self.db.exists("session", s):
            self.db.destroy("session", s)
        return ""

    def session__get_this_host(self, s: str, session: str) -> str:
        return str(self.db.get("session", session)["this_host"])

    def host__compute_free_memory(self, s: str, host: str) -> str:
        self.db.get("host", host)
        return str(self._free_memory())

    def _free_memory(self) -> int:
        used = sum(int(vm["memory_dynamic_max"]) for vm in self.db.table("VM").values()
                   if vm["power_state"] in (RUNNING, PAUSED))
        return 16 * GiB - used

    def _refresh_host(self) -> None:
        running = [r for r, vm in self.db.table("VM").items() if vm["power_state"] in (RUNNING, PAUSED)]
        self.db.update("host_metrics", self.metrics, memory_free=str(self._free_memory()), last_updated=now())
        self.db.update("host", self.host, resident_VMs=running)

    def host__call_plugin(self, s: str, host: str, plugin: str, fn: str, args: dict[str, str]) -> str:
        self.db.get("host", host)
        if (plugin, fn) != ("console", "get_console_log"):
            raise Failure("XENAPI_MISSING_PLUGIN", plugin)
        domid = args.get("dom_id", "")
        if domid not in self.console_logs:
            raise Failure("XENAPI_PLUGIN_FAILURE", fn, "IOError", f"no console log for domain {domid}")
        return base64.b64encode(zlib.compress(self.console_logs[domid].encode())).decode()

    # -- tasks -----------------------------------------------------------------------------------------------
    def task__create(self, s: str, label: str, description: str) -> str:
        return self.new_task(label, description)

    def new_task(self, label: str, description: str = "") -> str:
        return self.db.create("task", {"name_label": label, "name_description": description, "status": "pending",
                                       "progress": 0.0, "result": "", "error_info": [], "created": now(),
                                       "finished": now(), "other_config": {}, "resident_on": self.host})

    def finish_task(self, task: str, result: str = "", error: list[str] | None = None) -> None:
        if not self.db.exists("task", task):
            return
        if error:
            self.db.update("task", task, status="failure", error_info=error, progress=1.0, finished=now())
        else:
            value = f"<value>{result}</value>" if result else ""
            self.db.update("task", task, status="success", result=value, progress=1.0, finished=now())

    def task__cancel(self, s: str, task: str) -> str:
        record = self.db.get("task", task)
        if record["status"] == "pending":
            self.db.update("task", task, status="cancelled", error_info=["TASK_CANCELLED", task])
        return ""

    def task__destroy(self, s: str, task: str) -> str:
        self.db.get("task", task)
        self.db.destroy("task", task)
        return ""

    # -- events ----------------------------------------------------------------------------------------------
    def event__from(self, s: str, classes: list[str], token: str, timeout: float) -> dict[str, Any]:
        if not isinstance(timeout, float):
            raise Failure("FIELD_TYPE_ERROR", "timeout")
        wanted = {c.lower() for c in classes}
        db = self.db

        def matches(cls: str) -> bool:
            return "*" in wanted or cls.lower() in wanted

        if token == "":  # everything that exists now, then changes from here
            events = [{"id": str(db.event_id), "timestamp": "", "class": cls.lower(), "operation": "add",
                       "ref": ref, "snapshot": self._public(rec)}
                      for cls, table in db.objects.items() if matches(cls) for ref, rec in table.items()]
            return {"events": events, "valid_ref_counts": {}, "token": f"{db.event_id:020d}"}
        try:
            since = int(token)
        except ValueError:
            raise Failure("EVENT_FROM_TOKEN_PARSE_FAILURE", token) from None
        if db.events and since < int(db.events[0]["id"]) - 1:
            raise Failure("EVENTS_LOST")
        # wait outside the API lock's hold by the dispatcher: Condition.wait releases it
        db.changed.wait_for(lambda: any(int(e["id"]) > since and matches(e["class"]) for e in db.events), timeout)
        events = [e for e in db.events if int(e["id"]) > since and matches(e["class"])]
        return {"events": copy.deepcopy(events), "valid_ref_counts": {}, "token": f"{db.event_id:020d}"}

    # -- VM ----------------------------------------------------------------------------------------------------
    def VM__create(self, s: str, record: dict[str, Any]) -> str:
        record = self._check_record("VM", record)
        self._memory_constraint(record)
        if int(record["VCPUs_at_startup"]) > int(record["VCPUs_max"]) or int(record["VCPUs_at_startup"]) < 1:
            raise Failure("INVALID_VALUE", "VCPUs_at_startup", record["VCPUs_at_startup"])
        return self.db.create("VM", self._vm_defaults(record))

    @staticmethod
    def _memory_constraint(r: dict[str, Any]) -> None:
        smin, dmin, dmax, smax = (int(r[k]) for k in ("memory_static_min", "memory_dynamic_min",
                                                       "memory_dynamic_max", "memory_static_max"))
        if not smin <= dmin <= dmax <= smax:
            raise Failure("MEMORY_CONSTRAINT_VIOLATION",
                          "Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= static_max")

    def _vm(self, ref: str, *states: str) -> dict[str, Any]:
        vm = self.db.get("VM", ref)
        if states and vm["power_state"] not in states:
            raise Failure("VM_BAD_POWER_STATE", ref, states[0].lower(), vm["power_state"].lower())
        return vm

    def _power(self, ref: str, state: str) -> None:
        vm = self.db.get("VM", ref)
        fields: dict[str, Any] = {"power_state": state}
        attached = state in (RUNNING, PAUSED)
        if attached and vm["domid"] == "-1":
            self.domid += 1
            domid = str(self.domid)
            fields.update(domid=domid, resident_on=self.host)
            self.console_logs[domid] = f"[    0.000000] Linux version 6.1.0 (simulated guest {vm['name_label']})\n" \
                                       f"{vm['name_label']} login: \n"
            console = self.db.create("console", {"protocol": "rfb", "VM": ref, "other_config": {},
                                                 "location": ""})
            self.db.update("console", console,
                           location=f"https://{self.address}/console?ref={console}")
            fields["consoles"] = [console]
        elif not attached:
            if vm["domid"] != "-1":
                self.console_logs.pop(vm["domid"], None)
            for console in vm["consoles"]:
                if self.db.exists("console", console):
                    self.db.destroy("console", console)
            fields.update(domid="-1", resident_on=NULL, consoles=[])
        for cls, key in (("VBD", "VBDs"), ("VIF", "VIFs")):
            for dev in vm[key]:
                self.db.update(cls, dev, currently_attached=attached)
        self.db.update("VM", ref, **fields)
        self._refresh_host()

    def VM__start(self, s: str, vm: str, start_paused: bool, force: bool) -> str:
        record = self._vm(vm, HALTED)
        if record["is_a_template"] or record["is_a_snapshot"]:
            raise Failure("VM_IS_TEMPLATE", vm)
        need = int(record["memory_dynamic_max"])
        if need > self._free_memory():
            raise Failure("HOST_NOT_ENOUGH_FREE_MEMORY", str(need), str(self._free_memory()))
        for vbd in record["VBDs"]:
            vdi = self.db.get("VBD", vbd)["VDI"]
            if vdi != NULL and not self.db.exists("VDI", vdi):
                raise Failure("VDI_MISSING", self.db.get("VBD", vbd).get("_sr", NULL), vdi)
        self._power(vm, PAUSED if start_paused else RUNNING)
        return ""

    def VM__clean_shutdown(self, s: str, vm: str) -> str:
        self._vm(vm, RUNNING)
        if self.guest_ignores_shutdown:
            raise Failure("VM_SHUTDOWN_TIMEOUT", vm, "1200.")
        self._power(vm, HALTED)
        return ""

    def VM__hard_shutdown(self, s: str, vm: str) -> str:
        record = self._vm(vm, RUNNING, PAUSED, SUSPENDED)
        if record["power_state"] == SUSPENDED:
            self._drop_suspend_image(vm)
        self._power(vm, HALTED)
        return ""

    def VM__clean_reboot(self, s: str, vm: str) -> str:
        self._vm(vm, RUNNING)
        self._power(vm, HALTED)
        self._power(vm, RUNNING)
        return ""

    def VM__hard_reboot(self, s: str, vm: str) -> str:
        self._vm(vm, RUNNING, PAUSED)
        self._power(vm, HALTED)
        self._power(vm, RUNNING)
        return ""

    def VM__pause(self, s: str, vm: str) -> str:
        self._vm(vm, RUNNING)
        self.db.update("VM", vm, power_state=PAUSED)
        return ""

    def VM__unpause(self, s: str, vm: str) -> str:
        self._vm(vm, PAUSED)
        self.db.update("VM", vm, power_state=RUNNING)
        return ""

    def VM__suspend(self, s: str, vm: str) -> str:
        record = self._vm(vm, RUNNING)
        image = self.db.create("VDI", self._vdi_record({
            "name_label": "Suspend image", "name_description": "", "SR": self.local_sr, "type": "suspend",
            "virtual_size": record["memory_static_max"], "sharable": False, "read_only": False,
            "other_config": {}}))
        self._power(vm, SUSPENDED)
        self.db.update("VM", vm, suspend_VDI=image)
        return ""

    def _drop_suspend_image(self, vm: str) -> None:
        image = self.db.get("VM", vm)["suspend_VDI"]
        if image != NULL and self.db.exists("VDI", image):
            self._destroy_vdi(image)
        self.db.update("VM", vm, suspend_VDI=NULL)

    def VM__resume(self, s: str, vm: str, start_paused: bool, force: bool) -> str:
        self._vm(vm, SUSPENDED)
        self._drop_suspend_image(vm)
        self._power(vm, PAUSED if start_paused else RUNNING)
        return ""

    def VM__destroy(self, s: str, vm: str) -> str:
        record = self._vm(vm, HALTED)
        if record["is_control_domain"]:
            raise Failure("OPERATION_NOT_ALLOWED", "Cannot destroy the control domain")
        # XAPI takes the VM's VBDs, VIFs and consoles with it; the VDIs stay
        for vbd in list(record["VBDs"]):
            self._unlink_vbd(vbd)
        for vif in list(record["VIFs"]):
            self._unlink_vif(vif)
        self.db.destroy("VM", vm)
        return ""

    def VM__set_VCPUs_max(self, s: str, vm: str, value: str) -> str:
        self._vm(vm, HALTED)
        if _int("VCPUs_max", value) < 1:
            raise Failure("INVALID_VALUE", "VCPUs_max", value)
        self.db.update("VM", vm, VCPUs_max=value)
        return ""

    def VM__set_VCPUs_at_startup(self, s: str, vm: str, value: str) -> str:
        record = self._vm(vm)
        if not 1 <= _int("VCPUs_at_startup", value) <= int(record["VCPUs_max"]):
            raise Failure("INVALID_VALUE", "VCPUs_at_startup", value)
        self.db.update("VM", vm, VCPUs_at_startup=value)
        return ""

    def VM__set_memory_limits(self, s: str, vm: str, static_min: str, static_max: str, dynamic_min: str,
                              dynamic_max: str) -> str:
        self._vm(vm, HALTED)
        limits = {"memory_static_min": static_min, "memory_static_max": static_max,
                  "memory_dynamic_min": dynamic_min, "memory_dynamic_max": dynamic_max}
        for field, value in limits.items():
            _int(field, value)
        self._memory_constraint(limits)
        self.db.update("VM", vm, **limits)
        return ""

    def VM__snapshot(self, s: str, vm: str, new_name: str) -> str:
        record = self._vm(vm)
        snap = self.db.create("VM", self._vm_defaults({
            **{k: copy.deepcopy(v) for k, v in record.items() if k not in ("uuid", "VBDs", "VIFs", "consoles")},
            "name_label": new_name, "is_a_snapshot": True, "snapshot_of": vm, "power_state": HALTED,
            "domid": "-1", "resident_on": NULL, "snapshot_time": now()}))
        for vbd in record["VBDs"]:
            dev = self.db.get("VBD", vbd)
            vdi = dev["VDI"]
            new_vdi = NULL
            if dev["type"] == "Disk" and vdi != NULL:
                new_vdi = self._copy_vdi(vdi, self.db.get("VDI", vdi)["SR"], snapshot_of=vdi)
            self._new_vbd({**{k: v for k, v in dev.items() if k != "uuid"}, "VM": snap, "VDI": new_vdi})
        self.db.update("VM", vm, snapshots=[*record["snapshots"], snap])
        return snap

    def VM__get_consoles(self, s: str, vm: str) -> list[str]:
        return list(self._vm(vm)["consoles"])

    # -- VDI -----------------------------------------------------------------------------------------------------
    def _vdi_record(self, fields: dict[str, Any]) -> dict[str, Any]:
        record = {"xenstore_data": {}, "sm_config": {}, "tags": [], "VBDs": [], "location": "",
                  "managed": True, "missing": False, "is_a_snapshot": False, "snapshot_of": NULL,
                  "snapshots": [], "physical_utilisation": "0", "allowed_operations": [], "storage_lock": False}
        record.update(fields)
        if not record["location"]:
            record["location"] = record.get("uuid") or str(uuidlib.uuid4())
            record["uuid"] = record["location"]
        return record

    def _sr_usage(self, sr: str) -> None:
        vdis = [r for r, v in self.db.table("VDI").items() if v["SR"] == sr]
        used = sum(int(self.db.get("VDI", v)["virtual_size"]) for v in vdis)
        self.db.update("SR", sr, VDIs=vdis, physical_utilisation=str(used), virtual_allocation=str(used))

    def VDI__create(self, s: str, record: dict[str, Any]) -> str:
        record = self._check_record("VDI", record)
        sr = self.db.get("SR", record["SR"])
        size = _int("virtual_size", record["virtual_size"])
        if sr["content_type"] == "iso":
            raise Failure("SR_OPERATION_NOT_SUPPORTED", record["SR"])
        if size < 0:
            raise Failure("INVALID_VALUE", "virtual_size", record["virtual_size"])
        if int(sr["physical_utilisation"]) + size > int(sr["physical_size"]):
            raise Failure("SR_BACKEND_FAILURE_44", "", "There is insufficient space", "")
        ref = self.db.create("VDI", self._vdi_record(record))
        self._sr_usage(record["SR"])
        return ref

    def _copy_vdi(self, vdi: str, sr: str, snapshot_of: str | None = None, clone: bool = False) -> str:
        source = self.db.get("VDI", vdi)
        fields = {k: copy.deepcopy(v) for k, v in source.items()
                  if k not in ("uuid", "location", "VBDs", "snapshots", "is_a_snapshot", "snapshot_of")}
        fields["SR"] = sr
        if snapshot_of:
            fields.update(is_a_snapshot=True, snapshot_of=snapshot_of, snapshot_time=now())
        if clone or snapshot_of:  # copy-on-write: the new VHD's parent is the source's
            fields["sm_config"] = {**source["sm_config"], "vhd-parent": source["uuid"]}
        ref = self.db.create("VDI", self._vdi_record(fields))
        self.db.blocks[ref] = dict(self.db.blocks.get(vdi, {}))
        if snapshot_of:
            self.db.update("VDI", vdi, snapshots=[*source["snapshots"], ref])
        self._sr_usage(sr)
        return ref

    def VDI__clone(self, s: str, vdi: str, driver_params: dict[str, str]) -> str:
        return self._copy_vdi(vdi, self.db.get("VDI", vdi)["SR"], clone=True)

    def VDI__copy(self, s: str, vdi: str, sr: str) -> str:
        self.db.get("SR", sr)
        return self._copy_vdi(vdi, sr)

    def VDI__resize(self, s: str, vdi: str, size: str) -> str:
        record = self.db.get("VDI", vdi)
        if _int("size", size) < int(record["virtual_size"]):
            raise Failure("VDI_SIZE_TOO_SMALL", vdi, size)
        if any(self.db.get("VBD", v)["currently_attached"] for v in record["VBDs"]):
            raise Failure("VDI_IN_USE", vdi, "resize")
        self.db.update("VDI", vdi, virtual_size=size)
        self._sr_usage(record["SR"])
        return ""

    def VDI__destroy(self, s: str, vdi: str) -> str:
        record = self.db.get("VDI", vdi)
        if any(self.db.get("VBD", v)["currently_attached"] for v in record["VBDs"]):
            raise Failure("VDI_IN_USE", vdi, "destroy")
        self._destroy_vdi(vdi)
        return ""

    def _destroy_vdi(self, vdi: str) -> None:
        record = self.db.get("VDI", vdi)
        for vbd in list(record["VBDs"]):  # the VDI's VBDs go with it (their VMs keep an empty slot no more)
            self._unlink_vbd(vbd)
        self.db.destroy("VDI", vdi)
        self._sr_usage(record["SR"])

    def VDI__forget(self, s: str, vdi: str) -> str:
        record = self.db.get("VDI", vdi)
        if any(self.db.get("VBD", v)["currently_attached"] for v in record["VBDs"]):
            raise Failure("VDI_IN_USE", vdi, "forget")
        for vbd in list(record["VBDs"]):
            self._unlink_vbd(vbd)
        self.db.destroy("VDI", vdi)  # the record only: the data stays in the SR
        self._sr_usage(record["SR"])
        return ""

    # -- SR, PBD (volumes on a directory SR) ------------------------------------------------------------------------
    def SR__introduce(self, s: str, uuid: str, name_label: str, name_description: str, type: str,
                      content_type: str, shared: bool, sm_config: dict[str, str]) -> str:
        if self.db.find("SR", uuid=uuid):
            raise Failure("SR_UUID_EXISTS", uuid)
        record = self._sr(name_label, type, content_type, 0)
        record.update(uuid=uuid, name_description=name_description, shared=shared, sm_config=sm_config)
        return self.db.create("SR", record)

    def PBD__create(self, s: str, record: dict[str, Any]) -> str:
        record = self._check_record("PBD", record)
        self.db.get("host", record["host"])
        sr = self.db.get("SR", record["SR"])
        ref = self.db.create("PBD", {**record, "currently_attached": False})
        self.db.update("SR", record["SR"], PBDs=[*sr["PBDs"], ref])
        return ref

    def PBD__plug(self, s: str, pbd: str) -> str:
        record = self.db.get("PBD", pbd)
        sr = self.db.get("SR", record["SR"])
        if sr["type"] == "file":
            location = record["device_config"].get("location", "")
            if not os.path.isdir(location):
                raise Failure("SR_BACKEND_FAILURE_77", "", f"location {location} is not a directory", "")
        self.db.update("PBD", pbd, currently_attached=True)
        return ""

    def PBD__unplug(self, s: str, pbd: str) -> str:
        record = self.db.get("PBD", pbd)
        sr = record["SR"]
        if any(self.db.get("VBD", vbd)["currently_attached"] for vdi in self.db.find("VDI", SR=sr)
               for vbd in self.db.get("VDI", vdi)["VBDs"]):
            raise Failure("SR_HAS_PBD", sr)  # VDIs in use
        self.db.update("PBD", pbd, currently_attached=False)
        return ""

    def SR__scan(self, s: str, sr: str) -> str:
        record = self.db.get("SR", sr)
        pbds = [self.db.get("PBD", p) for p in record["PBDs"]]
        if not any(p["currently_attached"] for p in pbds):
            raise Failure("SR_HAS_NO_PBDS", sr)
        if record["type"] == "file":  # a VDI per file of the directory, located by its file name
            location = pbds[0]["device_config"]["location"]
            known = {self.db.get("VDI", v)["location"] for v in self.db.find("VDI", SR=sr)}
            for name in sorted(os.listdir(location)):
                path = os.path.join(location, name)
                if name in known or not os.path.isfile(path):
                    continue
                self.db.create("VDI", self._vdi_record({
                    "name_label": name, "name_description": "", "SR": sr, "type": "user",
                    "virtual_size": str(os.path.getsize(path)), "sharable": False, "read_only": False,
                    "other_config": {}, "location": name, "uuid": str(uuidlib.uuid4())}))
        self._sr_usage(sr)
        return ""

    def SR__forget(self, s: str, sr: str) -> str:
        record = self.db.get("SR", sr)
        if any(self.db.get("PBD", p)["currently_attached"] for p in record["PBDs"]):
            raise Failure("SR_HAS_PBD", sr)
        for vdi in self.db.find("VDI", SR=sr):
            self.VDI__forget(s, vdi)
        for pbd in record["PBDs"]:
            self.db.destroy("PBD", pbd)
        self.db.destroy("SR", sr)
        return ""

    # -- VBD ---------------------------------------------------------------------------------------------------------
    def _new_vbd(self, record: dict[str, Any]) -> str:
        vm = self.db.get("VM", record["VM"])
        if record["VDI"] != NULL:
            vdi = self.db.get("VDI", record["VDI"])
        ref = self.db.create("VBD", {"currently_attached": False, "unpluggable": True, "storage_lock": False,
                                     "device": "", **record})
        self.db.update("VM", record["VM"], VBDs=[*vm["VBDs"], ref])
        if record["VDI"] != NULL:
            self.db.update("VDI", record["VDI"], VBDs=[*vdi["VBDs"], ref])
        return ref

    def VBD__create(self, s: str, record: dict[str, Any]) -> str:
        record = self._check_record("VBD", record)
        vm = self.db.get("VM", record["VM"])
        if record["VDI"] != NULL or not record["empty"]:
            self.db.get("VDI", record["VDI"])
        device = str(record["userdevice"])
        if device != "autodetect" and (not device.isdigit() or int(device) > 15):
            raise Failure("INVALID_DEVICE", device)
        taken = {self.db.get("VBD", v)["userdevice"] for v in vm["VBDs"]}
        if device == "autodetect":
            device = str(min(set(range(16)) - {int(t) for t in taken}))
        elif device in taken:
            raise Failure("DEVICE_ALREADY_EXISTS", device)
        if record["mode"] not in ("RO", "RW") or record["type"] not in ("Disk", "CD", "Floppy"):
            raise Failure("INVALID_VALUE", "mode/type", f"{record['mode']}/{record['type']}")
        return self._new_vbd({**record, "userdevice": device})

    def VBD__plug(self, s: str, vbd: str) -> str:
        record = self.db.get("VBD", vbd)
        self._vm(record["VM"], RUNNING)
        if record["currently_attached"]:
            raise Failure("DEVICE_ALREADY_ATTACHED", vbd)
        self.db.update("VBD", vbd, currently_attached=True, device=f"xvd{chr(ord('a') + int(record['userdevice']))}")
        return ""

    def VBD__unplug(self, s: str, vbd: str) -> str:
        record = self.db.get("VBD", vbd)
        if not record["currently_attached"]:
            raise Failure("DEVICE_ALREADY_DETACHED", vbd)
        self.db.update("VBD", vbd, currently_attached=False)
        return ""

    def VBD__destroy(self, s: str, vbd: str) -> str:
        record = self.db.get("VBD", vbd)
        if record["currently_attached"]:
            raise Failure("OPERATION_NOT_ALLOWED", "VBD is currently attached to a running VM")
        self._unlink_vbd(vbd)
        return ""

    def _unlink_vbd(self, vbd: str) -> None:
        record = self.db.get("VBD", vbd)
        if self.db.exists("VM", record["VM"]):
            vm = self.db.get("VM", record["VM"])
            self.db.update("VM", record["VM"], VBDs=[v for v in vm["VBDs"] if v != vbd])
        if record["VDI"] != NULL and self.db.exists("VDI", record["VDI"]):
            vdi = self.db.get("VDI", record["VDI"])
            self.db.update("VDI", record["VDI"], VBDs=[v for v in vdi["VBDs"] if v != vbd])
        self.db.destroy("VBD", vbd)

    # -- VIF, network ------------------------------------------------------------------------------------------------
    def VIF__create(self, s: str, record: dict[str, Any]) -> str:
        record = self._check_record("VIF", record)
        vm = self.db.get("VM", record["VM"])
        network = self.db.get("network", record["network"])
        device = str(record["device"])
        if not device.isdigit():
            raise Failure("INVALID_DEVICE", device)
        if device in {self.db.get("VIF", v)["device"] for v in vm["VIFs"]}:
            raise Failure("DEVICE_ALREADY_EXISTS", device)
        mac = str(record["MAC"])
        if mac and (len(mac.split(":")) != 6):
            raise Failure("MAC_INVALID", mac)
        ref = self.db.create("VIF", {"currently_attached": False, "locking_mode": "network_default", **record})
        self.db.update("VM", record["VM"], VIFs=[*vm["VIFs"], ref])
        self.db.update("network", record["network"], VIFs=[*network["VIFs"], ref])
        return ref

    def VIF__plug(self, s: str, vif: str) -> str:
        record = self.db.get("VIF", vif)
        self._vm(record["VM"], RUNNING)
        if record["currently_attached"]:
            raise Failure("DEVICE_ALREADY_ATTACHED", vif)
        self.db.update("VIF", vif, currently_attached=True)
        return ""

    def VIF__unplug(self, s: str, vif: str) -> str:
        record = self.db.get("VIF", vif)
        if not record["currently_attached"]:
            raise Failure("DEVICE_ALREADY_DETACHED", vif)
        self.db.update("VIF", vif, currently_attached=False)
        return ""

    def VIF__destroy(self, s: str, vif: str) -> str:
        record = self.db.get("VIF", vif)
        if record["currently_attached"]:
            raise Failure("OPERATION_NOT_ALLOWED", "VIF is currently attached to a running VM")
        self._unlink_vif(vif)
        return ""

    def _unlink_vif(self, vif: str) -> None:
        record = self.db.get("VIF", vif)
        for cls, key, owner in (("VM", "VIFs", record["VM"]), ("network", "VIFs", record["network"])):
            if self.db.exists(cls, owner):
                rec = self.db.get(cls, owner)
                self.db.update(cls, owner, **{key: [v for v in rec[key] if v != vif]})
        self.db.destroy("VIF", vif)

    # -- what a test does to the "guest" ------------------------------------------------------------------------------
    def guest_halts(self, vm: str) -> None:
        """The guest shuts itself down (as from inside: no API call)."""
        with self.db.lock:
            self._power(vm, HALTED)
