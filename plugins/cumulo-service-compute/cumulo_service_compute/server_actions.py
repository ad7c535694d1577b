"""Server actions (``hub.compute`` action methods): reboot, stop/start, pause, suspend, rescue, lock,
rebuild, resize, snapshot, password, consoles.

Every action checks the lock, the host's hypervisor capability and the server's state, then
moves it to the action's task state with one conditional UPDATE (two racing actions cannot both
start: the loser gets 409) and casts the work to the server's host.
"""

from __future__ import annotations

from typing import Any

import cumulo_service_compute.block_devices as bdms
import cumulo_service_compute.migration_records as records
import cumulo_service_compute.objects as objects
import cumulo_service_compute.quota as quota
import cumulo_service_compute.states as st
from cumulo import exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.interfaces.scheduler import NoValidHost, RequestSpec
from cumulo.utils.passwords import generate_password
from cumulo_service_compute.common import Plumbing, check_locked, flavor_snapshot, instance_for, resolve_image
from cumulo_service_compute.flavors import Flavors
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.keypairs import Keypairs
from cumulo_service_compute.scheduling import Scheduling
from cumulo_service_compute.servers import Servers

#: Base-image properties a snapshot does not inherit (Nova's non_inheritable_image_properties).
NON_INHERITABLE_PROPERTIES = frozenset({"cache_in_nova", "bittorrent", "certificate_ref", "instance_uuid",
                                        "image_type", "base_image_ref", "owner_project_name", "user_id"})


