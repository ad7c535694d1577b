"""Who calls the object service in its tests: the callers of account ``AUTH_p1`` and the others.

    from cumulo.testing.object_service import ACCOUNT, ADMIN, ANON, OTHER, OWNER, READER

Use them with the service of the ``cumulo_object_hub`` fixture
(``cumulo_object_hub.object``, the installed ``object`` area plugin). The same users as noauth tokens, for API
tests, are the ``*_TOKEN`` constants.
"""

from __future__ import annotations

from cumulo.contracts.object import Caller
from cumulo.testing.fixtures import context

ACCOUNT = "AUTH_p1"

OWNER_TOKEN = "u1:p1:member,reader"  # writes and reads AUTH_p1
READER_TOKEN = "u3:p1:reader"  # reads AUTH_p1
OTHER_TOKEN = "u2:p2:member"  # another project
ADMIN_TOKEN = "adm:p0:admin"

OWNER = Caller(ctx=context(OWNER_TOKEN))
READER = Caller(ctx=context(READER_TOKEN))
OTHER = Caller(ctx=context(OTHER_TOKEN))
ADMIN = Caller(ctx=context(ADMIN_TOKEN))
ANON = Caller()  # no token: only what ACLs and TempURLs open
