"""Small kernel helpers that any layer may import (services, frontends, drivers, tests).

Each module here depends on the standard library only, so importing one costs
nothing and pulls in no service, configuration or WSGI machinery:

* :mod:`cumulo.utils.ranges`: the HTTP ``Range`` header against a known size,
  and slicing streams of chunks or open files to a byte range.
* :mod:`cumulo.utils.metadata`: case-insensitive metadata dicts (Swift-style
  headers): lookup and the "empty value removes the key" merge.
* :mod:`cumulo.utils.timeutils`: ISO 8601 times in UTC, written as the
  OpenStack APIs write them and parsed to naive UTC datetimes.
* :mod:`cumulo.utils.http`: HTTP dates and conditional requests
  (``If-Match``, ``If-None-Match``, ``If-Modified-Since``...) against an
  entity's etag and modification time.
* :mod:`cumulo.utils.metadata_proxy`: the signed headers a metadata proxy
  sends for an instance (HMAC of its id under the shared secret), signed and
  checked.
* :mod:`cumulo.utils.passwords`: generated guest passwords (``adminPass``).
"""