class ServerActions:
    """What a user asks of an existing server (``plumbing``: RPC to its host, the image service)."""

    def __init__(self, plumbing: Plumbing, servers: Servers, flavors: Flavors, keypairs: Keypairs, hosts: Hosts,
                 scheduling: Scheduling) -> None:
        self.plumbing, self.servers, self.flavors = plumbing, servers, flavors
        self.keypairs, self.hosts, self.scheduling = keypairs, hosts, scheduling

    def begin(self, ctx: RequestContext, uuid: str, action: str, *, record: str | None = None,
              extra: dict[str, Any] | None = None, check_host: bool = True) -> dict[str, Any]:
        """:meth:`_begin` for the other action components (:mod:`.moves`); ``check_host`` False: the server's
        host may be unset or down (an offloaded unshelve, an evacuation)."""
        return self._begin(ctx, uuid, action, record=record, extra=extra, check_host=check_host)

    def _begin(self, ctx: RequestContext, uuid: str, action: str, *, record: str | None = None,
               extra: dict[str, Any] | None = None, check_host: bool = True) -> dict[str, Any]:
        """Check lock, capability and state; move to the action's task_state atomically (409 otherwise)."""
        inst = instance_for(ctx, uuid)
        check_locked(ctx, inst)
        allowed, task = st.ACTIONS[action]
        if inst["task_state"] is not None or inst["vm_state"] not in allowed:
            raise exception.Conflict(
                f"Cannot '{action}' instance {uuid} while it is in vm_state {inst['vm_state']}"
                + (f", task_state {inst['task_state']}" if inst["task_state"] else ""))
        need = st.CAPABILITY_OF.get(action)
        caps = self.hosts.capabilities(inst["host"]) if check_host else None
        if need and caps is not None and need not in caps:
            raise exception.Conflict(f"The hypervisor of host {inst['host']} does not support {action} "
                                     f"(capability '{need}').")
        if check_host and not inst["host"]:
            raise exception.Conflict(f"Instance {uuid} has no host; it cannot '{action}'.")
        objects.start_action(ctx, uuid, record or action)
        values = {"task_state": task, **(extra or {})}
        try:
            return objects.update_instance(uuid, values, expected_task_state=None, expected_vm_state=list(allowed))
        except exception.Conflict:
            objects.finish_action(ctx, uuid, "Error")
            raise

    def reboot(self, ctx: RequestContext, uuid: str, hard: bool = False) -> None:
        inst = self._begin(ctx, uuid, "reboot_hard" if hard else "reboot", record="reboot")
        self.plumbing.rpc.cast(ctx, "reboot_instance", server=inst["host"], instance_uuid=uuid, hard=hard)

    def _simple(self, ctx: RequestContext, uuid: str, action: str, method: str, record: str,
                **kwargs: Any) -> None:
        inst = self._begin(ctx, uuid, action, record=record)
        self.plumbing.rpc.cast(ctx, method, server=inst["host"], instance_uuid=uuid, **kwargs)

    def stop(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "stop", "stop_instance", "stop")

    def start(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "start", "start_instance", "start")

    def pause(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "pause", "pause_instance", "pause")

    def unpause(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "unpause", "unpause_instance", "unpause")

    def suspend(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "suspend", "suspend_instance", "suspend")

    def resume(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "resume", "resume_instance", "resume")

    def rescue(self, ctx: RequestContext, uuid: str, password: str | None = None,
               rescue_image_ref: str | None = None) -> str:
        instance_for(ctx, uuid)
        if _volume_backed(uuid):  # as Nova before 2.87
            raise exception.Invalid(reason="Cannot rescue a volume-backed instance")
        password = password or generate_password()
        if rescue_image_ref:
            resolve_image(self.plumbing.image(), ctx, rescue_image_ref)
        self._simple(ctx, uuid, "rescue", "rescue_instance", "rescue", rescue_password=password,
                     rescue_image_ref=rescue_image_ref)
        return password

    def unrescue(self, ctx: RequestContext, uuid: str) -> None:
        self._simple(ctx, uuid, "unrescue", "unrescue_instance", "unrescue")

    def change_password(self, ctx: RequestContext, uuid: str, password: str) -> None:
        self._simple(ctx, uuid, "changePassword", "set_admin_password", "changePassword", password=password)

    def lock(self, ctx: RequestContext, uuid: str, reason: str | None = None) -> None:
        inst = instance_for(ctx, uuid)
        objects.start_action(ctx, uuid, "lock")
        objects.update_instance(inst["uuid"], {"locked": True, "locked_by": "admin" if ctx.is_admin else "owner",
                                               "locked_reason": reason})
        objects.finish_action(ctx, uuid)

    def reset_state(self, ctx: RequestContext, uuid: str, state: str) -> None:
        """As Nova's os-resetState: the vm_state given, no task state, nothing cast to the host."""
        wanted = {"active": st.ACTIVE, "error": st.ERROR}.get(state)
        if wanted is None:
            raise exception.ValidationError(field="state", reason=f"{state!r} is not 'active' or 'error'")
        instance_for(ctx, uuid)
        objects.update_instance(uuid, {"vm_state": wanted, "task_state": None})

    def unlock(self, ctx: RequestContext, uuid: str) -> None:
        inst = instance_for(ctx, uuid)
        if inst["locked"] and inst["locked_by"] == "admin" and not ctx.is_admin:
            raise exception.Forbidden("The server was locked by an administrator; only one may unlock it.")
        objects.start_action(ctx, uuid, "unlock")
        objects.update_instance(uuid, {"locked": False, "locked_by": None, "locked_reason": None})
        objects.finish_action(ctx, uuid)

    def rebuild(self, ctx: RequestContext, uuid: str, image_ref: str, *, admin_password: str | None = None,
                name: str | None = None, metadata: dict[str, str] | None = None, description: Any = ...,
                key_name: Any = ..., user_data: Any = ...) -> tuple[dict[str, Any], str]:
        image = resolve_image(self.plumbing.image(), ctx, image_ref)
        inst = instance_for(ctx, uuid)
        if _volume_backed(uuid):
            # the hosts would make a local root disk from the image: refused rather than lose the volume
            raise exception.Invalid(reason="Rebuilding a volume-backed server is not supported by this cloud.")
        if int(image.get("min_ram") or 0) > inst["flavor"].get("ram", 0):
            raise exception.Invalid(reason="Flavor's memory is too small for requested image.")
        extra: dict[str, Any] = {"image_ref": image.get("id") or image_ref}
        if name:
            extra["display_name"] = name
        if metadata is not None:
            extra["metadata"] = metadata
        if description is not ...:
            extra["display_description"] = description
        if key_name is not ...:
            extra["key_name"] = key_name
            extra["key_data"] = self.keypairs.get_keypair(ctx, key_name)["public_key"] if key_name else None
        if user_data is not ...:
            extra["user_data"] = user_data
        password = admin_password or generate_password()
        inst = self._begin(ctx, uuid, "rebuild", extra=extra)
        self.plumbing.rpc.cast(ctx, "rebuild_instance", server=inst["host"], instance_uuid=uuid,
                               image_ref=extra["image_ref"], admin_password=password)
        return self.servers.get_server(ctx, uuid), password

    def resize(self, ctx: RequestContext, uuid: str, flavor_id: str) -> None:
        inst = instance_for(ctx, uuid)
        if bdms.mappings(uuid):
            # a resize moves the guest without its volumes' exports (not implemented): refused up front
            raise exception.Conflict(f"Resizing instance {uuid} with volumes attached is not supported by this "
                                     "cloud; detach them first.")
        try:
            new = self.flavors.get_flavor(ctx, flavor_id)
        except exception.NotFound:
            raise exception.Invalid(reason=f"Flavor {flavor_id} could not be found.") from None
        old = inst["flavor"]
        if str(new["id"]) == str(old.get("id")):
            raise exception.Invalid(reason="When resizing, instances must change flavor!")
        if new["disk"] < old.get("disk", 0) and new["disk"] != 0:
            raise exception.Invalid(reason="Resizing to a smaller disk is not supported.")
        snapshot = flavor_snapshot(new)
        delta = {"cores": new["vcpus"] - old.get("vcpus", 0), "ram": new["ram"] - old.get("ram", 0)}
        quota.reserve(inst["project_id"], {k: v for k, v in delta.items() if v > 0})
        try:
            inst = self._begin(ctx, uuid, "resize", extra={"new_flavor": snapshot})
        except Exception:
            quota.release(inst["project_id"], {k: v for k, v in delta.items() if v > 0})
            raise
        quota.release(inst["project_id"], {k: -v for k, v in delta.items() if v < 0})
        source = inst["host"]
        req = RequestSpec(project_id=inst["project_id"], flavor=snapshot, num_instances=1,
                          availability_zone=inst["requested_availability_zone"],
                          ignore_hosts=[source] if not CONF.compute.allow_resize_to_same_host else [],
                          instance_uuids=[uuid])
        try:
            hosts = self.scheduling.select(ctx, RequestSpec(**{**req.__dict__, "ignore_hosts": [source]}))
        except NoValidHost:
            hosts = []
        if not hosts and CONF.compute.allow_resize_to_same_host:
            try:
                hosts = self.scheduling.select(ctx, req)
            except NoValidHost:
                hosts = []
        if not hosts:
            quota.release(inst["project_id"], {k: v for k, v in delta.items() if v > 0})
            quota.reserve(inst["project_id"], {k: -v for k, v in delta.items() if v < 0})
            objects.update_instance(uuid, {"task_state": None, "new_flavor": None})
            objects.finish_action(ctx, uuid, "Error")
            raise exception.Invalid(reason="No valid host was found for the resize.")
        records.create(ctx, inst, records.RESIZE, "pre-migrating", dest=hosts[0].host,
                       new_flavor_id=str(new["id"]))
        self.plumbing.rpc.cast(ctx, "prep_resize", server=hosts[0].host, instance_uuid=uuid,
                               new_flavor=snapshot, source_host=source)

    def confirm_resize(self, ctx: RequestContext, uuid: str) -> None:
        inst = self._begin(ctx, uuid, "confirmResize", record="confirmResize")
        source = (inst.get("resize") or {}).get("source_host") or inst["host"]
        self.plumbing.rpc.cast(ctx, "confirm_resize", server=source, instance_uuid=uuid)

    def revert_resize(self, ctx: RequestContext, uuid: str) -> None:
        inst = self._begin(ctx, uuid, "revertResize", record="revertResize")
        old, new = inst.get("old_flavor") or inst["flavor"], inst["flavor"]
        delta = {"cores": new.get("vcpus", 0) - old.get("vcpus", 0), "ram": new.get("ram", 0) - old.get("ram", 0)}
        quota.release(inst["project_id"], delta)
        self.plumbing.rpc.cast(ctx, "revert_resize", server=inst["host"], instance_uuid=uuid)

    def create_image(self, ctx: RequestContext, uuid: str, name: str,
                     metadata: dict[str, str] | None = None) -> str:
        image_svc = self.plumbing.image()
        if image_svc is None:
            raise exception.Conflict("Snapshots need the image service, which this cloud does not run.")
        inst = instance_for(ctx, uuid)
        base: dict[str, Any] = {}
        try:
            base = dict(image_svc.get(ctx, inst["image_ref"])) if inst["image_ref"] else {}
        except exception.NotFound:
            base = {}
        # As Nova: the snapshot inherits the base image's properties (kernel_id/ramdisk_id, os_command_line,
        # hw_*...), so it boots the way its base did; signatures and the like describe other bytes.
        props = {k: str(v) for k, v in (base.get("properties") or {}).items()
                 if k not in NON_INHERITABLE_PROPERTIES and not k.startswith("img_signature")}
        props.update({"instance_uuid": uuid, "image_type": "snapshot", "base_image_ref": inst["image_ref"] or "",
                      "owner_project_name": ctx.project_name or "", "user_id": ctx.user_id or ""})
        props.update({k: str(v) for k, v in (metadata or {}).items()})  # as Nova: the caller's metadata wins
        self._begin(ctx, uuid, "createImage")
        try:
            image = image_svc.create(ctx, {"name": name, "disk_format": base.get("disk_format") or "raw",
                                           "container_format": base.get("container_format") or "bare",
                                           "visibility": "private", **props})
        except Exception:
            objects.update_instance(uuid, {"task_state": None})
            raise
        self.plumbing.rpc.cast(ctx, "snapshot_instance", server=inst["host"], instance_uuid=uuid,
                               image_id=image["id"])
        return image["id"]

    def console_output(self, ctx: RequestContext, uuid: str, length: int | None = None) -> str:
        inst = instance_for(ctx, uuid)
        self._require_running_host(inst, "console_output")
        return self.plumbing.rpc.call(ctx, "get_console_output", server=inst["host"], instance_uuid=uuid,
                                      length=length)

    def remote_console(self, ctx: RequestContext, uuid: str, console_type: str) -> dict[str, Any]:
        inst = instance_for(ctx, uuid)
        self._require_running_host(inst, "remote_console")
        return self.plumbing.rpc.call(ctx, "get_remote_console", server=inst["host"], instance_uuid=uuid,
                                      console_type=console_type)

    def _require_running_host(self, inst: dict[str, Any], capability: str) -> None:
        if not inst["host"] or inst["vm_state"] == st.BUILDING:
            raise exception.Conflict(f"Instance {inst['uuid']} is not ready (vm_state {inst['vm_state']}).")
        caps = self.hosts.capabilities(inst["host"])
        if caps is not None and capability not in caps:
            raise exception.Conflict(f"The hypervisor of host {inst['host']} does not support {capability}.")
        if inst["host"] in self.hosts.down_hosts():
            raise exception.Conflict(f"Host {inst['host']} of instance {inst['uuid']} is down.")


def _volume_backed(uuid: str) -> bool:
    """Whether the server's boot device is a volume."""
    return any(m["boot_index"] == 0 for m in bdms.mappings(uuid))
