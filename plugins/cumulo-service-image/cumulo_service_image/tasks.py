"""Image tasks (``hub.image.tasks``): Glance's ``import`` task, data fetched from an HTTP(S) URL.

A task is created ``pending`` and run in the background: it makes an image with the
``image_properties`` given, streams ``import_from`` into it (as an upload would, so size caps,
quotas and format checks apply), and ends ``success`` with the image's id as ``result``, or
``failure`` with the reason as ``message`` (the image it made is deleted). Tasks are for
admins (Glance's ``tasks_api_access``); a caller sees its project's tasks.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import requests
import sqlalchemy as sa

from cumulo import db, exception, policy
from cumulo.context import RequestContext
from cumulo_service_image.common import iso, now
from cumulo_service_image.image_data import ImageData
from cumulo_service_image.images import Images
from cumulo_service_image.task_models import ImageTask

LOG = logging.getLogger(__name__)
TYPES = ("import",)
STATUSES = ("pending", "processing", "success", "failure")
CHUNK = 64 * 1024
#: How long a finished task is kept (Glance's default ``task_time_to_live``, 48 hours).
TIME_TO_LIVE = datetime.timedelta(hours=48)


def task_view(row: ImageTask, detail: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.id, "type": row.type, "status": row.status, "owner": row.owner,
                           "expires_at": iso(row.expires_at), "created_at": iso(row.created_at),
                           "updated_at": iso(row.updated_at or row.created_at), "self": f"/v2/tasks/{row.id}",
                           "schema": "/v2/schemas/task"}
    if detail:
        out.update(input=json.loads(row.input), result=json.loads(row.result) if row.result else None,
                   message=row.message)
    if row.image_id is not None:  # an image's import (Glance 2.12's image tasks)
        out.update(image_id=row.image_id, request_id=row.request_id, user_id=row.user_id)
    return out


def _check_input(body: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(body, dict):
        raise exception.Invalid(reason="A task must be a JSON object.")
    kind = body.get("type")
    if kind not in TYPES:
        raise exception.ValidationError(field="type", reason=f"{kind!r} is not one of {', '.join(TYPES)}")
    given = body.get("input")
    if not isinstance(given, dict):
        raise exception.ValidationError(field="input", reason="is required (an object)")
    for key in ("import_from", "import_from_format", "image_properties"):
        if key not in given:
            raise exception.ValidationError(field=f"input.{key}", reason="is required")
    url = urlparse(str(given["import_from"]))
    if url.scheme not in ("http", "https") or not url.netloc:
        raise exception.ValidationError(field="input.import_from", reason="must be an http or https URL")
    if not isinstance(given["image_properties"], dict):
        raise exception.ValidationError(field="input.image_properties", reason="must be an object")
    return kind, given


class Tasks:
    """Creates, lists and shows tasks, and runs each in a thread of its own."""

    def __init__(self, images: Images, image_data: ImageData) -> None:
        self.images, self.image_data = images, image_data
        self.threads: list[threading.Thread] = []

    def create_task(self, ctx: RequestContext, body: Any, run: bool = True) -> dict[str, Any]:
        """Record the task ``pending`` and start it (``run``). 400 for a bad type or input, 403 for non-admins."""
        policy.authorize(ctx, "image:add_task", {})
        kind, given = _check_input(body)
        if not ctx.project_id:
            raise exception.Invalid(reason="A task needs a project-scoped token.")
        row = ImageTask(id=str(uuid.uuid4()), type=kind, status="pending", owner=ctx.project_id,
                        input=json.dumps(given), message="", created_at=now())
        with db.transaction() as s:
            s.add(row)
            s.flush()
            out = task_view(row)
        if run:
            thread = threading.Thread(target=self.run_task, args=(ctx, row.id), name=f"image-task-{row.id[:8]}",
                                      daemon=True)
            self.threads.append(thread)
            thread.start()
        return out

    def _load(self, s: Any, ctx: RequestContext, task_id: str) -> ImageTask:
        row = s.get(ImageTask, task_id)
        if row is None or (not ctx.is_admin and row.owner != ctx.project_id):
            raise exception.NotFound(resource="Task", id=task_id)
        return row

    def get_task(self, ctx: RequestContext, task_id: str) -> dict[str, Any]:
        policy.authorize(ctx, "image:get_task", {})
        with db.reader() as s:
            return task_view(self._load(s, ctx, task_id))

    def list_tasks(self, ctx: RequestContext, status: str | None = None, kind: str | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """The project's tasks, newest first, without their input and result (as Glance lists them)."""
        policy.authorize(ctx, "image:get_tasks", {})
        q = sa.select(ImageTask).order_by(ImageTask.created_at.desc(), ImageTask.id)
        if not ctx.is_admin:
            q = q.where(ImageTask.owner == ctx.project_id)
        if status:
            q = q.where(ImageTask.status == status)
        if kind:
            q = q.where(ImageTask.type == kind)
        if limit is not None:
            q = q.limit(limit)
        with db.reader() as s:
            return [task_view(r, detail=False) for r in s.scalars(q)]

    def image_tasks(self, ctx: RequestContext, image_id: str) -> list[dict[str, Any]]:
        """The tasks of an image's imports (``GET /v2/images/{id}/tasks``), oldest first; 404 for an image
        ``ctx`` may not see. Shown to whoever sees the image, as Glance does."""
        self.images.get(ctx, image_id)
        q = sa.select(ImageTask).where(ImageTask.image_id == image_id).order_by(ImageTask.created_at, ImageTask.id)
        with db.reader() as s:
            return [task_view(r) for r in s.scalars(q)]

    def _finish(self, task_id: str, status: str, result: dict[str, Any] | None, message: str) -> None:
        with db.transaction() as s:
            row = s.get(ImageTask, task_id)
            if row is not None:
                row.status, row.message, row.updated_at = status, message, now()
                row.result = json.dumps(result) if result is not None else None
                row.expires_at = now() + TIME_TO_LIVE

    def run_task(self, ctx: RequestContext, task_id: str) -> None:
        """Import the data; the task ends ``success`` or ``failure`` (never raises)."""
        with db.transaction() as s:
            row = s.get(ImageTask, task_id)
            if row is None:
                return
            row.status, row.updated_at = "processing", now()
            given = json.loads(row.input)
        image_id = None
        try:
            image = self.images.create(ctx, dict(given["image_properties"]))
            image_id = image["id"]
            with requests.get(str(given["import_from"]), stream=True, timeout=30) as resp:
                resp.raise_for_status()
                chunks: Iterator[bytes] = resp.iter_content(CHUNK)
                self.image_data.upload(ctx, image_id, chunks)
        except Exception as err:  # the task records why; the image it made goes
            LOG.info("Image task %s failed: %s", task_id, err)
            if image_id is not None:
                try:
                    self.images.delete(ctx, image_id)
                except Exception:
                    LOG.exception("Image task %s could not delete image %s", task_id, image_id)
            self._finish(task_id, "failure", None, f"Import from {given['import_from']} failed: {err}")
            return
        self._finish(task_id, "success", {"image_id": image_id}, "")
