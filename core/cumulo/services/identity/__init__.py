"""The kernel identity service: domains, projects, roles, assignments, catalog, credentials,
application credentials, and tokens (through the ``auth`` and ``token`` plugins).

``Service(hub)`` is ``hub.identity``; every other API validates tokens with
``hub.identity.validate_token(token) -> RequestContext``.
"""

import cumulo.services.identity.policies as _policies
from cumulo.services.identity.manager import Service  # noqa: F401

_policies.register()  # so policy listings and overrides know the identity rules before first use
