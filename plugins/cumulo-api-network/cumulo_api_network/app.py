"""Networking v2.0 WSGI app: thin routing, query handling (filters, fields, sorting,
paging) and Neutron-shaped faults around the network area (``hub.network``; its errors are
:class:`cumulo.contracts.network.NetworkError`)."""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Callable
from typing import Any

from cumulo import exception
from cumulo.contracts.network import NetworkError
from cumulo.wsgi import Request, Router
from cumulo.wsgi.middleware import pipeline

#: Extensions honoured (aliases the clients check before using a feature).
EXTENSIONS = [
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 networks and gateway."),
    ("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "enable_snat in external_gateway_info."),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router."),
    ("security-group", "security-group", "The security groups extension."),
    ("stateful-security-group", "Stateful security group", "Security groups with the stateful attribute."),
    ("quotas", "Quota management support", "Expose functions for quotas management per project."),
    ("quota_details", "Quota details management support", "Quota usage details per project."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application."),
    ("port-security", "Port Security", "Provides port security."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs."),
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("standard-attr-tag", "Tag support for resources with standard attribute", "Enables to set tag on resources."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions to resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields."),
    ("standard-attr-revisions", "Resource revision numbers", "Adds revision_number to resources."),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("auto-allocated-topology", "Auto Allocated Topology Services", "Auto Allocated Topology Services."),
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool."),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    ("network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and "
                                                           "subnet."),
    # Subnets of the external network are visible to every project (Neutron since 2024.1), and each
    # subnet says whether its network is external: the read-only, filterable subnet "router:external".
    ("subnet-external-network", "Subnet belongs to an external network",
     "Informs if the subnet belongs to an external network"),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
]

#: URL collection -> (service method stem, singular body key, plural body key).
COLLECTIONS = {
    "networks": ("network", "network", "networks"),
    "subnets": ("subnet", "subnet", "subnets"),
    "subnetpools": ("subnetpool", "subnetpool", "subnetpools"),
    "ports": ("port", "port", "ports"),
    "routers": ("router", "router", "routers"),
    "floatingips": ("floatingip", "floatingip", "floatingips"),
    "security-groups": ("security_group", "security_group", "security_groups"),
    "security-group-rules": ("security_group_rule", "security_group_rule", "security_group_rules"),
}
TAGGABLE = ("networks", "subnets", "subnetpools", "ports", "routers", "floatingips", "security-groups")
RESERVED_PARAMS = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "tags", "tags-any",
                   "not-tags", "not-tags-any", "verbose"}

_TYPES = {400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden", 404: "HTTPNotFound",
          405: "HTTPMethodNotAllowed", 406: "HTTPNotAcceptable", 409: "HTTPConflict",
          413: "HTTPRequestEntityTooLarge", 415: "HTTPUnsupportedMediaType", 503: "HTTPServiceUnavailable"}


def neutron_fault(status: int, title: str, message: str, error: BaseException | None) -> dict[str, Any]:
    """``{"NeutronError": {"type", "message", "detail"}}``; type is Neutron's exception name."""
    kind = _TYPES.get(status, "HTTPInternalServerError" if status >= 500 else "HTTPError")
    if error is not None:
        if isinstance(error, NetworkError):  # the area's errors carry Neutron's names
            kind = type(error).__name__
        elif isinstance(error, exception.QuotaExceeded):
            kind = "OverQuota"
        elif isinstance(error, exception.Forbidden):
            kind = "PolicyNotAuthorized"
    return {"NeutronError": {"type": kind, "message": message, "detail": ""}}


def _norm(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _matches(item: dict[str, Any], key: str, wanted: list[str]) -> bool:
    if key == "fixed_ips":
        for cond in wanted:
            k, _, v = cond.partition("=")
            ok = any((k == "ip_address_substr" and v in ip["ip_address"]) or ip.get(k) == v
                     for ip in item.get("fixed_ips", []))
            if not ok:
                return False
        return True
    if key not in item:
        return True  # a filter on an attribute this resource lacks is ignored, as Neutron does
    value = item[key]
    norm = [w.lower() if isinstance(value, bool) else w for w in wanted]
    if isinstance(value, list):
        return any(_norm(v) in norm for v in value)
    if value is None:
        return any(w in ("", "None", "none", "null") for w in wanted)
    return _norm(value) in norm


def _tag_filter(item: dict[str, Any], req: Request) -> bool:
    tags = set(item.get("tags") or [])

    def values(name: str) -> list[set[str]]:
        return [set(t for t in v.split(",") if t) for v in req.GET.getall(name)]

    for want in values("tags"):
        if not want <= tags:
            return False
    for want in values("tags-any"):
        if not want & tags:
            return False
    for want in values("not-tags"):
        if want <= tags:
            return False
    for want in values("not-tags-any"):
        if want & tags:
            return False
    return True


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def _item_sort_key(key: str, item: dict[str, Any]) -> tuple[int, Any]:
    return _sort_key(item.get(key))


def query(req: Request, items: list[dict[str, Any]], plural: str) -> dict[str, Any]:
    """Filters, tag filters, sorting, ``limit``/``marker`` paging and ``fields`` on a list."""
    for key in set(req.GET.keys()) - RESERVED_PARAMS:
        wanted = req.GET.getall(key)
        items = [i for i in items if _matches(i, key, wanted)]
    items = [i for i in items if _tag_filter(i, req)]
    keys = req.GET.getall("sort_key")
    dirs = req.GET.getall("sort_dir")
    for d in dirs:
        if d not in ("asc", "desc"):
            raise exception.Invalid(reason=f"sort_dir '{d}' must be 'asc' or 'desc'")
    if keys:
        if items:
            for k in keys:
                if k not in items[0]:
                    raise exception.Invalid(reason=f"'{k}' is not a valid sort key; use one of the attributes of "
                                                   f"{plural}")
        for i, k in reversed(list(enumerate(keys))):
            reverse = (dirs[i] if i < len(dirs) else "asc") == "desc"
            items = sorted(items, key=functools.partial(_item_sort_key, k), reverse=reverse)
    limit = req.int_param("limit", None, minimum=0)
    marker = req.GET.get("marker")
    page_reverse = req.bool_param("page_reverse", False)
    if marker:
        ids = [i["id"] for i in items]
        if marker not in ids:
            raise exception.NotFound(f"Marker {marker} could not be found.")
        pos = ids.index(marker)
        items = items[:pos] if page_reverse else items[pos + 1:]
    links = []
    if limit:
        more = len(items) > limit
        items = items[-limit:] if page_reverse else items[:limit]
        if more and items:
            params = [(k, v) for k, v in req.GET.items() if k not in ("marker",)]
            params.append(("marker", items[0 if page_reverse else -1]["id"]))
            links.append({"rel": "previous" if page_reverse else "next",
                          "href": f"{req.path_url}?{urllib.parse.urlencode(params)}"})
        if marker and items:
            params = [(k, v) for k, v in req.GET.items() if k not in ("marker", "page_reverse")]
            params += [("marker", items[0]["id"]), ("page_reverse", "True")]
            links.append({"rel": "previous", "href": f"{req.path_url}?{urllib.parse.urlencode(params)}"})
    body: dict[str, Any] = {plural: [fields(req, i) for i in items]}
    if links:
        body[f"{plural}_links"] = links
    return body


def fields(req: Request, item: dict[str, Any]) -> dict[str, Any]:
    wanted = [f for v in req.GET.getall("fields") for f in v.split(",") if f]
    if not wanted:
        return item
    return {k: v for k, v in item.items() if k in wanted}


def body_of(req: Request, key: str, required: bool = True) -> Any:
    body = req.json_body_or_fault(required=required)
    if body is None:
        return {}
    if not isinstance(body, dict) or key not in body:
        raise exception.Invalid(reason=f"Unable to find '{key}' in request body")
    return body[key]


class NetworkAPI:
    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.router = Router()
        r = self.router
        r.add("GET", "/", self.versions)
        r.add("GET", "/v2.0", self.resources)
        r.add("GET", "/v2.0/", self.resources)
        r.add("GET", "/v2.0/extensions", self.list_extensions)
        r.add("GET", "/v2.0/extensions/{alias}", self.show_extension)
        for url, (stem, singular, plural) in COLLECTIONS.items():
            r.add("GET", f"/v2.0/{url}", self._list(stem, plural))
            r.add("POST", f"/v2.0/{url}", self._create(stem, singular, plural))
            r.add("GET", f"/v2.0/{url}/{{rid}}", self._show(stem, singular))
            if url != "security-group-rules":  # rules are immutable: delete and re-create
                r.add("PUT", f"/v2.0/{url}/{{rid}}", self._update(stem, singular))
            r.add("DELETE", f"/v2.0/{url}/{{rid}}", self._delete(stem))
        for url in TAGGABLE:
            r.add("GET", f"/v2.0/{url}/{{rid}}/tags", self._tags("get", url))
            r.add("PUT", f"/v2.0/{url}/{{rid}}/tags", self._tags("replace", url))
            r.add("DELETE", f"/v2.0/{url}/{{rid}}/tags", self._tags("clear", url))
            r.add("GET", f"/v2.0/{url}/{{rid}}/tags/{{tag}}", self._tags("check", url))
            r.add("PUT", f"/v2.0/{url}/{{rid}}/tags/{{tag}}", self._tags("add", url))
            r.add("DELETE", f"/v2.0/{url}/{{rid}}/tags/{{tag}}", self._tags("remove", url))
        r.add("PUT", "/v2.0/routers/{rid}/add_router_interface", self.add_interface)
        r.add("PUT", "/v2.0/routers/{rid}/remove_router_interface", self.remove_interface)
        r.add("PUT", "/v2.0/routers/{rid}/add_extraroutes", self.add_extraroutes)
        r.add("PUT", "/v2.0/routers/{rid}/remove_extraroutes", self.remove_extraroutes)
        r.add("GET", "/v2.0/quotas", self.list_quotas)
        r.add("GET", "/v2.0/quotas/{project_id}", self.show_quota)
        r.add("PUT", "/v2.0/quotas/{project_id}", self.update_quota)
        r.add("DELETE", "/v2.0/quotas/{project_id}", self.delete_quota)
        r.add("GET", "/v2.0/quotas/{project_id}/default", self.default_quota)
        r.add("GET", "/v2.0/quotas/{project_id}/details", self.quota_details)
        r.add("GET", "/v2.0/quotas/{project_id}/details.json", self.quota_details)
        r.add("GET", "/v2.0/auto-allocated-topology/{project_id}", self.show_topology)
        r.add("DELETE", "/v2.0/auto-allocated-topology/{project_id}", self.delete_topology)
        r.add("GET", "/v2.0/network-ip-availabilities", self.list_availability)
        r.add("GET", "/v2.0/network-ip-availabilities/{network_id}", self.show_availability)
        r.add("GET", "/v2.0/agents", self.list_agents)
        r.add("GET", "/v2.0/agents/{agent_id}", self.show_agent)

    @property
    def svc(self) -> Any:
        return self.hub.network

    def _decorate(self, stem: str, ctx: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Subnets get ``router:external``: whether their network is external (``subnet-external-network``).

        The caller's own view of the networks decides; a subnet whose network it cannot see
        (it can see every external network) is not on an external network.
        """
        if stem != "subnet" or not items:
            return items
        external = {n["id"] for n in self.svc.list_networks(ctx) if n.get("router:external")}
        return [{**i, "router:external": i.get("network_id") in external} for i in items]

    def _one(self, stem: str, ctx: Any, item: dict[str, Any]) -> dict[str, Any]:
        return self._decorate(stem, ctx, [item])[0]

    # ---------------------------------------------------------------- discovery
    def versions(self, req: Request) -> dict[str, Any]:
        return {"versions": [{"id": "v2.0", "status": "CURRENT",
                              "links": [{"href": req.application_url + "/v2.0/", "rel": "self"}]}]}

    def resources(self, req: Request) -> dict[str, Any]:
        base = req.application_url + "/v2.0/"
        return {"resources": [{"name": stem, "collection": url, "links": [{"href": base + url, "rel": "self"}]}
                              for url, (stem, _, _) in COLLECTIONS.items()]}

    @staticmethod
    def _ext(alias: str, name: str, description: str) -> dict[str, Any]:
        return {"alias": alias, "name": name, "description": description, "updated": "2013-01-01T10:00:00-00:00",
                "links": []}

    def list_extensions(self, req: Request) -> dict[str, Any]:
        return {"extensions": [self._ext(*e) for e in EXTENSIONS]}

    def show_extension(self, req: Request, alias: str) -> dict[str, Any]:
        for e in EXTENSIONS:
            if e[0] == alias:
                return {"extension": self._ext(*e)}
        raise exception.NotFound(f"Extension with alias {alias} does not exist")

    # --------------------------------------------------------------------- CRUD
    def _list(self, stem: str, plural: str) -> Callable[..., Any]:
        def handler(req: Request) -> dict[str, Any]:
            lister = getattr(self.svc, f"list_{stem}s")
            if stem == "port" and req.GET.get("device_id") is not None and len(req.GET.getall("device_id")) == 1:
                items = lister(req.context, device_id=req.GET["device_id"])
            else:
                items = lister(req.context)
            return query(req, self._decorate(stem, req.context, items), plural)
        return handler

    def _create(self, stem: str, singular: str, plural: str) -> Callable[..., Any]:
        def handler(req: Request) -> tuple[int, dict[str, Any]]:
            body = req.json_body_or_fault()
            creator = getattr(self.svc, f"create_{stem}")
            if isinstance(body, dict) and plural in body and singular not in body:
                if not isinstance(body[plural], list):
                    raise exception.Invalid(reason=f"'{plural}' must be a list")
                done: list[dict[str, Any]] = []
                try:
                    for item in body[plural]:
                        done.append(creator(req.context, item))
                except Exception:
                    for item in reversed(done):
                        try:
                            getattr(self.svc, f"delete_{stem}")(req.context, item["id"])
                        except Exception:  # best effort: the first error is reported
                            pass
                    raise
                return 201, {plural: self._decorate(stem, req.context, done)}
            if not isinstance(body, dict) or singular not in body:
                raise exception.Invalid(reason=f"Unable to find '{singular}' in request body")
            return 201, {singular: self._one(stem, req.context, creator(req.context, body[singular]))}
        return handler

    def _show(self, stem: str, singular: str) -> Callable[..., Any]:
        def handler(req: Request, rid: str) -> dict[str, Any]:
            return {singular: fields(req, self._one(stem, req.context, getattr(self.svc, f"get_{stem}")(req.context,
                                                                                                      rid)))}
        return handler

    def _update(self, stem: str, singular: str) -> Callable[..., Any]:
        def handler(req: Request, rid: str) -> dict[str, Any]:
            item = getattr(self.svc, f"update_{stem}")(req.context, rid, body_of(req, singular))
            return {singular: self._one(stem, req.context, item)}
        return handler

    def _delete(self, stem: str) -> Callable[..., Any]:
        def handler(req: Request, rid: str) -> None:
            getattr(self.svc, f"delete_{stem}")(req.context, rid)
        return handler

    # --------------------------------------------------------------------- tags
    def _tags(self, op: str, url: str) -> Callable[..., Any]:
        def handler(req: Request, rid: str, tag: str | None = None) -> Any:
            ctx = req.context
            if op == "get":
                return {"tags": self.svc.get_tags(ctx, url, rid)}
            if op == "replace":
                return {"tags": self.svc.replace_tags(ctx, url, rid, body_of(req, "tags"))}
            if op == "clear":
                self.svc.remove_tag(ctx, url, rid)
                return None
            assert tag is not None
            tag = urllib.parse.unquote(tag)
            if op == "check":
                self.svc.has_tag(ctx, url, rid, tag)
                return None
            if op == "add":
                self.svc.add_tag(ctx, url, rid, tag)
                return 201, None
            self.svc.remove_tag(ctx, url, rid, tag)
            return None
        return handler

    # ------------------------------------------------------------------ routers
    def add_interface(self, req: Request, rid: str) -> dict[str, Any]:
        return self.svc.add_router_interface(req.context, rid, req.json_body_or_fault())

    def remove_interface(self, req: Request, rid: str) -> dict[str, Any]:
        return self.svc.remove_router_interface(req.context, rid, req.json_body_or_fault())

    def _routes(self, req: Request) -> list[dict[str, str]]:
        body = body_of(req, "router")
        if not isinstance(body, dict) or not isinstance(body.get("routes"), list):
            raise exception.Invalid(reason="Body must be {'router': {'routes': [...]}}")
        return body["routes"]

    def add_extraroutes(self, req: Request, rid: str) -> dict[str, Any]:
        current = self.svc.get_router(req.context, rid)["routes"]
        new = current + [r for r in self._routes(req) if r not in current]
        return {"router": self.svc.update_router(req.context, rid, {"routes": new})}

    def remove_extraroutes(self, req: Request, rid: str) -> dict[str, Any]:
        drop = self._routes(req)
        current = self.svc.get_router(req.context, rid)["routes"]
        return {"router": self.svc.update_router(req.context, rid,
                                                 {"routes": [r for r in current if r not in drop]})}

    # ------------------------------------------------------------------- quotas
    def list_quotas(self, req: Request) -> dict[str, Any]:
        return {"quotas": self.svc.list_quotas(req.context)}

    def show_quota(self, req: Request, project_id: str) -> dict[str, Any]:
        return {"quota": self.svc.get_quota(req.context, project_id)}

    def update_quota(self, req: Request, project_id: str) -> dict[str, Any]:
        return {"quota": self.svc.update_quota(req.context, project_id, body_of(req, "quota"))}

    def delete_quota(self, req: Request, project_id: str) -> None:
        self.svc.delete_quota(req.context, project_id)

    def default_quota(self, req: Request, project_id: str) -> dict[str, Any]:
        self.svc.get_quota(req.context, project_id)  # same access rule
        return {"quota": dict(self.svc.default_quotas(), project_id=project_id, tenant_id=project_id)}

    def quota_details(self, req: Request, project_id: str) -> dict[str, Any]:
        return {"quota": self.svc.get_quota_details(req.context, project_id)}

    # ----------------------------------------------------------------- topology
    def show_topology(self, req: Request, project_id: str) -> dict[str, Any]:
        dry_run = "dry-run" in [f for v in req.GET.getall("fields") for f in v.split(",")]
        return {"auto_allocated_topology": self.svc.get_auto_allocated_topology(req.context, project_id,
                                                                                 dry_run=dry_run)}

    def delete_topology(self, req: Request, project_id: str) -> None:
        self.svc.delete_auto_allocated_topology(req.context, project_id)

    # ------------------------------------------------------------ availability
    def list_availability(self, req: Request) -> dict[str, Any]:
        return query(req, self.svc.list_network_ip_availabilities(req.context), "network_ip_availabilities")

    def show_availability(self, req: Request, network_id: str) -> dict[str, Any]:
        return {"network_ip_availability": self.svc.get_network_ip_availability(req.context, network_id)}

    # ------------------------------------------------------------ agents
    def list_agents(self, req: Request) -> dict[str, Any]:
        return query(req, self.svc.list_agents(req.context), "agents")

    def show_agent(self, req: Request, agent_id: str) -> dict[str, Any]:
        return {"agent": self.svc.get_agent(req.context, agent_id)}


class _DiscoveryWithoutAuth:
    """Version discovery answers without a token; everything else needs one."""

    def __init__(self, public: Callable[..., Any], protected: Callable[..., Any]) -> None:
        self.public, self.protected = public, protected

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "") or "/"
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD") and path == "/":
            return self.public(environ, start_response)
        return self.protected(environ, start_response)


def build(hub: Any) -> Callable[..., Any]:
    api = NetworkAPI(hub)
    limit = hub.conf.api.max_request_body_size
    protected = pipeline(api.router, renderer=neutron_fault, validate=hub.token_validator(), max_body=limit,
                         token_cache_seconds=hub.conf.api.token_cache_time)
    public = pipeline(api.router, renderer=neutron_fault, max_body=limit)
    return _DiscoveryWithoutAuth(public, protected)
