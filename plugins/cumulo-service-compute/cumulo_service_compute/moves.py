"""Server moves (``hub.compute`` methods of :class:`cumulo.contracts.compute.ServerMoveService`): backups,
cold and live migration, evacuation, shelving, and the migration records.

Each checks the server as the other actions do (:meth:`.ServerActions.begin`: lock, state, capability,
one conditional UPDATE), picks a destination with the scheduler when it needs one (``host`` forces
it, as Nova's ``host`` with ``force``), records a migration and casts the work to the hosts
(:mod:`.host_moves`, :mod:`.host_resize`).
"""

from __future__ import annotations

import datetime
from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.block_devices as bdms
import cumulo_service_compute.migration_records as records
import cumulo_service_compute.objects as objects
import cumulo_service_compute.states as st
from cumulo import db, exception
from cumulo.conf import CONF
from cumulo.context import RequestContext
from cumulo.interfaces.scheduler import NoValidHost, RequestSpec
from cumulo.utils.passwords import generate_password
from cumulo_service_compute.common import Plumbing, instance_for
from cumulo_service_compute.host_moves import SHELVED_KEYS
from cumulo_service_compute.hosts import Hosts
from cumulo_service_compute.models import Instance
from cumulo_service_compute.scheduling import Scheduling
from cumulo_service_compute.server_actions import ServerActions


