"""Metadata-service lookups (``hub.compute.instance_for_metadata``): which server is asking.

The instance metadata service (the Compute API frontend) answers without a token; it asks here
for the server a request comes from, by an instance id it has authenticated (a signed proxy
header, :mod:`cumulo.utils.metadata_proxy`) or by the request's source address.
"""

from __future__ import annotations

from typing import Any

import cumulo_service_compute.objects as objects
from cumulo import exception
from cumulo.context import RequestContext
from cumulo_service_compute.common import Plumbing
from cumulo_service_compute.servers import Servers


class MetadataLookups:
    """Servers found for the metadata service (``servers`` decorates them; the network finds addresses)."""

    def __init__(self, plumbing: Plumbing, servers: Servers) -> None:
        self.plumbing, self.servers = plumbing, servers

    def instance_for_metadata(self, instance_uuid: str | None = None, remote_address: str | None = None,
                              network_id: str | None = None) -> dict[str, Any]:
        """The instance a metadata request comes from, decorated (ports, fault...).

        ``instance_uuid`` is taken as is: the caller has authenticated it (a signed proxy
        header, :mod:`cumulo.utils.metadata_proxy`). Otherwise ``remote_address`` (the
        request's source address) is looked up through the network service: the server whose
        port owns that fixed IP (on ``network_id`` when given). NotFound when nothing matches.
        """
        if not instance_uuid and remote_address:
            instance_uuid = self.instance_by_address(remote_address, network_id)
        if not instance_uuid:
            raise exception.NotFound("The metadata service cannot tell which instance is asking.")
        try:
            inst = objects.get_instance(instance_uuid)
        except exception.NotFound:
            raise exception.NotFound("The metadata service cannot tell which instance is asking.") from None
        return self.servers.decorate([inst])[0]

    def instance_by_address(self, address: str, network_id: str | None = None) -> str | None:
        """The uuid of the server holding fixed IP ``address`` (network service lookup), or None."""
        net = self.plumbing.network()
        if net is None:
            return None
        return net.instance_by_address(RequestContext(roles=["admin"], is_admin=True), address, network_id)
