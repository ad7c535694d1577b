"""Kernel contracts: what an area service and the plugins that talk to it share.

One module per area (:mod:`cumulo.contracts.image`...). A contract module
holds the constants and exception types that a frontend or driver needs from
an area it reaches through ``hub.<area>``, so that it imports the kernel only,
never the area's plugin. Each module declares a ``CONTRACT_VERSION``
("MAJOR.MINOR", recorded in ``releasenotes/interface-versions.json``).
"""
