"""Housekeeping: resetting uploads a dead process left in ``saving``, and removing the data of deleted
images whose removal failed (run at start and every ``[image] cleanup_interval`` seconds)."""

from __future__ import annotations

import datetime
import logging
import os
from typing import Any

import sqlalchemy as sa

from cumulo import db
from cumulo_service_image.common import BOOT, now, process_token
from cumulo_service_image.models import Image
from cumulo_service_image.stores import Stores

LOG = logging.getLogger(__name__)


class Housekeeping:
    """The cleanup pass, removing data from ``stores``; ``conf`` gives ``[image] stale_upload_timeout``."""

    def __init__(self, conf: Any, stores: Stores) -> None:
        self.conf = conf
        self.stores = stores

    def cleanup(self) -> int:
        """Reset dead uploads (partial data removed, image back to queued) and delete data of deleted images.

        An upload is dead when the process that runs it is gone (same host:
        its pid does not exist or belongs to an earlier boot of this
        process), or when it has not marked progress for
        ``[image] stale_upload_timeout`` seconds. Returns how many images it fixed.
        """
        stale_before = now() - datetime.timedelta(seconds=self.conf.image.stale_upload_timeout)
        fixed = 0
        with db.transaction() as s:
            saving = s.execute(sa.select(Image.id, Image.upload_host, Image.upload_heartbeat, Image.store)
                               .where(Image.status == "saving")).all()
            trash = s.execute(sa.select(Image.id, Image.store, Image.location)
                              .where(Image.deleted == sa.true(), Image.location.is_not(None))).all()
        for image_id, holder, beat, store_name in saving:
            if not holder_dead(holder, beat, stale_before):
                continue
            try:
                if store_name:
                    self.stores.store(store_name).discard(image_id)
            except Exception:
                LOG.exception("Removing partial data of image %s failed", image_id)
                continue
            with db.transaction() as s:
                fixed += db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "saving",
                                                               Image.upload_host == holder)
                                        .values(status="queued", upload_host=None, upload_heartbeat=None,
                                                store=None, location=None, updated_at=now()))
            LOG.warning("Image %s was left in 'saving' by a dead upload (%s); back to queued", image_id, holder)
        for image_id, store_name, location in trash:
            if location is None:  # excluded by the query (the column is nullable)
                continue
            self.stores.delete_data(image_id, store_name, location)
            fixed += 1
        return fixed


def holder_dead(holder: str | None, beat: datetime.datetime | None, stale_before: datetime.datetime) -> bool:
    """Whether the process ``holder`` (a :func:`process_token`) that marked progress at ``beat`` is gone:
    no progress since ``stale_before``, or (same host) its pid does not exist or is this process's from an
    earlier boot."""
    from cumulo.conf import CONF

    if holder is None or beat is None or beat < stale_before:
        return True
    host, _, rest = holder.partition(":")
    pid_text, _, boot = rest.partition(":")
    if holder != process_token() and host == CONF.host:
        # Same host: the process that holds the transfer must still exist.
        if not pid_text.isdigit() or not _pid_alive(int(pid_text)):
            return True
        if int(pid_text) == os.getpid() and boot != BOOT:
            return True
    return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
