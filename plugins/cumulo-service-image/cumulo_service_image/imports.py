"""Interoperable image import (Glance's ``/stage`` and ``/import``): ``glance-direct`` and ``web-download``.

Status lifecycle (beside a plain upload's, see :mod:`cumulo_service_image.images`)::

    queued --stage--> uploading --import glance-direct--> importing --ok--> active
    queued --import web-download----------------------->  importing
                                   importing --refused or failed--> queued (os_glance_failed_import)

* ``stage`` writes the data to ``[image] staging_path`` (``<image id>``, mode 0600; ``.part`` while it
  streams), under the same size cap and quota as an upload. The image is ``uploading`` from then on.
* ``import_image`` checks the request, claims the image (``importing``, ``upload_host`` this process),
  records an ``api_image_import`` task (shown by ``GET /v2/images/{id}/tasks``) and sets the
  ``os_glance_import_task`` and ``os_glance_importing_to_stores`` properties, then runs the import in a
  thread: the staged file, or the URL fetched by the service (only one that passes
  ``[import_filtering_opts]``, checked again with the host's addresses and at each redirect), is
  streamed into the default store through :meth:`ImageData.write_claimed`, with every check of an upload
  (size cap, quota, checksums, format inspection).
* A failed import puts the image back to ``queued`` with ``os_glance_failed_import`` naming the store,
  removes the staged data and ends the task ``failure`` with the reason as its message.
* :meth:`Imports.sweep` (at start and with the periodic cleanup) fails imports and stages whose process
  died, so nothing stays ``importing`` after a restart, and removes staged files nothing needs.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import sqlalchemy as sa

from cumulo import db, exception
from cumulo.context import RequestContext
from cumulo.contracts.image import ImageQuotaExceeded
from cumulo_service_image import access
from cumulo_service_image.common import DataError, ImageTooLarge, now, process_token
from cumulo_service_image.housekeeping import holder_dead
from cumulo_service_image.image_data import Claim, ImageData
from cumulo_service_image.models import Image, ImageProperty
from cumulo_service_image.quotas import Quotas
from cumulo_service_image.task_models import ImageTask
from cumulo_service_image.tasks import TIME_TO_LIVE

LOG = logging.getLogger(__name__)

METHODS = ("glance-direct", "web-download")
TASK_TYPE = "api_image_import"
CHUNK = 64 * 1024
MAX_REDIRECTS = 5
DEFAULT_PORTS = {"http": 80, "https": 443}
#: The properties an import sets (reserved: users cannot set ``os_glance_*`` themselves).
TASK_PROP, IMPORTING_PROP, FAILED_PROP = "os_glance_import_task", "os_glance_importing_to_stores", \
    "os_glance_failed_import"


@dataclasses.dataclass(frozen=True)
class ImportRequest:
    """A checked ``POST /v2/images/{id}/import`` body: the method, its URI (web-download), the body as given."""

    method: str
    uri: str | None
    body: dict[str, Any]


def parse_import_request(body: Any, enabled: list[str], default_store: str) -> ImportRequest:
    """The import request in ``body``; 400 naming what is wrong (an unknown or disabled method, no URI...).

    ``stores`` may name only ``default_store`` (the one store imports write to); ``all_stores`` is
    accepted, as Glance does without multiple stores.
    """
    if not isinstance(body, dict):
        raise exception.Invalid(reason="The import request must be a JSON object.")
    method = body.get("method")
    if not isinstance(method, dict) or not isinstance(method.get("name"), str):
        raise exception.ValidationError(field="method", reason="must be an object with a 'name'")
    name = method["name"]
    if name not in enabled:
        offered = ", ".join(enabled) or "none"
        raise exception.Invalid(reason=f"Import method '{name}' is not available; available: {offered}.")
    stores = body.get("stores")
    if stores is not None:
        if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
            raise exception.ValidationError(field="stores", reason="must be a list of store names")
        others = [s for s in stores if s != default_store]
        if others:
            raise exception.Invalid(reason=f"Images are imported to the store '{default_store}' only; "
                                           f"not to {', '.join(others)}.")
    for flag in ("all_stores", "all_stores_must_succeed"):
        if flag in body and not isinstance(body[flag], bool):
            raise exception.ValidationError(field=flag, reason="must be a boolean")
    uri = method.get("uri")
    if name == "web-download":
        if not isinstance(uri, str) or not uri:
            raise exception.ValidationError(field="method.uri", reason="is required for 'web-download'")
    elif uri is not None:
        raise exception.ValidationError(field="method.uri", reason=f"is only for 'web-download', not '{name}'")
    return ImportRequest(method=name, uri=uri, body=body)


class UriFilter:
    """Which URLs web-download may fetch: ``[import_filtering_opts]`` (Glance's options, plus
    ``disallowed_networks``: the addresses a host resolves to must be outside them)."""

    def __init__(self, opts: Any) -> None:
        self.opts = opts

    def refusal(self, uri: str, resolve: bool = True) -> str | None:
        """Why ``uri`` may not be fetched, or None. Without ``resolve`` only an address literal is checked
        against the networks (a name is checked when fetched)."""
        o = self.opts
        try:
            parts = urlsplit(uri)
            port = parts.port
        except ValueError:
            return f"'{uri}' is not a valid URI"
        scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        if not scheme:
            return f"'{uri}' is not an absolute URI"
        allowed = [s.lower() for s in o.allowed_schemes]
        if allowed and scheme not in allowed:
            return f"scheme '{scheme}' is not allowed (allowed: {', '.join(allowed)})"
        if not allowed and scheme in [s.lower() for s in o.disallowed_schemes]:
            return f"scheme '{scheme}' is disallowed"
        if not host:
            return f"'{uri}' names no host"
        port = port or DEFAULT_PORTS.get(scheme)
        if o.allowed_ports and port not in o.allowed_ports:
            return f"port {port} is not allowed (allowed: {', '.join(map(str, o.allowed_ports))})"
        if not o.allowed_ports and port in o.disallowed_ports:
            return f"port {port} is disallowed"
        hosts = [h.lower() for h in o.allowed_hosts]
        if hosts:
            return None if host in hosts else f"host '{host}' is not in the allowed hosts"
        if host in [h.lower() for h in o.disallowed_hosts]:
            return f"host '{host}' is disallowed"
        return self._address_refusal(host, port, resolve)

    def _address_refusal(self, host: str, port: int | None, resolve: bool) -> str | None:
        networks = [ipaddress.ip_network(n, strict=False) for n in self.opts.disallowed_networks]
        try:
            addresses = [ipaddress.ip_address(host)]
        except ValueError:
            if not resolve:
                return None
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as err:
                return f"host '{host}' does not resolve ({err})"
            addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        for address in addresses:
            mapped = getattr(address, "ipv4_mapped", None)
            for candidate in (address, mapped) if mapped else (address,):
                for net in networks:
                    if candidate.version == net.version and candidate in net:
                        return (f"host '{host}' is (or resolves to) {address}, in the disallowed network {net} "
                                "(loopback, link-local and private addresses are refused unless the host is "
                                "in [import_filtering_opts] allowed_hosts)")
        return None


class Imports:
    """Staging and importing image data: records through ``image_data``, bytes counted by ``quotas``;
    ``conf`` gives ``[image]`` and ``[import_filtering_opts]``."""

    def __init__(self, conf: Any, quotas: Quotas, image_data: ImageData) -> None:
        self.conf = conf
        self.quotas = quotas
        self.image_data = image_data
        self.threads: list[threading.Thread] = []

    # -- what is offered
    def methods(self) -> list[str]:
        """The import methods enabled (``[image] enabled_import_methods``), in Glance's order."""
        enabled = set(self.conf.image.enabled_import_methods)
        return [m for m in METHODS if m in enabled]

    def staging_dir(self) -> str:
        return self.conf.image.staging_path or os.path.join(self.conf.state_path, "image-staging")

    def _staged(self, image_id: str) -> str:
        return os.path.join(self.staging_dir(), image_id)

    @property
    def filter(self) -> UriFilter:
        return UriFilter(self.conf.import_filtering_opts)

    # -- stage
    def stage(self, ctx: RequestContext, image_id: str, chunks: Iterable[bytes], size: int | None = None) -> None:
        """Stage the image's data for a ``glance-direct`` import: queued -> uploading.

        :raises NotFound: glance-direct is not enabled, or no such image.
        :raises Conflict: the image is not queued (409).
        :raises ImageTooLarge: over ``[image] image_size_cap`` (413; back to queued, nothing kept).
        :raises ImageQuotaExceeded: over the project's size quota (413; likewise).
        """
        if "glance-direct" not in self.methods():
            raise exception.NotFound("The 'glance-direct' import method is not enabled: nothing can be staged.")
        cap = self.conf.image.image_size_cap
        if size is not None and size > cap:
            raise ImageTooLarge(limit=cap)
        token = process_token()
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.status != "queued":
                raise exception.Conflict(reason=f"Image {image_id} has status '{row.status}'; data can be staged "
                                                "only for a queued image.")
            owner = row.owner
            claimed = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "queued")
                                     .values(status="uploading", upload_host=token, upload_heartbeat=now(),
                                             updated_at=now()))
            if not claimed:
                raise exception.Conflict(reason=f"Image {image_id} is already being staged or uploaded.")
        path = self._staged(image_id)
        part = path + ".part"
        try:
            allowance = self.quotas.size_allowance(owner, image_id)
            if size is not None and allowance is not None and size > allowance:
                raise ImageQuotaExceeded(resource="image_size_total", requested=size,
                                         used=self.quotas.size_limit() - allowance, limit=self.quotas.size_limit())
            os.makedirs(self.staging_dir(), mode=0o700, exist_ok=True)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
            total = 0
            with os.fdopen(fd, "wb") as f:
                for chunk in self.image_data.guard(image_id, Claim(token, "uploading"), chunks, cap, allowance):
                    f.write(chunk)
                    total += len(chunk)
                f.flush()
                os.fsync(f.fileno())
            if size is not None and total != size:
                raise DataError(reason=f"Image data size does not match the declared size: {total} bytes "
                                       f"received, {size} declared")
            os.replace(part, path)
        except BaseException:
            _remove(part)
            self._reset(image_id, token, "uploading")
            raise
        with db.transaction() as s:
            done = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "uploading",
                                                         Image.upload_host == token, Image.deleted == sa.false())
                                  .values(upload_host=None, upload_heartbeat=None, updated_at=now()))
        if not done:
            _remove(path)
            raise exception.Conflict(reason=f"Image {image_id} was deleted or reset while its data was staged.")

    # -- import
    def import_image(self, ctx: RequestContext, image_id: str, body: Any, run: bool = True) -> str:
        """Start importing the image's data (``POST /v2/images/{id}/import``); returns the task's id.

        :raises Invalid: a bad request, or a web-download URI the filter refuses (400, saying why).
        :raises Conflict: glance-direct and nothing staged, web-download and the image not queued, or the
            image has no disk/container format (409).
        """
        default_store = self.conf.image.default_store
        req = parse_import_request(body, self.methods(), default_store)
        if req.uri is not None:
            why = self.filter.refusal(req.uri, resolve=False)
            if why:
                raise exception.Invalid(reason=f"URI for web-download does not pass filtering: {why}.")
        token = process_token()
        task_id = str(uuid.uuid4())
        with db.transaction() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if not row.disk_format or not row.container_format:
                raise exception.Conflict(reason="Properties disk_format, container_format must be set prior to "
                                                "importing data.")
            if req.method == "glance-direct":
                if row.status != "uploading" or row.upload_host is not None \
                        or not os.path.exists(self._staged(image_id)):
                    raise exception.Conflict(reason=f"Image {image_id} has no staged data (status '{row.status}'); "
                                                    "stage it (PUT /v2/images/{id}/stage) before a 'glance-direct' "
                                                    "import.")
                source = "uploading"
            elif row.status != "queued":
                raise exception.Conflict(reason=f"Image {image_id} has status '{row.status}'; a 'web-download' "
                                                "import needs a queued image.")
            else:
                source = "queued"
            owner = ctx.project_id or row.owner or ""
            claimed = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == source,
                                                            Image.upload_host.is_(None))
                                     .values(status="importing", upload_host=token, upload_heartbeat=now(),
                                             updated_at=now()))
            if not claimed:
                raise exception.Conflict(reason=f"Image {image_id} is already being imported.")
            _set_props(s, image_id, {TASK_PROP: task_id, IMPORTING_PROP: default_store, FAILED_PROP: None})
            given = {"image_id": image_id, "import_req": req.body, "backend": [default_store]}
            s.add(ImageTask(id=task_id, type=TASK_TYPE, status="pending", owner=owner, input=json.dumps(given),
                            message="", created_at=now(), image_id=image_id, request_id=ctx.request_id,
                            user_id=ctx.user_id))
        if run:
            thread = threading.Thread(target=self.run_import, args=(ctx, task_id),
                                      name=f"image-import-{image_id[:8]}", daemon=True)
            self.threads.append(thread)
            thread.start()
        return task_id

    def run_import(self, ctx: RequestContext, task_id: str) -> None:
        """Move the data into the store; the task ends ``success`` or ``failure`` (never raises)."""
        with db.transaction() as s:
            task = s.get(ImageTask, task_id)
            if task is None or task.image_id is None or task.status != "pending":
                return
            task.status, task.updated_at = "processing", now()
            image_id, given = task.image_id, json.loads(task.input)
        method = given["import_req"]["method"]
        store = (given.get("backend") or [self.conf.image.default_store])[0]
        claim = Claim(process_token(), "importing")
        staged = self._staged(image_id)

        def restore() -> None:
            _fail_image(image_id, claim.token, store)

        try:
            chunks = _read_file(staged) if method["name"] == "glance-direct" else self._fetch(str(method["uri"]))
            self.image_data.write_claimed(ctx, image_id, claim, chunks, restore=restore)
        except Exception as err:  # the task and the image say why
            LOG.info("Import of image %s (task %s) failed: %s", image_id, task_id, err)
            restore()
            _remove(staged)
            _finish(task_id, "failure", None, _message(err))
            return
        with db.transaction() as s:
            _set_props(s, image_id, {IMPORTING_PROP: ""})
        _remove(staged)
        _finish(task_id, "success", {"image_id": image_id}, "")

    def _fetch(self, uri: str) -> Iterator[bytes]:
        """The data at ``uri``, each URL of the redirect chain checked by the filter before it is fetched."""
        url = uri
        for _ in range(MAX_REDIRECTS + 1):
            why = self.filter.refusal(url)
            if why:
                raise exception.Invalid(reason=f"URI for web-download does not pass filtering: {why}.")
            resp = requests.get(url, stream=True, timeout=30, allow_redirects=False)
            if resp.is_redirect:
                url = urljoin(url, resp.headers.get("Location", ""))
                resp.close()
                continue
            if resp.status_code != 200:
                resp.close()
                raise exception.Invalid(reason=f"Fetching {url} answered {resp.status_code} {resp.reason}.")
            return _iterate(resp)
        raise exception.Invalid(reason=f"Fetching {uri} was redirected more than {MAX_REDIRECTS} times.")

    def delete_from_store(self, ctx: RequestContext, store_id: str, image_id: str) -> None:
        """``DELETE /v2/stores/{store}/{image}`` (Glance's removal of one copy of an image): an image has
        its data in one store only here, and Glance never deletes an image's last location.

        :raises NotFound: no such store, no such image, or its data is not in that store.
        :raises Conflict: the image is not active (409).
        :raises Forbidden: that store holds the image's only copy (403, always here).
        """
        if store_id not in self.image_data.stores.enabled_stores():
            raise exception.NotFound(resource="Store", id=store_id)
        with db.reader() as s:
            row = access.load(s, ctx, image_id, for_update=True)
            if row.status != "active":
                raise exception.Conflict(reason="It's not allowed to remove image data from store if image "
                                                f"status is not 'active' (it is '{row.status}').")
            if row.store != store_id or not row.location:
                raise exception.NotFound(f"Image {image_id} has no data in store {store_id}.")
        raise exception.Forbidden("Cannot delete image's last location: the store holds the image's only copy.")

    # -- recovery
    def sweep(self) -> int:
        """Fail imports and stages whose process is gone (the image back to queued, its task ``failure``),
        and remove staged files no image needs. Returns how many images it fixed."""
        stale_before = now() - datetime.timedelta(seconds=self.conf.image.stale_upload_timeout)
        with db.reader() as s:
            rows = s.execute(sa.select(Image.id, Image.status, Image.upload_host, Image.upload_heartbeat,
                                       Image.store)
                             .where(Image.status.in_(("uploading", "importing")))).all()
        fixed = 0
        for image_id, status, holder, beat, store_name in rows:
            if status == "uploading" and holder is None:
                if os.path.exists(self._staged(image_id)):
                    continue  # staged, waiting for its import
                fixed += self._reset(image_id, None, "uploading")
                LOG.warning("Image %s was uploading but its staged data is gone; back to queued", image_id)
                continue
            if not holder_dead(holder, beat, stale_before):
                continue
            if status == "importing":
                try:
                    if store_name:
                        self.image_data.stores.store(store_name).discard(image_id)
                except Exception:
                    LOG.exception("Removing partial data of image %s failed", image_id)
                    continue
                if _fail_image(image_id, holder, store_name or self.conf.image.default_store):
                    fixed += 1
                    _fail_tasks(image_id, "The import was interrupted: the image service stopped during it.")
                    LOG.warning("Image %s was left importing by a dead process (%s); back to queued",
                                image_id, holder)
            else:
                fixed += self._reset(image_id, holder, "uploading")
                LOG.warning("Image %s was left uploading by a dead stage (%s); back to queued", image_id, holder)
            _remove(self._staged(image_id) + ".part")
            _remove(self._staged(image_id))
        self._remove_orphans()
        return fixed

    def _remove_orphans(self) -> None:
        try:
            names = os.listdir(self.staging_dir())
        except FileNotFoundError:
            return
        ids = {n.removesuffix(".part") for n in names}
        with db.reader() as s:
            wanted = set(s.scalars(sa.select(Image.id).where(Image.id.in_(ids), Image.deleted == sa.false(),
                                                             Image.status.in_(("uploading", "importing")))))
        for name in names:
            if name.removesuffix(".part") not in wanted:
                _remove(os.path.join(self.staging_dir(), name))

    @staticmethod
    def _reset(image_id: str, token: str | None, status: str) -> int:
        with db.transaction() as s:
            holder = Image.upload_host.is_(None) if token is None else Image.upload_host == token
            return db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == status, holder)
                               .values(status="queued", upload_host=None, upload_heartbeat=None,
                                       updated_at=now()))


