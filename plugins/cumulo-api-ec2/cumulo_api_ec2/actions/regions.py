"""Regions and availability zones: the cloud's one region (its EC2 endpoint) and compute's zones."""

from __future__ import annotations

from typing import Any

from cumulo_api_ec2.actions.base import ActionTable, Call
from cumulo_api_ec2.params import apply_filters

ACTIONS = ActionTable()


def _endpoint(call: Call) -> str:
    base = str(call.hub.conf.api.public_url or "").rstrip("/")
    return f"{base}/ec2" if base else call.endpoint


@ACTIONS.register("DescribeRegions")
def describe_regions(call: Call) -> dict[str, Any]:
    region = str(call.hub.conf.region_name)
    items = [{"regionName": region, "regionEndpoint": _endpoint(call), "optInStatus": "opt-in-not-required"}]
    wanted = call.params.list("RegionName")
    if wanted:
        items = [i for i in items if i["regionName"] in wanted]
    items = apply_filters(items, call.params, {"region-name": lambda i: i["regionName"],
                                               "endpoint": lambda i: i["regionEndpoint"]})
    return {"regionInfo": items}


@ACTIONS.register("DescribeAvailabilityZones")
def describe_availability_zones(call: Call) -> dict[str, Any]:
    zones = call.hub.compute.availability_zones(call.ctx)
    items = [{"zoneName": z["zoneName"], "zoneState": "available" if z["zoneState"].get("available") else
              "unavailable", "regionName": call.region, "zoneId": z["zoneName"], "zoneType": "availability-zone",
              "optInStatus": "opt-in-not-required", "messageSet": []} for z in zones]
    wanted = call.params.list("ZoneName")
    if wanted:
        items = [i for i in items if i["zoneName"] in wanted]
    items = apply_filters(items, call.params, {"zone-name": lambda i: i["zoneName"],
                                               "state": lambda i: i["zoneState"],
                                               "region-name": lambda i: i["regionName"],
                                               "zone-id": lambda i: i["zoneId"]})
    return {"availabilityZoneInfo": items}
