"""The compute contract's server moves (contract 1.5): backups, cold and live migration, evacuation,
shelving, and the migration records they leave.

A part of :class:`~cumulo.contracts.compute.ComputeService` (``hub.compute``), under the rules its
docstring states (what the caller sees, locked servers, "wrong state"). A move is recorded as a
:data:`MigrationView` (Nova's migration: ``migration_type`` ``resize``, ``migration``,
``live-migration`` or ``evacuation``) from the moment it is accepted; its ``status`` follows Nova's
values (``pre-migrating``, ``migrating``, ``running``, ``finished``, ``confirmed``, ``reverted``,
``completed``, ``done``, ``accepted``, ``error``, ``failed``).
"""

from __future__ import annotations

import datetime
from typing import Protocol, TypedDict, runtime_checkable

from cumulo.context import RequestContext

__all__ = ["MigrationView", "ServerMoveService"]


class MigrationView(TypedDict):
    """One move of a server between hosts (hosts are compute host names)."""

    id: int
    uuid: str
    instance_uuid: str
    project_id: str | None
    user_id: str | None
    migration_type: str
    status: str
    source_compute: str | None
    dest_compute: str | None
    dest_host: str | None
    old_flavor_id: str | None
    new_flavor_id: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@runtime_checkable
class ServerMoveService(Protocol):
    """Moving a server: between hosts, into the image service (shelve, backup) and back."""

    def create_backup(self, ctx: RequestContext, uuid: str, name: str, backup_type: str, rotation: int,
                      metadata: dict[str, str] | None = None) -> str:
        """Snapshot the server into an image with ``image_type=backup`` and ``backup_type``; then delete the
        oldest backups of that type of the server beyond ``rotation`` (0: every one, the new one included once
        it is uploaded). Returns the new image's id.

        :raises NotFound: no such server.
        :raises Conflict: locked, wrong state, or no image service.
        """

    def migrate(self, ctx: RequestContext, uuid: str, host: str | None = None) -> None:
        """Cold-migrate (a resize to the same flavor on another host, ``host`` when given); it waits in
        VERIFY_RESIZE to be confirmed or reverted.

        :raises NotFound: no such server.
        :raises Invalid: ``host`` is no compute host or its own host; no other host can take it.
        :raises Conflict: locked or wrong state; volumes attached.
        """

    def live_migrate(self, ctx: RequestContext, uuid: str, host: str | None = None,
                     block_migration: bool | None = None) -> None:
        """Move the running server to another host (``host`` when given) without stopping it.

        :raises NotFound: no such server.
        :raises Invalid: ``host`` is no compute host or its own host, or no host can take it.
        :raises Conflict: locked, wrong state, or the hypervisor cannot live-migrate (capability
            ``live_migration``); volumes attached.
        """

    def evacuate(self, ctx: RequestContext, uuid: str, host: str | None = None,
                 admin_password: str | None = None) -> str:
        """Rebuild the server on another host (``host`` when given) because its own host's compute service
        is down (or forced down); the source host removes its copy when it comes back. Returns the admin
        password (generated when None).

        :raises NotFound: no such server, or ``host`` is no compute host.
        :raises Invalid: no host can take it, or ``host`` is its own host.
        :raises Conflict: the server's host is up; wrong state; volumes attached.
        """

    def shelve(self, ctx: RequestContext, uuid: str) -> None:
        """Stop the server and snapshot it to the image service (image ``<name>-shelved``); it becomes
        SHELVED, then SHELVED_OFFLOADED (host released) after ``[compute] shelved_offload_time``.

        :raises NotFound: no such server.
        :raises Conflict: locked, wrong state, or no image service.
        """

    def shelve_offload(self, ctx: RequestContext, uuid: str) -> None:
        """Release the host of a SHELVED server now.

        :raises NotFound: no such server.
        :raises Conflict: locked or not shelved.
        """

    def unshelve(self, ctx: RequestContext, uuid: str, availability_zone: str | None = None,
                 host: str | None = None) -> None:
        """Run a shelved server again: an offloaded one is scheduled (to ``host`` or ``availability_zone``
        when given) and spawned from its shelved image, which is then deleted.

        :raises NotFound: no such server.
        :raises Invalid: ``host`` is no compute host; no host can take it.
        :raises Conflict: locked or not shelved.
        """

    def list_migrations(self, ctx: RequestContext, *, instance_uuid: str | None = None, host: str | None = None,
                        status: str | None = None, migration_type: str | None = None,
                        source_compute: str | None = None, changes_since: datetime.datetime | None = None,
                        limit: int | None = None, marker: str | None = None) -> list[MigrationView]:
        """Migration records, newest first (an administrator's view: every project's), filtered as given
        (``host``: source or destination; ``marker``: a migration uuid, the list continues after it).

        :raises NotFound: ``marker`` is no migration.
        """

    def get_migration(self, ctx: RequestContext, uuid: str, migration_id: int) -> MigrationView:
        """One migration record of server ``uuid``.

        :raises NotFound: no such server or migration of it.
        """