def _set_props(s: Any, image_id: str, values: dict[str, str | None]) -> None:
    """Set (None: remove) reserved properties the service itself keeps on an image."""
    s.execute(sa.delete(ImageProperty).where(ImageProperty.image_id == image_id,
                                             ImageProperty.name.in_(list(values))))
    for name, value in values.items():
        if value is not None:
            s.execute(sa.insert(ImageProperty).values(image_id=image_id, name=name, value=value))


def _fail_image(image_id: str, token: str | None, store: str) -> bool:
    """The import ``token`` holds failed: back to queued, ``os_glance_failed_import`` naming ``store``."""
    holder = Image.upload_host.is_(None) if token is None else Image.upload_host == token
    with db.transaction() as s:
        done = db.rowcount(s, sa.update(Image).where(Image.id == image_id, Image.status == "importing", holder)
                           .values(status="queued", upload_host=None, upload_heartbeat=None, store=None,
                                   location=None, updated_at=now()))
        if done:
            _set_props(s, image_id, {IMPORTING_PROP: "", FAILED_PROP: store})
    return bool(done)


def _finish(task_id: str, status: str, result: dict[str, Any] | None, message: str) -> None:
    with db.transaction() as s:
        row = s.get(ImageTask, task_id)
        if row is not None:
            row.status, row.message, row.updated_at = status, message, now()
            row.result = json.dumps(result) if result is not None else None
            row.expires_at = now() + TIME_TO_LIVE


def _fail_tasks(image_id: str, message: str) -> None:
    with db.transaction() as s:
        s.execute(sa.update(ImageTask).where(ImageTask.image_id == image_id,
                                             ImageTask.status.in_(("pending", "processing")))
                  .values(status="failure", message=message, updated_at=now(), expires_at=now() + TIME_TO_LIVE))


def _message(err: BaseException) -> str:
    if isinstance(err, exception.CumuloError):
        return str(err)
    if isinstance(err, requests.RequestException):
        return f"Fetching the image data failed: {err}"
    return f"{type(err).__name__}: {err}"


def _read_file(path: str) -> Iterator[bytes]:
    with open(path, "rb") as f:
        yield from iter(lambda: f.read(CHUNK), b"")


def _iterate(resp: requests.Response) -> Iterator[bytes]:
    with resp:
        yield from resp.iter_content(CHUNK)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError:
        LOG.exception("Removing staged image data %s failed", path)
