"""The tasks API (``/v2/tasks``) and its schemas: thin over ``hub.image.tasks``."""

from __future__ import annotations

from typing import Any

from cumulo import exception
from cumulo.wsgi import Request, Router

_STR = {"type": "string"}


def task_schema() -> dict[str, Any]:
    return {"name": "task", "properties": {
        "id": {"type": "string", "description": "An identifier for the task"},
        "type": {"type": "string", "enum": ["import", "api_image_import"], "description": "The type of task represented by this content"},
        "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"],
                   "description": "The current status of this task"},
        "input": {"type": ["null", "object"], "description": "The parameters required by task, JSON blob"},
        "result": {"type": ["null", "object"], "description": "The result of current task, JSON blob"},
        "owner": {"type": "string", "description": "An identifier for the owner of this task"},
        "message": {"type": "string", "description": "Human-readable informative message only included when "
                                                     "appropriate (usually on failure)"},
        "expires_at": {"type": ["null", "string"], "description": "Datetime when this resource would be subject "
                                                                  "to removal"},
        "created_at": _STR, "updated_at": _STR, "self": _STR, "schema": _STR}}


def tasks_schema() -> dict[str, Any]:
    return {"name": "tasks", "properties": {"tasks": {"type": "array", "items": task_schema()},
                                            "first": _STR, "next": _STR, "schema": _STR},
            "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                      {"rel": "describedby", "href": "{schema}"}]}


class TasksAPI:
    """Handlers of ``/v2/tasks``."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def add_routes(self, r: Router) -> None:
        r.add("GET", "/v2/schemas/task", lambda req: task_schema())
        r.add("GET", "/v2/schemas/tasks", lambda req: tasks_schema())
        r.add("GET", "/v2/tasks", self.list_tasks)
        r.add("POST", "/v2/tasks", self.create_task)
        r.add("GET", "/v2/tasks/{task_id}", self.show_task)

    def create_task(self, req: Request) -> tuple[int, dict[str, Any]]:
        body = req.json_body_or_fault()
        if not isinstance(body, dict):
            raise exception.Invalid(reason="The request body must be a JSON object.")
        return 201, self.hub.image.tasks.create_task(req.context, body)

    def list_tasks(self, req: Request) -> dict[str, Any]:
        found = self.hub.image.tasks.list_tasks(req.context, status=req.GET.get("status") or None,
                                                kind=req.GET.get("type") or None,
                                                limit=req.int_param("limit", None, minimum=0))
        return {"tasks": found, "first": "/v2/tasks", "schema": "/v2/schemas/tasks"}

    def show_task(self, req: Request, task_id: str) -> dict[str, Any]:
        return self.hub.image.tasks.get_task(req.context, task_id)
