"""OAuth1 consumers: ``/v3/OS-OAUTH1/consumers`` (the registry only; there is no OAuth1 token flow)."""

from __future__ import annotations

from typing import Any

from cumulo.wsgi import Router
from cumulo.wsgi.request import Request
from cumulo_api_identity.controllers.base import Controller
from cumulo_api_identity.schemas import CONSUMER, entity


class OAuthConsumers(Controller):
    """Consumer CRUD; the secret is shown once, when the consumer is created."""

    def add_routes(self, router: Router) -> None:
        """``/v3/OS-OAUTH1/consumers`` and ``/v3/OS-OAUTH1/consumers/{consumer_id}``."""
        self.add_crud(router, "/v3/OS-OAUTH1/consumers", "consumer_id", "consumer")

    def _consumer(self, req: Request, c: dict[str, Any]) -> dict[str, Any]:
        return {**c, "links": self.link(req, f"OS-OAUTH1/consumers/{c['id']}")}

    def list_consumers(self, req: Request) -> Any:
        self.authorize(req, "list_consumers")
        items = self.svc.list_consumers()
        return self.collection(req, "consumers", [self._consumer(req, c) for c in items], "OS-OAUTH1/consumers")

    def create_consumer(self, req: Request) -> Any:
        self.authorize(req, "create_consumer")
        data = self.body(req, entity("consumer", CONSUMER))["consumer"]
        return 201, {"consumer": self._consumer(req, self.svc.create_consumer(data))}

    def get_consumer(self, req: Request, consumer_id: str) -> Any:
        self.authorize(req, "get_consumer")
        return {"consumer": self._consumer(req, self.svc.get_consumer(consumer_id))}

    def update_consumer(self, req: Request, consumer_id: str) -> Any:
        self.authorize(req, "update_consumer")
        changes = self.body(req, entity("consumer", CONSUMER))["consumer"]
        return {"consumer": self._consumer(req, self.svc.update_consumer(consumer_id, changes))}

    def delete_consumer(self, req: Request, consumer_id: str) -> Any:
        self.authorize(req, "delete_consumer")
        self.svc.delete_consumer(consumer_id)
