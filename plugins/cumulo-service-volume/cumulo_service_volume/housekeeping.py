"""The start sweep: nothing stays transitional after a restart.

A process that died in a driver call left its volumes and snapshots in a
transitional status nobody will finish. When this node starts, before it
serves requests, each of its own rows (``host`` on this node) moves on:

* ``creating`` -> ``error`` (the data may be partial), snapshots the same;
* ``deleting`` -> ``error_deleting`` (delete again to finish), snapshots the same;
* ``extending`` -> ``error_extending`` (the size recorded is still the old one);
* ``downloading``/``maintenance`` -> ``error``;
* ``attaching``/``reserved`` -> its status from the attachments that completed (reservations never
  attached are dropped); ``detaching`` -> ``in-use`` (the export is still there; detach again);
  ``uploading`` -> ``available`` or ``in-use`` (the image service's own sweep resets the image).
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from cumulo import db
from cumulo_service_volume.common import now
from cumulo_service_volume.models import Snapshot, Volume

LOG = logging.getLogger(__name__)

VOLUME_AFTER_CRASH = {"creating": "error", "deleting": "error_deleting", "extending": "error_extending",
                      "downloading": "error", "maintenance": "error"}
SNAPSHOT_AFTER_CRASH = {"creating": "error", "deleting": "error_deleting"}


def sweep(host: str) -> dict[str, int]:
    """Move this node's transitional rows on (see the module docstring); returns how many per status."""
    moved: dict[str, int] = {}
    with db.transaction() as s:
        volumes = s.execute(sa.select(Volume).where(
            Volume.host == host, Volume.deleted == sa.false(),
            Volume.status.in_([*VOLUME_AFTER_CRASH, "attaching", "reserved", "detaching",
                               "uploading"]))).scalars().all()
        for row in volumes:
            before = row.status
            if before in VOLUME_AFTER_CRASH:
                row.status = VOLUME_AFTER_CRASH[before]
                row.error = f"the process was stopped while the volume was {before}"
            else:
                for att in list(row.attachments):
                    if att.attach_status in ("reserved", "attaching"):
                        row.attachments.remove(att)
                    elif att.attach_status == "detaching":
                        att.attach_status = "attached"
                attached = any(a.attach_status == "attached" for a in row.attachments)
                row.status = "in-use" if attached else "available"
            row.updated_at = now()
            moved[f"volume:{before}"] = moved.get(f"volume:{before}", 0) + 1
            LOG.warning("Volume %s was left %s by a stopped process; it is now %s", row.id, before, row.status)
        snaps = s.execute(sa.select(Snapshot).where(
            Snapshot.host == host, Snapshot.deleted == sa.false(),
            Snapshot.status.in_(list(SNAPSHOT_AFTER_CRASH)))).scalars().all()
        for snap in snaps:
            before = snap.status
            snap.status, snap.updated_at = SNAPSHOT_AFTER_CRASH[before], now()
            snap.error = f"the process was stopped while the snapshot was {before}"
            moved[f"snapshot:{before}"] = moved.get(f"snapshot:{before}", 0) + 1
            LOG.warning("Snapshot %s was left %s by a stopped process; it is now %s", snap.id, before, snap.status)
    return moved
