"""Image data: streaming an upload into the default store, and reading the data back out.

An upload claims the queued image (status ``saving``, ``upload_host`` =
this process's token, see :func:`~cumulo_service_image.common.process_token`)
and marks progress in ``upload_heartbeat`` while it streams, so
:mod:`cumulo_service_image.housekeeping` can tell a dead upload from a slow
one. Data that does not match what was declared kills the image; any other
failure returns it to queued. No bytes stay stored after a failure.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.image import ImageQuotaExceeded
from cumulo.interfaces import image as iface
from cumulo_service_image import access
from cumulo_service_image.common import DataError, ImageTooLarge, now, process_token
from cumulo_service_image.images import Images
from cumulo_service_image.inspection import Inspection
from cumulo_service_image.models import Image
from cumulo_service_image.quotas import Quotas
from cumulo_service_image.stores import Stores

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Claim:
    """What an image being written holds: this process's ``token`` in ``upload_host``, and its ``status``
    meanwhile (``saving`` for an upload, ``importing`` for an import). Data that is not what was declared
    kills an upload (``kill_on_bad_data``); an import goes back to queued."""

    token: str
    status: str
    kill_on_bad_data: bool = False


@dataclasses.dataclass(frozen=True)
class _Plan:
    owner: str | None
    inspection: Inspection
    props: dict[str, str]
    store_name: str


class ImageData:
    """Uploads and downloads: data in ``stores``, bytes counted against ``quotas``, the image shown by ``images``."""

    def __init__(self, conf: Any, stores: Stores, quotas: Quotas, images: Images) -> None:
        self.conf = conf
        self.stores = stores
        self.quotas = quotas
        self.images = images

    def upload(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], size: int | None = None,
               checksum: str | None = None) -> dict[str, Any]:
        """Stream ``chunks`` into the default store and make the image active.

        ``size``: the declared length (checked, 400 and killed on mismatch);
        ``checksum``: an md5 hex the data must have (likewise; the image's
        ``owner_specified.openstack.md5``/``sha256`` properties are checked
        too when set). Over ``[image] image_size_cap`` or the project's size
        quota: 413 and the image returns to queued. Data that is not of the
        image's disk format or fails its safety checks
        (:mod:`~cumulo_service_image.inspection`): 400 and back to queued; the
        detected disk's virtual size is recorded. No bytes stay stored after
        any failure.

        :raises ImageFormatRefused: the data is not of the declared format or is unsafe (400).
        :raises DataError: size or checksum mismatch (400, image killed).
        :raises ImageTooLarge: over the cap (413).
        :raises ImageQuotaExceeded: over the project's quota (413).
        """
        cap = self.conf.image.image_size_cap
        if size is not None and size > cap:
            raise ImageTooLarge(limit=cap)
        token = process_token()
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.status != "queued":
                raise exception.Conflict(reason=f"Image {image_id} has status '{row.status}'; "
                                                "data can be uploaded only to a queued image.")
            plan = self._plan(row)
            claimed = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "queued")
                                     .values(status="saving", upload_host=token, upload_heartbeat=now(),
                                             store=plan.store_name, updated_at=now()))
            if not claimed:
                raise exception.Conflict(reason=f"Image {image_id} is already being uploaded.")
        return self._write(ctx, image_id, Claim(token, "saving", kill_on_bad_data=True), plan, chunks, size,
                           checksum)

    def write_claimed(self, ctx: RequestContext, image_id: str, claim: Claim, chunks: Iterable[bytes],
                      restore: Callable[[], None] | None = None) -> dict[str, Any]:
        """Stream ``chunks`` into the default store for an image this process already holds (``claim``:
        its ``upload_host`` token and status, e.g. ``importing``), with every check of :meth:`upload`.

        On any failure ``restore`` runs (default: the image back to queued) and the error propagates.
        """
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.status != claim.status or row.upload_host != claim.token:
                raise exception.Conflict(reason=f"Image {image_id} was deleted or reset meanwhile.")
            plan = self._plan(row)
            row.store = plan.store_name
        return self._write(ctx, image_id, claim, plan, chunks, None, None, restore)

    def _plan(self, row: Image) -> _Plan:
        if not row.disk_format or not row.container_format:
            raise exception.Invalid(reason="Properties disk_format, container_format must be set prior to "
                                           "saving data.")
        inspection = Inspection(row.disk_format, row.container_format,
                                require_match=self.conf.image.require_image_format_match)
        return _Plan(owner=row.owner, inspection=inspection, props={p.name: p.value for p in row.properties},
                     store_name=self.conf.image.default_store)

    def _write(self, ctx: RequestContext, image_id: str, claim: Claim, plan: _Plan, chunks: Iterable[bytes],
               size: int | None, checksum: str | None, restore: Callable[[], None] | None = None) -> dict[str, Any]:
        """Stream the claimed image's data into its store and make it active (see :meth:`upload`)."""
        cap = self.conf.image.image_size_cap
        token, status = claim.token, claim.status
        owner, inspection, props, store_name = plan.owner, plan.inspection, plan.props, plan.store_name

        def back() -> None:
            if restore is not None:
                restore()
            else:
                self._restore(image_id, token, status)

        def bad_data() -> None:
            if claim.kill_on_bad_data:
                self._kill(image_id, token, status)
            else:
                back()

        allowance = self.quotas.size_allowance(owner, image_id)
        if size is not None and allowance is not None and size > allowance:
            back()
            raise ImageQuotaExceeded(resource="image_size_total", requested=size,
                                     used=self.quotas.size_limit() - allowance, limit=self.quotas.size_limit())
        store = self.stores.store(store_name)
        guarded = inspection.wrap(self.guard(image_id, claim, chunks, cap, allowance))
        try:
            stored = store.add(image_id, guarded, expected_size=size, hash_algo=self.conf.image.hashing_algorithm)
        except iface.ImageSizeMismatch as err:
            bad_data()
            raise DataError(reason=f"Image data size does not match the declared size: {err}") from None
        except BaseException as err:
            back()
            if isinstance(err, iface.ImageExists):
                raise exception.Conflict(reason=f"Data for image {image_id} already exists in the store.") from None
            if isinstance(err, iface.ImageStoreFull):
                raise ImageQuotaExceeded("The image store has no room for this image.", resource="store",
                                         requested=size or 0, used=0, limit=0) from None
            raise
        mismatch = _checksum_mismatch(stored, checksum, props)
        if mismatch:
            _discard_stored(store, stored.location)
            bad_data()
            raise DataError(reason=f"Image data checksum mismatch: {mismatch}.")
        try:
            inspected = inspection.verdict(stored.size)
        except BaseException:
            _discard_stored(store, stored.location)
            back()
            raise
        virtual_size = inspected.virtual_size if inspected is not None else None
        with db.transaction() as s:
            done = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == status,
                                                         Image.upload_host == token, Image.deleted == sa.false())
                                  .values(status="active", size=stored.size, virtual_size=virtual_size,
                                          checksum=stored.checksum,
                                          os_hash_algo=stored.os_hash_algo, os_hash_value=stored.os_hash_value,
                                          location=stored.location, store=store_name, upload_host=None,
                                          upload_heartbeat=None, updated_at=now()))
        if not done:
            _discard_stored(store, stored.location)
            raise exception.Conflict(reason=f"Image {image_id} was deleted or reset during the upload.")
        return self.images.get(ctx, image_id)

    def guard(self, image_id: str, claim: Claim, chunks: Iterable[bytes], cap: int,
               allowance: int | None) -> Iterator[bytes]:
        """Pass chunks on, enforcing the cap and quota and marking progress for the dead-upload check."""
        total = 0
        interval = self.conf.image.upload_heartbeat_interval
        last = time.monotonic()
        for chunk in chunks:
            total += len(chunk)
            if total > cap:
                raise ImageTooLarge(limit=cap)
            if allowance is not None and total > allowance:
                raise ImageQuotaExceeded(resource="image_size_total", requested=total, used=0,
                                         limit=self.quotas.size_limit())
            current = time.monotonic()
            if current - last >= interval:
                last = current
                heartbeat(image_id, claim.token, claim.status)
            yield chunk

    @staticmethod
    def _restore(image_id: str, token: str, status: str = "saving") -> None:
        """Back to queued: the upload this process (``token``) holds failed for a reason other than its data."""
        with db.transaction() as s:
            s.execute(sa.update(Image).where(Image.id == image_id, Image.upload_host == token,
                                             Image.status == status)
                      .values(status="queued", upload_host=None, upload_heartbeat=None, store=None,
                              updated_at=now()))

    @staticmethod
    def _kill(image_id: str, token: str, status: str = "saving") -> None:
        """Killed: the data of the upload this process (``token``) holds is not what was declared."""
        with db.transaction() as s:
            s.execute(sa.update(Image).where(Image.id == image_id, Image.upload_host == token,
                                             Image.status == status)
                      .values(status="killed", upload_host=None, upload_heartbeat=None, updated_at=now()))

    def open_data(self, ctx: RequestContext, image_id: str, offset: int = 0,
                  length: int | None = None) -> tuple[dict[str, Any], Iterator[bytes] | None]:
        """The image and an iterator over its data (from ``offset``, ``length`` bytes).

        The iterator is None when the image has no data yet. Deactivated
        images: 403 unless admin.
        """
        image = self.images.get(ctx, image_id)
        if image["status"] == "deactivated" and not ctx.is_admin:
            raise exception.Forbidden("The requested image has been deactivated. Image data download is forbidden.")
        if image["status"] not in ("active", "deactivated") or not image["location"]:
            return image, None
        st = self.stores.of_image(image["store"], image["location"])
        try:
            return image, st.get(image["location"], offset, length)
        except iface.ImageDataNotFound:
            raise exception.NotFound(f"The data of image {image_id} is missing from its store.") from None

    def download(self, ctx: RequestContext, image_id: str) -> Iterator[bytes]:
        """The whole image data as an iterator of bytes. Conflict if the image has no data."""
        image, data = self.open_data(ctx, image_id)
        if data is None:
            raise exception.Conflict(reason=f"Image {image_id} has no data (status '{image['status']}').")
        return data


