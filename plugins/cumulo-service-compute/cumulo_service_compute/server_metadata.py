"""A server's metadata and tags (``hub.compute`` metadata and tag methods).

Metadata counts against the project's ``metadata_items`` limit; a server has at most 50 tags.
Neither can change while the server is being deleted.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

import cumulo_service_compute.objects as objects
import cumulo_service_compute.quota as quota
import cumulo_service_compute.states as st
from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo_service_compute.common import check_locked, instance_for
from cumulo_service_compute.models import InstanceTag


class ServerMetadata:
    """A server's key/value metadata (on the instance row)."""

    def get_metadata(self, ctx: RequestContext, uuid: str) -> dict[str, str]:
        return instance_for(ctx, uuid)["metadata"]

    def update_metadata(self, ctx: RequestContext, uuid: str, metadata: dict[str, str],
                        replace: bool = False) -> dict[str, str]:
        inst = instance_for(ctx, uuid)
        check_locked(ctx, inst)
        if inst["task_state"] == st.DELETING:
            raise exception.Conflict(f"Instance {uuid} is being deleted.")
        new = dict(metadata) if replace else {**inst["metadata"], **metadata}
        limit = quota.get_limits(inst["project_id"])["metadata_items"]
        if limit >= 0 and len(new) > limit:
            raise exception.QuotaExceeded(f"Quota exceeded for metadata_items: maximum is {limit}.")
        objects.update_instance(uuid, {"metadata": new})
        return new

    def delete_metadata(self, ctx: RequestContext, uuid: str, key: str) -> None:
        inst = instance_for(ctx, uuid)
        check_locked(ctx, inst)
        if key not in inst["metadata"]:
            raise exception.NotFound(f"Metadata item was not found: {key}")
        md = dict(inst["metadata"])
        md.pop(key)
        objects.update_instance(uuid, {"metadata": md})


class ServerTags:
    """A server's tags (rows of their own, filterable in server listings)."""

    def get_tags(self, ctx: RequestContext, uuid: str) -> list[str]:
        return instance_for(ctx, uuid)["tags"]

    def set_tags(self, ctx: RequestContext, uuid: str, tags: list[str]) -> list[str]:
        inst = instance_for(ctx, uuid)
        if len(set(tags)) > 50:
            raise exception.Invalid(reason="The number of tags exceeded the per-server limit 50")
        self._tag_state(inst)
        with db.transaction() as s:
            s.execute(sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))
            for t in sorted(set(tags)):
                s.add(InstanceTag(instance_uuid=uuid, tag=t))
        return sorted(set(tags))

    def add_tag(self, ctx: RequestContext, uuid: str, tag: str) -> bool:
        inst = instance_for(ctx, uuid)
        self._tag_state(inst)
        if tag in inst["tags"]:
            return False
        if len(inst["tags"]) >= 50:
            raise exception.Invalid(reason="The number of tags exceeded the per-server limit 50")
        with db.transaction() as s:
            if s.get(InstanceTag, (uuid, tag)) is None:
                s.add(InstanceTag(instance_uuid=uuid, tag=tag))
        return True

    def delete_tag(self, ctx: RequestContext, uuid: str, tag: str) -> None:
        inst = instance_for(ctx, uuid)
        self._tag_state(inst)
        with db.transaction() as s:
            if not db.rowcount(s, sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid,
                                                               InstanceTag.tag == tag)):
                raise exception.NotFound(f"Tag {tag} could not be found for server {uuid}.")

    def delete_tags(self, ctx: RequestContext, uuid: str) -> None:
        inst = instance_for(ctx, uuid)
        self._tag_state(inst)
        with db.transaction() as s:
            s.execute(sa.delete(InstanceTag).where(InstanceTag.instance_uuid == uuid))

    @staticmethod
    def _tag_state(inst: dict[str, Any]) -> None:
        if inst["vm_state"] not in (st.ACTIVE, st.PAUSED, st.SUSPENDED, st.STOPPED, st.BUILDING, st.RESCUED,
                                    st.RESIZED, st.ERROR) or inst["task_state"] == st.DELETING:
            raise exception.Conflict(f"Cannot change tags of instance {inst['uuid']} in vm_state {inst['vm_state']}")
