"""Container ACLs (``X-Container-Read`` / ``X-Container-Write``), as Swift's keystoneauth reads them.

An ACL is a comma-separated list of entries:

* ``project:user`` -- ids or names, either side may be ``*``;
* a bare name -- a role the user must have in the token's project;
* ``.r:<host>`` (read only) -- a referrer: ``*`` anybody (also anonymous), ``.example.com``
  any host in that domain, ``-<host>`` denies; ``.rlistings`` lets referrer-granted
  readers list the container too.
"""

from __future__ import annotations

from urllib.parse import urlparse

from cumulo import exception
from cumulo.context import RequestContext

_REFERRER_PREFIXES = (".r:", ".ref:", ".referer:", ".referrer:")


def parse(value: str | None) -> list[str]:
    return [e.strip() for e in (value or "").split(",") if e.strip()]


def clean(value: str, write: bool) -> str:
    """Normalise an ACL header value; 400 for entries Swift refuses."""
    entries = []
    for entry in parse(value):
        low = entry.lower()
        if low.startswith(_REFERRER_PREFIXES):
            if write:
                raise exception.Invalid(reason=f"Referrers are not allowed in write ACLs: {entry!r}")
            host = entry.split(":", 1)[1].strip()
            if not host or host == "-":
                raise exception.Invalid(reason=f"No host given after '.r:' in ACL entry {entry!r}")
            entries.append(".r:" + host)
        elif low == ".rlistings":
            if write:
                raise exception.Invalid(reason="'.rlistings' is not allowed in write ACLs")
            entries.append(".rlistings")
        elif entry.startswith("."):
            raise exception.Invalid(reason=f"Unknown ACL designator {entry!r} (use .r:<referrer> or .rlistings)")
        else:
            entries.append(entry)
    return ",".join(entries)


def referrer_allowed(referrer: str | None, entries: list[str]) -> bool:
    """Whether the ``.r:`` entries grant a request coming from ``referrer``."""
    host = ""
    if referrer:
        try:
            host = (urlparse(referrer).hostname or "").lower()
        except ValueError:
            host = ""
    allowed = False
    for entry in entries:
        low = entry.lower()
        if not low.startswith(_REFERRER_PREFIXES):
            continue
        value = low.split(":", 1)[1]
        deny = value.startswith("-")
        value = value.lstrip("-")
        if value.startswith("*."):
            value = value[1:]
        if value == "*" or (value.startswith(".") and (host.endswith(value) or host == value[1:])) or host == value:
            allowed = not deny
    return allowed


def listings_allowed(entries: list[str]) -> bool:
    return any(e.lower() == ".rlistings" for e in entries)


def user_allowed(ctx: RequestContext | None, entries: list[str]) -> bool:
    """Whether the ``project:user`` or role entries grant this authenticated user."""
    if ctx is None or ctx.user_id is None:
        return False
    projects = {"*", ctx.project_id or "", ctx.project_name or ""} - {""}
    users = {"*", ctx.user_id or "", ctx.user_name or ""} - {""}
    roles = {r.lower() for r in ctx.roles}
    for entry in entries:
        if entry.startswith("."):
            continue
        if ":" in entry:
            project, _, user = entry.partition(":")
            if project in projects and user in users:
                return True
        elif entry.lower() in roles or entry == "*":
            return True
    return False
