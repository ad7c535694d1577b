"""Tags on networking resources: the :class:`Tags` component (no dependency on other components)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

import cumulo.contracts.network as nexc
import cumulo_service_network.common as c
import cumulo_service_network.models as models
from cumulo import db
from cumulo.context import RequestContext

#: Tag-able collections: API collection name -> (model, not-found error, resource type).
TAGGABLE: dict[str, tuple[Any, type, str]] = {
    "networks": (models.Network, nexc.NetworkNotFound, "network"),
    "subnets": (models.Subnet, nexc.SubnetNotFound, "subnet"),
    "subnetpools": (models.SubnetPool, nexc.SubnetPoolNotFound, "subnetpool"),
    "ports": (models.Port, nexc.PortNotFound, "port"),
    "routers": (models.Router, nexc.RouterNotFound, "router"),
    "floatingips": (models.FloatingIP, nexc.FloatingIPNotFound, "floatingip"),
    "security-groups": (models.SecurityGroup, nexc.SecurityGroupNotFound, "security_group"),
    "security_groups": (models.SecurityGroup, nexc.SecurityGroupNotFound, "security_group"),
}


class Tags:
    """Tags of the taggable collections (:data:`TAGGABLE`)."""

    #: What ``hub.network`` offers of this component.
    API = ("get_tags", "replace_tags", "add_tag", "has_tag", "remove_tag")

    def _tag_target(self, s: orm.Session, ctx: RequestContext, collection: str, rid: str, write: bool) -> Any:
        model, notfound, _ = TAGGABLE[collection]
        obj = s.get(model, rid)
        visible = obj is not None and (c.is_owner(ctx, obj.project_id) or (
            model is models.Network and (obj.shared or obj.external) and not write))
        if not visible:
            raise notfound(id=rid)
        return obj

    @staticmethod
    def _tag(value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > 255 or "," in value or "/" in value:
            raise nexc.InvalidInput(error_message=f"'{value}' is not a valid tag (1-255 characters, no ',' or '/')")
        return value

    def get_tags(self, ctx: RequestContext, collection: str, rid: str) -> list[str]:
        with db.transaction() as s:
            self._tag_target(s, ctx, collection, rid, False)
            return c.tags_of(s, [rid])[rid]

    def replace_tags(self, ctx: RequestContext, collection: str, rid: str, tags: Any) -> list[str]:
        if not isinstance(tags, list):
            raise nexc.InvalidInput(error_message="tags must be a list of strings")
        clean = sorted({self._tag(t) for t in tags})
        with db.transaction() as s:
            obj = self._tag_target(s, ctx, collection, rid, True)
            s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == rid))
            for t in clean:
                s.add(models.Tag(resource_id=rid, tag=t, resource_type=TAGGABLE[collection][2]))
            c.bump(obj)
        return clean

    def add_tag(self, ctx: RequestContext, collection: str, rid: str, tag: str) -> None:
        tag = self._tag(tag)
        with db.transaction() as s:
            obj = self._tag_target(s, ctx, collection, rid, True)
            if s.get(models.Tag, (rid, tag)) is None:
                s.add(models.Tag(resource_id=rid, tag=tag, resource_type=TAGGABLE[collection][2]))
                c.bump(obj)

    def has_tag(self, ctx: RequestContext, collection: str, rid: str, tag: str) -> None:
        with db.transaction() as s:
            self._tag_target(s, ctx, collection, rid, False)
            if s.get(models.Tag, (rid, tag)) is None:
                raise nexc.TagNotFound(tag=tag, resource=TAGGABLE[collection][2], id=rid)

    def remove_tag(self, ctx: RequestContext, collection: str, rid: str, tag: str | None = None) -> None:
        with db.transaction() as s:
            obj = self._tag_target(s, ctx, collection, rid, True)
            if tag is None:
                s.execute(sa.delete(models.Tag).where(models.Tag.resource_id == rid))
            else:
                row = s.get(models.Tag, (rid, tag))
                if row is None:
                    raise nexc.TagNotFound(tag=tag, resource=TAGGABLE[collection][2], id=rid)
                s.delete(row)
            c.bump(obj)