def _checksum_mismatch(stored: iface.StoredImage, checksum: str | None, props: dict[str, Any]) -> str | None:
    """How the stored data differs from the md5 given (or the owner-specified md5/sha256 properties), if it does."""
    expected = {"md5": (checksum or props.get("owner_specified.openstack.md5") or "").lower(),
                "sha256": (props.get("owner_specified.openstack.sha256") or "").lower()}
    if expected["md5"] and expected["md5"] != stored.checksum:
        return f"md5 of the data is {stored.checksum}, expected {expected['md5']}"
    if expected["sha256"] and stored.os_hash_algo == "sha256" and expected["sha256"] != stored.os_hash_value:
        return f"sha256 of the data is {stored.os_hash_value}, expected {expected['sha256']}"
    return None


def heartbeat(image_id: str, token: str, status: str = "saving") -> None:
    """Mark progress of the transfer ``token`` holds (image in ``status``); 409 when the image was deleted
    or reset meanwhile."""
    with db.transaction() as s:
        alive = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.upload_host == token,
                                                      Image.status == status)
                               .values(upload_heartbeat=now()))
    if not alive:
        raise exception.Conflict(reason=f"Image {image_id} was deleted or reset during the upload.")


def _discard_stored(store: iface.ImageStore, location: str) -> None:
    try:
        store.delete(location)
    except Exception:
        LOG.exception("Removing rejected image data at %s failed", location)
