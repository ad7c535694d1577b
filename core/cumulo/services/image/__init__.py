"""The image service (``hub.image``): image records, sharing, quotas and streamed data in pluggable stores.

See :mod:`cumulo.services.image.manager` for the contract and
:mod:`cumulo.interfaces.image` for the store plugins.
"""

from cumulo.services.image.manager import (  # noqa: F401
    CONTAINER_FORMATS,
    DISK_FORMATS,
    MEMBER_STATUSES,
    STATUSES,
    VISIBILITIES,
    ImageQuotaExceeded,
    Service,
    start,
)
