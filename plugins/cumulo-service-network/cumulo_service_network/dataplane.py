"""The network service's link to its data-plane driver (``[network] driver``, NetworkDriver 3.0).

Every committed change is handed to the driver here, as the record
:mod:`.driver_records` builds for it once; a driver failure is logged, marks
the resource ``ERROR`` and never undoes the committed model. The components of
the service (:mod:`.networks`, :mod:`.ports`, :mod:`.l3`, :mod:`.secgroups`,
:mod:`.instances`) depend on :class:`DataPlane` to tell the driver about
networks, ports, routers, floating IPs and security groups, so none of them
needs another component to do it. A component that deletes something builds
its record (``*_record``) in the deleting transaction and passes it on.
Depends on :mod:`.views`, :mod:`.driver_records` and the models only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from oslo_config import cfg
from sqlalchemy import orm

import cumulo_service_network.driver_records as driver_records
import cumulo_service_network.models as models
import cumulo_service_network.views as views
from cumulo import db
from cumulo.interfaces.network import (
    Action,
    FloatingIP,
    Model,
    Network,
    NetworkDriver,
    Port,
    Router,
    SecurityGroup,
)

LOG = logging.getLogger(__name__)

R = TypeVar("R", Network, Port, Router, FloatingIP, SecurityGroup)


class DataPlane:
    """Tells the driver about committed changes (as records) and renders what it is asked.

    ``driver`` may be replaced after construction (the conformance kit does).
    """

    def __init__(self, driver: NetworkDriver, conf: cfg.ConfigOpts) -> None:
        self.driver = driver
        self.conf = conf

    def _call(self, method: Callable[[Action, R], None], action: Action, record: R) -> bool:
        """Hand one committed change to the driver; False (and logged) when it failed."""
        try:
            method(action, record)
            return True
        except Exception:
            LOG.exception("Network driver %s.%s(%s, %s) failed", self.conf.network.driver,
                          getattr(method, "__name__", method), action, record.id)
            return False

    @staticmethod
    def set_status(model: type, rid: str, status: str) -> None:
        """Set a resource's ``status`` in its own transaction (a no-op when it is gone)."""
        with db.transaction() as s:
            obj = s.get(model, rid)
            if obj is not None and hasattr(obj, "status"):
                obj.status = status

    def _report(self, ok: bool, action: Action, model: type, rid: str) -> None:
        if not ok and action != "delete":
            self.set_status(model, rid, "ERROR")

    def port_views(self, s: orm.Session, ports: list[models.Port]) -> list[dict[str, Any]]:
        """Port views, with the binding details the driver gives bound ports."""
        return views.port_views(s, ports, self.driver)

    # -- records, for a caller that must build one before it deletes the rows ---------------
    def network_record(self, s: orm.Session, net: models.Network) -> Network:
        return driver_records.networks(s, [net])[0]

    def port_record(self, s: orm.Session, port: models.Port) -> Port:
        return driver_records.ports(s, [port], self.driver)[0]

    def router_record(self, router_id: str) -> Router | None:
        """The router as the driver sees it (interfaces, gateway port, floating IPs); None when gone."""
        with db.transaction() as s:
            r = s.get(models.Router, router_id)
            return driver_records.routers(s, [r], self.driver)[0] if r is not None else None

    @staticmethod
    def fip_record(fip: models.FloatingIP) -> FloatingIP:
        return driver_records.floating_ip(fip)

    def sg_record(self, s: orm.Session, group: models.SecurityGroup) -> SecurityGroup:
        return driver_records.security_groups(s, [group])[0]

    def model(self) -> Model:
        """The whole model as the driver sees it (what ``sync`` receives)."""
        with db.reader() as s:
            return driver_records.model(s, self.driver)

    # -- notifications, one per resource kind (after the change is committed) ---------------
    def notify_network(self, action: Action, network_id: str, record: Network | None = None) -> None:
        if record is None:
            with db.transaction() as s:
                net = s.get(models.Network, network_id)
                if net is None:
                    return
                record = self.network_record(s, net)
        self._report(self._call(self.driver.network_changed, action, record), action, models.Network, network_id)

    def notify_port(self, action: Action, port_id: str, record: Port | None = None) -> None:
        if record is None:
            with db.transaction() as s:
                port = s.get(models.Port, port_id)
                if port is None:
                    return
                record = self.port_record(s, port)
        self._report(self._call(self.driver.port_changed, action, record), action, models.Port, port_id)

    def notify_router(self, action: Action, router_id: str, record: Router | None = None) -> None:
        record = record or self.router_record(router_id)
        if record is not None:
            self._report(self._call(self.driver.router_changed, action, record), action, models.Router, router_id)

    def notify_fip(self, action: Action, fip_id: str, record: FloatingIP | None = None) -> None:
        if record is None:
            with db.transaction() as s:
                fip = s.get(models.FloatingIP, fip_id)
                if fip is None:
                    return
                record = self.fip_record(fip)
        self._report(self._call(self.driver.floatingip_changed, action, record), action, models.FloatingIP, fip_id)

    def notify_sg(self, action: Action, group_id: str, record: SecurityGroup | None = None) -> None:
        if record is None:
            with db.reader() as s:  # only reads: also safe from inside another session's commit
                group = s.get(models.SecurityGroup, group_id)
                if group is None:
                    return
                record = self.sg_record(s, group)
        self._call(self.driver.security_group_changed, action, record)  # a group has no status

    def notify_sg_after_commit(self, s: orm.Session, action: Action, group_id: str) -> None:
        """:meth:`notify_sg` once ``s`` commits (for a group made inside a caller's transaction)."""
        def notify(_session: orm.Session) -> None:
            try:
                self.notify_sg(action, group_id)
            except Exception:  # the change is committed: a failed notification must not fail the request
                LOG.exception("Telling the network driver of security group %s failed", group_id)

        sa.event.listen(s, "after_commit", notify, once=True)

    def sync(self) -> None:
        """Hand the whole model to the driver's ``sync``; a failure is logged."""
        try:
            self.driver.sync(self.model())
        except Exception:
            LOG.exception("Network driver %s failed to sync the model", self.conf.network.driver)