class ServerMoves:
    """Moving servers between hosts and into the image service (``actions`` checks and starts each)."""

    def __init__(self, plumbing: Plumbing, actions: ServerActions, hosts: Hosts, scheduling: Scheduling) -> None:
        self.plumbing, self.actions, self.hosts, self.scheduling = plumbing, actions, hosts, scheduling

    # -- helpers --------------------------------------------------------------------
    def _known_host(self, host: str | None, error: type[exception.CumuloError] = exception.Invalid) -> None:
        """``host`` (when given) is a compute host; else ``error`` (as Nova: 400 for a migration, 404 for an
        evacuation)."""
        if host and host not in {h.host for h in self.hosts.host_states()}:
            if error is exception.Invalid:
                raise exception.Invalid(reason=f"Compute host {host} could not be found.")
            raise exception.NotFound(f"Compute host {host} could not be found.")

    def _destination(self, ctx: RequestContext, inst: dict[str, Any], host: str | None,
                     capability: str | None = None) -> str:
        """A host other than the server's own that fits it (``host`` when given); Invalid when none."""
        if host and host == inst["host"]:
            raise exception.Invalid(reason=f"The server is already on host {host}; choose another one.")
        spec = RequestSpec(project_id=inst["project_id"], flavor=inst["flavor"], num_instances=1,
                           availability_zone=None if host else inst["requested_availability_zone"],
                           ignore_hosts=[inst["host"]] if inst["host"] else [], instance_uuids=[inst["uuid"]],
                           requested_host=host)
        try:
            found = self.scheduling.select(ctx, spec)
        except NoValidHost as err:
            raise exception.Invalid(reason=f"No valid host was found for the move: {err}") from None
        for h in found:
            caps = self.hosts.capabilities(h.host)
            if capability and caps is not None and capability not in caps:
                raise exception.Invalid(reason=f"Host {h.host} cannot take the server: its hypervisor lacks "
                                               f"'{capability}'.")
            return h.host
        raise exception.Invalid(reason="No valid host was found for the move.")

    @staticmethod
    def _no_volumes(uuid: str, what: str) -> None:
        if bdms.mappings(uuid):
            raise exception.Conflict(f"Cannot {what} instance {uuid} with volumes attached: this cloud does not "
                                     "move volume exports yet; detach them first.")

    def _undo(self, ctx: RequestContext, uuid: str, values: dict[str, Any]) -> None:
        objects.update_instance(uuid, values)
        objects.finish_action(ctx, uuid, "Error")

    # -- backups ------------------------------------------------------------------------
    def create_backup(self, ctx: RequestContext, uuid: str, name: str, backup_type: str, rotation: int,
                      metadata: dict[str, str] | None = None) -> str:
        if rotation < 0:
            raise exception.ValidationError(field="rotation", reason="must be 0 or more")
        image_svc = self.plumbing.image()
        if image_svc is None:
            raise exception.Conflict("Backups need the image service, which this cloud does not run.")
        inst = instance_for(ctx, uuid)
        if any(m["boot_index"] == 0 for m in bdms.mappings(uuid)):
            raise exception.Invalid(reason="Backing up a volume-backed server is not supported.")
        base: dict[str, Any] = {}
        try:
            base = dict(image_svc.get(ctx, inst["image_ref"])) if inst["image_ref"] else {}
        except exception.NotFound:
            base = {}
        props = {k: str(v) for k, v in (metadata or {}).items()}
        props.update({"instance_uuid": uuid, "image_type": "backup", "backup_type": backup_type,
                      "base_image_ref": inst["image_ref"] or "", "user_id": ctx.user_id or ""})
        inst = self.actions.begin(ctx, uuid, "createBackup")
        try:
            image = image_svc.create(ctx, {"name": name, "disk_format": base.get("disk_format") or "raw",
                                           "container_format": base.get("container_format") or "bare",
                                           "visibility": "private", **props})
        except Exception:
            self._undo(ctx, uuid, {"task_state": None})
            raise
        self.plumbing.rpc.cast(ctx, "backup_instance", server=inst["host"], instance_uuid=uuid,
                               image_id=image["id"], backup_type=backup_type, rotation=rotation)
        return str(image["id"])

    # -- cold migration (a resize to the same flavor) ---------------------------------
    def migrate(self, ctx: RequestContext, uuid: str, host: str | None = None) -> None:
        self._known_host(host)
        inst = instance_for(ctx, uuid)
        self._no_volumes(uuid, "migrate")
        dest = self._destination(ctx, inst, host)
        snapshot = inst["flavor"]
        inst = self.actions.begin(ctx, uuid, "migrate", extra={"new_flavor": snapshot})
        records.create(ctx, inst, records.MIGRATION, "pre-migrating", dest=dest)
        self.plumbing.rpc.cast(ctx, "prep_resize", server=dest, instance_uuid=uuid, new_flavor=snapshot,
                               source_host=inst["host"])

    # -- live migration -------------------------------------------------------------------
    def live_migrate(self, ctx: RequestContext, uuid: str, host: str | None = None,
                     block_migration: bool | None = None) -> None:
        self._known_host(host)
        inst = instance_for(ctx, uuid)
        self._no_volumes(uuid, "live-migrate")
        if inst["host"] in self.hosts.down_hosts():
            raise exception.Conflict(f"Compute service of host {inst['host']} is unavailable at this time.")
        caps = self.hosts.capabilities(inst["host"])
        if inst["vm_state"] in st.ACTIONS["live-migration"][0] and caps is not None and \
                "live_migration" not in caps:
            raise exception.Conflict(f"The hypervisor of host {inst['host']} cannot live-migrate (capability "
                                     "'live_migration').")
        dest = self._destination(ctx, inst, host, "live_migration")
        inst = self.actions.begin(ctx, uuid, "live-migration")
        records.create(ctx, inst, records.LIVE, "accepted", dest=dest)
        self.plumbing.rpc.cast(ctx, "pre_live_migration", server=dest, instance_uuid=uuid,
                               source_host=inst["host"], block_migration=bool(block_migration))

    # -- evacuation ---------------------------------------------------------------------------
    def evacuate(self, ctx: RequestContext, uuid: str, host: str | None = None,
                 admin_password: str | None = None) -> str:
        self._known_host(host, exception.NotFound)
        inst = instance_for(ctx, uuid)
        source = inst["host"]
        if not source:
            raise exception.Conflict(f"Instance {uuid} has no host; it cannot be evacuated.")
        if source not in self.hosts.down_hosts():
            raise exception.Conflict(f"Compute service of {source} is still in use: a server is evacuated only "
                                     "from a host whose compute service is down or forced down.")
        self._no_volumes(uuid, "evacuate")
        dest = self._destination(ctx, inst, host)
        meta = {**(inst.get("system_metadata") or {}), "evacuated_from_state": inst["vm_state"]}
        inst = self.actions.begin(ctx, uuid, "evacuate", record="evacuate",
                                  extra={"host": dest, "node": dest, "system_metadata": meta}, check_host=False)
        records.create(ctx, {**inst, "host": source}, records.EVACUATION, "accepted", dest=dest)
        password = admin_password or generate_password()
        self.plumbing.rpc.cast(ctx, "evacuate_instance", server=dest, instance_uuid=uuid, source_host=source,
                               admin_password=password)
        return password

    # -- shelving ---------------------------------------------------------------------------------
    def shelve(self, ctx: RequestContext, uuid: str) -> None:
        image_svc = self.plumbing.image()
        if image_svc is None:
            raise exception.Conflict("Shelving needs the image service, which this cloud does not run.")
        inst = instance_for(ctx, uuid)
        self._no_volumes(uuid, "shelve")
        base: dict[str, Any] = {}
        try:
            base = dict(image_svc.get(ctx, inst["image_ref"])) if inst["image_ref"] else {}
        except exception.NotFound:
            base = {}
        inst = self.actions.begin(ctx, uuid, "shelve")
        try:
            image = image_svc.create(ctx, {"name": f"{inst['display_name']}-shelved",
                                           "disk_format": base.get("disk_format") or "raw",
                                           "container_format": base.get("container_format") or "bare",
                                           "visibility": "private", "instance_uuid": uuid,
                                           "image_type": "snapshot", "base_image_ref": inst["image_ref"] or "",
                                           "user_id": ctx.user_id or ""})
        except Exception:
            self._undo(ctx, uuid, {"task_state": None})
            raise
        self.plumbing.rpc.cast(ctx, "shelve_instance", server=inst["host"], instance_uuid=uuid,
                               image_id=image["id"])

    def shelve_offload(self, ctx: RequestContext, uuid: str) -> None:
        inst = self.actions.begin(ctx, uuid, "shelveOffload")
        self.plumbing.rpc.cast(ctx, "shelve_offload_instance", server=inst["host"], instance_uuid=uuid)

    def offload_due(self) -> int:
        """Offload the SHELVED servers shelved longer than ``[compute] shelved_offload_time`` (> 0)."""
        wait = CONF.compute.shelved_offload_time
        if wait <= 0:
            return 0
        admin = RequestContext(roles=["admin"], is_admin=True)
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        done = 0
        with db.reader() as s:
            uuids = list(s.scalars(sa.select(Instance.uuid).where(
                Instance.deleted.is_(False), Instance.vm_state == st.SHELVED, Instance.task_state.is_(None))))
        for uuid in uuids:
            meta = objects.get_instance(uuid).get("system_metadata") or {}
            try:
                since = datetime.datetime.fromisoformat(meta.get("shelved_at") or "")
            except ValueError:
                continue
            if (now - since.replace(tzinfo=None)).total_seconds() >= wait:
                try:
                    self.shelve_offload(admin, uuid)
                    done += 1
                except exception.CumuloError:
                    continue
        return done

    def unshelve(self, ctx: RequestContext, uuid: str, availability_zone: str | None = None,
                 host: str | None = None) -> None:
        self._known_host(host)
        inst = instance_for(ctx, uuid)
        if inst["vm_state"] == st.SHELVED and inst["host"]:
            inst = self.actions.begin(ctx, uuid, "unshelve")
            self.plumbing.rpc.cast(ctx, "unshelve_instance", server=inst["host"], instance_uuid=uuid)
            return
        if inst["vm_state"] != st.SHELVED_OFFLOADED or inst["task_state"] is not None:
            raise exception.Conflict(f"Cannot 'unshelve' instance {uuid} while it is in vm_state {inst['vm_state']}"
                                     + (f", task_state {inst['task_state']}" if inst["task_state"] else ""))
        spec = RequestSpec(project_id=inst["project_id"], flavor=inst["flavor"], num_instances=1,
                           availability_zone=availability_zone or inst["requested_availability_zone"],
                           instance_uuids=[uuid], requested_host=host)
        try:
            found = self.scheduling.select(ctx, spec)
        except NoValidHost as err:
            raise exception.Invalid(reason=f"No valid host was found to unshelve the server: {err}") from None
        dest = found[0]
        inst = self.actions.begin(ctx, uuid, "unshelve", extra={
            "host": dest.host, "node": dest.host, "availability_zone": dest.availability_zone}, check_host=False)
        self.plumbing.rpc.cast(ctx, "unshelve_instance", server=dest.host, instance_uuid=uuid)

    # -- migration records ------------------------------------------------------------------------
    def list_migrations(self, ctx: RequestContext, *, instance_uuid: str | None = None, host: str | None = None,
                        status: str | None = None, migration_type: str | None = None,
                        source_compute: str | None = None, changes_since: datetime.datetime | None = None,
                        limit: int | None = None, marker: str | None = None) -> list[dict[str, Any]]:
        return records.list_migrations(project_id=None if ctx.is_admin else ctx.project_id,
                                       instance_uuid=instance_uuid, host=host, status=status,
                                       migration_type=migration_type, source_compute=source_compute,
                                       changes_since=changes_since, limit=limit, marker=marker)

    def get_migration(self, ctx: RequestContext, uuid: str, migration_id: int) -> dict[str, Any]:
        instance_for(ctx, uuid)
        for m in records.list_migrations(instance_uuid=uuid):
            if m["id"] == migration_id:
                return m
        raise exception.NotFound(f"Migration {migration_id} for instance {uuid} could not be found.")


__all__ = ["SHELVED_KEYS", "ServerMoves"]
