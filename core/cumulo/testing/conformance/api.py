"""Conformance suite for API frontends (``cumulo.api``).

Subclass and provide ``frontend`` (an instance) and ``hub`` (a ServiceHub on an
isolated configuration, e.g. built in a ``cumulo_db`` test)::

    class TestMyAPI(APIFrontendConformance):
        plugin_name = "myapi"

        @pytest.fixture
        def frontend(self):
            return MyAPI()
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import webob

from cumulo.interfaces.api import APIFrontend
from cumulo.services import ServiceHub
from cumulo.testing.conformance import RegistryConformance


class APIFrontendConformance(RegistryConformance):
    kind: ClassVar[str] = "api"
    #: A path under the frontend that answers without authentication (version discovery).
    discovery_path: ClassVar[str] = "/"

    @pytest.fixture
    def hub(self, cumulo_db: Any) -> ServiceHub:
        return ServiceHub()

    def test_is_an_api_frontend(self, frontend: APIFrontend) -> None:
        assert isinstance(frontend, APIFrontend)
        assert frontend.service_type and frontend.path_prefix.startswith("/")
        assert not frontend.path_prefix.endswith("/")

    def test_endpoint_url_is_under_the_prefix(self, frontend: APIFrontend) -> None:
        url = frontend.endpoint_url("http://cloud.example:8800")
        assert url.startswith("http://cloud.example:8800" + frontend.path_prefix)

    def test_discovery_answers_json_without_a_token(self, frontend: APIFrontend, hub: ServiceHub) -> None:
        app = frontend.build_app(hub)
        req = webob.Request.blank(self.discovery_path, base_url="http://cloud.example:8800" + frontend.path_prefix)
        resp = req.get_response(app)
        assert resp.status_int in (200, 300), resp.text
        assert "json" in (resp.content_type or ""), resp.content_type

    def test_unknown_path_is_a_4xx_not_a_500(self, frontend: APIFrontend, hub: ServiceHub) -> None:
        app = frontend.build_app(hub)
        req = webob.Request.blank("/no/such/path/at/all", base_url="http://x" + frontend.path_prefix,
                                  headers={"X-Auth-Token": "user:project:member,reader"})
        resp = req.get_response(app)
        assert 400 <= resp.status_int < 500, resp.text
